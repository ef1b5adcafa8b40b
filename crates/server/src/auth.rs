//! Bearer-token checks for service, DPO and admin routes.
//!
//! Tokens are checked on the hot path (`/v1/decide`), so verified tokens are cached in memory
//! for a short time; a token created with the CLI while the server runs is found on first
//! use, and a revoked one stops working within [`CACHE_TTL`].

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use custodian_core::token::{self, Role};
use custodian_store::Store;

use crate::error::ApiError;

pub const CACHE_TTL: Duration = Duration::from_secs(30);

/// Who called, once their token is verified.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: std::sync::Arc<str>,
    pub role: Role,
}

#[derive(Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<String, (Caller, Instant)>>,
}

impl TokenCache {
    /// Checks the `Authorization: Bearer` header and that the token's role is one of `allowed`.
    /// Admin tokens may call every route.
    pub async fn authorize(
        &self,
        store: &Store,
        headers: &HeaderMap,
        allowed: &[Role],
    ) -> Result<Caller, ApiError> {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or(ApiError::Unauthorized)?;
        // The cache is keyed by the presented token itself, so a hit costs one map lookup and
        // no hashing; only a miss hashes it to find the stored record.
        let caller = match self.cached(presented) {
            Some(c) => c,
            None => {
                let rec = store
                    .find_token(&token::hash(presented))
                    .await?
                    .ok_or(ApiError::Unauthorized)?;
                let caller = Caller {
                    token_id: rec.id.into(),
                    role: rec.role,
                };
                let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
                if map.len() > 10_000 {
                    map.clear();
                }
                map.insert(presented.to_owned(), (caller.clone(), Instant::now()));
                caller
            }
        };
        if caller.role == Role::Admin || allowed.contains(&caller.role) {
            Ok(caller)
        } else {
            Err(ApiError::Forbidden)
        }
    }

    fn cached(&self, token: &str) -> Option<Caller> {
        let map = self.entries.read().unwrap_or_else(|e| e.into_inner());
        map.get(token)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(c, _)| c.clone())
    }
}
