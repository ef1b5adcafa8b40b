//! Identifiers for new rows, made in one place from the injected clock.
//!
//! Every id is `<prefix>_<time><random>`: fourteen hex digits of the clock's microseconds, then
//! sixteen hex digits of randomness. Ids made later sort later, so new rows land at the end of
//! the indexes on them instead of on random pages (fewer pages written per commit), while the
//! random half keeps them unguessable. Because the time comes from the [`Clock`], a test that
//! moves its clock also moves the ids it gets, and nothing reads the wall clock behind its back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rand::RngCore;

use crate::clock::{Clock, SystemClock};

/// Makes ids; cheap to clone and shared by everything that writes rows.
#[derive(Clone)]
pub struct Ids {
    clock: Arc<dyn Clock>,
    /// `Some` in tests that want ids they can predict: the counter replaces the random half.
    counter: Option<Arc<AtomicU64>>,
}

impl std::fmt::Debug for Ids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ids")
            .field("sequential", &self.counter.is_some())
            .finish()
    }
}

impl Default for Ids {
    fn default() -> Self {
        Ids::new(Arc::new(SystemClock))
    }
}

impl Ids {
    /// Time-ordered, unguessable ids on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Ids {
            clock,
            counter: None,
        }
    }

    /// Ids whose second half counts up from 1 instead of being random: for tests only, since
    /// such ids can be guessed.
    pub fn sequential(clock: Arc<dyn Clock>) -> Self {
        Ids {
            clock,
            counter: Some(Arc::new(AtomicU64::new(0))),
        }
    }

    /// A new id with this prefix, e.g. `rcpt_0005f1c2a3b4c5d6e7f8091a2b3c4d`.
    pub fn next(&self, prefix: &str) -> String {
        let micros = self.clock.now_micros().max(0) as u64;
        let tail = match &self.counter {
            Some(c) => c.fetch_add(1, Ordering::Relaxed) + 1,
            // The thread's generator (ChaCha, seeded and reseeded from the OS): as unguessable
            // as asking the OS each time, without a system call per id.
            None => rand::thread_rng().next_u64(),
        };
        // Written digit by digit: `format!` with its padding machinery was 2 % of a consent
        // write's instructions for its two ids (issue 17).
        let mut id = String::with_capacity(prefix.len() + 31);
        id.push_str(prefix);
        id.push('_');
        push_hex(&mut id, micros & 0x00ff_ffff_ffff_ffff, 14);
        push_hex(&mut id, tail, 16);
        id
    }

    /// The clock these ids are made from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}

/// The low `digits` hex digits of `value`, zero-padded, lower case. (Fourteen digits hold
/// microseconds until the year 4253; the sixteen of the random half hold all of it.)
fn push_hex(out: &mut String, value: u64, digits: u32) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        out.push(DIGITS[((value >> (i * 4)) & 0xf) as usize] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn later_ids_sort_later_and_carry_their_prefix() {
        let clock = ManualClock::at(1_700_000_000_000_000);
        let ids = Ids::new(Arc::new(clock.clone()));
        let a = ids.next("req");
        clock.advance(1);
        let b = ids.next("req");
        assert!(a.starts_with("req_") && b.starts_with("req_"));
        assert_eq!(a.len(), "req_".len() + 30);
        assert!(a < b, "{a} sorts before {b}");
    }

    #[test]
    fn ids_made_in_the_same_microsecond_differ() {
        let clock = ManualClock::at(5);
        let ids = Ids::new(Arc::new(clock));
        let all: std::collections::HashSet<String> = (0..1000).map(|_| ids.next("x")).collect();
        assert_eq!(all.len(), 1000);
    }

    #[test]
    fn sequential_ids_are_predictable() {
        let ids = Ids::sequential(Arc::new(ManualClock::at(16)));
        assert_eq!(ids.next("t"), "t_000000000000100000000000000001");
        assert_eq!(ids.next("t"), "t_000000000000100000000000000002");
    }

    #[test]
    fn ids_are_the_prefix_then_fourteen_and_sixteen_hex_digits() {
        let clock = Arc::new(ManualClock::at(0x0005_f1c2_a3b4_c5d6));
        let ids = Ids::sequential(clock);
        assert_eq!(ids.next("evt"), "evt_05f1c2a3b4c5d60000000000000001");
        assert_eq!(ids.next("rcpt"), "rcpt_05f1c2a3b4c5d60000000000000002");
        let random = Ids::new(Arc::new(ManualClock::at(255))).next("x");
        assert_eq!(random.len(), 2 + 14 + 16);
        assert!(random.starts_with("x_000000000000ff"));
        assert!(random[2..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }
}
