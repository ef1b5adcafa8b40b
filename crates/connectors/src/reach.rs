//! How a dataset says which request types reach its datastore beyond access, erasure and
//! rectification: a table's **restriction column** (rows marked while a restriction of
//! processing is in force, GDPR Art. 18, and cleared when it ends), and an HTTP service's
//! **declared endpoints** (`[http.endpoints]`: one path per action — restriction, objection,
//! consent withdrawal, the Art. 19 notice of an erasure to a recipient — besides the classic
//! three). [`takes`] answers whether a datastore takes a kind of run, which is how a run picks
//! its steps.
//!
//! The model lives here rather than in `dataset.rs` so the dataset's own file stays about
//! tables and fields; `Dataset::validate` calls [`validate`] for these parts.

use std::fmt;

use custodian_core::run::RunKind;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::dataset::Dataset;

/// A value written into a restriction column: a boolean, an integer or a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Flag {
    Bool(bool),
    Int(i64),
    Text(String),
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flag::Bool(b) => write!(f, "{b}"),
            Flag::Int(i) => write!(f, "{i}"),
            Flag::Text(s) => write!(f, "{s:?}"),
        }
    }
}

fn flag_true() -> Flag {
    Flag::Bool(true)
}
fn flag_false() -> Flag {
    Flag::Bool(false)
}

/// A table's restriction column: `restriction_column = "processing_restricted"` (set to
/// `true` while restricted, `false` after), or `{ name = "...", set = ..., clear = ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictionColumn {
    /// The column.
    pub name: String,
    /// Written to the subject's rows when a restriction comes into force.
    #[serde(default = "flag_true")]
    pub set: Flag,
    /// Written to them when it is lifted.
    #[serde(default = "flag_false")]
    pub clear: Flag,
}

impl RestrictionColumn {
    pub fn value(&self, restricted: bool) -> &Flag {
        if restricted {
            &self.set
        } else {
            &self.clear
        }
    }
}

/// Reads the short form (the column's name) or the table form, with serde's own located
/// messages for unknown keys and wrong types.
pub(crate) fn restriction_column<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<RestrictionColumn>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<RestrictionColumn>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a column name, or { name, set, clear }")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(RestrictionColumn {
                name: v.to_owned(),
                set: flag_true(),
                clear: flag_false(),
            }))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            RestrictionColumn::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(V)
        }
    }
    d.deserialize_any(V)
}

/// An HTTP service's endpoints, one per action it takes: a path appended to the connection
/// URL (`""` is the URL itself). Without the table a service takes access, erasure and
/// rectification at its URL; with it, exactly the actions listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rectification: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction_lift: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_withdrawal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure_notice: Option<String>,
}

impl Endpoints {
    pub fn get(&self, kind: RunKind) -> Option<&str> {
        match kind {
            RunKind::Access => self.access.as_deref(),
            RunKind::Erasure => self.erasure.as_deref(),
            RunKind::Rectification => self.rectification.as_deref(),
            RunKind::Restriction => self.restriction.as_deref(),
            RunKind::RestrictionLift => self.restriction_lift.as_deref(),
            RunKind::Objection => self.objection.as_deref(),
            RunKind::ConsentWithdrawal => self.consent_withdrawal.as_deref(),
            RunKind::ErasureNotice => self.erasure_notice.as_deref(),
        }
    }
}

/// Whether a run of `kind` has a step on this datastore. An HTTP service takes what it
/// declares (the classic three without `[http.endpoints]`); a database takes access, erasure
/// and rectification, and restriction and its lifting when a table names a restriction column.
pub fn takes(ds: &Dataset, kind: RunKind) -> bool {
    if let Some(http) = &ds.http {
        return match &http.endpoints {
            None => kind.is_classic(),
            Some(e) => e.get(kind).is_some(),
        };
    }
    match kind {
        RunKind::Restriction | RunKind::RestrictionLift => {
            ds.tables.iter().any(|t| t.restriction_column.is_some())
        }
        k => k.is_classic(),
    }
}

/// The URL of the service's endpoint for `kind`: the declared path appended to the
/// connection URL's path (before any query), or the URL itself.
pub fn endpoint_url(ds: &Dataset, base: &str, kind: RunKind) -> String {
    let path = ds
        .http
        .as_ref()
        .and_then(|h| h.endpoints.as_ref())
        .and_then(|e| e.get(kind))
        .unwrap_or("");
    if path.is_empty() {
        return base.to_owned();
    }
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let mut url = format!("{}{path}", head.trim_end_matches('/'));
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// The problems of a dataset's restriction columns and endpoints (see `Dataset::validate`).
pub fn validate(ds: &Dataset, policy: Option<&custodian_policy::Policy>) -> Vec<String> {
    let mut p = Vec::new();
    for t in &ds.tables {
        let Some(r) = &t.restriction_column else {
            continue;
        };
        let at = format!("table {}: restriction_column", t.name);
        if !crate::dataset::valid_name(&r.name) {
            p.push(format!(
                "{at}: the name must be 1 to 64 printable characters"
            ));
        }
        if t.primary_key.is_none() {
            p.push(format!(
                "{at} needs `primary_key` to address the subject's rows exactly"
            ));
        }
        if t.primary_key.as_deref() == Some(r.name.as_str()) {
            p.push(format!("{at}: `{}` is the primary key", r.name));
        }
        if let Some(f) = t.field(&r.name) {
            if f.identity.is_some() || f.references.is_some() {
                p.push(format!(
                    "{at}: `{}` holds an identity or a reference, which finding the subject needs",
                    r.name
                ));
            }
        }
        if r.set == r.clear {
            p.push(format!(
                "{at}: `set` and `clear` are both {}, so a restricted row would not show",
                r.set
            ));
        }
    }
    let Some(http) = &ds.http else {
        return p;
    };
    if let Some(e) = &http.endpoints {
        for kind in RunKind::ALL {
            let Some(path) = e.get(kind) else { continue };
            let ok = path.is_empty()
                || (path.starts_with('/')
                    && path.len() <= 200
                    && !path.chars().any(|c| c.is_whitespace() || c.is_control())
                    && !path.contains(['?', '#']));
            if !ok {
                p.push(format!(
                    "http.endpoints.{}: a path appended to the connection URL: empty, or `/` and up to 200 characters without spaces, `?` or `#`",
                    kind.as_str()
                ));
            }
        }
        if e.erasure_notice.is_some() && http.recipient.is_none() {
            p.push(
                "http.endpoints.erasure_notice: the service must say which of the policy's recipients it is (`http.recipient`), for the record of who was told (GDPR Art. 19)"
                    .to_owned(),
            );
        }
    }
    if let (Some(recipient), Some(policy)) = (&http.recipient, policy) {
        if !policy.recipients.iter().any(|r| &r.id == recipient) {
            p.push(format!(
                "http.recipient: `{recipient}` is not one of the policy's recipients"
            ));
        }
    }
    p
}
