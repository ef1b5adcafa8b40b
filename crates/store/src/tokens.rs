//! API tokens: stored by hash, looked up by hash, revoked by id.

use custodian_core::token::Role;
use rand::RngCore;
use sqlx::Row;

use crate::{now_micros, Result, Store, StoreError};

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

fn new_id() -> String {
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("tok_{}", hex::encode(b))
}

fn record(
    id: String,
    name: String,
    role: String,
    created_at: i64,
    revoked_at: Option<i64>,
) -> Result<TokenRecord> {
    let role = Role::parse(&role)
        .ok_or_else(|| StoreError::Corrupt(format!("token {id} has role `{role}`")))?;
    Ok(TokenRecord {
        id,
        name,
        role,
        created_at,
        revoked_at,
    })
}

impl Store {
    /// Stores the hash of a new token and returns its record.
    pub async fn insert_token(
        &self,
        name: &str,
        role: Role,
        token_hash: &str,
    ) -> Result<TokenRecord> {
        let id = new_id();
        let now = now_micros();
        match self {
            Store::Sqlite(p) => {
                sqlx::query("INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)")
                    .bind(&id).bind(name).bind(role.as_str()).bind(token_hash).bind(now)
                    .execute(p).await?;
            }
            Store::Postgres(p) => {
                sqlx::query("INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&id).bind(name).bind(role.as_str()).bind(token_hash).bind(now)
                    .execute(p).await?;
            }
        }
        Ok(TokenRecord {
            id,
            name: name.to_owned(),
            role,
            created_at: now,
            revoked_at: None,
        })
    }

    /// The live (not revoked) token with this hash.
    pub async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        const Q: &str =
            "SELECT id, name, role, created_at, revoked_at FROM api_tokens WHERE token_hash = ";
        let row = match self {
            Store::Sqlite(p) => sqlx::query(&format!("{Q}? AND revoked_at IS NULL"))
                .bind(token_hash)
                .fetch_optional(p)
                .await?
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))),
            Store::Postgres(p) => sqlx::query(&format!("{Q}$1 AND revoked_at IS NULL"))
                .bind(token_hash)
                .fetch_optional(p)
                .await?
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))),
        };
        row.map(|(id, name, role, c, r)| record(id, name, role, c, r))
            .transpose()
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        const Q: &str =
            "SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY created_at, id";
        let rows: Vec<(String, String, String, i64, Option<i64>)> = match self {
            Store::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await?,
            Store::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await?,
        };
        rows.into_iter()
            .map(|(id, name, role, c, r)| record(id, name, role, c, r))
            .collect()
    }

    /// Revokes a token; answers whether a live token was revoked.
    pub async fn revoke_token(&self, id: &str) -> Result<bool> {
        let now = now_micros();
        let n = match self {
            Store::Sqlite(p) => sqlx::query(
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected(),
            Store::Postgres(p) => sqlx::query(
                "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected(),
        };
        Ok(n == 1)
    }
}
