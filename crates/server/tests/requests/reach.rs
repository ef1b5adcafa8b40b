//! Every request type reaches the company's systems, through the real router: a rectification
//! approved with corrections is applied in the company's database, a restriction marks the
//! subject's rows while in force and clears them when completed or denied, an objection and a
//! consent withdrawal reach an HTTP service that declares endpoints for them (the withdrawal
//! in the background, retried while the service is down), and after an erasure the recipient
//! with an HTTP endpoint is told (GDPR Art. 19) and the request records it. Custodian's store
//! on SQLite and PostgreSQL; the company's database on PostgreSQL and MariaDB.

use crate::common::{assert_problem, TestApp};
use crate::company_support;
use crate::env::Env;
use custodian_connectors::company;
use custodian_connectors::sql::Db;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const SECRET: &str = "mailer-signing-secret";

/// A stand-in for the company's mailing tool: records each call (path, body) after checking
/// its signature; a path fails with 502 as many times as `fail` says.
#[derive(Clone, Default)]
struct Mailer {
    seen: Arc<Mutex<Vec<(String, Value)>>>,
    fail: Arc<Mutex<BTreeMap<String, u32>>>,
}

impl Mailer {
    async fn start() -> (Mailer, String) {
        use axum::{body::Bytes, extract::Path, http::HeaderMap, http::StatusCode, routing::post};
        let m = Mailer::default();
        let app = {
            let m = m.clone();
            axum::Router::new().route(
                "/hooks/{action}",
                post(
                    move |Path(action): Path<String>, headers: HeaderMap, body: Bytes| {
                        let m = m.clone();
                        async move {
                            let ts: i64 = headers["x-custodian-timestamp"]
                                .to_str()
                                .unwrap()
                                .parse()
                                .unwrap();
                            let sig = headers["x-custodian-signature"].to_str().unwrap();
                            let want =
                                custodian_connectors::http::signature(SECRET.as_bytes(), ts, &body);
                            if sig != want {
                                return (StatusCode::UNAUTHORIZED, "bad signature".to_owned());
                            }
                            let v: Value = serde_json::from_slice(&body).unwrap();
                            m.seen.lock().unwrap().push((action.clone(), v));
                            if let Some(n) = m.fail.lock().unwrap().get_mut(&action) {
                                if *n > 0 {
                                    *n -= 1;
                                    return (StatusCode::BAD_GATEWAY, "mailer is down".to_owned());
                                }
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
        (m, format!("http://{addr}/hooks"))
    }

    fn calls(&self, action: &str) -> Vec<Value> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(a, _)| a == action)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn fail(&self, action: &str, times: u32) {
        self.fail.lock().unwrap().insert(action.into(), times);
    }
}

/// The sample company (12 customers) in `company_url`, registered as `company`, and the
/// mailing tool registered as `mailer`: it is the policy's recipient `email_service` and takes
/// objections, consent withdrawals and the Art. 19 notice of an erasure.
async fn company_and_mailer(app: &TestApp, company_url: &str, tag: &str) -> (Db, Mailer) {
    let db = Db::connect(company_url).await.unwrap();
    company::create_schema(&db).await.unwrap();
    company::generate(&db, 12, 0).await.unwrap();
    let dir = std::env::temp_dir().join(format!("custodian-reach-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let company_var = format!("CUSTODIAN_TEST_REACH_COMPANY_{tag}");
    std::env::set_var(&company_var, company_url);
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/company/company.toml");
    app.store
        .put_datastore(
            "company",
            dataset.to_str().unwrap(),
            Some(&company_var),
            None,
        )
        .await
        .unwrap();
    let (mailer, base) = Mailer::start().await;
    let (url_var, secret_var) = (
        format!("CUSTODIAN_TEST_REACH_MAILER_{tag}"),
        format!("CUSTODIAN_TEST_REACH_SECRET_{tag}"),
    );
    std::env::set_var(&url_var, &base);
    std::env::set_var(&secret_var, SECRET);
    let path = dir.join("mailer.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"mailer\"\n[connection]\nurl_env = \"{url_var}\"\n[http]\nsecret_env = \"{secret_var}\"\nidentities = [\"email\"]\nrecipient = \"email_service\"\n\n[http.endpoints]\nobjection = \"/objection\"\nconsent_withdrawal = \"/consent\"\nerasure_notice = \"/erasure-notice\"\n"
        ),
    )
    .unwrap();
    app.store
        .put_datastore("mailer", path.to_str().unwrap(), None, None)
        .await
        .unwrap();
    (db, mailer)
}

async fn one(db: &Db, sql: &str) -> String {
    let mut s = db.sql();
    s.push(sql);
    db.text_rows(&s).await.unwrap()[0][0]
        .clone()
        .unwrap_or_default()
}

async fn restricted(db: &Db, customer: u64) -> (String, String) {
    let d = db.dialect();
    let flag = |t: &str| {
        format!(
            "SELECT {} FROM {t} WHERE id = {customer}",
            d.as_text("CASE WHEN processing_restricted THEN 1 ELSE 0 END")
        )
    };
    (
        one(db, &flag("customers")).await,
        one(db, &flag("accounts")).await,
    )
}

fn history_details(request: &Value) -> Vec<String> {
    request["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["detail"].as_str().map(str::to_owned))
        .collect()
}

fn detail_of(request: &Value, action: &str) -> String {
    request["history"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|h| h["action"] == action)
        .and_then(|h| h["detail"].as_str())
        .unwrap_or_else(|| panic!("no {action} with a detail in {request}"))
        .to_owned()
}

// One scenario end to end, each request type in turn against one company database and one
// stand-in mailing tool, as the DPO and the services meet them through the API.
async fn every_request_type_reaches_the_company(store_url: &str, company_url: &str, tag: &str) {
    let env = Env::on(store_url).await;
    let app = &env.app;
    let (db, mailer) = company_and_mailer(app, company_url, tag).await;

    // Rectification (Art. 16): the corrections approved with it are applied, nothing else.
    let r = env
        .verified(
            "rectification",
            &company::email(3),
            json!({ "details": "my name is wrong" }),
        )
        .await;
    let id = r["id"].as_str().unwrap();
    let bad = env
        .act(
            id,
            "approve",
            json!({ "corrections": { "customers.fullname": "Ann Smith" } }),
        )
        .await;
    assert_problem(&bad, 422, "unknown_correction_target");
    assert!(
        bad.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("corrections.customers.fullname:"),
        "{}",
        bad.text
    );
    assert_eq!(
        env.admin(id).await["status"],
        "verified",
        "a refused approval changes nothing"
    );
    let done = env
        .act(
            id,
            "approve",
            json!({ "corrections": { "customers.full_name": "Ann Smith" } }),
        )
        .await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    assert_eq!(
        one(&db, "SELECT full_name FROM customers WHERE id = 3").await,
        "Ann Smith"
    );
    assert_eq!(
        one(&db, "SELECT full_name FROM customers WHERE id = 4").await,
        "Customer 4"
    );
    let complete = detail_of(&done.body, "complete");
    assert!(
        complete
            .contains("corrected in the company's systems: company: customers.full_name (1 row)"),
        "{complete}"
    );
    assert!(
        !done.text.contains("Ann Smith"),
        "values never reach the history"
    );
    let runs = app.store.runs_of_request(id).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].kind.as_str(), "rectification");

    // Corrections belong to a rectification only.
    let other = env
        .verified("restriction", &company::email(4), json!({}))
        .await;
    let rid = other["id"].as_str().unwrap();
    let wrong = env
        .act(
            rid,
            "approve",
            json!({ "corrections": { "customers.full_name": "x" } }),
        )
        .await;
    assert_problem(&wrong, 422, "invalid_field");

    // Restriction (Art. 18): marked from approval, lifted when completed.
    assert_eq!(restricted(&db, 4).await, ("0".into(), "0".into()));
    let approved = env.act(rid, "approve", json!({})).await;
    assert_eq!(approved.body["status"], "in_progress", "{}", approved.text);
    assert_eq!(restricted(&db, 4).await, ("1".into(), "1".into()));
    assert_eq!(
        restricted(&db, 5).await,
        ("0".into(), "0".into()),
        "nobody else's rows"
    );
    let start = detail_of(&approved.body, "start");
    assert!(start.contains("restriction marked in the company's systems: company: customers.processing_restricted (1 row), accounts.processing_restricted (1 row)"), "{start}");
    let completed = env.lift_restriction(rid).await;
    assert_eq!(completed.body["status"], "completed", "{}", completed.text);
    assert_eq!(restricted(&db, 4).await, ("0".into(), "0".into()));
    assert!(detail_of(&completed.body, "complete")
        .contains("restriction lifted in the company's systems"));
    // A restriction in force is not ended by a denial (the requester is told first, Art.
    // 18(3)); one denied before it came into force marks nothing.
    let denied = env
        .verified("restriction", &company::email(5), json!({}))
        .await;
    let did = denied["id"].as_str().unwrap();
    env.act(did, "approve", json!({})).await;
    assert_eq!(restricted(&db, 5).await, ("1".into(), "1".into()));
    let d = env
        .act(did, "deny", json!({ "reason": "not our data" }))
        .await;
    assert_problem(&d, 409, "restriction_in_force");
    assert_eq!(restricted(&db, 5).await, ("1".into(), "1".into()));
    let d = env.lift_restriction(did).await;
    assert_eq!(d.body["status"], "completed", "{}", d.text);
    assert_eq!(restricted(&db, 5).await, ("0".into(), "0".into()));
    let early = env
        .verified("restriction", &company::email(7), json!({}))
        .await;
    let eid = early["id"].as_str().unwrap();
    let d = env
        .act(eid, "deny", json!({ "reason": "not our data" }))
        .await;
    assert_eq!(d.body["status"], "denied", "{}", d.text);
    assert_eq!(restricted(&db, 7).await, ("0".into(), "0".into()));

    // Objection (Art. 21): auto-approved; the mailing tool is told the identities and every
    // purpose it stops — those named, and direct marketing.
    let o = env
        .verified(
            "objection",
            &company::email(6),
            json!({ "purposes": ["support"] }),
        )
        .await;
    assert_eq!(o["status"], "completed", "{o}");
    let calls = mailer.calls("objection");
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0]["identities"],
        json!({ "email": [company::email(6)] })
    );
    let purposes: Vec<&str> = calls[0]["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        purposes.contains(&"support") && purposes.contains(&"marketing"),
        "{purposes:?}"
    );
    assert!(detail_of(&o, "complete")
        .contains("objection sent to the company's systems: mailer: told (HTTP 200)"));

    // Consent withdrawal: the answer never waits for the service, which is down at first;
    // the background pass tries it, and again after the backoff.
    let consent = |given: bool| {
        json!({ "subject": { "email": company::email(7) }, "choices": { "analytics": given },
            "policy_version": "2018-05-25", "source": "api" })
    };
    mailer.fail("consent", 1);
    assert_eq!(
        app.post("/v1/consent", Some(&app.service), &consent(true))
            .await
            .status,
        201
    );
    let a = app
        .post("/v1/consent", Some(&app.service), &consent(false))
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert!(
        mailer.calls("consent").is_empty(),
        "nothing is sent while answering"
    );
    assert_eq!(
        custodian_app::notices::deliver_due(&app.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(mailer.calls("consent").len(), 1, "tried once, failed");
    assert_eq!(
        custodian_app::notices::deliver_due(&app.state)
            .await
            .unwrap(),
        0,
        "not due again yet"
    );
    app.clock.advance(31_000_000);
    assert_eq!(
        custodian_app::notices::deliver_due(&app.state)
            .await
            .unwrap(),
        1
    );
    let calls = mailer.calls("consent");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["action"], "consent_withdrawal");
    assert_eq!(
        calls[1]["identities"],
        json!({ "email": [company::email(7)] })
    );
    assert_eq!(calls[1]["purposes"], json!(["analytics"]));
    assert_eq!(
        custodian_app::notices::deliver_due(&app.state)
            .await
            .unwrap(),
        0,
        "delivered once"
    );

    // Erasure: the recipient with an HTTP endpoint is told (Art. 19) — it is down at first, so
    // the notice is retried in the background — and the request records who was told.
    mailer.fail("erasure-notice", 1);
    let e = env.verified("erasure", &company::email(8), json!({})).await;
    let eid = e["id"].as_str().unwrap();
    let erased = env.act(eid, "approve", json!({})).await;
    assert_eq!(erased.body["status"], "completed", "{}", erased.text);
    let planned = history_details(&erased.body)
        .into_iter()
        .find(|d| d.starts_with("GDPR Art. 19 — recipients"))
        .unwrap_or_else(|| panic!("{}", erased.text));
    assert!(planned.contains("to be told through their endpoint: E-mail delivery service (email_service) through mailer"), "{planned}");
    assert!(
        planned.contains(
            "no HTTP endpoint, to be told by other means: Google Analytics (google_analytics)"
        ),
        "{planned}"
    );
    assert!(!history_details(&erased.body)
        .iter()
        .any(|d| d.contains("was communicated")));
    app.clock.advance(31_000_000);
    assert_eq!(
        custodian_app::notices::deliver_due(&app.state)
            .await
            .unwrap(),
        1
    );
    let notices = mailer.calls("erasure-notice");
    assert_eq!(notices.len(), 2);
    assert_eq!(notices[1]["recipient"], "email_service");
    assert_eq!(
        notices[1]["identities"],
        json!({ "email": [company::email(8)] })
    );
    let view = env.admin(eid).await;
    let told: Vec<String> = history_details(&view)
        .into_iter()
        .filter(|d| d.contains("was communicated"))
        .collect();
    assert_eq!(told.len(), 1, "{view}");
    assert!(told[0].starts_with("GDPR Art. 19 — the erasure was communicated to E-mail delivery service (email_service) through mailer (HTTP 200"), "{}", told[0]);
    let runs = app.store.runs_of_request(eid).await.unwrap();
    let notice = runs
        .iter()
        .find(|r| r.kind.as_str() == "erasure_notice")
        .unwrap();
    assert!(
        notice.payload.is_none(),
        "the identities go once every recipient was told"
    );
    db.close().await;
}

#[tokio::test]
async fn every_request_type_reaches_the_company_sqlite_store_postgres_company() {
    let Some(company_url) = company_support::fresh_postgres_url().await else {
        return;
    };
    every_request_type_reaches_the_company(
        &custodian_store::testing::fresh_sqlite_url(),
        &company_url,
        "SQ_PG",
    )
    .await;
}

#[tokio::test]
async fn every_request_type_reaches_the_company_postgres_store_mariadb_company() {
    let Some(store_url) = custodian_store::testing::fresh_postgres_url().await else {
        return;
    };
    let Some(company_url) = company_support::fresh_mysql_url().await else {
        return;
    };
    every_request_type_reaches_the_company(&store_url, &company_url, "PG_MY").await;
}

/// A rectification whose datastore fails stays in progress with the exact error; once the
/// datastore is back, completing it retries the failed run and completes.
#[tokio::test]
async fn a_failed_rectification_is_retried_by_completing_it() {
    let env = Env::new().await;
    let app = &env.app;
    let var = "CUSTODIAN_TEST_REACH_RECTIFY_DOWN";
    // A database that cannot be opened: fails at once (a refused TCP port is retried by the
    // pool until its 10 s timeout).
    std::env::set_var(var, "sqlite:///nonexistent-custodian-dir/company.db");
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/company/company.toml");
    app.store
        .put_datastore("company", dataset.to_str().unwrap(), Some(var), None)
        .await
        .unwrap();
    let r = env
        .verified("rectification", &company::email(2), json!({}))
        .await;
    let id = r["id"].as_str().unwrap();
    let a = env
        .act(
            id,
            "approve",
            json!({ "corrections": { "customers.phone": "+44 20 0000 0000" } }),
        )
        .await;
    assert_eq!(a.body["status"], "in_progress", "{}", a.text);
    let start = detail_of(&a.body, "start");
    assert!(
        start.starts_with("company datastores failed: company (run "),
        "{start}"
    );
    assert!(start.contains("cannot connect"), "{start}");

    // The DPO corrects the correction while the datastore is still down: the failed run with
    // the old value is dropped (never retried), the new one fails in turn.
    let again = env
        .act(
            id,
            "complete",
            json!({ "corrections": { "customers.phone": "+44 20 1111 1111" } }),
        )
        .await;
    assert_eq!(again.body["status"], "in_progress", "{}", again.text);
    let first = app.store.runs_of_request(id).await.unwrap();
    assert_eq!(first.len(), 2);
    let kept: Vec<&str> = first
        .iter()
        .filter(|r| r.payload.is_some())
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(kept.len(), 1, "the superseded run keeps no values");

    let db = crate::common::company_datastore(app, "reach-rectify", var).await;
    let done = env.act(id, "complete", json!({})).await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    assert_eq!(
        one(&db, "SELECT phone FROM customers WHERE id = 2").await,
        "+44 20 1111 1111"
    );
    let runs = app.store.runs_of_request(id).await.unwrap();
    assert_eq!(
        runs.len(),
        2,
        "the failed run was retried, not planned again"
    );
    let retried = runs.iter().find(|r| r.id == kept[0]).unwrap();
    assert_eq!(retried.status.as_str(), "done");
    db.close().await;
}
