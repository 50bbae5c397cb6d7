//! `GET /v1/openapi.json`: the OpenAPI 3.1 document, built from [`ENDPOINTS`] (the table the
//! router's tests check against the routes) and from the JSON Schemas of the request types and
//! of the domain's commands (`custodia_domain::command_schemas`), so it cannot be edited apart
//! from the code.

use crate::auth::{Access, Role, ROLES};
use axum::Json;
use schemars::gen::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

/// One documented endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// HTTP method, lowercase.
    pub method: &'static str,
    /// Path template, OpenAPI style (`{size}`).
    pub path: &'static str,
    /// Who may call it; `None` for public endpoints.
    pub access: Option<Access>,
    /// One line on what it does.
    pub summary: &'static str,
    /// The component schema of its JSON body, if it takes one.
    pub body: Option<&'static str>,
}

const fn ep(
    method: &'static str,
    path: &'static str,
    access: Option<Access>,
    summary: &'static str,
    body: Option<&'static str>,
) -> Endpoint {
    Endpoint {
        method,
        path,
        access,
        summary,
        body,
    }
}

/// Every endpoint of the API.
pub const ENDPOINTS: &[Endpoint] = &[
    ep("get", "/v1/health", None, "The process is up.", None),
    ep(
        "get",
        "/v1/ready",
        None,
        "The store answers and the SMS fold caught up.",
        None,
    ),
    ep(
        "get",
        "/metrics",
        None,
        "Prometheus text: entries, appends, rejections, subscribers.",
        None,
    ),
    ep("get", "/v1/openapi.json", None, "This document.", None),
    ep(
        "get",
        "/v1/entries",
        Some(Access::Read),
        "A page of entries by seq (?from=&limit=).",
        None,
    ),
    ep(
        "get",
        "/v1/entries/{key}",
        Some(Access::Read),
        "One entry by seq or by hash (64 hex).",
        None,
    ),
    ep(
        "get",
        "/v1/checkpoints",
        Some(Access::Read),
        "Sizes with a signed checkpoint.",
        None,
    ),
    ep(
        "post",
        "/v1/checkpoints",
        Some(Access::Write),
        "Sign a checkpoint of the current tree.",
        None,
    ),
    ep(
        "get",
        "/v1/checkpoints/latest",
        Some(Access::Read),
        "The latest checkpoint and its cosignatures.",
        None,
    ),
    ep(
        "get",
        "/v1/checkpoints/{size}",
        Some(Access::Read),
        "The checkpoint of a size and its cosignatures.",
        None,
    ),
    ep(
        "post",
        "/v1/checkpoints/{size}/cosignatures",
        Some(Access::Cosign),
        "Submit a C2SP tlog-cosignature/v1 line on a checkpoint.",
        Some("CosignatureBody"),
    ),
    ep(
        "get",
        "/v1/proofs/inclusion",
        Some(Access::Read),
        "RFC 9162 inclusion proof (?seq=&size=).",
        None,
    ),
    ep(
        "get",
        "/v1/proofs/consistency",
        Some(Access::Read),
        "RFC 9162 consistency proof (?from=&to=).",
        None,
    ),
    ep(
        "get",
        "/v1/export",
        Some(Access::Read),
        "The export bundle as a tar stream.",
        None,
    ),
    ep(
        "get",
        "/v1/streams/{kind}/{id}",
        Some(Access::Read),
        "A stream's version and entries.",
        None,
    ),
    ep(
        "post",
        "/v1/streams/{kind}/{id}/commands",
        Some(Access::Write),
        "A domain command, decided and appended with the expected version.",
        Some("CommandBody"),
    ),
    ep(
        "post",
        "/v1/events",
        Some(Access::Write),
        "A client-attested event, checked and sealed.",
        Some("AttestedBody"),
    ),
    ep(
        "get",
        "/v1/events/stream",
        Some(Access::Subscribe),
        "Server-Sent Events of committed entries (?from=&kind=&type=, Last-Event-ID).",
        None,
    ),
];

/// The body of `POST /v1/streams/{kind}/{id}/commands`; `data` follows the kind's command
/// schema (`<kind>Command` in the components). An `actor` member is refused.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct CommandBody {
    /// The command, snake_case (`identify`, `assess`, …).
    action: String,
    /// Its payload.
    data: Option<Value>,
    /// The stream's version the caller decided on; 0 for a new record.
    expected_version: u64,
    /// When it happened, if earlier than now (RFC 3339).
    occurred_at: Option<String>,
}

/// The body of `POST /v1/events`.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct AttestedBody {
    /// The ledger event object exactly as its author signed it; `actor` must be the token's
    /// principal.
    event: Value,
    /// Base64 public key and base64 Ed25519 signature over the event digest.
    attestation: AttestationBody,
}

/// An author's attestation.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct AttestationBody {
    /// Base64 Ed25519 public key, registered to attest for the actor.
    key: String,
    /// Base64 signature over BLAKE3("custodia.event/1\n" || JCS(event)).
    sig: String,
}

/// The body of `POST /v1/checkpoints/{size}/cosignatures`.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct CosignatureBody {
    /// The witness's key name.
    witness: String,
    /// Its base64 Ed25519 public key.
    key: String,
    /// The signature line `— <witness> <base64>`.
    cosignature: String,
}

/// Rewrites draft-07 `#/definitions/` references to the document's components.
fn rehome(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                *r = r.replace("#/definitions/", "#/components/schemas/");
            }
            map.values_mut().for_each(rehome);
        }
        Value::Array(items) => items.iter_mut().for_each(rehome),
        _ => {}
    }
}

fn components() -> Map<String, Value> {
    let mut gen = SchemaSettings::draft2019_09()
        .with(|s| s.definitions_path = "#/components/schemas/".into())
        .into_generator();
    let mut schemas = Map::new();
    let own = [
        ("CommandBody", gen.subschema_for::<CommandBody>()),
        ("AttestedBody", gen.subschema_for::<AttestedBody>()),
        ("CosignatureBody", gen.subschema_for::<CosignatureBody>()),
    ];
    for (name, schema) in own {
        schemas.insert(
            name.into(),
            serde_json::to_value(schema).unwrap_or_default(),
        );
    }
    for (name, schema) in gen.take_definitions() {
        schemas
            .entry(name)
            .or_insert(serde_json::to_value(schema).unwrap_or_default());
    }
    for (kind, root) in custodia_domain::command_schemas() {
        let mut value = serde_json::to_value(&root.schema).unwrap_or_default();
        rehome(&mut value);
        schemas.insert(format!("{}Command", kind.as_str()), value);
        for (name, schema) in root.definitions {
            let mut value = serde_json::to_value(schema).unwrap_or_default();
            rehome(&mut value);
            schemas.entry(name).or_insert(value);
        }
    }
    schemas
}

fn roles_for(access: Option<Access>) -> Vec<&'static str> {
    match access {
        None => vec!["anyone"],
        Some(a) => ROLES
            .into_iter()
            .filter(|r| r.may(a))
            .map(Role::as_str)
            .collect(),
    }
}

fn operation(e: &Endpoint) -> Value {
    let problem = json!({"description": "RFC 9457 problem details", "content": {"application/problem+json": {}}});
    let mut op = json!({
        "summary": e.summary,
        "description": format!("Roles: {}.", roles_for(e.access).join(", ")),
        "responses": {"default": problem, "200": {"description": "OK"}},
    });
    if e.access.is_some() {
        op["security"] = json!([{"bearer": []}]);
    }
    if let Some(body) = e.body {
        op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
    }
    let params: Vec<Value> = e
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    op
}

/// The whole document.
pub fn build() -> Value {
    let mut paths = Map::new();
    for e in ENDPOINTS {
        let item = paths.entry(e.path).or_insert_with(|| json!({}));
        item[e.method] = operation(e);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "custodia", "version": env!("CARGO_PKG_VERSION"),
                 "description": "The HTTP API of a custodia ledger: an ISO 28000 SMS whose history can be proved."},
        "paths": paths,
        "components": {
            "schemas": components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    })
}

/// `GET /v1/openapi.json`.
pub(crate) async fn document() -> Json<Value> {
    Json(build())
}
