//! Fresh databases for each test on the machine's real PostgreSQL and MariaDB (and its Redis), and SQLite
//! files. Unreachable servers skip the test with a message, except under `CI=true`.

#![allow(dead_code)]

use sqlx::Connection;

pub use custodian_store::testing::{fresh_postgres_url, fresh_sqlite_url};

const DEFAULT_MYSQL: &str = "mysql://root@127.0.0.1:3306/test";

fn suffix() -> String {
    use rand::RngCore;
    let mut b = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// A URL of a new, empty MariaDB/MySQL database, or `None` (outside CI) when no server answers.
pub async fn fresh_mysql_url() -> Option<String> {
    let base = std::env::var("CUSTODIAN_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL.into());
    let mut admin = match sqlx::MySqlConnection::connect(&base).await {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true and MariaDB is unreachable: {e}");
            }
            eprintln!("SKIPPED: MariaDB unreachable ({e}); set CUSTODIAN_TEST_MYSQL_URL");
            return None;
        }
    };
    let name = format!("custodian_t_{}", suffix());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    let (head, _) = base.rsplit_once('/').expect("URL has a database path");
    Some(format!("{head}/{name}"))
}

/// A new SQLite database file URL for the company's side (not Custodian's store).
pub fn fresh_company_sqlite_url() -> String {
    let dir = std::env::temp_dir().join(format!("custodian-company-{}", suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    format!("sqlite://{}?mode=rwc", dir.join("company.db").display())
}

const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379/0";

/// The URL of the machine's Redis (`CUSTODIAN_TEST_REDIS_URL`, else 127.0.0.1:6379), or `None`
/// (outside CI) when no server answers. Tests share its database and keep to a key prefix of
/// their own.
pub async fn redis_url() -> Option<String> {
    let url = std::env::var("CUSTODIAN_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS.into());
    match custodian_connectors::redis::resp::Conn::connect(&url).await {
        Ok(_) => Some(url),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true and Redis is unreachable: {e}");
            }
            eprintln!("SKIPPED: Redis unreachable ({e}); set CUSTODIAN_TEST_REDIS_URL");
            None
        }
    }
}
