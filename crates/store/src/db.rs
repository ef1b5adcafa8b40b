//! The plumbing between the table families and the two backends, and the only place (with
//! connecting and migrating) that asks which backend it is talking to.
//!
//! Every statement is written once, with `$1, $2, …` placeholders: PostgreSQL reads them
//! natively and sqlx's SQLite driver binds `$N` by number. Arguments travel as [`Arg`]s and
//! rows come back as any type that implements `sqlx::FromRow` for both backends' rows
//! (tuples and `#[derive(sqlx::FromRow)]` structs do, see [`FromRows`]). Where the dialects
//! really differ — a batch of rows as multi-row `VALUES` on SQLite and as arrays through one
//! fixed `UNNEST` statement on PostgreSQL — the statement is a [`Batch`] taken from the
//! [`Dialect`] chosen once when connecting, and the family code never branches.

use std::sync::OnceLock;

use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, FromRow, PgPool, Postgres, Sqlite, SqlitePool};

use crate::dialect::Dialect;
use crate::{Result, Store, StoreError};

/// A connection pool to one of the two backends.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One bound argument. Scalars bind on both backends; the array variants are the columns of
/// a PostgreSQL `UNNEST` batch, and on SQLite a [`Batch`] of rows binds them element by
/// element (a bare array on SQLite is an error: SQLite has no arrays).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg<'a> {
    I64(i64),
    I32(i32),
    Bool(bool),
    Text(&'a str),
    OptText(Option<&'a str>),
    OptI64(Option<i64>),
    OptBool(Option<bool>),
    Bytes(&'a [u8]),
    I64s(Vec<i64>),
    I32s(Vec<i32>),
    Bools(Vec<bool>),
    Texts(Vec<&'a str>),
    OptTexts(Vec<Option<&'a str>>),
    OptI64s(Vec<Option<i64>>),
}

impl<'a> From<i64> for Arg<'a> {
    fn from(v: i64) -> Self {
        Arg::I64(v)
    }
}
impl<'a> From<i32> for Arg<'a> {
    fn from(v: i32) -> Self {
        Arg::I32(v)
    }
}
impl<'a> From<bool> for Arg<'a> {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::OptText(v)
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::OptText(v.as_deref())
    }
}
impl<'a> From<Option<i64>> for Arg<'a> {
    fn from(v: Option<i64>) -> Self {
        Arg::OptI64(v)
    }
}
impl<'a> From<Option<bool>> for Arg<'a> {
    fn from(v: Option<bool>) -> Self {
        Arg::OptBool(v)
    }
}
impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Arg::Bytes(v)
    }
}

impl Arg<'_> {
    /// The number of elements of an array argument (`None` for a scalar).
    fn len(&self) -> Option<usize> {
        Some(match self {
            Arg::I64s(v) => v.len(),
            Arg::I32s(v) => v.len(),
            Arg::Bools(v) => v.len(),
            Arg::Texts(v) => v.len(),
            Arg::OptTexts(v) => v.len(),
            Arg::OptI64s(v) => v.len(),
            _ => return None,
        })
    }
}

/// A type read from a row of either backend.
pub trait FromRows:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> FromRows for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

fn array_on_sqlite() -> sqlx::error::BoxDynError {
    "an array argument on SQLite (arrays are bound through a Batch of rows)".into()
}

/// Adds one scalar argument, or the `row`th element of an array argument, for SQLite.
fn add_sqlite<'q>(
    out: &mut SqliteArguments<'q>,
    arg: &Arg<'q>,
    row: Option<usize>,
) -> std::result::Result<(), sqlx::error::BoxDynError> {
    match (arg, row) {
        (Arg::I64(v), _) => out.add(*v),
        (Arg::I32(v), _) => out.add(*v),
        (Arg::Bool(v), _) => out.add(*v),
        (Arg::Text(v), _) => out.add(*v),
        (Arg::OptText(v), _) => out.add(*v),
        (Arg::OptI64(v), _) => out.add(*v),
        (Arg::OptBool(v), _) => out.add(*v),
        (Arg::Bytes(v), _) => out.add(*v),
        (Arg::I64s(v), Some(i)) => out.add(v[i]),
        (Arg::I32s(v), Some(i)) => out.add(v[i]),
        (Arg::Bools(v), Some(i)) => out.add(v[i]),
        (Arg::Texts(v), Some(i)) => out.add(v[i]),
        (Arg::OptTexts(v), Some(i)) => out.add(v[i]),
        (Arg::OptI64s(v), Some(i)) => out.add(v[i]),
        (_, None) => Err(array_on_sqlite()),
    }
}

fn encode_error(e: sqlx::error::BoxDynError) -> StoreError {
    StoreError::Database(sqlx::Error::Encode(e))
}

fn sqlite_args<'q>(args: &[Arg<'q>]) -> Result<SqliteArguments<'q>> {
    let mut out = SqliteArguments::default();
    for a in args {
        add_sqlite(&mut out, a, None).map_err(encode_error)?;
    }
    Ok(out)
}

fn pg_args(args: &[Arg<'_>]) -> Result<PgArguments> {
    let mut out = PgArguments::default();
    for a in args {
        match a {
            Arg::I64(v) => out.add(*v),
            Arg::I32(v) => out.add(*v),
            Arg::Bool(v) => out.add(*v),
            Arg::Text(v) => out.add(*v),
            Arg::OptText(v) => out.add(*v),
            Arg::OptI64(v) => out.add(*v),
            Arg::OptBool(v) => out.add(*v),
            Arg::Bytes(v) => out.add(*v),
            Arg::I64s(v) => out.add(v.as_slice()),
            Arg::I32s(v) => out.add(v.as_slice()),
            Arg::Bools(v) => out.add(v.as_slice()),
            Arg::Texts(v) => out.add(v.as_slice()),
            Arg::OptTexts(v) => out.add(v.as_slice()),
            Arg::OptI64s(v) => out.add(v.as_slice()),
        }
        .map_err(encode_error)?;
    }
    Ok(out)
}

impl Store {
    /// Runs one statement; answers the rows it affected.
    pub async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query_with(sql, sqlite_args(args)?)
                .execute(p)
                .await?
                .rows_affected(),
            Pool::Postgres(p) => sqlx::query_with(sql, pg_args(args)?)
                .execute(p)
                .await?
                .rows_affected(),
        })
    }

    /// Every row the statement answers.
    pub async fn fetch_all<T: FromRows>(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<T>> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_as_with(sql, sqlite_args(args)?)
                    .fetch_all(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_as_with(sql, pg_args(args)?)
                    .fetch_all(p)
                    .await?
            }
        })
    }

    /// The first row the statement answers, if any.
    pub async fn fetch_optional<T: FromRows>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<T>> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_as_with(sql, sqlite_args(args)?)
                    .fetch_optional(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_as_with(sql, pg_args(args)?)
                    .fetch_optional(p)
                    .await?
            }
        })
    }

    /// The first row the statement answers; no row is `sqlx::Error::RowNotFound`.
    pub async fn fetch_one<T: FromRows>(&self, sql: &str, args: &[Arg<'_>]) -> Result<T> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_as_with(sql, sqlite_args(args)?)
                    .fetch_one(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_as_with(sql, pg_args(args)?)
                    .fetch_one(p)
                    .await?
            }
        })
    }

    /// The rows of a statement as a stream, so a long result (the whole ledger) is read in
    /// constant memory.
    pub fn fetch_stream<'s, T: FromRows + 's>(
        &'s self,
        sql: &'s str,
        args: Vec<Arg<'s>>,
    ) -> BoxStream<'s, Result<T>> {
        let failed = |e| futures_util::stream::once(async move { Err(e) }).boxed();
        match &self.pool {
            Pool::Sqlite(p) => match sqlite_args(&args) {
                Ok(a) => sqlx::query_as_with(sql, a)
                    .fetch(p)
                    .map(|r| r.map_err(StoreError::from))
                    .boxed(),
                Err(e) => failed(e),
            },
            Pool::Postgres(p) => match pg_args(&args) {
                Ok(a) => sqlx::query_as_with(sql, a)
                    .fetch(p)
                    .map(|r| r.map_err(StoreError::from))
                    .boxed(),
                Err(e) => failed(e),
            },
        }
    }

    /// Starts a transaction. It rolls back when dropped without [`Tx::commit`].
    pub async fn begin(&self) -> Result<Tx> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin().await?),
            Pool::Postgres(p) => TxInner::Postgres(p.begin().await?),
        };
        Ok(Tx {
            inner,
            dialect: self.dialect,
        })
    }

    /// Starts a transaction that reads and then writes what it read. On SQLite it takes the
    /// write lock at once (`BEGIN IMMEDIATE`), so another process cannot write between the
    /// read and the write (a deferred transaction would fail to upgrade, not wait); on
    /// PostgreSQL the statements take the row locks they need.
    pub async fn begin_immediate(&self) -> Result<Tx> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => TxInner::Postgres(p.begin().await?),
        };
        Ok(Tx {
            inner,
            dialect: self.dialect,
        })
    }
}

enum TxInner {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// A transaction on either backend, with the same statements as [`Store`].
pub struct Tx {
    inner: TxInner,
    dialect: &'static Dialect,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("dialect", &self.dialect.name).finish()
    }
}

impl Tx {
    /// The statements of this transaction's backend.
    pub(crate) fn dialect(&self) -> &'static Dialect {
        self.dialect
    }

    pub async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64> {
        Ok(match &mut self.inner {
            TxInner::Sqlite(tx) => sqlx::query_with(sql, sqlite_args(args)?)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            TxInner::Postgres(tx) => sqlx::query_with(sql, pg_args(args)?)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    pub async fn fetch_all<T: FromRows>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<T>> {
        Ok(match &mut self.inner {
            TxInner::Sqlite(tx) => {
                sqlx::query_as_with(sql, sqlite_args(args)?)
                    .fetch_all(&mut **tx)
                    .await?
            }
            TxInner::Postgres(tx) => {
                sqlx::query_as_with(sql, pg_args(args)?)
                    .fetch_all(&mut **tx)
                    .await?
            }
        })
    }

    pub async fn fetch_optional<T: FromRows>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<T>> {
        Ok(match &mut self.inner {
            TxInner::Sqlite(tx) => {
                sqlx::query_as_with(sql, sqlite_args(args)?)
                    .fetch_optional(&mut **tx)
                    .await?
            }
            TxInner::Postgres(tx) => {
                sqlx::query_as_with(sql, pg_args(args)?)
                    .fetch_optional(&mut **tx)
                    .await?
            }
        })
    }

    pub async fn fetch_one<T: FromRows>(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<T> {
        Ok(match &mut self.inner {
            TxInner::Sqlite(tx) => {
                sqlx::query_as_with(sql, sqlite_args(args)?)
                    .fetch_one(&mut **tx)
                    .await?
            }
            TxInner::Postgres(tx) => {
                sqlx::query_as_with(sql, pg_args(args)?)
                    .fetch_one(&mut **tx)
                    .await?
            }
        })
    }

    pub async fn commit(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await?,
            TxInner::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.rollback().await?,
            TxInner::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }

    /// Runs a batch statement over `columns` (one array argument per column, all of the same
    /// length, after the scalar arguments `head_args`); answers the rows affected.
    pub(crate) async fn execute_batch(
        &mut self,
        batch: &Batch,
        head_args: &[Arg<'_>],
        columns: &[Arg<'_>],
    ) -> Result<u64> {
        let mut total = 0;
        match batch {
            Batch::Arrays(sql) => {
                let args: Vec<Arg<'_>> = head_args.iter().chain(columns).cloned().collect();
                total = self.execute(sql, &args).await?;
            }
            Batch::Rows(rows) => {
                let n = batch_len(columns)?;
                let mut start = 0;
                while start < n {
                    let end = n.min(start + rows.max_rows);
                    let sql = rows.statement(end - start);
                    let args = row_args(head_args, columns, start..end)?;
                    total += match &mut self.inner {
                        TxInner::Sqlite(tx) => sqlx::query_with(&sql, args)
                            .execute(&mut **tx)
                            .await?
                            .rows_affected(),
                        TxInner::Postgres(_) => return Err(rows_on_postgres()),
                    };
                    start = end;
                }
            }
        }
        Ok(total)
    }

    /// Runs a batch query over `columns` (see [`Tx::execute_batch`]); answers every row of
    /// every statement.
    pub(crate) async fn fetch_batch<T: FromRows>(
        &mut self,
        batch: &Batch,
        head_args: &[Arg<'_>],
        columns: &[Arg<'_>],
    ) -> Result<Vec<T>> {
        match batch {
            Batch::Arrays(sql) => {
                let args: Vec<Arg<'_>> = head_args.iter().chain(columns).cloned().collect();
                self.fetch_all(sql, &args).await
            }
            Batch::Rows(rows) => {
                let n = batch_len(columns)?;
                let mut out = Vec::new();
                let mut start = 0;
                while start < n {
                    let end = n.min(start + rows.max_rows);
                    let sql = rows.statement(end - start);
                    let args = row_args(head_args, columns, start..end)?;
                    match &mut self.inner {
                        TxInner::Sqlite(tx) => out.extend(
                            sqlx::query_as_with::<_, T, _>(&sql, args)
                                .fetch_all(&mut **tx)
                                .await?,
                        ),
                        TxInner::Postgres(_) => return Err(rows_on_postgres()),
                    }
                    start = end;
                }
                Ok(out)
            }
        }
    }
}

impl Store {
    /// [`Tx::execute_batch`] in a transaction of its own.
    #[allow(dead_code)] // the outbox's `IN` lists use it next
    pub(crate) async fn execute_batch(
        &self,
        batch: &Batch,
        head_args: &[Arg<'_>],
        columns: &[Arg<'_>],
    ) -> Result<u64> {
        match batch {
            // One statement needs no transaction around it.
            Batch::Arrays(sql) => {
                let args: Vec<Arg<'_>> = head_args.iter().chain(columns).cloned().collect();
                self.execute(sql, &args).await
            }
            // A batch that fits one statement needs no transaction either.
            Batch::Rows(rows) if batch_len(columns)? <= rows.max_rows => {
                let n = batch_len(columns)?;
                let sql = rows.statement(n);
                match &self.pool {
                    Pool::Sqlite(p) => Ok(sqlx::query_with(&sql, row_args(head_args, columns, 0..n)?)
                        .execute(p)
                        .await?
                        .rows_affected()),
                    Pool::Postgres(_) => Err(rows_on_postgres()),
                }
            }
            Batch::Rows(_) => {
                let mut tx = self.begin().await?;
                let n = tx.execute_batch(batch, head_args, columns).await?;
                tx.commit().await?;
                Ok(n)
            }
        }
    }
}

fn rows_on_postgres() -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(
        "a batch of SQLite rows sent to PostgreSQL".into(),
    ))
}

/// The common length of the array arguments of a batch.
fn batch_len(columns: &[Arg<'_>]) -> Result<usize> {
    let mut lens = columns.iter().map(|c| c.len());
    let first = lens.next().flatten().unwrap_or(0);
    if lens.all(|l| l == Some(first)) {
        Ok(first)
    } else {
        Err(StoreError::Database(sqlx::Error::Protocol(
            "the columns of a batch differ in length".into(),
        )))
    }
}

/// The SQLite arguments of rows `range` of a batch: the head's, then each row's columns.
fn row_args<'q>(
    head_args: &[Arg<'q>],
    columns: &[Arg<'q>],
    range: std::ops::Range<usize>,
) -> Result<SqliteArguments<'q>> {
    let mut out = SqliteArguments::default();
    for a in head_args {
        add_sqlite(&mut out, a, None).map_err(encode_error)?;
    }
    for i in range {
        for c in columns {
            add_sqlite(&mut out, c, Some(i)).map_err(encode_error)?;
        }
    }
    Ok(out)
}

/// A statement over many rows, in the shape its dialect wants.
#[derive(Debug)]
pub(crate) enum Batch {
    /// PostgreSQL: one fixed statement taking one array per column (after the head's scalar
    /// arguments), prepared and planned once whatever the batch size.
    Arrays(&'static str),
    /// SQLite: multi-row statements of at most `max_rows` rows each.
    Rows(MultiRow),
}

/// `head`, then `row` once per row (joined by `, `), then `tail`:
/// `INSERT INTO t (a, b) VALUES (?, ?), (?, ?) ON CONFLICT DO NOTHING`. Its placeholders are
/// SQLite's anonymous `?`, bound in order: the head's arguments first, then each row's.
#[derive(Debug)]
pub(crate) struct MultiRow {
    pub head: &'static str,
    pub row: &'static str,
    pub tail: &'static str,
    pub max_rows: usize,
    /// The statement of `max_rows` rows, made once (most chunks of a big batch are full).
    full: OnceLock<String>,
}

impl MultiRow {
    /// Batches of [`crate::ROWS_PER_STATEMENT`] rows per statement.
    pub(crate) const fn new(head: &'static str, row: &'static str, tail: &'static str) -> Self {
        Self::with_max(head, row, tail, crate::ROWS_PER_STATEMENT)
    }

    pub(crate) const fn with_max(
        head: &'static str,
        row: &'static str,
        tail: &'static str,
        max_rows: usize,
    ) -> Self {
        MultiRow {
            head,
            row,
            tail,
            max_rows,
            full: OnceLock::new(),
        }
    }

    /// The statement text for `rows` rows.
    pub(crate) fn statement(&self, rows: usize) -> std::borrow::Cow<'_, str> {
        if rows == self.max_rows {
            return self.full.get_or_init(|| self.build(rows)).as_str().into();
        }
        self.build(rows).into()
    }

    fn build(&self, rows: usize) -> String {
        let mut sql =
            String::with_capacity(self.head.len() + (self.row.len() + 2) * rows + self.tail.len());
        sql.push_str(self.head);
        for i in 0..rows {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(self.row);
        }
        sql.push_str(self.tail);
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::MultiRow;

    #[test]
    fn rows_are_repeated_between_head_and_tail() {
        let m = MultiRow::with_max(
            "INSERT INTO t (a, b) VALUES ",
            "(?, 0, ?)",
            " ON CONFLICT DO NOTHING",
            2,
        );
        assert_eq!(
            m.statement(2),
            "INSERT INTO t (a, b) VALUES (?, 0, ?), (?, 0, ?) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            m.statement(1),
            "INSERT INTO t (a, b) VALUES (?, 0, ?) ON CONFLICT DO NOTHING"
        );
    }
}
