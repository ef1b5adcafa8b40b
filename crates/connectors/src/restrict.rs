//! Restriction of processing (GDPR Art. 18) in a SQL datastore: the subject's rows of every
//! table that names a restriction column get its `set` value while the restriction is in
//! force, and its `clear` value when it ends — the company's own systems then see which rows
//! they may only store. One transaction per datastore, like erasure.
//!
//! The subject's rows are found by the same walk as access and erasure and pinned by primary
//! key first; each statement changes only rows that do not have the value yet, so the counts
//! are exactly what changed and marking twice changes nothing the second time. Nothing else
//! is touched: no personal field, no other column.

use crate::dataset::Dataset;
use crate::erase::{Change, ChangeReport};
use crate::graph::{Graph, Identities};
use crate::reach::Flag;
use crate::sql::{Bind, Db, Key, Sql};
use crate::ConnectorError;

const CHUNK: usize = 1000;

fn bind(flag: &Flag) -> Bind {
    match flag {
        Flag::Bool(b) => Bind::Bool(*b),
        Flag::Int(i) => Bind::Int(*i),
        Flag::Text(s) => Bind::Text(s.clone()),
    }
}

/// Marks (`restricted`) or clears the subject's rows in every table with a restriction
/// column. A dry run executes the same statements and rolls back.
pub async fn apply(
    db: &Db,
    ds: &Dataset,
    identities: &Identities,
    restricted: bool,
    dry_run: bool,
) -> Result<ChangeReport, ConnectorError> {
    let d = db.dialect();
    let graph = Graph::new(ds, d, identities);
    let action = if restricted { "restrict" } else { "lift" };
    let mut report = ChangeReport {
        datastore: ds.name.clone(),
        dry_run,
        ..Default::default()
    };
    let mut tx = db.begin().await?;
    for ti in graph.reached_tables() {
        let t = &ds.tables[ti];
        let (Some(column), Some(pk)) = (&t.restriction_column, &t.primary_key) else {
            continue;
        };
        let key_col = format!("{}.{}", d.quote(&t.name), d.quote(pk));
        let mut keys: Vec<Key> = Vec::new();
        for part in graph.predicate_parts(ti) {
            let mut q = Sql::new(d);
            q.push("SELECT ")
                .push(&key_col)
                .push(", ")
                .push(&d.as_text(&key_col))
                .push(" FROM ")
                .ident(&t.name)
                .push(" WHERE ")
                .append(&part);
            keys.extend(tx.keys(&q).await?);
        }
        keys.sort();
        keys.dedup();
        let value = bind(column.value(restricted));
        let mut rows = 0;
        for chunk in keys.chunks(CHUNK) {
            let mut q = Sql::new(d);
            q.push("UPDATE ")
                .ident(&t.name)
                .push(" SET ")
                .ident(&column.name)
                .push(" = ")
                .bind(value.clone())
                .push(" WHERE ")
                .in_keys(&d.quote(pk), chunk)
                .push(" AND (")
                .ident(&column.name)
                .push(" IS NULL OR ")
                .ident(&column.name)
                .push(" <> ")
                .bind(value.clone())
                .push(")");
            rows += tx.execute(&q).await?;
        }
        report.changes.push(Change {
            table: t.name.clone(),
            field: Some(column.name.clone()),
            action: action.into(),
            rows,
        });
    }
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(report)
}
