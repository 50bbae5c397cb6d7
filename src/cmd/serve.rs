//! `custodia serve`: the HTTP API over a data directory until interrupted.

use crate::cli::{DataDir, ServeArgs};
use anyhow::Context as _;
use std::io::Write as _;
use std::net::SocketAddr;

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<u8> {
    serve(&args.data, args.listen).await
}

/// Serves the ledger of `data` on `listen` until Ctrl-C or SIGTERM.
pub(crate) async fn serve(data: &DataDir, listen: SocketAddr) -> anyhow::Result<u8> {
    let ledger = super::open_ledger(data).await?;
    let db = super::open_api_db(data).await?;
    let config = custodia_api::Config::default();
    let state = custodia_api::AppState::new(std::sync::Arc::new(ledger), db, config);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    // One line on stdout so that scripts (and tests) learn the port when it was 0.
    println!("listening on http://{addr}");
    std::io::stdout().flush()?;
    tracing::info!(%addr, data = %data.display(), "serving");
    axum::serve(listener, custodia_api::app(state))
        .with_graceful_shutdown(crate::shutdown::requested())
        .await
        .context("serving")?;
    Ok(crate::exit::OK)
}
