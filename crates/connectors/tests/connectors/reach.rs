//! Request types beyond access, erasure and rectification: restriction columns marked and
//! cleared on SQLite, PostgreSQL and MariaDB; an HTTP service's declared endpoints, signed and
//! given the purposes; a failing step left to retry later; and the dataset errors a user gets.

use crate::helpers::{
    company_dataset, company_db, count, email, no_holds, rand_suffix, store_on, write_dataset, T0,
};
use crate::support;
use custodian_connectors::company;
use custodian_connectors::dataset_file;
use custodian_connectors::restrict;
use custodian_connectors::run::{self, ExecuteOptions, RunKeys, RunKind, RunSpec, StepResult};
use custodian_core::clock::{Clock, ManualClock};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Marks customer 5's rows and only theirs, counts exactly what changed, changes nothing the
/// second time, and clears them again.
async fn restriction_scenario(url: &str) {
    let db = company_db(url, 12).await;
    let ds = company_dataset();
    let ids = email(&company::email(5));
    let marked = "SELECT COUNT(*) FROM customers WHERE processing_restricted";
    let marked_accounts = "SELECT COUNT(*) FROM accounts WHERE processing_restricted";
    assert_eq!(count(&db, marked).await, 0);

    let dry = restrict::apply(&db, &ds, &ids, true, true).await.unwrap();
    assert_eq!(dry.rows_changed(), 2, "{dry:?}");
    assert_eq!(count(&db, marked).await, 0, "a dry run changes nothing");

    let r = restrict::apply(&db, &ds, &ids, true, false).await.unwrap();
    let by_table: BTreeMap<&str, u64> = r
        .changes
        .iter()
        .map(|c| (c.table.as_str(), c.rows))
        .collect();
    assert_eq!(
        by_table,
        BTreeMap::from([("accounts", 1), ("customers", 1)])
    );
    assert!(r
        .changes
        .iter()
        .all(|c| c.action == "restrict" && c.field.as_deref() == Some("processing_restricted")));
    assert_eq!(count(&db, marked).await, 1);
    assert_eq!(count(&db, marked_accounts).await, 1);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM customers WHERE processing_restricted AND id = 5"
        )
        .await,
        1,
        "the requester's row, nobody else's"
    );
    let again = restrict::apply(&db, &ds, &ids, true, false).await.unwrap();
    assert_eq!(
        again.rows_changed(),
        0,
        "marking twice changes nothing more"
    );
    // Nothing but the mark changed: the personal fields are as they were.
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM customers WHERE id = 5 AND full_name = 'Customer 5'"
        )
        .await,
        1
    );

    let lifted = restrict::apply(&db, &ds, &ids, false, false).await.unwrap();
    assert_eq!(lifted.rows_changed(), 2);
    assert!(lifted.changes.iter().all(|c| c.action == "lift"));
    assert_eq!(count(&db, marked).await, 0);
    assert_eq!(count(&db, marked_accounts).await, 0);
    db.close().await;
}

#[tokio::test]
async fn restriction_columns_are_marked_and_cleared_on_sqlite() {
    restriction_scenario(&support::fresh_company_sqlite_url()).await;
}

#[tokio::test]
async fn restriction_columns_are_marked_and_cleared_on_postgres() {
    let Some(url) = support::fresh_postgres_url().await else {
        return;
    };
    restriction_scenario(&url).await;
}

#[tokio::test]
async fn restriction_columns_are_marked_and_cleared_on_mariadb() {
    let Some(url) = support::fresh_mysql_url().await else {
        return;
    };
    restriction_scenario(&url).await;
}

/// Values other than booleans: an integer column set to 1 and cleared to 0, and a text
/// column, through a run on PostgreSQL that only has steps on datastores that take it.
#[tokio::test]
async fn a_restriction_run_takes_integer_and_text_marks() {
    let Some(url) = support::fresh_postgres_url().await else {
        return;
    };
    let db = company_db(&url, 6).await;
    for stmt in [
        "ALTER TABLE customers ADD COLUMN hold_flag INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE accounts ADD COLUMN note VARCHAR(20)",
    ] {
        let mut tx = db.begin().await.unwrap();
        let mut s = db.sql();
        s.push(stmt);
        tx.execute(&s).await.unwrap();
        tx.commit().await.unwrap();
    }
    let text = company::DATASET
        .replacen(
            "restriction_column = \"processing_restricted\"",
            "restriction_column = { name = \"hold_flag\", set = 1, clear = 0 }",
            1,
        )
        .replacen(
            "restriction_column = \"processing_restricted\"",
            "restriction_column = { name = \"note\", set = \"restricted\", clear = \"\" }",
            1,
        );
    let var = format!("CUSTODIAN_TEST_RESTRICT_{}", rand_suffix());
    std::env::set_var(&var, &url);
    let path = write_dataset(&text.replace("COMPANY_DATABASE_URL", &var));
    let clock = ManualClock::at(T0);
    let store = store_on(&clock).await;
    store
        .put_datastore("company", path.to_str().unwrap(), None, None)
        .await
        .unwrap();
    // A service that declares only an objection endpoint takes no restriction.
    let other = write_dataset(&format!(
        "name = \"mailer\"\n[connection]\nurl_env = \"{var}\"\n[http]\nsecret_env = \"X\"\n[http.endpoints]\nobjection = \"/objection\"\n"
    ));
    store
        .put_datastore("mailer", other.to_str().unwrap(), None, None)
        .await
        .unwrap();
    assert_eq!(
        run::takers(&store, &[], RunKind::Restriction)
            .await
            .unwrap(),
        vec!["company".to_owned()]
    );
    let keys = RunKeys::from_secret(&[3u8; 32]);
    let spec = |kind| RunSpec {
        kind,
        identities: email(&company::email(2)),
        corrections: BTreeMap::new(),
        datastores: None,
        dry_run: false,
        request_id: None,
    };
    let out = run::run_now(
        &store,
        &keys,
        &spec(RunKind::Restriction),
        ExecuteOptions::new(&no_holds),
    )
    .await
    .unwrap();
    assert_eq!(out.run.status.as_str(), "done");
    assert_eq!(out.steps.len(), 1, "one step: the database");
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM customers WHERE hold_flag = 1").await,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM accounts WHERE note = 'restricted'"
        )
        .await,
        1
    );
    let out = run::run_now(
        &store,
        &keys,
        &spec(RunKind::RestrictionLift),
        ExecuteOptions::new(&no_holds),
    )
    .await
    .unwrap();
    assert_eq!(out.run.status.as_str(), "done");
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM customers WHERE hold_flag = 1").await,
        0
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM accounts WHERE note = ''").await,
        1
    );
    db.close().await;
}

/// A stand-in service with a route per action; records each call's path and body and checks
/// the signature; the objection path fails while `fail` is above zero.
async fn service(
    secret: &'static str,
) -> (
    String,
    Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    Arc<Mutex<u32>>,
) {
    use axum::{
        body::Bytes, extract::Path, http::HeaderMap, http::StatusCode, routing::post, Router,
    };
    let seen: Arc<Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
    let fail = Arc::new(Mutex::new(0u32));
    let app = {
        let (seen, fail) = (seen.clone(), fail.clone());
        Router::new().route(
            "/svc/{action}",
            post(
                move |Path(action): Path<String>, headers: HeaderMap, body: Bytes| {
                    let (seen, fail) = (seen.clone(), fail.clone());
                    async move {
                        let ts: i64 = headers["x-custodian-timestamp"]
                            .to_str()
                            .unwrap()
                            .parse()
                            .unwrap();
                        let sig = headers["x-custodian-signature"].to_str().unwrap();
                        if sig
                            != custodian_connectors::http::signature(secret.as_bytes(), ts, &body)
                        {
                            return (StatusCode::UNAUTHORIZED, "bad signature".to_owned());
                        }
                        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        seen.lock().unwrap().push((action.clone(), v));
                        let mut f = fail.lock().unwrap();
                        if *f > 0 {
                            *f -= 1;
                            return (StatusCode::BAD_GATEWAY, "mailer is down".to_owned());
                        }
                        (StatusCode::OK, r#"{"ok":true}"#.to_owned())
                    }
                },
            ),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/svc"), seen, fail)
}

// One scenario end to end: a service declaring objection and consent-withdrawal endpoints is
// called at each path, signed, with the purposes; it takes no access; a failing call is left
// to retry later and found again when due.
#[tokio::test]
async fn declared_endpoints_are_called_signed_with_the_purposes() {
    let secret = "mailer-secret";
    let (base, seen, fail) = service(secret).await;
    let suffix = rand_suffix();
    let (url_var, secret_var) = (
        format!("MAILER_URL_{suffix}"),
        format!("MAILER_SECRET_{suffix}"),
    );
    std::env::set_var(&url_var, &base);
    std::env::set_var(&secret_var, secret);
    let path = write_dataset(&format!(
        "name = \"mailer\"\n[connection]\nurl_env = \"{url_var}\"\n[http]\nsecret_env = \"{secret_var}\"\nidentities = [\"email\"]\nrecipient = \"email_service\"\n[http.endpoints]\nobjection = \"/objection\"\nconsent_withdrawal = \"/consent\"\nerasure_notice = \"/erased\"\n"
    ));
    let clock = ManualClock::at(T0);
    let store = store_on(&clock).await;
    store
        .put_datastore("mailer", path.to_str().unwrap(), None, None)
        .await
        .unwrap();
    let keys = RunKeys::from_secret(&[4u8; 32]);
    let spec = |kind| RunSpec {
        kind,
        identities: run::identities([
            ("email", "ann@example.com"),
            ("device_id", "dev-1234567890abcdef"),
        ]),
        corrections: BTreeMap::new(),
        datastores: None,
        dry_run: false,
        request_id: None,
    };
    // Not an access or erasure datastore: those runs have no step on it.
    assert!(run::takers(&store, &[], RunKind::Access)
        .await
        .unwrap()
        .is_empty());
    assert!(run::takers(&store, &[], RunKind::Erasure)
        .await
        .unwrap()
        .is_empty());

    let purposes = vec!["newsletter".to_owned(), "profiling".to_owned()];
    let id = run::plan_with(&store, &keys, &spec(RunKind::Objection), &[], &purposes)
        .await
        .unwrap();
    let out = run::execute_run(&store, &keys, &id, ExecuteOptions::new(&no_holds))
        .await
        .unwrap();
    assert_eq!(out.run.status.as_str(), "done", "{:?}", out.steps);
    {
        let seen = seen.lock().unwrap();
        let (action, body) = seen.last().unwrap();
        assert_eq!(action, "objection");
        assert_eq!(body["action"], "objection");
        assert_eq!(
            body["purposes"],
            serde_json::json!(["newsletter", "profiling"])
        );
        assert_eq!(
            body["identities"],
            serde_json::json!({"email": ["ann@example.com"]}),
            "only the kinds it takes"
        );
        assert!(body.get("recipient").is_none());
    }
    let Some(StepResult::Http(a)) = &out.results()[0] else {
        panic!()
    };
    assert_eq!(a.status, 200);

    // A withdrawal whose service is down: one attempt, left `retrying`, the run pending.
    *fail.lock().unwrap() = 1;
    let id = run::plan_with(
        &store,
        &keys,
        &spec(RunKind::ConsentWithdrawal),
        &[],
        &["newsletter".to_owned()],
    )
    .await
    .unwrap();
    let kinds = [RunKind::ConsentWithdrawal];
    assert_eq!(
        store
            .due_runs(&kinds, clock.now_micros(), 10)
            .await
            .unwrap(),
        vec![id.clone()]
    );
    let mut opts = ExecuteOptions::new(&no_holds);
    opts.defer_retries = true;
    let out = run::execute_run(&store, &keys, &id, opts).await.unwrap();
    assert_eq!(out.run.status.as_str(), "pending");
    assert_eq!(out.steps[0].status.as_str(), "retrying");
    assert_eq!(
        out.steps[0].last_error.as_deref(),
        Some("HTTP service: the service answered 502: mailer is down")
    );
    assert!(
        store
            .due_runs(&kinds, clock.now_micros(), 10)
            .await
            .unwrap()
            .is_empty(),
        "not due before its backoff"
    );
    clock.set(out.steps[0].next_attempt_at.unwrap());
    assert_eq!(
        store
            .due_runs(&kinds, clock.now_micros(), 10)
            .await
            .unwrap(),
        vec![id.clone()]
    );
    let mut opts = ExecuteOptions::new(&no_holds);
    opts.defer_retries = true;
    let out = run::execute_run(&store, &keys, &id, opts).await.unwrap();
    assert_eq!(out.run.status.as_str(), "done");
    assert_eq!(out.steps[0].attempts, 2);
    assert!(
        out.run.payload.is_none(),
        "the identities go once it is delivered"
    );
    assert!(store
        .due_runs(&kinds, clock.now_micros(), 10)
        .await
        .unwrap()
        .is_empty());
    let (action, body) = seen.lock().unwrap().last().unwrap().clone();
    assert_eq!(action, "consent");
    assert_eq!(body["action"], "consent_withdrawal");
    assert_eq!(body["purposes"], serde_json::json!(["newsletter"]));

    // The Art. 19 notice names the recipient the service is.
    let out = run::run_now(
        &store,
        &keys,
        &spec(RunKind::ErasureNotice),
        ExecuteOptions::new(&no_holds),
    )
    .await
    .unwrap();
    assert_eq!(out.run.status.as_str(), "done");
    let (action, body) = seen.lock().unwrap().last().unwrap().clone();
    assert_eq!(action, "erased");
    assert_eq!(body["recipient"], "email_service");

    // Someone the service knows by none of these identities is not sent.
    let mut device_only = spec(RunKind::ConsentWithdrawal);
    device_only.identities = run::identities([("device_id", "dev-1234567890abcdef")]);
    let calls = seen.lock().unwrap().len();
    let out = run::run_now(&store, &keys, &device_only, ExecuteOptions::new(&no_holds))
        .await
        .unwrap();
    assert_eq!(out.run.status.as_str(), "done");
    assert_eq!(seen.lock().unwrap().len(), calls, "not called");
    let Some(StepResult::Http(a)) = &out.results()[0] else {
        panic!()
    };
    assert_eq!(a.status, 0);
}

/// What a user gets for a wrong restriction column or endpoint: every problem, located.
#[test]
fn wrong_restriction_columns_and_endpoints_are_located() {
    let base = company::DATASET.to_owned();
    // A typo in a key of the table form: serde names the key and the line.
    let typo = base.replacen(
        "restriction_column = \"processing_restricted\"",
        "restriction_column = { nme = \"processing_restricted\" }",
        1,
    );
    let e = dataset_file::parse(&typo).unwrap_err().to_string();
    assert!(
        e.contains("unknown field `nme`") && e.contains("line"),
        "{e}"
    );

    let same = base.replacen(
        "restriction_column = \"processing_restricted\"",
        "restriction_column = { name = \"id\", set = 1, clear = 1 }",
        1,
    );
    let e = dataset_file::parse(&same).unwrap_err().to_string();
    assert!(
        e.contains("table customers: restriction_column: `id` is the primary key"),
        "{e}"
    );
    assert!(e.contains("`set` and `clear` are both 1"), "{e}");

    let identity = base.replacen(
        "restriction_column = \"processing_restricted\"",
        "restriction_column = \"email\"",
        1,
    );
    let e = dataset_file::parse(&identity).unwrap_err().to_string();
    assert!(
        e.contains("`email` holds an identity or a reference"),
        "{e}"
    );

    let http = |endpoints: &str, recipient: &str| {
        format!("name = \"svc\"\n[connection]\nurl_env = \"U\"\n[http]\nsecret_env = \"S\"\n{recipient}[http.endpoints]\n{endpoints}\n")
    };
    let e = dataset_file::parse(&http("objecton = \"/o\"", ""))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown field `objecton`") && e.contains("line 7"),
        "{e}"
    );
    let e = dataset_file::parse(&http("objection = \"o x\"\nerasure_notice = \"/n\"", ""))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("http.endpoints.objection: a path appended"),
        "{e}"
    );
    assert!(
        e.contains(
            "http.endpoints.erasure_notice: the service must say which of the policy's recipients"
        ),
        "{e}"
    );

    // A recipient the policy does not have, caught where the policy is known.
    let (ds, _) =
        dataset_file::parse(&http("erasure_notice = \"/n\"", "recipient = \"nobody\"\n")).unwrap();
    let problems = ds.validate(Some(&custodian_policy::example()));
    assert_eq!(
        problems,
        vec!["http.recipient: `nobody` is not one of the policy's recipients".to_owned()]
    );
    assert_eq!(
        custodian_connectors::reach::endpoint_url(
            &ds,
            "http://h:1/base/?t=1",
            RunKind::ErasureNotice
        ),
        "http://h:1/base/n?t=1"
    );
}

/// Fides YAML names the column under the collection's `fides_meta`, short or long.
#[test]
fn fides_collections_name_their_restriction_column() {
    let yaml = "dataset:\n  - fides_key: shop\n    collections:\n      - name: customer\n        fides_meta:\n          restriction_column:\n            name: restricted\n            set: 1\n            clear: 0\n        fields:\n          - name: id\n            fides_meta: {primary_key: true}\n          - name: email\n            data_categories: [user.contact.email]\n            fides_meta: {identity: email}\n      - name: orders\n        fides_meta: {restriction_column: frozen}\n        fields:\n          - name: id\n            fides_meta: {primary_key: true}\n          - name: customer_id\n            fides_meta:\n              references: [{dataset: shop, field: customer.id, direction: from}]\n";
    let (ds, _) = dataset_file::parse(yaml).unwrap();
    let c = ds
        .table("customer")
        .unwrap()
        .restriction_column
        .clone()
        .unwrap();
    assert_eq!(
        (c.name.as_str(), c.set.to_string(), c.clear.to_string()),
        ("restricted", "1".into(), "0".into())
    );
    let o = ds
        .table("orders")
        .unwrap()
        .restriction_column
        .clone()
        .unwrap();
    assert_eq!(
        (o.name.as_str(), o.set.to_string(), o.clear.to_string()),
        ("frozen", "true".into(), "false".into())
    );
    assert!(custodian_connectors::reach::takes(
        &ds,
        RunKind::Restriction
    ));
}
