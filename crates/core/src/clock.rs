//! Time as a dependency, so tests can move the clock (seven years ahead, past a deadline)
//! instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Microseconds since the Unix epoch.
pub type Micros = i64;

pub trait Clock: Send + Sync + 'static {
    fn now_micros(&self) -> Micros;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> Micros {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(micros: Micros) -> Self {
        ManualClock(Arc::new(AtomicI64::new(micros)))
    }

    pub fn set(&self, micros: Micros) {
        self.0.store(micros, Ordering::SeqCst);
    }

    pub fn advance(&self, micros: Micros) {
        self.0.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> Micros {
        self.0.load(Ordering::SeqCst)
    }
}

/// A stored time as a `jiff::Timestamp` (times outside jiff's range, which no clock gives,
/// become the epoch).
pub fn timestamp(micros: Micros) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(micros).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// RFC 3339 rendering of a timestamp, for receipts and API answers.
pub fn rfc3339(micros: Micros) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| micros.to_string())
}
