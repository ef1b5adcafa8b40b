//! Keeping the standings in memory (`Context::standings`, and the subjects under the minimum
//! age) — what `/v1/decide` refuses because of a subject's own restriction, objections, closed
//! account or age — and the device links (`Context::device_links`, which carry a consent
//! write to every device of an account) in step with changes this node did not make: another
//! node on the same PostgreSQL database approved a restriction, linked a device, erased a
//! subject, a lifecycle event closed an account there.
//!
//! As for consent (`consent_sync`), the store already orders the changes: every one is noted
//! in `standing_changes` in the same transaction as the fact. A node remembers how far it has
//! read and, when another node's notice wakes it (`wake`) or at the latest once a second,
//! reads what came after and *recomputes* each subject it names from the facts
//! (`Store::standing_facts`, `Store::links_of`) — order-free and idempotent, so its own
//! changes read back do no harm. The decide path does no work for it.
//!
//! A sequence number is taken when a row is inserted, but becomes visible at commit: on
//! PostgreSQL a later number can be read before an earlier one. So the node reads from the
//! last number below which it has seen every one, skips those it has done, and gives up on a
//! missing number after [`GRACE`] (a transaction rolled back, never to be seen).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use custodian_core::subject::SubjectRef;
use custodian_store::standing::StandingFacts;
use custodian_store::{Store, StoreError};

use crate::context::Context;

/// How often a node reads the changes other nodes noted, when no notice woke it sooner
/// (`wake`).
pub const EVERY: Duration = Duration::from_secs(1);
/// Changes read per query.
const PAGE: i64 = 1_000;
/// How long a missing sequence number is waited for (microseconds).
pub const GRACE: i64 = 30_000_000;
/// How long a noted change is kept for nodes to read (housekeeping drops older ones).
pub const KEEP: i64 = 86_400_000_000;

#[derive(Debug, Default)]
struct Seen {
    /// Every change up to here is applied (or given up on).
    watermark: i64,
    /// Changes above the watermark already applied.
    done: BTreeSet<i64>,
    /// Missing numbers above the watermark, with when they were first missed.
    gaps: BTreeMap<i64, i64>,
}

/// How far this node has read the noted changes.
#[derive(Debug, Default)]
pub struct StandingSeen(Mutex<Seen>);

impl StandingSeen {
    /// The head as it is now: read it *before* loading the standings, so a change landing in
    /// between is read again rather than missed.
    pub async fn at_head(store: &Store) -> Result<StandingSeen, StoreError> {
        Ok(StandingSeen(Mutex::new(Seen {
            watermark: store.standing_head().await?,
            ..Seen::default()
        })))
    }

    fn snapshot(&self) -> (i64, BTreeSet<i64>) {
        let seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (seen.watermark, seen.done.clone())
    }

    /// Marks `seqs` applied and moves the watermark over every number done or given up on.
    fn advance(&self, seqs: &[i64], now: i64) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let seen = &mut *seen;
        seen.done
            .extend(seqs.iter().copied().filter(|s| *s > seen.watermark));
        if let Some(&max) = seen.done.last() {
            // Bounded: numbers are taken one by one, so a gap is a few numbers at most.
            let from = seen.watermark + 1;
            for seq in from..max.min(from + 10_000) {
                if !seen.done.contains(&seq) {
                    seen.gaps.entry(seq).or_insert(now);
                }
            }
        }
        loop {
            let next = seen.watermark + 1;
            // Done, or missing for longer than the grace: either way, past it.
            let given_up = seen.gaps.get(&next).is_some_and(|t| now - t > GRACE);
            if !(seen.done.remove(&next) || given_up) {
                break;
            }
            seen.gaps.remove(&next);
            seen.watermark = next;
        }
    }
}

/// One round: recomputes every subject named by a change noted since the last round. Answers
/// how many subjects it recomputed.
pub async fn sync_once(state: &Context) -> Result<usize, StoreError> {
    let (mut after, done) = state.standing_seen.snapshot();
    let mut seqs = Vec::new();
    let mut subjects = BTreeSet::new();
    loop {
        let page = state.store.standing_changes(after, PAGE).await?;
        for (seq, subject) in &page {
            if !done.contains(seq) {
                subjects.insert(subject.clone());
                seqs.push(*seq);
            }
        }
        match page.last() {
            Some((last, _)) if page.len() as i64 == PAGE => after = *last,
            _ => break,
        }
    }
    for hex in &subjects {
        let facts = state.store.standing_facts(hex).await?;
        apply(state, hex, &facts);
        let linked = state.store.links_of(hex).await?;
        if let Some(subject) = SubjectRef::from_hex(hex) {
            let linked: Vec<SubjectRef> = linked
                .iter()
                .filter_map(|h| SubjectRef::from_hex(h))
                .collect();
            state.set_links(subject, &linked);
        }
    }
    state.standing_seen.advance(&seqs, state.clock.now_micros());
    Ok(subjects.len())
}

/// Puts the subject's standing as the facts say.
pub fn apply(state: &Context, hex: &str, facts: &StandingFacts) {
    let Some(subject) = SubjectRef::from_hex(hex) else {
        return;
    };
    let objected = facts
        .objections
        .iter()
        .filter_map(|p| state.engine.objection_slot(p))
        .fold(0u64, |acc, slot| acc | (1u64 << slot));
    state.standings.update(subject, |st| {
        st.restricted = facts.restricted;
        st.account_closed = facts.account_closed;
        st.objected = objected;
    });
    if facts.minor {
        state.retention.minors.insert(subject);
    } else {
        state.retention.minors.remove(&subject);
    }
}

/// The scheduled round, errors logged (the loop in `background` only repeats it).
pub async fn scheduled(state: &Context) {
    if let Err(e) = sync_once(state).await {
        tracing::warn!(error = %e, "reading other nodes' standing changes failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(watermark: i64) -> StandingSeen {
        StandingSeen(Mutex::new(Seen {
            watermark,
            ..Seen::default()
        }))
    }

    #[test]
    fn the_watermark_waits_for_a_missing_number_then_gives_up() {
        let s = seen(10);
        s.advance(&[11, 13], 0);
        let (w, done) = s.snapshot();
        assert_eq!((w, done.into_iter().collect::<Vec<_>>()), (11, vec![13]));
        // 12 shows up late: applied, and the watermark moves past 13.
        s.advance(&[12], 5_000_000);
        assert_eq!(s.snapshot().0, 13);
        // 14 never shows up: given up on after the grace.
        s.advance(&[15], 6_000_000);
        assert_eq!(s.snapshot().0, 13);
        s.advance(&[], 6_000_000 + GRACE + 1);
        assert_eq!(s.snapshot().0, 15);
    }
}
