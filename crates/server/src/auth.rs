//! Bearer tokens on service, DPO and admin routes: the header is read here, the token is
//! checked by the use case (`custodian_app::tokens`, with its short-lived cache).

use axum::http::{header, HeaderMap};
use custodian_app::tokens::Caller;
use custodian_core::token::Role;

use crate::error::ApiError;
use crate::state::AppState;

/// Checks the `Authorization: Bearer` header and that the token's role is one of `allowed`.
pub async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    allowed: &[Role],
) -> Result<Caller, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    Ok(custodian_app::tokens::authorize(&state.app, presented, allowed).await?)
}
