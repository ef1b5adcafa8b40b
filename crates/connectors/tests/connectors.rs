//! Connectors against real PostgreSQL, MariaDB and SQLite: the sample company, the Fides
//! sample, erasure order and holds, dry runs, idempotence, resumed runs, injection attempts,
//! read-only access, and the HTTP connector against a local stand-in service.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use custodian_connectors::access::{access, AccessRecord};
use custodian_connectors::company;
use custodian_connectors::dataset;
use custodian_connectors::dataset_file::{self, Format};
use custodian_connectors::erase::{self, ChangeReport, Operation};
use custodian_connectors::run::{
    self, ExecuteOptions, RetryPolicy, RunKeys, RunKind, RunSpec, StepResult,
};
use custodian_connectors::sql::{Db, Dialect};
use custodian_connectors::{check, Identities};
use custodian_core::clock::{Clock, ManualClock};
use custodian_store::Store;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fides_dir() -> PathBuf {
    std::env::var("CUSTODIAN_FIDES_SAMPLE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("../shared/fides-sample"))
}

fn email(e: &str) -> Identities {
    run::identities([("email", e)])
}

fn no_holds(_: &str) -> Option<jiff::civil::Date> {
    None
}

fn seven_years(rule: &str) -> Option<jiff::civil::Date> {
    (rule == "accounting_records").then(|| jiff::civil::date(2033, 1, 31))
}

async fn company_db(url: &str, customers: u64) -> Db {
    let db = Db::connect(url).await.unwrap();
    company::create_schema(&db).await.unwrap();
    company::generate(&db, customers, 0).await.unwrap();
    db
}

fn company_dataset() -> dataset::Dataset {
    dataset_file::parse(company::DATASET).unwrap().0
}

async fn collect(db: &Db, ds: &dataset::Dataset, ids: &Identities) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut sink = |r: &AccessRecord<'_>| {
        out.push(serde_json::to_value(r).unwrap());
        Ok::<(), custodian_connectors::ConnectorError>(())
    };
    access(db, ds, ids, &mut sink).await.unwrap();
    out
}

async fn count(db: &Db, sql: &str) -> i64 {
    let mut s = db.sql();
    s.push(&sql.replacen("COUNT(*)", &db.dialect().as_text("COUNT(*)"), 1));
    db.text_rows(&s).await.unwrap()[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

async fn erase_now(
    db: &Db,
    ds: &dataset::Dataset,
    ids: &Identities,
    dry_run: bool,
) -> ChangeReport {
    erase::apply(
        db,
        ds,
        ids,
        Operation::Erase {
            hash_key: b"k",
            holds: &seven_years,
        },
        dry_run,
    )
    .await
    .unwrap()
}

/// The whole life of one subject in the sample company, on one backend.
async fn company_scenario(url: &str) {
    let db = company_db(url, 40).await;
    let ds = company_dataset();
    let schema_problems = check::check(&db, &ds, Some(&custodian_policy::example()))
        .await
        .unwrap();
    assert!(schema_problems.is_empty(), "{schema_problems:?}");

    // Customer 28: ticket (28 % 2), newsletter (28 % 4), survey (28 % 7); no application.
    let ids = email(&company::email(28));
    let records = collect(&db, &ds, &ids).await;
    let tables: BTreeMap<String, usize> = records.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r["table"].as_str().unwrap().to_owned())
            .or_default() += 1;
        m
    });
    // Orders and invoices each appear once per category they hold (payment only).
    assert_eq!(tables["orders"], 3);
    assert_eq!(tables["invoices"], 3);
    assert_eq!(tables["customers"], 1);
    assert_eq!(tables["accounts"], 1);
    assert_eq!(tables["product_registrations"], 1);
    assert_eq!(tables["support_tickets"], 1);
    assert_eq!(tables["newsletter_subscriptions"], 1);
    assert_eq!(tables["survey_answers"], 1);
    assert!(!tables.contains_key("job_applications"));
    // Grouped by category: categories come in runs, never interleaved.
    let cats: Vec<&str> = records
        .iter()
        .map(|r| r["category"].as_str().unwrap())
        .collect();
    let mut seen = BTreeSet::new();
    for w in cats.windows(2) {
        if w[0] != w[1] {
            assert!(seen.insert(w[0]), "category {} appears twice apart", w[0]);
        }
    }
    assert!(records
        .iter()
        .all(|r| !r.to_string().contains("customer-29@")));

    // A dry run reports exactly what the real run then does, and changes nothing.
    let before = count(&db, "SELECT COUNT(*) FROM support_tickets").await;
    let dry = erase_now(&db, &ds, &ids, true).await;
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM support_tickets").await,
        before
    );
    let real = erase_now(&db, &ds, &ids, false).await;
    assert_eq!(dry.changes, real.changes);
    assert_eq!(dry.holds, real.holds);
    let change = |t: &str, f: Option<&str>| {
        real.changes
            .iter()
            .find(|c| c.table == t && c.field.as_deref() == f)
            .map(|c| c.rows)
            .unwrap_or_else(|| panic!("no change for {t}.{f:?} in {:?}", real.changes))
    };
    assert_eq!(change("support_tickets", None), 1);
    assert_eq!(change("newsletter_subscriptions", None), 1);
    assert_eq!(change("survey_answers", None), 1);
    assert_eq!(change("product_registrations", None), 1);
    assert_eq!(change("orders", Some("shipping_name")), 3);
    assert_eq!(change("customers", Some("email")), 1);
    assert_eq!(change("accounts", Some("username")), 1);
    // Children before parents: every deleting or updating table comes before what it references.
    let pos = |t: &str| real.changes.iter().position(|c| c.table == t).unwrap();
    assert!(pos("orders") < pos("accounts") && pos("accounts") < pos("customers"));
    assert!(pos("support_tickets") < pos("customers"));
    // Invoices are held, with the rule and the day they go.
    let held: Vec<_> = real
        .holds
        .iter()
        .filter(|h| h.table == "invoices")
        .collect();
    assert_eq!(held.len(), 3);
    assert!(held.iter().all(|h| h.rule == "accounting_records"
        && h.rows == 3
        && h.until.as_deref() == Some("2033-01-31")));
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM invoices WHERE billing_name = 'Customer 28'"
        )
        .await,
        3
    );
    let hashed = count(
        &db,
        "SELECT COUNT(*) FROM customers WHERE email LIKE 'h1:%'",
    )
    .await;
    assert_eq!(hashed, 1);
    // Others are untouched.
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM customers WHERE email = 'customer-27@example.com'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM support_tickets").await,
        before - 1
    );

    // The held rows' keys travel with the report (never in its recorded JSON), so the hold
    // can end by key once the subject's identifiers are gone: the held fields go by their
    // `after_hold` (NULL), only on those rows.
    assert_eq!(real.held_rows.len(), 1);
    let kept = &real.held_rows[0];
    assert_eq!(kept.rule, "accounting_records");
    assert_eq!(kept.until, Some(jiff::civil::date(2033, 1, 31)));
    assert_eq!(kept.tables["invoices"].len(), 3);
    assert!(!serde_json::to_string(&real).unwrap().contains("held_rows"));
    let billed = "SELECT COUNT(*) FROM invoices WHERE billing_name IS NOT NULL";
    let billed_before = count(&db, billed).await;
    let gone = erase::expire_keys(&db, &ds, &kept.tables, "accounting_records", b"k")
        .await
        .unwrap();
    assert_eq!(gone.rows_changed(), 9, "3 rows x 3 held fields: {gone:?}");
    assert_eq!(count(&db, billed).await, billed_before - 3);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM invoices WHERE billing_name = 'Customer 28'"
        )
        .await,
        0
    );
    let twice = erase::expire_keys(&db, &ds, &kept.tables, "accounting_records", b"k")
        .await
        .unwrap();
    assert_eq!(twice.rows_changed(), 0);

    // Running it again changes nothing more.
    let again = erase_now(&db, &ds, &ids, false).await;
    assert_eq!(again.rows_changed(), 0, "{again:?}");

    // Rectification of another subject, bound like everything else.
    let fix: BTreeMap<String, String> = [(
        "customers.full_name".to_owned(),
        "Ann O'Brien; DROP TABLE orders".to_owned(),
    )]
    .into();
    let r = erase::apply(
        &db,
        &ds,
        &email(&company::email(30)),
        Operation::Rectify(&fix),
        false,
    )
    .await
    .unwrap();
    assert_eq!(r.rows_changed(), 1);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM customers WHERE full_name = 'Ann O''Brien; DROP TABLE orders'"
        )
        .await,
        1
    );
    assert!(count(&db, "SELECT COUNT(*) FROM orders").await > 0);

    // A subject e-mail carrying SQL finds nothing and changes nothing.
    let hostile = email("x' OR '1'='1");
    assert!(collect(&db, &ds, &hostile).await.is_empty());
    let r = erase_now(&db, &ds, &hostile, false).await;
    assert_eq!(r.rows_changed(), 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM customers").await, 40);

    // The drafted dataset knows every table and the foreign keys.
    let draft = check::generate(&db, "draft").await.unwrap();
    assert_eq!(draft.tables.len(), 9);
    let orders = draft.table("orders").unwrap();
    assert_eq!(
        orders
            .field("account_id")
            .unwrap()
            .reference()
            .unwrap()
            .table,
        "accounts"
    );
    assert_eq!(
        draft
            .table("customers")
            .unwrap()
            .field("email")
            .unwrap()
            .identity
            .as_deref(),
        Some("email")
    );
    db.close().await;
}

#[tokio::test]
async fn company_on_sqlite() {
    company_scenario(&support::fresh_company_sqlite_url()).await;
}

#[tokio::test]
async fn company_on_postgres() {
    let Some(url) = support::fresh_postgres_url().await else {
        return;
    };
    company_scenario(&url).await;
}

#[tokio::test]
async fn company_on_mariadb() {
    let Some(url) = support::fresh_mysql_url().await else {
        return;
    };
    company_scenario(&url).await;
}

#[test]
fn fides_sample_files_read_as_they_are() {
    for (file, tables) in [
        ("postgres_example_test_dataset.yml", 11),
        ("postgres_example_test_extended_dataset.yml", 1),
    ] {
        let (ds, format) = dataset_file::load(&fides_dir().join(file)).unwrap();
        assert_eq!(format, Format::Fides);
        assert_eq!(ds.tables.len(), tables, "{file}");
    }
    let (ds, _) =
        dataset_file::load(&fides_dir().join("postgres_example_test_dataset.yml")).unwrap();
    let customer = ds.table("customer").unwrap();
    assert_eq!(customer.primary_key.as_deref(), Some("id"));
    assert_eq!(
        customer.field("email").unwrap().identity.as_deref(),
        Some("email")
    );
    let login = ds
        .table("login")
        .unwrap()
        .field("customer_id")
        .unwrap()
        .reference()
        .unwrap();
    assert_eq!(
        (login.table.as_str(), login.field.as_str()),
        ("customer", "id")
    );
}

#[tokio::test]
async fn fides_sample_access_and_erasure_reach_the_graph() {
    let Some(url) = support::fresh_postgres_url().await else {
        return;
    };
    let db = Db::connect(&url).await.unwrap();
    let sql = std::fs::read_to_string(fides_dir().join("postgres_sample.sql")).unwrap();
    if let Db::Postgres(pool) = &db {
        sqlx::raw_sql(&sql).execute(pool).await.unwrap();
    }
    let (ds, _) =
        dataset_file::load(&fides_dir().join("postgres_example_test_dataset.yml")).unwrap();
    let ids = email("customer-1@example.com");
    let records = collect(&db, &ds, &ids).await;
    let reached: BTreeSet<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["table"].as_str().unwrap().to_owned(),
                r["key"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("customer", "1"),
        ("address", "1"),
        ("address", "2"),
        ("orders", "ord_aaa-aaa"),
        ("orders", "ord_ccc-ccc"),
        ("orders", "ord_ddd-ddd"),
        ("payment_card", "pay_aaa-aaa"),
        ("login", "1"),
        ("login", "2"),
        ("login", "3"),
        ("login", "4"),
        ("login", "5"),
        ("login", "6"),
        ("service_request", "ser_aaa-aaa"),
        ("visit", "-"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(reached, expected);

    let report = erase::apply(
        &db,
        &ds,
        &ids,
        Operation::Erase {
            hash_key: b"k",
            holds: &no_holds,
        },
        false,
    )
    .await
    .unwrap();
    assert!(report.rows_changed() > 0);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM customer WHERE id = 1 AND email IS NULL AND name IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM address WHERE street IS NULL").await,
        2
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM login WHERE time IS NULL").await,
        6
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM payment_card WHERE ccn IS NULL").await,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM service_request WHERE alt_email IS NULL"
        )
        .await,
        4
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM customer WHERE email = 'customer-2@example.com' AND name IS NOT NULL").await, 1);
    let again = erase::apply(
        &db,
        &ds,
        &ids,
        Operation::Erase {
            hash_key: b"k",
            holds: &no_holds,
        },
        false,
    )
    .await
    .unwrap();
    assert_eq!(again.rows_changed(), 0, "{again:?}");
    db.close().await;
}

#[tokio::test]
async fn hostile_names_in_a_dataset_inject_nothing() {
    let url = support::fresh_company_sqlite_url();
    let db = company_db(&url, 3).await;
    let text = company::DATASET.replace(
        "name = \"newsletter_subscriptions\"",
        "name = \"newsletter_subscriptions\\\"; DROP TABLE orders; --\"",
    );
    let (ds, _) = dataset_file::parse(&text).unwrap();
    // The name is taken as one (nonexistent) table: the walk fails, and nothing is dropped.
    let problems = check::check(&db, &ds, None).await.unwrap();
    assert!(
        problems.iter().any(|p| p.contains("not in the database")),
        "{problems:?}"
    );
    let err = erase::apply(
        &db,
        &ds,
        &email(&company::email(1)),
        Operation::Erase {
            hash_key: b"k",
            holds: &no_holds,
        },
        false,
    )
    .await;
    assert!(err.is_err());
    assert_eq!(count(&db, "SELECT COUNT(*) FROM orders").await, 9);
    assert_eq!(Dialect::Postgres.quote("a\"b"), "\"a\"\"b\"");
    assert_eq!(Dialect::MySql.quote("a`b"), "`a``b`");
    // Control characters are refused outright.
    assert!(dataset_file::parse(
        &company::DATASET.replace("name = \"orders\"", "name = \"ord\\u0000ers\"")
    )
    .is_err());
}

#[tokio::test]
async fn access_works_with_read_only_credentials() {
    let Some(url) = support::fresh_postgres_url().await else {
        return;
    };
    let db = company_db(&url, 5).await;
    let role = format!("ro_{}", url.rsplit('_').next().unwrap());
    let dbname = url.rsplit('/').next().unwrap().to_owned();
    let mut s = db.sql();
    s.push(&format!(
        "CREATE ROLE {role} LOGIN; GRANT CONNECT ON DATABASE {dbname} TO {role}; GRANT USAGE ON SCHEMA public TO {role}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"
    ));
    if let Db::Postgres(pool) = &db {
        sqlx::raw_sql(&s.text).execute(pool).await.unwrap();
    }
    let (head, _) = url.split_once("://").unwrap();
    let rest = url.split_once('@').unwrap().1;
    let ro_url = format!("{head}://{role}@{rest}");
    let ro = Db::connect(&ro_url).await.unwrap();
    let ds = company_dataset();
    let records = collect(&ro, &ds, &email(&company::email(4))).await;
    assert!(records.len() >= 10);
    // Erasure needs write access: it fails cleanly, with the server's message and no URL.
    let err = erase::apply(
        &ro,
        &ds,
        &email(&company::email(4)),
        Operation::Erase {
            hash_key: b"k",
            holds: &no_holds,
        },
        false,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("permission denied"), "{err}");
    assert!(!err.contains(&ro_url));
    ro.close().await;
    if let Db::Postgres(pool) = &db {
        sqlx::raw_sql(&format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}; REVOKE ALL ON SCHEMA public FROM {role}; REVOKE ALL ON DATABASE {dbname} FROM {role}; DROP ROLE {role}"))
            .execute(pool)
            .await
            .unwrap();
    }
    db.close().await;
}

fn write_dataset(text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("custodian-ds-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("dataset.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn rand_suffix() -> String {
    use rand::RngCore;
    let mut b = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

const T0: i64 = 1_700_000_000_000_000;

/// A fresh SQLite store on a clock the test moves.
async fn store_on(clock: &ManualClock) -> Store {
    Store::open(&support::fresh_sqlite_url())
        .await
        .unwrap()
        .with_clock(Arc::new(clock.clone()))
}

/// Polls `cond` until it holds (another task reaching a state); fails after ten seconds.
async fn until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// Moves `clock` to each retry time the store's runs record, so backoffs pass at once.
async fn drive_backoff(store: &Store, clock: &ManualClock) {
    loop {
        for r in store.runs(None, 50).await.unwrap() {
            for s in store.run_steps(&r.id).await.unwrap() {
                if let (true, Some(at)) = (s.status.as_str() == "retrying", s.next_attempt_at) {
                    if at > clock.now_micros() {
                        clock.set(at);
                    }
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// `run` with its backoffs passed by moving the clock.
async fn with_backoff_driven<T>(
    store: &Store,
    clock: &ManualClock,
    run: impl std::future::Future<Output = T>,
) -> T {
    tokio::select! {
        r = run => r,
        () = drive_backoff(store, clock) => unreachable!("the driver never ends"),
    }
}

#[tokio::test]
async fn runs_are_recorded_resumable_and_idempotent() {
    let clock = ManualClock::at(T0);
    let store = store_on(&clock).await;
    let url = support::fresh_company_sqlite_url();
    let db = company_db(&url, 10).await;
    let var = format!("CUSTODIAN_TEST_COMPANY_{}", rand_suffix());
    std::env::set_var(&var, &url);
    let path = write_dataset(company::DATASET);
    store
        .put_datastore("company", path.to_str().unwrap(), Some(&var), None)
        .await
        .unwrap();
    store
        .put_datastore(
            "broken",
            path.to_str().unwrap(),
            Some("CUSTODIAN_TEST_UNSET_VARIABLE"),
            None,
        )
        .await
        .unwrap();
    let keys = RunKeys::from_secret(&[7u8; 32]);
    let spec = RunSpec {
        kind: RunKind::Erasure,
        identities: email(&company::email(4)),
        corrections: BTreeMap::new(),
        datastores: Some(vec!["company".into(), "broken".into()]),
        dry_run: false,
        request_id: Some("req_1".into()),
    };
    let id = run::plan(&store, &keys, &spec, &[]).await.unwrap();
    // The identifiers are sealed in the store, never in clear.
    let rec = store.run(&id).await.unwrap().unwrap();
    assert!(!rec.payload.as_deref().unwrap().contains("customer-4"));
    let mut opts = ExecuteOptions::new(&seven_years);
    opts.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: std::time::Duration::from_secs(5),
        max_delay: std::time::Duration::from_secs(20),
    };
    let out = with_backoff_driven(&store, &clock, run::execute_run(&store, &keys, &id, opts))
        .await
        .unwrap();
    assert_eq!(
        clock.now_micros(),
        T0 + 15_000_000,
        "waited 5 s, then 10 s, on the store's clock"
    );
    assert_eq!(out.run.status.as_str(), "failed");
    assert_eq!(out.steps[0].status.as_str(), "done");
    assert_eq!(out.steps[1].status.as_str(), "failed");
    assert_eq!(out.steps[1].attempts, 3);
    assert!(out.steps[1]
        .last_error
        .as_deref()
        .unwrap()
        .contains("CUSTODIAN_TEST_UNSET_VARIABLE"));
    let Some(StepResult::Change(first)) = &out.results()[0] else {
        panic!("{:?}", out.results())
    };
    assert!(first.rows_changed() > 0);
    assert_eq!(first.holds.len(), 3);

    // The DPO fixes the datastore and retries the run: only the failed step runs.
    std::env::set_var("CUSTODIAN_TEST_UNSET_VARIABLE", &url);
    store.retry_run(&id).await.unwrap();
    let out = run::execute_run(&store, &keys, &id, ExecuteOptions::new(&seven_years))
        .await
        .unwrap();
    assert_eq!(out.run.status.as_str(), "done");
    let Some(StepResult::Change(second)) = &out.results()[1] else {
        panic!()
    };
    assert_eq!(
        second.rows_changed(),
        0,
        "the same database, already erased"
    );
    assert!(
        store.run(&id).await.unwrap().unwrap().payload.is_none(),
        "identifiers forgotten when done"
    );

    // A crash after commit but before `done` was recorded looks like a step to run again;
    // a fresh run over the same subject shows that re-running changes nothing more.
    let id2 = run::plan(
        &store,
        &keys,
        &RunSpec {
            datastores: Some(vec!["company".into()]),
            ..spec.clone()
        },
        &[],
    )
    .await
    .unwrap();
    let out = run::execute_run(&store, &keys, &id2, ExecuteOptions::new(&seven_years))
        .await
        .unwrap();
    let Some(StepResult::Change(third)) = &out.results()[0] else {
        panic!()
    };
    assert_eq!(third.rows_changed(), 0);
    assert_eq!(out.run.status.as_str(), "done");

    // Another node's live lease keeps the run from being executed twice at once.
    let id3 = run::plan(
        &store,
        &keys,
        &RunSpec {
            datastores: Some(vec!["company".into()]),
            ..spec.clone()
        },
        &[],
    )
    .await
    .unwrap();
    assert!(store
        .claim_run(&id3, "node-a", clock.now_micros(), 60_000_000, false)
        .await
        .unwrap());
    clock.advance(59_000_000);
    let err = run::execute_run(&store, &keys, &id3, ExecuteOptions::new(&seven_years))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("being executed by node-a"), "{err}");
    let mut take = ExecuteOptions::new(&seven_years);
    take.take_over = true;
    assert_eq!(
        run::execute_run(&store, &keys, &id3, take)
            .await
            .unwrap()
            .run
            .status
            .as_str(),
        "done"
    );
    db.close().await;
}

#[tokio::test]
async fn http_connector_signs_and_records_answers() {
    use axum::{body::Bytes, http::HeaderMap, routing::post, Router};
    let secret = "s3cret-for-the-helpdesk";
    let seen: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let fail_first = Arc::new(Mutex::new(1u32));
    let app = {
        let seen = seen.clone();
        let fail_first = fail_first.clone();
        Router::new().route(
            "/privacy",
            post(move |headers: HeaderMap, body: Bytes| {
                let seen = seen.clone();
                let fail_first = fail_first.clone();
                async move {
                    let ts: i64 = headers["x-custodian-timestamp"].to_str().unwrap().parse().unwrap();
                    let sig = headers["x-custodian-signature"].to_str().unwrap().to_owned();
                    if sig != custodian_connectors::http::signature(secret.as_bytes(), ts, &body) {
                        return (axum::http::StatusCode::UNAUTHORIZED, "bad signature".to_owned());
                    }
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    seen.lock().unwrap().push(v.clone());
                    {
                        let mut f = fail_first.lock().unwrap();
                        if *f > 0 && v["action"] == "erasure" {
                            *f -= 1;
                            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "helpdesk is down".to_owned());
                        }
                    }
                    if v["action"] == "access" {
                        (axum::http::StatusCode::OK, r#"{"records":[{"category":"support_contact","fields":{"ticket":"T-1"}}]}"#.to_owned())
                    } else {
                        (axum::http::StatusCode::OK, r#"{"erased":2}"#.to_owned())
                    }
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let suffix = rand_suffix();
    let (url_var, secret_var) = (
        format!("HELPDESK_URL_{suffix}"),
        format!("HELPDESK_SECRET_{suffix}"),
    );
    std::env::set_var(&url_var, format!("http://{addr}/privacy"));
    std::env::set_var(&secret_var, secret);
    let path = write_dataset(&format!(
        "name = \"helpdesk\"\n[connection]\nurl_env = \"{url_var}\"\n[http]\nsecret_env = \"{secret_var}\"\nidentities = [\"email\"]\ncategories = [\"support_contact\"]\n"
    ));
    let clock = ManualClock::at(T0);
    let store = store_on(&clock).await;
    store
        .put_datastore("helpdesk", path.to_str().unwrap(), None, None)
        .await
        .unwrap();
    let keys = RunKeys::from_secret(&[9u8; 32]);
    let mut spec = RunSpec {
        kind: RunKind::Access,
        identities: run::identities([("email", "someone@example.com"), ("phone", "+4412345")]),
        corrections: BTreeMap::new(),
        datastores: None,
        dry_run: false,
        request_id: None,
    };
    let mut got = Vec::new();
    let mut sink = |r: &AccessRecord<'_>| {
        got.push(serde_json::to_value(r).unwrap());
        Ok::<(), custodian_connectors::ConnectorError>(())
    };
    let mut opts = ExecuteOptions::new(&no_holds);
    opts.sink = Some(&mut sink);
    let out = run::run_now(&store, &keys, &spec, opts).await.unwrap();
    assert_eq!(out.run.status.as_str(), "done");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["fields"]["ticket"], "T-1");
    // Only the identities the service declared are sent.
    assert!(seen.lock().unwrap()[0]["identities"].get("phone").is_none());

    spec.kind = RunKind::Erasure;
    let mut opts = ExecuteOptions::new(&no_holds);
    opts.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: std::time::Duration::from_secs(5),
        max_delay: std::time::Duration::from_secs(10),
    };
    let before = clock.now_micros();
    let out = with_backoff_driven(&store, &clock, run::run_now(&store, &keys, &spec, opts))
        .await
        .unwrap();
    assert_eq!(clock.now_micros(), before + 5_000_000, "one backoff of 5 s");
    assert_eq!(out.run.status.as_str(), "done");
    assert_eq!(out.steps[0].attempts, 2, "one failure, retried");
    let Some(StepResult::Http(answer)) = &out.results()[0] else {
        panic!()
    };
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("erased"));
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert!(seen.lock().unwrap()[1]["run_id"]
        .as_str()
        .unwrap()
        .starts_with("run_"));

    // A wrong secret: the exact error is recorded for the DPO.
    std::env::set_var(&secret_var, "wrong");
    let mut opts = ExecuteOptions::new(&no_holds);
    opts.retry.max_attempts = 1;
    let out = run::run_now(&store, &keys, &spec, opts).await.unwrap();
    assert_eq!(out.run.status.as_str(), "failed");
    assert_eq!(
        out.steps[0].last_error.as_deref(),
        Some("HTTP service: the service answered 401: bad signature")
    );
}

/// Expiry (the retention job's operation): only the fields held by the due rule go, by their
/// `after_hold` strategy; `after_hold` is refused on a field that is not held.
#[tokio::test]
async fn expiry_takes_only_the_fields_the_due_rule_held() {
    let db = company_db(&support::fresh_company_sqlite_url(), 10).await;
    let ds = company_dataset();
    let ids = email(&company::email(3));
    let invoices_of_3 = "SELECT COUNT(*) FROM invoices i JOIN orders o ON o.id = i.order_id JOIN accounts a ON a.id = o.account_id WHERE a.customer_id = 3";
    let all_invoices = count(&db, "SELECT COUNT(*) FROM invoices").await;
    let mine = count(&db, invoices_of_3).await;
    assert!(mine > 0);

    let expire = |rule: &'static str, ds: dataset::Dataset| {
        let (db, ids) = (&db, &ids);
        async move {
            erase::apply(
                db,
                &ds,
                ids,
                Operation::Expire {
                    hash_key: b"k",
                    rule,
                },
                false,
            )
            .await
            .unwrap()
        }
    };
    // Another rule: nothing.
    assert_eq!(expire("while_customer", ds.clone()).await.rows_changed(), 0);
    // The invoices' rule, with the default strategy: the held fields are NULL, rows stay,
    // nothing else of the customer's changes.
    let r = expire("accounting_records", ds.clone()).await;
    assert!(r.rows_changed() > 0);
    assert_eq!(
        count(
            &db,
            &format!("{invoices_of_3} AND i.billing_name IS NULL AND i.amount IS NULL")
        )
        .await,
        mine
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM customers WHERE id = 3 AND full_name IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM invoices").await,
        all_invoices
    );

    // With `after_hold = "delete_row"` the rows themselves go.
    let text = company::DATASET.replace(
        r#"{ name = "amount", category = "payment", erase = "hold", hold = "accounting_records" }"#,
        r#"{ name = "amount", category = "payment", erase = "hold", hold = "accounting_records", after_hold = "delete_row" }"#,
    );
    assert_ne!(text, company::DATASET, "the sample dataset changed shape");
    let (deleting, _) = dataset_file::parse(&text).unwrap();
    expire("accounting_records", deleting).await;
    assert_eq!(count(&db, invoices_of_3).await, 0);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM invoices").await,
        all_invoices - mine
    );

    let bad = company::DATASET.replace(
        r#"{ name = "full_name", category = "website_user", erase = "null" }"#,
        r#"{ name = "full_name", category = "website_user", erase = "null", after_hold = "mask" }"#,
    );
    let err = dataset_file::parse(&bad).unwrap_err().to_string();
    assert!(
        err.contains("customers.full_name") && err.contains("`after_hold` only goes with"),
        "{err}"
    );
}

/// A stand-in service that counts the calls per path and holds every answer until the test
/// opens the gate.
async fn gated_service() -> (
    String,
    Arc<Mutex<BTreeMap<String, u32>>>,
    Arc<tokio::sync::watch::Sender<bool>>,
) {
    use axum::{extract::Path, routing::post, Router};
    let calls: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
    let gate = Arc::new(tokio::sync::watch::channel(false).0);
    let app = {
        let (calls, gate) = (calls.clone(), gate.clone());
        Router::new().route(
            "/{name}",
            post(move |Path(name): Path<String>| {
                let (calls, mut open) = (calls.clone(), gate.subscribe());
                async move {
                    *calls.lock().unwrap().entry(name).or_default() += 1;
                    let _ = open.wait_for(|open| *open).await;
                    r#"{"erased":1}"#
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), calls, gate)
}

fn called(calls: &Mutex<BTreeMap<String, u32>>, name: &str) -> u32 {
    calls.lock().unwrap().get(name).copied().unwrap_or(0)
}

/// Registers HTTP datastores named `names`, served at `base/<name>`.
async fn http_datastores(store: &Store, base: &str, names: &[&str]) {
    let secret_var = format!("LEASE_SECRET_{}", rand_suffix());
    std::env::set_var(&secret_var, "lease-secret");
    for name in names {
        let url_var = format!("LEASE_URL_{}", rand_suffix());
        std::env::set_var(&url_var, format!("{base}/{name}"));
        let path = write_dataset(&format!(
            "name = \"{name}\"\n[connection]\nurl_env = \"{url_var}\"\n[http]\nsecret_env = \"{secret_var}\"\n"
        ));
        store
            .put_datastore(name, path.to_str().unwrap(), None, None)
            .await
            .unwrap();
    }
}

fn erasure_of(datastores: &[&str]) -> RunSpec {
    RunSpec {
        kind: RunKind::Erasure,
        identities: email("lease@example.com"),
        corrections: BTreeMap::new(),
        datastores: Some(datastores.iter().map(|s| s.to_string()).collect()),
        dry_run: false,
        request_id: None,
    }
}

/// A run's lease in these tests, on the store's (manual) clock.
const LEASE: i64 = 60_000_000;

fn leased<'a>(owner: &str, take_over: bool) -> ExecuteOptions<'a> {
    let mut o = ExecuteOptions::new(&no_holds);
    o.owner = owner.into();
    o.lease = std::time::Duration::from_micros(LEASE as u64);
    o.take_over = take_over;
    o.retry.max_attempts = 1;
    o
}

/// Two executors race for one run whose step outlasts the lease: the lease is renewed while
/// the step runs, so the second is refused and the service is called once.
#[tokio::test]
async fn two_executors_racing_for_one_run_execute_it_once() {
    let clock = ManualClock::at(T0);
    let store = store_on(&clock).await;
    let (base, calls, gate) = gated_service().await;
    http_datastores(&store, &base, &["desk"]).await;
    let keys = RunKeys::from_secret(&[3u8; 32]);
    let id = run::plan(&store, &keys, &erasure_of(&["desk"]), &[])
        .await
        .unwrap();
    let job = format!("connector_run:{id}");
    let a = run::execute_run(&store, &keys, &id, leased("node-a", false));
    let b = async {
        until("node-a to call the service", || async {
            called(&calls, "desk") == 1
        })
        .await;
        // Two thirds of the lease on, node-a renews it while its step still runs…
        clock.advance(LEASE * 2 / 3);
        until("node-a to renew its lease", || async {
            let job = store.job(&job).await.unwrap().unwrap();
            job.lease_until == Some(clock.now_micros() + LEASE)
        })
        .await;
        // …so past the end of its first lease, node-b is refused.
        clock.advance(LEASE * 2 / 3);
        let b = run::execute_run(&store, &keys, &id, leased("node-b", false)).await;
        gate.send_replace(true);
        b
    };
    let (a, b) = tokio::join!(a, b);
    let a = a.unwrap();
    assert_eq!(a.run.status.as_str(), "done");
    let err = b.unwrap_err().to_string();
    assert!(err.contains("being executed by node-a"), "{err}");
    assert_eq!(called(&calls, "desk"), 1, "executed once");
    assert_eq!(a.steps[0].attempts, 1);
    assert!(
        store.job(&job).await.unwrap().is_none(),
        "a done run's job is gone"
    );
}

/// A node whose run is taken over (`--take-over`) stops at its next renewal instead of
/// carrying on alongside the new owner: the second datastore is called by the new owner only.
#[tokio::test]
async fn a_node_that_loses_its_lease_stops() {
    let clock = ManualClock::at(T0);
    let store = store_on(&clock).await;
    let (base, calls, gate) = gated_service().await;
    http_datastores(&store, &base, &["first", "second"]).await;
    let keys = RunKeys::from_secret(&[4u8; 32]);
    let id = run::plan(&store, &keys, &erasure_of(&["first", "second"]), &[])
        .await
        .unwrap();
    let a_stopped = std::sync::atomic::AtomicBool::new(false);
    let a = async {
        let r = run::execute_run(&store, &keys, &id, leased("node-a", false)).await;
        a_stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        r
    };
    let b = async {
        until("node-a to call the first", || async {
            called(&calls, "first") == 1
        })
        .await;
        let b = run::execute_run(&store, &keys, &id, leased("node-b", true));
        let driver = async {
            until("node-b to call the first again", || async {
                called(&calls, "first") == 2
            })
            .await;
            // node-a's next renewal falls due, and fails.
            clock.advance(LEASE / 3 + 1);
            until("node-a to stop", || async {
                a_stopped.load(std::sync::atomic::Ordering::SeqCst)
            })
            .await;
            gate.send_replace(true);
        };
        tokio::join!(b, driver).0
    };
    let (a, b) = tokio::join!(a, b);
    let err = a.unwrap_err().to_string();
    assert!(err.contains("lease was lost"), "{err}");
    let b = b.unwrap();
    assert_eq!(b.run.status.as_str(), "done");
    assert_eq!(called(&calls, "first"), 2, "started by a, run again by b");
    assert_eq!(called(&calls, "second"), 1, "only the new owner goes on");
}

/// A registration's `--url-file` wins over the dataset's own `url_env`, even when that
/// variable is set.
#[tokio::test]
async fn a_registered_url_file_wins_over_the_datasets_url_env() {
    let url = support::fresh_company_sqlite_url();
    let db = company_db(&url, 5).await;
    let var = format!("CUSTODIAN_TEST_DATASET_URL_{}", rand_suffix());
    // The dataset names a variable that points somewhere else entirely.
    std::env::set_var(&var, "sqlite:///nonexistent/dir/company.db");
    let path = write_dataset(&company::DATASET.replace(
        "url_env = \"COMPANY_DATABASE_URL\"",
        &format!("url_env = \"{var}\""),
    ));
    assert!(std::fs::read_to_string(&path).unwrap().contains(&var));
    let url_file = path.with_file_name("url");
    std::fs::write(&url_file, format!("{url}\n")).unwrap();
    let store = Store::open(&support::fresh_sqlite_url()).await.unwrap();
    store
        .put_datastore(
            "company",
            path.to_str().unwrap(),
            None,
            Some(url_file.to_str().unwrap()),
        )
        .await
        .unwrap();
    let keys = RunKeys::from_secret(&[5u8; 32]);
    let mut opts = ExecuteOptions::new(&no_holds);
    opts.retry.max_attempts = 1;
    let out = run::run_now(
        &store,
        &keys,
        &RunSpec {
            kind: RunKind::Erasure,
            identities: email(&company::email(2)),
            corrections: BTreeMap::new(),
            datastores: None,
            dry_run: false,
            request_id: None,
        },
        opts,
    )
    .await
    .unwrap();
    assert_eq!(out.run.status.as_str(), "done", "{:?}", out.steps);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM support_tickets WHERE customer_id = 2"
        )
        .await,
        0,
        "the registered file's database was erased"
    );
    db.close().await;
}

/// Fides YAML is recognised however the file begins: comments, a `%YAML` directive, the
/// `---` document marker, a comment after the key.
#[test]
fn fides_yaml_is_detected_after_comments_and_document_markers() {
    let sample =
        std::fs::read_to_string(fides_dir().join("postgres_example_test_dataset.yml")).unwrap();
    for head in [
        "---\n",
        "# Our datasets, exported from Fides\n\n---\n",
        "%YAML 1.2\n---\n# comment\n",
    ] {
        let (ds, format) = dataset_file::parse(&format!("{head}{sample}")).unwrap();
        assert_eq!(format, Format::Fides, "{head:?}");
        assert_eq!(ds.tables.len(), 11);
    }
    let commented = sample.replacen("dataset:", "dataset: # from fides", 1);
    assert_eq!(dataset_file::parse(&commented).unwrap().1, Format::Fides);
    assert!(dataset_file::is_fides("---\ndataset:\n  - fides_key: x\n"));
    assert!(!dataset_file::is_fides("name = \"company\"\n# dataset:\n"));
    assert!(!dataset_file::is_fides("---\ndatasets:\n"));
}

/// `retry` refuses a completed run — its identifiers are gone — and changes nothing.
#[tokio::test]
async fn a_completed_run_cannot_be_retried() {
    let (base, _, gate) = gated_service().await;
    gate.send_replace(true);
    let store = Store::open(&support::fresh_sqlite_url()).await.unwrap();
    http_datastores(&store, &base, &["desk"]).await;
    let keys = RunKeys::from_secret(&[6u8; 32]);
    let out = run::run_now(
        &store,
        &keys,
        &erasure_of(&["desk"]),
        ExecuteOptions::new(&no_holds),
    )
    .await
    .unwrap();
    assert_eq!(out.run.status.as_str(), "done");
    let err = run::retry(&store, &out.run.id, Some(0))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no longer holds the subject's identifiers"),
        "{err}"
    );
    let run = store.run(&out.run.id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "done");
    assert_eq!(
        store.run_steps(&out.run.id).await.unwrap()[0]
            .status
            .as_str(),
        "done"
    );
}
