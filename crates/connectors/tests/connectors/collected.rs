//! Retention rules anchored on `collected`: rows go by their own collection time (a table's
//! `collected_at`), whoever they belong to — on SQLite, PostgreSQL and MariaDB, with a dry run
//! that changes nothing, the rows of a subject under a legal hold left out, a second run that
//! changes nothing more, rows with no time kept; and on SQLite a table of integer Unix times
//! nulled (not deleted) across several pages.

use crate::helpers::{company_dataset, company_db, count, email};
use crate::support;
use custodian_connectors::collected::{expire_collected, DueRule};
use custodian_connectors::company;
use custodian_connectors::dataset_file;
use custodian_connectors::sql::Db;
use custodian_core::retention::{start_of, Retention};
use jiff::civil::date;

async fn exec(db: &Db, sql: &str) {
    let mut tx = db.begin().await.unwrap();
    let mut s = db.sql();
    s.push(sql);
    tx.execute(&s).await.unwrap();
    tx.commit().await.unwrap();
}

async fn applications_scenario(url: &str) {
    let db = company_db(url, 40).await;
    let ds = company_dataset();
    // Applications 1-4 come from customers 10, 20, 30 and 40. Two are older than six months on
    // 1 January 2026, one is recent, one has no date.
    exec(
        &db,
        "UPDATE job_applications SET applied_on = '2025-01-10' WHERE id IN (1, 2)",
    )
    .await;
    exec(
        &db,
        "UPDATE job_applications SET applied_on = '2025-09-01' WHERE id = 3",
    )
    .await;
    let rules = Retention::compile(&custodian_policy::example()).unwrap();
    let as_of = start_of(date(2026, 1, 1));
    let cutoff = rules.collected_cutoff("applications", as_of).unwrap();
    let categories = vec!["job_applicant".to_string()];
    let due = DueRule {
        rule: "applications",
        categories: &categories,
        cutoff,
    };
    let key = [7u8; 32];

    let dry = expire_collected(&db, &ds, due, &[], &key, true)
        .await
        .unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.rows_changed(), 2, "{dry:?}");
    assert_eq!(dry.changes[0].table, "job_applications");
    assert_eq!(dry.changes[0].action, "delete_row");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM job_applications").await, 4);

    // Customer 10 is under a legal hold: their application stays.
    let held = email(&company::email(10));
    let r = expire_collected(&db, &ds, due, std::slice::from_ref(&held), &key, false)
        .await
        .unwrap();
    assert_eq!(r.rows_changed(), 1, "{r:?}");
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM job_applications WHERE id = 2").await,
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM job_applications WHERE id IN (1, 3, 4)"
        )
        .await,
        3,
        "the held one, the recent one and the undated one stay"
    );
    let again = expire_collected(&db, &ds, due, std::slice::from_ref(&held), &key, false)
        .await
        .unwrap();
    assert_eq!(again.rows_changed(), 0, "nothing more the second time");
    // The hold lifted: it goes too. Survey answers are another rule's: untouched.
    let surveys = count(&db, "SELECT COUNT(*) FROM survey_answers").await;
    let r = expire_collected(&db, &ds, due, &[], &key, false)
        .await
        .unwrap();
    assert_eq!(r.rows_changed(), 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM job_applications").await, 2);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM survey_answers").await,
        surveys
    );
    db.close().await;
}

#[tokio::test]
async fn applications_go_by_their_own_date_on_sqlite() {
    applications_scenario(&support::fresh_company_sqlite_url()).await;
}

#[tokio::test]
async fn applications_go_by_their_own_date_on_postgres() {
    let Some(url) = support::fresh_postgres_url().await else {
        return;
    };
    applications_scenario(&url).await;
}

#[tokio::test]
async fn applications_go_by_their_own_date_on_mariadb() {
    let Some(url) = support::fresh_mysql_url().await else {
        return;
    };
    applications_scenario(&url).await;
}

/// Integer Unix seconds, a field nulled rather than its row deleted, and 2,500 due rows: three
/// pages, each its own transaction, and every due row reached exactly once.
#[tokio::test]
async fn unix_times_are_read_and_every_page_is_reached() {
    let db = Db::connect(&support::fresh_company_sqlite_url())
        .await
        .unwrap();
    exec(
        &db,
        "CREATE TABLE page_views (id INTEGER PRIMARY KEY, visitor TEXT, ip TEXT, at INTEGER)",
    )
    .await;
    let old = start_of(date(2025, 1, 1)) / 1_000_000;
    let new = start_of(date(2025, 12, 20)) / 1_000_000;
    exec(
        &db,
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) \
             INSERT INTO page_views SELECT i, 'v' || i, '10.0.0.' || (i % 250), \
             CASE WHEN i <= 2500 THEN {old} ELSE {new} END FROM n"
        ),
    )
    .await;
    let (ds, _) = dataset_file::parse(
        r#"
name = "web"
[[tables]]
name = "page_views"
primary_key = "id"
collected_at = { name = "at", type = "unix_seconds" }
fields = [
  { name = "id" },
  { name = "visitor", identity = "visitor_id" },
  { name = "ip", category = "log_files", erase = "null" },
]
"#,
    )
    .unwrap();
    let rules = Retention::compile(&custodian_policy::example()).unwrap();
    let cutoff = rules
        .collected_cutoff("server_logs", start_of(date(2026, 1, 1)))
        .unwrap();
    let categories = vec!["log_files".to_string()];
    let due = DueRule {
        rule: "server_logs",
        categories: &categories,
        cutoff,
    };
    let r = expire_collected(&db, &ds, due, &[], &[1; 32], false)
        .await
        .unwrap();
    assert_eq!(r.changes.len(), 1, "{r:?}");
    assert_eq!(
        (r.changes[0].action.as_str(), r.changes[0].rows),
        ("null", 2500)
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM page_views").await, 3000);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM page_views WHERE ip IS NULL").await,
        2500
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM page_views WHERE ip IS NULL AND id > 2500"
        )
        .await,
        0
    );
    let again = expire_collected(&db, &ds, due, &[], &[1; 32], false)
        .await
        .unwrap();
    assert_eq!(again.rows_changed(), 0);
    db.close().await;
}
