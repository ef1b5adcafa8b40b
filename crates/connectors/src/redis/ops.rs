//! Access, erasure and rectification on a Redis datastore.
//!
//! Access streams one record per key and category, grouped by category like SQL access, read
//! in pipelined batches (memory holds one batch); a record's `key` is the key name with its `*`
//! parts left out (a session key's name is often the session token). Erasure and rectification first read what
//! they would change (one pipeline for every key space), then send every write of the
//! datastore in one `MULTI` … `EXEC`: the server applies them all at once or, if the
//! connection drops before `EXEC`, none — so they hold the subject's keys and the values they
//! change in memory, which for one person's sessions, carts and profiles is little. The
//! strategies as Redis has them:
//!
//! | strategy | hash field | string value |
//! | --- | --- | --- |
//! | `delete_row` | `UNLINK` the key | `UNLINK` the key |
//! | `null` | `HDEL` the field | `UNLINK` the key (Redis has no NULL) |
//! | `mask` | `HSET` to `[erased]` | `SET … KEEPTTL XX` to `[erased]` |
//! | `hash` | `HSET` to the keyed hash | `SET … KEEPTTL XX` to the keyed hash |
//!
//! A value already erased (absent, the mask, a keyed hash) is left alone, so the counts say
//! exactly what changed and a second erasure changes nothing. A dry run reads and counts and
//! writes nothing. Keys keep their time to live.

use std::collections::BTreeSet;

use super::resp::{Conn, Pipeline, Reply};
use super::walk::{self, BATCH};
use super::{KeySpace, KeyType};
use crate::access::{AccessRecord, AccessSink, AccessSummary};
use crate::dataset::{Dataset, Field, Strategy};
use crate::erase::{keyed_hash, Change, ChangeReport, Operation, HASH_PREFIX, MASK};
use crate::graph::Identities;
use crate::ConnectorError;

/// Streams the subject's personal fields into `sink`, one record per key and category.
pub async fn access(
    conn: &mut Conn,
    ds: &Dataset,
    identities: &Identities,
    sink: &mut dyn AccessSink,
) -> Result<AccessSummary, ConnectorError> {
    let found = walk::find(conn, ds, identities).await?;
    let patterns = walk::spaces(ds)?;
    let categories: BTreeSet<&str> = ds
        .keys
        .iter()
        .zip(&found.keys)
        .filter(|(_, keys)| !keys.is_empty())
        .flat_map(|(ks, _)| &ks.fields)
        .filter(|f| f.is_personal())
        .filter_map(|f| f.category.as_deref())
        .collect();
    let mut summary = AccessSummary::default();
    for category in categories {
        for ((ks, keys), space) in ds.keys.iter().zip(&found.keys).zip(&patterns) {
            let fields: Vec<&str> = ks
                .fields
                .iter()
                .filter(|f| f.is_personal() && f.category.as_deref() == Some(category))
                .map(|f| f.name.as_str())
                .collect();
            if fields.is_empty() || keys.is_empty() {
                continue;
            }
            for chunk in keys.chunks(BATCH) {
                let values = walk::read(conn, ks.key_type, chunk, &fields).await?;
                for (key, vals) in chunk.iter().zip(values) {
                    let mut map = serde_json::Map::with_capacity(fields.len());
                    for (name, v) in fields.iter().zip(vals) {
                        map.insert(
                            (*name).to_owned(),
                            v.map_or(serde_json::Value::Null, |b| {
                                serde_json::Value::String(String::from_utf8_lossy(&b).into_owned())
                            }),
                        );
                    }
                    sink.record(&AccessRecord {
                        datastore: &ds.name,
                        category,
                        table: &ks.pattern,
                        key: space.pattern.redacted(key),
                        fields: map,
                    })?;
                }
                summary.records += chunk.len() as u64;
                *summary.by_table.entry(ks.pattern.clone()).or_default() += chunk.len() as u64;
            }
        }
    }
    Ok(summary)
}

/// The key space and field a correction `pattern.field` addresses, when it is personal.
pub fn correction_target<'d>(ds: &'d Dataset, target: &str) -> Option<(usize, &'d Field)> {
    ds.keys.iter().enumerate().find_map(|(i, ks)| {
        let name = target
            .strip_prefix(ks.pattern.as_str())?
            .strip_prefix('.')?;
        let f = ks.fields.iter().find(|f| f.name == name)?;
        f.is_personal().then_some((i, f))
    })
}

/// Erases (or rectifies) the subject's keys; every write in one `MULTI`/`EXEC`.
pub async fn apply(
    conn: &mut Conn,
    ds: &Dataset,
    identities: &Identities,
    op: &Operation<'_>,
    dry_run: bool,
) -> Result<ChangeReport, ConnectorError> {
    let mut report = ChangeReport {
        datastore: ds.name.clone(),
        dry_run,
        ..Default::default()
    };
    match op {
        // Nothing is ever held in Redis (validation refuses holds), so nothing expires; and a
        // key has no collection time a rule could count from (Redis' own TTLs do that).
        Operation::Expire { .. } | Operation::Collected { .. } => return Ok(report),
        Operation::Rectify(c) => {
            for target in c.keys() {
                if correction_target(ds, target).is_none() {
                    return Err(ConnectorError::Run(format!(
                        "correction target `{target}` is not a personal field of datastore {}",
                        ds.name
                    )));
                }
            }
        }
        Operation::Erase { .. } => {}
    }
    let found = walk::find(conn, ds, identities).await?;
    let mut writes = Pipeline::new();
    writes.cmd(&["MULTI"]);
    // Keys deleted whole, then the fields of the others: read in one pipeline, then changed.
    let mut plans = Vec::with_capacity(ds.keys.len());
    for (ks, keys) in ds.keys.iter().zip(&found.keys) {
        let delete = matches!(op, Operation::Erase { .. }) && ks.deletes_key();
        if delete && !keys.is_empty() {
            for k in keys {
                writes.cmd(&[&b"UNLINK"[..], k]);
            }
            report.changes.push(Change {
                table: ks.pattern.clone(),
                field: None,
                action: "delete_row".into(),
                rows: keys.len() as u64,
            });
        }
        let plan = if delete || keys.is_empty() {
            Vec::new()
        } else {
            plan(ks, op)
        };
        let names: Vec<&str> = plan.iter().map(|(f, _)| f.name.as_str()).collect();
        plans.push((plan, names));
    }
    let mut items = Vec::new();
    for ((ks, keys), (_, names)) in ds.keys.iter().zip(&found.keys).zip(&plans) {
        if !names.is_empty() {
            items.extend(
                keys.iter()
                    .map(|k| (ks.key_type, k.as_slice(), names.as_slice())),
            );
        }
    }
    let mut values = walk::read_many(conn, &items).await?.into_iter();
    for ((ks, keys), (plan, names)) in ds.keys.iter().zip(&found.keys).zip(&plans) {
        if names.is_empty() {
            continue;
        }
        let mut counts = vec![0u64; plan.len()];
        for key in keys {
            let vals = values.next().expect("one read per key");
            for (fi, ((f, target), current)) in plan.iter().zip(vals).enumerate() {
                if queue(&mut writes, ks.key_type, key, f, target, current.as_deref()) {
                    counts[fi] += 1;
                }
            }
        }
        for ((f, target), rows) in plan.iter().zip(counts) {
            report.changes.push(Change {
                table: ks.pattern.clone(),
                field: Some(f.name.clone()),
                action: target.action().into(),
                rows,
            });
        }
    }
    writes.cmd(&["EXEC"]);
    if !dry_run && writes.len() > 2 {
        commit(conn, &writes).await?;
    }
    Ok(report)
}

/// What a field becomes.
enum Target<'a> {
    /// Gone: `HDEL` (a string key's value: the key).
    Removed,
    Masked,
    Hashed(&'a [u8]),
    Corrected(&'a str),
}

impl Target<'_> {
    fn action(&self) -> &'static str {
        match self {
            Target::Removed => "null",
            Target::Masked => "mask",
            Target::Hashed(_) => "hash",
            Target::Corrected(_) => "rectify",
        }
    }
}

/// The fields of a key space that `op` changes, in field order.
fn plan<'d>(ks: &'d KeySpace, op: &Operation<'d>) -> Vec<(&'d Field, Target<'d>)> {
    ks.fields
        .iter()
        .filter_map(|f| {
            let target = match op {
                Operation::Erase { hash_key, .. } => match f.erase {
                    Strategy::Null => Target::Removed,
                    Strategy::Mask => Target::Masked,
                    Strategy::Hash => Target::Hashed(hash_key),
                    _ => return None,
                },
                Operation::Rectify(c) => {
                    Target::Corrected(c.get(&format!("{}.{}", ks.pattern, f.name))?)
                }
                Operation::Expire { .. } | Operation::Collected { .. } => return None,
            };
            Some((f, target))
        })
        .collect()
}

/// Queues the write that brings one field of one key to `target`, given its `current` value;
/// `false` when it is there already (absent, masked, hashed, or the corrected value).
fn queue(
    writes: &mut Pipeline,
    key_type: KeyType,
    key: &[u8],
    f: &Field,
    target: &Target<'_>,
    current: Option<&[u8]>,
) -> bool {
    let new: Vec<u8> = match (target, current) {
        // A hash gains a corrected field; a missing string key is not created.
        (Target::Corrected(v), None) if key_type == KeyType::Hash => v.as_bytes().to_vec(),
        (_, None) => return false,
        (Target::Removed, Some(_)) => {
            match key_type {
                KeyType::Hash => writes.cmd(&[&b"HDEL"[..], key, f.name.as_bytes()]),
                KeyType::String => writes.cmd(&[&b"UNLINK"[..], key]),
            };
            return true;
        }
        (Target::Masked, Some(c)) if c == MASK.as_bytes() => return false,
        (Target::Masked, Some(_)) => MASK.as_bytes().to_vec(),
        (Target::Hashed(_), Some(c)) if c.starts_with(HASH_PREFIX.as_bytes()) => return false,
        (Target::Hashed(k), Some(c)) => keyed_hash(k, &String::from_utf8_lossy(c)).into_bytes(),
        (Target::Corrected(v), Some(c)) if c == v.as_bytes() => return false,
        (Target::Corrected(v), Some(_)) => v.as_bytes().to_vec(),
    };
    match key_type {
        KeyType::Hash => writes.cmd(&[&b"HSET"[..], key, f.name.as_bytes(), &new]),
        KeyType::String => writes.cmd(&[&b"SET"[..], key, &new, b"KEEPTTL", b"XX"]),
    };
    true
}

/// Sends `MULTI`, the writes and `EXEC`, and fails on any error reply: one queued wrongly
/// (the server then discards the whole transaction) or one raised while executing.
async fn commit(conn: &mut Conn, writes: &Pipeline) -> Result<(), ConnectorError> {
    let mut replies = conn.run(writes).await?;
    let exec = replies.pop().expect("EXEC was queued");
    for r in replies {
        r.ok()?;
    }
    match exec.ok()? {
        Reply::Array(results) => {
            for r in results {
                r.ok()?;
            }
            Ok(())
        }
        _ => Err(ConnectorError::Database(
            "redis: the transaction was not executed".into(),
        )),
    }
}
