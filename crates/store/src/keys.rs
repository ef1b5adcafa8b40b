//! Per-subject data keys, stored only wrapped by the master key (which the store never sees).
//! Deleting a subject's row is what makes its sealed fields unreadable everywhere.

use crate::numbered as pg;
use crate::retention::on_backend;
use std::collections::HashMap;

use crate::{multi_row, Result, Store};

/// A wrapped subject key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub subject_ref: String,
    pub wrapped: String,
    /// Fingerprint of the master key that wrapped it.
    pub master_id: String,
    pub created_at: i64,
}

/// Stores each key unless its subject has one, inside the caller's SQLite transaction, and
/// answers the key that stands for each subject. One insert and one read per chunk of keys,
/// not per key: each statement is a round trip to SQLite's worker thread. Shared by the key
/// writer and request intake.
pub(crate) async fn sqlite_put_keys(
    conn: &mut sqlx::SqliteConnection,
    keys: &[&KeyRow],
) -> Result<HashMap<String, KeyRow>> {
    const HEAD: &str =
        "INSERT INTO subject_keys (subject_ref, wrapped, master_id, created_at) VALUES ";
    const STANDING: &str =
        "SELECT subject_ref, wrapped, master_id, created_at FROM subject_keys WHERE subject_ref IN (";
    let mut standing = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(crate::ROWS_PER_STATEMENT) {
        let sql = multi_row(
            HEAD,
            "(?, ?, ?, ?)",
            chunk.len(),
            " ON CONFLICT DO NOTHING",
            false,
        );
        let mut q = sqlx::query(&sql);
        for k in chunk {
            q = q
                .bind(&k.subject_ref)
                .bind(&k.wrapped)
                .bind(&k.master_id)
                .bind(k.created_at);
        }
        q.execute(&mut *conn).await?;
        let sql = multi_row(STANDING, "?", chunk.len(), ")", false);
        let mut q = sqlx::query_as::<_, (String, String, String, i64)>(&sql);
        for k in chunk {
            q = q.bind(&k.subject_ref);
        }
        for (subject_ref, wrapped, master_id, created_at) in q.fetch_all(&mut *conn).await? {
            let row = KeyRow {
                subject_ref: subject_ref.clone(),
                wrapped,
                master_id,
                created_at,
            };
            standing.insert(subject_ref, row);
        }
    }
    Ok(standing)
}

impl Store {
    /// Stores a subject's wrapped key unless it already has one, and answers the key that
    /// stands (the caller's, or the one another node stored first).
    pub async fn put_subject_key(&self, k: &KeyRow) -> Result<KeyRow> {
        const Q: &str = "INSERT INTO subject_keys (subject_ref, wrapped, master_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING";
        on_backend!(
            self,
            Q,
            |q| q
                .bind(&k.subject_ref)
                .bind(&k.wrapped)
                .bind(&k.master_id)
                .bind(k.created_at),
            execute
        );
        Ok(self
            .subject_key(&k.subject_ref)
            .await?
            .unwrap_or_else(|| k.clone()))
    }

    /// [`Store::put_subject_key`] for many keys in one transaction (one commit for a batch of
    /// new subjects); answers the standing key of each, in order.
    pub async fn put_subject_keys(&self, keys: &[KeyRow]) -> Result<Vec<KeyRow>> {
        let standing = match self {
            Store::Sqlite(p) => {
                let mut tx = p.begin().await?;
                let all: Vec<&KeyRow> = keys.iter().collect();
                let standing = sqlite_put_keys(&mut tx, &all).await?;
                tx.commit().await?;
                standing
            }
            // One fixed statement each way whatever the batch size (prepared and planned once).
            Store::Postgres(p) => {
                let refs: Vec<&str> = keys.iter().map(|k| k.subject_ref.as_str()).collect();
                let mut tx = p.begin().await?;
                sqlx::query("INSERT INTO subject_keys (subject_ref, wrapped, master_id, created_at) SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[]) ON CONFLICT DO NOTHING")
                    .bind(&refs)
                    .bind(keys.iter().map(|k| k.wrapped.as_str()).collect::<Vec<_>>())
                    .bind(keys.iter().map(|k| k.master_id.as_str()).collect::<Vec<_>>())
                    .bind(keys.iter().map(|k| k.created_at).collect::<Vec<_>>())
                    .execute(&mut *tx)
                    .await?;
                let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
                    "SELECT subject_ref, wrapped, master_id, created_at FROM subject_keys WHERE subject_ref = ANY($1)",
                )
                .bind(&refs)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter()
                    .map(|(subject_ref, wrapped, master_id, created_at)| {
                        let row = KeyRow {
                            subject_ref: subject_ref.clone(),
                            wrapped,
                            master_id,
                            created_at,
                        };
                        (subject_ref, row)
                    })
                    .collect::<std::collections::HashMap<_, _>>()
            }
        };
        // Every key was inserted or already stood, inside the transaction: each is found.
        keys.iter()
            .map(|k| {
                standing
                    .get(&k.subject_ref)
                    .cloned()
                    .ok_or_else(|| sqlx::Error::RowNotFound.into())
            })
            .collect()
    }

    pub async fn subject_key(&self, subject_ref: &str) -> Result<Option<KeyRow>> {
        const Q: &str =
            "SELECT subject_ref, wrapped, master_id, created_at FROM subject_keys WHERE subject_ref = ?";
        let row: Option<(String, String, String, i64)> = match self {
            Store::Sqlite(p) => {
                sqlx::query_as(Q)
                    .bind(subject_ref)
                    .fetch_optional(p)
                    .await?
            }
            Store::Postgres(p) => {
                sqlx::query_as(&pg(Q))
                    .bind(subject_ref)
                    .fetch_optional(p)
                    .await?
            }
        };
        Ok(
            row.map(|(subject_ref, wrapped, master_id, created_at)| KeyRow {
                subject_ref,
                wrapped,
                master_id,
                created_at,
            }),
        )
    }

    /// Destroys a subject's key (erasure). Answers whether there was one.
    pub async fn delete_subject_key(&self, subject_ref: &str) -> Result<bool> {
        const Q: &str = "DELETE FROM subject_keys WHERE subject_ref = ?";
        let r = on_backend!(self, Q, |q| q.bind(subject_ref), execute);
        Ok(r == 1)
    }

    /// Keys not wrapped by `master_id`, a page at a time (rotation).
    pub async fn keys_not_wrapped_by(&self, master_id: &str, limit: i64) -> Result<Vec<KeyRow>> {
        const Q: &str = "SELECT subject_ref, wrapped, master_id, created_at FROM subject_keys WHERE master_id <> ? ORDER BY subject_ref LIMIT ?";
        let rows: Vec<(String, String, String, i64)> = match self {
            Store::Sqlite(p) => {
                sqlx::query_as(Q)
                    .bind(master_id)
                    .bind(limit)
                    .fetch_all(p)
                    .await?
            }
            Store::Postgres(p) => {
                sqlx::query_as(&pg(Q))
                    .bind(master_id)
                    .bind(limit)
                    .fetch_all(p)
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(subject_ref, wrapped, master_id, created_at)| KeyRow {
                subject_ref,
                wrapped,
                master_id,
                created_at,
            })
            .collect())
    }

    /// Replaces a wrapped key if it is still wrapped by `old_master` (rotation).
    pub async fn rewrap_subject_key(
        &self,
        subject_ref: &str,
        old_master: &str,
        wrapped: &str,
        new_master: &str,
    ) -> Result<bool> {
        const Q: &str = "UPDATE subject_keys SET wrapped = ?, master_id = ? WHERE subject_ref = ? AND master_id = ?";
        let r = on_backend!(
            self,
            Q,
            |q| q
                .bind(wrapped)
                .bind(new_master)
                .bind(subject_ref)
                .bind(old_master),
            execute
        );
        Ok(r == 1)
    }

    pub async fn subject_key_count(&self) -> Result<i64> {
        const Q: &str = "SELECT COUNT(*) FROM subject_keys";
        Ok(match self {
            Store::Sqlite(p) => sqlx::query_scalar(Q).fetch_one(p).await?,
            Store::Postgres(p) => sqlx::query_scalar(Q).fetch_one(p).await?,
        })
    }

    /// Keeps a subject's identifier (sealed by the caller under the subject's key), replacing
    /// the one of the same kind.
    pub async fn put_subject_identity(
        &self,
        subject_ref: &str,
        kind: &str,
        sealed: &str,
        at: i64,
    ) -> Result<()> {
        const Q: &str = "INSERT INTO subject_identities (subject_ref, kind, sealed, updated_at) VALUES (?, ?, ?, ?) \
                         ON CONFLICT (subject_ref, kind) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at";
        on_backend!(
            self,
            Q,
            |q| q.bind(subject_ref).bind(kind).bind(sealed).bind(at),
            execute
        );
        Ok(())
    }

    /// A subject's identifiers as `(kind, sealed)`, by kind.
    pub async fn subject_identities(&self, subject_ref: &str) -> Result<Vec<(String, String)>> {
        const Q: &str =
            "SELECT kind, sealed FROM subject_identities WHERE subject_ref = ? ORDER BY kind";
        Ok(match self {
            Store::Sqlite(p) => sqlx::query_as(Q).bind(subject_ref).fetch_all(p).await?,
            Store::Postgres(p) => {
                sqlx::query_as(&pg(Q))
                    .bind(subject_ref)
                    .fetch_all(p)
                    .await?
            }
        })
    }

    pub async fn delete_subject_identities(&self, subject_ref: &str) -> Result<u64> {
        const Q: &str = "DELETE FROM subject_identities WHERE subject_ref = ?";
        Ok(on_backend!(self, Q, |q| q.bind(subject_ref), execute))
    }
}
