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
        .and_then(bearer);
    Ok(custodian_app::tokens::authorize(&state.app, presented, allowed).await?)
}

/// The token of an `Authorization: Bearer …` value. The scheme is case-insensitive (RFC 9110
/// §11.1: "It uses a case-insensitive token to identify the authentication scheme"; RFC 6750
/// §2.1), and one or more spaces may follow it.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim_start_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn the_scheme_is_case_insensitive() {
        for v in ["Bearer t0k", "bearer t0k", "BEARER t0k", "bEaReR  t0k"] {
            assert_eq!(bearer(v), Some("t0k"), "{v}");
        }
        for v in ["Basic t0k", "Bearer", "Bearer ", "Bearert0k", "t0k"] {
            assert_eq!(bearer(v), None, "{v}");
        }
    }
}
