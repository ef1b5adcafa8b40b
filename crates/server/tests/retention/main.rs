//! Retention over HTTP and through the job, with a clock moved years ahead: lifecycle events
//! and their refusals, legal holds, the 7-year rule, consent purged after withdrawal, request
//! records, and children (a priority erasure request; every decision refused).

#[path = "../common/mod.rs"]
mod common;

mod anchors;

use common::{assert_problem, TestApp, START};
use custodian_app::retention::{self as retention_job, RunOptions};
use custodian_core::clock::Clock;
use serde_json::{json, Value};

const DAY: i64 = 86_400_000_000;
const YEAR: i64 = 365 * DAY;

fn rfc(micros: i64) -> String {
    custodian_core::clock::rfc3339(micros)
}

async fn event(app: &TestApp, email: &str, event: &str, at: i64, extra: Value) -> common::Answer {
    let mut body = json!({ "subject": { "email": email }, "event": event, "at": rfc(at) });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.post("/v1/subjects/events", Some(&app.service), &body)
        .await
}

async fn run(app: &TestApp, as_of: i64, dry_run: bool) -> retention_job::Report {
    retention_job::run(
        &app.store,
        &app.state.retention.rules,
        &RunOptions {
            as_of,
            dry_run,
            list: true,
            pause_ratio: 0.0,
            now: custodian_core::clock::Clock::now_micros(&app.clock),
        },
        Some(&retention_job::company_purge(&app.state)),
        |_| {},
    )
    .await
    .unwrap()
}

// One scenario followed end to end: one subject's account events posted in order (each refusal
// depends on those already on record), then malformed events and the wrong callers.
async fn lifecycle_events_are_checked(app: TestApp) {
    let a = event(
        &app,
        "ada@example.com",
        "account_closed",
        START - DAY,
        json!({}),
    )
    .await;
    assert_problem(&a, 409, "contradictory_event");
    assert!(a.body["detail"].as_str().unwrap().contains("never opened"));
    let a = event(
        &app,
        "ada@example.com",
        "account_opened",
        START - YEAR,
        json!({}),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.body["event"], "account_opened");
    assert_eq!(a.body["subject_ref"].as_str().unwrap().len(), 64);
    assert_problem(
        &event(
            &app,
            "ada@example.com",
            "account_opened",
            START - DAY,
            json!({}),
        )
        .await,
        409,
        "contradictory_event",
    );
    assert_eq!(
        event(
            &app,
            "ada@example.com",
            "account_closed",
            START - DAY,
            json!({})
        )
        .await
        .status,
        201
    );
    let twice = event(&app, "ada@example.com", "account_closed", START, json!({})).await;
    assert_problem(&twice, 409, "contradictory_event");
    assert!(twice.body["detail"]
        .as_str()
        .unwrap()
        .contains("already closed"));
    assert_problem(
        &event(&app, "bob@example.com", "purchase", START + DAY, json!({})).await,
        422,
        "invalid_event",
    );
    assert_problem(
        &event(&app, "bob@example.com", "age_declared", START, json!({})).await,
        422,
        "invalid_event",
    );
    assert_problem(
        &event(
            &app,
            "bob@example.com",
            "age_declared",
            START,
            json!({ "birth_date": "2030-01-01" }),
        )
        .await,
        422,
        "invalid_event",
    );
    assert_problem(
        &event(&app, "bob@example.com", "birthday", START, json!({})).await,
        422,
        "invalid_event",
    );
    assert_problem(
        &event(
            &app,
            "bob@example.com",
            "purchase",
            0,
            json!({ "under_minimum_age": true }),
        )
        .await,
        422,
        "invalid_event",
    );
    let device = json!({ "subject": { "device_id": "dev_0123456789abcdef" }, "event": "purchase", "at": rfc(START) });
    assert_problem(
        &app.post("/v1/subjects/events", Some(&app.service), &device)
            .await,
        422,
        "invalid_subject",
    );
    assert_problem(
        &app.post("/v1/subjects/events", Some(&app.dpo), &device)
            .await,
        403,
        "forbidden",
    );
    assert_problem(
        &app.post("/v1/subjects/events", None, &device).await,
        401,
        "unauthorized",
    );
}

#[tokio::test]
async fn lifecycle_events_are_checked_sqlite() {
    lifecycle_events_are_checked(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn lifecycle_events_are_checked_postgres() {
    if let Some(app) = TestApp::postgres().await {
        lifecycle_events_are_checked(app).await;
    }
}

// One scenario followed end to end: a closure and a withdrawal, then retention runs as time passes,
// a hold placed and lifted, and a second run that finds nothing more.
async fn seven_years_holds_and_consent(app: TestApp) {
    // Ada closes her account now; Bob withdraws marketing consent now.
    let opened = event(
        &app,
        "ada@example.com",
        "account_opened",
        START - 2 * YEAR,
        json!({}),
    )
    .await;
    let ada = opened.body["subject_ref"].as_str().unwrap().to_owned();
    assert_eq!(
        event(&app, "ada@example.com", "account_closed", START, json!({}))
            .await
            .status,
        201
    );
    let consent = json!({ "subject": { "email": "bob@example.com" }, "choices": { "marketing": false },
        "policy_version": "2018-05-25", "source": "api" });
    let a = app.post("/v1/consent", Some(&app.service), &consent).await;
    assert_eq!(a.status, 201, "{}", a.text);

    // Nothing is due yet.
    let r = run(&app, START + DAY, true).await;
    assert_eq!(r.due, 0, "{:?}", r.entries);

    // 2033-01-01: seven years after closure.
    let as_of = START + 7 * YEAR + 2 * DAY;
    let r = run(&app, as_of, true).await;
    let rules: Vec<(&str, &str)> = r
        .entries
        .iter()
        .map(|e| (e.subject_ref.as_str(), e.rule.as_str()))
        .collect();
    assert!(
        rules.contains(&(ada.as_str(), "while_customer")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&(ada.as_str(), "accounting_records")),
        "{rules:?}"
    );
    let marketing = r
        .entries
        .iter()
        .find(|e| e.rule == "marketing_preferences")
        .expect("withdrawn marketing consent is due");
    assert!(marketing
        .data
        .records
        .iter()
        .any(|d| d == "consent state: marketing"));
    assert_eq!(marketing.due_since, rfc(START + 30 * DAY));
    let accounting = r
        .entries
        .iter()
        .find(|e| e.rule == "accounting_records")
        .unwrap();
    assert_eq!(accounting.due_since, "2033-01-01T00:00:00Z");
    assert_eq!(accounting.data.categories, ["payment"]);
    assert!(accounting
        .data
        .records
        .contains(&"lifecycle events".to_owned()));
    assert_eq!(r.records_purged, 0, "a dry run changes nothing");

    // A hold on Ada keeps everything of hers; Bob's consent state still goes.
    let hold = app
        .post(
            "/v1/admin/holds",
            Some(&app.dpo),
            &json!({ "subject": { "email": "ada@example.com" }, "matter": "Smith v. Group", "reason": "litigation" }),
        )
        .await;
    assert_eq!(hold.status, 201, "{}", hold.text);
    assert_eq!(hold.body["scope"], "subject");
    assert_eq!(hold.body["subject_ref"], ada.as_str());
    let listed = app.get("/v1/admin/holds", Some(&app.dpo)).await;
    assert_eq!(listed.body["holds"][0]["reason"], "litigation");
    assert_problem(
        &app.get("/v1/admin/holds", Some(&app.service)).await,
        403,
        "forbidden",
    );

    let r = run(&app, as_of, false).await;
    assert!(r.held >= 2, "{r:?}");
    assert!(r.entries.iter().filter(|e| e.subject_ref == ada).all(|e| e
        .data
        .categories
        .is_empty()
        && !e.held.is_empty()));
    assert_eq!(
        app.store.lifecycle_events(&ada).await.unwrap().len(),
        2,
        "held"
    );
    let purged = app.store.purges(None, 100).await.unwrap();
    assert!(purged.iter().all(|p| p.subject_ref != ada));
    let bob = purged
        .iter()
        .find(|p| p.rule == "marketing_preferences")
        .expect("recorded with its rule");
    assert_eq!(bob.records, 1);
    let v = app
        .get("/v1/consent?email=bob@example.com", Some(&app.service))
        .await;
    assert!(
        v.body["purposes"]["marketing"]["given"].is_null(),
        "{}",
        v.text
    );

    // Lifting the hold makes Ada's data due again.
    let id = hold.body["id"].as_str().unwrap();
    let lifted = app
        .call(
            axum::http::Request::delete(format!("/v1/admin/holds/{id}?reason=settled"))
                .header("authorization", format!("Bearer {}", app.dpo))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(lifted.status, 204);
    let again = app
        .call(
            axum::http::Request::delete(format!("/v1/admin/holds/{id}"))
                .header("authorization", format!("Bearer {}", app.dpo))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_problem(&again, 404, "not_found");
    assert!(
        app.get("/v1/admin/holds", Some(&app.dpo)).await.body["holds"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let all = app.get("/v1/admin/holds?all=true", Some(&app.dpo)).await;
    assert_eq!(all.body["holds"][0]["lift_reason"], "settled");

    let r = run(&app, as_of, false).await;
    assert_eq!(r.held, 0);
    assert!(app.store.lifecycle_events(&ada).await.unwrap().is_empty());
    let purged = app.store.purges(Some(&ada), 100).await.unwrap();
    let rules: Vec<&str> = purged.iter().map(|p| p.rule.as_str()).collect();
    assert!(rules.contains(&"accounting_records"), "{rules:?}");
    // `while_customer` is due too, but no datastore holds its data here: nothing went, so
    // nothing is recorded as purged (the dry run above listed it as due).
    assert!(!rules.contains(&"while_customer"), "{rules:?}");
    // A second run finds nothing more and records nothing twice.
    let r = run(&app, as_of, false).await;
    assert_eq!(r.records_purged, 0);
    assert_eq!(
        app.store.purges(Some(&ada), 100).await.unwrap().len(),
        purged.len()
    );
}

#[tokio::test]
async fn seven_years_holds_and_consent_sqlite() {
    seven_years_holds_and_consent(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn seven_years_holds_and_consent_postgres() {
    if let Some(app) = TestApp::postgres().await {
        seven_years_holds_and_consent(app).await;
    }
}

#[tokio::test]
async fn holds_need_a_scope_and_a_reason() {
    let app = TestApp::sqlite().await;
    for (body, _why) in [
        (json!({ "reason": "x" }), "no scope"),
        (json!({ "matter": "m", "reason": " " }), "no reason"),
        (
            json!({ "category": "unicorns", "reason": "x" }),
            "unknown category",
        ),
        (json!({ "subject_ref": "zz", "reason": "x" }), "bad ref"),
    ] {
        assert_problem(
            &app.post("/v1/admin/holds", Some(&app.dpo), &body).await,
            422,
            "invalid_hold",
        );
    }
    let a = app
        .post(
            "/v1/admin/holds",
            Some(&app.dpo),
            &json!({ "category": "payment", "reason": "tax audit" }),
        )
        .await;
    assert_eq!(a.status, 201);
    assert_eq!(a.body["scope"], "category");
    let a = app
        .post(
            "/v1/admin/holds",
            Some(&app.admin),
            &json!({ "matter": "regulator order 12", "reason": "freeze" }),
        )
        .await;
    assert_eq!(a.body["scope"], "matter");
}

async fn decide(app: &TestApp, email: &str, purpose: &str) -> Value {
    app.post(
        "/v1/decide",
        Some(&app.service),
        &json!({ "subject": { "email": email }, "purpose": purpose, "country": "DE" }),
    )
    .await
    .body
}

#[tokio::test]
async fn a_child_gets_a_priority_erasure_and_no_processing() {
    let app = TestApp::sqlite().await;
    assert_eq!(
        decide(&app, "kid@example.com", "service_email").await["allowed"],
        true
    );
    // 14 years old: under Germany's 16.
    let a = event(
        &app,
        "kid@example.com",
        "age_declared",
        START,
        json!({ "birth_date": "2011-06-01", "country": "DE" }),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.body["under_minimum_age"], true);
    let req = a.body["erasure_request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(a.body["erasure_request"]["answer_due"], rfc(START + DAY));
    for purpose in ["service_email", "account", "marketing", "legal_compliance"] {
        let d = decide(&app, "kid@example.com", purpose).await;
        assert_eq!(d["allowed"], false, "{purpose}");
        assert_eq!(d["rule"], "children.minimum_age");
    }
    assert_eq!(
        decide(&app, "adult@example.com", "service_email").await["allowed"],
        true
    );

    let r = app
        .get(&format!("/v1/admin/requests/{req}"), Some(&app.dpo))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let text = r.text.clone();
    // Approved and carried out at once (docs/retention.md, Children).
    assert!(
        text.contains("erasure") && text.contains("\"status\":\"completed\""),
        "{text}"
    );

    // Declared again: no second request. The flag survives a restart.
    let again = event(
        &app,
        "kid@example.com",
        "age_declared",
        START,
        json!({ "under_minimum_age": true }),
    )
    .await;
    assert_eq!(again.status, 201);
    assert!(again.body["erasure_request"].is_null());
    let state = custodian_server::build(common::settings(
        app.store.clone(),
        custodian_policy::example(),
    ))
    .await
    .unwrap();
    assert_eq!(state.retention.minors.len(), 1);

    // 14 in the UK is old enough.
    let uk = event(
        &app,
        "teen@example.com",
        "age_declared",
        START,
        json!({ "birth_date": "2011-06-01", "country": "GB" }),
    )
    .await;
    assert_eq!(uk.body["under_minimum_age"], false);
    assert!(uk.body["erasure_request"].is_null());
}

#[tokio::test]
async fn the_daily_run_happens_once_a_day() {
    let app = TestApp::sqlite().await;
    assert!(retention_job::daily_once(&app.state)
        .await
        .unwrap()
        .is_some());
    assert!(retention_job::daily_once(&app.state)
        .await
        .unwrap()
        .is_none());
    app.clock.advance(DAY);
    // Another node holds today's run: this one leaves it, until that node's lease runs out.
    let lease = custodian_app::background::RECURRING_LEASE.as_micros() as i64;
    let now = app.clock.now_micros();
    assert!(app
        .state
        .store
        .claim_job(
            retention_job::JOB,
            retention_job::JOB,
            "other-node",
            now,
            lease,
            custodian_store::jobs::Claim::Due
        )
        .await
        .unwrap()
        .is_some());
    assert!(retention_job::daily_once(&app.state)
        .await
        .unwrap()
        .is_none());
    app.clock.advance(lease);
    assert!(retention_job::daily_once(&app.state)
        .await
        .unwrap()
        .is_some());
    let job = app
        .state
        .store
        .job(retention_job::JOB)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.run_at % DAY, 0, "next due at the start of a UTC day");
    assert!(job.run_at > app.clock.now_micros());
}

/// The 7-year rule reaches the company's own database: when `accounting_records` falls due
/// for a closed account, the invoice fields it held go (here by the default, NULL), found by
/// the e-mail the lifecycle events came with; once recorded, it is not done again.
#[tokio::test]
async fn held_company_fields_go_when_their_rule_falls_due() {
    let app = TestApp::sqlite().await;
    let db = common::company_datastore(
        &app,
        "retention-company",
        "CUSTODIAN_TEST_COMPANY_URL_RETENTION",
    )
    .await;
    let billed = |customer: i64| {
        let db = &db;
        async move {
            let mut s = db.sql();
            s.push(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM invoices i JOIN orders o ON o.id = i.order_id JOIN accounts a ON a.id = o.account_id WHERE a.customer_id = {customer} AND i.billing_name IS NOT NULL"));
            db.text_rows(&s).await.unwrap()[0][0]
                .clone()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        }
    };
    let (before_4, before_5) = (billed(4).await, billed(5).await);
    assert!(before_4 > 0 && before_5 > 0);

    let opened = event(
        &app,
        "customer-4@example.com",
        "account_opened",
        START - 2 * YEAR,
        json!({}),
    )
    .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let subject = opened.body["subject_ref"].as_str().unwrap().to_owned();
    event(
        &app,
        "customer-4@example.com",
        "account_closed",
        START,
        json!({}),
    )
    .await;

    // Six years on: the invoices are still held.
    let r = run(&app, START + 6 * YEAR, false).await;
    assert_eq!(r.company_rows_changed, 0);
    assert_eq!(billed(4).await, before_4);

    let r = run(&app, START + 7 * YEAR + 2 * DAY, false).await;
    assert_eq!(r.company_failures, 0);
    assert!(r.company_rows_changed >= before_4 as u64, "{r:?}");
    assert_eq!(
        billed(4).await,
        0,
        "customer 4's invoices lost their billing details"
    );
    assert_eq!(billed(5).await, before_5, "nobody else's");
    let purges = app.store.purges(Some(&subject), 20).await.unwrap();
    let accounting = purges
        .iter()
        .find(|p| p.rule == "accounting_records")
        .expect("recorded");
    assert!(
        accounting.data.contains("company datastores:") && accounting.data.contains("rows"),
        "{}",
        accounting.data
    );
    assert!(
        !accounting.data.contains("customer-4"),
        "no identifier in the record"
    );

    let again = run(&app, START + 7 * YEAR + 3 * DAY, false).await;
    assert_eq!(again.company_rows_changed, 0, "done once");
    db.close().await;
}
