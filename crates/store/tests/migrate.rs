//! Migrations on both backends: a database's pending migrations are applied all together or
//! not at all. A migration that fails (here: 0009 finds a `jobs` table already there) leaves
//! the schema exactly as it was — no table of the earlier migrations, no version recorded —
//! and once the obstacle is gone the same database migrates in full.

use custodian_store::{testing, Store, StoreError};

const TABLES: &str = "SELECT COUNT(*) FROM schema_migrations";

async fn failing_migration_leaves_the_database_unmigrated(url: String, tables_sql: &str) {
    let store = Store::connect(&url).await.unwrap();
    store
        .execute("CREATE TABLE jobs (obstacle INTEGER)", &[])
        .await
        .unwrap();
    match store.migrate().await {
        Err(StoreError::Migration { version, .. }) => assert_eq!(version, 9),
        other => panic!("expected migration 9 to fail, got {other:?}"),
    }
    let (recorded,): (i64,) = store.fetch_one(TABLES, &[]).await.unwrap();
    assert_eq!(recorded, 0, "no migration may be recorded after a failure");
    let (tokens,): (i64,) = store.fetch_one(tables_sql, &[]).await.unwrap();
    assert_eq!(
        tokens, 0,
        "migration 1's table must be rolled back with the rest"
    );

    store.execute("DROP TABLE jobs", &[]).await.unwrap();
    store
        .migrate()
        .await
        .expect("migrates once the obstacle is gone");
    let (recorded,): (i64,) = store.fetch_one(TABLES, &[]).await.unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert_eq!(recorded, files as i64, "every migration recorded");
    let (tokens,): (i64,) = store.fetch_one(tables_sql, &[]).await.unwrap();
    assert_eq!(tokens, 1);
}

#[tokio::test]
async fn sqlite_failing_migration_changes_nothing() {
    failing_migration_leaves_the_database_unmigrated(
        testing::fresh_sqlite_url(),
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'api_tokens'",
    )
    .await;
}

#[tokio::test]
async fn postgres_failing_migration_changes_nothing() {
    let Some(url) = testing::fresh_postgres_url().await else {
        return;
    };
    failing_migration_leaves_the_database_unmigrated(
        url,
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'api_tokens'",
    )
    .await;
}
