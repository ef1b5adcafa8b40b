//! Custodian's own persistence.
//!
//! A tour: [`Store`] is one handle over either backend — SQLite (one file, the default) or
//! PostgreSQL (several nodes sharing one database). Each backend has its own migrations
//! folder (`migrations/sqlite`, `migrations/postgres`), applied by [`migrate`] at start. Each
//! table family has a module (`tokens`, `users`, `consent/`, `requests/`, `audit`, ...) whose functions return
//! domain types; SQL lives nowhere else in the project. Connectors to the company's own
//! databases are a different crate and never touch these tables.
//!
//! Families write each statement once, with `$1, $2, …`, and run it through the plumbing in
//! `db/` (`Store::execute`, `fetch_*`, `begin` → [`Tx`]), the only code that matches on the
//! backend. What really differs between the dialects — batches as multi-row `VALUES` or one
//! `UNNEST` statement, row locks, `SKIP LOCKED` — lives in `sqlite/<family>.rs` and
//! `postgres/<family>.rs`, gathered into one `Dialect` the store picks when it connects. Every
//! "now" comes from the store's injected clock and every new id from its `Ids`.

pub mod audit;
mod batch;
pub mod changes;
pub mod consent;
mod db;
mod dialect;
pub mod disclosures;
pub mod incidents;
pub mod jobs;
pub mod keyring;
pub mod keys;
mod migrate;
pub mod notices;
pub mod outbox;
pub mod overview;
mod postgres;
pub mod privacy_center;
pub mod requests;
pub mod retention;
pub mod runs;
mod runs_due;
mod sqlite;
pub mod standing;
pub mod testing;
pub mod tokens;
pub mod users;
pub mod verify;
pub mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use custodian_core::clock::{Clock, SystemClock};
use custodian_core::ids::Ids;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use db::{Arg, FromRows, Tx};
pub(crate) use db::{Batch, MultiRow, Pool};
use dialect::Dialect;
pub use migrate::MIGRATIONS;
/// The layer over SQLite's page cache that spares it a needless walk per commit: installed
/// by [`Store::connect`] before the first SQLite connection (`sqlite/page_cache.rs`).
pub use sqlite::page_cache as sqlite_page_cache;

/// Failures of the store. Callers map them to answers; the text never carries row data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database URL must start with sqlite:// or postgres:// (got scheme `{0}`)")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration {version} failed: {source}")]
    Migration { version: i64, source: sqlx::Error },
    #[error("the database has migration {0}, which this version of Custodian does not know; upgrade Custodian")]
    UnknownMigration(i64),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Its text is [`requests::KEY_CONFLICT`], which callers of the intake writer compare.
    #[error("the subject already has a key")]
    KeyConflict,
    #[error("storing subject keys: {0}")]
    KeyWrite(String),
}

/// Every database error passes here, so the store notices an outage wherever it shows
/// (see [`unavailable_lately`]).
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let e = StoreError::Database(e);
        if e.is_unavailable() {
            outage::seen();
        }
        e
    }
}

/// When this process last found the database unreachable.
mod outage {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    static EPOCH: OnceLock<Instant> = OnceLock::new();
    /// Milliseconds since `EPOCH` at the last sighting, plus one (zero: never).
    static LAST: AtomicU64 = AtomicU64::new(0);

    fn since_epoch() -> u64 {
        EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
    }

    pub(super) fn seen() {
        LAST.store(since_epoch(), Ordering::Relaxed);
    }

    pub(super) fn within(d: Duration) -> bool {
        let last = LAST.load(Ordering::Relaxed);
        last != 0 && since_epoch().saturating_sub(last) <= d.as_millis() as u64
    }
}

/// Whether this process found the database unreachable within `d` (a stopwatch, not the
/// clock): a failure that reached a caller as text — a group-commit writer's — was most
/// likely that outage.
pub fn unavailable_lately(d: Duration) -> bool {
    outage::within(d)
}

/// Every SQLite pool's options: a connection given back inside a transaction (which SQLite
/// or the driver may have lost count of) is closed rather than handed out again
/// (`sqlite/pool.rs`).
pub(crate) fn sqlite_pool_options() -> SqlitePoolOptions {
    SqlitePoolOptions::new().after_release(|conn, _| {
        Box::pin(async move { sqlite::pool::outside_transactions(conn).await })
    })
}

impl StoreError {
    /// Whether the database could not be reached at all — no connection within the pool's
    /// acquire timeout, a connection lost, the server shutting down or starting up — rather
    /// than refusing a statement: the caller may try again shortly.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            // SQLSTATE class 08 (connection exception) and 57P01–57P03 (admin or crash
            // shutdown, cannot connect now).
            sqlx::Error::Database(d) => d
                .code()
                .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
            _ => false,
        }
    }
}

/// How long a statement waits for a PostgreSQL connection before the store answers
/// [`StoreError::is_unavailable`]: while the database is down or restarting, callers get 503
/// with `Retry-After` after this, instead of waiting on.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle to Custodian's database on either backend, with the clock every "now" of the
/// store comes from and the generator of every new id. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    /// The backend's own statements, chosen once when connecting.
    pub(crate) dialect: &'static Dialect,
    clock: Arc<dyn Clock>,
    ids: Ids,
    /// Bumped by every datastore registration or removal made through this handle (and its
    /// clones): what a node keeps in memory about the registered datastores is refreshed
    /// when it moves, without a query on the paths that only need to know it did not.
    datastore_changes: Arc<std::sync::atomic::AtomicU64>,
    /// Names this handle (and its clones) in the notices it sends, so that its own listener
    /// passes over what it applied as it wrote (`changes`).
    pub(crate) sender: Arc<str>,
    /// The chain heads this handle (and its clones) last wrote or read: on PostgreSQL an
    /// append starts from them instead of a locked read, and the statement itself checks they
    /// still hold (`consent/append.rs`).
    pub(crate) consent_heads: consent::HeadCache,
    /// A group-commit writer's own PostgreSQL connection (`Store::for_one_writer`).
    held: Option<Arc<tokio::sync::Mutex<Option<sqlx::postgres::PgConnection>>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("pool", &self.pool)
            .field("ids", &self.ids)
            .finish()
    }
}

impl Store {
    /// Opens the database named by `url`, creating an SQLite file if it does not exist, and
    /// applies pending migrations.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Store::connect(url).await?;
        migrate::run(&store).await?;
        Ok(store)
    }

    /// Applies pending migrations; a no-op when the schema is current.
    pub async fn migrate(&self) -> Result<()> {
        migrate::run(self).await
    }

    /// Connects without migrating (for commands that must not change the schema). The store
    /// reads the system clock until [`Store::with_clock`] gives it another.
    pub async fn connect(url: &str) -> Result<Store> {
        let scheme = url.split(':').next().unwrap_or_default();
        let pool = match scheme {
            "sqlite" => {
                // Before the pool's first connection initialises SQLite.
                sqlite::page_cache::install();
                let opts = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a consent answered 201 must survive power loss, not just a crash.
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true);
                let pool = sqlite_pool_options()
                    .max_connections(8)
                    .connect_with(opts)
                    .await?;
                Pool::Sqlite(pool)
            }
            "postgres" | "postgresql" => {
                let opts = PgConnectOptions::from_str(url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(opts)
                    .await?;
                Pool::Postgres(pool)
            }
            other => return Err(StoreError::UnsupportedUrl(other.chars().take(20).collect())),
        };
        Ok(Store::on(pool))
    }

    fn on(pool: Pool) -> Store {
        let dialect = match pool {
            Pool::Sqlite(_) => &sqlite::DIALECT,
            Pool::Postgres(_) => &postgres::DIALECT,
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Store {
            pool,
            dialect,
            ids: Ids::new(clock.clone()),
            clock,
            datastore_changes: Arc::default(),
            sender: changes::new_sender(),
            consent_heads: Arc::default(),
            held: None,
        }
    }

    /// How many datastore registrations and removals this process made through the store:
    /// a cache of what the registered datastores do compares it (an atomic load, no I/O).
    /// Changes made by another process (the CLI, another node) it does not count; such a
    /// cache also refreshes on a timer.
    pub fn datastore_changes(&self) -> u64 {
        self.datastore_changes
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn note_datastore_change(&self) {
        self.datastore_changes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// The same database read with `clock` (tests move time instead of sleeping); new ids are
    /// made on it too.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Store {
        self.ids = Ids::new(clock.clone());
        self.clock = clock;
        self
    }

    /// The same database with another id generator (e.g. [`Ids::sequential`] in tests). Its
    /// clock becomes the store's.
    pub fn with_ids(mut self, ids: Ids) -> Store {
        self.clock = ids.clock().clone();
        self.ids = ids;
        self
    }

    /// The clock every "now" of the store is read from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The generator of every new id the store makes.
    pub fn ids(&self) -> &Ids {
        &self.ids
    }

    /// Now, in microseconds since the Unix epoch, by the store's clock.
    pub(crate) fn now(&self) -> i64 {
        self.clock.now_micros()
    }

    /// How many writer tasks a group-commit writer runs: one on SQLite, which takes one
    /// writer at a time; `parallel` on PostgreSQL, whose commits overlap.
    pub(crate) fn writer_tasks(&self, parallel: usize) -> usize {
        if self.dialect.parallel_writers {
            parallel
        } else {
            1
        }
    }

    /// `sqlite` or `postgres`, for logs and metrics.
    pub fn backend(&self) -> &'static str {
        self.dialect.name
    }

    /// The SQLite database's file, for what belongs beside it (`None` on PostgreSQL and for
    /// an in-memory database).
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        match &self.pool {
            Pool::Sqlite(p) => {
                let opts = p.connect_options();
                let f = opts.get_filename();
                let s = f.to_string_lossy();
                if s.is_empty() || s.contains(":memory:") || s.starts_with("file:") {
                    None
                } else {
                    Some(f.to_path_buf())
                }
            }
            Pool::Postgres(_) => None,
        }
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        self.execute("SELECT 1", &[]).await?;
        Ok(())
    }
}

/// Rows per multi-row statement of the group-commit writers: one statement (one round trip
/// to the database, or to SQLite's worker thread) carries many callers' rows, far below either
/// backend's limit on bound parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_told_apart_and_remembered() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        for (e, down) in [
            (sqlx::Error::PoolTimedOut, true),
            (sqlx::Error::PoolClosed, true),
            (sqlx::Error::Io(io), true),
            (sqlx::Error::RowNotFound, false),
            (sqlx::Error::Protocol("bad".into()), false),
        ] {
            assert_eq!(StoreError::from(e).is_unavailable(), down);
        }
        assert!(!StoreError::KeyConflict.is_unavailable());
        // The sightings above are remembered for a while.
        assert!(unavailable_lately(Duration::from_secs(5)));
    }
}
