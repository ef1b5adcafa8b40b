//! Keeping the in-memory consent (what `/v1/decide` answers from) in step with writes this node
//! did not make: other nodes on the same PostgreSQL database, and `custodian consent import`
//! run beside a live server.
//!
//! The ledger already orders every write: each chain has a sequence. A node remembers how far
//! it has read each chain and, once a second, reads what came after, applying the *current*
//! choice of each subject and purpose it touched (from `consent_state`, where the newest choice
//! stands). Applying current choices rather than events makes the catch-up order-free: an old
//! event seen late never undoes a newer one. Memory keeps the same rule (the newest choice
//! stands, `ConsentMemory::record`), so two racing local writes agree with the store whatever
//! order they reach memory in, and a node moves its watermarks past its own writes as it makes
//! them ([`Watermarks::applied_locally`]) instead of reading them back.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use custodian_core::subject::SubjectRef;

use custodian_core::ledger::CHAINS;
use custodian_store::{Store, StoreError};

use crate::context::Context;

/// How often a node reads what other writers appended.
pub const EVERY: Duration = Duration::from_secs(1);
/// Events read per chain and query; a chain further behind is read over several queries.
const PAGE: i64 = 1_000;

/// How far each chain and the forgettings have been read, and how far the last image of
/// memory reached (`consent_image`).
#[derive(Debug)]
pub struct Watermarks {
    chains: Mutex<Vec<i64>>,
    /// Per chain, this node's own events applied ahead of the watermark: the answers of one
    /// group commit finish in any order on the runtime's threads, so event 7 is often applied
    /// before event 6; it waits here until 6 is, instead of being read back next round.
    ahead: Mutex<Vec<std::collections::BTreeSet<i64>>>,
    forgotten: AtomicI64,
    /// Chains and forgettings as the last image written had them (none yet: empty).
    imaged: Mutex<Option<(Vec<i64>, i64)>>,
}

impl Watermarks {
    fn new(chains: Vec<i64>, forgotten: i64) -> Watermarks {
        Watermarks {
            ahead: Mutex::new(vec![Default::default(); chains.len()]),
            chains: Mutex::new(chains),
            forgotten: AtomicI64::new(forgotten),
            imaged: Mutex::new(None),
        }
    }

    /// The heads as they are now: read them *before* loading the current state, so a write
    /// or a forgetting landing in between is read again rather than missed.
    pub async fn at_heads(store: &Store) -> Result<Watermarks, StoreError> {
        let mut seen = vec![0; CHAINS as usize];
        for (chain, seq) in store.ledger_head_seqs().await? {
            if let Some(s) = seen.get_mut(chain as usize) {
                *s = seq;
            }
        }
        let forgotten = store.consent_forgotten_head().await?;
        Ok(Watermarks::new(seen, forgotten))
    }

    /// As an image of memory recorded them; the image is the last one written.
    pub fn from_image(mut chains: Vec<i64>, forgotten: i64) -> Watermarks {
        chains.resize(CHAINS as usize, 0);
        let w = Watermarks::new(chains.clone(), forgotten);
        *lock(&w.imaged) = Some((chains, forgotten));
        w
    }

    pub fn chains(&self) -> Vec<i64> {
        lock(&self.chains).clone()
    }

    pub fn forgotten(&self) -> i64 {
        self.forgotten.load(Ordering::Acquire)
    }

    /// Notes that an image reaching these marks was written.
    pub fn imaged(&self, chains: Vec<i64>, forgotten: i64) {
        *lock(&self.imaged) = Some((chains, forgotten));
    }

    /// Whether memory has read anything since the last image (true when there is none).
    pub fn moved_since_image(&self) -> bool {
        match &*lock(&self.imaged) {
            None => true,
            Some((chains, forgotten)) => *chains != self.chains() || *forgotten != self.forgotten(),
        }
    }

    /// After this node appended event `seq` of `chain` and applied it to memory: the watermark
    /// moves past it — and past the own events applied ahead of it — when it stood just before
    /// it, so the next round does not read this node's own writes back (it did, every second,
    /// for every write: a second read of each event and its state row). When another writer's
    /// events lie in between, it stays, and the round reads from there as before.
    pub fn applied_locally(&self, chain: u16, seq: i64) {
        let mut seen = lock(&self.chains);
        let mut ahead = lock(&self.ahead);
        let (Some(s), Some(waiting)) =
            (seen.get_mut(chain as usize), ahead.get_mut(chain as usize))
        else {
            return;
        };
        if *s + 1 == seq {
            *s = seq;
            move_past_waiting(s, waiting);
        } else if seq > *s + 1 && waiting.len() < MAX_AHEAD {
            waiting.insert(seq);
        }
    }

    /// After a round read `chain` up to `seq`. The own events waiting just past it move the
    /// watermark on too: they were applied already and will not be again, so a watermark
    /// left before them stayed there, and every round read back everything this node wrote
    /// since (on a busy node a second of writes, every second: issue 17).
    fn advance(&self, chain: usize, seq: i64) {
        let mut seen = lock(&self.chains);
        let mut ahead = lock(&self.ahead);
        let (Some(s), Some(waiting)) = (seen.get_mut(chain), ahead.get_mut(chain)) else {
            return;
        };
        *s = (*s).max(seq);
        // What the round read covers the own events waiting ahead up to there.
        waiting.retain(|&w| w > *s);
        move_past_waiting(s, waiting);
    }
}

/// Moves a chain's watermark `seen` past the own events waiting just after it.
fn move_past_waiting(seen: &mut i64, waiting: &mut std::collections::BTreeSet<i64>) {
    while waiting.first() == Some(&(*seen + 1)) {
        waiting.pop_first();
        *seen += 1;
    }
}

/// Own events remembered ahead of a chain's watermark at most (a gap another writer left
/// stays until the next round; past this many, the round reads them back as before).
const MAX_AHEAD: usize = 8_192;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Applies the forgettings (erasures, purges) noted since the last round: each subject's
/// memory is dropped and filled again from its current choices in the store, so whatever
/// order forgettings and new choices arrive in, memory ends as the store is.
async fn forgettings(state: &Context) -> Result<usize, StoreError> {
    let mut after = state.consent_seen.forgotten();
    let mut applied = 0;
    loop {
        let page = state.store.consent_forgotten_after(after, PAGE).await?;
        for (seq, subject_ref) in &page {
            if let Some(subject) = SubjectRef::from_hex(subject_ref) {
                state.consents.forget(&subject);
                for c in state.store.current_choices_of(subject_ref).await? {
                    crate::build::remember(&state.consents, &state.engine, &c);
                }
                applied += 1;
            }
            after = *seq;
        }
        state
            .consent_seen
            .forgotten
            .fetch_max(after, Ordering::AcqRel);
        if (page.len() as i64) < PAGE {
            return Ok(applied);
        }
    }
}

/// One round: applies every forgetting and every change appended since the last round.
/// Answers how many subjects' forgettings and (subject, purpose) choices it applied.
pub async fn sync_once(state: &Context) -> Result<usize, StoreError> {
    let mut applied = forgettings(state).await?;
    let seen = state.consent_seen.chains();
    for (chain, head) in state.store.ledger_head_seqs().await? {
        let Some(&from) = seen.get(chain as usize) else {
            continue;
        };
        let mut after = from;
        while after < head {
            let page = state.store.consent_changes(chain, after, PAGE).await?;
            for c in &page {
                if crate::build::remember(&state.consents, &state.engine, &c.choice) {
                    applied += 1;
                }
            }
            let last = page.last().map_or(after, |c| c.seq);
            if (page.len() as i64) < PAGE {
                // Every event up to the head was read; those not returned belong to subjects
                // erased since, who have no current choice.
                after = last.max(head);
                break;
            }
            after = last;
        }
        state.consent_seen.advance(chain as usize, after);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_writes_move_the_watermark_only_when_nothing_lies_between() {
        let w = Watermarks::new(vec![4, 0], 0);
        w.applied_locally(0, 5);
        assert_eq!(w.chains(), vec![5, 0], "the next event of the chain");
        w.applied_locally(0, 7);
        assert_eq!(
            w.chains(),
            vec![5, 0],
            "event 6 is another writer's: read it next round"
        );
        w.applied_locally(1, 1);
        w.applied_locally(1, 1);
        assert_eq!(w.chains(), vec![5, 1], "applied twice, moved once");
        w.applied_locally(9, 1);
        assert_eq!(
            w.chains(),
            vec![5, 1],
            "a chain it does not know changes nothing"
        );
    }

    #[test]
    fn own_writes_applied_out_of_order_move_the_watermark_once_the_gap_closes() {
        let w = Watermarks::new(vec![4], 0);
        w.applied_locally(0, 7);
        w.applied_locally(0, 6);
        assert_eq!(w.chains(), vec![4], "5 is not applied yet");
        w.applied_locally(0, 5);
        assert_eq!(w.chains(), vec![7], "5, then 6 and 7 that waited");
        w.applied_locally(0, 9);
        w.advance(0, 10);
        assert_eq!(w.chains(), vec![10], "the round read past the gap");
        w.applied_locally(0, 11);
        assert_eq!(w.chains(), vec![11], "9 no longer waits to move it");
    }

    #[test]
    fn a_round_moves_the_watermark_past_own_events_waiting_after_what_it_read() {
        // The round read the heads while events 5 and 6 were in flight; 7 and 8 were applied
        // before it finished, and 5 and 6 after: none of them is applied again.
        let w = Watermarks::new(vec![4], 0);
        w.applied_locally(0, 7);
        w.applied_locally(0, 8);
        w.advance(0, 6);
        assert_eq!(w.chains(), vec![8], "7 and 8 follow what the round read");
        w.applied_locally(0, 5);
        w.applied_locally(0, 6);
        w.applied_locally(0, 9);
        assert_eq!(w.chains(), vec![9], "and own writes go on moving it");
        w.applied_locally(0, 12);
        w.advance(0, 10);
        assert_eq!(
            w.chains(),
            vec![10],
            "11 is another writer's: read it next round"
        );
    }
}
