//! Erasure and rectification on one SQL datastore, in one transaction.
//!
//! The subject's rows are first pinned by primary key in every reached table — before
//! anything changes, since deleting a child would hide the parent it leads to — then tables
//! change in the order the references give (children before parents). Each statement only
//! touches values that would change (`... AND f IS NOT NULL`), so the counts are exactly what
//! changed and running the same erasure twice changes nothing the second time. A keyed hash
//! carries a prefix and is never hashed again. Held fields are kept and reported with the
//! date their hold ends. A dry run executes the very same statements and rolls back.
//! `write` changes one field (constants in bulk, computed values row by row); `values` computes
//! those values. Strategies left to Custodian (`auto`) are chosen against the live columns
//! first (`check::resolve_auto`).

use std::collections::BTreeMap;

mod values;
mod write;

use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, FieldType, Strategy};
use crate::graph::{Graph, Identities};
use crate::sql::{Bind, Db, Dialect, Key, Sql, Tx};
use crate::ConnectorError;

/// The value a masked field gets.
pub const MASK: &str = "[erased]";
pub use values::HASH_PREFIX;
pub(crate) const CHUNK: usize = 1000;

/// When a legal hold ends, per retention rule id.
pub trait HoldDates: Sync {
    fn hold_until(&self, rule: &str) -> Option<jiff::civil::Date>;
}

impl<F: Fn(&str) -> Option<jiff::civil::Date> + Sync> HoldDates for F {
    fn hold_until(&self, rule: &str) -> Option<jiff::civil::Date> {
        self(rule)
    }
}

/// Hold dates from the policy's retention rules, counted from one anchor date (for example
/// the day the account was closed, or today when it is still open).
pub struct PolicyHolds<'p> {
    pub policy: &'p custodian_policy::Policy,
    pub anchor: jiff::civil::Date,
}

impl HoldDates for PolicyHolds<'_> {
    fn hold_until(&self, rule: &str) -> Option<jiff::civil::Date> {
        let r = self.policy.retention.iter().find(|r| r.id == rule)?;
        let span: jiff::Span = r.keep_for.parse().ok()?;
        self.anchor.checked_add(span).ok()
    }
}

/// Corrections for rectification: `table.field` → the corrected value.
pub type Corrections = BTreeMap<String, String>;

/// What erasure or rectification did (or, in a dry run, would do). Counts only, no values.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChangeReport {
    pub datastore: String,
    pub dry_run: bool,
    pub changes: Vec<Change>,
    pub holds: Vec<Held>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The primary keys of the rows kept under each rule, for the run to record (sealed) so
    /// retention can let them go by key. Never part of the recorded result.
    #[serde(skip)]
    pub held_rows: Vec<HeldRows>,
}

/// Rows kept under one retention rule by an erasure: table → primary keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRows {
    pub rule: String,
    /// The day the hold ends, when known.
    pub until: Option<jiff::civil::Date>,
    pub tables: BTreeMap<String, Vec<Key>>,
}

impl ChangeReport {
    pub fn rows_changed(&self) -> u64 {
        self.changes.iter().map(|c| c.rows).sum()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Change {
    pub table: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `delete_row`, `null`, `mask`, `hash` or `rectify`.
    pub action: String,
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Held {
    pub table: String,
    pub field: String,
    pub rule: String,
    pub rows: u64,
    /// The day the hold ends (ISO date), when known.
    pub until: Option<String>,
}

/// What to do to the subject's rows.
pub enum Operation<'a> {
    Erase {
        hash_key: &'a [u8],
        holds: &'a dyn HoldDates,
    },
    Rectify(&'a Corrections),
    /// The retention rule `rule` is due for the subject: the fields it held go, each by its
    /// `after_hold` strategy (NULL by default). Nothing else is touched.
    Expire {
        hash_key: &'a [u8],
        rule: &'a str,
    },
    /// The `collected` rule `rule` is due for rows by their own collection time
    /// (`crate::collected`): the fields of its `categories` go by their erasure strategy, or
    /// by `after_hold` when held under this rule; fields held under another rule stay.
    Collected {
        hash_key: &'a [u8],
        rule: &'a str,
        categories: &'a [String],
    },
}

/// How each field of a table goes under an erasure or an expiry, in field order.
fn erase_plan(t: &crate::dataset::Table, op: &Operation<'_>) -> Vec<(usize, Strategy)> {
    t.fields
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let s = match op {
                Operation::Erase { .. } => f.erase,
                Operation::Expire { rule, .. } => match (&f.erase, &f.hold) {
                    (Strategy::Hold, Some(r)) if r == rule => {
                        f.after_hold.unwrap_or(Strategy::Null)
                    }
                    _ => return None,
                },
                Operation::Collected {
                    rule, categories, ..
                } => {
                    if !f.category.as_ref().is_some_and(|c| categories.contains(c)) {
                        return None;
                    }
                    match (&f.erase, &f.hold) {
                        (Strategy::Hold, Some(r)) if r == rule => {
                            f.after_hold.unwrap_or(Strategy::Null)
                        }
                        (Strategy::Hold, _) => return None,
                        (s, _) => *s,
                    }
                }
                Operation::Rectify(_) => return None,
            };
            (s == Strategy::DeleteRow || s == Strategy::Null || s.rewrites()).then_some((i, s))
        })
        .collect()
}

/// How each field of a table goes under `op` (empty: the table is left alone).
pub(crate) fn plan_for(t: &crate::dataset::Table, op: &Operation<'_>) -> Vec<(usize, Strategy)> {
    erase_plan(t, op)
}

/// Applies `op` to the rows `keys` of table `ti`, inside the caller's transaction (the
/// `collected` rules' pages, `crate::collected`).
pub(crate) async fn change_rows(
    tx: &mut Tx,
    d: Dialect,
    ds: &Dataset,
    ti: usize,
    keys: &[Key],
    op: &Operation<'_>,
    report: &mut ChangeReport,
) -> Result<(), ConnectorError> {
    let pinned = BTreeMap::from([(ti, keys.to_vec())]);
    change(tx, d, ds, &[ti], &pinned, op, report).await
}

/// Erases or rectifies the subject's data in one datastore, in one transaction.
pub async fn apply(
    db: &Db,
    ds: &Dataset,
    identities: &Identities,
    op: Operation<'_>,
    dry_run: bool,
) -> Result<ChangeReport, ConnectorError> {
    // Strategies Custodian chooses (`auto`) are chosen against the live columns, now.
    let resolved;
    let ds = if ds.has_auto() && matches!(op, Operation::Erase { .. }) {
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
    let graph = Graph::new(ds, d, identities);
    let (order, notes) = Graph::erase_order(ds);
    let mut report = ChangeReport {
        datastore: ds.name.clone(),
        dry_run,
        notes,
        ..Default::default()
    };
    if let Operation::Rectify(c) = &op {
        for target in c.keys() {
            let known = target.split_once('.').and_then(|(t, f)| {
                ds.table(t)
                    .and_then(|t| t.field(f))
                    .filter(|f| f.is_personal())
            });
            if known.is_none() {
                return Err(ConnectorError::Run(format!(
                    "correction target `{target}` is not a personal field of datastore {}",
                    ds.name
                )));
            }
        }
    }
    let mut tx = db.begin().await?;
    // Pin every reached table's rows before anything changes.
    let mut keys: BTreeMap<usize, Vec<Key>> = BTreeMap::new();
    for ti in graph.reached_tables() {
        let t = &ds.tables[ti];
        let Some(pk) = &t.primary_key else { continue };
        let col = format!("{}.{}", d.quote(&t.name), d.quote(pk));
        let mut found = Vec::new();
        for part in graph.predicate_parts(ti) {
            let mut q = Sql::new(d);
            q.push("SELECT ")
                .push(&col)
                .push(", ")
                .push(&d.as_text(&col))
                .push(" FROM ")
                .ident(&t.name)
                .push(" WHERE ")
                .append(&part);
            found.extend(tx.keys(&q).await?);
        }
        found.sort();
        found.dedup();
        keys.insert(ti, found);
    }
    change(&mut tx, d, ds, &order, &keys, &op, &mut report).await?;
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(report)
}

/// Applies `op` to the pinned rows (`keys`: table index → primary keys), tables in `order`.
#[allow(clippy::too_many_arguments)]
async fn change(
    tx: &mut Tx,
    d: Dialect,
    ds: &Dataset,
    order: &[usize],
    keys: &BTreeMap<usize, Vec<Key>>,
    op: &Operation<'_>,
    report: &mut ChangeReport,
) -> Result<(), ConnectorError> {
    for &ti in order {
        let Some(rows) = keys.get(&ti) else { continue };
        if rows.is_empty() {
            continue;
        }
        let t = &ds.tables[ti];
        let pk = t.primary_key.as_deref().expect("pinned tables have a key");
        match op {
            Operation::Rectify(corrections) => {
                for f in &t.fields {
                    let Some(value) = corrections.get(&format!("{}.{}", t.name, f.name)) else {
                        continue;
                    };
                    let bind = match f.field_type {
                        FieldType::Integer => Bind::Int(value.trim().parse().map_err(|_| {
                            ConnectorError::Run(format!(
                                "the correction of {}.{} must be an integer",
                                t.name, f.name
                            ))
                        })?),
                        FieldType::Text => Bind::Text(value.clone()),
                    };
                    let mut n = 0;
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = Sql::new(d);
                        q.push("UPDATE ")
                            .ident(&t.name)
                            .push(" SET ")
                            .ident(&f.name)
                            .push(" = ");
                        q.bind(bind.clone())
                            .push(" WHERE ")
                            .in_keys(&d.quote(pk), chunk);
                        q.push(" AND (")
                            .ident(&f.name)
                            .push(" IS NULL OR ")
                            .ident(&f.name)
                            .push(" <> ");
                        q.bind(bind.clone()).push(")");
                        n += tx.execute(&q).await?;
                    }
                    report.changes.push(Change {
                        table: t.name.clone(),
                        field: Some(f.name.clone()),
                        action: "rectify".into(),
                        rows: n,
                    });
                }
            }
            Operation::Erase { hash_key, .. }
            | Operation::Expire { hash_key, .. }
            | Operation::Collected { hash_key, .. } => {
                if let Operation::Erase { holds, .. } = op {
                    for f in t.fields.iter().filter(|f| f.erase == Strategy::Hold) {
                        let rule = f.hold.clone().unwrap_or_default();
                        let until = holds.hold_until(&rule);
                        report.holds.push(Held {
                            table: t.name.clone(),
                            field: f.name.clone(),
                            until: until.map(|d| d.to_string()),
                            rule: rule.clone(),
                            rows: rows.len() as u64,
                        });
                        held_rows(report, &rule, until, &t.name, rows);
                    }
                }
                let plan = erase_plan(t, op);
                if plan.iter().any(|(_, s)| *s == Strategy::DeleteRow) {
                    let mut n = 0;
                    for chunk in rows.chunks(CHUNK) {
                        let mut q = Sql::new(d);
                        q.push("DELETE FROM ")
                            .ident(&t.name)
                            .push(" WHERE ")
                            .in_keys(&d.quote(pk), chunk);
                        n += tx.execute(&q).await?;
                    }
                    report.changes.push(Change {
                        table: t.name.clone(),
                        field: None,
                        action: "delete_row".into(),
                        rows: n,
                    });
                    continue;
                }
                let (per_row, constants): (Vec<_>, Vec<_>) =
                    plan.iter().partition(|(_, s)| write::computed(*s));
                let mut counts = Vec::new();
                for &(fi, strategy) in &constants {
                    let n = write::constant(tx, d, t, pk, fi, strategy, rows).await?;
                    counts.push((fi, strategy, n));
                }
                let computed =
                    write::computed_fields(tx, d, t, pk, &per_row, rows, hash_key).await?;
                counts.extend(per_row.iter().zip(computed).map(|(&(fi, s), n)| (fi, s, n)));
                counts.sort_by_key(|(fi, ..)| *fi);
                for (fi, strategy, n) in counts {
                    report.changes.push(Change {
                        table: t.name.clone(),
                        field: Some(t.fields[fi].name.clone()),
                        action: strategy.name().into(),
                        rows: n,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Adds a held table's rows to the report's record of what `rule` keeps.
fn held_rows(
    report: &mut ChangeReport,
    rule: &str,
    until: Option<jiff::civil::Date>,
    table: &str,
    rows: &[Key],
) {
    let at = match report.held_rows.iter().position(|h| h.rule == rule) {
        Some(i) => i,
        None => {
            report.held_rows.push(HeldRows {
                rule: rule.to_owned(),
                until,
                tables: BTreeMap::new(),
            });
            report.held_rows.len() - 1
        }
    };
    report.held_rows[at]
        .tables
        .entry(table.to_owned())
        .or_insert_with(|| rows.to_vec());
}

/// Lets go, by primary key, rows an erasure kept under `rule` (`tables`: table name →
/// primary keys, as [`HeldRows`] recorded them): each field the rule held goes by its
/// `after_hold` strategy, in one transaction, nothing else changes. The subject's identifiers
/// are not needed — they are gone by then. Idempotent.
pub async fn expire_keys(
    db: &Db,
    ds: &Dataset,
    tables: &BTreeMap<String, Vec<Key>>,
    rule: &str,
    hash_key: &[u8],
) -> Result<ChangeReport, ConnectorError> {
    let mut keys = BTreeMap::new();
    for (name, rows) in tables {
        let ti = ds
            .tables
            .iter()
            .position(|t| &t.name == name && t.primary_key.is_some())
            .ok_or_else(|| {
                ConnectorError::Run(format!(
                    "datastore {}: the held table {name} is no longer in its dataset with a primary key",
                    ds.name
                ))
            })?;
        keys.insert(ti, rows.clone());
    }
    let (order, notes) = Graph::erase_order(ds);
    let mut report = ChangeReport {
        datastore: ds.name.clone(),
        notes,
        ..Default::default()
    };
    let mut tx = db.begin().await?;
    change(
        &mut tx,
        db.dialect(),
        ds,
        &order,
        &keys,
        &Operation::Expire { hash_key, rule },
        &mut report,
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

pub use values::keyed_hash;
