//! One error type for every handler, answered as RFC 9457 problem details.
//!
//! The `detail` names the rule that was broken and where; internal failures (storage, I/O) are
//! logged with their cause and answered with a bare 500 that says nothing of the inside.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use custodia_ledger::ledger::LedgerError;
use custodia_ledger::writer::AppendError;
use serde::Serialize;

/// The media type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";
/// What every problem type's URN starts with.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:custodia:problem:";

/// Why a request was not served. Each variant maps to one status and one problem `type`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed: not JSON, a bad path or query parameter (400).
    #[error("{0}")]
    BadRequest(String),
    /// The request is well formed but breaks a rule: wrong types, unknown fields, an `actor`
    /// in the body, a domain rule (422).
    #[error("{detail}")]
    Unprocessable {
        /// The rule's short name, e.g. `unknown-field` or `domain-rule`.
        rule: &'static str,
        /// What was wrong and where.
        detail: String,
    },
    /// No valid token (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The token's role may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing is there (404).
    #[error("{0}")]
    NotFound(String),
    /// The stream moved on since the caller read it (409).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// The body is not sent as `application/json` (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The token sent too many requests (429).
    #[error("{0}")]
    RateLimited(String),
    /// The service cannot serve now (503).
    #[error("{0}")]
    Unavailable(String),
    /// Something failed inside; the cause is logged, never returned (500).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result of handlers.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// One problem type: every problem document the API sends has one of these `type`s
/// (`urn:custodia:problem:<name>`), and the OpenAPI document lists them all.
#[derive(Debug, Clone, Copy)]
pub struct ProblemType {
    /// The last part of the type's URN.
    pub name: &'static str,
    /// The HTTP status it is sent with.
    pub status: u16,
    /// The `title` of every document of this type.
    pub title: &'static str,
    /// When it is sent.
    pub when: &'static str,
}

const fn pt(
    name: &'static str,
    status: u16,
    title: &'static str,
    when: &'static str,
) -> ProblemType {
    ProblemType {
        name,
        status,
        title,
        when,
    }
}

/// Every problem type, by status. The first type of a status is the one a bare error of that
/// status (from the router or a limit layer) becomes.
pub const PROBLEM_TYPES: &[ProblemType] = &[
    pt("bad-request", 400, "Bad request", "a path or query parameter, header or body is malformed (a number not in canonical form, a date that is not one, a body that is not JSON)"),
    pt("unauthenticated", 401, "Unauthenticated", "no `Authorization: Bearer` token, or an unknown or revoked one"),
    pt("forbidden", 403, "Forbidden", "the token's role may not use this endpoint, or the event's actor is not the token's principal"),
    pt("not-found", 404, "Not found", "no such endpoint, entry, checkpoint, register, or a seq or size beyond the ledger"),
    pt("method-not-allowed", 405, "Method not allowed", "the path exists but not with this method (see `Allow`)"),
    pt("request-timeout", 408, "Request timeout", "the request took longer than the server allows; a write it carried may still have been recorded"),
    pt("stale-version", 409, "Stale version", "`expected_version` (or an attested event's version) is not the stream's current one"),
    pt("body-too-large", 413, "Body too large", "the body exceeds the server's limit"),
    pt("uri-too-long", 414, "URI too long", "the request target exceeds the server's limit"),
    pt("unsupported-media-type", 415, "Unsupported media type", "a JSON body sent without `Content-Type: application/json`"),
    pt("invalid-body", 422, "Invalid body", "the body is JSON but not of the documented shape: a wrong type, an unknown or missing member"),
    pt("duplicate-key", 422, "Duplicate key", "a JSON object names a key twice; a signed record must not depend on which one a parser keeps"),
    pt("json-value", 422, "JSON value outside the ledger's rules", "a floating-point number, or an integer outside ±(2^53−1)"),
    pt("actor-in-body", 422, "Actor in body", "the body names an `actor`; the actor is always the token's principal"),
    pt("invalid-command", 422, "Invalid command", "the command is unknown for the stream's kind, or its data does not fit the command's schema"),
    pt("domain-rule", 422, "Domain rule broken", "the SMS's rules refuse the command in the stream's current state (the detail names the rule)"),
    pt("event-format", 422, "Invalid event", "an attested event breaks the ledger's event format or is not an SMS event"),
    pt("attestation", 422, "Invalid attestation", "an attestation's key or signature is malformed, unregistered, or does not verify"),
    pt("key-change", 422, "Invalid key change", "a key registration or revocation event breaks the key rules"),
    pt("checkpoint", 422, "No checkpoint possible", "the node key cannot sign a checkpoint of the current tree yet"),
    pt("invalid-key", 422, "Invalid key", "a cosigner's public key is not a base64 Ed25519 key"),
    pt("cosignature", 422, "Invalid cosignature", "a cosignature line is malformed or does not verify for the checkpoint"),
    pt("rate-limited", 429, "Rate limited", "the token sent more requests than its rate allows (see `Retry-After`)"),
    pt("headers-too-large", 431, "Header fields too large", "the request's header fields exceed the server's limit"),
    pt("internal", 500, "Internal error", "the server failed; the cause is in its log, never in the answer"),
    pt("unavailable", 503, "Unavailable", "the store does not answer, the SMS is being folded, or the server is stopping"),
];

/// The problem type named `name`, if it is documented.
pub fn problem_type(name: &str) -> Option<&'static ProblemType> {
    PROBLEM_TYPES.iter().find(|t| t.name == name)
}

/// The problem type a bare error response of `status` becomes: the first of that status, or
/// for a status no type has (none is sent today), the first of its class's fallback status.
pub fn problem_type_of_status(status: StatusCode) -> &'static ProblemType {
    let fallback = if status.is_server_error() { 500 } else { 400 };
    PROBLEM_TYPES
        .iter()
        .find(|t| t.status == status.as_u16())
        .or_else(|| PROBLEM_TYPES.iter().find(|t| t.status == fallback))
        .unwrap_or(&PROBLEM_TYPES[0])
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
}

impl ApiError {
    /// A 422 for a broken rule.
    pub fn rule(rule: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            rule,
            detail: detail.into(),
        }
    }

    /// A 500 whose cause is logged here and not returned.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    /// The status and the problem type's short name.
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request"),
            ApiError::Unprocessable { rule, .. } => (StatusCode::UNPROCESSABLE_ENTITY, rule),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "stale-version"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type")
            }
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate-limited"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// A problem response with this status, documented type and detail.
pub fn problem(status: StatusCode, kind: &str, detail: String) -> Response {
    // Every type sent is in the document; a new one must be added to PROBLEM_TYPES.
    let documented = problem_type(kind).filter(|t| t.status == status.as_u16());
    debug_assert!(
        documented.is_some(),
        "undocumented problem type {kind} ({status})"
    );
    let kind = documented.unwrap_or_else(|| problem_type_of_status(status));
    let status = StatusCode::from_u16(kind.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = Problem {
        kind: format!("{PROBLEM_TYPE_PREFIX}{}", kind.name),
        title: kind.title,
        status: status.as_u16(),
        detail,
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind) = self.parts();
        let detail = match self {
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "request failed inside");
                "the server failed to serve this request; the cause is in its log".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = problem(status, kind, detail);
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Range(m) => ApiError::NotFound(m),
            LedgerError::Append(a) => a.into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<custodia_ledger::store::StoreError> for ApiError {
    fn from(e: custodia_ledger::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::Conflict { .. } => ApiError::Conflict(e.to_string()),
            AppendError::Attestation(_) | AppendError::AttestedNext => {
                ApiError::rule("attestation", e.to_string())
            }
            AppendError::KeyChange(_) => ApiError::rule("key-change", e.to_string()),
            AppendError::Entry(_) => ApiError::rule("event-format", e.to_string()),
            AppendError::Closed => ApiError::Unavailable(e.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(e)
    }
}
