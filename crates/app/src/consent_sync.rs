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

use std::sync::Mutex;
use std::time::Duration;

use custodian_core::ledger::CHAINS;
use custodian_store::{Store, StoreError};

use crate::context::Context;

/// How often a node reads what other writers appended.
pub const EVERY: Duration = Duration::from_secs(1);
/// Events read per chain and query; a chain further behind is read over several queries.
const PAGE: i64 = 1_000;

/// How far each chain has been read.
#[derive(Debug)]
pub struct Watermarks(Mutex<Vec<i64>>);

impl Watermarks {
    /// The heads as they are now: read them *before* loading the current state, so a write
    /// landing in between is read again rather than missed.
    pub async fn at_heads(store: &Store) -> Result<Watermarks, StoreError> {
        let mut seen = vec![0; CHAINS as usize];
        for (chain, seq) in store.ledger_head_seqs().await? {
            if let Some(s) = seen.get_mut(chain as usize) {
                *s = seq;
            }
        }
        Ok(Watermarks(Mutex::new(seen)))
    }

    fn get(&self) -> Vec<i64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// After this node appended event `seq` of `chain` and applied it to memory: the watermark
    /// moves past it when it stood just before it, so the next round does not read this
    /// node's own writes back (it did, every second, for every write: a second read of each
    /// event and its state row). When another writer's events lie in between, it stays, and
    /// the round reads from there as before.
    pub fn applied_locally(&self, chain: u16, seq: i64) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = seen.get_mut(chain as usize) {
            if *s + 1 == seq {
                *s = seq;
            }
        }
    }

    fn advance(&self, chain: usize, seq: i64) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen[chain] < seq {
            seen[chain] = seq;
        }
    }
}

/// One round: applies every change appended since the last round. Answers how many (subject,
/// purpose) choices it applied.
pub async fn sync_once(state: &Context) -> Result<usize, StoreError> {
    let seen = state.consent_seen.get();
    let mut applied = 0;
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
        let w = Watermarks(Mutex::new(vec![4, 0]));
        w.applied_locally(0, 5);
        assert_eq!(w.get(), vec![5, 0], "the next event of the chain");
        w.applied_locally(0, 7);
        assert_eq!(w.get(), vec![5, 0], "event 6 is another writer's: read it next round");
        w.applied_locally(1, 1);
        w.applied_locally(1, 1);
        assert_eq!(w.get(), vec![5, 1], "applied twice, moved once");
        w.applied_locally(9, 1);
        assert_eq!(w.get(), vec![5, 1], "a chain it does not know changes nothing");
    }
}
