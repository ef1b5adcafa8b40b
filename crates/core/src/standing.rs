//! What a subject's own requests and account did to decisions, kept in memory for `decide`
//! (no I/O on the hot path): a restriction in force (GDPR Art. 18), the purposes they objected
//! to (Art. 21), and a closed account (the contract that contract-based purposes rest on has
//! ended, Art. 6(1)(b)). The application layer loads it at start and keeps it current; an
//! empty table costs one atomic load per decision.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;

use crate::subject::SubjectRef;

/// One subject's standing. `Default` is "nothing changes".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// A restriction of processing is in force (Art. 18): only the purposes the policy lets
    /// continue (`rights.restriction.continues`) are allowed.
    pub restricted: bool,
    /// The subject's account is closed: contract-based purposes are refused.
    pub account_closed: bool,
    /// Objection slots (`Engine::objection_slot`) the subject objected to.
    pub objected: u64,
}

impl Standing {
    pub fn is_default(&self) -> bool {
        *self == Standing::default()
    }
}

/// Every subject whose standing is not the default.
#[derive(Default)]
pub struct Standings {
    count: AtomicUsize,
    map: RwLock<HashMap<SubjectRef, Standing>>,
}

impl Standings {
    /// The subject's standing; the default when nothing is on record.
    pub fn get(&self, s: &SubjectRef) -> Standing {
        if self.count.load(Ordering::Acquire) == 0 {
            return Standing::default();
        }
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(s)
            .copied()
            .unwrap_or_default()
    }

    /// Changes the subject's standing; a standing back at the default is forgotten.
    pub fn update(&self, s: SubjectRef, change: impl FnOnce(&mut Standing)) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        let mut st = map.get(&s).copied().unwrap_or_default();
        change(&mut st);
        if st.is_default() {
            map.remove(&s);
        } else {
            map.insert(s, st);
        }
        self.count.store(map.len(), Ordering::Release);
    }

    /// Forgets the subject (erasure).
    pub fn forget(&self, s: &SubjectRef) {
        self.update(*s, |st| *st = Standing::default());
    }

    pub fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
