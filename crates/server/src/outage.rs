//! What a node answers while PostgreSQL is down or restarting: `503 Service Unavailable` with
//! `Retry-After`, within the store's acquire timeout — never a hang, never a bare 500.
//!
//! A store error that plainly says so (no connection to be had, the server shutting down) is
//! `AppError::Unavailable` already. Other paths carry a failure as text (the group-commit
//! writers, the connectors); so a 500 is looked at once more: if the store found the database
//! unreachable in the last few seconds, or does not answer a ping right now, the failure was
//! the outage and the caller is told to come back. Only 500s pay for the look.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::SharedState;

/// Seconds a caller is asked to wait before trying again (a PostgreSQL restart takes a few).
pub const RETRY_AFTER_SECONDS: u32 = 2;
/// How long the second look at the store may take.
const PING_WITHIN: Duration = Duration::from_secs(1);

/// A 500 turned into 503 when the store is down; `Retry-After` on every 503.
pub async fn mark(state: &SharedState, res: Response) -> Response {
    let res = if res.status() == StatusCode::INTERNAL_SERVER_ERROR {
        let up = !state.app.store_down_lately()
            && tokio::time::timeout(PING_WITHIN, state.app.ready())
                .await
                .is_ok_and(|r| r.is_ok());
        if up {
            res
        } else {
            ApiError::Unavailable.into_response()
        }
    } else {
        res
    };
    with_retry_after(res)
}

/// Adds `Retry-After` to a 503 that has none.
pub fn with_retry_after(mut res: Response) -> Response {
    if res.status() == StatusCode::SERVICE_UNAVAILABLE
        && !res.headers().contains_key(header::RETRY_AFTER)
    {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    res
}

/// The router's layer: [`mark`] on every answer.
pub async fn layer(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    mark(&state, res).await
}
