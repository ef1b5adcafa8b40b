//! Finding a subject's keys in a Redis datastore.
//!
//! From the subject's identities, round after round until nothing new turns up:
//!
//! - a pattern whose `{kind}` placeholder has a known value names its key exactly
//!   (`profile:{user_id}` with user id 42 is `profile:42`: one `TYPE`, no scan) or, with
//!   other placeholders or `*` left, a narrowed `SCAN MATCH` (values escaped, so they never
//!   act as wildcards);
//! - a pattern whose hash field (or string value) is an identity, and whose key name holds
//!   no identity the subject is known by, is scanned whole with `SCAN ... MATCH ... TYPE` and
//!   each key's identity fields read (pipelined), keeping the keys that hold one of the
//!   subject's values — the cost `dataset check` warns about. Names are tried first, round
//!   after round; a scan only once no name is left, so a profile kept under the user id is
//!   found by name once an index key has told the id, not by scanning every profile;
//! - every key found teaches what its placeholders and identity fields hold (a profile found
//!   by e-mail names the user id under which the cart is kept).
//!
//! Never `KEYS`: `SCAN` walks the keyspace in small steps and never blocks the server. Keys of
//! another type than the dataset says are left alone (`SCAN ... TYPE`, `TYPE`).

use std::collections::{BTreeMap, BTreeSet};

use super::pattern::Pattern;
use super::resp::{Conn, Pipeline, Reply};
use super::{KeySpace, KeyType, VALUE};
use crate::dataset::Dataset;
use crate::graph::Identities;
use crate::ConnectorError;

/// How many keys one `SCAN` step asks for, and how many commands go in one pipeline.
pub const BATCH: usize = 1000;
/// More identity values than this means a field marked `identity` is shared between people
/// (a country, a plan): the walk stops rather than take everyone's keys for the subject's.
const MAX_VALUES: usize = 100_000;

/// The subject's keys, per key space (in the dataset's order), sorted.
#[derive(Debug, Default)]
pub struct Found {
    pub keys: Vec<Vec<Vec<u8>>>,
}

/// A key space with its parsed pattern.
pub struct Space<'d> {
    pub ks: &'d KeySpace,
    pub pattern: Pattern,
}

pub fn spaces(ds: &Dataset) -> Result<Vec<Space<'_>>, ConnectorError> {
    ds.keys
        .iter()
        .map(|ks| {
            Pattern::parse(&ks.pattern)
                .map(|pattern| Space { ks, pattern })
                .map_err(|e| ConnectorError::Dataset {
                    problems: vec![format!("keys {:?}: {e}", ks.pattern)],
                })
        })
        .collect()
}

/// `SCAN` in steps: `MATCH glob`, `TYPE` when given.
pub struct Scan {
    glob: Vec<u8>,
    key_type: Option<&'static str>,
    cursor: Vec<u8>,
    done: bool,
}

impl Scan {
    pub fn new(glob: Vec<u8>, key_type: Option<&'static str>) -> Scan {
        Scan {
            glob,
            key_type,
            cursor: b"0".to_vec(),
            done: false,
        }
    }

    /// The next step's keys (possibly none), or `None` once the scan has come round.
    pub async fn next(&mut self, conn: &mut Conn) -> Result<Option<Vec<Vec<u8>>>, ConnectorError> {
        if self.done {
            return Ok(None);
        }
        let count = BATCH.to_string();
        let mut args: Vec<&[u8]> = vec![
            b"SCAN",
            &self.cursor,
            b"MATCH",
            &self.glob,
            b"COUNT",
            count.as_bytes(),
        ];
        if let Some(t) = self.key_type {
            args.extend([&b"TYPE"[..], t.as_bytes()]);
        }
        let mut reply = conn.call(&args).await?.into_array().into_iter();
        let cursor = reply.next().and_then(Reply::bulk);
        let keys = reply.next().map(Reply::into_array).unwrap_or_default();
        let Some(cursor) = cursor else {
            return Err(ConnectorError::Database(
                "redis: SCAN answered without a cursor".into(),
            ));
        };
        self.done = cursor == b"0";
        self.cursor = cursor;
        Ok(Some(keys.into_iter().filter_map(Reply::bulk).collect()))
    }
}

/// The values of `fields` of each key (`HMGET`, or `GET` for a string's `value`), pipelined in
/// batches. A missing key or field reads as `None`.
pub async fn read(
    conn: &mut Conn,
    key_type: KeyType,
    keys: &[Vec<u8>],
    fields: &[&str],
) -> Result<Vec<Vec<Option<Vec<u8>>>>, ConnectorError> {
    let items: Vec<Read<'_>> = keys
        .iter()
        .map(|k| (key_type, k.as_slice(), fields))
        .collect();
    read_many(conn, &items).await
}

/// One read: a key of a type, and the fields wanted from it.
pub type Read<'a> = (KeyType, &'a [u8], &'a [&'a str]);

/// Reads of keys of several key spaces in one pipeline (a batch of them per round trip).
pub async fn read_many(
    conn: &mut Conn,
    items: &[Read<'_>],
) -> Result<Vec<Vec<Option<Vec<u8>>>>, ConnectorError> {
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(BATCH) {
        let mut p = Pipeline::new();
        for (key_type, k, fields) in chunk {
            match key_type {
                _ if fields.is_empty() => continue,
                KeyType::Hash => {
                    let mut args: Vec<&[u8]> = vec![b"HMGET", k];
                    args.extend(fields.iter().map(|f| f.as_bytes()));
                    p.cmd(&args);
                }
                KeyType::String => {
                    p.cmd(&[&b"GET"[..], k]);
                }
            }
        }
        let mut replies = conn.run(&p).await?.into_iter();
        for (_, _, fields) in chunk {
            if fields.is_empty() {
                out.push(Vec::new());
                continue;
            }
            let r = replies.next().expect("one reply per read");
            out.push(match r.ok()? {
                Reply::Array(items) => items.into_iter().map(Reply::bulk).collect(),
                Reply::Bulk(b) => vec![Some(b)],
                _ => vec![None; fields.len()],
            });
        }
    }
    Ok(out)
}

type Known = BTreeMap<String, BTreeSet<Vec<u8>>>;

/// The identity fields of a key space: (field name, identity kind).
fn identity_fields(ks: &KeySpace) -> Vec<(&str, &str)> {
    ks.fields
        .iter()
        .filter_map(|f| Some((f.name.as_str(), f.identity.as_deref()?)))
        .filter(|(name, _)| ks.key_type == KeyType::Hash || *name == VALUE)
        .collect()
}

/// Every key of the subject, found from `identities` (see the module's notes).
pub async fn find(
    conn: &mut Conn,
    ds: &Dataset,
    identities: &Identities,
) -> Result<Found, ConnectorError> {
    let spaces = spaces(ds)?;
    let mut known: Known = BTreeMap::new();
    for (kind, values) in identities {
        for v in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
            known
                .entry(kind.clone())
                .or_default()
                .insert(v.as_bytes().to_vec());
        }
    }
    let mut looked: BTreeSet<(usize, String, Vec<u8>)> = BTreeSet::new();
    let mut compared: Vec<BTreeSet<(String, Vec<u8>)>> = vec![BTreeSet::new(); spaces.len()];
    let mut found: Vec<BTreeSet<Vec<u8>>> = vec![BTreeSet::new(); spaces.len()];
    loop {
        // Names first: scans only once no key name is left to try.
        let mut new = by_placeholder(conn, &spaces, &known, &mut looked).await?;
        new.retain(|(i, k)| found[*i].insert(k.clone()));
        if new.is_empty() {
            new = by_field(conn, &spaces, &known, &mut compared).await?;
            new.retain(|(i, k)| found[*i].insert(k.clone()));
        }
        if new.is_empty() {
            break;
        }
        // A value read from a key's name is not looked up again in that key's own space: the
        // key is found, and an order number of one customer must not lead to another's
        // `orders:*:{order_id}` (nor cost a scan per order).
        for (i, k) in &new {
            for (kind, v) in spaces[*i].pattern.captures(k).unwrap_or_default() {
                looked.insert((*i, kind, v));
            }
        }
        learn(conn, &spaces, &new, &mut known).await?;
        if known.values().map(BTreeSet::len).sum::<usize>() > MAX_VALUES {
            return Err(ConnectorError::Run(format!(
                "datastore {}: the walk found more than {MAX_VALUES} identity values; a field marked `identity` is probably shared between people",
                ds.name
            )));
        }
    }
    Ok(Found {
        keys: found.into_iter().map(|s| s.into_iter().collect()).collect(),
    })
}

/// Keys named by a known value in a placeholder: exact keys checked with one pipeline of
/// `TYPE`, the others by a narrowed scan.
async fn by_placeholder(
    conn: &mut Conn,
    spaces: &[Space<'_>],
    known: &Known,
    looked: &mut BTreeSet<(usize, String, Vec<u8>)>,
) -> Result<Vec<(usize, Vec<u8>)>, ConnectorError> {
    let mut exact = Vec::new();
    let mut globs = Vec::new();
    for (i, s) in spaces.iter().enumerate() {
        for kind in s.pattern.kinds() {
            for v in known.get(kind).into_iter().flatten() {
                if !looked.insert((i, kind.to_owned(), v.clone())) {
                    continue;
                }
                match s.pattern.key(kind, v) {
                    Some(key) => exact.push((i, key)),
                    None => globs.push((i, s.pattern.glob(Some((kind, v))).0)),
                }
            }
        }
    }
    let mut new = Vec::new();
    for chunk in exact.chunks(BATCH) {
        let mut p = Pipeline::new();
        for (_, k) in chunk {
            p.cmd(&[&b"TYPE"[..], k]);
        }
        for ((i, k), r) in chunk.iter().zip(conn.run(&p).await?) {
            if r.ok()?.text().as_deref() == Some(spaces[*i].ks.key_type.redis_name()) {
                new.push((*i, k.clone()));
            }
        }
    }
    for (i, glob) in globs {
        let mut scan = Scan::new(glob, Some(spaces[i].ks.key_type.redis_name()));
        while let Some(keys) = scan.next(conn).await? {
            new.extend(
                keys.into_iter()
                    .filter(|k| spaces[i].pattern.captures(k).is_some())
                    .map(|k| (i, k)),
            );
        }
    }
    Ok(new)
}

/// Keys whose identity fields hold a value not compared before: one scan of the pattern per
/// key space that has such values.
async fn by_field(
    conn: &mut Conn,
    spaces: &[Space<'_>],
    known: &Known,
    compared: &mut [BTreeSet<(String, Vec<u8>)>],
) -> Result<Vec<(usize, Vec<u8>)>, ConnectorError> {
    let mut new = Vec::new();
    for (i, s) in spaces.iter().enumerate() {
        // A key space named by an identity the subject is known by was looked up by name.
        if s.pattern.kinds().any(|k| known.contains_key(k)) {
            continue;
        }
        let fields = identity_fields(s.ks);
        let wanted: Vec<BTreeSet<&Vec<u8>>> = fields
            .iter()
            .map(|(_, kind)| {
                known
                    .get(*kind)
                    .into_iter()
                    .flatten()
                    .filter(|v| !compared[i].contains(&((*kind).to_owned(), (*v).clone())))
                    .collect()
            })
            .collect();
        if wanted.iter().all(BTreeSet::is_empty) {
            continue;
        }
        let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        let mut scan = Scan::new(s.pattern.glob(None).0, Some(s.ks.key_type.redis_name()));
        while let Some(keys) = scan.next(conn).await? {
            let keys: Vec<Vec<u8>> = keys
                .into_iter()
                .filter(|k| s.pattern.captures(k).is_some())
                .collect();
            let values = read(conn, s.ks.key_type, &keys, &names).await?;
            for (k, vals) in keys.into_iter().zip(values) {
                let hit = vals
                    .iter()
                    .zip(&wanted)
                    .any(|(v, w)| v.as_ref().is_some_and(|v| w.contains(v)));
                if hit {
                    new.push((i, k));
                }
            }
        }
        for ((_, kind), w) in fields.iter().zip(&wanted) {
            for v in w {
                compared[i].insert(((*kind).to_owned(), (*v).clone()));
            }
        }
    }
    Ok(new)
}

/// What newly found keys tell about the subject: their placeholders and identity fields (read
/// in one pipeline for every key space).
async fn learn(
    conn: &mut Conn,
    spaces: &[Space<'_>],
    new: &[(usize, Vec<u8>)],
    known: &mut Known,
) -> Result<(), ConnectorError> {
    let fields: Vec<Vec<(&str, &str)>> = spaces.iter().map(|s| identity_fields(s.ks)).collect();
    let names: Vec<Vec<&str>> = fields
        .iter()
        .map(|f| f.iter().map(|(n, _)| *n).collect())
        .collect();
    let mut items = Vec::with_capacity(new.len());
    for (i, k) in new {
        for (kind, v) in spaces[*i].pattern.captures(k).unwrap_or_default() {
            known.entry(kind).or_default().insert(v);
        }
        items.push((spaces[*i].ks.key_type, k.as_slice(), names[*i].as_slice()));
    }
    for ((i, _), vals) in new.iter().zip(read_many(conn, &items).await?) {
        for ((_, kind), v) in fields[*i].iter().zip(vals) {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                known.entry((*kind).to_owned()).or_default().insert(v);
            }
        }
    }
    Ok(())
}
