//! API tokens: stored by hash, looked up by hash, revoked by id.

use custodian_core::token::Role;

use crate::{Result, Store, StoreError};

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A token's row as stored (`id, name, role, created_at, revoked_at`), before its role is
/// checked.
type TokenRow = (String, String, String, i64, Option<i64>);

fn record((id, name, role, created_at, revoked_at): TokenRow) -> Result<TokenRecord> {
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
        let id = self.ids().next("tok");
        let now = self.now();
        self.execute(
            "INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[(&id).into(), name.into(), role.as_str().into(), token_hash.into(), now.into()],
        )
        .await?;
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
        self.fetch_optional::<TokenRow>(
            "SELECT id, name, role, created_at, revoked_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
            &[token_hash.into()],
        )
        .await?
        .map(record)
        .transpose()
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        self.fetch_all::<TokenRow>(
            "SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY created_at, id",
            &[],
        )
        .await?
        .into_iter()
        .map(record)
        .collect()
    }

    /// Revokes a token; answers whether a live token was revoked.
    pub async fn revoke_token(&self, id: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = tx
            .execute(
                "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                &[self.now().into(), id.into()],
            )
            .await?;
        // Every node forgets the tokens it trusted once this commits (`app::wake`).
        tx.announce(crate::changes::Topic::Tokens).await?;
        tx.commit().await?;
        Ok(n == 1)
    }
}
