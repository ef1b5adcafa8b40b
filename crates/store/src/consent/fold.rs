//! SQLite's current consent state, folded from the ledger instead of written in every commit.
//!
//! Why: `consent_state` is keyed by subject, so each consent commit that wrote it dirtied one
//! more randomly placed page — on SQLite, a third of a durable write's cost, paid again by the
//! WAL checksum, the copies, writeback and the checkpoint (issue 17, docs/benchmarks.md, tenth
//! and eleventh sittings). The consent writer now appends events only, and the state is brought
//! up to date in large folds: the events after a mark (`consent_state_mark`, migration 0023),
//! the newest per subject and purpose, upserted in key order — many events per leaf page
//! instead of one page per event.
//!
//! What keeps it exact: the state is always the fold of the events up to the mark, and every
//! reader or changer of the state folds the tail first (`Store::settle_consent_state`, or
//! [`fold_in`] inside the changer's own transaction: an erasure, a retention purge, an append
//! through the pool). So a reader sees every committed event, and an erasure can never be
//! undone by an older event folded after it. The fold applies the same rule as the per-commit
//! upsert did — the newest choice stands, of two at the same time the later written — so the
//! state is what it would have been. PostgreSQL writes its state in each append's one
//! statement and has no tail: there all of this is a no-op.

use crate::{Result, Store, Tx};

/// Moves the mark past the last event: after a fold, or after an append that wrote its own
/// state on a folded tail.
pub(crate) const MOVE_MARK: &str =
    "UPDATE consent_state_mark SET gseq = COALESCE((SELECT MAX(gseq) FROM consent_events), 0)";

/// Sets the mark (`?1`): the end of a fold from the writer's memory, which covers the events up
/// to where it began.
pub(crate) const SET_MARK: &str = "UPDATE consent_state_mark SET gseq = ?1";

/// The mark, and the last event written.
pub(crate) const MARK_AND_LAST: &str =
    "SELECT gseq, COALESCE((SELECT MAX(gseq) FROM consent_events), 0) FROM consent_state_mark";

impl Store {
    /// Folds whatever the ledger holds past the mark into the current state, so that a read of
    /// `consent_state` sees every committed event (SQLite; on PostgreSQL the state is always
    /// whole and this does nothing). Every reader of the state in this crate calls it first;
    /// a tool reading the table itself should too. Without a tail it is one read, no write.
    pub async fn settle_consent_state(&self) -> Result<()> {
        if self.dialect.consent.fold_tail.is_empty() {
            return Ok(());
        }
        let (mark, last): (i64, i64) = self.fetch_one(MARK_AND_LAST, &[]).await?;
        if last <= mark {
            return Ok(());
        }
        let mut tx = self.begin_immediate().await?;
        fold_in(&mut tx).await?;
        tx.commit().await?;
        tracing::debug!(
            events = last - mark,
            "folded the consent ledger's tail for a reader"
        );
        Ok(())
    }
}

/// Folds the tail inside `tx`, which holds the write lock (SQLite; nothing on PostgreSQL): for
/// a change of the state that must start from all of it — an erasure, a purge, an append that
/// reads the state it writes.
pub(crate) async fn fold_in(tx: &mut Tx) -> Result<()> {
    for statement in tx.dialect().consent.fold_tail {
        tx.execute(statement, &[]).await?;
    }
    Ok(())
}
