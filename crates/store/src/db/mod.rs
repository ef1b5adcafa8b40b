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

use std::sync::Arc;

use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, FromRow, PgPool, SqlitePool};

mod batch;
mod tx;

pub(crate) use batch::{Batch, MultiRow};
pub use tx::Tx;
use tx::TxInner;

use crate::{Result, Store, StoreError};

/// A connection pool to one of the two backends.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One bound argument. Scalars bind on both backends; the array variants are the columns of
/// a PostgreSQL `UNNEST` batch, and on SQLite a `Batch` of rows binds them element by
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
    OptBools(Vec<Option<bool>>),
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
    pub(super) fn len(&self) -> Option<usize> {
        Some(match self {
            Arg::I64s(v) => v.len(),
            Arg::I32s(v) => v.len(),
            Arg::Bools(v) => v.len(),
            Arg::Texts(v) => v.len(),
            Arg::OptTexts(v) => v.len(),
            Arg::OptI64s(v) => v.len(),
            Arg::OptBools(v) => v.len(),
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

/// One row of either backend, not yet decoded.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Row {
    pub(crate) fn decode<T: FromRows>(&self) -> Result<T> {
        Ok(match self {
            Row::Sqlite(r) => T::from_row(r)?,
            Row::Postgres(r) => T::from_row(r)?,
        })
    }
}

/// The rows of one statement on either backend, not yet decoded.
pub(crate) enum Rows {
    Sqlite(Vec<SqliteRow>),
    Postgres(Vec<PgRow>),
}

impl Rows {
    pub(crate) fn decode<T: FromRows>(self) -> Result<Vec<T>> {
        Ok(match self {
            Rows::Sqlite(rows) => rows.iter().map(T::from_row).collect::<sqlx::Result<_>>()?,
            Rows::Postgres(rows) => rows.iter().map(T::from_row).collect::<sqlx::Result<_>>()?,
        })
    }
}

pub(super) fn row_not_found() -> StoreError {
    StoreError::Database(sqlx::Error::RowNotFound)
}

fn array_on_sqlite() -> sqlx::error::BoxDynError {
    "an array argument on SQLite (arrays are bound through a Batch of rows)".into()
}

/// Adds one scalar argument, or the `row`th element of an array argument, for SQLite.
pub(super) fn add_sqlite<'q>(
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
        (Arg::OptBools(v), Some(i)) => out.add(v[i]),
        (_, None) => Err(array_on_sqlite()),
    }
}

pub(super) fn encode_error(e: sqlx::error::BoxDynError) -> StoreError {
    StoreError::Database(sqlx::Error::Encode(e))
}

/// The SQLite arguments `args` then `more` (a batch's head and columns, without copying them
/// into one slice).
pub(super) fn sqlite_args<'q>(args: &[Arg<'q>], more: &[Arg<'q>]) -> Result<SqliteArguments<'q>> {
    let mut out = SqliteArguments::default();
    for a in args.iter().chain(more) {
        add_sqlite(&mut out, a, None).map_err(encode_error)?;
    }
    Ok(out)
}

/// The PostgreSQL arguments `args` then `more` (see [`sqlite_args`]).
pub(super) fn pg_args(args: &[Arg<'_>], more: &[Arg<'_>]) -> Result<PgArguments> {
    let mut out = PgArguments::default();
    for a in args.iter().chain(more) {
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
            Arg::OptBools(v) => out.add(v.as_slice()),
        }
        .map_err(encode_error)?;
    }
    Ok(out)
}

/// Connection-level operations that depend on the backend.
impl Store {
    /// The SQLite pool, for tests that look at tables directly; `None` on PostgreSQL.
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.pool {
            Pool::Sqlite(p) => Some(p),
            Pool::Postgres(_) => None,
        }
    }

    /// The PostgreSQL pool, for tests that look at tables directly; `None` on SQLite.
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        match &self.pool {
            Pool::Sqlite(_) => None,
            Pool::Postgres(p) => Some(p),
        }
    }

    /// The store a group-commit writer task uses. On SQLite, a connection of its own, with a
    /// larger page cache: a pooled connection that finds another connection's commit in the WAL
    /// drops its whole page cache and reads the pages again, which cost intake as much as the
    /// inserts. SQLite takes one writer at a time anyway. On PostgreSQL, the shared pool.
    pub fn for_one_writer(&self) -> Store {
        match &self.pool {
            Pool::Sqlite(p) => {
                // A longer WAL between checkpoints too (10,000 pages, ~40 MB): the writers'
                // random-keyed index pages are rewritten many times between two checkpoints,
                // and each checkpoint copies a page once however often it was written.
                let opts = (*p.connect_options())
                    .clone()
                    .pragma("cache_size", "-8192")
                    .pragma("wal_autocheckpoint", "10000")
                    // A multi-row upsert inside a transaction keeps a statement journal; in
                    // a temporary file (the default) that is a file created, written and
                    // deleted on every commit — 4 % of a consent write's CPU (issue 17).
                    .pragma("temp_store", "memory");
                Store {
                    pool: Pool::Sqlite(
                        crate::sqlite_pool_options()
                            .max_connections(1)
                            .connect_lazy_with(opts),
                    ),
                    ..self.clone()
                }
            }
            // A connection of its own, held between batches: sqlx tests a pooled connection
            // with a round trip when it is taken and again when it is given back, which made
            // two of a batch's three round trips (issue 17). Opened beside the pool, not taken
            // from it, so that the writers never leave requests fewer pooled connections.
            Pool::Postgres(_) => Store {
                held: Some(Arc::default()),
                ..self.clone()
            },
        }
    }

    /// Runs one statement on this handle's held connection (a writer's, see
    /// [`Store::for_one_writer`]), or on the pool when it holds none. A connection whose
    /// statement failed is closed rather than kept: it may be broken (the database
    /// restarted), and the next statement opens a new one.
    pub(crate) async fn execute_held(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64> {
        let (Some(held), Pool::Postgres(pool)) = (&self.held, &self.pool) else {
            return self.execute(sql, args).await;
        };
        let mut slot = held.lock().await;
        let conn = match slot.as_mut() {
            Some(c) => c,
            None => {
                let opened = tokio::time::timeout(
                    crate::ACQUIRE_TIMEOUT,
                    <sqlx::postgres::PgConnection as sqlx::Connection>::connect_with(
                        &pool.connect_options(),
                    ),
                )
                .await
                // As a pooled connection not to be had in time: the database is unreachable
                // (`StoreError::is_unavailable`, answered 503).
                .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))??;
                slot.insert(opened)
            }
        };
        let done = sqlx::query_with(sql, pg_args(args, &[])?)
            .execute(&mut *conn)
            .await;
        if done.is_err() {
            *slot = None;
        }
        Ok(done?.rows_affected())
    }

    /// Whether both handles reach the same database (the same SQLite file; the same
    /// PostgreSQL host, port and database).
    pub fn same_database(&self, other: &Store) -> bool {
        match (&self.pool, &other.pool) {
            (Pool::Sqlite(a), Pool::Sqlite(b)) => {
                a.connect_options().get_filename() == b.connect_options().get_filename()
            }
            (Pool::Postgres(a), Pool::Postgres(b)) => {
                let (a, b) = (a.connect_options(), b.connect_options());
                a.get_host() == b.get_host()
                    && a.get_port() == b.get_port()
                    && a.get_database() == b.get_database()
            }
            _ => false,
        }
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

impl Store {
    /// Runs one statement; answers the rows it affected.
    pub async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64> {
        self.execute_parts(sql, args, &[]).await
    }

    /// [`Store::execute`] with the arguments `args` then `more`.
    pub(crate) async fn execute_parts(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        more: &[Arg<'_>],
    ) -> Result<u64> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query_with(sql, sqlite_args(args, more)?)
                .execute(p)
                .await?
                .rows_affected(),
            Pool::Postgres(p) => sqlx::query_with(sql, pg_args(args, more)?)
                .execute(p)
                .await?
                .rows_affected(),
        })
    }

    /// Every row the statement answers.
    pub async fn fetch_all<T: FromRows>(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<T>> {
        self.rows(sql, args).await?.decode()
    }

    /// The first row the statement answers, if any.
    pub async fn fetch_optional<T: FromRows>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<T>> {
        self.row(sql, args)
            .await?
            .as_ref()
            .map(Row::decode)
            .transpose()
    }

    /// The first row the statement answers; no row is `sqlx::Error::RowNotFound`.
    pub async fn fetch_one<T: FromRows>(&self, sql: &str, args: &[Arg<'_>]) -> Result<T> {
        self.row(sql, args)
            .await?
            .ok_or_else(row_not_found)?
            .decode()
    }

    /// The rows of a statement as a stream, so a long result (the whole ledger) is read in
    /// constant memory.
    pub fn fetch_stream<'s, T: FromRows + 's>(
        &'s self,
        sql: &'s str,
        args: Vec<Arg<'s>>,
    ) -> BoxStream<'s, Result<T>> {
        self.row_stream(sql, args)
            .map(|r| r.and_then(|row| row.decode()))
            .boxed()
    }

    /// Every row of a statement, undecoded. This and the other row fetchers are the only
    /// functions that drive sqlx's executors, so their large async machinery is compiled once
    /// per backend instead of once per row type (the `fetch_*` wrappers only decode).
    async fn rows(&self, sql: &str, args: &[Arg<'_>]) -> Result<Rows> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => Rows::Sqlite(
                sqlx::query_with(sql, sqlite_args(args, &[])?)
                    .fetch_all(p)
                    .await?,
            ),
            Pool::Postgres(p) => Rows::Postgres(
                sqlx::query_with(sql, pg_args(args, &[])?)
                    .fetch_all(p)
                    .await?,
            ),
        })
    }

    /// The first row of a statement, undecoded (see [`Store::rows`]).
    async fn row(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query_with(sql, sqlite_args(args, &[])?)
                .fetch_optional(p)
                .await?
                .map(Row::Sqlite),
            Pool::Postgres(p) => sqlx::query_with(sql, pg_args(args, &[])?)
                .fetch_optional(p)
                .await?
                .map(Row::Postgres),
        })
    }

    /// The rows of a statement as a stream, undecoded (see [`Store::rows`]).
    fn row_stream<'s>(&'s self, sql: &'s str, args: Vec<Arg<'s>>) -> BoxStream<'s, Result<Row>> {
        let failed = |e| futures_util::stream::once(async move { Err(e) }).boxed();
        match &self.pool {
            Pool::Sqlite(p) => match sqlite_args(&args, &[]) {
                Ok(a) => sqlx::query_with(sql, a)
                    .fetch(p)
                    .map(|r| r.map(Row::Sqlite).map_err(StoreError::from))
                    .boxed(),
                Err(e) => failed(e),
            },
            Pool::Postgres(p) => match pg_args(&args, &[]) {
                Ok(a) => sqlx::query_with(sql, a)
                    .fetch(p)
                    .map(|r| r.map(Row::Postgres).map_err(StoreError::from))
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
            sender: self.sender.clone(),
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
            sender: self.sender.clone(),
        })
    }
}
