//! One handle over the company's PostgreSQL, MySQL/MariaDB and SQLite databases, and the
//! statement builder every query goes through.
//!
//! Safety lives here: identifiers are always quoted for the dialect (embedded quotes
//! doubled), and every value — identities, keys, masks, corrections — is a bound parameter.
//! Nothing else in the crate formats SQL text from data. Connection URLs are secrets: they
//! are never logged, and errors are scrubbed of them before they travel.

use std::str::FromStr;
use std::time::Duration;

use futures_util::TryStreamExt;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use crate::ConnectorError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

impl Dialect {
    /// Quotes an identifier: the name can contain anything and stays one identifier.
    pub fn quote(self, name: &str) -> String {
        match self {
            Dialect::MySql => format!("`{}`", name.replace('`', "``")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// An expression's value as text, for exports and key round trips.
    pub fn as_text(self, expr: &str) -> String {
        match self {
            Dialect::MySql => format!("CAST({expr} AS CHAR)"),
            _ => format!("CAST({expr} AS TEXT)"),
        }
    }
}

/// A bound value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
    /// A boolean (a restriction column's mark): BOOLEAN on PostgreSQL, 0/1 elsewhere.
    Bool(bool),
    Null,
}

/// A primary-key value read back from a table.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(untagged)]
pub enum Key {
    Int(i64),
    Text(String),
}

/// SQL text with its parameters, built by appending; placeholders follow the dialect.
#[derive(Debug, Clone)]
pub struct Sql {
    pub dialect: Dialect,
    pub text: String,
    pub binds: Vec<Bind>,
}

impl Sql {
    pub fn new(dialect: Dialect) -> Sql {
        Sql {
            dialect,
            text: String::new(),
            binds: Vec::new(),
        }
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    pub fn ident(&mut self, name: &str) -> &mut Self {
        let q = self.dialect.quote(name);
        self.push(&q)
    }

    pub fn bind(&mut self, b: Bind) -> &mut Self {
        self.binds.push(b);
        if self.dialect == Dialect::Postgres {
            let n = self.binds.len();
            self.text.push_str(&format!("${n}"));
        } else {
            self.text.push('?');
        }
        self
    }

    /// Appends another fragment, renumbering its placeholders.
    pub fn append(&mut self, other: &Sql) -> &mut Self {
        if self.dialect != Dialect::Postgres {
            self.text.push_str(&other.text);
            self.binds.extend(other.binds.iter().cloned());
            return self;
        }
        // Fragments are built with their own numbering from $1; shift it.
        let offset = self.binds.len();
        let mut chars = other.text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                let mut n = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    n.push(*d);
                    chars.next();
                }
                let n: usize = n.parse().expect("digits");
                self.text.push_str(&format!("${}", n + offset));
            } else {
                self.text.push(c);
            }
        }
        self.binds.extend(other.binds.iter().cloned());
        self
    }

    /// `expr IN (keys...)`, or a false condition for no keys.
    pub fn in_keys(&mut self, expr: &str, keys: &[Key]) -> &mut Self {
        if keys.is_empty() {
            return self.push("1 = 0");
        }
        let text_keys = keys.iter().any(|k| matches!(k, Key::Text(_)));
        if text_keys {
            let e = self.dialect.as_text(expr);
            self.push(&e);
        } else {
            self.push(expr);
        }
        self.push(" IN (");
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            match k {
                Key::Int(v) if !text_keys => self.bind(Bind::Int(*v)),
                Key::Int(v) => self.bind(Bind::Text(v.to_string())),
                Key::Text(s) => self.bind(Bind::Text(s.clone())),
            };
        }
        self.push(")")
    }
}

/// A pool on one of the company's databases.
#[derive(Clone, Debug)]
pub enum Db {
    Postgres(PgPool),
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// Replaces the URL and its password wherever they appear in a message.
pub fn redact(message: &str, url: &str) -> String {
    let mut out = message.replace(url, "<connection url>");
    if let Some(rest) = url.split("://").nth(1) {
        if let Some((userinfo, _)) = rest.split_once('@') {
            if let Some((_, password)) = userinfo.split_once(':') {
                if !password.is_empty() {
                    out = out.replace(password, "<password>");
                }
            }
        }
    }
    out
}

impl Db {
    /// Connects to the database named by `url` (postgres://, mysql:// or mariadb://, sqlite://).
    /// The error never contains the URL.
    pub async fn connect(url: &str) -> Result<Db, ConnectorError> {
        let scheme = url.split(':').next().unwrap_or_default();
        let fail = |e: sqlx::Error| ConnectorError::Connect(redact(&e.to_string(), url));
        let timeout = Duration::from_secs(10);
        match scheme {
            "postgres" | "postgresql" => {
                let opts = PgConnectOptions::from_str(url).map_err(fail)?;
                let pool = PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(timeout)
                    .connect_with(opts)
                    .await
                    .map_err(fail)?;
                Ok(Db::Postgres(pool))
            }
            "mysql" | "mariadb" => {
                let url = url.replacen("mariadb://", "mysql://", 1);
                let opts = MySqlConnectOptions::from_str(&url).map_err(fail)?;
                let pool = MySqlPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(timeout)
                    .connect_with(opts)
                    .await
                    .map_err(fail)?;
                Ok(Db::MySql(pool))
            }
            "sqlite" => {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(fail)?
                    .busy_timeout(timeout)
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(opts)
                    .await
                    .map_err(fail)?;
                Ok(Db::Sqlite(pool))
            }
            _ => Err(ConnectorError::Connect(
                "the connection URL must start with postgres://, mysql://, mariadb:// or sqlite://"
                    .into(),
            )),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Postgres(_) => Dialect::Postgres,
            Db::MySql(_) => Dialect::MySql,
            Db::Sqlite(_) => Dialect::Sqlite,
        }
    }

    pub fn sql(&self) -> Sql {
        Sql::new(self.dialect())
    }

    pub async fn close(&self) {
        match self {
            Db::Postgres(p) => p.close().await,
            Db::MySql(p) => p.close().await,
            Db::Sqlite(p) => p.close().await,
        }
    }

    /// Streams rows whose every column is text (or NULL) into `each`, one at a time: memory
    /// stays flat however many rows match.
    pub async fn for_each_text_row(
        &self,
        sql: &Sql,
        mut each: impl FnMut(Vec<Option<String>>) -> Result<(), ConnectorError>,
    ) -> Result<u64, ConnectorError> {
        let mut n = 0;
        macro_rules! stream {
            ($pool:expr) => {{
                let mut q = sqlx::query(&sql.text);
                for b in &sql.binds {
                    q = match b {
                        Bind::Text(s) => q.bind(s.as_str()),
                        Bind::Int(i) => q.bind(*i),
                        Bind::Bool(v) => q.bind(*v),
                        Bind::Null => q.bind(None::<String>),
                    };
                }
                let mut rows = q.fetch($pool);
                while let Some(row) = rows.try_next().await? {
                    let mut values = Vec::with_capacity(row.len());
                    for i in 0..row.len() {
                        values.push(row.try_get::<Option<String>, _>(i)?);
                    }
                    each(values)?;
                    n += 1;
                }
            }};
        }
        match self {
            Db::Postgres(p) => stream!(p),
            Db::MySql(p) => stream!(p),
            Db::Sqlite(p) => stream!(p),
        }
        Ok(n)
    }

    /// Opens a transaction; everything an erasure changes in one datastore goes through one.
    pub async fn begin(&self) -> Result<Tx, ConnectorError> {
        Ok(match self {
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
            Db::MySql(p) => Tx::MySql(p.begin().await?),
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
        })
    }

    /// Runs a read-only query returning text columns, collected (for small answers: schema
    /// introspection, counts).
    pub async fn text_rows(&self, sql: &Sql) -> Result<Vec<Vec<Option<String>>>, ConnectorError> {
        let mut out = Vec::new();
        self.for_each_text_row(sql, |r| {
            out.push(r);
            Ok(())
        })
        .await?;
        Ok(out)
    }
}

/// An open transaction on one of the three backends.
pub enum Tx {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

macro_rules! bound {
    ($sql:expr) => {{
        let mut q = sqlx::query(&$sql.text);
        for b in &$sql.binds {
            q = match b {
                Bind::Text(s) => q.bind(s.as_str()),
                Bind::Int(i) => q.bind(*i),
                Bind::Bool(v) => q.bind(*v),
                Bind::Null => q.bind(None::<String>),
            };
        }
        q
    }};
}

fn decode_key<R: Row>(row: &R) -> Result<Key, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    i32: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    i16: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
    String: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
{
    if let Ok(v) = row.try_get::<i64, _>(0usize) {
        return Ok(Key::Int(v));
    }
    if let Ok(v) = row.try_get::<i32, _>(0usize) {
        return Ok(Key::Int(v.into()));
    }
    if let Ok(v) = row.try_get::<i16, _>(0usize) {
        return Ok(Key::Int(v.into()));
    }
    Ok(Key::Text(row.try_get::<String, _>(1usize)?))
}

impl Tx {
    pub async fn execute(&mut self, sql: &Sql) -> Result<u64, ConnectorError> {
        Ok(match self {
            Tx::Postgres(t) => bound!(sql).execute(&mut **t).await?.rows_affected(),
            Tx::MySql(t) => bound!(sql).execute(&mut **t).await?.rows_affected(),
            Tx::Sqlite(t) => bound!(sql).execute(&mut **t).await?.rows_affected(),
        })
    }

    /// Reads keys: column 0 is the key as stored, column 1 the key as text (the fallback for
    /// non-integer keys).
    pub async fn keys(&mut self, sql: &Sql) -> Result<Vec<Key>, ConnectorError> {
        let mut out = Vec::new();
        match self {
            Tx::Postgres(t) => {
                for r in bound!(sql).fetch_all(&mut **t).await? {
                    out.push(decode_key(&r)?);
                }
            }
            Tx::MySql(t) => {
                for r in bound!(sql).fetch_all(&mut **t).await? {
                    out.push(decode_key(&r)?);
                }
            }
            Tx::Sqlite(t) => {
                for r in bound!(sql).fetch_all(&mut **t).await? {
                    out.push(decode_key(&r)?);
                }
            }
        }
        Ok(out)
    }

    /// Reads `(key, values as text)` rows: columns 0 and 1 as for [`Tx::keys`], every column
    /// after them as text (for several strategies computed in Rust at once).
    pub async fn key_rows(
        &mut self,
        sql: &Sql,
    ) -> Result<Vec<(Key, Vec<Option<String>>)>, ConnectorError> {
        let mut out = Vec::new();
        macro_rules! go {
            ($t:expr) => {
                for r in bound!(sql).fetch_all(&mut **$t).await? {
                    let mut values = Vec::with_capacity(r.len().saturating_sub(2));
                    for i in 2..r.len() {
                        values.push(r.try_get::<Option<String>, _>(i)?);
                    }
                    out.push((decode_key(&r)?, values));
                }
            };
        }
        match self {
            Tx::Postgres(t) => go!(t),
            Tx::MySql(t) => go!(t),
            Tx::Sqlite(t) => go!(t),
        }
        Ok(out)
    }

    pub async fn commit(self) -> Result<(), ConnectorError> {
        match self {
            Tx::Postgres(t) => t.commit().await?,
            Tx::MySql(t) => t.commit().await?,
            Tx::Sqlite(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), ConnectorError> {
        match self {
            Tx::Postgres(t) => t.rollback().await?,
            Tx::MySql(t) => t.rollback().await?,
            Tx::Sqlite(t) => t.rollback().await?,
        }
        Ok(())
    }
}
