//! The rate limits of the public doors — request intake, privacy-centre sign-in codes, the
//! console's sign-in and anonymous consent writes — so no form or endpoint can be used to
//! flood someone's inbox, the DPO's queue or the ledger.
//!
//! Counting is `core::limit`: bounded tables that a flood of made-up keys can neither grow
//! without end nor empty. Keys are only what a caller cannot make up for free: the client's
//! address (its /64 for IPv6, `core::limit::client_key`) and the keyed reference of the person
//! asked about — never a value from a cookie or form that nothing has checked. Counts are per
//! node; a refusal says when to come back (`Retry-After`).

use std::net::IpAddr;

pub use custodian_core::limit::Limit;
use custodian_core::limit::{client_key, Refused, Shared, DEFAULT_KEYS};
use custodian_core::subject::SubjectRef;

use crate::error::AppError;

const MINUTE: i64 = 60_000_000;

/// The limits `serve` sets; the defaults suit a public form and a public banner.
#[derive(Debug, Clone, Copy)]
pub struct IntakeLimits {
    /// Requests (and sign-in codes) per e-mail address.
    pub per_address: Limit,
    /// Requests (and sign-in codes, and code tries) per client.
    pub per_client: Limit,
    /// Anonymous consent writes per client and second; 0 turns the limit off (benchmarks).
    pub consent_per_client: u32,
}

/// Consent writes one client address may make per second by default. A person makes one
/// write per choice; a thousand people behind one address choosing in the same minute make
/// about 17 a second, while one script made 4,287 (issue 15).
pub const CONSENT_PER_CLIENT: u32 = 20;

impl Default for IntakeLimits {
    fn default() -> Self {
        IntakeLimits {
            per_address: Limit {
                max: 5,
                window_micros: 60 * MINUTE,
            },
            per_client: Limit {
                max: 60,
                window_micros: MINUTE,
            },
            consent_per_client: CONSENT_PER_CLIENT,
        }
    }
}

/// Shards of the consent limit: it is on the banner's path, so callers should rarely wait
/// on one another's lock.
const CONSENT_SHARDS: usize = 32;
/// Shards of the limits on rarer paths.
const SHARDS: usize = 4;

/// Every limit's counts, one table per limit (a flood against one cannot crowd out another).
pub struct Limiters {
    intake_client: Shared<IpAddr>,
    intake_address: Shared<SubjectRef>,
    signin_client: Shared<IpAddr>,
    signin_address: Shared<SubjectRef>,
    code_client: Shared<IpAddr>,
    console_client: Shared<IpAddr>,
    consent_client: Option<Shared<IpAddr>>,
}

fn table<K: std::hash::Hash + Eq + Clone>(limit: Limit) -> Shared<K> {
    Shared::new(limit, DEFAULT_KEYS, SHARDS)
}

fn refused(code: &'static str, detail: &'static str) -> impl FnOnce(Refused) -> AppError {
    move |r| AppError::rate_limited_for(code, detail, r.retry_after_seconds())
}

impl Limiters {
    pub fn new(limits: &IntakeLimits) -> Self {
        Limiters {
            intake_client: table(limits.per_client),
            intake_address: table(limits.per_address),
            signin_client: table(limits.per_client),
            signin_address: table(limits.per_address),
            code_client: table(limits.per_client),
            console_client: table(crate::sessions::PER_CLIENT),
            consent_client: (limits.consent_per_client > 0).then(|| {
                Shared::new(
                    Limit {
                        max: limits.consent_per_client,
                        window_micros: 1_000_000,
                    },
                    DEFAULT_KEYS,
                    CONSENT_SHARDS,
                )
            }),
        }
    }

    /// A data-subject request: per client (when known) and per address.
    pub fn intake(
        &self,
        client: Option<IpAddr>,
        subject: &SubjectRef,
        now: i64,
    ) -> Result<(), AppError> {
        if let Some(ip) = client {
            self.intake_client
                .hit(&client_key(ip), now)
                .map_err(refused(
                    "rate_limited",
                    "too many requests from this client; try again in a minute",
                ))?;
        }
        self.intake_address.hit(subject, now).map_err(refused(
            "rate_limited",
            "too many requests for this address; try again later",
        ))
    }

    /// A privacy-centre sign-in code mailed: per client and per address, as intake.
    pub fn sign_in_code(
        &self,
        client: Option<IpAddr>,
        subject: &SubjectRef,
        now: i64,
    ) -> Result<(), AppError> {
        if let Some(ip) = client {
            self.signin_client
                .hit(&client_key(ip), now)
                .map_err(refused(
                    "rate_limited",
                    "too many sign-in codes; try again later",
                ))?;
        }
        self.signin_address.hit(subject, now).map_err(refused(
            "rate_limited",
            "too many sign-in codes; try again later",
        ))
    }

    /// A sign-in code typed in, per client (the tries per code are counted in the store).
    pub fn code_try(&self, client: Option<IpAddr>, now: i64) -> Result<(), AppError> {
        match client {
            Some(ip) => self.code_client.hit(&client_key(ip), now).map_err(refused(
                "too_many_attempts",
                "too many codes tried from this client; try again later",
            )),
            None => Ok(()),
        }
    }

    /// A console sign-in attempt, per client (the lock per address is in the store).
    pub fn console(&self, client: Option<IpAddr>, now: i64) -> Result<(), AppError> {
        match client {
            Some(ip) => self
                .console_client
                .hit(&client_key(ip), now)
                .map_err(refused(
                    "rate_limited",
                    "too many sign-in attempts from here; try again in a few minutes",
                )),
            None => Ok(()),
        }
    }

    /// An anonymous consent write, per client, when the limit is on.
    pub fn consent(&self, client: Option<IpAddr>, now: i64) -> Result<(), AppError> {
        match (&self.consent_client, client) {
            (Some(table), Some(ip)) => table.hit(&client_key(ip), now).map_err(refused(
                "rate_limited",
                "too many consent writes from this client; slow down",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn consent_writes_are_limited_per_client_and_second_and_zero_turns_it_off() {
        let l = Limiters::new(&IntakeLimits {
            consent_per_client: 3,
            ..Default::default()
        });
        for _ in 0..3 {
            l.consent(ip("192.0.2.1"), 0).unwrap();
        }
        let e = l.consent(ip("192.0.2.1"), 400_000).unwrap_err();
        assert!(
            matches!(
                e,
                AppError::RateLimited {
                    retry_after_seconds: 1,
                    ..
                }
            ),
            "{e:?}"
        );
        l.consent(ip("192.0.2.2"), 400_000).unwrap();
        l.consent(ip("192.0.2.1"), 1_000_000).unwrap();
        l.consent(None, 0).unwrap();
        let off = Limiters::new(&IntakeLimits {
            consent_per_client: 0,
            ..Default::default()
        });
        for _ in 0..1_000 {
            off.consent(ip("192.0.2.1"), 0).unwrap();
        }
    }

    #[test]
    fn a_flood_of_addresses_does_not_reset_one_addresss_intake_limit() {
        let l = Limiters::new(&IntakeLimits::default());
        let target = SubjectRef([7; 32]);
        for t in 0..5 {
            l.intake(None, &target, t).unwrap();
        }
        for k in 0..101_000u32 {
            let mut r = [0u8; 32];
            r[..4].copy_from_slice(&k.to_be_bytes());
            let _ = l.intake(None, &SubjectRef(r), 10 + i64::from(k));
        }
        assert!(l.intake(None, &target, 200_000).is_err());
    }

    /// The review's scenario (issue 15): 101,000 made-up keys reset a spent sign-in
    /// allowance and a client's limit. Neither is reset now.
    #[test]
    fn a_flood_of_keys_resets_neither_a_spent_sign_in_nor_a_client() {
        let l = Limiters::new(&IntakeLimits::default());
        let (target, attacker) = (SubjectRef([9; 32]), ip("198.51.100.7"));
        for t in 0..5 {
            l.sign_in_code(None, &target, t).unwrap();
        }
        for t in 0..60 {
            l.code_try(attacker, t).unwrap();
        }
        for k in 0..101_000u32 {
            let mut r = [0u8; 32];
            r[..4].copy_from_slice(&k.to_be_bytes());
            let _ = l.sign_in_code(None, &SubjectRef(r), 100);
            let _ = l.code_try(Some(IpAddr::from(k.to_be_bytes())), 100);
        }
        assert!(l.sign_in_code(None, &target, 1_000).is_err());
        let e = l.code_try(attacker, 1_000).unwrap_err();
        assert_eq!(e.code(), "too_many_attempts");
    }
}
