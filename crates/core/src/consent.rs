//! Consent as the service holds it in memory: the current choice per subject and purpose,
//! derived from the ledger's events and updated by every write on its way out, so decisions
//! read consent without touching the database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::decide::{ConsentLookup, ConsentStatus};
use crate::subject::SubjectRef;

/// Where a consent event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Banner,
    PrivacyCenter,
    Api,
    Import,
    /// A Global Privacy Control signal (`Sec-GPC: 1`).
    Gpc,
    /// A one-click unsubscribe link (RFC 8058).
    Unsubscribe,
    /// Carried over when a device was linked to an account.
    Link,
    /// A click-to-load placeholder of an embedded widget.
    Widget,
    Signup,
    Survey,
    /// A data-subject request (an objection withdraws marketing).
    Request,
}

impl Source {
    pub const ALL: [Source; 11] = [
        Source::Banner,
        Source::PrivacyCenter,
        Source::Api,
        Source::Import,
        Source::Gpc,
        Source::Unsubscribe,
        Source::Link,
        Source::Widget,
        Source::Signup,
        Source::Survey,
        Source::Request,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Banner => "banner",
            Source::PrivacyCenter => "privacy_center",
            Source::Api => "api",
            Source::Import => "import",
            Source::Gpc => "gpc",
            Source::Unsubscribe => "unsubscribe",
            Source::Link => "link",
            Source::Widget => "widget",
            Source::Signup => "signup",
            Source::Survey => "survey",
            Source::Request => "request",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The sources a caller may name when recording through the API (`POST /v1/consent`). The
    /// others Custodian sets itself, each from its own entry point: a GPC signal, a device
    /// link, an unsubscribe link, a data-subject request.
    pub const CALLER_CHOSEN: [Source; 7] = [
        Source::Banner,
        Source::PrivacyCenter,
        Source::Api,
        Source::Import,
        Source::Widget,
        Source::Signup,
        Source::Survey,
    ];

    /// A source a caller may name ([`Source::CALLER_CHOSEN`]).
    pub fn parse_caller_chosen(s: &str) -> Option<Source> {
        Source::CALLER_CHOSEN.into_iter().find(|x| x.as_str() == s)
    }
}

/// One choice to record: the purpose, whether it is given, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub purpose: String,
    pub given: bool,
    pub source: Source,
}

/// The Global Privacy Control rule: with a `Sec-GPC: 1` signal, every purpose the policy marks
/// `gpc_opt_out` (sale, sharing, targeted advertising) is refused whatever else was chosen,
/// and recorded with source `gpc`. Answers whether the signal applied to any purpose.
pub fn honour_gpc<'a>(
    choices: &mut Vec<Wanted>,
    gpc_purposes: impl IntoIterator<Item = &'a str>,
) -> bool {
    let mut honoured = false;
    for p in gpc_purposes {
        match choices.iter_mut().find(|c| c.purpose == p) {
            Some(c) => {
                c.given = false;
                c.source = Source::Gpc;
            }
            None => choices.push(Wanted {
                purpose: p.to_owned(),
                given: false,
                source: Source::Gpc,
            }),
        }
        honoured = true;
    }
    honoured
}

/// Truncates an address before it is stored: IPv4 to its /24, IPv6 to its /48. The seed
/// promises European visitors that their IP address is never stored whole; we do it for all.
pub fn truncate_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0")
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => truncate_ip(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}::", s[0], s[1], s[2])
            }
        },
    }
}

/// One subject's choices as two bitsets over consent slots: which are known, which given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slots {
    known: u64,
    given: u64,
}

const SHARDS: usize = 32;

/// Current consent of every subject, sharded so readers and the writer rarely meet.
pub struct ConsentMemory {
    shards: Vec<RwLock<HashMap<SubjectRef, Slots>>>,
}

impl Default for ConsentMemory {
    fn default() -> Self {
        ConsentMemory {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }
}

impl ConsentMemory {
    fn shard(&self, s: &SubjectRef) -> &RwLock<HashMap<SubjectRef, Slots>> {
        &self.shards[s.0[31] as usize % SHARDS]
    }

    /// Records a choice. Slots above 63 are ignored (a policy has far fewer consent purposes;
    /// `Engine::compile` refuses more).
    pub fn set(&self, subject: SubjectRef, slot: usize, given: bool) {
        if slot >= 64 {
            return;
        }
        let mut map = self
            .shard(&subject)
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let e = map.entry(subject).or_default();
        e.known |= 1 << slot;
        if given {
            e.given |= 1 << slot;
        } else {
            e.given &= !(1 << slot);
        }
    }

    /// Forgets a subject entirely (erasure).
    pub fn forget(&self, subject: &SubjectRef) {
        self.shard(subject)
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(subject);
    }

    /// Moves every subject's choices to a new slot layout (a new policy version numbered its
    /// consent purposes differently): `to[old] = Some(new)` keeps a purpose, `None` drops one
    /// the new version no longer has. Each shard is rewritten under its lock.
    pub fn remap(&self, to: &[Option<usize>]) {
        let moved = |bits: u64| {
            to.iter().enumerate().fold(0u64, |acc, (old, new)| match new {
                Some(n) if *n < 64 && old < 64 && bits & (1 << old) != 0 => acc | (1 << n),
                _ => acc,
            })
        };
        for shard in &self.shards {
            let mut map = shard.write().unwrap_or_else(|e| e.into_inner());
            for s in map.values_mut() {
                *s = Slots {
                    known: moved(s.known),
                    given: moved(s.given),
                };
            }
        }
    }

    pub fn subjects(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

impl ConsentLookup for ConsentMemory {
    fn status(&self, subject: &SubjectRef, slot: usize) -> ConsentStatus {
        if slot >= 64 {
            return ConsentStatus::Unknown;
        }
        let map = self
            .shard(subject)
            .read()
            .unwrap_or_else(|e| e.into_inner());
        match map.get(subject) {
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

    #[test]
    fn memory_tracks_given_withdrawn_and_unknown() {
        let m = ConsentMemory::default();
        let a = SubjectRef([1; 32]);
        assert_eq!(m.status(&a, 2), ConsentStatus::Unknown);
        m.set(a, 2, true);
        assert_eq!(m.status(&a, 2), ConsentStatus::Given);
        assert_eq!(m.status(&a, 1), ConsentStatus::Unknown);
        m.set(a, 2, false);
        assert_eq!(m.status(&a, 2), ConsentStatus::Withdrawn);
        m.forget(&a);
        assert_eq!(m.status(&a, 2), ConsentStatus::Unknown);
        assert_eq!(m.subjects(), 0);
        // A new layout: slot 0 goes to 1, slot 1 is dropped, slot 2 goes to 0.
        m.set(a, 0, true);
        m.set(a, 1, true);
        m.set(a, 2, false);
        m.remap(&[Some(1), None, Some(0)]);
        assert_eq!(m.status(&a, 1), ConsentStatus::Given);
        assert_eq!(m.status(&a, 0), ConsentStatus::Withdrawn);
        assert_eq!(m.status(&a, 2), ConsentStatus::Unknown);
    }

    #[test]
    fn ips_are_truncated() {
        assert_eq!(truncate_ip("203.0.113.77".parse().unwrap()), "203.0.113.0");
        assert_eq!(
            truncate_ip("2001:db8:abcd:12::1".parse().unwrap()),
            "2001:db8:abcd::"
        );
        assert_eq!(
            truncate_ip("::ffff:198.51.100.9".parse().unwrap()),
            "198.51.100.0"
        );
    }

    #[test]
    fn sources_round_trip() {
        for s in Source::ALL {
            assert_eq!(Source::parse(s.as_str()), Some(s));
        }
        assert_eq!(Source::parse("telepathy"), None);
    }

    #[test]
    fn gpc_refuses_its_purposes_whatever_was_chosen_and_says_so() {
        let mut choices = vec![
            Wanted {
                purpose: "advertising".into(),
                given: true,
                source: Source::Banner,
            },
            Wanted {
                purpose: "analytics".into(),
                given: true,
                source: Source::Banner,
            },
        ];
        assert!(honour_gpc(&mut choices, ["advertising", "sale"]));
        assert_eq!(
            choices,
            vec![
                Wanted {
                    purpose: "advertising".into(),
                    given: false,
                    source: Source::Gpc,
                },
                Wanted {
                    purpose: "analytics".into(),
                    given: true,
                    source: Source::Banner,
                },
                Wanted {
                    purpose: "sale".into(),
                    given: false,
                    source: Source::Gpc,
                },
            ]
        );
        assert!(!honour_gpc(&mut choices, []));
    }

    #[test]
    fn callers_name_only_their_own_sources() {
        for s in [
            "banner",
            "privacy_center",
            "api",
            "import",
            "widget",
            "signup",
            "survey",
        ] {
            assert!(Source::parse_caller_chosen(s).is_some(), "{s}");
        }
        for s in ["gpc", "link", "unsubscribe", "request", "nonsense"] {
            assert!(Source::parse_caller_chosen(s).is_none(), "{s}");
        }
    }
}
