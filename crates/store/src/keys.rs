//! Per-subject data keys, stored only wrapped by the master key (which the store never sees).
//! Deleting a subject's row is what makes its sealed fields unreadable everywhere.

use std::collections::HashMap;

use crate::{Arg, Batch, Result, Store, Tx};

/// A wrapped subject key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub subject_ref: String,
    pub wrapped: String,
    /// Fingerprint of the master key that wrapped it.
    pub master_id: String,
    pub created_at: i64,
}

/// `subject_ref, wrapped, master_id, created_at`.
type Row = (String, String, String, i64);

fn key_row((subject_ref, wrapped, master_id, created_at): Row) -> KeyRow {
    KeyRow {
        subject_ref,
        wrapped,
        master_id,
        created_at,
    }
}

const COLUMNS: &str = "subject_ref, wrapped, master_id, created_at";

/// The dialect's statements for keys (see `sqlite/keys.rs`, `postgres/keys.rs`).
#[derive(Debug)]
pub(crate) struct KeySql {
    /// Inserts keys `(subject_ref, wrapped, master_id, created_at)` unless their subject has one.
    pub insert: Batch,
    /// The standing keys of the subjects `(subject_ref)`.
    pub standing: Batch,
}

/// Stores each key unless its subject has one, inside the caller's transaction, and answers
/// the key that stands for each subject. One insert and one read per batch (per chunk of
/// rows on SQLite), not per key: each statement is a round trip. Shared by the key writer
/// and request intake.
pub(crate) async fn put_keys(tx: &mut Tx, keys: &[&KeyRow]) -> Result<HashMap<String, KeyRow>> {
    let sql = tx.dialect().keys;
    let refs: Vec<&str> = keys.iter().map(|k| k.subject_ref.as_str()).collect();
    let columns = [
        Arg::Texts(refs.clone()),
        Arg::Texts(keys.iter().map(|k| k.wrapped.as_str()).collect()),
        Arg::Texts(keys.iter().map(|k| k.master_id.as_str()).collect()),
        Arg::I64s(keys.iter().map(|k| k.created_at).collect()),
    ];
    tx.execute_batch(&sql.insert, &[], &columns).await?;
    let rows: Vec<Row> = tx
        .fetch_batch(&sql.standing, &[], &[Arg::Texts(refs)])
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.0.clone(), key_row(r)))
        .collect())
}

impl Store {
    /// Stores a subject's wrapped key unless it already has one, and answers the key that
    /// stands (the caller's, or the one another node stored first).
    pub async fn put_subject_key(&self, k: &KeyRow) -> Result<KeyRow> {
        self.execute(
            "INSERT INTO subject_keys (subject_ref, wrapped, master_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[(&k.subject_ref).into(), (&k.wrapped).into(), (&k.master_id).into(), k.created_at.into()],
        )
        .await?;
        Ok(self
            .subject_key(&k.subject_ref)
            .await?
            .unwrap_or_else(|| k.clone()))
    }

    /// [`Store::put_subject_key`] for many keys in one transaction (one commit for a batch of
    /// new subjects); answers the standing key of each, in order.
    pub async fn put_subject_keys(&self, keys: &[KeyRow]) -> Result<Vec<KeyRow>> {
        let mut tx = self.begin().await?;
        let all: Vec<&KeyRow> = keys.iter().collect();
        let standing = put_keys(&mut tx, &all).await?;
        tx.commit().await?;
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
        let row: Option<Row> = self
            .fetch_optional(
                &format!("SELECT {COLUMNS} FROM subject_keys WHERE subject_ref = $1"),
                &[subject_ref.into()],
            )
            .await?;
        Ok(row.map(key_row))
    }

    /// The keys of many subjects at once (a page of a notice's recipients): one statement.
    pub async fn subject_keys_of(&self, subject_refs: &[&str]) -> Result<Vec<KeyRow>> {
        if subject_refs.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (1..=subject_refs.len()).map(|i| format!("${i}")).collect();
        let args: Vec<Arg<'_>> = subject_refs.iter().map(|s| (*s).into()).collect();
        let rows: Vec<Row> = self
            .fetch_all(
                &format!(
                    "SELECT {COLUMNS} FROM subject_keys WHERE subject_ref IN ({})",
                    list.join(", ")
                ),
                &args,
            )
            .await?;
        Ok(rows.into_iter().map(key_row).collect())
    }

    /// Destroys a subject's key (erasure). Answers whether there was one.
    pub async fn delete_subject_key(&self, subject_ref: &str) -> Result<bool> {
        let n = self
            .execute(
                "DELETE FROM subject_keys WHERE subject_ref = $1",
                &[subject_ref.into()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Keys not wrapped by `master_id`, a page at a time (rotation).
    pub async fn keys_not_wrapped_by(&self, master_id: &str, limit: i64) -> Result<Vec<KeyRow>> {
        let rows: Vec<Row> = self
            .fetch_all(
                &format!("SELECT {COLUMNS} FROM subject_keys WHERE master_id <> $1 ORDER BY subject_ref LIMIT $2"),
                &[master_id.into(), limit.into()],
            )
            .await?;
        Ok(rows.into_iter().map(key_row).collect())
    }

    /// Replaces a wrapped key if it is still wrapped by `old_master` (rotation).
    pub async fn rewrap_subject_key(
        &self,
        subject_ref: &str,
        old_master: &str,
        wrapped: &str,
        new_master: &str,
    ) -> Result<bool> {
        let n = self
            .execute(
                "UPDATE subject_keys SET wrapped = $1, master_id = $2 WHERE subject_ref = $3 AND master_id = $4",
                &[wrapped.into(), new_master.into(), subject_ref.into(), old_master.into()],
            )
            .await?;
        Ok(n == 1)
    }

    pub async fn subject_key_count(&self) -> Result<i64> {
        let (n,): (i64,) = self
            .fetch_one("SELECT COUNT(*) FROM subject_keys", &[])
            .await?;
        Ok(n)
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
        self.execute(
            "INSERT INTO subject_identities (subject_ref, kind, sealed, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (subject_ref, kind) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
            &[subject_ref.into(), kind.into(), sealed.into(), at.into()],
        )
        .await?;
        Ok(())
    }

    /// A subject's identifiers as `(kind, sealed)`, by kind.
    pub async fn subject_identities(&self, subject_ref: &str) -> Result<Vec<(String, String)>> {
        self.fetch_all(
            "SELECT kind, sealed FROM subject_identities WHERE subject_ref = $1 ORDER BY kind",
            &[subject_ref.into()],
        )
        .await
    }

    pub async fn delete_subject_identities(&self, subject_ref: &str) -> Result<u64> {
        self.execute(
            "DELETE FROM subject_identities WHERE subject_ref = $1",
            &[subject_ref.into()],
        )
        .await
    }
}
