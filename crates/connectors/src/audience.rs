//! Who a notice must reach, found in the company's own databases: the people a DPO's query
//! over a registered SQL datastore names (a breach's victims: "every customer in the leaked
//! table"), and the e-mail addresses of people the company knows by user id. Used by
//! `custodian_app::incidents` (GDPR Art. 34) and `custodian_app::disclosures`.
//!
//! A DPO's query runs read-only: one `SELECT` (or `WITH … SELECT`), inside a read-only
//! transaction on PostgreSQL and MySQL/MariaDB and on a connection with `query_only` set on
//! SQLite, so even a query that tried to change something could not. Its columns named
//! `email` and `user_id` are read (text or integer); others are ignored. Addresses found are
//! handed to the caller and never logged.

use std::collections::HashMap;

use custodian_store::runs::DatastoreRecord;
use custodian_store::Store;
use sqlx::{Column, Row};

use crate::run::{connection_url, datastores, load_dataset};
use crate::sql::{Bind, Db};
use crate::ConnectorError;

/// One person a query named.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Person {
    pub email: Option<String>,
    pub user_id: Option<String>,
}

/// The most people one query may name.
pub const MAX_PEOPLE: usize = 1_000_000;

/// Checks that `query` is one read statement; answers it without a trailing `;`.
pub fn read_query(query: &str) -> Result<&str, ConnectorError> {
    let q = query.trim();
    let q = q.strip_suffix(';').unwrap_or(q).trim_end();
    let first = q.split_whitespace().next().unwrap_or_default();
    if !(first.eq_ignore_ascii_case("select") || first.eq_ignore_ascii_case("with"))
        || q.contains(';')
    {
        return Err(ConnectorError::Config(
            "the query must be one SELECT statement (or WITH … SELECT) returning a column `email` and/or `user_id`".into(),
        ));
    }
    Ok(q)
}

async fn open(
    store: &Store,
    configured: &[DatastoreRecord],
    name: &str,
) -> Result<Db, ConnectorError> {
    let reg = datastores(store, configured)
        .await?
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| ConnectorError::UnknownDatastore(name.to_owned()))?;
    let ds = load_dataset(&reg)?;
    if ds.http.is_some() || !ds.keys.is_empty() {
        return Err(ConnectorError::Config(format!(
            "datastore {name} is not an SQL database; a query runs on PostgreSQL, MySQL/MariaDB or SQLite"
        )));
    }
    Db::connect(&connection_url(&reg, &ds)?).await
}

/// The people `query` names on the registered SQL datastore `name`, read-only.
pub async fn query_people(
    store: &Store,
    configured: &[DatastoreRecord],
    name: &str,
    query: &str,
) -> Result<Vec<Person>, ConnectorError> {
    let q = read_query(query)?;
    let db = open(store, configured, name).await?;
    let result = read_only(&db, q).await;
    db.close().await;
    result
}

// One macro body per backend: the statements that make the transaction read-only differ, the
// reading of the rows does not. The query is wrapped in a LIMIT, so the rows fetched whole are
// bounded. (`sqlx::query`, not `raw_sql`, for the pragma: a `raw_sql` future is not `Send` for
// every lifetime, which axum's handlers need.)
macro_rules! read_rows {
    ($pool:expr, $begin:expr, $pragma:expr, $q:expr) => {{
        let mut tx = $pool.begin_with($begin).await?;
        if let Some(sql) = $pragma {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        let bounded = format!(
            "SELECT * FROM ({}) AS audience LIMIT {}",
            $q,
            MAX_PEOPLE + 1
        );
        let rows = sqlx::query(&bounded).fetch_all(&mut *tx).await;
        tx.rollback().await?;
        let rows = rows?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let at = |n: &str| {
            first
                .columns()
                .iter()
                .position(|c| c.name().eq_ignore_ascii_case(n))
        };
        let (e, u) = (at("email"), at("user_id"));
        if e.is_none() && u.is_none() {
            return Err(ConnectorError::Config(
                "the query returns no column named `email` or `user_id`".into(),
            ));
        }
        if rows.len() > MAX_PEOPLE {
            return Err(ConnectorError::Config(format!(
                "the query names more than {MAX_PEOPLE} people; narrow it"
            )));
        }
        Ok(rows
            .iter()
            .map(|row| {
                // A value as text, whether the column is text or an integer.
                let text = |i: usize| -> Option<String> {
                    match row.try_get::<Option<String>, _>(i) {
                        Ok(v) => v.filter(|s| !s.trim().is_empty()),
                        Err(_) => row
                            .try_get::<Option<i64>, _>(i)
                            .ok()
                            .flatten()
                            .map(|n| n.to_string()),
                    }
                };
                Person {
                    email: e.and_then(text),
                    user_id: u.and_then(text),
                }
            })
            .collect())
    }};
}

async fn read_only(db: &Db, q: &str) -> Result<Vec<Person>, ConnectorError> {
    match db {
        Db::Postgres(p) => read_rows!(p, "BEGIN READ ONLY", None::<&str>, q),
        Db::MySql(p) => read_rows!(p, "START TRANSACTION READ ONLY", None::<&str>, q),
        // The pool is this call's own and closed after it, so the setting dies with it.
        Db::Sqlite(p) => read_rows!(p, "BEGIN", Some("PRAGMA query_only = ON"), q),
    }
}

/// The e-mail address of each user id the registered SQL datastores know: every table with a
/// field marked `identity = "user_id"` and one marked `identity = "email"` is asked. A user id
/// no table knows is absent from the answer. Datastores that are not SQL, or do not answer,
/// are skipped (the caller counts the people not reached).
pub async fn emails_of_user_ids(
    store: &Store,
    configured: &[DatastoreRecord],
    user_ids: &[String],
) -> Result<HashMap<String, String>, ConnectorError> {
    let mut found = HashMap::new();
    if user_ids.is_empty() {
        return Ok(found);
    }
    for reg in datastores(store, configured).await? {
        let Ok(ds) = load_dataset(&reg) else { continue };
        let pairs: Vec<(String, String, String)> = ds
            .tables
            .iter()
            .filter_map(|t| {
                let by = |kind: &str| {
                    t.fields
                        .iter()
                        .find(|f| f.identity.as_deref() == Some(kind))
                };
                Some((
                    t.name.clone(),
                    by("user_id")?.name.clone(),
                    by("email")?.name.clone(),
                ))
            })
            .collect();
        if pairs.is_empty() || ds.http.is_some() {
            continue;
        }
        let Ok(url) = connection_url(&reg, &ds) else {
            continue;
        };
        let Ok(db) = Db::connect(&url).await else {
            tracing::warn!(datastore = %reg.name, "a datastore did not answer while looking up addresses");
            continue;
        };
        for (table, uid, email) in &pairs {
            for chunk in user_ids.chunks(500) {
                let d = db.dialect();
                let mut sql = db.sql();
                sql.push("SELECT ")
                    .push(&d.as_text(&d.quote(uid)))
                    .push(", ")
                    .push(&d.as_text(&d.quote(email)))
                    .push(" FROM ")
                    .ident(table)
                    .push(" WHERE ")
                    .push(&d.as_text(&d.quote(uid)))
                    .push(" IN (");
                for (i, u) in chunk.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.bind(Bind::Text(u.clone()));
                }
                sql.push(")");
                for row in db.text_rows(&sql).await? {
                    if let [Some(u), Some(e)] = row.as_slice() {
                        if !e.trim().is_empty() {
                            found.entry(u.clone()).or_insert_with(|| e.clone());
                        }
                    }
                }
            }
        }
        db.close().await;
    }
    Ok(found)
}
