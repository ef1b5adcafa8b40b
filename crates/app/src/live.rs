//! [`Live<T>`]: a value the background pass can replace while every reader keeps a plain
//! `&T` — how the policy, its compiled engine and what depends on them change when a scheduled
//! version takes effect, without a restart and without a lock on the decision path.
//!
//! Each value ever made current stays alive in one of a fixed number of slots until the
//! context is dropped (a reader may hold a reference to it), so a reference never dangles and
//! no `unsafe` is needed: a read is one atomic load and a `OnceLock` lookup. A process takes
//! [`GENERATIONS`] values at most (policy versions a year are a handful); past that,
//! [`Live::replace`] refuses and the new version governs after a restart.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// How many values one `Live` can hold over a process's life.
pub const GENERATIONS: usize = 64;

pub struct Live<T> {
    slots: Box<[OnceLock<T>]>,
    current: AtomicUsize,
    /// The next free slot; taken under the lock so two replacements never share one.
    next: Mutex<usize>,
}

/// Every slot is used: the new value must wait for a restart.
#[derive(Debug, thiserror::Error)]
#[error("this process has already taken {GENERATIONS} versions; restart it to take more")]
pub struct Full;

impl<T> Live<T> {
    pub fn new(value: T) -> Live<T> {
        let slots: Box<[OnceLock<T>]> = (0..GENERATIONS).map(|_| OnceLock::new()).collect();
        let _ = slots[0].set(value);
        Live {
            slots,
            current: AtomicUsize::new(0),
            next: Mutex::new(1),
        }
    }

    /// Makes `value` current; readers that already hold the old one keep it.
    pub fn replace(&self, value: T) -> Result<(), Full> {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let slot = self.slots.get(*next).ok_or(Full)?;
        if slot.set(value).is_err() {
            return Err(Full);
        }
        self.current.store(*next, Ordering::Release);
        *next += 1;
        Ok(())
    }

    /// How many replacements are left.
    pub fn room(&self) -> usize {
        GENERATIONS - *self.next.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> std::ops::Deref for Live<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // A slot is set before it is published (Release/Acquire), so it is always there.
        self.slots[self.current.load(Ordering::Acquire)]
            .get()
            .expect("the current slot is set before it is published")
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Live").field(&**self).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_keep_what_they_hold_and_see_the_new_value_next() {
        let live = Live::new(String::from("v1"));
        let held: &String = &live;
        live.replace("v2".into()).expect("room");
        assert_eq!(held, "v1");
        assert_eq!(&*live, "v2");
        assert_eq!(live.room(), GENERATIONS - 2);
        for i in 0..live.room() {
            live.replace(format!("v{}", i + 3)).expect("room");
        }
        assert!(live.replace("one too many".into()).is_err());
        assert_eq!(*live, format!("v{GENERATIONS}"));
    }
}
