//! The audit trail: appending an administrative act to its one hash chain, reading entries
//! back with filters, and verifying the whole chain (streamed, so memory stays flat).
//!
//! An append reads the head, links the new entry to it and moves the head, in one
//! transaction that holds the head's lock throughout: `BEGIN IMMEDIATE` on SQLite (one writer
//! at a time), `SELECT … FOR UPDATE` on the head row on PostgreSQL, so appends from several
//! nodes queue on that row and the trail stays one chain. Hashing is `custodian_core::audit`.

use custodian_core::audit::{self, Break, EntryContent, Stored, Verifier};
use futures_util::TryStreamExt;
use serde::Serialize;

use crate::{Arg, Result, Store};

/// The statement that reads (and on PostgreSQL locks) the head.
#[derive(Debug)]
pub(crate) struct AuditSql {
    pub head: &'static str,
}

/// One entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub id: String,
    /// Microseconds since the Unix epoch.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub detail: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

type EntryRow = (
    i64,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
);

fn entry((seq, id, at, actor, action, object, detail, prev_hash, hash): EntryRow) -> AuditEntry {
    AuditEntry {
        seq,
        id,
        at,
        actor,
        action,
        object,
        detail,
        prev_hash,
        hash,
    }
}

const COLUMNS: &str = "seq, id, at, actor, action, object, detail, prev_hash, hash";

/// Which entries to read: each filter is optional; entries come oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Entries at or after this time (microseconds).
    pub since: Option<i64>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Entries after this sequence number (paging).
    pub after: Option<i64>,
    pub limit: i64,
}

/// The result of walking the whole trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub entries_checked: u64,
    /// The last entry's number and hash (0 and the genesis hash for an empty trail): note
    /// them somewhere else, and a later verification proves nothing before them changed.
    pub head_seq: i64,
    pub head_hash: String,
    /// The first break found, naming its entry; verification stops there.
    pub first_break: Option<String>,
}

impl AuditReport {
    pub fn ok(&self) -> bool {
        self.first_break.is_none()
    }
}

impl Store {
    /// Appends one entry at the end of the chain, stamped with the store's clock and a new
    /// id, and answers it once committed.
    pub async fn append_audit(
        &self,
        actor: &str,
        action: &str,
        object: &str,
        detail: Option<&str>,
    ) -> Result<AuditEntry> {
        let mut tx = self.begin_immediate().await?;
        let (head_seq, head_hash): (i64, String) =
            tx.fetch_one(tx.dialect().audit.head, &[]).await?;
        // Time and id are taken under the lock, so on one node entries are in time order.
        let (id, at) = (self.ids().next("aud"), self.now());
        let seq = head_seq + 1;
        let content = EntryContent {
            id: &id,
            at,
            actor,
            action,
            object,
            detail,
        };
        let hash = audit::entry_hash(&content, seq, &head_hash);
        tx.execute(
            "INSERT INTO audit_log (seq, id, at, actor, action, object, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[seq.into(), (&id).into(), at.into(), actor.into(), action.into(), object.into(), detail.into(), (&head_hash).into(), (&hash).into()],
        )
        .await?;
        tx.execute(
            "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
            &[seq.into(), (&hash).into()],
        )
        .await?;
        tx.commit().await?;
        Ok(AuditEntry {
            seq,
            id,
            at,
            actor: actor.to_owned(),
            action: action.to_owned(),
            object: object.to_owned(),
            detail: detail.map(str::to_owned),
            prev_hash: head_hash,
            hash,
        })
    }

    /// The entries `filter` selects, oldest first.
    pub async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1");
        let mut args: Vec<Arg<'_>> = Vec::new();
        let conditions = [
            ("at >=", filter.since.map(Arg::I64)),
            ("seq >", filter.after.map(Arg::I64)),
            ("actor =", filter.actor.as_deref().map(Arg::Text)),
            ("action =", filter.action.as_deref().map(Arg::Text)),
        ];
        for (test, arg) in conditions {
            if let Some(arg) = arg {
                args.push(arg);
                sql.push_str(&format!(" AND {test} ${}", args.len()));
            }
        }
        args.push(Arg::I64(filter.limit.clamp(1, 1000)));
        sql.push_str(&format!(" ORDER BY seq LIMIT ${}", args.len()));
        Ok(self
            .fetch_all::<EntryRow>(&sql, &args)
            .await?
            .into_iter()
            .map(entry)
            .collect())
    }

    /// The stored head: the last entry's number and hash.
    pub async fn audit_head(&self) -> Result<(i64, String)> {
        self.fetch_one("SELECT seq, hash FROM audit_head WHERE id = 1", &[])
            .await
    }

    /// Walks the whole trail in sequence order and compares its end with the head.
    pub async fn verify_audit(&self) -> Result<AuditReport> {
        let mut v = Verifier::default();
        let mut report = AuditReport {
            entries_checked: 0,
            head_seq: 0,
            head_hash: audit::GENESIS.to_owned(),
            first_break: None,
        };
        let head: Option<(i64, String)> = self
            .fetch_optional("SELECT seq, hash FROM audit_head WHERE id = 1", &[])
            .await?;
        let sql = format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq");
        let mut rows = self.fetch_stream::<EntryRow>(&sql, Vec::new());
        while let Some(row) = rows.try_next().await? {
            let e = entry(row);
            let stored = Stored {
                seq: e.seq,
                content: EntryContent {
                    id: &e.id,
                    at: e.at,
                    actor: &e.actor,
                    action: &e.action,
                    object: &e.object,
                    detail: e.detail.as_deref(),
                },
                prev_hash: &e.prev_hash,
                hash: &e.hash,
            };
            if let Err(b) = v.push(&stored) {
                report.entries_checked = v.checked;
                report.first_break = Some(b.to_string());
                return Ok(report);
            }
        }
        report.entries_checked = v.checked;
        let (seq, hash) = v.head();
        (report.head_seq, report.head_hash) = (seq, hash.to_owned());
        let verdict = match head {
            Some((s, h)) => v.finish(s, &h).err(),
            None => Some(Break::Head {
                head_seq: -1,
                last: seq,
            }),
        };
        report.first_break = verdict.map(|b| match b {
            Break::Head { head_seq: -1, .. } => {
                "audit trail: the head row is missing (deleted)".to_owned()
            }
            b => b.to_string(),
        });
        Ok(report)
    }
}
