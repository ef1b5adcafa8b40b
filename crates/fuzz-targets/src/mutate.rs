//! A seeded mutation loop for stable Rust, where libFuzzer cannot run: the committed corpus
//! first, then inputs made from it by byte-level mutations (bit flips, boundary bytes,
//! insertions, deletions, repeats, splices, words taken from the corpus), each handed to the
//! target under `catch_unwind`. No coverage feedback, so it finds less than cargo-fuzz in the
//! same time; it is deterministic (the same seed gives the same inputs, in the same order) and
//! bounded, so CI can run it on every change.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// The longest input made: past it, a parser's time is the input's size, not its shape.
const MAX_LEN: usize = 8 * 1024;

/// Bytes that sit on the boundaries of the formats fuzzed here.
const BOUNDARY: &[u8] = b"\0\x01\x7f\x80\xff\"\\{}[]:,;=%\n\r\t '#.-+eE0";

/// xorshift64*: small, fast, and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// How long one target runs: at most this many mutated inputs, and at most this long.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub inputs: usize,
    pub time: Duration,
}

#[derive(Debug)]
pub struct Outcome {
    pub replayed: usize,
    pub mutated: usize,
    pub elapsed: Duration,
}

/// An input that made the target panic, with the panic's message.
#[derive(Debug)]
pub struct Crash {
    pub input: Vec<u8>,
    pub message: String,
}

/// Runs `target` on every input of `corpus`, then on mutated inputs until `budget` is spent;
/// stops at the first panic.
pub fn run(
    target: fn(&[u8]),
    corpus: &[Vec<u8>],
    seed: u64,
    budget: Budget,
) -> Result<Outcome, Crash> {
    let start = Instant::now();
    for input in corpus {
        call(target, input)?;
    }
    let words = words(corpus);
    let mut rng = Rng::new(seed);
    let mut previous: Vec<u8> = Vec::new();
    let mut mutated = 0;
    while mutated < budget.inputs && start.elapsed() < budget.time {
        // Mostly from the corpus; sometimes on from the last mutant, to reach further.
        let mut input = if previous.is_empty() || corpus.is_empty() || rng.below(4) != 0 {
            corpus
                .get(rng.below(corpus.len().max(1)))
                .cloned()
                .unwrap_or_default()
        } else {
            std::mem::take(&mut previous)
        };
        for _ in 0..=rng.below(4) {
            mutate(&mut input, &mut rng, corpus, &words);
        }
        input.truncate(MAX_LEN);
        call(target, &input)?;
        previous = input;
        mutated += 1;
    }
    Ok(Outcome {
        replayed: corpus.len(),
        mutated,
        elapsed: start.elapsed(),
    })
}

fn call(target: fn(&[u8]), input: &[u8]) -> Result<(), Crash> {
    catch_unwind(AssertUnwindSafe(|| target(input))).map_err(|payload| Crash {
        input: input.to_vec(),
        message: payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic without a message".into()),
    })
}

/// The words of the corpus (names, keywords, values), for mutations that insert one.
fn words(corpus: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut words: Vec<Vec<u8>> = corpus
        .iter()
        .flat_map(|input| {
            input
                .split(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-'))
                .filter(|w| (2..=32).contains(&w.len()))
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect();
    words.sort();
    words.dedup();
    words
}

/// One mutation, chosen by `rng`.
fn mutate(input: &mut Vec<u8>, rng: &mut Rng, corpus: &[Vec<u8>], words: &[Vec<u8>]) {
    let len = input.len();
    let at = |rng: &mut Rng| rng.below(len + 1);
    match rng.below(9) {
        0 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            input[i] = BOUNDARY[rng.below(BOUNDARY.len())];
        }
        2 => {
            let i = at(rng);
            input.insert(i, rng.next() as u8);
        }
        3 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below(8.min(len - i));
            input.drain(i..i + n);
        }
        4 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below(16.min(len - i));
            let piece = input[i..i + n].to_vec();
            for _ in 0..=rng.below(3) {
                input.splice(i..i, piece.iter().copied());
            }
        }
        5 if !words.is_empty() => {
            let i = at(rng);
            let word = &words[rng.below(words.len())];
            input.splice(i..i, word.iter().copied());
        }
        6 if !corpus.is_empty() => {
            let other = &corpus[rng.below(corpus.len())];
            let (i, j) = (at(rng), rng.below(other.len() + 1));
            input.truncate(i);
            input.extend_from_slice(&other[j..]);
        }
        7 if len > 0 => {
            let i = rng.below(len);
            for b in input.iter_mut().skip(i).take(1 + rng.below(8)) {
                *b = rng.next() as u8;
            }
        }
        8 => {
            let i = at(rng);
            input.truncate(i);
        }
        _ => input.push(BOUNDARY[rng.below(BOUNDARY.len())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_inputs() {
        static SEEN: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
        fn record(data: &[u8]) {
            SEEN.lock().unwrap().push(data.to_vec());
        }
        let corpus = vec![b"{\"a\": [1, 2]}".to_vec(), b"x=y; z".to_vec()];
        let budget = Budget {
            inputs: 200,
            time: Duration::from_secs(60),
        };
        let first = run(record, &corpus, 7, budget).unwrap();
        let a = std::mem::take(&mut *SEEN.lock().unwrap());
        run(record, &corpus, 7, budget).unwrap();
        let b = std::mem::take(&mut *SEEN.lock().unwrap());
        assert_eq!((first.replayed, first.mutated), (2, 200));
        assert_eq!(a, b);
        assert!(a.iter().collect::<std::collections::BTreeSet<_>>().len() > 150);
    }

    #[test]
    fn a_panic_is_caught_with_its_input() {
        fn picky(data: &[u8]) {
            assert!(!data.contains(&b'!'), "found a !");
        }
        let crash = run(
            picky,
            &[b"hello".to_vec()],
            1,
            Budget {
                inputs: 100_000,
                time: Duration::from_secs(60),
            },
        )
        .unwrap_err();
        assert!(crash.input.contains(&b'!'));
        assert!(crash.message.contains("found a !"));
    }
}
