//! Request extractors whose failures are problem documents instead of axum's plain text.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest body any JSON route accepts. Real requests are a few hundred bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON body, with failures mapped to 400/413/415/422 problems that say what is wrong and
/// where (serde's message carries the line and column). The body is parsed straight from its
/// bytes with `serde_json` (axum's `Json` also tracks the path to each field, which costs on
/// every request of the hot path).
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json")
                    || (m.starts_with("application/") && m.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge { limit: BODY_LIMIT }
                } else {
                    ApiError::bad_request("unreadable_body", e.body_text())
                }
            })?;
        serde_json::from_slice(&bytes)
            .map(Json)
            .map_err(|e| match e.classify() {
                serde_json::error::Category::Data => ApiError::unprocessable(
                    "invalid_body",
                    format!("the body does not match the expected shape: {e}"),
                ),
                _ => ApiError::bad_request(
                    "malformed_json",
                    format!("the body is not valid JSON: {e}"),
                ),
            })
    }
}
