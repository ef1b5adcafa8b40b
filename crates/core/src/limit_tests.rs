//! The limiter against floods of made-up keys: a locked key stays locked, memory stays
//! bounded, and a refusal's `Retry-After` is never a lie.

use super::*;
use proptest::prelude::*;

const SECOND: i64 = 1_000_000;

fn lim(max: u32, window_micros: i64) -> Limit {
    Limit { max, window_micros }
}

#[test]
fn a_window_allows_its_maximum_then_resets() {
    let mut c = Counter::new(lim(2, 10), 100);
    assert!(c.hit(&"a", 0).is_ok());
    assert!(c.hit(&"a", 1).is_ok());
    assert_eq!(
        c.hit(&"a", 2),
        Err(Refused {
            retry_after_micros: 8
        })
    );
    assert!(c.hit(&"b", 2).is_ok(), "keys are independent");
    assert!(c.hit(&"a", 10).is_ok(), "a new window");
}

#[test]
fn retry_after_is_whole_seconds_and_at_least_one() {
    let r = |m| Refused {
        retry_after_micros: m,
    };
    assert_eq!(r(1).retry_after_seconds(), 1);
    assert_eq!(r(SECOND).retry_after_seconds(), 1);
    assert_eq!(r(SECOND + 1).retry_after_seconds(), 2);
    assert_eq!(r(0).retry_after_seconds(), 1);
}

/// The review's finding: 101,000 made-up keys used to empty the table and forgive a locked
/// sign-in and a spent per-address allowance. Neither is forgiven now, and the table holds
/// no more than its capacity.
#[test]
fn a_flood_of_new_keys_forgives_no_locked_key() {
    let attempts = lim(5, 15 * 60 * SECOND);
    let mut c: Counter<u64> = Counter::new(attempts, DEFAULT_KEYS);
    let (locked, spent) = (u64::MAX, u64::MAX - 1);
    for t in 0..6 {
        let _ = c.hit(&locked, t);
    }
    for t in 0..5 {
        c.hit(&spent, t).unwrap();
    }
    assert!(c.hit(&locked, 10).is_err());
    for k in 0..101_000u64 {
        let _ = c.hit(&k, 100 + k as i64);
        assert!(c.len() <= DEFAULT_KEYS);
    }
    let now = 200_000;
    let refused = c.hit(&locked, now).expect_err("still locked");
    assert!(refused.retry_after_micros >= attempts.window_micros - now);
    assert!(c.hit(&spent, now).is_err(), "the sixth hit is refused");
    assert!(
        c.hit(&locked, attempts.window_micros * 2).is_ok(),
        "forgiven when the window has passed"
    );
}

/// When every key of a flood is itself locked, eviction must let locked keys go: the sketch
/// keeps them locked.
#[test]
fn locked_keys_the_table_lets_go_stay_locked() {
    let l = lim(2, 60 * SECOND);
    let mut c: Counter<u32> = Counter::new(l, 64);
    for k in 0..1_000u32 {
        for _ in 0..3 {
            let _ = c.hit(&k, k as i64);
        }
        assert!(c.len() <= 64);
    }
    for k in 0..1_000u32 {
        assert!(c.hit(&k, 2_000).is_err(), "key {k} was forgiven");
    }
}

#[test]
fn a_flood_of_one_hit_keys_leaves_strangers_their_whole_allowance() {
    let l = lim(3, 60 * SECOND);
    let mut c: Counter<u32> = Counter::new(l, 1_000);
    for k in 0..50_000u32 {
        c.hit(&k, 0).unwrap();
    }
    for stranger in 1_000_000..1_000_100u32 {
        for _ in 0..3 {
            assert!(c.hit(&stranger, 1).is_ok());
        }
        assert!(c.hit(&stranger, 1).is_err());
    }
}

#[test]
fn shared_shards_stay_within_their_capacity() {
    let s: Shared<u32> = Shared::new(lim(3, SECOND), 1_000, 8);
    for k in 0..20_000 {
        assert!(s.hit(&k, 0).is_ok());
    }
    assert!(s.len() <= 1_000);
    let last: Vec<bool> = (0..4).map(|_| s.hit(&19_999, 0).is_ok()).collect();
    assert_eq!(last.last(), Some(&false), "{last:?}");
    assert_eq!(s.limit(), lim(3, SECOND));
}

#[test]
fn clients_are_counted_by_ipv4_address_or_ipv6_64() {
    let k = |s: &str| client_key(s.parse().unwrap());
    assert_eq!(k("192.0.2.7"), k("192.0.2.7"));
    assert_ne!(k("192.0.2.7"), k("192.0.2.8"));
    assert_eq!(k("::ffff:192.0.2.7"), k("192.0.2.7"));
    assert_eq!(k("2001:db8:1:2:aaaa::1"), k("2001:db8:1:2:bbbb::9"));
    assert_eq!(k("2001:db8:1:2:aaaa::1"), k("2001:db8:1:2::"));
    assert_ne!(k("2001:db8:1:2::1"), k("2001:db8:1:3::1"));
}

proptest! {
    /// With a table far too small, whatever the hits: once refused until `t + retry`, a key
    /// is refused at every hit before then.
    #[test]
    fn refusals_hold_however_small_the_table(
        hits in proptest::collection::vec((0u8..12, 0i64..40), 1..400),
        max in 1u32..4,
    ) {
        let mut c: Counter<u8> = Counter::new(lim(max, 100), 3);
        let mut now = 0;
        let mut locked_until = [i64::MIN; 12];
        for (key, step) in hits {
            now += step;
            match c.hit(&key, now) {
                Ok(()) => prop_assert!(
                    now >= locked_until[key as usize],
                    "key {key} allowed at {now} before {}", locked_until[key as usize]
                ),
                Err(r) => {
                    locked_until[key as usize] = locked_until[key as usize].max(now + r.retry_after_micros);
                }
            }
            prop_assert!(c.len() <= 3);
        }
    }

    /// With room for every key, the table is exact: fixed windows, each starting at the first
    /// hit after the last one ended.
    #[test]
    fn with_room_for_every_key_it_counts_exactly(
        hits in proptest::collection::vec((0u8..12, 0i64..40), 1..400),
        max in 1u32..4,
    ) {
        let window = 100;
        let mut c: Counter<u8> = Counter::new(lim(max, window), 12);
        let mut model = [(i64::MIN / 2, 0u32); 12];
        let mut now = 0;
        for (key, step) in hits {
            now += step;
            let m = &mut model[key as usize];
            if now - m.0 >= window {
                *m = (now, 0);
            }
            m.1 += 1;
            prop_assert_eq!(c.hit(&key, now).is_ok(), m.1 <= max);
        }
    }
}
