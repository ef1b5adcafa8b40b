//! The consent ledger's tables: appending events to their chains, the derived current state,
//! checkpoints, links between devices and accounts, and policy versions.
//!
//! [`Store::append_consent`] is the only way events are written (`append.rs`). It runs one
//! transaction per batch: it locks the heads of the chains the batch touches (row locks on
//! PostgreSQL, the database write lock on SQLite), links each event to its chain's head,
//! inserts the events, updates the current state and the heads, and commits once. Reading
//! the ledger back — events, state, heads, checkpoints — is `read.rs`.

pub(crate) mod append;
pub(crate) mod fold;
pub(crate) use append::HeadCache;
pub(crate) mod read;

use custodian_core::consent::Source;
use custodian_core::ledger::{ConsentEvent, Link};
use custodian_core::subject::SubjectRef;

use crate::{Batch, Result, Store, StoreError};

pub use custodian_core::ledger::Unlinked;

/// An event to append: its place in a chain is decided by [`Store::append_consent`].
pub type NewEvent = ConsentEvent<Unlinked>;

/// The current choice of one subject for one purpose.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StateRow {
    pub subject_ref: String,
    pub purpose: String,
    pub given: bool,
    pub event_id: String,
    pub source: Source,
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

/// A current choice with what the consent read answers of it (the in-memory state's source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentChoice {
    pub subject_ref: String,
    pub purpose: String,
    pub given: bool,
    pub source: Source,
    pub policy_version: String,
    pub notice_hash: Option<String>,
    pub updated_at: i64,
}

/// See [`Store::consent_changes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentChange {
    pub seq: i64,
    pub choice: CurrentChoice,
}

/// The dialect's statements for appending (see `sqlite/consent.rs`, `postgres/consent.rs`).
#[derive(Debug)]
pub(crate) struct ConsentSql {
    /// The heads `(chain, seq, hash)` of (at least) the chains `(chain)`, locked until the
    /// commit.
    pub heads: Batch,
    /// The stored state `(subject_ref, purpose, given, updated_at)` of the keys
    /// `(subject_ref, purpose)`, to know each event's `prior_given`.
    pub stored_states: Batch,
    /// Inserts events, every column of `consent_events` but `gseq`, `prior_given` last.
    pub events: Batch,
    /// Upserts the current state `(subject_ref, purpose, given, event_id, source,
    /// policy_version, notice_hash, updated_at)`; the newest choice stands.
    pub state: Batch,
    /// Sets the heads `(chain, seq, hash)`.
    pub set_heads: Batch,
    /// Folds the ledger's tail into the current state (`fold.rs`); none where the state is
    /// written with every append (PostgreSQL).
    pub fold_tail: &'static [&'static str],
    /// After an append that wrote its own state on a folded tail: marks the state whole.
    pub mark_whole: &'static [&'static str],
    /// What changed on a chain (`$1`) after a sequence (`$2`), at most `$3`:
    /// `(seq, subject_ref, purpose, given, source, policy_version, notice_hash, updated_at)`
    /// ([`crate::Store::consent_changes`]).
    pub changes: &'static str,
}

/// Every column of an event, in [`EVENT_COLUMNS`] order.
type EventRow = (
    String,
    String,
    String,
    bool,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i32,
    i64,
    String,
    String,
);

const EVENT_COLUMNS: &str = "id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash";

/// The source of a stored row, which must be one Custodian writes.
fn source(s: &str, row: &str) -> Result<Source> {
    Source::parse(s).ok_or_else(|| StoreError::Corrupt(format!("{row} has source `{s}`")))
}

fn event(r: EventRow) -> Result<ConsentEvent> {
    let (id, subject_ref, purpose, given, src, policy_version, notice_hash, ip, receipt_id) =
        (r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8);
    let subject = SubjectRef::from_hex(&subject_ref).ok_or_else(|| {
        StoreError::Corrupt(format!("consent event {id} has subject `{subject_ref}`"))
    })?;
    Ok(ConsentEvent {
        source: source(&src, &format!("consent event {id}"))?,
        id,
        subject,
        purpose,
        given,
        policy_version,
        notice_hash,
        ip_truncated: ip,
        receipt_id,
        created_at: r.9,
        link: Link {
            chain: r.10 as u16,
            seq: r.11,
            prev_hash: r.12,
            hash: r.13,
        },
    })
}

impl Store {
    /// Remembers that a device belongs to an account. Idempotent. Both sides are noted as
    /// changed (`standing_changes`), so other nodes link them in memory too.
    pub async fn link_subjects(
        &self,
        device: &SubjectRef,
        account: &SubjectRef,
        now: i64,
    ) -> Result<()> {
        let (device, account) = (device.to_hex(), account.to_hex());
        let mut tx = self.begin().await?;
        let n = tx
            .execute(
                "INSERT INTO subject_links (device_ref, account_ref, linked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[(&device).into(), (&account).into(), now.into()],
            )
            .await?;
        if n == 1 {
            crate::standing::note_change(&mut tx, &device, now).await?;
            crate::standing::note_change(&mut tx, &account, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every (device, account) link, to fill memory at start.
    pub async fn all_links(&self) -> Result<Vec<(String, String)>> {
        self.fetch_all("SELECT device_ref, account_ref FROM subject_links", &[])
            .await
    }

    /// The subjects linked to one, either way (another node linked or erased it).
    pub async fn links_of(&self, subject_ref: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = self
            .fetch_all(
                "SELECT account_ref FROM subject_links WHERE device_ref = $1 \
                 UNION SELECT device_ref FROM subject_links WHERE account_ref = $1",
                &[subject_ref.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|(r,)| r).collect())
    }

    /// Removes links of a subject (erasure), noted as a change so other nodes forget them too.
    pub async fn delete_links(&self, subject_ref: &str) -> Result<u64> {
        let mut tx = self.begin().await?;
        let n = tx
            .execute(
                "DELETE FROM subject_links WHERE device_ref = $1 OR account_ref = $1",
                &[subject_ref.into()],
            )
            .await?;
        if n > 0 {
            crate::standing::note_change(&mut tx, subject_ref, self.now()).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Stores a policy version's document the first time it is seen. Answers whether it was new.
    pub async fn remember_policy_version(
        &self,
        version: &str,
        document: &str,
        now: i64,
    ) -> Result<bool> {
        let n = self
            .execute(
                "INSERT INTO policy_versions (version, document, first_seen) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[version.into(), document.into(), now.into()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Every known policy version with its document, oldest first.
    pub async fn policy_versions(&self) -> Result<Vec<(String, String)>> {
        self.fetch_all(
            "SELECT version, document FROM policy_versions ORDER BY first_seen, version",
            &[],
        )
        .await
    }
}
