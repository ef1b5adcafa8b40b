//! Appending consent events: linking each to its chain's head and writing the events, the
//! current state and the new heads in one transaction.

use std::collections::{BTreeMap, HashMap};

use custodian_core::ledger::{self, ConsentEvent, Link};

use super::NewEvent;
use crate::{Arg, Result, Store};

/// Links a batch to chain heads: returns every event at its place and the new heads.
fn link(
    batch: &[NewEvent],
    mut heads: HashMap<u16, (i64, String)>,
) -> (Vec<ConsentEvent>, HashMap<u16, (i64, String)>) {
    let mut out = Vec::with_capacity(batch.len());
    for e in batch {
        let chain = ledger::chain_of(&e.subject);
        let (seq, prev_hash) = heads
            .get(&chain)
            .cloned()
            .unwrap_or((0, ledger::GENESIS.to_owned()));
        let seq = seq + 1;
        let hash = ledger::event_hash(&e.content(), chain, seq, &prev_hash);
        heads.insert(chain, (seq, hash.clone()));
        out.push(e.clone().with_link(Link {
            chain,
            seq,
            prev_hash,
            hash,
        }));
    }
    (out, heads)
}

/// The last event per (subject, purpose) of a batch: what the current-state table must hold.
fn latest_states<'a>(
    events: &'a [ConsentEvent],
    hex: &'a [String],
) -> Vec<(&'a ConsentEvent, &'a str)> {
    let mut last: BTreeMap<(&str, &str), (&ConsentEvent, &str)> = BTreeMap::new();
    for (e, subject) in events.iter().zip(hex) {
        let slot = last
            .entry((subject.as_str(), e.purpose.as_str()))
            .or_insert((e, subject));
        // The newest by time; of two at the same time, the later in the batch.
        if e.created_at >= slot.0.created_at {
            *slot = (e, subject);
        }
    }
    last.into_values().collect()
}

/// The columns of `consent_events` for a linked batch (`hex`: each event's subject).
fn event_columns<'a>(stored: &'a [ConsentEvent], hex: &'a [String]) -> [Arg<'a>; 14] {
    [
        Arg::Texts(stored.iter().map(|e| e.id.as_str()).collect()),
        Arg::Texts(hex.iter().map(String::as_str).collect()),
        Arg::Texts(stored.iter().map(|e| e.purpose.as_str()).collect()),
        Arg::Bools(stored.iter().map(|e| e.given).collect()),
        Arg::Texts(stored.iter().map(|e| e.source.as_str()).collect()),
        Arg::Texts(stored.iter().map(|e| e.policy_version.as_str()).collect()),
        Arg::OptTexts(stored.iter().map(|e| e.notice_hash.as_deref()).collect()),
        Arg::OptTexts(stored.iter().map(|e| e.ip_truncated.as_deref()).collect()),
        Arg::Texts(stored.iter().map(|e| e.receipt_id.as_str()).collect()),
        Arg::I64s(stored.iter().map(|e| e.created_at).collect()),
        Arg::I32s(stored.iter().map(|e| e.link.chain as i32).collect()),
        Arg::I64s(stored.iter().map(|e| e.link.seq).collect()),
        Arg::Texts(stored.iter().map(|e| e.link.prev_hash.as_str()).collect()),
        Arg::Texts(stored.iter().map(|e| e.link.hash.as_str()).collect()),
    ]
}

/// The columns of `consent_state` for the newest event per subject and purpose.
fn state_columns<'a>(latest: &[(&'a ConsentEvent, &'a str)]) -> [Arg<'a>; 8] {
    [
        Arg::Texts(latest.iter().map(|(_, s)| *s).collect()),
        Arg::Texts(latest.iter().map(|(e, _)| e.purpose.as_str()).collect()),
        Arg::Bools(latest.iter().map(|(e, _)| e.given).collect()),
        Arg::Texts(latest.iter().map(|(e, _)| e.id.as_str()).collect()),
        Arg::Texts(latest.iter().map(|(e, _)| e.source.as_str()).collect()),
        Arg::Texts(
            latest
                .iter()
                .map(|(e, _)| e.policy_version.as_str())
                .collect(),
        ),
        Arg::OptTexts(
            latest
                .iter()
                .map(|(e, _)| e.notice_hash.as_deref())
                .collect(),
        ),
        Arg::I64s(latest.iter().map(|(e, _)| e.created_at).collect()),
    ]
}

impl Store {
    /// Appends a batch of events durably, in one transaction, and answers each at the place
    /// it landed, in the order given. Nothing is visible, and nothing should be acknowledged,
    /// before this returns `Ok`.
    pub async fn append_consent(&self, batch: &[NewEvent]) -> Result<Vec<ConsentEvent>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut chains: Vec<i32> = batch
            .iter()
            .map(|e| ledger::chain_of(&e.subject) as i32)
            .collect();
        chains.sort_unstable();
        chains.dedup();
        // Immediate: reading the heads and writing after them cannot interleave with another
        // process's append (SQLite's write lock now; on PostgreSQL the heads' row locks, taken
        // only on the chains this batch touches, in a fixed order: no deadlocks).
        let mut tx = self.begin_immediate().await?;
        let sql = tx.dialect().consent;
        let heads: Vec<(i32, i64, String)> = tx
            .fetch_batch(&sql.heads, &[], &[Arg::I32s(chains.clone())])
            .await?;
        let heads = heads
            .into_iter()
            .map(|(c, s, h)| (c as u16, (s, h)))
            .collect();
        let (stored, new_heads) = link(batch, heads);
        let hex: Vec<String> = stored.iter().map(|e| e.subject.to_hex()).collect();
        let events = event_columns(&stored, &hex);
        tx.execute_batch(&sql.events, &[], &events).await?;
        drop(events);
        let state = state_columns(&latest_states(&stored, &hex));
        tx.execute_batch(&sql.state, &[], &state).await?;
        drop(state);
        // Every chain's new head in one statement (the rows exist: the migration made them).
        let new_heads = [
            Arg::I32s(chains.clone()),
            Arg::I64s(chains.iter().map(|c| new_heads[&(*c as u16)].0).collect()),
            Arg::Texts(
                chains
                    .iter()
                    .map(|c| new_heads[&(*c as u16)].1.as_str())
                    .collect(),
            ),
        ];
        tx.execute_batch(&sql.set_heads, &[], &new_heads).await?;
        drop(new_heads);
        tx.announce(crate::changes::Topic::Consent).await?;
        tx.commit().await?;
        Ok(stored)
    }
}
