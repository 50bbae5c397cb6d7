//! Ledger reads: health, metrics, entries, checkpoints and cosignatures, Merkle proofs.
//! Hashes travel as lowercase hex; an entry travels as its stored line's JSON object.

use crate::auth::{Access, Caller};
use crate::error::{ApiError, Result};
use crate::extract::{uint_schema, JsonBody, Path, Query, Uint};
use crate::metrics::inc;
use crate::openapi::raw;
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
use schemars::gen::SchemaGenerator;
use schemars::schema::Schema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// `GET /v1/health` answer.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// `GET /v1/health`: the process is up.
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// `GET /v1/ready` answer.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Ready {
    /// Always `ready`.
    status: &'static str,
    /// Entries in the ledger.
    entries: u64,
}

/// `GET /v1/ready`: the store answers and the SMS fold has caught up with the ledger.
pub(crate) async fn ready(State(state): State<AppState>) -> Result<Json<Ready>> {
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
    Ok(Json(Ready {
        status: "ready",
        entries: size,
    }))
}

/// `GET /metrics`: Prometheus text.
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse> {
    let size = state.ledger.size().await?;
    let text = state.metrics.render(size, state.sms.applied());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}

/// An entry as it travels: the JSON object of its stored line (LEDGER-FORMAT §1).
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct EntryLine(Value);

impl EntryLine {
    /// A stored row's line.
    pub(crate) fn of(row: &Row) -> Result<Self> {
        serde_json::from_str(&row.line).map(EntryLine).map_err(|e| {
            ApiError::internal(format!("seq {}: stored line is not JSON: {e}", row.seq))
        })
    }
}

fn hex64() -> Value {
    json!({"type": "string", "pattern": "^[0-9a-f]{64}$"})
}

/// The schema of a ledger `event` object (LEDGER-FORMAT §1).
pub(crate) fn event_schema(_: &mut SchemaGenerator) -> Schema {
    raw(json!({
        "type": "object",
        "required": ["stream", "version", "type", "schema", "occurred_at", "actor", "data"],
        "properties": {
            "stream": {"type": "string", "description": "`<kind>/<id>`"},
            "version": {"type": "integer", "minimum": 1},
            "type": {"type": "string"},
            "schema": {"type": "integer", "minimum": 1},
            "occurred_at": {"type": "string"},
            "actor": {"type": "string"},
            "data": {"type": "object"},
            "meta": {"type": "object"},
        },
    }))
}

impl JsonSchema for EntryLine {
    fn schema_name() -> String {
        "Entry".into()
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let event = serde_json::to_value(event_schema(gen)).unwrap_or_default();
        raw(json!({
            "type": "object",
            "description": "A sealed entry, exactly as the ledger stores it (LEDGER-FORMAT §1).",
            "required": ["format", "ledger", "seq", "prev", "recorded_at", "event", "signer", "hash", "sig"],
            "properties": {
                "format": {"const": "custodia.entry/1"},
                "ledger": {"type": "string"},
                "seq": {"type": "integer", "minimum": 0},
                "prev": hex64(),
                "recorded_at": {"type": "string"},
                "event": event,
                "attestation": {
                    "type": "object",
                    "required": ["key", "sig"],
                    "properties": {"key": {"type": "string"}, "sig": {"type": "string"}},
                },
                "signer": {"type": "string"},
                "hash": hex64(),
                "sig": {"type": "string"},
            },
        }))
    }
}

/// `GET /v1/entries` query.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    /// The first seq of the page (default 0).
    #[serde(default)]
    from: Uint,
    /// Entries in the page, 1 to 1000 (default 100).
    #[serde(default)]
    #[schemars(schema_with = "page_limit")]
    limit: Option<Uint>,
}

fn page_limit(_: &mut SchemaGenerator) -> Schema {
    uint_schema(1, u64::from(PAGE_ENTRIES_MAX))
}

/// A page of entries.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct EntriesPage {
    /// The entries, by seq.
    entries: Vec<EntryLine>,
    /// Where the next page starts; null at the end.
    next: Option<u64>,
}

/// `GET /v1/entries?from=&limit=`: a page of entries by seq; `next` is where the next page
/// starts, or null at the end.
pub(crate) async fn entries(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Json<EntriesPage>> {
    caller.require(Access::Read)?;
    let limit = q.limit.map_or(100, |l| l.0);
    if limit == 0 || limit > u64::from(PAGE_ENTRIES_MAX) {
        return Err(ApiError::BadRequest(format!(
            "limit must be from 1 to {PAGE_ENTRIES_MAX}"
        )));
    }
    let limit = limit as u32;
    let from = q.from.0;
    let rows = state.ledger.store().read(from, limit).await?;
    let entries = rows.iter().map(EntryLine::of).collect::<Result<Vec<_>>>()?;
    let next = (rows.len() == limit as usize).then(|| from.saturating_add(u64::from(limit)));
    Ok(Json(EntriesPage { entries, next }))
}

/// An entry's key in a path: its seq, or its hash.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct EntryPath {
    /// The entry's seq (canonical decimal), or its hash (64 lowercase hex digits).
    #[schemars(schema_with = "entry_key")]
    key: String,
}

fn entry_key(_: &mut SchemaGenerator) -> Schema {
    let seq = serde_json::to_value(uint_schema(0, crate::extract::UINT_MAX)).unwrap_or_default();
    raw(json!({"anyOf": [seq, hex64()]}))
}

/// `GET /v1/entries/{seq}` or `/v1/entries/{hash}` (64 lowercase hex digits).
pub(crate) async fn entry(
    caller: Caller,
    State(state): State<AppState>,
    Path(EntryPath { key }): Path<EntryPath>,
) -> Result<Json<EntryLine>> {
    caller.require(Access::Read)?;
    let row = if key.len() == 64 {
        let hash = ChainHash::from_hex(&key).ok_or_else(|| {
            ApiError::BadRequest("an entry hash is 64 lowercase hex digits".into())
        })?;
        state.ledger.store().row_by_hash(&hash).await?
    } else {
        let Uint(seq) = Uint::parse(&key).map_err(|e| {
            ApiError::BadRequest(format!("{key:?} is neither a seq nor an entry hash: {e}"))
        })?;
        let rows = state.ledger.store().read(seq, 1).await?;
        rows.into_iter().next().filter(|r| r.seq == seq)
    };
    let row = row.ok_or_else(|| ApiError::NotFound(format!("no entry {key}")))?;
    Ok(Json(EntryLine::of(&row)?))
}

/// The sizes with a stored checkpoint.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CheckpointSizes {
    /// Tree sizes, ascending.
    sizes: Vec<u64>,
}

/// `GET /v1/checkpoints`: the sizes with a stored checkpoint.
pub(crate) async fn checkpoints(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<CheckpointSizes>> {
    caller.require(Access::Read)?;
    let sizes = state.ledger.store().checkpoint_sizes().await?;
    Ok(Json(CheckpointSizes { sizes }))
}

/// A signed checkpoint and the cosignatures kept with it.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CheckpointView {
    /// The tree size it commits to.
    size: u64,
    /// The C2SP signed note, signed by the node key.
    note: String,
    /// Auditors' cosignatures on it.
    cosignatures: Vec<Cosigned>,
}

/// A kept cosignature.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Cosigned {
    /// The witness's key name.
    witness: String,
    /// Its base64 Ed25519 public key.
    key: String,
    /// The note with the witness's signature line.
    note: String,
}

/// `POST /v1/checkpoints`: signs a checkpoint of the current tree with the node key.
pub(crate) async fn sign_checkpoint(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<CheckpointView>> {
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
    Ok(Json(CheckpointView {
        size,
        note,
        cosignatures: Vec::new(),
    }))
}

/// `GET /v1/checkpoints/latest`.
pub(crate) async fn latest_checkpoint(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<CheckpointView>> {
    caller.require(Access::Read)?;
    let sizes = state.ledger.store().checkpoint_sizes().await?;
    let size = sizes
        .last()
        .copied()
        .ok_or_else(|| ApiError::NotFound("no checkpoint has been signed yet".into()))?;
    checkpoint_view(&state, size).await.map(Json)
}

/// A checkpoint's size in a path.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct SizePath {
    /// The checkpoint's tree size.
    size: Uint,
}

/// `GET /v1/checkpoints/{size}`.
pub(crate) async fn checkpoint(
    caller: Caller,
    State(state): State<AppState>,
    Path(SizePath { size }): Path<SizePath>,
) -> Result<Json<CheckpointView>> {
    caller.require(Access::Read)?;
    checkpoint_view(&state, size.0).await.map(Json)
}

async fn stored_note(state: &AppState, size: u64) -> Result<String> {
    state
        .ledger
        .store()
        .checkpoint(size)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no checkpoint of size {size}")))
}

async fn checkpoint_view(state: &AppState, size: u64) -> Result<CheckpointView> {
    let note = stored_note(state, size).await?;
    let cosignatures = state
        .db
        .cosigned(size)
        .await?
        .into_iter()
        .map(|(witness, key, note)| Cosigned { witness, key, note })
        .collect();
    Ok(CheckpointView {
        size,
        note,
        cosignatures,
    })
}

/// `POST /v1/checkpoints/{size}/cosignatures` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cosignature {
    /// The witness's key name, as in its signature line.
    witness: String,
    /// Its Ed25519 public key, base64.
    key: String,
    /// The C2SP tlog-cosignature v1 line: `— <witness> <base64>`.
    cosignature: String,
}

/// A cosignature accepted.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CosignatureAccepted {
    /// The checkpoint's size.
    size: u64,
    /// The witness's key name.
    witness: String,
    /// The cosignature's timestamp (seconds since the Unix epoch).
    timestamp: u64,
    /// The note with the cosignature line, as kept.
    note: String,
}

/// `POST /v1/checkpoints/{size}/cosignatures`: an auditor's cosignature over a stored
/// checkpoint, verified with the key the auditor names, then kept with the note.
pub(crate) async fn cosign(
    caller: Caller,
    State(state): State<AppState>,
    Path(SizePath { size }): Path<SizePath>,
    JsonBody(body): JsonBody<Cosignature>,
) -> Result<Json<CosignatureAccepted>> {
    caller.require(Access::Cosign)?;
    let size = size.0;
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
    Ok(Json(CosignatureAccepted {
        size,
        witness: body.witness,
        timestamp,
        note: cosigned,
    }))
}

/// `GET /v1/proofs/inclusion` query.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InclusionQuery {
    /// The entry's seq.
    seq: Uint,
    /// The tree size the proof is for (default: the ledger's size).
    size: Option<Uint>,
}

/// An RFC 9162 inclusion proof, checked before it left the server.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct InclusionView {
    /// The entry's seq.
    leaf_index: u64,
    /// The tree size.
    tree_size: u64,
    /// The proof's hashes, bottom up, hex.
    #[schemars(schema_with = "hex64_list")]
    hashes: Vec<String>,
    /// The entry's hash (its leaf is SHA-256(0x00 || hash)).
    #[schemars(schema_with = "hex64_schema")]
    entry_hash: String,
    /// The tree's root, hex.
    #[schemars(schema_with = "hex64_schema")]
    root: String,
}

fn hex64_schema(_: &mut SchemaGenerator) -> Schema {
    raw(hex64())
}

fn hex64_list(_: &mut SchemaGenerator) -> Schema {
    raw(json!({"type": "array", "items": hex64()}))
}

/// `GET /v1/proofs/inclusion?seq=&size=`: RFC 9162 inclusion proof, checked before it leaves.
pub(crate) async fn inclusion(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<InclusionView>> {
    caller.require(Access::Read)?;
    let size = tree_size(&state, q.size).await?;
    let seq = q.seq.0;
    if seq >= size {
        return Err(ApiError::NotFound(format!(
            "seq {seq} is not in a tree of {size} entries"
        )));
    }
    let entry = state
        .ledger
        .entry(seq)
        .await?
        .ok_or_else(|| ApiError::internal(format!("seq {seq} is missing from the store")))?;
    let hashes = state.ledger.inclusion_proof(seq, size).await?;
    let root = state.ledger.root(size).await?;
    let proof = InclusionProof::new(seq, size, hashes);
    // A proof from damaged stored nodes must not leave the server.
    proof
        .verify(&merkle::leaf_hash(&entry.hash.0), &root)
        .map_err(ApiError::internal)?;
    Ok(Json(InclusionView {
        leaf_index: proof.leaf_index,
        tree_size: proof.tree_size,
        hashes: proof.hashes.iter().map(ToString::to_string).collect(),
        entry_hash: entry.hash.to_hex(),
        root: hex::encode(root),
    }))
}

/// `GET /v1/proofs/consistency` query.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyQuery {
    /// The smaller tree's size.
    from: Uint,
    /// The larger tree's size, at least `from` (default: the ledger's size).
    to: Option<Uint>,
}

/// An RFC 9162 consistency proof with both roots, checked before it left the server.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ConsistencyView {
    /// The smaller tree's size.
    first: u64,
    /// The larger tree's size.
    second: u64,
    /// The proof's hashes, hex.
    #[schemars(schema_with = "hex64_list")]
    hashes: Vec<String>,
    /// The smaller tree's root, hex.
    #[schemars(schema_with = "hex64_schema")]
    first_root: String,
    /// The larger tree's root, hex.
    #[schemars(schema_with = "hex64_schema")]
    second_root: String,
}

/// `GET /v1/proofs/consistency?from=&to=`: RFC 9162 consistency proof with both roots.
pub(crate) async fn consistency(
    caller: Caller,
    State(state): State<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyView>> {
    caller.require(Access::Read)?;
    let to = tree_size(&state, q.to).await?;
    let from = tree_size(&state, Some(q.from)).await?;
    if from > to {
        return Err(ApiError::BadRequest(format!(
            "from {from} is larger than to {to}: a tree is only consistent with a larger one"
        )));
    }
    let hashes = state.ledger.consistency_proof(from, to).await?;
    let (first, second) = (state.ledger.root(from).await?, state.ledger.root(to).await?);
    let proof = ConsistencyProof::new(from, to, hashes);
    proof.verify(&first, &second).map_err(ApiError::internal)?;
    Ok(Json(ConsistencyView {
        first: proof.first,
        second: proof.second,
        hashes: proof.hashes.iter().map(ToString::to_string).collect(),
        first_root: hex::encode(first),
        second_root: hex::encode(second),
    }))
}

async fn tree_size(state: &AppState, asked: Option<Uint>) -> Result<u64> {
    let head = state.ledger.size().await?;
    let size = asked.map_or(head, |s| s.0);
    if size > head {
        return Err(ApiError::NotFound(format!(
            "tree size {size} is beyond the ledger's {head} entries"
        )));
    }
    Ok(size)
}
