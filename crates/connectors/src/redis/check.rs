//! `custodian dataset check` for a Redis datastore: the dataset against a live server.
//!
//! Redis has no schema to read, so the check samples: for each pattern, up to
//! [`SAMPLE`] matching keys (by `SCAN`, examining at most [`EXAMINE`] keys), their types, and
//! the field names of up to [`HASHES`] hashes. It reports what would make access incomplete
//! or erasure wrong: no key matches, keys of another type (left alone), listed fields no key
//! has, fields no entry lists (exported by nobody and left by erasure), patterns only a full
//! scan can search, and key names that keep an e-mail address or phone number after erasure.

use std::collections::{BTreeMap, BTreeSet};

use super::pattern::Pattern;
use super::resp::{Conn, Pipeline};
use super::walk::{Scan, BATCH};
use super::{KeySpace, KeyType};
use crate::dataset::Dataset;
use crate::ConnectorError;

/// Keys sampled per pattern.
pub const SAMPLE: usize = 1000;
/// Keys `SCAN` may examine per pattern while sampling.
pub const EXAMINE: usize = 100_000;
/// Hashes whose field names are read per pattern.
pub const HASHES: usize = 200;

/// Identity kinds that identify a person directly when left in a key name.
const DIRECT: &[&str] = &["email", "phone"];

/// The dataset's own problems, then the live server's.
pub async fn check(
    url: &str,
    ds: &Dataset,
    policy: Option<&custodian_policy::Policy>,
) -> Result<Vec<String>, ConnectorError> {
    let mut problems = ds.validate(policy);
    let mut conn = Conn::connect(url).await?;
    let info = conn
        .call(&["INFO", "server"])
        .await?
        .text()
        .unwrap_or_default();
    let major: Option<u32> = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .and_then(|v| v.split('.').next()?.trim().parse().ok());
    if major.is_some_and(|m| m < 6) {
        problems.push(format!(
            "{}: the server is Redis {}; the connector needs 6.0 or later (SCAN … TYPE, SET … KEEPTTL)",
            ds.name,
            major.unwrap_or_default()
        ));
    }
    for ks in &ds.keys {
        let Ok(pattern) = Pattern::parse(&ks.pattern) else {
            continue; // reported by validate
        };
        problems.extend(sample(&mut conn, ks, &pattern).await?);
    }
    Ok(problems)
}

/// The problems one pattern shows on the live server.
async fn sample(
    conn: &mut Conn,
    ks: &KeySpace,
    pattern: &Pattern,
) -> Result<Vec<String>, ConnectorError> {
    let at = format!("keys {:?}", ks.pattern);
    let mut p = Vec::new();
    let mut keys = Vec::new();
    let mut scan = Scan::new(pattern.glob(None).0, None);
    let mut steps = 0;
    while let Some(batch) = scan.next(conn).await? {
        keys.extend(batch.into_iter().filter(|k| pattern.captures(k).is_some()));
        steps += 1;
        if keys.len() >= SAMPLE || steps * BATCH >= EXAMINE {
            break;
        }
    }
    keys.truncate(SAMPLE);
    if keys.is_empty() {
        p.push(format!("{at}: no key in the database matches the pattern"));
        return Ok(p);
    }
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    let mut of_type = Vec::new();
    let mut tp = Pipeline::new();
    for k in &keys {
        tp.cmd(&[&b"TYPE"[..], k]);
    }
    for (k, r) in keys.iter().zip(conn.run(&tp).await?) {
        let t = r.ok()?.text().unwrap_or_default();
        if t == ks.key_type.redis_name() {
            of_type.push(k.clone());
        } else {
            *types.entry(t).or_default() += 1;
        }
    }
    if !types.is_empty() {
        let other: usize = types.values().sum();
        let names: Vec<String> = types.iter().map(|(t, n)| format!("{n} {t}")).collect();
        p.push(format!(
            "{at}: {other} of {} sampled keys are not of type {} ({}); access and erasure leave them alone",
            keys.len(),
            ks.key_type.redis_name(),
            names.join(", ")
        ));
    }
    if ks.key_type == KeyType::Hash && !of_type.is_empty() {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut hp = Pipeline::new();
        for k in of_type.iter().take(HASHES) {
            hp.cmd(&[&b"HKEYS"[..], k]);
        }
        for r in conn.run(&hp).await? {
            for f in r.ok()?.into_array() {
                if seen.len() < 10_000 {
                    if let Some(name) = f.text() {
                        seen.insert(name);
                    }
                }
            }
        }
        for f in &ks.fields {
            if !seen.contains(&f.name) {
                p.push(format!("{at}.{}: no sampled key has this field", f.name));
            }
        }
        let listed: BTreeSet<&String> = ks.fields.iter().map(|f| &f.name).collect();
        let unlisted: Vec<&String> = seen.iter().filter(|f| !listed.contains(f)).collect();
        if !unlisted.is_empty() && !ks.deletes_key() {
            let shown: Vec<&str> = unlisted.iter().take(10).map(|s| s.as_str()).collect();
            p.push(format!(
                "{at}: the sampled keys have fields the dataset does not list ({}{}), which access does not export and erasure leaves; list them, or delete the whole key",
                shown.join(", "),
                if unlisted.len() > 10 { ", …" } else { "" }
            ));
        }
    }
    if pattern.kinds().next().is_none() {
        p.push(format!(
            "{at}: no `{{kind}}` in the pattern, so every request scans every key that matches it; put an identity in the key name, or keep an index key such as `user_by_email:{{email}}`"
        ));
    }
    for kind in pattern.kinds() {
        if DIRECT.contains(&kind) && !ks.deletes_key() {
            p.push(format!(
                "{at}: the key name holds the subject's {kind}, but erasure keeps the key (no field is `delete_row`), so the {kind} stays readable in the name"
            ));
        }
    }
    Ok(p)
}
