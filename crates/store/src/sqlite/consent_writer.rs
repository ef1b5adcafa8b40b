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
//! force, the heads moved, one commit — `synchronous = FULL`, so nothing is answered before it
//! is durable. One difference: the writer leaves the current state to folds of the ledger's
//! tail (`consent/fold.rs`) — its own, from memory in slices of [`FOLD_SLICE`] keys, when the
//! tail reaches [`FOLD_AT`] events or the queue has been quiet a moment (`writer.rs`); a
//! reader's, in SQL, whenever it needs the state — and knows the choice in force for what it
//! appended since from that memory ([`Appender`]'s `tail`, `state_tail.rs`).

use std::path::Path;
use std::time::Duration;

use custodian_core::ledger::ConsentEvent;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::consent::one_row;
use super::known_subjects::KnownSubjects;
use super::state_tail::{Key, Tail};
use super::wal_buffer;
use crate::consent::append::{link, priors, Dated};
use crate::consent::fold;
use crate::consent::NewEvent;

/// The tail, in events, at which the writer folds it into the current state. A fold pays per
/// leaf page of the state it changes, so it pays off only when it brings many events to each
/// leaf: the ninth sitting's fold of one second's events gained nothing (docs/benchmarks.md).
/// What it bounds: the writer's memory of the tail (`state_tail.rs`, about 150 bytes a subject
/// and purpose), one fold's pause of the appends, and what a start or a reader folds after a
/// crash.
pub(crate) const FOLD_AT: usize = 131_072;

/// Subjects and purposes written per transaction of a fold: appends go on between slices. A
/// fold of 131,072 in one transaction held the write lock for 0.4–0.6 s under load, so one
/// consent in a hundred waited that long (docs/benchmarks.md, eleventh sitting).
const FOLD_SLICE: usize = 8_192;

/// A fold under way: the keys it writes, in the state's order, and how far it got.
struct Folding {
    keys: Vec<Key>,
    next: usize,
    /// The last event when it began: the mark it moves to once every key is written.
    through: i64,
}

/// A connection that appends consent batches.
pub(crate) struct Appender {
    conn: Connection,
    /// What this writer appended past the mark, as the next fold will leave it.
    tail: Tail,
    /// `(mark, last event)` as this writer's last commit left them; `None` until checked. When
    /// the database shows otherwise — another process appended, or a reader folded — the writer
    /// folds, and its memory of the tail starts empty again.
    left: Option<(i64, i64)>,
    folding: Option<Folding>,
    /// Which subjects the stored state may hold: a subject it certainly does not hold needs
    /// no lookup for the choice in force before its event (`known_subjects.rs`).
    known: KnownSubjects,
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
        let known = KnownSubjects::load(&conn)?;
        Ok(Appender {
            conn,
            tail: Tail::default(),
            left: None,
            folding: None,
            known,
        })
    }

    /// Whether anything appended is not yet in the current state.
    pub(crate) fn has_tail(&self) -> bool {
        !self.tail.is_empty() || self.folding.is_some()
    }

    /// Whether a fold is under way.
    pub(crate) fn folding(&self) -> bool {
        self.folding.is_some()
    }

    /// Whether the tail is long enough to begin a fold.
    pub(crate) fn fold_due(&self) -> bool {
        self.folding.is_none() && self.tail.events() >= FOLD_AT
    }

    /// One step of folding the ledger's tail into the current state, in a transaction of its
    /// own: the next slice of a fold from this writer's memory (begun here if none is under
    /// way) when the database is as its last commit left it, else the whole tail in SQL.
    pub(crate) fn fold_step(&mut self) -> rusqlite::Result<()> {
        let started = std::time::Instant::now();
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let stepped = match self.mark_and_last() {
            Ok(now) if self.left == Some(now) => self.fold_slice(now),
            Ok(_) => self.fold_in_transaction().map(|()| true),
            Err(e) => Err(e),
        }
        .and_then(|done| self.conn.execute_batch("COMMIT").map(|()| done));
        let done = match stepped {
            Ok(done) => done,
            Err(e) => {
                self.failed()?;
                return Err(e);
            }
        };
        // A fold ended: its keys are in the state, and the mark is where it began.
        if let Some(f) = self.folding.take_if(|_| done) {
            self.tail.finish_fold();
            self.left = self.left.map(|(_, last)| (f.through, last));
        }
        tracing::debug!(
            done,
            millis = started.elapsed().as_millis() as u64,
            "folded a slice of the consent ledger's tail"
        );
        Ok(())
    }

    /// Writes the next slice of the fold from memory (beginning it at `now`), and moves the
    /// mark after the last; answers whether the fold is done. Each key is written as the tail
    /// has it when its slice is, which may be newer than the fold's start: the state is then
    /// ahead of the mark for that key, and a fold of the tail in SQL from the mark ends at the
    /// same choice (the newest stands).
    fn fold_slice(&mut self, now: (i64, i64)) -> rusqlite::Result<bool> {
        let f = self.folding.get_or_insert_with(|| Folding {
            keys: self.tail.begin_fold(),
            next: 0,
            through: now.1,
        });
        let end = (f.next + FOLD_SLICE).min(f.keys.len());
        {
            let mut upsert = self.conn.prepare_cached(one_row::STATE)?;
            for key in &f.keys[f.next..end] {
                let Some(row) = self.tail.row(key) else {
                    continue;
                };
                upsert.execute(params![
                    row.subject_ref,
                    row.purpose,
                    row.given,
                    row.event_id,
                    row.source.as_str(),
                    row.policy_version,
                    row.notice_hash,
                    row.updated_at,
                ])?;
            }
        }
        f.next = end;
        if end < f.keys.len() {
            return Ok(false);
        }
        self.conn
            .prepare_cached(fold::SET_MARK)?
            .execute(params![f.through])?;
        Ok(true)
    }

    /// The fold in SQL inside the caller's transaction (`fold.rs`), whoever wrote the tail;
    /// the writer's memory of it goes.
    fn fold_in_transaction(&mut self) -> rusqlite::Result<()> {
        self.conn.execute_batch(super::consent::FOLD)?;
        self.moved_mark()
    }

    /// Moves the mark past the last event and starts the memory of the tail afresh (a fold
    /// under way is dropped: the SQL fold wrote all of it).
    fn moved_mark(&mut self) -> rusqlite::Result<()> {
        self.conn.execute_batch(fold::MOVE_MARK)?;
        let last = self.mark_and_last()?.1;
        self.tail.clear();
        self.folding = None;
        self.left = Some((last, last));
        Ok(())
    }

    fn mark_and_last(&self) -> rusqlite::Result<(i64, i64)> {
        self.conn
            .prepare_cached(fold::MARK_AND_LAST)?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
    }

    /// Appends `batch` in one transaction and answers each event at its place, in order.
    /// On any failure nothing of the batch is kept and the connection is out of the
    /// transaction, whether SQLite rolled it back itself (`OR ROLLBACK`, a full disk, an I/O
    /// error) or not.
    pub(crate) fn append(&mut self, batch: &[NewEvent]) -> rusqlite::Result<Vec<ConsentEvent>> {
        let appended = self.append_in_transaction(batch);
        if appended.is_err() {
            self.failed()?;
        }
        appended
    }

    /// After a failed append or fold: what this writer remembers of the tail may now be wrong,
    /// so the next append checks it against the database; and the connection leaves the
    /// transaction, whether SQLite rolled it back itself or not.
    fn failed(&mut self) -> rusqlite::Result<()> {
        self.left = None;
        self.folding = None;
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("ROLLBACK")?;
        }
        Ok(())
    }

    fn append_in_transaction(&mut self, batch: &[NewEvent]) -> rusqlite::Result<Vec<ConsentEvent>> {
        // Immediate: reading the heads and writing after them cannot interleave with another
        // process's append (the CLI's import, another node on the same file).
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let now = self.mark_and_last()?;
        // Before any lookup: the subjects of whatever another process appended.
        self.known.take_in_appended(&self.conn, now.1)?;
        if self.left != Some(now) {
            // Someone else moved the ledger or the state: this writer's memory of the tail no
            // longer covers it. Fold it all; from here the memory is whole again.
            self.fold_in_transaction()?;
        }
        let mark = self.left.map_or(now.0, |(mark, _)| mark);
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
        let keys: Vec<_> = stored.iter().map(|e| self.tail.key(e)).collect();
        let before = self.stored_states(&stored, &hex, &keys)?;
        let prior = priors(&stored, &hex, &before);
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
        let last = self.conn.last_insert_rowid();
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
        // Committed: the tail now holds the batch.
        for ((e, key), before) in stored.iter().zip(keys).zip(before) {
            self.tail.record(key, e, before);
        }
        self.known
            .take_in_own(stored.iter().map(|e| &e.subject), last);
        self.left = Some((mark, last));
        Ok(stored)
    }

    /// The choice in force for each event's subject and purpose before the batch (for its
    /// `prior_given`): from this writer's memory of the tail where it appended to the key
    /// since the mark, else the stored state, which the tail does not touch — looked up only
    /// for a subject the state may hold.
    fn stored_states(
        &self,
        events: &[ConsentEvent],
        hex: &[String],
        keys: &[Key],
    ) -> rusqlite::Result<Vec<Option<Dated>>> {
        let mut read = self.conn.prepare_cached(one_row::STORED_STATE)?;
        events
            .iter()
            .zip(hex)
            .zip(keys)
            .map(|((e, subject), key)| match self.tail.in_force(key) {
                Some(dated) => Ok(Some(dated)),
                None if !self.known.may_hold(&e.subject) => Ok(None),
                None => read
                    .query_row(params![subject, e.purpose], |r| {
                        Ok::<Dated, _>((r.get(0)?, r.get(1)?))
                    })
                    .optional(),
            })
            .collect()
    }
}
