//! Request extractors that answer every refusal as a problem document: the caller (token,
//! role, rate), a strict JSON body, and query parameters.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::IntoResponse;
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

/// A JSON body read strictly: a syntax error is a 400, a shape error (wrong type, unknown or
/// missing field) a 422, a body over the limit a 413.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ApiError::rule(
                "content-type",
                "the body must be sent as Content-Type: application/json",
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

/// Parses JSON, telling syntax errors (400) from shape errors (422) and saying where.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::rule("invalid-body", format!("body: {e}")),
            _ => ApiError::BadRequest(format!("body is not valid JSON: {e}")),
        }
    })
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

/// Turns any error response that is not yet a problem document (a timeout, a 405 from the
/// router, a limit layer's 413) into one, so that clients meet one error format.
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
    let kind = status
        .canonical_reason()
        .unwrap_or("error")
        .to_lowercase()
        .replace(' ', "-");
    let mut out = crate::error::problem(status, &kind, detail).into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}
