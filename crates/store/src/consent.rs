//! The consent ledger's tables: appending events to their chains, the derived current state,
//! checkpoints, links between devices and accounts, and policy versions.
//!
//! [`Store::append_consent`] is the only way events are written. It runs one transaction per
//! batch: it locks the heads of the chains the batch touches (row locks on PostgreSQL, the
//! database write lock on SQLite), links each event to its chain's head, inserts the events,
//! updates the current state and the heads, and commits once.

use std::collections::{BTreeMap, HashMap};

use custodian_core::ledger::{self, EventContent, StoredEvent};
use custodian_core::subject::SubjectRef;
use futures_util::stream::BoxStream;
use sqlx::Row;

use crate::Pool;
use crate::{multi_row, Result, Store, StoreError, ROWS_PER_STATEMENT};

/// An event to append. Its place in a chain is decided by [`Store::append_consent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub id: String,
    pub subject: SubjectRef,
    pub purpose: String,
    pub given: bool,
    pub source: String,
    pub policy_version: String,
    pub notice_hash: Option<String>,
    pub ip_truncated: Option<String>,
    pub receipt_id: String,
    pub created_at: i64,
}

/// Where an appended event landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub id: String,
    pub chain: u16,
    pub seq: i64,
    pub hash: String,
}

/// The current choice of one subject for one purpose.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StateRow {
    pub subject_ref: String,
    pub purpose: String,
    pub given: bool,
    pub event_id: String,
    pub source: String,
    pub policy_version: String,
    pub notice_hash: Option<String>,
    pub updated_at: i64,
}

/// A stored checkpoint of all chain heads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub id: i64,
    pub created_at: i64,
    pub heads: Vec<(u16, i64, String)>,
    pub digest: String,
}

/// A `SELECT` of every event column followed by `$tail`, as one static string.
macro_rules! select_events {
    ($tail:literal) => {
        concat!(
            "SELECT id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash FROM consent_events ",
            $tail
        )
    };
}

fn event_from_row<R: Row>(r: &R) -> StoredEvent
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i32: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    StoredEvent {
        id: r.get("id"),
        subject_ref: r.get("subject_ref"),
        purpose: r.get("purpose"),
        given: r.get("given"),
        source: r.get("source"),
        policy_version: r.get("policy_version"),
        notice_hash: r.get("notice_hash"),
        ip_truncated: r.get("ip_truncated"),
        receipt_id: r.get("receipt_id"),
        created_at: r.get("created_at"),
        chain: r.get::<i32, _>("chain") as u16,
        seq: r.get("seq"),
        prev_hash: r.get("prev_hash"),
        hash: r.get("hash"),
    }
}

fn state_from_row<R: Row>(r: &R) -> StateRow
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    StateRow {
        subject_ref: r.get("subject_ref"),
        purpose: r.get("purpose"),
        given: r.get("given"),
        event_id: r.get("event_id"),
        source: r.get("source"),
        policy_version: r.get("policy_version"),
        notice_hash: r.get("notice_hash"),
        updated_at: r.get("updated_at"),
    }
}

/// Links a batch to chain heads: returns the stored form of every event and the new heads.
fn link(
    batch: &[NewEvent],
    mut heads: HashMap<u16, (i64, String)>,
) -> (Vec<StoredEvent>, HashMap<u16, (i64, String)>) {
    let mut out = Vec::with_capacity(batch.len());
    for e in batch {
        let chain = ledger::chain_of(&e.subject);
        let (seq, prev) = heads
            .get(&chain)
            .cloned()
            .unwrap_or((0, ledger::GENESIS.to_owned()));
        let seq = seq + 1;
        let subject_ref = e.subject.to_hex();
        let content = EventContent {
            id: &e.id,
            subject_ref: &subject_ref,
            purpose: &e.purpose,
            given: e.given,
            source: &e.source,
            policy_version: &e.policy_version,
            notice_hash: e.notice_hash.as_deref(),
            ip_truncated: e.ip_truncated.as_deref(),
            receipt_id: &e.receipt_id,
            created_at: e.created_at,
        };
        let hash = ledger::event_hash(&content, chain, seq, &prev);
        heads.insert(chain, (seq, hash.clone()));
        out.push(StoredEvent {
            id: e.id.clone(),
            subject_ref,
            purpose: e.purpose.clone(),
            given: e.given,
            source: e.source.clone(),
            policy_version: e.policy_version.clone(),
            notice_hash: e.notice_hash.clone(),
            ip_truncated: e.ip_truncated.clone(),
            receipt_id: e.receipt_id.clone(),
            created_at: e.created_at,
            chain,
            seq,
            prev_hash: prev,
            hash,
        });
    }
    (out, heads)
}

/// See [`Store::consent_changes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentChange {
    pub seq: i64,
    pub subject_ref: String,
    pub purpose: String,
    pub given: bool,
}

/// The last event per (subject, purpose) of a batch: what the current-state table must hold.
fn latest_states(events: &[StoredEvent]) -> Vec<&StoredEvent> {
    let mut last: BTreeMap<(&str, &str), &StoredEvent> = BTreeMap::new();
    for e in events {
        let slot = last.entry((&e.subject_ref, &e.purpose)).or_insert(e);
        // The newest by time; of two at the same time, the later in the batch.
        if e.created_at >= slot.created_at {
            *slot = e;
        }
    }
    last.into_values().collect()
}

/// The SQLite half of [`Store::append_consent`], inside the caller's IMMEDIATE transaction.
async fn append_sqlite(
    conn: &mut sqlx::SqliteConnection,
    batch: &[NewEvent],
    chains: &[i32],
) -> Result<Vec<StoredEvent>> {
    let mut heads = HashMap::new();
    for r in sqlx::query("SELECT chain, seq, hash FROM ledger_heads")
        .fetch_all(&mut *conn)
        .await?
    {
        heads.insert(
            r.get::<i32, _>(0) as u16,
            (r.get::<i64, _>(1), r.get::<String, _>(2)),
        );
    }
    let (stored, new_heads) = link(batch, heads);
    // One statement per chunk of events (each statement is a round trip to SQLite's worker).
    for chunk in stored.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row(
            EVENTS_HEAD,
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            chunk.len(),
            "",
            false,
        );
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(&e.id)
                .bind(&e.subject_ref)
                .bind(&e.purpose)
                .bind(e.given)
                .bind(&e.source)
                .bind(&e.policy_version)
                .bind(&e.notice_hash)
                .bind(&e.ip_truncated)
                .bind(&e.receipt_id)
                .bind(e.created_at)
                .bind(e.chain as i32)
                .bind(e.seq)
                .bind(&e.prev_hash)
                .bind(&e.hash);
        }
        q.execute(&mut *conn).await?;
    }
    let latest = latest_states(&stored);
    for chunk in latest.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row(
            STATE_HEAD,
            "(?, ?, ?, ?, ?, ?, ?, ?)",
            chunk.len(),
            STATE_TAIL,
            false,
        );
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(&e.subject_ref)
                .bind(&e.purpose)
                .bind(e.given)
                .bind(&e.id)
                .bind(&e.source)
                .bind(&e.policy_version)
                .bind(&e.notice_hash)
                .bind(e.created_at);
        }
        q.execute(&mut *conn).await?;
    }
    // Every chain's new head in one statement (the rows exist: the migration made them).
    let sql = multi_row(
        "INSERT INTO ledger_heads (chain, seq, hash) VALUES ",
        "(?, ?, ?)",
        chains.len(),
        " ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        false,
    );
    let mut q = sqlx::query(&sql);
    for c in chains {
        let (seq, hash) = &new_heads[&(*c as u16)];
        q = q.bind(c).bind(seq).bind(hash);
    }
    q.execute(&mut *conn).await?;
    Ok(stored)
}

const EVENTS_HEAD: &str = "INSERT INTO consent_events (id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash) VALUES ";
const STATE_HEAD: &str = "INSERT INTO consent_state (subject_ref, purpose, given, event_id, source, policy_version, notice_hash, updated_at) VALUES ";
/// The newest choice stands: an event dated before the one in place (an import of old
/// opt-ins, say) joins the ledger but does not change the current choice.
const STATE_TAIL: &str = " ON CONFLICT (subject_ref, purpose) DO UPDATE SET given = excluded.given, event_id = excluded.event_id, source = excluded.source, policy_version = excluded.policy_version, notice_hash = excluded.notice_hash, updated_at = excluded.updated_at WHERE excluded.updated_at >= consent_state.updated_at";

impl Store {
    /// Appends a batch of events durably, in one transaction, and answers where each landed.
    /// Nothing is visible, and nothing should be acknowledged, before this returns `Ok`.
    pub async fn append_consent(&self, batch: &[NewEvent]) -> Result<Vec<Appended>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut chains: Vec<i32> = batch
            .iter()
            .map(|e| ledger::chain_of(&e.subject) as i32)
            .collect();
        chains.sort_unstable();
        chains.dedup();
        let stored = match &self.pool {
            Pool::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                // IMMEDIATE takes the write lock now, so reading the heads and writing after
                // them cannot interleave with another process's append.
                sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
                let result = append_sqlite(&mut conn, batch, &chains).await;
                match result {
                    Ok(stored) => {
                        sqlx::query("COMMIT").execute(&mut *conn).await?;
                        stored
                    }
                    Err(e) => {
                        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                        return Err(e);
                    }
                }
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // Lock only the chains this batch touches, in a fixed order (no deadlocks):
                // other nodes append to other chains at the same time.
                let mut heads = HashMap::new();
                for r in sqlx::query("SELECT chain, seq, hash FROM ledger_heads WHERE chain = ANY($1) ORDER BY chain FOR UPDATE")
                    .bind(&chains)
                    .fetch_all(&mut *tx)
                    .await?
                {
                    heads.insert(r.get::<i32, _>(0) as u16, (r.get::<i64, _>(1), r.get::<String, _>(2)));
                }
                let (stored, new_heads) = link(batch, heads);
                macro_rules! col {
                    ($f:expr) => {
                        stored.iter().map($f).collect::<Vec<_>>()
                    };
                }
                sqlx::query(
                    "INSERT INTO consent_events (id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash) \
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int8[], $11::int4[], $12::int8[], $13::text[], $14::text[])",
                )
                .bind(col!(|e| e.id.clone())).bind(col!(|e| e.subject_ref.clone())).bind(col!(|e| e.purpose.clone()))
                .bind(col!(|e| e.given)).bind(col!(|e| e.source.clone())).bind(col!(|e| e.policy_version.clone()))
                .bind(col!(|e| e.notice_hash.clone())).bind(col!(|e| e.ip_truncated.clone())).bind(col!(|e| e.receipt_id.clone()))
                .bind(col!(|e| e.created_at)).bind(col!(|e| e.chain as i32)).bind(col!(|e| e.seq))
                .bind(col!(|e| e.prev_hash.clone())).bind(col!(|e| e.hash.clone()))
                .execute(&mut *tx)
                .await?;
                let latest = latest_states(&stored);
                macro_rules! lcol {
                    ($f:expr) => {
                        latest.iter().map($f).collect::<Vec<_>>()
                    };
                }
                sqlx::query(
                    &("INSERT INTO consent_state (subject_ref, purpose, given, event_id, source, policy_version, notice_hash, updated_at) \
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::bool[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[])"
                        .to_owned() + STATE_TAIL),
                )
                .bind(lcol!(|e| e.subject_ref.clone())).bind(lcol!(|e| e.purpose.clone())).bind(lcol!(|e| e.given))
                .bind(lcol!(|e| e.id.clone())).bind(lcol!(|e| e.source.clone())).bind(lcol!(|e| e.policy_version.clone()))
                .bind(lcol!(|e| e.notice_hash.clone())).bind(lcol!(|e| e.created_at))
                .execute(&mut *tx)
                .await?;
                let seqs: Vec<i64> = chains.iter().map(|c| new_heads[&(*c as u16)].0).collect();
                let hashes: Vec<String> = chains
                    .iter()
                    .map(|c| new_heads[&(*c as u16)].1.clone())
                    .collect();
                sqlx::query("UPDATE ledger_heads h SET seq = u.seq, hash = u.hash FROM UNNEST($1::int4[], $2::int8[], $3::text[]) AS u(chain, seq, hash) WHERE h.chain = u.chain")
                    .bind(&chains).bind(&seqs).bind(&hashes)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                stored
            }
        };
        Ok(stored
            .into_iter()
            .map(|e| Appended {
                id: e.id,
                chain: e.chain,
                seq: e.seq,
                hash: e.hash,
            })
            .collect())
    }

    /// The current choices of one subject.
    pub async fn consent_state_of(&self, subject: &SubjectRef) -> Result<Vec<StateRow>> {
        const Q: &str = "SELECT subject_ref, purpose, given, event_id, source, policy_version, notice_hash, updated_at FROM consent_state WHERE subject_ref = ";
        let hex = subject.to_hex();
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query(&format!("{Q}? ORDER BY purpose"))
                .bind(hex)
                .fetch_all(p)
                .await?
                .iter()
                .map(state_from_row)
                .collect(),
            Pool::Postgres(p) => sqlx::query(&format!("{Q}$1 ORDER BY purpose"))
                .bind(hex)
                .fetch_all(p)
                .await?
                .iter()
                .map(state_from_row)
                .collect(),
        })
    }

    /// Every current choice, streamed, to fill the in-memory state at start.
    pub fn all_consent_state(&self) -> BoxStream<'_, Result<(String, String, bool)>> {
        use futures_util::StreamExt;
        const Q: &str = "SELECT subject_ref, purpose, given FROM consent_state";
        match &self.pool {
            Pool::Sqlite(p) => sqlx::query(Q)
                .fetch(p)
                .map(|r| Ok(r.map(|r| (r.get(0), r.get(1), r.get(2)))?))
                .boxed(),
            Pool::Postgres(p) => sqlx::query(Q)
                .fetch(p)
                .map(|r| Ok(r.map(|r| (r.get(0), r.get(1), r.get(2)))?))
                .boxed(),
        }
    }

    /// The last sequence number of every chain (0 for a chain with no event yet).
    pub async fn ledger_head_seqs(&self) -> Result<Vec<(u16, i64)>> {
        const Q: &str = "SELECT chain, seq FROM ledger_heads ORDER BY chain";
        let rows: Vec<(i32, i64)> = match &self.pool {
            Pool::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await?,
            Pool::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await?,
        };
        Ok(rows.into_iter().map(|(c, s)| (c as u16, s)).collect())
    }

    /// What changed on `chain` after `after_seq`: for each event there (oldest first, at most
    /// `limit`), its sequence number and the *current* choice of its subject and purpose. A
    /// node catches up on writes made elsewhere (another node, `consent import`) by applying
    /// these in order: the current choice, not the event's, so an old event seen late never
    /// undoes a newer one.
    pub async fn consent_changes(
        &self,
        chain: u16,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<ConsentChange>> {
        const Q: &str = "SELECT e.seq, s.subject_ref, s.purpose, s.given FROM consent_events e \
            JOIN consent_state s ON s.subject_ref = e.subject_ref AND s.purpose = e.purpose \
            WHERE e.chain = ? AND e.seq > ? ORDER BY e.seq LIMIT ?";
        let rows: Vec<(i64, String, String, bool)> = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_as(Q)
                    .bind(chain as i32)
                    .bind(after_seq)
                    .bind(limit)
                    .fetch_all(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_as(&crate::numbered(Q))
                    .bind(chain as i32)
                    .bind(after_seq)
                    .bind(limit)
                    .fetch_all(p)
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(seq, subject_ref, purpose, given)| ConsentChange {
                seq,
                subject_ref,
                purpose,
                given,
            })
            .collect())
    }

    /// One chain's events in order, streamed so verification runs in constant memory.
    pub fn chain_events(&self, chain: u16) -> BoxStream<'_, Result<StoredEvent>> {
        use futures_util::StreamExt;
        let chain = chain as i32;
        match &self.pool {
            Pool::Sqlite(p) => sqlx::query(select_events!("WHERE chain = ? ORDER BY seq"))
                .bind(chain)
                .fetch(p)
                .map(|r| Ok(event_from_row(&r?)))
                .boxed(),
            Pool::Postgres(p) => sqlx::query(select_events!("WHERE chain = $1 ORDER BY seq"))
                .bind(chain)
                .fetch(p)
                .map(|r| Ok(event_from_row(&r?)))
                .boxed(),
        }
    }

    /// Every event in the order it was written, for export.
    pub fn all_consent_events(&self) -> BoxStream<'_, Result<StoredEvent>> {
        use futures_util::StreamExt;
        const Q: &str = select_events!("ORDER BY gseq");
        match &self.pool {
            Pool::Sqlite(p) => sqlx::query(Q)
                .fetch(p)
                .map(|r| Ok(event_from_row(&r?)))
                .boxed(),
            Pool::Postgres(p) => sqlx::query(Q)
                .fetch(p)
                .map(|r| Ok(event_from_row(&r?)))
                .boxed(),
        }
    }

    /// Events of one receipt (to rebuild it).
    pub async fn receipt_events(&self, receipt_id: &str) -> Result<Vec<StoredEvent>> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query(select_events!("WHERE receipt_id = ? ORDER BY gseq"))
                .bind(receipt_id)
                .fetch_all(p)
                .await?
                .iter()
                .map(event_from_row)
                .collect(),
            Pool::Postgres(p) => {
                sqlx::query(select_events!("WHERE receipt_id = $1 ORDER BY gseq"))
                    .bind(receipt_id)
                    .fetch_all(p)
                    .await?
                    .iter()
                    .map(event_from_row)
                    .collect()
            }
        })
    }

    /// All events of one subject, oldest first (access requests, linking).
    pub async fn subject_events(&self, subject: &SubjectRef) -> Result<Vec<StoredEvent>> {
        let hex = subject.to_hex();
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query(select_events!("WHERE subject_ref = ? ORDER BY gseq"))
                .bind(hex)
                .fetch_all(p)
                .await?
                .iter()
                .map(event_from_row)
                .collect(),
            Pool::Postgres(p) => {
                sqlx::query(select_events!("WHERE subject_ref = $1 ORDER BY gseq"))
                    .bind(hex)
                    .fetch_all(p)
                    .await?
                    .iter()
                    .map(event_from_row)
                    .collect()
            }
        })
    }

    pub async fn ledger_heads(&self) -> Result<Vec<(u16, i64, String)>> {
        const Q: &str = "SELECT chain, seq, hash FROM ledger_heads ORDER BY chain";
        let rows: Vec<(i32, i64, String)> = match &self.pool {
            Pool::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await?,
            Pool::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await?,
        };
        Ok(rows.into_iter().map(|(c, s, h)| (c as u16, s, h)).collect())
    }

    /// Records the digest of all chain heads, unless nothing changed since the last one.
    /// Answers the new checkpoint, if one was written.
    pub async fn checkpoint(&self, now: i64) -> Result<Option<Checkpoint>> {
        let heads = self.ledger_heads().await?;
        let digest = ledger::heads_digest(&heads);
        if self
            .checkpoints()
            .await?
            .last()
            .is_some_and(|c| c.digest == digest)
        {
            return Ok(None);
        }
        let json = serde_json::to_string(&heads).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id: i64 = match &self.pool {
            Pool::Sqlite(p) => sqlx::query_scalar("INSERT INTO ledger_checkpoints (created_at, heads, digest) VALUES (?, ?, ?) RETURNING id")
                .bind(now).bind(&json).bind(&digest).fetch_one(p).await?,
            Pool::Postgres(p) => sqlx::query_scalar("INSERT INTO ledger_checkpoints (created_at, heads, digest) VALUES ($1, $2, $3) RETURNING id")
                .bind(now).bind(&json).bind(&digest).fetch_one(p).await?,
        };
        Ok(Some(Checkpoint {
            id,
            created_at: now,
            heads,
            digest,
        }))
    }

    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        const Q: &str = "SELECT id, created_at, heads, digest FROM ledger_checkpoints ORDER BY id";
        let rows: Vec<(i64, i64, String, String)> = match &self.pool {
            Pool::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await?,
            Pool::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await?,
        };
        rows.into_iter()
            .map(|(id, created_at, heads, digest)| {
                let heads = serde_json::from_str(&heads)
                    .map_err(|e| StoreError::Corrupt(format!("checkpoint {id}: {e}")))?;
                Ok(Checkpoint {
                    id,
                    created_at,
                    heads,
                    digest,
                })
            })
            .collect()
    }

    /// Remembers that a device belongs to an account. Idempotent.
    pub async fn link_subjects(
        &self,
        device: &SubjectRef,
        account: &SubjectRef,
        now: i64,
    ) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query("INSERT INTO subject_links (device_ref, account_ref, linked_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
                    .bind(device.to_hex()).bind(account.to_hex()).bind(now).execute(p).await?;
            }
            Pool::Postgres(p) => {
                sqlx::query("INSERT INTO subject_links (device_ref, account_ref, linked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(device.to_hex()).bind(account.to_hex()).bind(now).execute(p).await?;
            }
        }
        Ok(())
    }

    /// Every (device, account) link, to fill memory at start.
    pub async fn all_links(&self) -> Result<Vec<(String, String)>> {
        const Q: &str = "SELECT device_ref, account_ref FROM subject_links";
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await?,
            Pool::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await?,
        })
    }

    /// Stores a policy version's document the first time it is seen. Answers whether it was new.
    pub async fn remember_policy_version(
        &self,
        version: &str,
        document: &str,
        now: i64,
    ) -> Result<bool> {
        let n = match &self.pool {
            Pool::Sqlite(p) => sqlx::query("INSERT INTO policy_versions (version, document, first_seen) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
                .bind(version).bind(document).bind(now).execute(p).await?.rows_affected(),
            Pool::Postgres(p) => sqlx::query("INSERT INTO policy_versions (version, document, first_seen) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(version).bind(document).bind(now).execute(p).await?.rows_affected(),
        };
        Ok(n == 1)
    }

    /// Every known policy version with its document, oldest first.
    pub async fn policy_versions(&self) -> Result<Vec<(String, String)>> {
        const Q: &str =
            "SELECT version, document FROM policy_versions ORDER BY first_seen, version";
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await?,
            Pool::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await?,
        })
    }
}
