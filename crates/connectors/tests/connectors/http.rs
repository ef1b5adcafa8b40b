//! The HTTP connector against a local stand-in service: signed calls and recorded answers, and
//! a registered URL file that wins over the dataset's `url_env`.

use crate::helpers::{
    company_db, count, email, no_holds, rand_suffix, store_on, with_backoff_driven, write_dataset,
    T0,
};
use crate::support;
use custodian_connectors::access::AccessRecord;
use custodian_connectors::company;
use custodian_connectors::run::{
    self, ExecuteOptions, RetryPolicy, RunKeys, RunKind, RunSpec, StepResult,
};
use custodian_core::clock::{Clock, ManualClock};
use custodian_store::Store;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

// One scenario followed end to end: one stand-in service through an access, an erasure with a
// failure retried after a backoff, and a wrong secret, each recorded on its run.
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
