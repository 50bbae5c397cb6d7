//! `GET /v1/export`: the bundle (`entries.jsonl`, `checkpoints/<size>`, `manifest.json`) as a
//! tar stream, the same bundle `custodia export` writes and `custodia verify --bundle` reads.

use crate::auth::{Access, Caller};
use crate::error::{ApiError, Result};
use crate::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::io::{Seek, SeekFrom};

/// The export is written to a temporary directory, packed into an anonymous temporary file
/// (gone when the last handle closes), and streamed from that file: memory stays bounded
/// whatever the ledger's size, and the client reads at its own pace.
pub(crate) async fn export(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<impl IntoResponse> {
    caller.require(Access::Read)?;
    let dir = tempfile::tempdir().map_err(ApiError::internal)?;
    let bundle = dir.path().join("bundle");
    let summary = custodia_ledger::bundle::export(&**state.ledger.store(), &bundle, &|_| {})
        .await
        .map_err(ApiError::internal)?;
    let file = tokio::task::spawn_blocking(move || pack(&bundle))
        .await
        .map_err(ApiError::internal)??;
    tracing::info!(entries = summary.entries, principal = %caller.principal, "bundle exported");
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let disposition = "attachment; filename=\"custodia-bundle.tar\"";
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar"),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    ))
}

fn pack(bundle: &std::path::Path) -> Result<std::fs::File> {
    let file = tempfile::tempfile().map_err(ApiError::internal)?;
    let mut tar = tar::Builder::new(file);
    tar.append_dir_all("bundle", bundle)
        .map_err(ApiError::internal)?;
    let mut file = tar.into_inner().map_err(ApiError::internal)?;
    file.seek(SeekFrom::Start(0)).map_err(ApiError::internal)?;
    Ok(file)
}
