//! Applies the embedded migrations of the active backend, once each, in order.
//!
//! A small runner of our own instead of `sqlx::migrate!`: it keeps the proc-macro out of the
//! build, and on PostgreSQL it takes an advisory lock so several nodes starting together
//! apply each migration exactly once.

use sqlx::Row;

use crate::Pool;
use crate::{Result, Store, StoreError};

/// `(version, name, sqlite sql, postgres sql)`. Both folders must list the same versions
/// (a tidy test checks the folders against this list).
pub const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "tokens",
        include_str!("../migrations/sqlite/0001_tokens.sql"),
        include_str!("../migrations/postgres/0001_tokens.sql"),
    ),
    (
        2,
        "consent",
        include_str!("../migrations/sqlite/0002_consent.sql"),
        include_str!("../migrations/postgres/0002_consent.sql"),
    ),
    (
        3,
        "requests",
        include_str!("../migrations/sqlite/0003_requests.sql"),
        include_str!("../migrations/postgres/0003_requests.sql"),
    ),
    (
        4,
        "connector_runs",
        include_str!("../migrations/sqlite/0004_connector_runs.sql"),
        include_str!("../migrations/postgres/0004_connector_runs.sql"),
    ),
    (
        5,
        "outbox",
        include_str!("../migrations/sqlite/0005_outbox.sql"),
        include_str!("../migrations/postgres/0005_outbox.sql"),
    ),
    (
        6,
        "retention",
        include_str!("../migrations/sqlite/0006_retention.sql"),
        include_str!("../migrations/postgres/0006_retention.sql"),
    ),
    (
        7,
        "subject_identities",
        include_str!("../migrations/sqlite/0007_subject_identities.sql"),
        include_str!("../migrations/postgres/0007_subject_identities.sql"),
    ),
    (
        8,
        "held_rows",
        include_str!("../migrations/sqlite/0008_held_rows.sql"),
        include_str!("../migrations/postgres/0008_held_rows.sql"),
    ),
    (
        9,
        "jobs",
        include_str!("../migrations/sqlite/0009_jobs.sql"),
        include_str!("../migrations/postgres/0009_jobs.sql"),
    ),
    (
        10,
        "request_clock",
        include_str!("../migrations/sqlite/0010_request_clock.sql"),
        include_str!("../migrations/postgres/0010_request_clock.sql"),
    ),
    (
        11,
        "objections",
        include_str!("../migrations/sqlite/0011_objections.sql"),
        include_str!("../migrations/postgres/0011_objections.sql"),
    ),
    (
        12,
        "dataset_checks",
        include_str!("../migrations/sqlite/0012_dataset_checks.sql"),
        include_str!("../migrations/postgres/0012_dataset_checks.sql"),
    ),
    (
        13,
        "run_kinds",
        include_str!("../migrations/sqlite/0013_run_kinds.sql"),
        include_str!("../migrations/postgres/0013_run_kinds.sql"),
    ),
    (
        14,
        "standings_and_lifts",
        include_str!("../migrations/sqlite/0014_standings_and_lifts.sql"),
        include_str!("../migrations/postgres/0014_standings_and_lifts.sql"),
    ),
    (
        15,
        "audit",
        include_str!("../migrations/sqlite/0015_audit.sql"),
        include_str!("../migrations/postgres/0015_audit.sql"),
    ),
    (
        16,
        "incidents_disclosures",
        include_str!("../migrations/sqlite/0016_incidents_disclosures.sql"),
        include_str!("../migrations/postgres/0016_incidents_disclosures.sql"),
    ),
    (
        17,
        "notices",
        include_str!("../migrations/sqlite/0017_notices.sql"),
        include_str!("../migrations/postgres/0017_notices.sql"),
    ),
    (
        18,
        "privacy_center_signins",
        include_str!("../migrations/sqlite/0018_privacy_center_signins.sql"),
        include_str!("../migrations/postgres/0018_privacy_center_signins.sql"),
    ),
    (
        20,
        "console_users",
        include_str!("../migrations/sqlite/0020_console_users.sql"),
        include_str!("../migrations/postgres/0020_console_users.sql"),
    ),
    (
        21,
        "consent_forgotten",
        include_str!("../migrations/sqlite/0021_consent_forgotten.sql"),
        include_str!("../migrations/postgres/0021_consent_forgotten.sql"),
    ),
    (
        22,
        "consent_prior",
        include_str!("../migrations/sqlite/0022_consent_prior.sql"),
        include_str!("../migrations/postgres/0022_consent_prior.sql"),
    ),
    (
        23,
        "consent_state_mark",
        include_str!("../migrations/sqlite/0023_consent_state_mark.sql"),
        include_str!("../migrations/postgres/0023_consent_state_mark.sql"),
    ),
];

const LOCK_KEY: i64 = 0x0C05_70D1_A400;

/// The versions applied so far, and recording one more: the same text on both backends.
const APPLIED: &str = "SELECT version FROM schema_migrations ORDER BY version";
const RECORD: &str =
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)";

pub(crate) async fn run(store: &Store) -> Result<()> {
    match &store.pool {
        Pool::Sqlite(pool) => {
            let mut conn = pool.acquire().await?;
            sqlx::raw_sql(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
            )
            .execute(&mut *conn)
            .await?;
            let applied: Vec<i64> = sqlx::query(APPLIED)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            check_known(&applied)?;
            // Every pending migration in one transaction: a fresh database gets its whole
            // schema in one commit (one fsync, not one per migration — most of a first
            // start's time), and a failure leaves the schema as it was, never half-migrated.
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let mut done = Vec::new();
            for (version, name, sql, _) in MIGRATIONS {
                if applied.contains(version) {
                    continue;
                }
                sqlx::raw_sql(sql)
                    .execute(&mut *tx)
                    .await
                    .map_err(|source| StoreError::Migration {
                        version: *version,
                        source,
                    })?;
                sqlx::query(RECORD)
                    .bind(version)
                    .bind(name)
                    .bind(store.now())
                    .execute(&mut *tx)
                    .await?;
                done.push((version, name));
            }
            tx.commit().await?;
            for (version, name) in done {
                tracing::info!(version, name, "applied migration");
            }
        }
        Pool::Postgres(pool) => {
            let mut conn = pool.acquire().await?;
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(LOCK_KEY)
                .execute(&mut *conn)
                .await?;
            let result = run_postgres(&mut conn, store).await;
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(LOCK_KEY)
                .execute(&mut *conn)
                .await?;
            result?;
        }
    }
    Ok(())
}

async fn run_postgres(conn: &mut sqlx::PgConnection, store: &Store) -> Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    let applied: Vec<i64> = sqlx::query(APPLIED)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    check_known(&applied)?;
    // One transaction for every pending migration, as on SQLite (PostgreSQL's DDL is
    // transactional too): all of them or none.
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let mut done = Vec::new();
    for (version, name, _, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(|source| StoreError::Migration {
                version: *version,
                source,
            })?;
        sqlx::query(RECORD)
            .bind(version)
            .bind(name)
            .bind(store.now())
            .execute(&mut *tx)
            .await?;
        done.push((version, name));
    }
    tx.commit().await?;
    for (version, name) in done {
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}

/// Refuses to run an old binary against a newer schema, which could silently lose data.
fn check_known(applied: &[i64]) -> Result<()> {
    match applied
        .iter()
        .find(|v| !MIGRATIONS.iter().any(|(k, ..)| k == *v))
    {
        Some(v) => Err(StoreError::UnknownMigration(*v)),
        None => Ok(()),
    }
}
