//! Appending consent events: linking each to its chain's head and writing the events, the
//! current state and the new heads in one transaction.
//!
//! On PostgreSQL the append is one statement — one round trip instead of seven (begin, locked
//! heads, events, state, heads, notice, commit), which was most of a consent write's system
//! calls on the server (issue 17). It starts from the heads this handle last saw and checks
//! in the statement that they still hold; a writer that finds them moved (another node
//! appended to the chain) reads them again and retries, and after a few failed tries takes
//! the heads' row locks as before. SQLite has one writer and reads its sixteen heads under
//! the write lock, in process: no round trip to save.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use custodian_core::ledger::{self, ConsentEvent, Link};

use super::NewEvent;
use crate::{Arg, Result, Store, StoreError};

/// Known chain heads: `chain → (seq, hash)`.
pub(crate) type HeadCache = Arc<Mutex<HashMap<u16, (i64, String)>>>;

/// Optimistic tries before an append takes the heads' row locks.
const OPTIMISTIC_TRIES: usize = 3;

/// Links a batch to chain heads: returns every event at its place and the new heads.
pub(crate) fn link(
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
pub(crate) fn latest_states<'a>(
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

/// A choice and when it was made: `(given, at)`.
pub(crate) type Dated = (bool, i64);

/// For each event of a batch, the newest earlier event of the batch for its subject and
/// purpose (of two at the same time, the later in the batch): the batch's own part of the
/// choice in force just before the event, which [`in_force`] weighs against the stored state.
pub(crate) fn earlier_in_batch(events: &[ConsentEvent], hex: &[String]) -> Vec<Option<Dated>> {
    let mut newest: HashMap<(&str, &str), Dated> = HashMap::new();
    events
        .iter()
        .zip(hex)
        .map(|(e, subject)| {
            let key = (subject.as_str(), e.purpose.as_str());
            let before = newest.get(&key).copied();
            if before.is_none_or(|(_, at)| e.created_at >= at) {
                newest.insert(key, (e.given, e.created_at));
            }
            before
        })
        .collect()
}

/// The choice in force for an event's subject and purpose just before the event was recorded
/// (its `prior_given`): by the rule that the newest choice stands (`consent_state`'s upsert),
/// the batch's newest earlier event unless the stored state is newer, else the stored state.
/// The same rule is written in SQL in PostgreSQL's one-statement append
/// (`postgres/consent.rs`), and the contract tests hold both to the same answers.
pub(crate) fn in_force(earlier: Option<Dated>, stored: Option<Dated>) -> Option<bool> {
    match (earlier, stored) {
        (Some((_, at)), Some((given, since))) if at < since => Some(given),
        (Some((given, _)), _) => Some(given),
        (None, stored) => stored.map(|(given, _)| given),
    }
}

/// Each event's `prior_given`, from the stored state of its subject and purpose before the
/// batch (`stored`, one per event).
pub(crate) fn priors(
    events: &[ConsentEvent],
    hex: &[String],
    stored: &[Option<Dated>],
) -> Vec<Option<bool>> {
    earlier_in_batch(events, hex)
        .into_iter()
        .zip(stored)
        .map(|(earlier, stored)| in_force(earlier, *stored))
        .collect()
}

/// The columns of `consent_events` for a linked batch (`hex`: each event's subject), but
/// `prior_given`, which each append adds its own way.
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
        if self.dialect.name == "postgres" {
            for _ in 0..OPTIMISTIC_TRIES {
                let heads = self.known_heads(&chains).await?;
                match self.append_on_heads(batch, &chains, heads).await {
                    Ok((stored, new_heads)) => {
                        self.remember_heads(new_heads);
                        return Ok(stored);
                    }
                    Err(e) => {
                        self.forget_heads(&chains);
                        if !stale_heads(&e) {
                            return Err(e);
                        }
                    }
                }
            }
        }
        let appended = self.append_locked(batch, &chains).await;
        match &appended {
            Ok((_, new_heads)) => self.remember_heads(new_heads.clone()),
            Err(_) => self.forget_heads(&chains),
        }
        appended.map(|(stored, _)| stored)
    }

    /// The heads of `chains`: those this handle knows, the rest read (without a lock).
    async fn known_heads(&self, chains: &[i32]) -> Result<HashMap<u16, (i64, String)>> {
        let mut out = HashMap::with_capacity(chains.len());
        let mut missing = Vec::new();
        {
            let known = self.consent_heads.lock().unwrap_or_else(|e| e.into_inner());
            for &c in chains {
                match known.get(&(c as u16)) {
                    Some(h) => {
                        out.insert(c as u16, h.clone());
                    }
                    None => missing.push(c),
                }
            }
        }
        if !missing.is_empty() {
            let read: Vec<(i32, i64, String)> = self
                .fetch_all(crate::postgres::consent::HEADS, &[Arg::I32s(missing)])
                .await?;
            out.extend(read.into_iter().map(|(c, s, h)| (c as u16, (s, h))));
        }
        Ok(out)
    }

    fn remember_heads(&self, heads: HashMap<u16, (i64, String)>) {
        self.consent_heads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(heads);
    }

    fn forget_heads(&self, chains: &[i32]) {
        let mut known = self.consent_heads.lock().unwrap_or_else(|e| e.into_inner());
        for c in chains {
            known.remove(&(*c as u16));
        }
    }

    /// PostgreSQL: the append in one statement, from `heads` (see the module's note).
    async fn append_on_heads(
        &self,
        batch: &[NewEvent],
        chains: &[i32],
        heads: HashMap<u16, (i64, String)>,
    ) -> Result<(Vec<ConsentEvent>, HashMap<u16, (i64, String)>)> {
        let was: Vec<i64> = chains
            .iter()
            .map(|c| heads.get(&(*c as u16)).map_or(0, |h| h.0))
            .collect();
        let (stored, new_heads) = link(batch, heads);
        let hex: Vec<String> = stored.iter().map(|e| e.subject.to_hex()).collect();
        let notice = crate::changes::payload(crate::changes::Topic::Consent, &self.sender);
        let mut args: Vec<Arg<'_>> = Vec::with_capacity(22);
        args.push(Arg::I32s(chains.to_vec()));
        args.push(Arg::I64s(was));
        args.push(Arg::I64s(
            chains.iter().map(|c| new_heads[&(*c as u16)].0).collect(),
        ));
        args.push(Arg::Texts(
            chains
                .iter()
                .map(|c| new_heads[&(*c as u16)].1.as_str())
                .collect(),
        ));
        args.extend(event_columns(&stored, &hex));
        // The stored state is read in the statement itself (see `in_force`).
        let earlier = earlier_in_batch(&stored, &hex);
        args.push(Arg::OptBools(
            earlier.iter().map(|e| e.map(|(given, _)| given)).collect(),
        ));
        args.push(Arg::OptI64s(
            earlier.iter().map(|e| e.map(|(_, at)| at)).collect(),
        ));
        args.push(crate::changes::CHANNEL.into());
        args.push(notice.as_str().into());
        self.execute_held(crate::postgres::consent::APPEND_ON_HEADS, &args)
            .await?;
        drop(args);
        Ok((stored, new_heads))
    }

    /// The append under locks: SQLite's write lock, or PostgreSQL's row locks on the heads of
    /// `chains` (taken in a fixed order: no deadlocks).
    async fn append_locked(
        &self,
        batch: &[NewEvent],
        chains: &[i32],
    ) -> Result<(Vec<ConsentEvent>, HashMap<u16, (i64, String)>)> {
        // Immediate: reading the heads and writing after them cannot interleave with another
        // process's append.
        let mut tx = self.begin_immediate().await?;
        // On SQLite, the state as the ledger has it, for the priors read below (`fold.rs`).
        super::fold::fold_in(&mut tx).await?;
        let sql = tx.dialect().consent;
        let heads: Vec<(i32, i64, String)> = tx
            .fetch_batch(&sql.heads, &[], &[Arg::I32s(chains.to_vec())])
            .await?;
        let heads = heads
            .into_iter()
            .map(|(c, s, h)| (c as u16, (s, h)))
            .collect();
        let (stored, new_heads) = link(batch, heads);
        let hex: Vec<String> = stored.iter().map(|e| e.subject.to_hex()).collect();
        let keys = [
            Arg::Texts(hex.iter().map(String::as_str).collect()),
            Arg::Texts(stored.iter().map(|e| e.purpose.as_str()).collect()),
        ];
        let before: Vec<(String, String, bool, i64)> =
            tx.fetch_batch(&sql.stored_states, &[], &keys).await?;
        drop(keys);
        let before: HashMap<(&str, &str), Dated> = before
            .iter()
            .map(|(subject, purpose, given, at)| {
                ((subject.as_str(), purpose.as_str()), (*given, *at))
            })
            .collect();
        let before: Vec<Option<Dated>> = stored
            .iter()
            .zip(&hex)
            .map(|(e, subject)| before.get(&(subject.as_str(), e.purpose.as_str())).copied())
            .collect();
        let prior = priors(&stored, &hex, &before);
        let mut events = Vec::from(event_columns(&stored, &hex));
        events.push(Arg::OptBools(prior));
        tx.execute_batch(&sql.events, &[], &events).await?;
        drop(events);
        let state = state_columns(&latest_states(&stored, &hex));
        tx.execute_batch(&sql.state, &[], &state).await?;
        drop(state);
        // Every chain's new head in one statement (the rows exist: the migration made them).
        let set_heads = [
            Arg::I32s(chains.to_vec()),
            Arg::I64s(chains.iter().map(|c| new_heads[&(*c as u16)].0).collect()),
            Arg::Texts(
                chains
                    .iter()
                    .map(|c| new_heads[&(*c as u16)].1.as_str())
                    .collect(),
            ),
        ];
        tx.execute_batch(&sql.set_heads, &[], &set_heads).await?;
        drop(set_heads);
        // This batch wrote its own state on a folded tail: nothing is left past it.
        for mark in sql.mark_whole {
            tx.execute(mark, &[]).await?;
        }
        tx.announce(crate::changes::Topic::Consent).await?;
        tx.commit().await?;
        // Only the chains of this batch: the heads of the others (SQLite reads all sixteen)
        // may move before this handle appends to them again.
        let new_heads = new_heads
            .into_iter()
            .filter(|(c, _)| chains.contains(&i32::from(*c)))
            .collect();
        Ok((stored, new_heads))
    }
}

/// Whether an optimistic append failed because another writer moved a head first: the
/// statement's own check, or an event's `(chain, seq)` already taken.
fn stale_heads(e: &StoreError) -> bool {
    let StoreError::Database(sqlx::Error::Database(d)) = e else {
        return false;
    };
    d.constraint() == Some("consent_events_chain_seq_key")
        || d.message().contains("stale chain heads")
}
