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

/// Applies the migrations before `until` from the folder, as an earlier release left them.
async fn migrated_until(store: &Store, folder: &str, until: i64) {
    let dir = format!("{}/migrations/{folder}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let int = if folder == "sqlite" {
        "INTEGER"
    } else {
        "BIGINT"
    };
    let mut script = format!("CREATE TABLE schema_migrations (version {int} PRIMARY KEY, name TEXT NOT NULL, applied_at {int} NOT NULL);\n");
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap().to_owned();
        let version: i64 = name[..4].parse().unwrap();
        if version >= until {
            continue;
        }
        script.push_str(&std::fs::read_to_string(&f).unwrap());
        script.push_str(&format!(
            ";\nINSERT INTO schema_migrations VALUES ({version}, '{}', 0);\n",
            &name[5..name.len() - 4]
        ));
    }
    match (store.sqlite_pool(), store.postgres_pool()) {
        (Some(p), _) => sqlx::raw_sql(&script).execute(p).await.map(|_| ()),
        (_, Some(p)) => sqlx::raw_sql(&script).execute(p).await.map(|_| ()),
        _ => unreachable!(),
    }
    .unwrap();
}

/// Migration 13 widens the kinds of connector runs. On SQLite it rebuilds both run tables:
/// the runs and steps of an earlier release survive it whole, the steps still belong to
/// their run (and go with it), and the new kinds are accepted, nothing else.
async fn run_kinds_migration_keeps_every_run(url: String, folder: &str) {
    let store = Store::connect(&url).await.unwrap();
    migrated_until(&store, folder, 13).await;
    store
        .execute(
            "INSERT INTO connector_runs (id, kind, subject_ref, request_id, dry_run, status, payload, created_at, updated_at) \
             VALUES ('run_old', 'erasure', 'ab', 'req_1', $1, 'failed', 'sealed', 1, 2)",
            &[false.into()],
        )
        .await
        .unwrap();
    store
        .execute(
            "INSERT INTO connector_run_steps (run_id, seq, datastore, status, attempts, last_error) VALUES ('run_old', 0, 'company', 'failed', 3, 'down')",
            &[],
        )
        .await
        .unwrap();
    let wrong = store
        .execute(
            "INSERT INTO connector_runs (id, kind, subject_ref, dry_run, status, created_at, updated_at) VALUES ('r2', 'objection', 'ab', $1, 'pending', 1, 1)",
            &[false.into()],
        )
        .await;
    assert!(wrong.is_err(), "before 13, an objection run is refused");

    store.migrate().await.unwrap();
    let run = store
        .run("run_old")
        .await
        .unwrap()
        .expect("the run survives");
    assert_eq!(
        (
            run.kind.as_str(),
            run.status.as_str(),
            run.payload.as_deref(),
            run.request_id.as_deref()
        ),
        ("erasure", "failed", Some("sealed"), Some("req_1"))
    );
    let steps = store.run_steps("run_old").await.unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(
        (steps[0].attempts, steps[0].last_error.as_deref()),
        (3, Some("down"))
    );
    for kind in [
        "restriction",
        "restriction_lift",
        "objection",
        "consent_withdrawal",
        "erasure_notice",
    ] {
        store
            .execute(
                "INSERT INTO connector_runs (id, kind, subject_ref, dry_run, status, created_at, updated_at) VALUES ($1, $2, 'ab', $3, 'pending', 1, 1)",
                &[format!("r_{kind}").as_str().into(), kind.into(), false.into()],
            )
            .await
            .unwrap();
    }
    let wrong = store
        .execute(
            "INSERT INTO connector_runs (id, kind, subject_ref, dry_run, status, created_at, updated_at) VALUES ('r3', 'teleport', 'ab', $1, 'pending', 1, 1)",
            &[false.into()],
        )
        .await;
    assert!(wrong.is_err(), "an unknown kind is still refused");
    // The steps' foreign key follows the rebuilt runs table.
    let orphan = store
        .execute(
            "INSERT INTO connector_run_steps (run_id, seq, datastore, status) VALUES ('no_such_run', 0, 'x', 'pending')",
            &[],
        )
        .await;
    assert!(orphan.is_err(), "a step needs its run");
    store
        .execute("DELETE FROM connector_runs WHERE id = 'run_old'", &[])
        .await
        .unwrap();
    assert!(
        store.run_steps("run_old").await.unwrap().is_empty(),
        "steps go with their run"
    );
}

#[tokio::test]
async fn sqlite_run_kinds_migration_keeps_every_run() {
    run_kinds_migration_keeps_every_run(testing::fresh_sqlite_url(), "sqlite").await;
}

#[tokio::test]
async fn postgres_run_kinds_migration_keeps_every_run() {
    let Some(url) = testing::fresh_postgres_url().await else {
        return;
    };
    run_kinds_migration_keeps_every_run(url, "postgres").await;
}

/// Migration 22 records with every event the choice in force before it (`prior_given`). The
/// events of an earlier release get their previous event's choice — what the overview counted
/// for them — so its figures do not change; SQLite's subject index goes, and a subject's
/// events are still found (on its chain).
async fn consent_prior_migration_keeps_the_overview(url: String, folder: &str) {
    use custodian_core::subject::SubjectRef;
    let store = Store::connect(&url).await.unwrap();
    migrated_until(&store, folder, 22).await;
    let (a, b) = (SubjectRef([1; 32]), SubjectRef([2; 32]));
    let rows = [
        (1, &a, "marketing", true),
        (2, &b, "marketing", true),
        (3, &a, "analytics", false),
        (4, &a, "marketing", false),
        (5, &a, "marketing", false),
        (6, &b, "marketing", false),
    ];
    for (i, subject, purpose, given) in rows {
        let chain = i32::from(custodian_core::ledger::chain_of(subject));
        store
            .execute(
                "INSERT INTO consent_events (id, chain, seq, subject_ref, purpose, given, source, policy_version, receipt_id, created_at, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'api', 'v1', $1, $3, 'p', 'h')",
                &[
                    format!("evt_{i}").as_str().into(),
                    chain.into(),
                    i64::from(i).into(),
                    subject.to_hex().as_str().into(),
                    purpose.into(),
                    given.into(),
                ],
            )
            .await
            .unwrap();
    }
    store.migrate().await.unwrap();
    let priors: Vec<(String, Option<bool>)> = store
        .fetch_all(
            "SELECT id, prior_given FROM consent_events ORDER BY gseq",
            &[],
        )
        .await
        .unwrap();
    let want = [None, None, None, Some(true), Some(false), Some(true)];
    assert_eq!(
        priors,
        want.iter()
            .enumerate()
            .map(|(i, p)| (format!("evt_{}", i + 1), *p))
            .collect::<Vec<_>>()
    );
    // As the overview counted before: a refusal after the previous event gave consent is a
    // withdrawal (evt_4, evt_6), others are refusals (evt_3, evt_5).
    let counted: Vec<_> = store
        .consent_per_week(0)
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.purpose, w.given, w.refused, w.withdrawn))
        .collect();
    assert_eq!(
        counted,
        [("analytics".into(), 0, 1, 0), ("marketing".into(), 2, 1, 2)]
    );
    let ids = |events: Vec<custodian_core::ledger::ConsentEvent>| -> Vec<String> {
        events.into_iter().map(|e| e.id).collect()
    };
    assert_eq!(
        ids(store.subject_events(&a).await.unwrap()),
        ["evt_1", "evt_3", "evt_4", "evt_5"]
    );
    assert_eq!(
        ids(store.subject_events(&b).await.unwrap()),
        ["evt_2", "evt_6"]
    );
}

#[tokio::test]
async fn sqlite_consent_prior_migration_keeps_the_overview() {
    let url = testing::fresh_sqlite_url();
    consent_prior_migration_keeps_the_overview(url.clone(), "sqlite").await;
    let store = Store::connect(&url).await.unwrap();
    let (indexes,): (i64,) = store
        .fetch_one(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'consent_events_subject'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        indexes, 0,
        "no index by subject in SQLite's consent commits"
    );
}

#[tokio::test]
async fn postgres_consent_prior_migration_keeps_the_overview() {
    let Some(url) = testing::fresh_postgres_url().await else {
        return;
    };
    consent_prior_migration_keeps_the_overview(url, "postgres").await;
}
