//! Ledger reads: health, metrics, entries, checkpoints and cosignatures, Merkle proofs.
//! Hashes travel as lowercase hex; an entry travels as its stored line's JSON object.

use crate::auth::{Access, Caller};
use crate::error::{ApiError, Result};
use crate::extract::{JsonBody, Path, Query};
use crate::metrics::inc;
use crate::{AppState, PAGE_ENTRIES_MAX};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use custodia_ledger::entry::ChainHash;
use custodia_ledger::keys::PublicKey;
use custodia_ledger::merkle::{self, ConsistencyProof, InclusionProof};
use custodia_ledger::note::SignedCheckpoint;
use custodia_ledger::store::Row;
use serde::Deserialize;
use serde_json::{json, Value};

/// `GET /v1/health`: the process is up.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /v1/ready`: the store answers and the SMS fold has caught up with the ledger.
pub(crate) async fn ready(State(state): State<AppState>) -> Result<Json<Value>> {
    let size = state
        .ledger
        .size()
        .await
        .map_err(|e| ApiError::Unavailable(format!("the ledger store does not answer: {e}")))?;
    if !state.sms.is_ready(size) {
        return Err(ApiError::Unavailable(format!(
            "the SMS is being folded from the ledger: {} of {size} entries",
            state.sms.applied()
        )));
    }
    Ok(Json(json!({"status": "ready", "entries": size})))
}

/// `GET /metrics`: Prometheus text.
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse> {
    let size = state.ledger.size().await?;
    let text = state.metrics.render(size, state.sms.applied());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

/// A stored row as the JSON object of its line.
pub(crate) fn row_json(row: &Row) -> Result<Value> {
    serde_json::from_str(&row.line)
        .map_err(|e| ApiError::internal(format!("seq {}: stored line is not JSON: {e}", row.seq)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    #[serde(default)]
    from: u64,
    limit: Option<u32>,
}

/// `GET /v1/entries?from=&limit=`: a page of entries by seq; `next` is where the next page
/// starts, or null at the end.
pub(crate) async fn entries(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>> {
    caller.require(Access::Read)?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > PAGE_ENTRIES_MAX {
        return Err(ApiError::BadRequest(format!(
            "limit must be from 1 to {PAGE_ENTRIES_MAX}"
        )));
    }
    let rows = state.ledger.store().read(q.from, limit).await?;
    let entries = rows.iter().map(row_json).collect::<Result<Vec<_>>>()?;
    let next = (rows.len() == limit as usize).then(|| q.from + u64::from(limit));
    Ok(Json(json!({"entries": entries, "next": next})))
}

/// `GET /v1/entries/{seq}` or `/v1/entries/{hash}` (64 lowercase hex digits).
pub(crate) async fn entry(
    caller: Caller,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<Value>> {
    caller.require(Access::Read)?;
    let row = if key.len() == 64 {
        let hash = ChainHash::from_hex(&key).ok_or_else(|| {
            ApiError::BadRequest("an entry hash is 64 lowercase hex digits".into())
        })?;
        state.ledger.store().row_by_hash(&hash).await?
    } else {
        let seq: u64 = key.parse().map_err(|_| {
            ApiError::BadRequest(format!("{key:?} is neither a seq nor an entry hash"))
        })?;
        let rows = state.ledger.store().read(seq, 1).await?;
        rows.into_iter().next().filter(|r| r.seq == seq)
    };
    let row = row.ok_or_else(|| ApiError::NotFound(format!("no entry {key}")))?;
    Ok(Json(row_json(&row)?))
}

/// `GET /v1/checkpoints`: the sizes with a stored checkpoint.
pub(crate) async fn checkpoints(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<Value>> {
    caller.require(Access::Read)?;
    let sizes = state.ledger.store().checkpoint_sizes().await?;
    Ok(Json(json!({"sizes": sizes})))
}

/// `POST /v1/checkpoints`: signs a checkpoint of the current tree with the node key.
pub(crate) async fn sign_checkpoint(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<Value>> {
    caller.require(Access::Write)?;
    let note = state.ledger.checkpoint().await.map_err(|e| match e {
        // The ledger refuses with a reason (no entry yet sealed after the node key's
        // registration): a rule, not a missing resource.
        custodia_ledger::ledger::LedgerError::Range(m) => ApiError::rule("checkpoint", m),
        other => other.into(),
    })?;
    let size = SignedCheckpoint::parse(&note)
        .map_err(ApiError::internal)?
        .checkpoint()
        .size;
    Ok(Json(
        json!({"size": size, "note": note, "cosignatures": []}),
    ))
}

/// `GET /v1/checkpoints/latest`.
pub(crate) async fn latest_checkpoint(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<Value>> {
    caller.require(Access::Read)?;
    let sizes = state.ledger.store().checkpoint_sizes().await?;
    let size = sizes
        .last()
        .copied()
        .ok_or_else(|| ApiError::NotFound("no checkpoint has been signed yet".into()))?;
    checkpoint_json(&state, size).await.map(Json)
}

/// `GET /v1/checkpoints/{size}`.
pub(crate) async fn checkpoint(
    caller: Caller,
    State(state): State<AppState>,
    Path(size): Path<u64>,
) -> Result<Json<Value>> {
    caller.require(Access::Read)?;
    checkpoint_json(&state, size).await.map(Json)
}

async fn stored_note(state: &AppState, size: u64) -> Result<String> {
    state
        .ledger
        .store()
        .checkpoint(size)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no checkpoint of size {size}")))
}

async fn checkpoint_json(state: &AppState, size: u64) -> Result<Value> {
    let note = stored_note(state, size).await?;
    let cosigned: Vec<Value> = state
        .db
        .cosigned(size)
        .await?
        .into_iter()
        .map(|(witness, key, note)| json!({"witness": witness, "key": key, "note": note}))
        .collect();
    Ok(json!({"size": size, "note": note, "cosignatures": cosigned}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cosignature {
    /// The witness's key name, as in its signature line.
    witness: String,
    /// Its Ed25519 public key, base64.
    key: String,
    /// The C2SP tlog-cosignature v1 line: `— <witness> <base64>`.
    cosignature: String,
}

/// `POST /v1/checkpoints/{size}/cosignatures`: an auditor's cosignature over a stored
/// checkpoint, verified with the key the auditor names, then kept with the note.
pub(crate) async fn cosign(
    caller: Caller,
    State(state): State<AppState>,
    Path(size): Path<u64>,
    JsonBody(body): JsonBody<Cosignature>,
) -> Result<Json<Value>> {
    caller.require(Access::Cosign)?;
    let note = stored_note(&state, size).await?;
    let key = PublicKey::from_base64(&body.key)
        .map_err(|e| ApiError::rule("invalid-key", format!("key: {e}")))?;
    let line = body.cosignature.trim_end_matches('\n');
    if line.contains('\n') {
        return Err(ApiError::rule(
            "cosignature",
            "cosignature must be one signature line",
        ));
    }
    let cosigned = format!("{note}{line}\n");
    let bad = |e: custodia_ledger::note::NoteError| {
        ApiError::rule("cosignature", format!("cosignature: {e}"))
    };
    let parsed = SignedCheckpoint::parse(&cosigned).map_err(bad)?;
    let timestamp = parsed
        .verify_cosignature(&body.witness, key.verifying_key())
        .map_err(bad)?;
    state
        .db
        .put_cosigned(size, &body.witness, &body.key, &cosigned)
        .await?;
    inc(&state.metrics.cosignatures);
    tracing::info!(size, witness = %body.witness, principal = %caller.principal, "checkpoint cosigned");
    Ok(Json(
        json!({"size": size, "witness": body.witness, "timestamp": timestamp, "note": cosigned}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InclusionQuery {
    seq: u64,
    size: Option<u64>,
}

/// `GET /v1/proofs/inclusion?seq=&size=`: RFC 9162 inclusion proof, checked before it leaves.
pub(crate) async fn inclusion(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<Value>> {
    caller.require(Access::Read)?;
    let size = tree_size(&state, q.size).await?;
    if q.seq >= size {
        return Err(ApiError::NotFound(format!(
            "seq {} is not in a tree of {size} entries",
            q.seq
        )));
    }
    let entry =
        state.ledger.entry(q.seq).await?.ok_or_else(|| {
            ApiError::internal(format!("seq {} is missing from the store", q.seq))
        })?;
    let hashes = state.ledger.inclusion_proof(q.seq, size).await?;
    let root = state.ledger.root(size).await?;
    let proof = InclusionProof::new(q.seq, size, hashes);
    // A proof from damaged stored nodes must not leave the server.
    proof
        .verify(&merkle::leaf_hash(&entry.hash.0), &root)
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "leaf_index": proof.leaf_index,
        "tree_size": proof.tree_size,
        "hashes": proof.hashes,
        "entry_hash": entry.hash.to_hex(),
        "root": hex::encode(root),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

/// `GET /v1/proofs/consistency?from=&to=`: RFC 9162 consistency proof with both roots.
pub(crate) async fn consistency(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<Value>> {
    caller.require(Access::Read)?;
    let to = tree_size(&state, q.to).await?;
    if q.from > to {
        return Err(ApiError::BadRequest(format!(
            "from {} is larger than to {to}: a tree is only consistent with a larger one",
            q.from
        )));
    }
    let hashes = state.ledger.consistency_proof(q.from, to).await?;
    let (first, second) = (
        state.ledger.root(q.from).await?,
        state.ledger.root(to).await?,
    );
    let proof = ConsistencyProof::new(q.from, to, hashes);
    proof.verify(&first, &second).map_err(ApiError::internal)?;
    Ok(Json(json!({
        "first": proof.first,
        "second": proof.second,
        "hashes": proof.hashes,
        "first_root": hex::encode(first),
        "second_root": hex::encode(second),
    })))
}

async fn tree_size(state: &AppState, asked: Option<u64>) -> Result<u64> {
    let head = state.ledger.size().await?;
    let size = asked.unwrap_or(head);
    if size > head {
        return Err(ApiError::NotFound(format!(
            "tree size {size} is beyond the ledger's {head} entries"
        )));
    }
    Ok(size)
}
