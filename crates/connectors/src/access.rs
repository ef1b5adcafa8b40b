//! Access: every personal field the walk reaches, grouped by data category, streamed row by
//! row into a writer the caller gives (the requests work puts it in the subject's archive).
//!
//! Records are produced category by category — one query per (category, table) — so the
//! output is grouped without buffering: memory stays flat in the number of rows. Access only
//! reads, so it works with read-only credentials.

use std::collections::BTreeSet;
use std::io::Write;

use serde::Serialize;

use crate::dataset::Dataset;
use crate::graph::{Graph, Identities};
use crate::sql::Db;
use crate::ConnectorError;

/// One row's personal fields of one category.
#[derive(Debug, Serialize)]
pub struct AccessRecord<'a> {
    pub datastore: &'a str,
    pub category: &'a str,
    pub table: &'a str,
    /// The row's primary key, as text, when the dataset names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Where access records go. Implemented for closures and by [`JsonLines`].
pub trait AccessSink: Send {
    fn record(&mut self, record: &AccessRecord<'_>) -> Result<(), ConnectorError>;
}

impl<F: FnMut(&AccessRecord<'_>) -> Result<(), ConnectorError> + Send> AccessSink for F {
    fn record(&mut self, record: &AccessRecord<'_>) -> Result<(), ConnectorError> {
        self(record)
    }
}

/// Writes one JSON object per line.
pub struct JsonLines<W: Write + Send>(pub W);

impl<W: Write + Send> AccessSink for JsonLines<W> {
    fn record(&mut self, record: &AccessRecord<'_>) -> Result<(), ConnectorError> {
        serde_json::to_writer(&mut self.0, record)
            .map_err(|e| ConnectorError::Sink(e.to_string()))?;
        self.0
            .write_all(b"\n")
            .map_err(|e| ConnectorError::Sink(e.to_string()))
    }
}

/// What an access step found: rows per table and category (no values).
#[derive(Debug, Default, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct AccessSummary {
    pub records: u64,
    pub by_table: std::collections::BTreeMap<String, u64>,
}

/// Streams the subject's personal data from one datastore into `sink`.
pub async fn access(
    db: &Db,
    ds: &Dataset,
    identities: &Identities,
    sink: &mut dyn AccessSink,
) -> Result<AccessSummary, ConnectorError> {
    let d = db.dialect();
    let graph = Graph::new(ds, d, identities);
    let reached = graph.reached_tables();
    let categories: BTreeSet<&str> = reached
        .iter()
        .flat_map(|&t| &ds.tables[t].fields)
        .filter(|f| f.is_personal())
        .filter_map(|f| f.category.as_deref())
        .collect();
    let mut summary = AccessSummary::default();
    for category in categories {
        for &ti in &reached {
            let t = &ds.tables[ti];
            let fields: Vec<&str> = t
                .fields
                .iter()
                .filter(|f| f.is_personal() && f.category.as_deref() == Some(category))
                .map(|f| f.name.as_str())
                .collect();
            if fields.is_empty() {
                continue;
            }
            let parts = graph.predicate_parts(ti);
            let pred = match (&t.primary_key, parts.len()) {
                (_, 0) => continue,
                // Alternatives joined by UNION rather than OR, so each can use its index.
                (Some(pk), n) if n > 1 => {
                    let col = format!("{}.{}", d.quote(&t.name), d.quote(pk));
                    let mut s = db.sql();
                    s.push(&col).push(" IN (");
                    for (i, part) in parts.iter().enumerate() {
                        if i > 0 {
                            s.push(" UNION ");
                        }
                        s.push("SELECT ").push(&col).push(" FROM ").ident(&t.name);
                        s.push(" WHERE ").append(part);
                    }
                    s.push(")");
                    s
                }
                _ => match graph.predicate(ti) {
                    Some(p) => p,
                    None => continue,
                },
            };
            let mut q = db.sql();
            q.push("SELECT ");
            match &t.primary_key {
                Some(pk) => q.push(&d.as_text(&format!("{}.{}", d.quote(&t.name), d.quote(pk)))),
                None => q.push("NULL"),
            };
            for f in &fields {
                q.push(", ")
                    .push(&d.as_text(&format!("{}.{}", d.quote(&t.name), d.quote(f))));
            }
            q.push(" FROM ")
                .ident(&t.name)
                .push(" WHERE ")
                .append(&pred);
            let n = db
                .for_each_text_row(&q, |mut values| {
                    let key = values.remove(0);
                    let mut map = serde_json::Map::with_capacity(fields.len());
                    for (name, v) in fields.iter().zip(values) {
                        map.insert(
                            (*name).to_owned(),
                            v.map_or(serde_json::Value::Null, serde_json::Value::String),
                        );
                    }
                    sink.record(&AccessRecord {
                        datastore: &ds.name,
                        category,
                        table: &t.name,
                        key,
                        fields: map,
                    })
                })
                .await?;
            summary.records += n;
            *summary.by_table.entry(t.name.clone()).or_default() += n;
        }
    }
    Ok(summary)
}
