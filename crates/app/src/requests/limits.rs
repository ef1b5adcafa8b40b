//! Rate limits on request intake, per e-mail address and per client, so the form cannot be
//! used to flood someone's inbox or the DPO's queue.
//!
//! Fixed windows counted in memory: cheap, and good enough per node. Keys are keyed
//! references (never raw addresses) and client IPs, and old windows are dropped as they pass.

use std::collections::HashMap;
use std::sync::Mutex;

/// How many requests one key may make per window.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: u32,
    pub window_micros: i64,
}

/// The intake limits; the defaults suit a public form.
#[derive(Debug, Clone, Copy)]
pub struct IntakeLimits {
    pub per_address: Limit,
    pub per_client: Limit,
}

impl Default for IntakeLimits {
    fn default() -> Self {
        IntakeLimits {
            per_address: Limit {
                max: 5,
                window_micros: 3_600_000_000,
            },
            per_client: Limit {
                max: 60,
                window_micros: 60_000_000,
            },
        }
    }
}

#[derive(Default)]
pub struct Limiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl Limiter {
    /// Counts one use of `key` at `now`; answers whether it is within the limit.
    pub fn allow(&self, key: &str, limit: Limit, now: i64) -> bool {
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now - *start < limit.window_micros);
        }
        let entry = map.entry(key.to_owned()).or_insert((now, 0));
        if now - entry.0 >= limit.window_micros {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= limit.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_maximum_then_resets() {
        let l = Limiter::default();
        let lim = Limit {
            max: 2,
            window_micros: 10,
        };
        assert!(l.allow("a", lim, 0));
        assert!(l.allow("a", lim, 1));
        assert!(!l.allow("a", lim, 2));
        assert!(l.allow("b", lim, 2), "keys are independent");
        assert!(l.allow("a", lim, 10), "a new window");
    }
}
