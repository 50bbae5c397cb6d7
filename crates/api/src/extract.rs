//! Request extractors that answer every refusal as a problem document: the caller (token,
//! role, rate), a strict JSON body, and query parameters.

use crate::auth::Caller;
use crate::error::{problem, problem_type_of_status, ApiError};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};
use custodia_ledger::canonical::parse_strict;
use serde::de::DeserializeOwned;

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::Unauthenticated("an Authorization: Bearer token is required".into())
        })?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthenticated(
                    "the Authorization header must be `Bearer <token>`".into(),
                )
            })?;
        // The secret is never logged, echoed or kept: only its hash is looked up.
        let caller =
            state.db.authenticate(secret).await?.ok_or_else(|| {
                ApiError::Unauthenticated("the token is unknown or revoked".into())
            })?;
        state.rate.check(&caller.token_id)?;
        Ok(caller)
    }
}

/// A JSON body read strictly, the one way every endpoint reads one: `Content-Type:
/// application/json` or a 415; the ledger's JSON rules ([`parse_strict`]: no duplicate key, no
/// floating-point number, integers within ±(2^53−1)) or a 422 naming the offence; then the
/// documented shape or a 422 (wrong type, unknown or missing member). Bytes that are not JSON
/// are a 400, a body over the limit a 413.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req.headers().get(header::CONTENT_TYPE);
        if !content_type.is_some_and(is_json) {
            return Err(ApiError::UnsupportedMediaType(
                "the body must be sent as Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(format!(
                    "the body exceeds the limit of {} bytes",
                    crate::BODY_BYTES_MAX
                ))
            } else {
                ApiError::BadRequest(format!("the body could not be read: {}", e.body_text()))
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Whether a `Content-Type` names JSON: `application/json`, in any case, with parameters or
/// without (`; charset=utf-8`).
fn is_json(value: &axum::http::HeaderValue) -> bool {
    let Ok(text) = value.to_str() else {
        return false;
    };
    let essence = text.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// Parses a JSON body: bytes that are not JSON are a 400; JSON that breaks the ledger's value
/// rules, or is not of the shape `T`, a 422 that says where.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, so that a truncated body is told apart from a rule broken in a valid one.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|e| ApiError::BadRequest(format!("body is not valid JSON: {e}")))?;
    let value = parse_strict(bytes).map_err(|e| {
        let text = e.to_string();
        if text.contains("duplicate key") {
            ApiError::rule("duplicate-key", format!("body: {text}; send each key once"))
        } else {
            ApiError::rule("json-value", format!("body: {text}"))
        }
    })?;
    serde_json::from_value(value).map_err(|e| ApiError::rule("invalid-body", format!("body: {e}")))
}

/// Query parameters, refused as a 400 problem naming the parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

/// Path parameters, refused as a 400 problem.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

/// A request target longer than this is refused with 414.
pub const URI_BYTES_MAX: usize = 8 * 1024;
/// Header fields (names and values) adding up to more than this are refused with 431.
pub const HEADER_BYTES_MAX: usize = 32 * 1024;
/// More header fields than this are refused with 431.
pub const HEADERS_MAX: usize = 64;

/// Refuses a request whose target or header fields exceed the limits, as a problem document.
/// The limits lie below the HTTP server's own (whose refusals have no body), so that a client
/// meets one error format: the server must keep its limits above these.
pub async fn limits(req: Request, next: axum::middleware::Next) -> axum::response::Response {
    let uri_bytes = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_bytes > URI_BYTES_MAX {
        let detail =
            format!("the request target has {uri_bytes} bytes; the limit is {URI_BYTES_MAX}");
        return problem(StatusCode::URI_TOO_LONG, "uri-too-long", detail);
    }
    let headers = req.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    if headers.len() > HEADERS_MAX || header_bytes > HEADER_BYTES_MAX {
        let detail = format!(
            "the request has {} header fields of {header_bytes} bytes; the limits are \
             {HEADERS_MAX} fields and {HEADER_BYTES_MAX} bytes",
            headers.len()
        );
        return problem(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers-too-large",
            detail,
        );
    }
    next.run(req).await
}

/// Turns any error response that is not yet a problem document (a timeout, a 405 from the
/// router, a limit layer's 413) into one of the documented types, so that clients meet one
/// error format.
pub async fn problems_everywhere(
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == crate::error::PROBLEM_JSON);
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let detail = match status {
        StatusCode::REQUEST_TIMEOUT => "the request took longer than the server allows; a write \
                                         it carried may still have been recorded: read the stream's \
                                         version before sending it again"
            .to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!(
                "the body exceeds the limit of {} bytes",
                crate::BODY_BYTES_MAX
            )
        }
        StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed on this path".to_owned(),
        other => other.canonical_reason().unwrap_or("error").to_owned(),
    };
    let kind = problem_type_of_status(status);
    let mut out = problem(status, kind.name, detail);
    if let Some(allow) = response.headers().get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}

/// An unsigned integer in a path, query or header, in canonical decimal form only: digits,
/// no sign, no leading zero (`5`, not `+5` or `05`), at most 2^53−1 (the ledger's largest
/// integer, so no seq or size is beyond it). One number has one spelling, so that two requests
/// that mean the same are written the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Uint(pub u64);

/// The largest [`Uint`]: 2^53−1.
pub const UINT_MAX: u64 = custodia_ledger::canonical::MAX_SAFE_INTEGER as u64;

impl Uint {
    /// Reads a canonical decimal; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Uint, String> {
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        if !digits {
            return Err(format!("{text:?} is not an unsigned decimal integer"));
        }
        if text.len() > 1 && text.starts_with('0') {
            return Err(format!(
                "{text:?} has a leading zero; write numbers without one"
            ));
        }
        text.parse()
            .ok()
            .filter(|n| *n <= UINT_MAX)
            .map(Uint)
            .ok_or_else(|| format!("{text:?} is larger than 2^53−1 ({UINT_MAX})"))
    }
}

impl<'de> serde::Deserialize<'de> for Uint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Uint;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an unsigned decimal integer without sign or leading zero")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Uint, E> {
                Uint::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Uint, E> {
                Uint::parse(&v.to_string()).map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

impl schemars::JsonSchema for Uint {
    fn schema_name() -> String {
        "Uint".into()
    }
    fn is_referenceable() -> bool {
        false
    }
    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        uint_schema(0, UINT_MAX)
    }
}

/// The schema of an unsigned integer from `min` to `max`. The bounds travel as extensions:
/// schemars keeps them as `f64`, which would print them as floating-point numbers.
pub fn uint_schema(min: u64, max: u64) -> schemars::schema::Schema {
    let mut schema = schemars::schema::SchemaObject {
        instance_type: Some(schemars::schema::InstanceType::Integer.into()),
        ..Default::default()
    };
    schema.extensions.insert("minimum".into(), min.into());
    schema.extensions.insert("maximum".into(), max.into());
    schema.into()
}
