//! SQLite's consent appends on the group-commit writer's own thread and connection, through
//! SQLite's C interface in process rather than through the pool's driver.
//!
//! Why not sqlx here: its SQLite connection is a thread of its own that takes each statement
//! as a message and answers on a channel, so a batch (begin, heads, events, state, heads,
//! commit) was six hand-offs between two threads, each waking the other. Under load that
//! waking — futex calls and context switches on both sides — cost more of a consent write
//! than SQLite's B-tree work (issue 17, `perf record`; docs/benchmarks.md). Here the writer
//! thread is the one that calls SQLite: a batch is one wake-up, whatever its size, and each
//! row is one step of a statement prepared once.
//!
//! The same tables, statements and order as the pool's append (`consent/append.rs`): the
//! heads read under the write lock, events linked after them with the choice each found in
//! force, the newest state per subject and purpose, the heads moved, one commit —
//! `synchronous = FULL`, so nothing is answered before it is durable.

use std::path::Path;
use std::time::Duration;

use custodian_core::ledger::ConsentEvent;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::consent::one_row;
use super::wal_buffer;
use crate::consent::append::{latest_states, link, priors, Dated};
use crate::consent::NewEvent;

/// A connection that appends consent batches.
pub(crate) struct Appender {
    conn: Connection,
}

impl Appender {
    /// Opens the database file `path` (which the pool has created and migrated) with the
    /// pool's durability settings and the group-commit writers' larger cache and WAL.
    pub(crate) fn open(path: &Path) -> rusqlite::Result<Appender> {
        // The page cache layer goes in before the VFS's registration initialises SQLite, where
        // no pool has connected yet (`page_cache.rs`).
        super::page_cache::install();
        // Through the VFS that writes a commit's WAL frames in a few large writes rather than
        // two per frame (`wal_buffer.rs`); it relies on `synchronous = FULL`, set below.
        wal_buffer::register()
            .map_err(|rc| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rc), None))?;
        let conn = Connection::open_with_flags_and_vfs(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            wal_buffer::NAME,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // FULL: a consent answered 201 must survive power loss, not just a crash. The rest as
        // `Store::for_one_writer` gives the other group-commit writers.
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -8192; \
             PRAGMA wal_autocheckpoint = 10000; PRAGMA temp_store = memory;",
        )?;
        Ok(Appender { conn })
    }

    /// Appends `batch` in one transaction and answers each event at its place, in order.
    /// On any failure nothing of the batch is kept and the connection is out of the
    /// transaction, whether SQLite rolled it back itself (`OR ROLLBACK`, a full disk, an I/O
    /// error) or not.
    pub(crate) fn append(&mut self, batch: &[NewEvent]) -> rusqlite::Result<Vec<ConsentEvent>> {
        let appended = self.append_in_transaction(batch);
        if appended.is_err() && !self.conn.is_autocommit() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        appended
    }

    fn append_in_transaction(&mut self, batch: &[NewEvent]) -> rusqlite::Result<Vec<ConsentEvent>> {
        // Immediate: reading the heads and writing after them cannot interleave with another
        // process's append (the CLI's import, another node on the same file).
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let heads = self
            .conn
            .prepare_cached(one_row::HEADS)?
            .query_map([], |r| {
                Ok((
                    r.get::<_, u16>(0)?,
                    (r.get::<_, i64>(1)?, r.get::<_, String>(2)?),
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let (stored, new_heads) = link(batch, heads);
        let hex: Vec<String> = stored.iter().map(|e| e.subject.to_hex()).collect();
        let prior = priors(&stored, &hex, &self.stored_states(&stored, &hex)?);
        {
            let mut insert = self.conn.prepare_cached(one_row::EVENT)?;
            for ((e, subject), prior) in stored.iter().zip(&hex).zip(prior) {
                insert.execute(params![
                    e.id,
                    subject,
                    e.purpose,
                    e.given,
                    e.source.as_str(),
                    e.policy_version,
                    e.notice_hash,
                    e.ip_truncated,
                    e.receipt_id,
                    e.created_at,
                    e.link.chain,
                    e.link.seq,
                    e.link.prev_hash,
                    e.link.hash,
                    prior,
                ])?;
            }
        }
        {
            let mut upsert = self.conn.prepare_cached(one_row::STATE)?;
            for (e, subject) in latest_states(&stored, &hex) {
                upsert.execute(params![
                    subject,
                    e.purpose,
                    e.given,
                    e.id,
                    e.source.as_str(),
                    e.policy_version,
                    e.notice_hash,
                    e.created_at,
                ])?;
            }
        }
        {
            // Only the chains this batch moved.
            let mut set = self.conn.prepare_cached(one_row::HEAD)?;
            let mut moved: Vec<u16> = stored.iter().map(|e| e.link.chain).collect();
            moved.sort_unstable();
            moved.dedup();
            for chain in moved {
                let (seq, hash) = &new_heads[&chain];
                set.execute(params![chain, seq, hash])?;
            }
        }
        self.conn.execute_batch("COMMIT")?;
        Ok(stored)
    }

    /// The stored choice of each event's subject and purpose before the batch (for its
    /// `prior_given`): one lookup of the key the state's upsert writes next, in the same pages.
    fn stored_states(
        &self,
        events: &[ConsentEvent],
        hex: &[String],
    ) -> rusqlite::Result<Vec<Option<Dated>>> {
        let mut read = self.conn.prepare_cached(one_row::STORED_STATE)?;
        events
            .iter()
            .zip(hex)
            .map(|(e, subject)| {
                read.query_row(params![subject, e.purpose], |r| {
                    Ok::<Dated, _>((r.get(0)?, r.get(1)?))
                })
                .optional()
            })
            .collect()
    }
}
