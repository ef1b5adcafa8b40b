//! Which subjects the stored consent state may hold: a Bloom filter the SQLite consent writer
//! asks before it looks a subject up in `consent_state`.
//!
//! Why: every event records the choice in force before it (`prior_given`, migration 0022),
//! and for a subject the writer's tail does not hold, that choice was one lookup of the state's
//! key — a descent of a B-tree keyed by a random hash, whose leaves mostly are not in the
//! writer's cache. Most consent writes are a new device's first choice, for which the lookup
//! finds nothing: under a stream of such writes it was a fifth of the writer's CPU, 8 % of a
//! write's (issue 17, docs/benchmarks.md, twelfth sitting). A filter answers "certainly not
//! there" from memory; a false "maybe" costs only the lookup it replaces.
//!
//! What keeps it whole: every row of `consent_state` comes from an event of the ledger (the
//! writer's folds, a reader's fold in SQL, an append through the pool), so the filter holds
//! the subject of every event up to [`KnownSubjects::through`]. It is built from the state and
//! the ledger's tail when the writer opens; the writer adds its own events as it commits them,
//! and before each batch, under the write lock, the subjects of whatever another process
//! appended since (ledger positions only grow: `AUTOINCREMENT`). Removals (an erasure, a purge)
//! leave their bits set, which costs a lookup, never a wrong answer.
//!
//! A blocked Bloom filter: each subject sets [`PROBES`] bits in one 512-bit block (one cache
//! line read per question), 16 bits per subject of capacity — about one false "maybe" in a
//! thousand. It grows in stages, each twice the last, rather than being rebuilt, since the
//! subjects it was built from are not kept: 2 bytes a subject at capacity, 4 at worst.

use custodian_core::subject::SubjectRef;
use rusqlite::{params, Connection};

/// Bits set per subject, within its block.
const PROBES: u32 = 7;
/// Bits of the filter per subject it is sized for.
const BITS_PER_SUBJECT: usize = 16;
/// The first stage's capacity in subjects; each later one holds twice the one before.
const FIRST_STAGE: usize = 1 << 16;

type Block = [u64; 8];

/// The filter, and how far into the ledger it has taken subjects in.
pub(crate) struct KnownSubjects {
    stages: Vec<Stage>,
    /// The last ledger position (`gseq`) whose event's subject is in the filter, with every one
    /// before it.
    through: i64,
}

struct Stage {
    blocks: Vec<Block>,
    /// Subjects added to this stage, and how many it takes before the next begins.
    count: usize,
    capacity: usize,
}

impl Stage {
    fn with_capacity(capacity: usize) -> Stage {
        let blocks = (capacity * BITS_PER_SUBJECT / 512).next_power_of_two();
        Stage {
            blocks: vec![[0; 8]; blocks],
            count: 0,
            capacity,
        }
    }

    fn insert(&mut self, place: &Place) {
        let at = place.block & (self.blocks.len() - 1);
        let block = &mut self.blocks[at];
        for bit in place.bits {
            block[(bit / 64) as usize] |= 1 << (bit % 64);
        }
        self.count += 1;
    }

    fn may_hold(&self, place: &Place) -> bool {
        let block = &self.blocks[place.block & (self.blocks.len() - 1)];
        place
            .bits
            .iter()
            .all(|&bit| block[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }
}

/// Where a subject goes in every stage, worked out once: the block (each stage keeps as many
/// of its low bits as it has blocks) and the bits within the block.
struct Place {
    block: usize,
    bits: [u32; PROBES as usize],
}

impl Place {
    fn of(subject: &SubjectRef) -> Place {
        // Subject references are keyed hashes, so their bytes are already uniform; all of them
        // are mixed anyway, so that references made up in tests spread as well.
        let word =
            |i: usize| u64::from_le_bytes(subject.0[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        let a = mix(word(0) ^ mix(word(2) ^ 0x9e37_79b9_7f4a_7c15));
        let b = mix(word(1) ^ mix(word(3) ^ 0x6a09_e667_f3bc_c909) ^ a);
        Place {
            block: a as usize,
            // Nine bits name one of a block's 512.
            bits: std::array::from_fn(|i| ((b >> (9 * i)) & 511) as u32),
        }
    }
}

/// The SplitMix64 finaliser: every input bit moves every output bit.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl KnownSubjects {
    /// An empty filter that has taken in the ledger up to `through`.
    fn empty(through: i64) -> KnownSubjects {
        KnownSubjects {
            stages: vec![Stage::with_capacity(FIRST_STAGE)],
            through,
        }
    }

    /// The subjects of the stored state and of the ledger's tail past the state's mark, read
    /// in one snapshot; the filter has then taken in the ledger up to its last event. Run
    /// outside a transaction.
    pub(crate) fn load(conn: &Connection) -> rusqlite::Result<KnownSubjects> {
        conn.execute_batch("BEGIN")?;
        let loaded = Self::load_in_snapshot(conn);
        // Only read: whatever happened, nothing is left to keep.
        let ended = conn.execute_batch("COMMIT");
        let known = loaded?;
        ended?;
        Ok(known)
    }

    fn load_in_snapshot(conn: &Connection) -> rusqlite::Result<KnownSubjects> {
        let (mark, last): (i64, i64) =
            conn.query_row(crate::consent::fold::MARK_AND_LAST, [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let mut known = KnownSubjects::empty(mark);
        // In the key's order, so a subject's purposes come together and are added once.
        let mut rows =
            conn.prepare("SELECT subject_ref FROM consent_state ORDER BY subject_ref")?;
        let mut rows = rows.query([])?;
        let mut previous = String::new();
        while let Some(row) = rows.next()? {
            let subject = row.get_ref(0)?.as_str()?;
            if subject != previous {
                known.insert_hex(subject);
                previous.clear();
                previous.push_str(subject);
            }
        }
        known.take_in_appended(conn, last)?;
        Ok(known)
    }

    /// Takes in the subjects of the events past [`Self::through`] up to `last`: those another
    /// process appended since this filter last looked. Run under the write lock, before the
    /// state is looked up; nothing to read when the ledger's end is where it was.
    pub(crate) fn take_in_appended(
        &mut self,
        conn: &Connection,
        last: i64,
    ) -> rusqlite::Result<()> {
        if last > self.through {
            let mut read = conn.prepare_cached(
                "SELECT subject_ref FROM consent_events WHERE gseq > ?1 AND gseq <= ?2",
            )?;
            let mut rows = read.query(params![self.through, last])?;
            while let Some(row) = rows.next()? {
                self.insert_hex(row.get_ref(0)?.as_str()?);
            }
        }
        self.through = self.through.max(last);
        Ok(())
    }

    /// Takes in this writer's own events, committed up to ledger position `last`.
    pub(crate) fn take_in_own<'a>(
        &mut self,
        subjects: impl IntoIterator<Item = &'a SubjectRef>,
        last: i64,
    ) {
        let mut previous = None;
        for subject in subjects {
            // A subject's purposes come together in a batch: one insertion for them.
            if previous != Some(subject) {
                self.insert(subject);
                previous = Some(subject);
            }
        }
        self.through = self.through.max(last);
    }

    /// `false`: no event up to [`Self::through`] is about `subject`, so the state has no row
    /// for it. `true`: there may be one.
    pub(crate) fn may_hold(&self, subject: &SubjectRef) -> bool {
        let place = Place::of(subject);
        self.stages.iter().any(|s| s.may_hold(&place))
    }

    /// A subject reference as stored: one that is not a reference's hex (none is written so)
    /// can never be the answer to a lookup by a reference, and is left out.
    fn insert_hex(&mut self, hex: &str) {
        if let Some(subject) = SubjectRef::from_hex(hex) {
            self.insert(&subject);
        }
    }

    fn insert(&mut self, subject: &SubjectRef) {
        let stage = self.stages.last_mut().expect("one stage at least");
        if stage.count >= stage.capacity {
            let next = Stage::with_capacity(stage.capacity * 2);
            self.stages.push(next);
        }
        self.stages
            .last_mut()
            .expect("one stage at least")
            .insert(&Place::of(subject));
    }

    /// The filter's size in bytes.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.stages
            .iter()
            .map(|s| s.blocks.len() * std::mem::size_of::<Block>())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(n: u64) -> SubjectRef {
        // As a keyed hash makes them: uniform bytes.
        let mut bytes = [0u8; 32];
        for (i, chunk) in bytes.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&mix(n.wrapping_mul(4) + i as u64 + 1).to_le_bytes());
        }
        SubjectRef(bytes)
    }

    #[test]
    fn every_subject_taken_in_may_be_held_and_few_others_are() {
        let mut known = KnownSubjects::empty(0);
        let n = 300_000;
        for i in 0..n {
            known.insert(&subject(i));
        }
        assert!(
            (0..n).all(|i| known.may_hold(&subject(i))),
            "no false negative"
        );
        let wrong = (n..n + 100_000)
            .filter(|&i| known.may_hold(&subject(i)))
            .count();
        assert!(
            wrong < 1_000,
            "{wrong} false positives in 100,000, over 1 %"
        );
        // Grown in stages: 65,536 + 131,072 + 262,144 subjects of capacity at 2 bytes each.
        assert_eq!(known.stages.len(), 3);
        assert_eq!(known.bytes(), (65_536 + 131_072 + 262_144) * 2);
    }

    #[test]
    fn subjects_alike_in_their_first_bytes_still_spread() {
        let mut known = KnownSubjects::empty(0);
        let made_up = |n: u8| {
            let mut bytes = [0u8; 32];
            bytes[31] = n;
            SubjectRef(bytes)
        };
        for n in 0..100 {
            known.insert(&made_up(n));
        }
        assert!((0..100).all(|n| known.may_hold(&made_up(n))));
        // Had only the first bytes counted, these would all be one subject to the filter.
        assert!(!known.may_hold(&made_up(200)));
        assert!(!known.may_hold(&subject(1)));
    }

    #[test]
    fn own_events_and_appended_positions_move_through_forward_only() {
        let mut known = KnownSubjects::empty(10);
        let (a, b) = (subject(1), subject(2));
        assert!(!known.may_hold(&a));
        known.take_in_own([&a, &a, &b], 14);
        assert!(known.may_hold(&a) && known.may_hold(&b));
        assert_eq!(known.through, 14);
        known.take_in_own([], 12);
        assert_eq!(known.through, 14, "never back");
        assert_eq!(
            known.stages[0].count, 2,
            "a subject's events in a row count once"
        );
    }
}
