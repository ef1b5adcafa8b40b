//! Consent's domain rules: where a choice came from, what a Global Privacy Control signal
//! does, how much of an address is kept — and, in [`memory`], every subject's current choices
//! as the service holds them, derived from the ledger and updated by every write on its way
//! out, so decisions and reads never touch the database.

mod memory;

pub use memory::{ConsentMemory, ImageError, ImageHeader, NewChoice, StoredChoice};

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

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
            // Digit by digit: `format!` was 1 % of a consent write's CPU (issue 17).
            let mut out = String::with_capacity(15);
            for octet in &v4.octets()[..3] {
                if *octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if *octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
                out.push('.');
            }
            out.push('0');
            out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_are_truncated() {
        assert_eq!(truncate_ip("203.0.113.77".parse().unwrap()), "203.0.113.0");
        for (ip, kept) in [
            ("0.0.0.0", "0.0.0.0"),
            ("9.10.99.1", "9.10.99.0"),
            ("100.200.255.255", "100.200.255.0"),
            ("::ffff:10.1.2.3", "10.1.2.0"),
        ] {
            assert_eq!(truncate_ip(ip.parse().unwrap()), kept);
        }
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
