//! The one place where failures become HTTP answers: RFC 9457 `application/problem+json`.
//!
//! Every handler returns [`ApiError`]; a use case's `AppError` becomes one here (and only
//! here). Each variant has a stable `code` (documented in
//! docs/api.md), a status and a title. Internal errors are logged with their detail and
//! answered as a bare 500, so nothing about the database or the code leaks to a client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A problem document (RFC 9457).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type; documented in docs/api.md.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `unknown_purpose`.
    pub code: &'static str,
    /// Extra members, such as the ids the server knows.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub extra: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("{detail}")]
    Unprocessable {
        code: &'static str,
        detail: String,
        extra: Option<serde_json::Value>,
    },
    #[error("{detail}")]
    Gone { code: &'static str, detail: String },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("{detail}")]
    TooManyRequests {
        code: &'static str,
        detail: String,
        /// Sent as `Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3).
        retry_after_seconds: u64,
    },
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("this token's role may not call this route")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body did not arrive within the server's body read timeout (`listen`).
    #[error("{0}")]
    RequestTimeout(String),
    #[error("unsupported media type: send application/json")]
    UnsupportedMediaType,
    /// A route that takes another media type than JSON (the policy file is TOML).
    #[error("unsupported media type: send {0}")]
    UnsupportedMediaTypeOf(&'static str),
    #[error("the store is not available")]
    Unavailable,
    /// Any internal failure; its text is logged, never sent.
    #[error("{0}")]
    Internal(String),
}

/// The one mapping from what a use case failed with to its problem: the kind picks the
/// status, the code stays the use case's.
impl From<custodian_app::AppError> for ApiError {
    fn from(e: custodian_app::AppError) -> Self {
        use custodian_app::AppError as E;
        match e {
            E::Malformed { code, detail } => ApiError::BadRequest { code, detail },
            E::Invalid {
                code,
                detail,
                extra,
            } => ApiError::Unprocessable {
                code,
                detail,
                extra,
            },
            E::Unauthenticated => ApiError::Unauthorized,
            E::Forbidden => ApiError::Forbidden,
            E::NotFound => ApiError::NotFound,
            E::Conflict { code, detail } => ApiError::Conflict { code, detail },
            E::Gone { code, detail } => ApiError::Gone { code, detail },
            E::RateLimited {
                code,
                detail,
                retry_after_seconds,
            } => ApiError::TooManyRequests {
                code,
                detail,
                retry_after_seconds,
            },
            E::Unavailable => ApiError::Unavailable,
            E::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

impl From<custodian_store::StoreError> for ApiError {
    fn from(e: custodian_store::StoreError) -> Self {
        if e.is_unavailable() {
            ApiError::Unavailable
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl ApiError {
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            code,
            detail: detail.into(),
            extra: None,
        }
    }

    /// The answer's status.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code, "Bad request"),
            ApiError::Unprocessable { code, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "Unprocessable request",
            ),
            ApiError::Gone { code, .. } => (StatusCode::GONE, code, "Gone"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code, "Conflict"),
            ApiError::TooManyRequests { code, .. } => {
                (StatusCode::TOO_MANY_REQUESTS, code, "Too many requests")
            }
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            ApiError::PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
            ),
            ApiError::RequestTimeout(_) => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "Request timeout",
            ),
            ApiError::UnsupportedMediaType | ApiError::UnsupportedMediaTypeOf(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }
}

/// The base of problem type URIs; each code's section in docs/api.md.
pub const PROBLEM_BASE: &str = "https://custodian.dev/problems/";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        let detail = match &self {
            ApiError::Internal(inner) => {
                tracing::error!(error = %inner, "internal error");
                "an internal error occurred; it has been logged".to_owned()
            }
            other => other.to_string(),
        };
        let retry_after = match &self {
            ApiError::TooManyRequests {
                retry_after_seconds,
                ..
            } => Some(*retry_after_seconds),
            _ => None,
        };
        let extra = match self {
            ApiError::Unprocessable { extra, .. } => extra,
            _ => None,
        };
        let problem = Problem {
            type_: format!("{PROBLEM_BASE}{code}"),
            title,
            status: status.as_u16(),
            detail,
            code,
            extra,
        };
        let mut res = (status, axum::Json(problem)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        crate::outage::with_retry_after(res)
    }
}
