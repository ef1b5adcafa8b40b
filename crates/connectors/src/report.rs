//! Runs a policy's aggregate report (`[[reports]]`) on a registered datastore: the one grouped
//! statement the policy declares, in a read-only transaction, its rows read as group keys and
//! the count of people. Suppression of small groups is `custodian_core::aggregate`'s; this
//! module only reads. The statement comes from the policy file (which the DPO controls), and
//! the transaction is read-only on every backend, so a report can never change the company's
//! data.

use futures_util::TryStreamExt;
use sqlx::{Column, Row};

use custodian_store::runs::DatastoreRecord;
use custodian_store::Store;

use crate::run::{connection_url, datastores, load_dataset};
use crate::sql::{redact, Db};
use crate::ConnectorError;

/// The rows of a report as read: each group's key values (in column order) and its number of
/// people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows {
    /// The key columns' names, in the query's order (the people column left out).
    pub keys: Vec<String>,
    pub groups: Vec<(Vec<Option<String>>, i64)>,
}

/// Runs `query` on the datastore registered as `datastore` (in the store or the config file)
/// and reads `people` as the count of each group.
pub async fn run(
    store: &Store,
    configured: &[DatastoreRecord],
    datastore: &str,
    query: &str,
    people: &str,
) -> Result<Rows, ConnectorError> {
    let reg = datastores(store, configured)
        .await?
        .into_iter()
        .find(|r| r.name == datastore)
        .ok_or_else(|| ConnectorError::UnknownDatastore(datastore.to_owned()))?;
    let ds = load_dataset(&reg)?;
    if ds.http.is_some() || crate::redis::is_redis(&ds) {
        return Err(ConnectorError::Config(format!(
            "datastore {datastore} is not a SQL database; a report runs a SQL query"
        )));
    }
    let url = connection_url(&reg, &ds)?;
    let db = Db::connect(&url).await?;
    let out = read(&db, query, people)
        .await
        .map_err(|e| ConnectorError::Database(redact(&e.to_string(), &url)));
    db.close().await;
    out
}

/// Reads the report in a read-only transaction, rolled back afterwards.
async fn read(db: &Db, query: &str, people: &str) -> Result<Rows, ConnectorError> {
    let query = query.trim().trim_end_matches(';');
    macro_rules! read_only {
        ($pool:expr, $begin:expr, $end:expr) => {{
            let mut conn = $pool.acquire().await?;
            sqlx::raw_sql($begin).execute(&mut *conn).await?;
            let mut rows = sqlx::raw_sql(query).fetch(&mut *conn);
            let mut out = Rows {
                keys: Vec::new(),
                groups: Vec::new(),
            };
            let mut people_at = None;
            while let Some(row) = rows.try_next().await? {
                if people_at.is_none() {
                    let names: Vec<String> =
                        row.columns().iter().map(|c| c.name().to_owned()).collect();
                    let at = names
                        .iter()
                        .position(|n| n.eq_ignore_ascii_case(people))
                        .ok_or_else(|| {
                            ConnectorError::Config(format!(
                                "the report's query has no column `{people}` (it has {})",
                                names.join(", ")
                            ))
                        })?;
                    out.keys = names
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != at)
                        .map(|(_, n)| n.clone())
                        .collect();
                    people_at = Some(at);
                }
                let at = people_at.unwrap_or_default();
                let mut keys = Vec::with_capacity(row.len());
                let mut count = 0;
                for i in 0..row.len() {
                    let name = row.columns()[i].name().to_owned();
                    if i == at {
                        count = text(&row, i, &name)?
                            .and_then(|v| v.parse::<f64>().ok())
                            .map(|v| v as i64)
                            .unwrap_or(0);
                    } else {
                        keys.push(text(&row, i, &name)?);
                    }
                }
                out.groups.push((keys, count));
            }
            drop(rows);
            sqlx::raw_sql($end).execute(&mut *conn).await?;
            Ok(out)
        }};
    }
    match db {
        Db::Postgres(p) => read_only!(p, "BEGIN READ ONLY", "ROLLBACK"),
        Db::MySql(p) => read_only!(p, "START TRANSACTION READ ONLY", "ROLLBACK"),
        Db::Sqlite(p) => read_only!(p, "PRAGMA query_only = ON", "PRAGMA query_only = OFF"),
    }
}

/// A column's value as text, whatever its type among those a grouped query gives.
fn text<R: Row>(row: &R, i: usize, name: &str) -> Result<Option<String>, ConnectorError>
where
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    i64: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    i32: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    f64: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    bool: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
{
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return Ok(v);
    }
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return Ok(v.map(|v| v.to_string()));
    }
    if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
        return Ok(v.map(|v| v.to_string()));
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return Ok(v.map(|v| v.to_string()));
    }
    if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
        return Ok(v.map(|v| v.to_string()));
    }
    Err(ConnectorError::Config(format!(
        "the report's column `{name}` has a type it cannot read; cast it to text in the query"
    )))
}
