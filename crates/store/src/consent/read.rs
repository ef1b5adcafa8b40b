//! Reading the ledger back: the current state, events (streamed where there may be many),
//! chain heads, what changed since a node last looked, and checkpoints.

use custodian_core::ledger::{self, ConsentEvent};
use custodian_core::subject::SubjectRef;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use super::{
    event, source, Checkpoint, ConsentChange, CurrentChoice, EventRow, StateRow, EVENT_COLUMNS,
};
use crate::{Arg, Result, Store, StoreError};

/// `subject_ref, purpose, given, event_id, source, policy_version, notice_hash, updated_at`.
type StateTuple = (
    String,
    String,
    bool,
    String,
    String,
    String,
    Option<String>,
    i64,
);

/// `subject_ref, purpose, given, source, policy_version, notice_hash, updated_at`.
type ChoiceTuple = (String, String, bool, String, String, Option<String>, i64);

fn current_choice(r: ChoiceTuple) -> Result<CurrentChoice> {
    Ok(CurrentChoice {
        source: source(&r.3, "a current consent choice")?,
        subject_ref: r.0,
        purpose: r.1,
        given: r.2,
        policy_version: r.4,
        notice_hash: r.5,
        updated_at: r.6,
    })
}

/// Notes a forgetting (`consent_forgotten`, migration 0021): the subject and when.
pub(crate) const FORGOTTEN: &str =
    "INSERT INTO consent_forgotten (subject_ref, at) VALUES ($1, $2)";

impl Store {
    /// The current choices of one subject.
    pub async fn consent_state_of(&self, subject: &SubjectRef) -> Result<Vec<StateRow>> {
        self.settle_consent_state().await?;
        let hex = subject.to_hex();
        let rows: Vec<StateTuple> = self
            .fetch_all(
                "SELECT subject_ref, purpose, given, event_id, source, policy_version, notice_hash, updated_at FROM consent_state WHERE subject_ref = $1 ORDER BY purpose",
                &[(&hex).into()],
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StateRow {
                    source: source(&r.4, &format!("the consent state of event {}", r.3))?,
                    subject_ref: r.0,
                    purpose: r.1,
                    given: r.2,
                    event_id: r.3,
                    policy_version: r.5,
                    notice_hash: r.6,
                    updated_at: r.7,
                })
            })
            .collect()
    }

    /// Every current choice, streamed, to fill the in-memory state at start.
    pub fn all_consent_state(&self) -> BoxStream<'_, Result<(String, String, bool)>> {
        self.settled_stream("SELECT subject_ref, purpose, given FROM consent_state")
    }

    /// Every current choice with its facts, streamed, to fill the in-memory state at start.
    pub fn all_consent_choices(&self) -> BoxStream<'_, Result<CurrentChoice>> {
        self.settled_stream::<ChoiceTuple>(
            "SELECT subject_ref, purpose, given, source, policy_version, notice_hash, updated_at FROM consent_state",
        )
        .map(|r| r.and_then(current_choice))
        .boxed()
    }

    /// The rows of `sql`, a read of the whole current state, streamed once the ledger's tail
    /// is folded into it (`fold.rs`).
    fn settled_stream<T: crate::FromRows + Send + 'static>(
        &self,
        sql: &'static str,
    ) -> BoxStream<'_, Result<T>> {
        futures_util::stream::once(self.settle_consent_state())
            .flat_map(move |settled| match settled {
                Ok(()) => self.fetch_stream(sql, Vec::new()),
                Err(e) => futures_util::stream::once(async { Err(e) }).boxed(),
            })
            .boxed()
    }

    /// Removes a subject's current consent state (erasure), noting it among the forgettings
    /// in the same transaction so memory elsewhere forgets it too. The ledger's events stay:
    /// they hold only the keyed reference and are the proof of what was consented to.
    pub async fn delete_consent_state(&self, subject_ref: &str) -> Result<u64> {
        let now = self.now();
        // Immediate, and the tail folded first: an event past the mark, folded after the
        // delete, would bring the erased choice back.
        let mut tx = self.begin_immediate().await?;
        super::fold::fold_in(&mut tx).await?;
        let n = tx
            .execute(
                "DELETE FROM consent_state WHERE subject_ref = $1",
                &[subject_ref.into()],
            )
            .await?;
        tx.execute(FORGOTTEN, &[subject_ref.into(), now.into()])
            .await?;
        // Other nodes wake and forget at once (PostgreSQL; after the commit).
        tx.announce(crate::changes::Topic::Consent).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The last forgetting's sequence (0 when none yet).
    pub async fn consent_forgotten_head(&self) -> Result<i64> {
        let (seq,): (i64,) = self
            .fetch_one("SELECT COALESCE(MAX(seq), 0) FROM consent_forgotten", &[])
            .await?;
        Ok(seq)
    }

    /// Forgettings after `after` (oldest first, at most `limit`): each one's sequence and
    /// subject, whose current choices the reader reloads from `consent_state`.
    pub async fn consent_forgotten_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>> {
        self.fetch_all(
            "SELECT seq, subject_ref FROM consent_forgotten WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[after.into(), limit.into()],
        )
        .await
    }

    /// The current choices of one subject, as memory holds them (after a forgetting).
    pub async fn current_choices_of(&self, subject_ref: &str) -> Result<Vec<CurrentChoice>> {
        self.settle_consent_state().await?;
        let rows: Vec<ChoiceTuple> = self
            .fetch_all(
                "SELECT subject_ref, purpose, given, source, policy_version, notice_hash, updated_at FROM consent_state WHERE subject_ref = $1",
                &[subject_ref.into()],
            )
            .await?;
        rows.into_iter().map(current_choice).collect()
    }

    /// The last sequence number of every chain (0 for a chain with no event yet).
    pub async fn ledger_head_seqs(&self) -> Result<Vec<(u16, i64)>> {
        let rows: Vec<(i32, i64)> = self
            .fetch_all("SELECT chain, seq FROM ledger_heads ORDER BY chain", &[])
            .await?;
        Ok(rows.into_iter().map(|(c, s)| (c as u16, s)).collect())
    }

    pub async fn ledger_heads(&self) -> Result<Vec<(u16, i64, String)>> {
        let rows: Vec<(i32, i64, String)> = self
            .fetch_all(
                "SELECT chain, seq, hash FROM ledger_heads ORDER BY chain",
                &[],
            )
            .await?;
        Ok(rows.into_iter().map(|(c, s, h)| (c as u16, s, h)).collect())
    }

    /// What changed on `chain` after `after_seq`: for each event there (oldest first, at most
    /// `limit`), its sequence number and the *current* choice of its subject and purpose — on
    /// SQLite, for an event not yet folded into the state, its own choice. A node catches up
    /// on writes made elsewhere (another node, `consent import`) by applying these in order,
    /// keeping the newest choice: an old event seen late never undoes a newer one, and an
    /// erased subject's events come back with no choice.
    pub async fn consent_changes(
        &self,
        chain: u16,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<ConsentChange>> {
        type Row = (
            i64,
            String,
            String,
            bool,
            String,
            String,
            Option<String>,
            i64,
        );
        // No fold first: the dialect's statement reads the tail itself (`sqlite/consent.rs`).
        let rows: Vec<Row> = self
            .fetch_all(
                self.dialect.consent.changes,
                &[(chain as i32).into(), after_seq.into(), limit.into()],
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ConsentChange {
                    seq: r.0,
                    choice: current_choice((r.1, r.2, r.3, r.4, r.5, r.6, r.7))?,
                })
            })
            .collect()
    }

    /// One chain's events in order, streamed so verification runs in constant memory.
    pub fn chain_events(&self, chain: u16) -> BoxStream<'_, Result<ConsentEvent>> {
        const Q: &str = "SELECT id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash FROM consent_events WHERE chain = $1 ORDER BY seq";
        self.fetch_stream::<EventRow>(Q, vec![Arg::I32(chain as i32)])
            .map(|r| r.and_then(event))
            .boxed()
    }

    /// Every event in the order it was written, for export.
    pub fn all_consent_events(&self) -> BoxStream<'_, Result<ConsentEvent>> {
        const Q: &str = "SELECT id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash FROM consent_events ORDER BY gseq";
        self.fetch_stream::<EventRow>(Q, Vec::new())
            .map(|r| r.and_then(event))
            .boxed()
    }

    /// Events of one receipt (to rebuild it).
    pub async fn receipt_events(&self, receipt_id: &str) -> Result<Vec<ConsentEvent>> {
        self.events_where("receipt_id = $1", &[receipt_id.into()])
            .await
    }

    /// All events of one subject, oldest first (access requests, the console's subject page).
    /// They are on the subject's own chain: on SQLite, which keeps no index by subject (a
    /// randomly placed page in every consent commit, migration 0022), this reads that chain's
    /// `(chain, seq)` key — a sixteenth of the ledger; PostgreSQL uses its subject index.
    pub async fn subject_events(&self, subject: &SubjectRef) -> Result<Vec<ConsentEvent>> {
        let chain = i32::from(ledger::chain_of(subject));
        self.events_where(
            "subject_ref = $1 AND chain = $2",
            &[subject.to_hex().as_str().into(), chain.into()],
        )
        .await
    }

    /// Events matching `condition` (over `args`), in the order written.
    async fn events_where(&self, condition: &str, args: &[Arg<'_>]) -> Result<Vec<ConsentEvent>> {
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM consent_events WHERE {condition} ORDER BY gseq");
        let rows: Vec<EventRow> = self.fetch_all(&sql, args).await?;
        rows.into_iter().map(event).collect()
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
        let (id,): (i64,) = self
            .fetch_one(
                "INSERT INTO ledger_checkpoints (created_at, heads, digest) VALUES ($1, $2, $3) RETURNING id",
                &[now.into(), (&json).into(), (&digest).into()],
            )
            .await?;
        Ok(Some(Checkpoint {
            id,
            created_at: now,
            heads,
            digest,
        }))
    }

    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let rows: Vec<(i64, i64, String, String)> = self
            .fetch_all(
                "SELECT id, created_at, heads, digest FROM ledger_checkpoints ORDER BY id",
                &[],
            )
            .await?;
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
}
