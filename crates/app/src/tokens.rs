//! Token authorisation: is this bearer token one of ours, and may its role do this?
//!
//! Tokens are checked on the hot path (`/v1/decide`), so verified tokens are cached in memory
//! for a short time; a token created with the CLI while the server runs is found on first
//! use. A revocation is announced with the commit (`custodian_store::changes`): every node on
//! the database forgets its verified tokens when it hears it (`wake`), and at the latest a
//! revoked token stops working within [`CACHE_TTL_MICROS`] of the context's clock (a node
//! that missed the notice while its listener reconnected forgets them all once it is back).

use std::collections::HashMap;
use std::sync::RwLock;

use custodian_core::token::{self, Role};
use custodian_store::tokens::TokenRecord;

use crate::context::Context;
use crate::error::AppError;

/// How long a verified token is trusted without asking the store again.
pub const CACHE_TTL_MICROS: i64 = 30_000_000;

/// Who called, once their token is verified.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: std::sync::Arc<str>,
    pub role: Role,
}

#[derive(Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<String, (Caller, i64)>>,
}

/// Checks a presented bearer token (`None` when the caller sent none) and that its role is
/// one of `allowed`. Admin tokens may do everything.
pub async fn authorize(
    ctx: &Context,
    presented: Option<&str>,
    allowed: &[Role],
) -> Result<Caller, AppError> {
    let presented = presented
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or(AppError::Unauthenticated)?;
    let now = ctx.clock.now_micros();
    // The cache is keyed by the presented token itself, so a hit costs one map lookup and
    // no hashing; only a miss hashes it to find the stored record.
    let caller = match ctx.tokens.cached(presented, now) {
        Some(c) => c,
        None => {
            let rec = ctx
                .store
                .find_token(&token::hash(presented))
                .await?
                .ok_or(AppError::Unauthenticated)?;
            let caller = Caller {
                token_id: rec.id.into(),
                role: rec.role,
            };
            ctx.tokens.remember(presented, caller.clone(), now);
            caller
        }
    };
    if caller.role == Role::Admin || allowed.contains(&caller.role) {
        Ok(caller)
    } else {
        Err(AppError::Forbidden)
    }
}

/// Every API token, without its secret, oldest first.
pub async fn list(ctx: &Context) -> Result<Vec<TokenRecord>, AppError> {
    Ok(ctx.store.list_tokens().await?)
}

/// Makes a new token named `name` with `role`: answers its record and the secret, which is
/// shown once and stored only as its hash.
pub async fn create(
    ctx: &Context,
    name: &str,
    role: Role,
) -> Result<(TokenRecord, String), AppError> {
    let secret = token::generate();
    let rec = ctx
        .store
        .insert_token(name, role, &token::hash(&secret))
        .await?;
    Ok((rec, secret))
}

/// Revokes the token `id`; answers whether it was live. This node stops trusting it at once,
/// other nodes when the revocation's notice reaches them (`wake`).
pub async fn revoke(ctx: &Context, id: &str) -> Result<bool, AppError> {
    let revoked = ctx.store.revoke_token(id).await?;
    ctx.tokens.forget_all();
    Ok(revoked)
}

impl TokenCache {
    /// Forgets every verified token, so the next use of each asks the store again.
    pub(crate) fn forget_all(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn cached(&self, token: &str, now: i64) -> Option<Caller> {
        let map = self.entries.read().unwrap_or_else(|e| e.into_inner());
        map.get(token)
            .filter(|(_, at)| (0..CACHE_TTL_MICROS).contains(&(now - at)))
            .map(|(c, _)| c.clone())
    }

    fn remember(&self, token: &str, caller: Caller, now: i64) {
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(token.to_owned(), (caller, now));
    }
}
