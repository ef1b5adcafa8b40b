//! Redis as a datastore: sessions, carts and profiles kept under key patterns.
//!
//! A Redis dataset lists `[[keys]]` instead of `[[tables]]`: a pattern such as
//! `profile:{user_id}` (the `{kind}` part of the key holds an identity) or `session:*`, the
//! key's type (`hash` or `string`) and its fields — a hash's fields, or for a string the one
//! field `value` — each with the same keys as a column: category, identity, erase strategy.
//! [`walk`] finds the subject's keys (exact keys where the pattern is filled by an identity,
//! `SCAN` — never `KEYS` — where a hash field holds it), learning more identities from the
//! keys it finds; [`ops`] streams access records, and erases or rectifies with every write of
//! a datastore in one `MULTI`/`EXEC`; [`check`] compares a dataset with a live server;
//! [`resp`] is the client. Runs, leases, retries and the recorded steps are the same as for SQL
//! (`crate::run`): a step on a Redis datastore calls [`step`].
//!
//! What Redis cannot do here: legal holds (`erase = "hold"` needs a SQL datastore, where the
//! held rows are recorded by primary key) and references between keys other than identities.

pub mod check;
pub mod ops;
pub mod pattern;
pub mod resp;
pub mod walk;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::access::AccessSink;
use crate::dataset::{valid_name, Dataset, Field, Strategy};
use crate::erase::{Corrections, HoldDates};
use crate::graph::Identities;
use crate::run::{RunKind, StepResult};
use crate::ConnectorError;
use pattern::Pattern;

/// How a key's value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// A hash: named fields.
    #[default]
    Hash,
    /// A string: one value, described as the field `value`.
    String,
}

impl KeyType {
    /// The name `TYPE` answers and `SCAN ... TYPE` takes.
    pub fn redis_name(self) -> &'static str {
        match self {
            KeyType::Hash => "hash",
            KeyType::String => "string",
        }
    }
}

/// The field name that stands for a string key's whole value.
pub const VALUE: &str = "value";

/// Keys of one pattern and what they hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpace {
    /// `profile:{user_id}`: literal text, `{kind}` placeholders holding identities, `*`.
    pub pattern: String,
    #[serde(default, rename = "type")]
    pub key_type: KeyType,
    #[serde(default)]
    pub fields: Vec<Field>,
}

impl KeySpace {
    /// Whether erasure removes the whole key (a field says `delete_row`, or a string's value
    /// is `null`: Redis has no NULL).
    pub fn deletes_key(&self) -> bool {
        self.fields.iter().any(|f| {
            f.erase == Strategy::DeleteRow
                || (self.key_type == KeyType::String && f.erase == Strategy::Null)
        })
    }
}

/// Whether a dataset describes a Redis datastore.
pub fn is_redis(ds: &Dataset) -> bool {
    !ds.keys.is_empty()
}

/// Every problem of a Redis dataset's keys (called by `Dataset::validate`).
pub fn validate(ds: &Dataset, policy: Option<&custodian_policy::Policy>) -> Vec<String> {
    let mut p = Vec::new();
    if ds.keys.is_empty() {
        return p;
    }
    if !ds.tables.is_empty() || ds.http.is_some() {
        p.push(format!(
            "{}: a Redis datastore (`keys`) has no tables and no `http`",
            ds.name
        ));
    }
    let mut patterns = BTreeSet::new();
    let mut any_identity = false;
    for (i, ks) in ds.keys.iter().enumerate() {
        let at = format!("keys[{i}] ({:?})", ks.pattern);
        if !patterns.insert(&ks.pattern) {
            p.push(format!("{at}: the pattern is listed twice"));
        }
        match Pattern::parse(&ks.pattern) {
            Err(e) => p.push(format!("{at}: {e}")),
            Ok(pat) => any_identity |= pat.kinds().next().is_some(),
        }
        let mut names = BTreeSet::new();
        for f in &ks.fields {
            let at = format!("{at}.{}", f.name);
            if !valid_name(&f.name) {
                p.push(format!("{at}: names must be 1 to 64 printable characters"));
            }
            if !names.insert(&f.name) {
                p.push(format!("{at}: listed twice"));
            }
            if ks.key_type == KeyType::String && f.name != VALUE {
                p.push(format!(
                    "{at}: a string key has one field, named `{VALUE}` (its whole value)"
                ));
            }
            any_identity |= f.identity.is_some();
            if f.references.is_some() {
                p.push(format!(
                    "{at}: Redis keys have no references; name the identity in the pattern (`{{kind}}`) or mark the field `identity`"
                ));
            }
            if f.erase == Strategy::Hold || f.hold.is_some() || f.after_hold.is_some() {
                p.push(format!(
                    "{at}: legal holds are kept in SQL datastores only (the held rows are recorded by primary key); erase this field or keep it (`none`)"
                ));
            }
            if let (Some(policy), Some(cat), None) = (policy, &f.category, f.personal) {
                if !policy.categories.iter().any(|c| &c.id == cat) {
                    p.push(format!(
                        "{at}: category `{cat}` is not one of the policy's categories"
                    ));
                }
            }
        }
    }
    if !any_identity {
        p.push(format!(
            "{}: no pattern has a `{{kind}}` placeholder and no field is an identity, so no subject can be found",
            ds.name
        ));
    }
    p
}

/// Whether a connection URL is a Redis server's.
pub fn is_redis_url(url: &str) -> bool {
    url.starts_with("redis://") || url.starts_with("rediss://")
}

/// One run step on a Redis datastore (the SQL path's counterpart in `run::execute`).
#[allow(clippy::too_many_arguments)]
pub async fn step(
    url: &str,
    ds: &Dataset,
    kind: RunKind,
    identities: &Identities,
    corrections: &Corrections,
    hash_key: &[u8],
    holds: &dyn HoldDates,
    dry_run: bool,
    sink: Option<&mut dyn AccessSink>,
) -> Result<StepResult, ConnectorError> {
    let mut conn = resp::Conn::connect(url).await?;
    match kind {
        RunKind::Access => {
            let mut discard = |_: &crate::access::AccessRecord<'_>| Ok(());
            let sink: &mut dyn AccessSink = match sink {
                Some(s) => s,
                None => &mut discard,
            };
            ops::access(&mut conn, ds, identities, sink)
                .await
                .map(StepResult::Access)
        }
        RunKind::Erasure => {
            let op = crate::erase::Operation::Erase { hash_key, holds };
            ops::apply(&mut conn, ds, identities, &op, dry_run)
                .await
                .map(StepResult::Change)
        }
        RunKind::Rectification => {
            let mine: Corrections = corrections
                .iter()
                .filter(|(k, _)| ops::correction_target(ds, k).is_some())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let op = crate::erase::Operation::Rectify(&mine);
            ops::apply(&mut conn, ds, identities, &op, dry_run)
                .await
                .map(StepResult::Change)
        }
        // No run of these has a step here (`crate::reach::takes`): Redis has no restriction
        // column, and only HTTP services take notices.
        other => Err(ConnectorError::Run(format!(
            "datastore {} is a Redis datastore, which takes no {}",
            ds.name,
            other.as_str()
        ))),
    }
}
