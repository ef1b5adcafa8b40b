//! The data-portability archive (GDPR Art. 20): a ZIP file with the whole export as JSON, one
//! CSV per kind of record, and a manifest — formats any person or program can open.
//!
//! A minimal writer of our own (entries stored, not compressed), which keeps a compression
//! library out of the build. It streams: an entry is written as its bytes come (its CRC and
//! size follow it in a data descriptor, so nothing is held back to be counted first), and the
//! SHA-256 of every file is taken on the way for the manifest, which goes last. Memory stays
//! flat however large the archive: a subject with a million rows in the company's datastores
//! is written row by row. Past 4 GiB (an entry, or the offset of one) the archive switches to
//! ZIP64 records, as the format allows. Output is deterministic for the same input, so the
//! requester and the DPO download byte-identical archives.

use std::io::{self, Write};

use serde::Serialize;
use sha2::{Digest, Sha256};

static CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// 1 January 2000, 00:00 in MS-DOS format: fixed so archives are reproducible.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (20 << 9) | (1 << 5) | 1;
/// Bit 3: CRC and sizes follow the data (a data descriptor); bit 11: UTF-8 names.
const FLAGS: u16 = 0x0808;
/// Sizes and offsets from here on need ZIP64 records.
const ZIP64_AT: u64 = 0xFFFF_FFFF;

/// One file of the archive, for the manifest.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileInfo {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Writes a ZIP archive to `W` entry by entry.
pub struct ZipStream<W: Write> {
    out: W,
    offset: u64,
    central: Vec<u8>,
    entries: u64,
    zip64_at: u64,
    files: Vec<FileInfo>,
}

fn le16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn le32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn le64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

impl<W: Write> ZipStream<W> {
    pub fn new(out: W) -> ZipStream<W> {
        ZipStream {
            out,
            offset: 0,
            central: Vec::new(),
            entries: 0,
            zip64_at: ZIP64_AT,
            files: Vec::new(),
        }
    }

    /// A writer that switches to ZIP64 records from `at` bytes on, so tests can check those
    /// records without writing 4 GiB.
    #[doc(hidden)]
    pub fn with_zip64_from(out: W, at: u64) -> ZipStream<W> {
        ZipStream {
            zip64_at: at,
            ..ZipStream::new(out)
        }
    }

    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Starts an entry; write its bytes into the returned writer, then [`Entry::finish`] it.
    pub fn entry(&mut self, name: &str) -> io::Result<Entry<'_, W>> {
        let start = self.offset;
        let mut h = Vec::with_capacity(30 + name.len());
        le32(&mut h, 0x0403_4b50);
        le16(&mut h, 20); // version needed
        le16(&mut h, FLAGS);
        le16(&mut h, 0); // stored
        le16(&mut h, DOS_TIME);
        le16(&mut h, DOS_DATE);
        le32(&mut h, 0); // CRC, compressed and uncompressed sizes: in the data descriptor
        le32(&mut h, 0);
        le32(&mut h, 0);
        le16(&mut h, name.len() as u16);
        le16(&mut h, 0);
        h.extend_from_slice(name.as_bytes());
        self.emit(&h)?;
        Ok(Entry {
            zip: self,
            name: name.to_owned(),
            start,
            crc: CRC32.digest(),
            sha: Sha256::new(),
            len: 0,
        })
    }

    /// Adds a whole entry at once.
    pub fn add(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let mut e = self.entry(name)?;
        e.write_all(data)?;
        e.finish()
    }

    /// The files written so far, for the manifest.
    pub fn files(&self) -> &[FileInfo] {
        &self.files
    }

    /// Writes the central directory and hands the writer back.
    pub fn finish(mut self) -> io::Result<W> {
        let cd_offset = self.offset;
        let central = std::mem::take(&mut self.central);
        self.emit(&central)?;
        let cd_len = central.len() as u64;
        let n = self.entries;
        let mut e = Vec::new();
        let zip64 = n >= 0xFFFF || cd_offset >= self.zip64_at || cd_len >= self.zip64_at;
        if zip64 {
            let record_at = self.offset;
            le32(&mut e, 0x0606_4b50);
            le64(&mut e, 44); // the record's size after this field
            le16(&mut e, 45);
            le16(&mut e, 45);
            le32(&mut e, 0);
            le32(&mut e, 0);
            le64(&mut e, n);
            le64(&mut e, n);
            le64(&mut e, cd_len);
            le64(&mut e, cd_offset);
            le32(&mut e, 0x0706_4b50); // the locator
            le32(&mut e, 0);
            le64(&mut e, record_at);
            le32(&mut e, 1);
        }
        let clamp16 = |x: u64| if zip64 { 0xFFFF } else { x as u16 };
        let clamp32 = |x: u64| if zip64 { 0xFFFF_FFFF } else { x as u32 };
        le32(&mut e, 0x0605_4b50);
        le32(&mut e, 0); // disk numbers
        le16(&mut e, clamp16(n));
        le16(&mut e, clamp16(n));
        le32(&mut e, clamp32(cd_len));
        le32(&mut e, clamp32(cd_offset));
        le16(&mut e, 0);
        self.emit(&e)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// An entry being written: bytes go straight to the archive, counted and hashed on the way.
pub struct Entry<'z, W: Write> {
    zip: &'z mut ZipStream<W>,
    name: String,
    start: u64,
    crc: crc::Digest<'static, u32>,
    sha: Sha256,
    len: u64,
}

impl<W: Write> Write for Entry<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.zip.emit(buf)?;
        self.crc.update(buf);
        self.sha.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.zip.out.flush()
    }
}

impl<W: Write> Entry<'_, W> {
    /// Ends the entry: its data descriptor, and its record in the central directory.
    pub fn finish(self) -> io::Result<()> {
        let Entry {
            zip,
            name,
            start,
            crc,
            sha,
            len,
        } = self;
        let crc = crc.finalize();
        let big = len >= zip.zip64_at;
        let far = start >= zip.zip64_at;
        let mut d = Vec::with_capacity(24);
        le32(&mut d, 0x0807_4b50);
        le32(&mut d, crc);
        if big {
            le64(&mut d, len);
            le64(&mut d, len);
        } else {
            le32(&mut d, len as u32);
            le32(&mut d, len as u32);
        }
        zip.emit(&d)?;

        let mut extra = Vec::new();
        if big || far {
            le16(&mut extra, 0x0001);
            le16(
                &mut extra,
                (if big { 16 } else { 0 }) + (if far { 8 } else { 0 }),
            );
            if big {
                le64(&mut extra, len);
                le64(&mut extra, len);
            }
            if far {
                le64(&mut extra, start);
            }
        }
        let version = if big || far { 45 } else { 20 };
        let size32 = if big { 0xFFFF_FFFF } else { len as u32 };
        let c = &mut zip.central;
        le32(c, 0x0201_4b50);
        le16(c, version); // made by
        le16(c, version); // needed
        le16(c, FLAGS);
        le16(c, 0);
        le16(c, DOS_TIME);
        le16(c, DOS_DATE);
        le32(c, crc);
        le32(c, size32);
        le32(c, size32);
        le16(c, name.len() as u16);
        le16(c, extra.len() as u16);
        le16(c, 0); // comment
        le16(c, 0); // disk
        le16(c, 0); // internal attributes
        le32(c, 0o100644 << 16); // external attributes: a regular file
        le32(c, if far { 0xFFFF_FFFF } else { start as u32 });
        c.extend_from_slice(name.as_bytes());
        c.extend_from_slice(&extra);
        zip.entries += 1;
        zip.files.push(FileInfo {
            file: name,
            bytes: len,
            sha256: hex::encode(sha.finalize()),
        });
        Ok(())
    }
}

/// One table of the export: a name, its columns and rows of text.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Writes one CSV record (RFC 4180: quoted where needed, CRLF), each cell that starts like a
/// spreadsheet formula defused with a leading apostrophe (OWASP CSV injection guidance; see
/// `custodian_policy::csv`): the values come from the company's datastores, where anyone
/// could have typed them, and are opened by the requester in a spreadsheet.
pub fn csv_row<W: Write, S: AsRef<str>>(out: &mut W, fields: &[S]) -> io::Result<()> {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(custodian_policy::csv::field(f.as_ref()).as_bytes())?;
    }
    out.write_all(b"\r\n")
}

impl Table {
    pub fn write_csv<W: Write>(&self, out: &mut W) -> io::Result<()> {
        for row in std::iter::once(&self.columns).chain(&self.rows) {
            csv_row(out, row)?;
        }
        Ok(())
    }

    pub fn to_csv(&self) -> String {
        let mut out = Vec::new();
        self.write_csv(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("CSV of text is text")
    }
}

/// The manifest: what is inside, with a SHA-256 per file. Written last, as `manifest.json`.
pub fn manifest(meta: &serde_json::Value, files: &[FileInfo]) -> Vec<u8> {
    let manifest =
        serde_json::json!({ "about": meta, "files": files, "format": "custodian-export-v1" });
    serde_json::to_vec_pretty(&manifest).unwrap_or_default()
}

/// Builds a small archive in memory: `export.json` (everything), `<table>.csv` per table, and
/// `manifest.json`.
pub fn build(meta: &serde_json::Value, export: &serde_json::Value, tables: &[Table]) -> Vec<u8> {
    let mut zip = ZipStream::new(Vec::new());
    let mut write = || -> io::Result<()> {
        zip.add(
            "export.json",
            &serde_json::to_vec_pretty(export).unwrap_or_default(),
        )?;
        let mut tables: Vec<&Table> = tables.iter().collect();
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        for t in tables {
            let mut e = zip.entry(&format!("{}.csv", t.name))?;
            t.write_csv(&mut e)?;
            e.finish()?;
        }
        let m = manifest(meta, zip.files());
        zip.add("manifest.json", &m)
    };
    write().expect("writing to memory");
    zip.finish().expect("writing to memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let t = Table {
            name: "t".into(),
            columns: vec!["a".into(), "b".into()],
            rows: vec![
                vec!["x,y".into(), "say \"hi\"".into()],
                vec!["plain".into(), "".into()],
            ],
        };
        assert_eq!(
            t.to_csv(),
            "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\nplain,\r\n"
        );
    }

    #[test]
    fn csv_cells_that_start_like_formulas_are_defused() {
        let t = Table {
            name: "t".into(),
            columns: vec!["name".into(), "note".into()],
            rows: vec![vec![
                "=HYPERLINK(\"https://evil.example\",\"x\")".into(),
                "@SUM(1)".into(),
            ]],
        };
        assert_eq!(
            t.to_csv(),
            "name,note\r\n\"'=HYPERLINK(\"\"https://evil.example\"\",\"\"x\"\")\",\"'@SUM(1)\"\r\n"
        );
    }

    #[test]
    fn archives_are_deterministic_zip_files() {
        let t = Table {
            name: "consents".into(),
            columns: vec!["purpose".into()],
            rows: vec![vec!["marketing".into()]],
        };
        let a = build(
            &serde_json::json!({"id": 1}),
            &serde_json::json!({"x": 1}),
            &[t.clone()],
        );
        let b = build(
            &serde_json::json!({"id": 1}),
            &serde_json::json!({"x": 1}),
            &[t],
        );
        assert_eq!(a, b);
        assert_eq!(&a[..4], b"PK\x03\x04");
        let end = &a[a.len() - 22..];
        assert_eq!(&end[..4], b"PK\x05\x06");
        assert_eq!(
            u16::from_le_bytes([end[10], end[11]]),
            3,
            "manifest, export.json, consents.csv"
        );
    }

    /// `unzip -t` on `bytes`, when the machine has `unzip` (CI's has): its report, and the
    /// file it tested.
    fn unzip_test(bytes: &[u8], tag: &str) -> Option<(String, std::path::PathBuf)> {
        let ok = std::process::Command::new("unzip").arg("-v").output();
        if !ok.is_ok_and(|o| o.status.success()) {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true and unzip is missing"
            );
            return None;
        }
        let dir = std::env::temp_dir().join(format!("custodian-zip-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.zip");
        std::fs::write(&file, bytes).unwrap();
        let out = std::process::Command::new("unzip")
            .arg("-t")
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{text}");
        Some((text, file))
    }

    #[test]
    fn entries_stream_and_the_manifest_hashes_what_was_written() {
        let mut zip = ZipStream::new(Vec::new());
        let mut e = zip.entry("rows.csv").unwrap();
        for i in 0..1000 {
            csv_row(&mut e, &[i.to_string(), "a,b".to_owned()]).unwrap();
        }
        e.finish().unwrap();
        let files = zip.files().to_vec();
        let bytes = zip.finish().unwrap();
        let mut expected = Vec::new();
        for i in 0..1000 {
            csv_row(&mut expected, &[i.to_string(), "a,b".to_owned()]).unwrap();
        }
        assert_eq!(files[0].bytes, expected.len() as u64);
        assert_eq!(files[0].sha256, hex::encode(Sha256::digest(&expected)));
        if let Some((text, _)) = unzip_test(&bytes, "stream") {
            assert!(text.contains("rows.csv"), "{text}");
        }
    }

    #[test]
    fn zip64_records_are_written_where_sizes_need_them() {
        // The switch lowered to 100 bytes: the second entry is "large", the third "far".
        let mut zip = ZipStream::with_zip64_from(Vec::new(), 100);
        zip.add("small.txt", b"hello").unwrap();
        zip.add("large.txt", &[b'x'; 300]).unwrap();
        zip.add("far.txt", b"after the switch").unwrap();
        let bytes = zip.finish().unwrap();
        let find = |sig: u32| bytes.windows(4).any(|w| w == sig.to_le_bytes().as_slice());
        assert!(find(0x0606_4b50) && find(0x0706_4b50), "ZIP64 end records");
        if let Some((text, _)) = unzip_test(&bytes, "zip64") {
            assert!(text.contains("No errors detected"), "{text}");
        }
    }

    #[test]
    fn unzip_reads_what_we_write() {
        let t = Table {
            name: "consents".into(),
            columns: vec!["purpose".into()],
            rows: vec![vec!["marketing".into()]],
        };
        let bytes = build(
            &serde_json::json!({}),
            &serde_json::json!({"ok": true}),
            &[t],
        );
        let Some((_, file)) = unzip_test(&bytes, "read") else {
            return;
        };
        let out = std::process::Command::new("unzip")
            .arg("-p")
            .arg(&file)
            .arg("consents.csv")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "purpose\r\nmarketing\r\n"
        );
    }
}
