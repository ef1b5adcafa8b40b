//! Helpers for tests in this and other crates: a fresh, empty database per test.
//!
//! PostgreSQL tests run against the machine's real server. The URL comes from
//! `CUSTODIAN_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`); each
//! test gets its own database created from it, so tests never see each other's rows. When
//! the server is unreachable the test is skipped with a message — except under `CI=true`,
//! where a missing server is a failure.

use sqlx::Connection;

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A URL of a new SQLite file in a temporary folder (kept until the process ends).
pub fn fresh_sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("custodian-test-{}", random_suffix()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    format!("sqlite://{}", dir.join("custodian.db").display())
}

/// A URL of a new, empty PostgreSQL database, or `None` (outside CI) when no server answers.
pub async fn fresh_postgres_url() -> Option<String> {
    let base = std::env::var("CUSTODIAN_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG.into());
    let mut admin = match sqlx::PgConnection::connect(&base).await {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true and PostgreSQL is unreachable at {base}: {e}");
            }
            eprintln!(
                "SKIPPED: PostgreSQL unreachable at {base} ({e}); set CUSTODIAN_TEST_POSTGRES_URL"
            );
            return None;
        }
    };
    let name = format!("custodian_t_{}", random_suffix());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let (head, _) = base.rsplit_once('/').expect("URL has a database path");
    Some(format!("{head}/{name}"))
}

fn random_suffix() -> String {
    use rand::RngCore;
    let mut b = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}
