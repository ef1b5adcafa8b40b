//! Retention rules anchored on `collected` (docs/retention.md): a record goes by its own
//! collection time, not with its subject. A table says which column holds that time
//! (`collected_at`); when the retention job runs, every table with one lets go of the rows
//! collected at or before the rule's cutoff — the fields of the rule's categories, each by its
//! erasure strategy (`after_hold` where the field is held under that very rule; a field held
//! under another rule, or never erased, stays). Rows go page by page, ordered by primary key,
//! one short transaction per page, so a table of millions of events never holds a lock for
//! long; a page only touches values that would change, so a run that stops half-way and runs
//! again ends where one run would. Rows of subjects under a legal hold are left out by their
//! own walk (`exclude`).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::dataset::{Dataset, Table};
use crate::erase::{self, ChangeReport, Operation};
use crate::graph::{Graph, Identities};
use crate::sql::{Bind, Db, Dialect, Key, Sql};
use crate::ConnectorError;

/// Rows per page (one transaction each).
pub const PAGE: usize = 1000;

/// How a collection time is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// A `DATE`, `TIMESTAMP`/`TIMESTAMPTZ` or `DATETIME` column — in SQLite, ISO 8601 text.
    /// A time without a zone is read as UTC (the database session's zone on PostgreSQL and
    /// MySQL).
    #[default]
    Timestamp,
    /// Seconds since 1970-01-01 UTC, an integer.
    UnixSeconds,
    /// Milliseconds since 1970-01-01 UTC, an integer.
    UnixMilliseconds,
}

/// The column of a table that holds when each row was collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectedAt {
    pub name: String,
    #[serde(default, rename = "type")]
    pub unit: TimeUnit,
}

/// `collected_at = "created_at"`, or `{ name = "created_at", type = "unix_seconds" }`.
pub(crate) fn collected_at<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<CollectedAt>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<CollectedAt>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a column name, or { name, type }")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(CollectedAt {
                name: v.to_owned(),
                unit: TimeUnit::Timestamp,
            }))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            CollectedAt::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
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

impl CollectedAt {
    /// `<column> <= <cutoff>` for the table, in the dialect; `cutoff` in microseconds since
    /// the epoch. A row whose time is NULL (or, in SQLite, not a time) is never selected: it
    /// cannot be shown to be due.
    fn at_or_before(&self, d: Dialect, table: &str, cutoff: i64) -> Sql {
        let col = format!("{}.{}", d.quote(table), d.quote(&self.name));
        let mut s = Sql::new(d);
        match self.unit {
            TimeUnit::UnixSeconds => {
                s.push(&col).push(" <= ");
                s.bind(Bind::Int(cutoff.div_euclid(1_000_000)));
            }
            TimeUnit::UnixMilliseconds => {
                s.push(&col).push(" <= ");
                s.bind(Bind::Int(cutoff.div_euclid(1_000)));
            }
            TimeUnit::Timestamp => {
                let text = timestamp_text(cutoff);
                match d {
                    Dialect::Postgres => {
                        s.push(&col).push(" <= CAST(");
                        s.bind(Bind::Text(format!("{text}+00")))
                            .push(" AS TIMESTAMPTZ)");
                    }
                    Dialect::MySql => {
                        s.push(&col).push(" <= ");
                        s.bind(Bind::Text(text));
                    }
                    Dialect::Sqlite => {
                        s.push("julianday(").push(&col).push(") <= julianday(");
                        s.bind(Bind::Text(text)).push(")");
                    }
                }
            }
        }
        s
    }
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` in UTC: a literal PostgreSQL, MySQL and SQLite all read.
fn timestamp_text(micros: i64) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

/// The problems of the dataset's `collected_at` columns: a table with one needs a
/// `primary_key` (rows go page by page, by key); with a policy, some field of the table must
/// be of a category a `collected` rule keeps, or the column is never read.
pub(crate) fn validate(ds: &Dataset, policy: Option<&custodian_policy::Policy>) -> Vec<String> {
    let mut p = Vec::new();
    for t in &ds.tables {
        let Some(c) = &t.collected_at else { continue };
        if !crate::dataset::valid_name(&c.name) {
            p.push(format!(
                "table {}: collected_at: names must be 1 to 64 printable characters",
                t.name
            ));
        }
        if t.primary_key.is_none() {
            p.push(format!(
                "table {}: collected_at needs `primary_key` (rows go page by page, by key)",
                t.name
            ));
        }
        if let Some(policy) = policy {
            let kept = policy
                .retention
                .iter()
                .filter(|r| r.anchor == custodian_policy::RetentionAnchor::Collected)
                .any(|r| {
                    t.fields.iter().any(|f| {
                        f.category
                            .as_ref()
                            .is_some_and(|c| r.categories.contains(c))
                    })
                });
            if !kept {
                p.push(format!(
                    "table {}: collected_at, but no field is of a category a retention rule anchored on `collected` keeps, so nothing goes by it",
                    t.name
                ));
            }
        }
    }
    p
}

/// Whether the table takes part: it has a collection time, a primary key and some field of
/// `categories` that the rule lets go.
pub fn applies(t: &Table, rule: &str, categories: &[String]) -> bool {
    t.collected_at.is_some()
        && t.primary_key.is_some()
        && !erase::plan_for(t, &collected_op(rule, categories, &[])).is_empty()
}

fn collected_op<'a>(rule: &'a str, categories: &'a [String], hash_key: &'a [u8]) -> Operation<'a> {
    Operation::Collected {
        hash_key,
        rule,
        categories,
    }
}

/// A `collected` rule that is due: every record of its `categories` collected at or before
/// `cutoff` (microseconds; `custodian_core::retention::Retention::collected_cutoff`) goes.
#[derive(Debug, Clone, Copy)]
pub struct DueRule<'a> {
    pub rule: &'a str,
    pub categories: &'a [String],
    pub cutoff: i64,
}

/// In every table of the datastore with a `collected_at`, the due rows' fields of the rule's
/// categories go (see the module's notes), except the rows of the subjects in `exclude` (a
/// legal hold). A dry run counts what would change and changes nothing.
pub async fn expire_collected(
    db: &Db,
    ds: &Dataset,
    due: DueRule<'_>,
    exclude: &[Identities],
    hash_key: &[u8],
    dry_run: bool,
) -> Result<ChangeReport, ConnectorError> {
    let DueRule {
        rule,
        categories,
        cutoff,
    } = due;
    let resolved;
    let ds = if ds.has_auto() {
        let schema = crate::check::introspect(db).await?;
        let (chosen, _, problems) = crate::check::resolve_auto(ds, &schema);
        if !problems.is_empty() {
            return Err(ConnectorError::Dataset { problems });
        }
        resolved = chosen;
        &resolved
    } else {
        ds
    };
    let d = db.dialect();
    let op = collected_op(rule, categories, hash_key);
    let mut report = ChangeReport {
        datastore: ds.name.clone(),
        dry_run,
        ..Default::default()
    };
    let graphs: Vec<Graph> = exclude.iter().map(|ids| Graph::new(ds, d, ids)).collect();
    for (ti, t) in ds.tables.iter().enumerate() {
        let (Some(at), Some(pk)) = (&t.collected_at, &t.primary_key) else {
            continue;
        };
        if erase::plan_for(t, &op).is_empty() {
            continue;
        }
        let pk_col = format!("{}.{}", d.quote(&t.name), d.quote(pk));
        let mut after: Option<Key> = None;
        loop {
            let mut q = Sql::new(d);
            q.push("SELECT ")
                .push(&pk_col)
                .push(", ")
                .push(&d.as_text(&pk_col))
                .push(" FROM ")
                .ident(&t.name)
                .push(" WHERE ")
                .append(&at.at_or_before(d, &t.name, cutoff));
            for g in &graphs {
                if let Some(held) = g.predicate(ti) {
                    // NULL (a row the walk cannot place) counts as not held.
                    q.push(" AND NOT COALESCE((")
                        .append(&held)
                        .push("), FALSE)");
                }
            }
            match &after {
                Some(Key::Int(k)) => {
                    q.push(" AND ").push(&pk_col).push(" > ");
                    q.bind(Bind::Int(*k));
                }
                Some(Key::Text(k)) => {
                    q.push(" AND ").push(&d.as_text(&pk_col)).push(" > ");
                    q.bind(Bind::Text(k.clone()));
                }
                None => {}
            }
            q.push(" ORDER BY ")
                .push(&pk_col)
                .push(&format!(" LIMIT {PAGE}"));
            let mut tx = db.begin().await?;
            let keys = tx.keys(&q).await?;
            if keys.is_empty() {
                tx.rollback().await?;
                break;
            }
            let mut page = ChangeReport::default();
            erase::change_rows(&mut tx, d, ds, ti, &keys, &op, &mut page).await?;
            if dry_run {
                tx.rollback().await?;
            } else {
                tx.commit().await?;
            }
            merge(&mut report, page);
            let full = keys.len() == PAGE;
            after = keys.into_iter().last();
            if !full {
                break;
            }
        }
    }
    Ok(report)
}

/// Adds a page's changes to the report, one entry per table, field and action.
fn merge(report: &mut ChangeReport, page: ChangeReport) {
    let mut at: BTreeMap<(String, Option<String>, String), usize> = report
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| ((c.table.clone(), c.field.clone(), c.action.clone()), i))
        .collect();
    for c in page.changes {
        let key = (c.table.clone(), c.field.clone(), c.action.clone());
        match at.get(&key) {
            Some(&i) => report.changes[i].rows += c.rows,
            None => {
                at.insert(key, report.changes.len());
                report.changes.push(c);
            }
        }
    }
}
