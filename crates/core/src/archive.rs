//! The data-portability archive (GDPR Art. 20): a ZIP file with a manifest, the whole export
//! as JSON, and one CSV per kind of record — formats any person or program can open.
//!
//! A minimal writer of our own (entries stored, not compressed): exports are small, and it
//! keeps a compression library out of the build. Output is deterministic for the same input,
//! so the requester and the DPO download byte-identical archives.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Builds a ZIP archive in memory.
#[derive(Default)]
pub struct Zip {
    body: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

/// 1 January 2000, 00:00 in MS-DOS format: fixed so archives are reproducible.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (20 << 9) | (1 << 5) | 1;

impl Zip {
    pub fn add(&mut self, name: &str, data: &[u8]) {
        let crc = CRC32.checksum(data);
        let offset = self.body.len() as u32;
        let name_b = name.as_bytes();
        let le16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
        let le32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());

        let b = &mut self.body;
        le32(b, 0x0403_4b50);
        le16(b, 20); // version needed
        le16(b, 0x0800); // flags: UTF-8 names
        le16(b, 0); // stored
        le16(b, DOS_TIME);
        le16(b, DOS_DATE);
        le32(b, crc);
        le32(b, data.len() as u32);
        le32(b, data.len() as u32);
        le16(b, name_b.len() as u16);
        le16(b, 0);
        b.extend_from_slice(name_b);
        b.extend_from_slice(data);

        let c = &mut self.central;
        le32(c, 0x0201_4b50);
        le16(c, 20); // made by
        le16(c, 20); // needed
        le16(c, 0x0800);
        le16(c, 0);
        le16(c, DOS_TIME);
        le16(c, DOS_DATE);
        le32(c, crc);
        le32(c, data.len() as u32);
        le32(c, data.len() as u32);
        le16(c, name_b.len() as u16);
        le16(c, 0); // extra
        le16(c, 0); // comment
        le16(c, 0); // disk
        le16(c, 0); // internal attributes
        le32(c, 0o100644 << 16); // external attributes: a regular file
        le32(c, offset);
        c.extend_from_slice(name_b);
        self.entries += 1;
    }

    pub fn finish(mut self) -> Vec<u8> {
        let cd_offset = self.body.len() as u32;
        let cd_len = self.central.len() as u32;
        self.body.extend_from_slice(&self.central);
        let b = &mut self.body;
        b.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        b.extend_from_slice(&[0, 0, 0, 0]);
        b.extend_from_slice(&self.entries.to_le_bytes());
        b.extend_from_slice(&self.entries.to_le_bytes());
        b.extend_from_slice(&cd_len.to_le_bytes());
        b.extend_from_slice(&cd_offset.to_le_bytes());
        b.extend_from_slice(&[0, 0]);
        self.body
    }
}

/// One table of the export: a name, its columns and rows of text.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn csv_field(out: &mut String, f: &str) {
    if f.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&f.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(f);
    }
}

impl Table {
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        for row in std::iter::once(&self.columns).chain(&self.rows) {
            for (i, f) in row.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                csv_field(&mut out, f);
            }
            out.push_str("\r\n");
        }
        out
    }
}

/// Builds the archive: `manifest.json` (what is inside, with a SHA-256 per file),
/// `export.json` (everything), and `<table>.csv` per table.
pub fn build(meta: &serde_json::Value, export: &serde_json::Value, tables: &[Table]) -> Vec<u8> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    files.insert(
        "export.json".into(),
        serde_json::to_vec_pretty(export).unwrap_or_default(),
    );
    for t in tables {
        files.insert(format!("{}.csv", t.name), t.to_csv().into_bytes());
    }
    let listing: Vec<serde_json::Value> = files
        .iter()
        .map(|(name, data)| {
            serde_json::json!({ "file": name, "bytes": data.len(), "sha256": hex::encode(Sha256::digest(data)) })
        })
        .collect();
    let manifest =
        serde_json::json!({ "about": meta, "files": listing, "format": "custodian-export-v1" });
    let mut zip = Zip::default();
    zip.add(
        "manifest.json",
        &serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
    );
    for (name, data) in &files {
        zip.add(name, data);
    }
    zip.finish()
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

    #[test]
    fn unzip_reads_what_we_write() {
        // Cross-check with a real unzip when the machine has one.
        let Ok(status) = std::process::Command::new("unzip").arg("-v").output() else {
            return;
        };
        if !status.status.success() {
            return;
        }
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
        let dir = std::env::temp_dir().join(format!("custodian-zip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.zip");
        std::fs::write(&file, bytes).unwrap();
        let out = std::process::Command::new("unzip")
            .arg("-t")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
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
