//! The consent ledger's hash chains: how an event is hashed and linked, and how a chain is
//! verified. Pure functions; the store persists what they compute.
//!
//! Events are spread over [`CHAINS`] independent chains, chosen by the subject reference, so
//! concurrent writers (and several nodes) only contend when they touch the same chain. Each
//! event's hash covers its content, its place (chain, sequence number) and the previous
//! event's hash, so editing, deleting, inserting or reordering any event breaks the chain at
//! that point. A checkpoint hashes every chain head together, so truncating a chain's tail
//! is caught too.

use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::consent::Source;
use crate::subject::SubjectRef;

/// Number of independent chains. Changing it changes which chain new events go to, never
/// how existing ones verify (each event records its chain).
pub const CHAINS: u16 = 16;

/// The "previous hash" of the first event of every chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain a subject's events go to: always the same one, so a subject's history is in
/// order within one chain.
pub fn chain_of(subject: &SubjectRef) -> u16 {
    u16::from_be_bytes([subject.0[0], subject.0[1]]) % CHAINS
}

/// The content of one consent event as it is hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventContent<'a> {
    pub id: &'a str,
    pub subject: &'a SubjectRef,
    pub purpose: &'a str,
    pub given: bool,
    pub source: Source,
    pub policy_version: &'a str,
    pub notice_hash: Option<&'a str>,
    pub ip_truncated: Option<&'a str>,
    pub receipt_id: &'a str,
    pub created_at: i64,
}

/// The hash of an event at a place in a chain. Every field is length-prefixed, so no choice
/// of values can make two different events encode the same bytes.
pub fn event_hash(ev: &EventContent<'_>, chain: u16, seq: i64, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"custodian-consent-v1");
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u32).to_be_bytes());
        h.update(bytes);
    };
    field(ev.id.as_bytes());
    // The subject's hex on the stack: no allocation per event (issue 17).
    let mut subject = [0u8; 64];
    hex::encode_to_slice(ev.subject.0, &mut subject).expect("64 digits for 32 bytes");
    field(&subject);
    field(ev.purpose.as_bytes());
    field(&[ev.given as u8]);
    field(ev.source.as_str().as_bytes());
    field(ev.policy_version.as_bytes());
    field(ev.notice_hash.unwrap_or("\u{0}none").as_bytes());
    field(ev.ip_truncated.unwrap_or("\u{0}none").as_bytes());
    field(ev.receipt_id.as_bytes());
    field(&ev.created_at.to_be_bytes());
    field(&chain.to_be_bytes());
    field(&seq.to_be_bytes());
    field(prev_hash.as_bytes());
    crate::hex::lower(&h.finalize())
}

/// The digest of all chain heads at a moment, as stored in a checkpoint.
pub fn heads_digest(heads: &[(u16, i64, String)]) -> String {
    let mut sorted: Vec<_> = heads.iter().collect();
    sorted.sort_by_key(|(c, ..)| *c);
    let mut h = Sha256::new();
    h.update(b"custodian-checkpoint-v1");
    for (chain, seq, hash) in sorted {
        h.update(chain.to_be_bytes());
        h.update(seq.to_be_bytes());
        h.update(hash.as_bytes());
    }
    crate::hex::lower(&h.finalize())
}

/// What is wrong with a chain, naming the first event where it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error("event {id} (chain {chain}, seq {seq}): its content does not match its hash (edited)")]
    Content { chain: u16, seq: i64, id: String },
    #[error("event {id} (chain {chain}, seq {seq}): it does not link to the previous event (inserted, deleted or reordered)")]
    Link { chain: u16, seq: i64, id: String },
    #[error("event {id} (chain {chain}): sequence number {seq} follows {previous} (a gap: events deleted)")]
    Gap {
        chain: u16,
        seq: i64,
        previous: i64,
        id: String,
    },
    #[error("checkpoint {checkpoint}: chain {chain} had event {seq} with hash {hash}, which the chain no longer holds (truncated or rewritten)")]
    Checkpoint {
        checkpoint: i64,
        chain: u16,
        seq: i64,
        hash: String,
    },
    #[error(
        "checkpoint {checkpoint}: its digest does not match its heads (the checkpoint was edited)"
    )]
    CheckpointDigest { checkpoint: i64 },
}

/// One consent event, the same value from the writer that appends it to the readers that
/// verify, export or answer with it. `L` is its place in the ledger: [`Unlinked`] before the
/// store appends it, a [`Link`] once it has (the store decides the place, so a caller cannot
/// make one up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentEvent<L = Link> {
    pub id: String,
    #[serde(rename = "subject_ref", serialize_with = "subject_hex")]
    pub subject: SubjectRef,
    pub purpose: String,
    pub given: bool,
    pub source: Source,
    pub policy_version: String,
    pub notice_hash: Option<String>,
    pub ip_truncated: Option<String>,
    pub receipt_id: String,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    #[serde(flatten)]
    pub link: L,
}

/// The place of an event not appended yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unlinked;

/// Where an event stands in the ledger: its chain, its sequence number there, the hash of the
/// event before it and its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub chain: u16,
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
}

fn subject_hex<S: Serializer>(subject: &SubjectRef, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&subject.to_hex())
}

impl<L> ConsentEvent<L> {
    /// What the event's hash covers besides its place.
    pub fn content(&self) -> EventContent<'_> {
        EventContent {
            id: &self.id,
            subject: &self.subject,
            purpose: &self.purpose,
            given: self.given,
            source: self.source,
            policy_version: &self.policy_version,
            notice_hash: self.notice_hash.as_deref(),
            ip_truncated: self.ip_truncated.as_deref(),
            receipt_id: &self.receipt_id,
            created_at: self.created_at,
        }
    }

    /// The same event at another place.
    pub fn with_link<M>(self, link: M) -> ConsentEvent<M> {
        ConsentEvent {
            id: self.id,
            subject: self.subject,
            purpose: self.purpose,
            given: self.given,
            source: self.source,
            policy_version: self.policy_version,
            notice_hash: self.notice_hash,
            ip_truncated: self.ip_truncated,
            receipt_id: self.receipt_id,
            created_at: self.created_at,
            link,
        }
    }
}

/// Walks one chain's events in sequence order, checking content and links. Keeps only the
/// running head, so a chain of any length verifies in constant memory.
#[derive(Debug)]
pub struct ChainVerifier {
    chain: u16,
    last_seq: i64,
    last_hash: String,
    pub checked: u64,
}

impl ChainVerifier {
    pub fn new(chain: u16) -> Self {
        ChainVerifier {
            chain,
            last_seq: 0,
            last_hash: GENESIS.to_owned(),
            checked: 0,
        }
    }

    pub fn push(&mut self, ev: &ConsentEvent) -> Result<(), Break> {
        let link = &ev.link;
        let place = || (link.chain, link.seq, ev.id.clone());
        if link.seq != self.last_seq + 1 {
            let (chain, seq, id) = place();
            return Err(Break::Gap {
                chain,
                seq,
                previous: self.last_seq,
                id,
            });
        }
        if link.prev_hash != self.last_hash {
            let (chain, seq, id) = place();
            return Err(Break::Link { chain, seq, id });
        }
        if event_hash(&ev.content(), self.chain, link.seq, &link.prev_hash) != link.hash {
            let (chain, seq, id) = place();
            return Err(Break::Content { chain, seq, id });
        }
        self.last_seq = link.seq;
        self.last_hash = link.hash.clone();
        self.checked += 1;
        Ok(())
    }

    pub fn head(&self) -> (i64, &str) {
        (self.last_seq, &self.last_hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(i: i64) -> ConsentEvent {
        ConsentEvent {
            id: format!("evt_{i}"),
            subject: SubjectRef([0xab; 32]),
            purpose: "marketing".into(),
            given: i % 2 == 0,
            source: Source::Banner,
            policy_version: "v1".into(),
            notice_hash: Some("sha256:00".into()),
            ip_truncated: Some("192.0.2.0".into()),
            receipt_id: format!("rcpt_{i}"),
            created_at: 1_700_000_000_000_000 + i,
            link: Link {
                chain: 3,
                seq: 0,
                prev_hash: String::new(),
                hash: String::new(),
            },
        }
    }

    fn chain(n: i64) -> Vec<ConsentEvent> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = event(seq);
                e.link.seq = seq;
                e.link.prev_hash = prev.clone();
                e.link.hash = event_hash(&e.content(), 3, seq, &prev);
                prev = e.link.hash.clone();
                e
            })
            .collect()
    }

    fn verify(events: &[ConsentEvent]) -> Result<(), Break> {
        let mut v = ChainVerifier::new(3);
        events.iter().try_for_each(|e| v.push(e))
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(20)), Ok(()));
    }

    proptest! {
        #[test]
        fn any_edit_is_caught_at_the_edited_event(n in 2i64..30, at in 0usize..30, what in 0u8..6) {
            let mut events = chain(n);
            let at = at % events.len();
            let e = &mut events[at];
            match what {
                0 => e.given = !e.given,
                1 => e.purpose.push('x'),
                2 => e.created_at += 1,
                3 => e.subject = SubjectRef([0xcd; 32]),
                4 => e.notice_hash = None,
                _ => e.policy_version.push('2'),
            }
            let err = verify(&events).unwrap_err();
            prop_assert_eq!(err, Break::Content { chain: 3, seq: at as i64 + 1, id: format!("evt_{}", at + 1) });
        }

        #[test]
        fn deleting_or_swapping_events_is_caught(n in 3i64..30, at in 0usize..28) {
            let mut events = chain(n);
            let at = at % (events.len() - 1);
            let mut deleted = events.clone();
            deleted.remove(at);
            prop_assert!(verify(&deleted).is_err());
            events.swap(at, at + 1);
            prop_assert!(verify(&events).is_err());
        }
    }

    #[test]
    fn a_rehashed_edit_still_breaks_the_next_link() {
        let mut events = chain(5);
        events[1].given = !events[1].given;
        events[1].link.hash = event_hash(
            &events[1].content(),
            3,
            2,
            &events[1].link.prev_hash.clone(),
        );
        assert!(matches!(verify(&events), Err(Break::Link { seq: 3, .. })));
    }

    #[test]
    fn subjects_keep_to_one_chain_and_chains_spread() {
        let mut seen = std::collections::HashSet::new();
        for i in 0u8..=255 {
            let r = SubjectRef([i; 32]);
            assert_eq!(chain_of(&r), chain_of(&r));
            seen.insert(chain_of(&r));
        }
        assert_eq!(seen.len(), CHAINS as usize);
    }

    #[test]
    fn digest_ignores_order_but_not_content() {
        let a = vec![(0, 1, "a".to_string()), (1, 2, "b".to_string())];
        let b = vec![(1, 2, "b".to_string()), (0, 1, "a".to_string())];
        assert_eq!(heads_digest(&a), heads_digest(&b));
        let c = vec![(0, 1, "a".to_string()), (1, 3, "b".to_string())];
        assert_ne!(heads_digest(&a), heads_digest(&c));
    }
}
