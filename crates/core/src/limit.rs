//! Rate limits that hold under floods of keys.
//!
//! A limit counts hits per key in fixed windows (`max` per `window_micros`). The table of
//! counts is bounded, so someone who can make up keys (many addresses, many e-mail addresses)
//! cannot grow it without end — and, what matters more, cannot empty it: a key whose allowance
//! is spent that the table must let go of is folded into a small count-min sketch that only
//! ever over-counts, and comes back from it spent. A flood can make a stranger look spent
//! only if it has spent keys in every one of the stranger's cells; it never makes a spent or
//! locked key look forgiven.
//!
//! - **Eviction** is fair and cheap: a few slots sampled at random, the victim the one whose
//!   window has passed, else the one with the fewest hits, else the one closest to being
//!   forgiven. A flood of fresh keys evicts fresh keys; a key with allowance left that is
//!   evicted anyway starts again, which costs the flood thousands of hits per hit it gains.
//! - **The sketch** keeps, per cell, the largest count and the latest window start of the spent
//!   keys folded into it (a max, not a sum: each cell is an upper bound of every key that lands
//!   in it, and counts never ratchet up by being passed from key to key). A key's estimate is
//!   its cells' least count with that cell's start, so both its count and the end of its
//!   window are at least the truth. The sketch is allocated on the first fold only.
//! - **Time** is passed in (microseconds, the app's clock); nothing here reads a clock.
//!
//! [`Shared`] spreads one limit over shards behind their own locks, so concurrent callers
//! rarely wait on each other and a hit allocates nothing once the shard's table has grown.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;

/// How many hits one key may make per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window_micros: i64,
}

/// A refused hit: when the key's window ends, so the caller can say `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after_micros: i64,
}

impl Refused {
    /// Whole seconds to wait, at least one (HTTP `Retry-After`, RFC 9110 §10.2.3).
    pub fn retry_after_seconds(&self) -> u64 {
        (self.retry_after_micros.max(1) as u64).div_ceil(1_000_000)
    }
}

/// Keys a table holds by default before it evicts (per limit, across its shards).
pub const DEFAULT_KEYS: usize = 100_000;

/// Slots looked at to choose a victim: enough that a locked key is rarely the least of them.
const SAMPLE: usize = 8;
/// Rows of the sketch; a stranger is over-counted only when it meets a busy key in each.
const DEPTH: usize = 4;

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    start: i64,
    count: u32,
}

impl Window {
    fn live(&self, now: i64, limit: Limit) -> bool {
        now.saturating_sub(self.start) < limit.window_micros
            && now >= self.start - limit.window_micros
    }
}

/// One limit's counts: a bounded table with a sketch for what it let go of.
pub struct Counter<K> {
    limit: Limit,
    capacity: usize,
    slots: Vec<(K, Window)>,
    index: HashMap<K, usize>,
    sketch: Vec<Window>,
    width_mask: usize,
    hasher: RandomState,
    rng: u64,
}

impl<K: Hash + Eq + Clone> Counter<K> {
    /// A counter of `limit` holding at most `capacity` keys (at least one).
    pub fn new(limit: Limit, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let width = (capacity / DEPTH).next_power_of_two().max(64);
        let hasher = RandomState::new();
        // Any odd seed does; drawing it from the hasher's random keys keeps victims unpredictable.
        let rng = hasher.hash_one(0x5eed_u64) | 1;
        Counter {
            limit,
            capacity,
            slots: Vec::new(),
            index: HashMap::new(),
            sketch: Vec::new(),
            width_mask: width - 1,
            hasher,
            rng,
        }
    }

    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// Keys held in the table now (never more than the capacity).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Counts one hit of `key` at `now`; refused past the limit's maximum in its window.
    pub fn hit(&mut self, key: &K, now: i64) -> Result<(), Refused> {
        let limit = self.limit;
        let i = match self.index.get(key) {
            Some(i) => *i,
            None => self.admit(key, now),
        };
        let w = &mut self.slots[i].1;
        if !w.live(now, limit) {
            *w = Window {
                start: now,
                count: 0,
            };
        }
        w.count = w.count.saturating_add(1);
        if w.count <= limit.max {
            Ok(())
        } else {
            Err(Refused {
                retry_after_micros: (w.start + limit.window_micros - now).max(1),
            })
        }
    }

    /// Puts `key` in the table (evicting one key when it is full), starting from what the
    /// sketch remembers of it; answers its slot.
    fn admit(&mut self, key: &K, now: i64) -> usize {
        if self.slots.len() >= self.capacity {
            self.evict(now);
        }
        let start = self.estimate(key, now).unwrap_or(Window {
            start: now,
            count: 0,
        });
        self.slots.push((key.clone(), start));
        self.index.insert(key.clone(), self.slots.len() - 1);
        self.slots.len() - 1
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: victims need only be unpredictable to whoever sends the keys.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn evict(&mut self, now: i64) {
        let limit = self.limit;
        let len = self.slots.len();
        let mut victim = (self.next_random() as usize) % len;
        for _ in 1..SAMPLE.min(len) {
            let other = (self.next_random() as usize) % len;
            if Self::rank(&self.slots[other].1, now, limit)
                < Self::rank(&self.slots[victim].1, now, limit)
            {
                victim = other;
            }
        }
        let (key, window) = self.slots.swap_remove(victim);
        self.index.remove(&key);
        if let Some((moved, _)) = self.slots.get(victim) {
            *self.index.get_mut(moved).expect("every slot is indexed") = victim;
        }
        if window.live(now, limit) && window.count > 0 && window.count >= limit.max {
            self.fold(&key, window, now);
        }
    }

    /// Which slot goes first: a passed window, then the fewest hits, then the earliest end.
    fn rank(w: &Window, now: i64, limit: Limit) -> (bool, u32, i64) {
        (w.live(now, limit), w.count, w.start)
    }

    fn cells(&self, key: &K) -> [usize; DEPTH] {
        let h = self.hasher.hash_one(key);
        let (h1, h2) = (h as usize, ((h >> 32) as usize) | 1);
        let width = self.width_mask + 1;
        std::array::from_fn(|row| {
            row * width + (h1.wrapping_add(row.wrapping_mul(h2)) & self.width_mask)
        })
    }

    fn fold(&mut self, key: &K, w: Window, now: i64) {
        if self.sketch.is_empty() {
            self.sketch = vec![Window::default(); DEPTH * (self.width_mask + 1)];
        }
        let limit = self.limit;
        for c in self.cells(key) {
            let cell = &mut self.sketch[c];
            *cell = if cell.count > 0 && cell.live(now, limit) {
                Window {
                    start: cell.start.max(w.start),
                    count: cell.count.max(w.count),
                }
            } else {
                w
            };
        }
    }

    /// What the sketch remembers of `key`: at least its count, and a start no earlier than
    /// its window's, when it was let go of spent; nothing once any of its cells has let its
    /// window pass.
    fn estimate(&self, key: &K, now: i64) -> Option<Window> {
        if self.sketch.is_empty() {
            return None;
        }
        let mut least: Option<Window> = None;
        for c in self.cells(key) {
            let cell = self.sketch[c];
            if cell.count == 0 || !cell.live(now, self.limit) {
                return None;
            }
            if least.is_none_or(|l| cell.count < l.count) {
                least = Some(cell);
            }
        }
        least
    }
}

/// One limit shared by many tasks: shards of [`Counter`], each behind its own lock.
pub struct Shared<K> {
    shards: Box<[Mutex<Counter<K>>]>,
    hasher: RandomState,
}

impl<K: Hash + Eq + Clone> Shared<K> {
    /// `limit` over `shards` shards holding `capacity` keys in all.
    pub fn new(limit: Limit, capacity: usize, shards: usize) -> Self {
        let shards = shards.max(1);
        Shared {
            shards: (0..shards)
                .map(|_| Mutex::new(Counter::new(limit, capacity.div_ceil(shards))))
                .collect(),
            hasher: RandomState::new(),
        }
    }

    pub fn limit(&self) -> Limit {
        self.lock(0).limit()
    }

    fn lock(&self, shard: usize) -> std::sync::MutexGuard<'_, Counter<K>> {
        // A panic while counting leaves counts that are still counts.
        self.shards[shard].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one hit of `key` at `now` (see [`Counter::hit`]).
    pub fn hit(&self, key: &K, now: i64) -> Result<(), Refused> {
        let shard = (self.hasher.hash_one(key) as usize) % self.shards.len();
        self.lock(shard).hit(key, now)
    }

    /// Keys held in all shards now.
    pub fn len(&self) -> usize {
        (0..self.shards.len()).map(|s| self.lock(s).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The key a client address is counted under: an IPv4 address as it is (also when it arrives
/// mapped into IPv6), an IPv6 address by its /64 — the smallest block one subscriber is
/// usually given (RFC 6177), so one household cannot make up keys by changing its interface id.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

#[cfg(test)]
#[path = "limit_tests.rs"]
mod tests;
