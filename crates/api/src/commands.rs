//! The write path over HTTP: domain commands and client-attested events.
//!
//! A command is decided by the domain against the SMS folded from the ledger, with the token's
//! principal as actor and the server's clock (or a past `occurred_at`) as time, then appended
//! with the expected version: a stream that moved on is a 409, a broken rule a 422 naming it.

use crate::auth::{Access, Caller};
use crate::error::{ApiError, Result};
use crate::extract::{JsonBody, Path, Query, Uint};
use crate::ledger_reads::EntryLine;
use crate::metrics::inc;
use crate::openapi::{Doc, Route};
use crate::{AppState, PAGE_ENTRIES_MAX};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::Engine as _;
use custodia_domain::{Actor, Command, Envelope, RecordId, StreamId, StreamKind, Timestamp};
use custodia_ledger::entry::{Attestation, Event};
use custodia_ledger::keys::PublicKey;
use custodia_ledger::writer::{AppendRequest, Expect, Receipt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// How far ahead of the server's clock a given `occurred_at` may be (clock skew).
const FUTURE_SKEW_MICROS: i64 = 5 * 60 * 1_000_000;

/// `POST /v1/streams/<kind>/{id}/commands` body; its documented schema is the kind's command
/// schema with these members added ([`command_definitions`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandBody {
    /// The command, snake_case (`identify`, `assess`, …).
    action: String,
    /// Its payload, as `command_schemas()` describes.
    #[serde(default)]
    data: Option<Value>,
    /// The stream's version the caller decided on (0 for a new record).
    expected_version: u64,
    /// When it happened, if earlier than now (RFC 3339).
    #[serde(default)]
    occurred_at: Option<String>,
}

/// The members a command body has besides the kind's `action` and `data`.
fn envelope_members() -> Value {
    json!({
        "expected_version": {
            "type": "integer", "minimum": 0, "maximum": custodia_ledger::canonical::MAX_SAFE_INTEGER,
            "description": "The stream's version the caller decided on; 0 for a new record. \
                            Another version is a 409 (stale-version).",
        },
        "occurred_at": {
            "type": ["string", "null"], "format": "date-time",
            "description": "When it happened, if earlier than now (RFC 3339, at most microseconds); \
                            absent or null: the server's clock.",
        },
    })
}

/// Adds the envelope members to every alternative of a command schema, so that the body's
/// schema says exactly what the handler reads (the domain's alternatives admit no other member).
fn with_envelope(schema: &mut Value) {
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(alternatives)) = schema.get_mut(key) {
            alternatives.iter_mut().for_each(with_envelope);
            return;
        }
    }
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let properties = object.entry("properties").or_insert_with(|| json!({}));
    if let (Some(properties), Value::Object(members)) =
        (properties.as_object_mut(), envelope_members())
    {
        properties.extend(members);
    }
    let required = object.entry("required").or_insert_with(|| json!([]));
    if let Some(required) = required.as_array_mut() {
        required.push(json!("expected_version"));
    }
}

/// Bounds every integer of a schema the way the server reads it: by its Rust type (schemars'
/// `format`), and within ±(2^53−1) in any case, the ledger's integer rule.
fn bound_integers(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let integer = match map.get("type") {
                Some(Value::String(t)) => t == "integer",
                Some(Value::Array(types)) => types.iter().any(|t| t == "integer"),
                _ => false,
            };
            if integer {
                let safe = custodia_ledger::canonical::MAX_SAFE_INTEGER;
                let (min, max) = match map.get("format").and_then(Value::as_str) {
                    Some("uint8") => (0, i64::from(u8::MAX)),
                    Some("uint16") => (0, i64::from(u16::MAX)),
                    Some("uint32") => (0, i64::from(u32::MAX)),
                    Some("int8") => (i64::from(i8::MIN), i64::from(i8::MAX)),
                    Some("int16") => (i64::from(i16::MIN), i64::from(i16::MAX)),
                    Some("int32") => (i64::from(i32::MIN), i64::from(i32::MAX)),
                    Some(f) if f.starts_with('u') => (0, safe),
                    _ => (-safe, safe),
                };
                let tighter = |key: &str, bound: i64, keep: fn(f64, f64) -> bool| {
                    let given = map.get(key).and_then(Value::as_f64);
                    match given {
                        Some(g) if keep(g, bound as f64) => map[key].clone(),
                        _ => json!(bound),
                    }
                };
                let min = tighter("minimum", min, |g, b| g >= b);
                let max = tighter("maximum", max, |g, b| g <= b);
                map.insert("minimum".into(), min);
                map.insert("maximum".into(), max);
            }
            map.values_mut().for_each(bound_integers);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// The component schemas of command bodies: `<kind>CommandBody` for each stream kind (the
/// domain's command schema with the envelope members), and the domain's definitions.
pub(crate) fn command_definitions() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (kind, root) in custodia_domain::command_schemas() {
        let mut body = serde_json::to_value(&root.schema).unwrap_or_default();
        if let Some(object) = body.as_object_mut() {
            object.remove("$schema");
            object.insert(
                "title".into(),
                json!(format!("{}CommandBody", kind.as_str())),
            );
        }
        with_envelope(&mut body);
        bound_integers(&mut body);
        out.push((format!("{}CommandBody", kind.as_str()), body));
        for (name, schema) in root.definitions {
            let mut schema = serde_json::to_value(schema).unwrap_or_default();
            bound_integers(&mut schema);
            out.push((name, schema));
        }
    }
    out
}

/// The route of one kind's commands: a path per kind, so that each documents its own body.
pub(crate) fn route(kind: StreamKind) -> Route {
    let path = format!("/v1/streams/{}/{{id}}/commands", kind.as_str());
    let handler = move |caller: Caller,
                        state: State<AppState>,
                        Path(IdPath { id }): Path<IdPath>,
                        JsonBody(body): JsonBody<Map<String, Value>>| {
        command(kind, caller, state, id, body)
    };
    let schema = json!({"$ref": format!("#/components/schemas/{}CommandBody", kind.as_str())});
    let doc = Doc::with(Access::Write, "Decide a command and record its events.")
        .describe(
            "The domain decides the command against the SMS, with the token's principal as \
             actor, and the events are appended with `expected_version`: a stream that moved on \
             is a 409, a broken rule a 422 that names it.",
        )
        .path::<IdPath>()
        .body_schema(schema)
        .created::<Recorded>()
        .problems(&[409]);
    Route::post(path, handler, doc)
}

/// A record's id in a path.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct IdPath {
    /// The record's id within its stream.
    id: RecordId,
}

/// A stream kind and a record id in a path.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct StreamPath {
    /// The stream's kind.
    #[schemars(schema_with = "kind_schema")]
    kind: String,
    /// The record's id within its stream.
    id: RecordId,
}

fn kind_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
    let kinds: Vec<&str> = StreamKind::ALL.iter().map(|k| k.as_str()).collect();
    crate::openapi::raw(json!({"type": "string", "enum": kinds}))
}

/// Refuses an `actor` member: the actor is the token's principal, never the body's say.
fn refuse_actor(body: &Map<String, Value>) -> Result<()> {
    if body.contains_key("actor") {
        return Err(ApiError::rule(
            "actor-in-body",
            "actor: a request may not name its actor; it is the token's principal",
        ));
    }
    Ok(())
}

fn stream_id(kind: &str, id: &RecordId) -> Result<StreamId> {
    let kind = StreamKind::parse(kind).ok_or_else(|| {
        ApiError::BadRequest(format!("stream {kind}/{id}: unknown stream kind {kind:?}"))
    })?;
    Ok(StreamId::new(kind, id.clone()))
}

fn actor_of(caller: &Caller) -> Result<Actor> {
    Actor::new(caller.principal.as_str()).map_err(ApiError::internal)
}

/// The command's time: now, or a given past `occurred_at`.
fn occurred_at(given: Option<&str>) -> Result<Timestamp> {
    let now = custodia_ledger::time::Timestamp::now().micros();
    let micros = match given {
        None => now,
        Some(text) => {
            let at = custodia_ledger::time::Timestamp::normalize(text)
                .map_err(|e| ApiError::rule("invalid-body", format!("occurred_at: {e}")))?
                .micros();
            if at > now + FUTURE_SKEW_MICROS {
                return Err(ApiError::rule(
                    "invalid-body",
                    "occurred_at: lies in the future",
                ));
            }
            at
        }
    };
    Timestamp::from_micros(micros)
        .ok_or_else(|| ApiError::rule("invalid-body", "occurred_at: out of range"))
}

/// Counts a refusal in the metrics and passes it on.
fn counted(state: &AppState, e: ApiError) -> ApiError {
    match &e {
        ApiError::Conflict(_) => inc(&state.metrics.conflicts),
        ApiError::Unprocessable { .. } | ApiError::Forbidden(_) => inc(&state.metrics.rejections),
        _ => {}
    }
    e
}

/// `POST /v1/streams/<kind>/{id}/commands`.
async fn command(
    kind: StreamKind,
    caller: Caller,
    State(state): State<AppState>,
    id: RecordId,
    body: Map<String, Value>,
) -> Result<(StatusCode, Json<Recorded>)> {
    caller.require(Access::Write)?;
    let stream = StreamId::new(kind, id);
    let result = run_command(&caller, &state, stream, body).await;
    result.map_err(|e| counted(&state, e))
}

async fn run_command(
    caller: &Caller,
    state: &AppState,
    stream: StreamId,
    raw: Map<String, Value>,
) -> Result<(StatusCode, Json<Recorded>)> {
    refuse_actor(&raw)?;
    let body: CommandBody = serde_json::from_value(Value::Object(raw))
        .map_err(|e| ApiError::rule("invalid-body", format!("body: {e}")))?;
    let mut command = json!({"action": body.action});
    if let Some(data) = body.data {
        command["data"] = data;
    }
    let command = Command::from_json(&stream, &command)
        .map_err(|e| ApiError::rule("invalid-command", format!("{stream}: {e}")))?;
    let (actor, at) = (actor_of(caller)?, occurred_at(body.occurred_at.as_deref())?);
    let events = decide(state, &stream, command, body.expected_version, &actor, at).await?;
    let receipts = append_all(state, events, None).await?;
    tracing::info!(%stream, principal = %caller.principal, entries = receipts.len(), "command recorded");
    Ok((
        StatusCode::CREATED,
        Json(Recorded::new(stream.to_string(), &receipts)),
    ))
}

/// Decides `command` against the SMS as of the ledger's head; returns the events to append.
async fn decide(
    state: &AppState,
    stream: &StreamId,
    command: Command,
    expected: u64,
    actor: &Actor,
    at: Timestamp,
) -> Result<Vec<Event>> {
    // Decide on everything this server has acknowledged, not on a fold that lags behind.
    state.sms.settle(&state.ledger).await?;
    let mut sms = state.sms.read().await;
    let mut current = sms.stream(stream).map_or(0, |s| s.version());
    if current < expected {
        // Another node sharing the ledger may have written it: fold up to the stored head.
        drop(sms);
        let head = state.ledger.size().await?;
        if head > 0 {
            state.sms.wait_for(head - 1).await;
        }
        sms = state.sms.read().await;
        current = sms.stream(stream).map_or(0, |s| s.version());
    }
    if current != expected {
        return Err(ApiError::Conflict(format!(
            "stream {stream}: expected version {expected}, but the stream is at version {current}"
        )));
    }
    let envelopes = sms
        .decide(command, actor, at)
        .map_err(|r| ApiError::rule("domain-rule", r.to_string()))?;
    drop(sms);
    envelopes
        .iter()
        .map(|e| {
            Event::from_owned(e.to_json())
                .map_err(|e| ApiError::rule("event-format", e.to_string()))
        })
        .collect()
}

/// Appends events in order with their exact versions. A decision of several events is
/// appended one by one: the ledger has no multi-event append yet (see the crate's notes), so
/// a conflict on a later event leaves the earlier ones recorded.
async fn append_all(
    state: &AppState,
    events: Vec<Event>,
    attestation: Option<Attestation>,
) -> Result<Vec<(Receipt, String)>> {
    let mut receipts = Vec::with_capacity(events.len());
    for event in events {
        let event_type = event.event_type().to_owned();
        let request = AppendRequest {
            event,
            attestation: attestation.clone(),
            expect: Expect::Exact,
        };
        let receipt = state.ledger.append(request).await?;
        state.sms.appended(receipt.seq);
        inc(&state.metrics.appends);
        receipts.push((receipt, event_type));
    }
    if let Some((last, _)) = receipts.last() {
        state.sms.wait_for(last.seq).await;
    }
    Ok(receipts)
}

/// What a command or an attested event recorded.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Recorded {
    /// The stream written, `<kind>/<id>`.
    stream: String,
    /// The stream's version after the last entry (null when nothing was written).
    version: Option<u64>,
    /// One receipt per entry, in order.
    entries: Vec<ReceiptView>,
}

/// A durable entry's receipt.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ReceiptView {
    /// Its seq.
    seq: u64,
    /// Its hash, 64 lowercase hex digits.
    hash: String,
    /// Its version in the stream.
    version: u64,
    /// The event type.
    #[serde(rename = "type")]
    event_type: String,
    /// When the ledger recorded it.
    recorded_at: String,
}

impl Recorded {
    fn new(stream: String, receipts: &[(Receipt, String)]) -> Self {
        let entries = receipts
            .iter()
            .map(|(r, t)| ReceiptView {
                seq: r.seq,
                hash: r.hash.to_hex(),
                version: r.version,
                event_type: t.clone(),
                recorded_at: r.recorded_at.to_string(),
            })
            .collect();
        let version = receipts.last().map(|(r, _)| r.version);
        Self {
            stream,
            version,
            entries,
        }
    }
}

/// `POST /v1/events` body: an event its author signed, and the signature.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttestedBody {
    /// The ledger `event` object exactly as its author signed it (LEDGER-FORMAT §1); its
    /// `actor` must be the token's principal.
    #[schemars(schema_with = "crate::ledger_reads::event_schema")]
    event: Value,
    /// The author's signature over the event digest.
    attestation: AttestationBody,
}

/// An author's attestation.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttestationBody {
    /// Base64 Ed25519 public key, registered to attest for the actor.
    key: String,
    /// Base64 Ed25519 signature over BLAKE3("custodia.event/1\n" || JCS(event)).
    sig: String,
}

/// `POST /v1/events`: a client-attested event. Its actor must be the token's principal, its
/// payload must decode as an SMS event of its stream, its key must be registered to attest for
/// that actor (the writer checks), and its version must be the stream's next.
pub(crate) async fn attested(
    caller: Caller,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<AttestedBody>,
) -> Result<(StatusCode, Json<Recorded>)> {
    caller.require(Access::Write)?;
    let result = run_attested(&caller, &state, body).await;
    result.map_err(|e| counted(&state, e))
}

async fn run_attested(
    caller: &Caller,
    state: &AppState,
    body: AttestedBody,
) -> Result<(StatusCode, Json<Recorded>)> {
    let event = Event::from_value(&body.event)
        .map_err(|e| ApiError::rule("event-format", e.to_string()))?;
    if event.actor() != caller.principal {
        return Err(ApiError::Forbidden(format!(
            "event.actor {} is not the token's principal {}",
            event.actor(),
            caller.principal
        )));
    }
    if StreamKind::parse(event.stream_kind()).is_none() {
        return Err(ApiError::rule(
            "event-format",
            format!("event.stream {}: not an SMS stream", event.stream()),
        ));
    }
    Envelope::from_json(&body.event)
        .map_err(|e| ApiError::rule("event-format", format!("event: {e}")))?;
    let attestation = attestation(&body.attestation)?;
    let stream = event.stream().to_owned();
    let receipts = append_all(state, vec![event], Some(attestation)).await?;
    tracing::info!(%stream, principal = %caller.principal, "attested event recorded");
    Ok((StatusCode::CREATED, Json(Recorded::new(stream, &receipts))))
}

fn attestation(body: &AttestationBody) -> Result<Attestation> {
    let key = PublicKey::from_base64(&body.key)
        .map_err(|e| ApiError::rule("attestation", format!("attestation.key: {e}")))?;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(&body.sig)
        .ok()
        .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok())
        .ok_or_else(|| {
            ApiError::rule(
                "attestation",
                "attestation.sig: not a base64 Ed25519 signature",
            )
        })?;
    Ok(Attestation { key, sig })
}

/// `GET /v1/streams/{kind}/{id}` query.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamQuery {
    /// The first version to list (default 1); at most 1000 entries are listed.
    #[serde(default)]
    from_version: Option<Uint>,
}

/// A stream's version and a page of its entries.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct StreamPage {
    /// `<kind>/<id>`.
    stream: String,
    /// The stream's current version (0: no entry yet).
    version: u64,
    /// Its entries from `from_version`, at most 1000.
    entries: Vec<EntryLine>,
}

/// `GET /v1/streams/{kind}/{id}?from_version=`: the stream's version and a page of its entries.
pub(crate) async fn stream(
    caller: Caller,
    State(state): State<AppState>,
    Path(path): Path<StreamPath>,
    Query(q): Query<StreamQuery>,
) -> Result<Json<StreamPage>> {
    caller.require(Access::Read)?;
    let id = stream_id(&path.kind, &path.id)?;
    let stream = id.to_string();
    let from = q.from_version.map_or(1, |v| v.0).max(1);
    let rows = state
        .ledger
        .store()
        .stream_rows(&stream, from, PAGE_ENTRIES_MAX)
        .await?;
    state.sms.settle(&state.ledger).await?;
    let version = state
        .sms
        .read()
        .await
        .stream(&id)
        .map_or(0, |s| s.version());
    let entries = rows.iter().map(EntryLine::of).collect::<Result<Vec<_>>>()?;
    Ok(Json(StreamPage {
        stream,
        version,
        entries,
    }))
}
