//! Every subject's current consent, in memory: what `/v1/decide` tests and what
//! `GET /v1/consent` answers, with no store round trip.
//!
//! It is the largest thing the service holds (one entry per subject who ever chose), so its
//! layout is chosen for size (issue 17: at most 100 bytes per subject-purpose choice):
//!
//! - a subject is keyed by the first 16 bytes of its [`SubjectRef`]. References are keyed
//!   HMAC-SHA-256 outputs, so 128 bits collide only around 2^64 subjects — never, for any
//!   company — and nobody without the server's secret can aim for a collision;
//! - the same property makes the key its own hash: the map hashes by reading 8 of its bytes
//!   ([`RefHasher`]) instead of running SipHash, which an attacker-chosen key would need;
//! - choices are two bitsets over the policy's consent slots (known, given) — all a decision
//!   reads — and, for the read answer, one 16-byte record per known slot in slot order: the
//!   time, the source, and the policy version and notice hash as indices into tables of the
//!   few distinct values ([`Names`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

mod image;

pub use image::{ImageError, ImageHeader};

use super::Source;
use crate::decide::{ConsentLookup, ConsentStatus};
use crate::subject::{RefHasher, SubjectRef};

const SHARDS: usize = 32;

type Key = [u8; 16];

fn key(s: &SubjectRef) -> Key {
    let mut k = [0; 16];
    k.copy_from_slice(&s.0[..16]);
    k
}

/// One known choice's facts besides given/refused (which the bitsets hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Detail {
    /// When it was made, in microseconds since the epoch.
    at: i64,
    /// Index into [`Names::notices`]; `u32::MAX` for none.
    notice: u32,
    /// Index into [`Names::versions`].
    version: u16,
    source: Source,
}

/// A subject's choices: bitsets over consent slots, and a [`Detail`] per known slot, in slot
/// order (the n-th set bit of `known` is `details[n]`).
#[derive(Debug, Default)]
struct Choices {
    known: u64,
    given: u64,
    details: Box<[Detail]>,
}

impl Choices {
    /// Where slot `slot`'s detail is, or would be inserted.
    fn index(&self, slot: usize) -> usize {
        (self.known & ((1u64 << slot) - 1)).count_ones() as usize
    }
}

/// The few distinct policy versions and notice hashes choices were made under, each stored
/// once and referred to by index.
#[derive(Default)]
struct Names {
    versions: Vec<Arc<str>>,
    notices: Vec<Arc<str>>,
    version_index: HashMap<Arc<str>, u32>,
    notice_index: HashMap<Arc<str>, u32>,
}

impl Names {
    fn index(&self, notice: bool) -> &HashMap<Arc<str>, u32> {
        if notice {
            &self.notice_index
        } else {
            &self.version_index
        }
    }
}

/// One choice as recorded: what [`ConsentMemory::record`] takes and [`ConsentMemory::choices`]
/// gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChoice {
    pub slot: usize,
    pub given: bool,
    pub at: i64,
    pub source: Source,
    pub policy_version: Arc<str>,
    pub notice_hash: Option<Arc<str>>,
}

/// What a new choice says, borrowed from the event that carries it.
#[derive(Debug, Clone, Copy)]
pub struct NewChoice<'a> {
    pub given: bool,
    pub at: i64,
    pub source: Source,
    pub policy_version: &'a str,
    pub notice_hash: Option<&'a str>,
}

/// Current consent of every subject, sharded so readers and writers rarely meet.
pub struct ConsentMemory {
    shards: Vec<RwLock<HashMap<Key, Choices, RefHasher>>>,
    names: RwLock<Names>,
}

impl Default for ConsentMemory {
    fn default() -> Self {
        ConsentMemory {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            names: RwLock::default(),
        }
    }
}

fn unpoisoned<T>(r: Result<T, std::sync::PoisonError<T>>) -> T {
    r.unwrap_or_else(|e| e.into_inner())
}

impl ConsentMemory {
    fn shard(&self, k: &Key) -> &RwLock<HashMap<Key, Choices, RefHasher>> {
        &self.shards[k[0] as usize % SHARDS]
    }

    /// The index of a version (`notice == false`) or notice hash, added when new. Versions
    /// beyond 65,535 distinct ones share the last (a policy is published a few times a year;
    /// this is a bound, not a case).
    fn intern(&self, name: &str, notice: bool) -> u32 {
        let found = unpoisoned(self.names.read())
            .index(notice)
            .get(name)
            .copied();
        if let Some(i) = found {
            return i;
        }
        let mut names = unpoisoned(self.names.write());
        if let Some(&i) = names.index(notice).get(name) {
            return i;
        }
        let name: Arc<str> = Arc::from(name);
        let names = &mut *names;
        let (list, index) = if notice {
            (&mut names.notices, &mut names.notice_index)
        } else {
            (&mut names.versions, &mut names.version_index)
        };
        let limit = if notice {
            u32::MAX - 1
        } else {
            u16::MAX as u32
        };
        if list.len() as u32 >= limit {
            return limit - 1;
        }
        list.push(name.clone());
        let i = list.len() as u32 - 1;
        index.insert(name, i);
        i
    }

    /// Records a choice as the subject's current one for `slot`, unless the one held is newer:
    /// the store's rule for its current-state table (`consent_state`), so that memory and
    /// store agree whatever order two racing writes reach memory in, and an import of old
    /// choices changes no current one. Slots above 63 are ignored (a policy has far fewer
    /// consent purposes; `Engine::compile` refuses more).
    pub fn record(&self, subject: SubjectRef, slot: usize, choice: NewChoice<'_>) {
        if slot >= 64 {
            return;
        }
        let detail = Detail {
            at: choice.at,
            notice: choice
                .notice_hash
                .map_or(u32::MAX, |h| self.intern(h, true)),
            version: self.intern(choice.policy_version, false) as u16,
            source: choice.source,
        };
        let k = key(&subject);
        let mut map = unpoisoned(self.shard(&k).write());
        let e = map.entry(k).or_default();
        let bit = 1u64 << slot;
        let i = e.index(slot);
        if e.known & bit != 0 {
            if e.details[i].at > detail.at {
                return;
            }
            e.details[i] = detail;
        } else {
            let mut details = Vec::with_capacity(e.details.len() + 1);
            details.extend_from_slice(&e.details[..i]);
            details.push(detail);
            details.extend_from_slice(&e.details[i..]);
            e.details = details.into_boxed_slice();
            e.known |= bit;
        }
        if choice.given {
            e.given |= bit;
        } else {
            e.given &= !bit;
        }
    }

    /// The subject's current choices, in slot order.
    pub fn choices(&self, subject: &SubjectRef) -> Vec<StoredChoice> {
        let k = key(subject);
        let map = unpoisoned(self.shard(&k).read());
        let Some(e) = map.get(&k) else {
            return Vec::new();
        };
        let names = unpoisoned(self.names.read());
        let mut out = Vec::with_capacity(e.details.len());
        let mut bits = e.known;
        for d in e.details.iter() {
            let slot = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            out.push(StoredChoice {
                slot,
                given: e.given & (1 << slot) != 0,
                at: d.at,
                source: d.source,
                policy_version: names.versions[d.version as usize].clone(),
                notice_hash: names.notices.get(d.notice as usize).cloned(),
            });
        }
        out
    }

    /// Forgets a subject entirely (erasure).
    pub fn forget(&self, subject: &SubjectRef) {
        let k = key(subject);
        unpoisoned(self.shard(&k).write()).remove(&k);
    }

    /// Moves every subject's choices to a new slot layout (a new policy version numbered its
    /// consent purposes differently): `to[old] = Some(new)` keeps a purpose, `None` drops one
    /// the new version no longer has. Each shard is rewritten under its lock.
    pub fn remap(&self, to: &[Option<usize>]) {
        for shard in &self.shards {
            let mut map = unpoisoned(shard.write());
            for c in map.values_mut() {
                let mut moved: Vec<(usize, bool, Detail)> = Vec::with_capacity(c.details.len());
                let mut bits = c.known;
                for d in c.details.iter() {
                    let old = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if let Some(&Some(new)) = to.get(old) {
                        if new < 64 {
                            moved.push((new, c.given & (1 << old) != 0, *d));
                        }
                    }
                }
                moved.sort_by_key(|m| m.0);
                c.known = moved.iter().fold(0, |acc, m| acc | 1 << m.0);
                c.given = moved
                    .iter()
                    .filter(|m| m.1)
                    .fold(0, |acc, m| acc | 1 << m.0);
                c.details = moved.into_iter().map(|m| m.2).collect();
            }
        }
    }

    /// How many subjects have a choice on record.
    pub fn subjects(&self) -> usize {
        self.shards.iter().map(|s| unpoisoned(s.read()).len()).sum()
    }

    /// How many (subject, purpose) choices are held.
    pub fn choices_held(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                unpoisoned(s.read())
                    .values()
                    .map(|c| c.details.len())
                    .sum::<usize>()
            })
            .sum()
    }
}

impl ConsentLookup for ConsentMemory {
    fn status(&self, subject: &SubjectRef, slot: usize) -> ConsentStatus {
        if slot >= 64 {
            return ConsentStatus::Unknown;
        }
        let k = key(subject);
        let map = unpoisoned(self.shard(&k).read());
        match map.get(&k) {
            Some(s) if s.known & (1 << slot) != 0 => {
                if s.given & (1 << slot) != 0 {
                    ConsentStatus::Given
                } else {
                    ConsentStatus::Withdrawn
                }
            }
            _ => ConsentStatus::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice<'a>(
        given: bool,
        at: i64,
        version: &'a str,
        notice: Option<&'a str>,
    ) -> NewChoice<'a> {
        NewChoice {
            given,
            at,
            source: Source::Banner,
            policy_version: version,
            notice_hash: notice,
        }
    }

    #[test]
    fn memory_tracks_given_withdrawn_and_unknown() {
        let m = ConsentMemory::default();
        let a = SubjectRef([1; 32]);
        assert_eq!(m.status(&a, 2), ConsentStatus::Unknown);
        m.record(a, 2, choice(true, 10, "v1", None));
        assert_eq!(m.status(&a, 2), ConsentStatus::Given);
        assert_eq!(m.status(&a, 1), ConsentStatus::Unknown);
        m.record(a, 2, choice(false, 20, "v1", None));
        assert_eq!(m.status(&a, 2), ConsentStatus::Withdrawn);
        m.forget(&a);
        assert_eq!(m.status(&a, 2), ConsentStatus::Unknown);
        assert_eq!(m.subjects(), 0);
    }

    #[test]
    fn choices_come_back_in_slot_order_with_their_facts() {
        let m = ConsentMemory::default();
        let a = SubjectRef([7; 32]);
        m.record(a, 5, choice(true, 50, "v2", Some("sha256:aa")));
        m.record(a, 0, choice(false, 10, "v1", None));
        m.record(a, 63, choice(true, 630, "v1", Some("sha256:bb")));
        m.record(a, 5, choice(false, 55, "v1", Some("sha256:aa")));
        let got = m.choices(&a);
        let summary: Vec<_> = got
            .iter()
            .map(|c| {
                (
                    c.slot,
                    c.given,
                    c.at,
                    c.policy_version.to_string(),
                    c.notice_hash.as_deref().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, false, 10, "v1".into(), None),
                (5, false, 55, "v1".into(), Some("sha256:aa".into())),
                (63, true, 630, "v1".into(), Some("sha256:bb".into())),
            ]
        );
        assert_eq!(m.choices_held(), 3);
        assert!(m.choices(&SubjectRef([8; 32])).is_empty());
    }

    #[test]
    fn a_new_slot_layout_moves_choices_with_their_facts() {
        let m = ConsentMemory::default();
        let a = SubjectRef([5; 32]);
        m.record(a, 0, choice(true, 10, "v1", None));
        m.record(a, 1, choice(true, 11, "v1", None));
        m.record(a, 2, choice(false, 12, "v2", Some("sha256:cc")));
        // Slot 0 goes to 1, slot 1 is dropped, slot 2 goes to 0.
        m.remap(&[Some(1), None, Some(0)]);
        assert_eq!(m.status(&a, 1), ConsentStatus::Given);
        assert_eq!(m.status(&a, 0), ConsentStatus::Withdrawn);
        assert_eq!(m.status(&a, 2), ConsentStatus::Unknown);
        let got: Vec<(usize, i64)> = m.choices(&a).iter().map(|c| (c.slot, c.at)).collect();
        assert_eq!(got, vec![(0, 12), (1, 10)]);
        assert_eq!(m.choices(&a)[0].notice_hash.as_deref(), Some("sha256:cc"));
    }

    #[test]
    fn an_older_choice_does_not_replace_a_newer_one() {
        let m = ConsentMemory::default();
        let a = SubjectRef([9; 32]);
        m.record(a, 3, choice(true, 200, "v1", None));
        m.record(a, 3, choice(false, 100, "v1", None));
        assert_eq!(m.status(&a, 3), ConsentStatus::Given);
        m.record(a, 3, choice(false, 200, "v1", None));
        assert_eq!(
            m.status(&a, 3),
            ConsentStatus::Withdrawn,
            "the later of two at one time"
        );
    }

    #[test]
    fn subjects_apart_in_the_first_16_bytes_are_apart() {
        let m = ConsentMemory::default();
        let mut b = [3; 32];
        let a = SubjectRef(b);
        b[15] = 4;
        let c = SubjectRef(b);
        m.record(a, 1, choice(true, 1, "v1", None));
        assert_eq!(m.status(&c, 1), ConsentStatus::Unknown);
        assert_eq!(m.subjects(), 1);
    }

    #[test]
    fn names_are_stored_once() {
        let m = ConsentMemory::default();
        for i in 0..100u8 {
            m.record(
                SubjectRef([i; 32]),
                0,
                choice(true, 1, "v1", Some("sha256:x")),
            );
        }
        let names = m.names.read().unwrap();
        assert_eq!((names.versions.len(), names.notices.len()), (1, 1));
    }
}
