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
        .and_then(bearer_token);
    Ok(custodian_app::tokens::authorize(&state.app, presented, allowed).await?)
}

/// The token of an `Authorization: Bearer <token>` value. The scheme's name is
/// case-insensitive (RFC 9110 §11.1), so `BEARER` and `bEaReR` are as good as `Bearer`.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_scheme_is_case_insensitive() {
        for v in [
            "Bearer cst_x",
            "bearer cst_x",
            "BEARER cst_x",
            "bEaReR  cst_x",
        ] {
            assert_eq!(bearer_token(v), Some("cst_x"), "{v}");
        }
        for v in ["Basic cst_x", "Bearercst_x", "cst_x", "Bearer"] {
            assert_eq!(bearer_token(v), None, "{v}");
        }
    }
}
