//! An image of [`ConsentMemory`] on disk, so that a restart reads one file and the ledger's
//! tail instead of every subject's current state (issue 17: start-up with a million subjects
//! in under 2 s; the full load took 11.9 s).
//!
//! The image is a cache, never the record: the store stays the truth, and the image says how
//! far into it it reaches — the sequence of each ledger chain and of the forgettings
//! (erasures and purges) it includes. Whoever loads it reads what came after and applies
//! that; an image that is missing, damaged, from another format or from another key is simply
//! not used.
//!
//! Layout (little-endian), chosen so writing needs no second copy of memory and reading one
//! pass:
//!
//! ```text
//! "CSTMEMv1"
//! header:  fingerprint [u8;16], taken_at i64, forgotten i64, chains u32 × i64, slots u32 × name
//! entries: shards u32, per shard: count u64, then per subject: key [u8;16], known u64, given u64,
//!          one 16-byte detail per known slot (at i64, notice u32, version u16, source u8, 0)
//! names:   versions u32 × name, notices u32 × name        (name = u16 length + UTF-8)
//! footer:  offset of names u64, SHA-256 of everything before the footer [u8;32]
//! ```
//!
//! The names come after the entries because they only grow: read once the entries are out,
//! they hold every index an entry refers to, whatever was recorded while the image was made.

use std::io::{self, Read, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};

use super::{unpoisoned, Choices, ConsentMemory, Detail, Key, Names};
use crate::consent::Source;

const MAGIC: &[u8; 8] = b"CSTMEMv1";
const FOOTER: usize = 8 + 32;

/// What an image covers, besides the choices themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageHeader {
    /// Names the key subject references were made with: an image made under another
    /// secret holds references that match nobody now, and the loader refuses it.
    pub fingerprint: [u8; 16],
    /// When it was made (microseconds since the epoch).
    pub taken_at: i64,
    /// The last forgetting (erasure or purge) it reflects.
    pub forgotten: i64,
    /// For each ledger chain, the last sequence whose choices it holds.
    pub chains: Vec<i64>,
    /// The consent purposes by slot, as the policy that wrote it numbered them.
    pub slots: Vec<String>,
}

/// Why an image cannot be used (the caller then loads from the store).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    #[error("not a consent memory image (or another format version)")]
    Format,
    #[error("the image is damaged: its checksum does not match")]
    Checksum,
    #[error("the image is cut short or malformed at byte {0}")]
    Truncated(usize),
    #[error("reading the image: {0}")]
    Read(String),
}

impl ImageError {
    fn read(e: io::Error) -> ImageError {
        ImageError::Read(e.to_string())
    }
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    written: u64,
}

impl<W: Write> Hashing<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hash.update(bytes);
        self.written += bytes.len() as u64;
        self.inner.write_all(bytes)
    }

    fn name(&mut self, s: &str) -> io::Result<()> {
        let b = s.as_bytes();
        let n = b.len().min(u16::MAX as usize);
        self.put(&(n as u16).to_le_bytes())?;
        self.put(&b[..n])
    }
}

impl ConsentMemory {
    /// Writes the image of what memory holds now. The caller reads its watermarks (`header`)
    /// *before* calling, so everything up to them is already in memory; what lands while the
    /// image is written may or may not be in it, and the loader reads it again either way.
    pub fn write_image<W: Write>(&self, header: &ImageHeader, out: W) -> io::Result<()> {
        let mut w = Hashing {
            inner: io::BufWriter::with_capacity(1 << 20, out),
            hash: Sha256::new(),
            written: 0,
        };
        w.put(MAGIC)?;
        w.put(&header.fingerprint)?;
        w.put(&header.taken_at.to_le_bytes())?;
        w.put(&header.forgotten.to_le_bytes())?;
        w.put(&(header.chains.len() as u32).to_le_bytes())?;
        for c in &header.chains {
            w.put(&c.to_le_bytes())?;
        }
        w.put(&(header.slots.len() as u32).to_le_bytes())?;
        for s in &header.slots {
            w.name(s)?;
        }
        // Shard by shard: each is serialised under its read lock (a copy of memory, not a
        // disk write, so writers wait a millisecond at most) and written after it is released.
        w.put(&(self.shards.len() as u32).to_le_bytes())?;
        let mut buf = Vec::new();
        for shard in &self.shards {
            buf.clear();
            {
                let map = unpoisoned(shard.read());
                buf.reserve(8 + map.len() * 56);
                buf.extend_from_slice(&(map.len() as u64).to_le_bytes());
                for (k, c) in map.iter() {
                    buf.extend_from_slice(k);
                    buf.extend_from_slice(&c.known.to_le_bytes());
                    buf.extend_from_slice(&c.given.to_le_bytes());
                    for d in c.details.iter() {
                        buf.extend_from_slice(&d.at.to_le_bytes());
                        buf.extend_from_slice(&d.notice.to_le_bytes());
                        buf.extend_from_slice(&d.version.to_le_bytes());
                        buf.push(source_byte(d.source));
                        buf.push(0);
                    }
                }
            }
            w.put(&buf)?;
        }
        let names_at = w.written;
        {
            let names = unpoisoned(self.names.read());
            w.put(&(names.versions.len() as u32).to_le_bytes())?;
            for v in &names.versions {
                w.name(v)?;
            }
            w.put(&(names.notices.len() as u32).to_le_bytes())?;
            for n in &names.notices {
                w.name(n)?;
            }
        }
        let digest = w.hash.clone().finalize();
        w.inner.write_all(&names_at.to_le_bytes())?;
        w.inner.write_all(&digest)?;
        w.inner.flush()
    }

    /// Reads an image made by [`ConsentMemory::write_image`] from bytes in memory.
    pub fn read_image(
        bytes: &[u8],
        slots_now: &[&str],
    ) -> Result<(ConsentMemory, ImageHeader), ImageError> {
        Self::read_image_from(io::Cursor::new(bytes), slots_now)
    }

    /// Reads an image made by [`ConsentMemory::write_image`], streaming: the file is never held
    /// whole (a million subjects' image is ~80 MB, and a buffer that size stays in the
    /// allocator's hands after it is freed). The checksum is computed along the way and
    /// checked at the end; a mismatch discards what was read. Choices are moved to the slots
    /// `slots_now` gives their purposes (a purpose the policy no longer has is dropped), so an
    /// image outlives a policy change.
    pub fn read_image_from<R: Read + Seek>(
        mut src: R,
        slots_now: &[&str],
    ) -> Result<(ConsentMemory, ImageHeader), ImageError> {
        let len = src.seek(SeekFrom::End(0)).map_err(ImageError::read)? as usize;
        if len < MAGIC.len() + FOOTER {
            return Err(ImageError::Format);
        }
        let mut magic = [0u8; 8];
        src.seek(SeekFrom::Start(0))
            .and_then(|_| src.read_exact(&mut magic))
            .map_err(ImageError::read)?;
        if &magic != MAGIC {
            return Err(ImageError::Format);
        }
        let body_len = len - FOOTER;
        let mut footer = [0u8; FOOTER];
        src.seek(SeekFrom::Start(body_len as u64))
            .and_then(|_| src.read_exact(&mut footer))
            .map_err(ImageError::read)?;
        let names_at = u64::from_le_bytes(footer[..8].try_into().expect("8 bytes")) as usize;
        if names_at > body_len {
            return Err(ImageError::Checksum);
        }

        // The names first (they sit after the entries): a few hundred bytes.
        let mut names = Names::default();
        {
            let mut bytes = Vec::with_capacity(body_len - names_at);
            src.seek(SeekFrom::Start(names_at as u64))
                .map_err(ImageError::read)?;
            (&mut src)
                .take((body_len - names_at) as u64)
                .read_to_end(&mut bytes)
                .map_err(ImageError::read)?;
            let mut n = Stream::new(&bytes[..], names_at, false);
            for _ in 0..n.u32()? {
                let v: std::sync::Arc<str> = n.name()?.into();
                names
                    .version_index
                    .insert(v.clone(), names.versions.len() as u32);
                names.versions.push(v);
            }
            for _ in 0..n.u32()? {
                let v: std::sync::Arc<str> = n.name()?.into();
                names
                    .notice_index
                    .insert(v.clone(), names.notices.len() as u32);
                names.notices.push(v);
            }
        }

        src.seek(SeekFrom::Start(0)).map_err(ImageError::read)?;
        let mut r = Stream::new(
            io::BufReader::with_capacity(1 << 20, (&mut src).take(body_len as u64)),
            0,
            true,
        );
        if &r.array::<8>()? != MAGIC {
            return Err(ImageError::Format);
        }
        let fingerprint: [u8; 16] = r.array()?;
        let taken_at = r.i64()?;
        let forgotten = r.i64()?;
        let chains = (0..r.u32()?)
            .map(|_| r.i64())
            .collect::<Result<Vec<_>, _>>()?;
        let slots = (0..r.u32()?)
            .map(|_| r.name())
            .collect::<Result<Vec<_>, _>>()?;
        let header = ImageHeader {
            fingerprint,
            taken_at,
            forgotten,
            chains,
            slots,
        };

        let memory = ConsentMemory::default();
        let mut shards: Vec<_> = memory
            .shards
            .iter()
            .map(|s| unpoisoned(s.write()))
            .collect();
        for written_shard in 0..r.u32()? as usize {
            let count = r.u64()?;
            // A count no image of this size could hold is damage, not a reason to reserve.
            if count > (body_len / 32) as u64 {
                return Err(ImageError::Truncated(r.at));
            }
            // Written by the same sharding, a shard's subjects land in the same shard here.
            if let Some(m) = shards.get_mut(written_shard) {
                m.reserve(count as usize);
            }
            for _ in 0..count {
                let key: Key = r.array()?;
                let known = r.u64()?;
                let given = r.u64()?;
                let mut details = Vec::with_capacity(known.count_ones() as usize);
                for _ in 0..known.count_ones() {
                    let at = r.i64()?;
                    let notice = r.u32()?;
                    let version = r.u16()?;
                    let source = byte_source(r.byte()?).ok_or(ImageError::Truncated(r.at))?;
                    r.byte()?;
                    if version as usize >= names.versions.len()
                        || (notice != u32::MAX && notice as usize >= names.notices.len())
                    {
                        return Err(ImageError::Truncated(r.at));
                    }
                    details.push(Detail {
                        at,
                        notice,
                        version,
                        source,
                    });
                }
                if known == 0 {
                    continue;
                }
                shards[key[0] as usize % super::SHARDS].insert(
                    key,
                    Choices {
                        known,
                        given,
                        details: details.into_boxed_slice(),
                    },
                );
            }
        }
        if r.at != names_at {
            return Err(ImageError::Truncated(r.at));
        }
        // The names' bytes, through the checksum, then the checksum itself.
        io::copy(&mut r, &mut io::sink()).map_err(ImageError::read)?;
        if r.hash.take().map(|h| h.finalize()).as_deref() != Some(&footer[8..]) {
            return Err(ImageError::Checksum);
        }
        drop(shards);
        *unpoisoned(memory.names.write()) = names;

        let to: Vec<Option<usize>> = header
            .slots
            .iter()
            .map(|s| slots_now.iter().position(|n| n == s))
            .collect();
        let same = to.iter().enumerate().all(|(i, t)| *t == Some(i));
        if !same {
            memory.remap(&to);
        }
        Ok((memory, header))
    }
}

fn source_byte(s: Source) -> u8 {
    Source::ALL.iter().position(|x| *x == s).unwrap_or(0) as u8
}

fn byte_source(b: u8) -> Option<Source> {
    Source::ALL.get(b as usize).copied()
}

/// Reads an image's fields from a byte source, hashing what it reads when asked to; `at`
/// counts bytes from the image's start, for errors that say where.
struct Stream<R> {
    inner: R,
    hash: Option<Sha256>,
    at: usize,
}

impl<R: Read> Stream<R> {
    fn new(inner: R, at: usize, hashed: bool) -> Stream<R> {
        Stream {
            inner,
            hash: hashed.then(Sha256::new),
            at,
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ImageError> {
        let mut b = [0u8; N];
        self.inner
            .read_exact(&mut b)
            .map_err(|_| ImageError::Truncated(self.at))?;
        if let Some(h) = &mut self.hash {
            h.update(b);
        }
        self.at += N;
        Ok(b)
    }
    fn byte(&mut self) -> Result<u8, ImageError> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, ImageError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, ImageError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, ImageError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, ImageError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    fn name(&mut self) -> Result<String, ImageError> {
        let n = self.u16()? as usize;
        let at = self.at;
        let mut b = vec![0u8; n];
        self.inner
            .read_exact(&mut b)
            .map_err(|_| ImageError::Truncated(at))?;
        if let Some(h) = &mut self.hash {
            h.update(&b);
        }
        self.at += n;
        String::from_utf8(b).map_err(|_| ImageError::Truncated(at))
    }
}

/// The rest of the source, hashed as it passes (the names after the entries).
impl<R: Read> Read for Stream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hash {
            h.update(&buf[..n]);
        }
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::NewChoice;
    use crate::decide::{ConsentLookup, ConsentStatus};
    use crate::subject::SubjectRef;

    fn header(slots: &[&str]) -> ImageHeader {
        ImageHeader {
            fingerprint: [3; 16],
            taken_at: 1_700_000_000_000_000,
            forgotten: 4,
            chains: vec![10, 0, 7],
            slots: slots.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn filled() -> ConsentMemory {
        let m = ConsentMemory::default();
        for i in 0..500u32 {
            let mut b = [0u8; 32];
            b[..4].copy_from_slice(&i.to_le_bytes());
            b[4] = 0xA5;
            let s = SubjectRef(b);
            m.record(
                s,
                (i % 3) as usize,
                NewChoice {
                    given: i % 2 == 0,
                    at: i as i64,
                    source: Source::ALL[i as usize % Source::ALL.len()],
                    policy_version: if i % 5 == 0 { "2" } else { "1" },
                    notice_hash: (i % 7 == 0).then_some("sha256:ab"),
                },
            );
            if i % 4 == 0 {
                m.record(
                    s,
                    2,
                    NewChoice {
                        given: true,
                        at: 1_000 + i as i64,
                        source: Source::Gpc,
                        policy_version: "1",
                        notice_hash: None,
                    },
                );
            }
        }
        m
    }

    fn all(m: &ConsentMemory) -> Vec<(u32, Vec<crate::consent::StoredChoice>)> {
        (0..500u32)
            .map(|i| {
                let mut b = [0u8; 32];
                b[..4].copy_from_slice(&i.to_le_bytes());
                b[4] = 0xA5;
                (i, m.choices(&SubjectRef(b)))
            })
            .collect()
    }

    #[test]
    fn an_image_reads_back_the_same_choices_and_header() {
        let m = filled();
        let mut bytes = Vec::new();
        let h = header(&["a", "b", "c"]);
        m.write_image(&h, &mut bytes).unwrap();
        let (back, got) = ConsentMemory::read_image(&bytes, &["a", "b", "c"]).unwrap();
        assert_eq!(got, h);
        assert_eq!(all(&back), all(&m));
        assert_eq!(back.subjects(), m.subjects());
        assert_eq!(back.choices_held(), m.choices_held());
    }

    #[test]
    fn choices_follow_their_purpose_to_a_new_slot_and_a_dropped_purpose_goes() {
        let m = filled();
        let mut bytes = Vec::new();
        m.write_image(&header(&["a", "b", "c"]), &mut bytes)
            .unwrap();
        // The new policy: "c" first, "a" second, "b" gone.
        let (back, _) = ConsentMemory::read_image(&bytes, &["c", "a"]).unwrap();
        let mut b = [0u8; 32];
        b[4] = 0xA5; // subject 0: slot 0 ("a") given at 0, slot 2 ("c") given at 1000
        let s = SubjectRef(b);
        assert_eq!(back.status(&s, 0), ConsentStatus::Given, "c");
        assert_eq!(back.status(&s, 1), ConsentStatus::Given, "a");
        let at: Vec<(usize, i64)> = back.choices(&s).iter().map(|c| (c.slot, c.at)).collect();
        assert_eq!(at, vec![(0, 1000), (1, 0)]);
        b[..4].copy_from_slice(&1u32.to_le_bytes()); // subject 1: only "b"
        assert!(back.choices(&SubjectRef(b)).is_empty());
    }

    /// Damage is refused — by the checksum, or earlier when it makes the structure impossible
    /// (a count or an index past the end) — never read as choices.
    #[test]
    fn any_changed_byte_is_refused() {
        let m = filled();
        let mut bytes = Vec::new();
        m.write_image(&header(&["a", "b", "c"]), &mut bytes)
            .unwrap();
        let refused = |b: &[u8]| {
            matches!(
                ConsentMemory::read_image(b, &["a"]).err(),
                Some(ImageError::Checksum | ImageError::Truncated(_))
            )
        };
        for at in [
            9,
            30,
            100,
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len() - 60,
            bytes.len() - 41,
            bytes.len() - 1,
        ] {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert!(refused(&bad), "byte {at}");
        }
        assert!(refused(&bytes[..bytes.len() - 1]));
        assert_eq!(
            ConsentMemory::read_image(&[b'x'; 300], &["a"]).err(),
            Some(ImageError::Format)
        );
        assert_eq!(
            ConsentMemory::read_image(b"short", &["a"]).err(),
            Some(ImageError::Format)
        );
    }

    #[test]
    fn an_empty_memory_makes_a_small_image() {
        let m = ConsentMemory::default();
        let mut bytes = Vec::new();
        m.write_image(&header(&[]), &mut bytes).unwrap();
        let (back, h) = ConsentMemory::read_image(&bytes, &[]).unwrap();
        assert_eq!(back.subjects(), 0);
        assert_eq!(h.chains, vec![10, 0, 7]);
        assert!(bytes.len() < 400, "{} bytes", bytes.len());
    }
}
