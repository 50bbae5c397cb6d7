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
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate-limited"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// A problem response with this status, type and detail.
pub fn problem(status: StatusCode, kind: &str, detail: String) -> Response {
    let body = Problem {
        kind: format!("urn:custodia:problem:{kind}"),
        title: status.canonical_reason().unwrap_or("Error"),
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
