//! The SQLite consent writer's memory of the ledger's tail: for each subject and purpose it
//! appended to past the mark (`consent/fold.rs`), the choice the next fold leaves in force and,
//! when that choice is one of the tail's events, the row the fold writes for it.
//!
//! Why keep it: each event's `prior_given` needs the choice in force before it, which for a key
//! with events past the mark is no longer in `consent_state`; and a fold from memory writes
//! the state in key order without reading the tail back and sorting it in SQL, which took
//! most of a fold's time (issue 17, docs/benchmarks.md, eleventh sitting).

use std::collections::HashMap;

use custodian_core::consent::Source;
use custodian_core::ledger::ConsentEvent;
use custodian_core::subject::{RefHasher, SubjectRef};

use crate::consent::append::Dated;

/// A subject and a purpose (interned).
pub(crate) type Key = ([u8; 32], u32);

/// The tail as the fold will leave it, key by key.
#[derive(Default)]
pub(crate) struct Tail {
    standing: HashMap<Key, Standing, RefHasher>,
    /// Purposes, policy versions and notice hashes, each once.
    texts: Vec<Box<str>>,
    places: HashMap<Box<str>, u32>,
    /// Events taken in since the last fold began.
    events: usize,
    /// Counts the folds begun: a key taken in since the last began is marked with it.
    epoch: u32,
}

/// The choice a fold leaves in force for a key.
struct Standing {
    dated: Dated,
    /// The fold during which the key last changed ([`Tail::epoch`]).
    epoch: u32,
    /// The tail's event that stands; `None` where the stored state stands (the tail's events
    /// for the key were all made before it), which the fold leaves as it is.
    event: Option<StandingEvent>,
}

struct StandingEvent {
    id: Box<str>,
    source: Source,
    policy_version: u32,
    notice_hash: Option<u32>,
}

/// A row of `consent_state` as the fold writes it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StateRow<'a> {
    pub subject_ref: String,
    pub purpose: &'a str,
    pub given: bool,
    pub event_id: &'a str,
    pub source: Source,
    pub policy_version: &'a str,
    pub notice_hash: Option<&'a str>,
    pub updated_at: i64,
}

impl Tail {
    /// Events taken in since the last fold began.
    pub(crate) fn events(&self) -> usize {
        self.events
    }

    /// Whether any key is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.standing.is_empty()
    }

    /// Forgets everything: after a fold in SQL, or when the database moved without this writer.
    pub(crate) fn clear(&mut self) {
        self.standing.clear();
        self.texts.clear();
        self.places.clear();
        self.events = 0;
    }

    /// Begins a fold: answers the keys it writes, in the state's order (subject, then purpose;
    /// a subject's hex sorts as its bytes do). Keys changed from here on stay after it ends.
    pub(crate) fn begin_fold(&mut self) -> Vec<Key> {
        self.epoch = self.epoch.wrapping_add(1);
        self.events = 0;
        let text = |i: u32| &*self.texts[i as usize];
        let mut keys: Vec<Key> = self
            .standing
            .iter()
            .filter(|(_, s)| s.event.is_some())
            .map(|(k, _)| *k)
            .collect();
        keys.sort_unstable_by(|a, b| (a.0, text(a.1)).cmp(&(b.0, text(b.1))));
        keys
    }

    /// Ends a fold that wrote every key [`Tail::begin_fold`] gave: keeps only the keys changed
    /// since it began, which are past the mark it moved to.
    pub(crate) fn finish_fold(&mut self) {
        let epoch = self.epoch;
        self.standing.retain(|_, s| s.epoch == epoch);
    }

    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&i) = self.places.get(text) {
            return i;
        }
        let i = self.texts.len() as u32;
        self.texts.push(text.into());
        self.places.insert(text.into(), i);
        i
    }

    /// The key of an event's subject and purpose.
    pub(crate) fn key(&mut self, e: &ConsentEvent) -> Key {
        (e.subject.0, self.intern(&e.purpose))
    }

    /// The choice in force for `key` by the tail, if the tail has the key at all.
    pub(crate) fn in_force(&self, key: &Key) -> Option<Dated> {
        self.standing.get(key).map(|s| s.dated)
    }

    /// Takes in a committed event. `before`: the choice in force for its key before its batch
    /// (the tail's, else the stored state's); events must come in the order written.
    pub(crate) fn record(&mut self, key: Key, e: &ConsentEvent, before: Option<Dated>) {
        self.events += 1;
        let standing = self.in_force(&key).or(before);
        // The newest choice stands; of two made at the same time, the later written.
        if standing.is_none_or(|(_, at)| e.created_at >= at) {
            let event = StandingEvent {
                id: e.id.as_str().into(),
                source: e.source,
                policy_version: self.intern(&e.policy_version),
                notice_hash: e.notice_hash.as_deref().map(|h| self.intern(h)),
            };
            self.standing.insert(
                key,
                Standing {
                    dated: (e.given, e.created_at),
                    epoch: self.epoch,
                    event: Some(event),
                },
            );
        } else if let Some(s) = self.standing.get_mut(&key) {
            s.epoch = self.epoch;
        } else if let Some(kept) = standing {
            self.standing.insert(
                key,
                Standing {
                    dated: kept,
                    epoch: self.epoch,
                    event: None,
                },
            );
        }
    }

    /// The row a fold writes for `key` as the tail has it now; `None` where the stored state
    /// stands.
    pub(crate) fn row(&self, key: &Key) -> Option<StateRow<'_>> {
        let text = |i: u32| &*self.texts[i as usize];
        let s = self.standing.get(key)?;
        let e = s.event.as_ref()?;
        Some(StateRow {
            subject_ref: SubjectRef(key.0).to_hex(),
            purpose: text(key.1),
            given: s.dated.0,
            event_id: &e.id,
            source: e.source,
            policy_version: text(e.policy_version),
            notice_hash: e.notice_hash.map(text),
            updated_at: s.dated.1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::NewEvent;
    use custodian_core::ledger::Link;

    fn event(id: &str, subject: u8, purpose: &str, given: bool, at: i64) -> ConsentEvent {
        NewEvent {
            id: id.into(),
            subject: SubjectRef([subject; 32]),
            purpose: purpose.into(),
            given,
            source: Source::Banner,
            policy_version: "v1".into(),
            notice_hash: Some("sha256:aa".into()),
            ip_truncated: None,
            receipt_id: "rcpt".into(),
            created_at: at,
            link: crate::consent::Unlinked,
        }
        .with_link(Link {
            chain: 0,
            seq: 1,
            prev_hash: String::new(),
            hash: String::new(),
        })
    }

    /// The event ids a fold would write now, in its order.
    fn folded(tail: &mut Tail) -> Vec<String> {
        let keys = tail.begin_fold();
        keys.iter()
            .filter_map(|k| tail.row(k).map(|r| r.event_id.to_owned()))
            .collect()
    }

    fn record(tail: &mut Tail, e: &ConsentEvent, stored: Option<Dated>) {
        let key = tail.key(e);
        let before = tail.in_force(&key).or(stored);
        tail.record(key, e, before);
    }

    #[test]
    fn the_newest_choice_stands_and_of_two_at_once_the_later_written() {
        let mut tail = Tail::default();
        record(&mut tail, &event("e1", 1, "ads", true, 100), None);
        record(&mut tail, &event("e2", 1, "ads", false, 50), None);
        record(&mut tail, &event("e3", 1, "stats", false, 100), None);
        record(&mut tail, &event("e4", 1, "stats", true, 100), None);
        let key = tail.key(&event("", 1, "ads", true, 0));
        assert_eq!(tail.in_force(&key), Some((true, 100)), "e2 is older");
        assert_eq!(tail.events(), 4);
        assert_eq!(folded(&mut tail), ["e1", "e4"]);
    }

    #[test]
    fn an_event_older_than_the_stored_choice_leaves_the_state_as_it_is() {
        let mut tail = Tail::default();
        record(
            &mut tail,
            &event("e1", 2, "ads", false, 50),
            Some((true, 80)),
        );
        let key = tail.key(&event("", 2, "ads", true, 0));
        assert_eq!(tail.in_force(&key), Some((true, 80)));
        assert!(folded(&mut tail).is_empty(), "nothing to write");
        // A newer one then stands over the stored choice.
        record(
            &mut tail,
            &event("e2", 2, "ads", false, 90),
            Some((true, 80)),
        );
        assert_eq!(folded(&mut tail), ["e2"]);
    }

    #[test]
    fn rows_come_in_the_state_key_order() {
        let mut tail = Tail::default();
        // Purposes interned in an order unlike their sort order; subjects likewise.
        for (i, (s, p)) in [
            (9, "stats"),
            (1, "stats"),
            (9, "ads"),
            (1, "ads"),
            (200, "a"),
        ]
        .into_iter()
        .enumerate()
        {
            record(&mut tail, &event(&format!("e{i}"), s, p, true, 1), None);
        }
        let order = tail.begin_fold();
        let keys: Vec<(String, &str)> = order
            .iter()
            .filter_map(|k| tail.row(k))
            .map(|r| (r.subject_ref, r.purpose))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(keys.len(), 5);
        tail.clear();
        assert!(folded(&mut tail).is_empty());
        assert_eq!(tail.events(), 0);
    }

    #[test]
    fn a_fold_keeps_the_keys_changed_while_it_ran_and_only_those() {
        let mut tail = Tail::default();
        record(&mut tail, &event("e1", 1, "ads", true, 100), None);
        record(&mut tail, &event("e2", 2, "ads", true, 100), None);
        record(&mut tail, &event("e3", 3, "ads", true, 100), None);
        let keys = tail.begin_fold();
        assert_eq!(keys.len(), 3);
        assert_eq!(tail.events(), 0, "counted afresh from the fold's start");
        // While the fold runs: a newer choice for subject 2, an older one (which does not
        // stand) for subject 3, and a new subject.
        record(&mut tail, &event("e4", 2, "ads", false, 200), None);
        record(&mut tail, &event("e5", 3, "ads", false, 50), None);
        record(&mut tail, &event("e6", 4, "ads", true, 100), None);
        // The fold writes each key as the tail has it when its slice is written.
        let now: Vec<&str> = keys
            .iter()
            .filter_map(|k| tail.row(k))
            .map(|r| r.event_id)
            .collect();
        assert_eq!(now, ["e1", "e4", "e3"]);
        tail.finish_fold();
        assert_eq!(tail.events(), 3);
        let mut subject = |s: u8| tail.key(&event("", s, "ads", true, 0));
        let (one, two, three, four) = (subject(1), subject(2), subject(3), subject(4));
        assert_eq!(
            tail.in_force(&one),
            None,
            "folded and unchanged: the state has it"
        );
        assert_eq!(tail.in_force(&two), Some((false, 200)));
        assert_eq!(
            tail.in_force(&three),
            Some((true, 100)),
            "e5 is older than e3"
        );
        assert_eq!(tail.in_force(&four), Some((true, 100)));
    }
}
