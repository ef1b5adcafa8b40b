//! Rules that act in `/v1/decide` (issue 12, items 6 and 7), through the real router on SQLite
//! and PostgreSQL: a restriction refuses every purpose but storage and legal claims until it
//! is lifted (GDPR Art. 18(2)); an objection refuses the legitimate-interest purposes it names
//! (Art. 21(1)); a closed account refuses its contract-based purposes; a declared child's
//! erasure is approved and carried out at once, first in the queue, never extended; an
//! anonymous device's age gate keeps only the flag. Each survives a restart (loaded again).

use crate::common::{self, assert_problem, START};
use crate::env::{decide, Env};
use serde_json::{json, Value};

fn ada() -> Value {
    json!({ "email": "ada@example.com" })
}

/// The same database opened by a new server: what is in force is loaded again.
async fn restart(env: &Env) -> common::TestApp {
    common::TestApp::on(&env.app.url).await
}

async fn restriction_refuses_all_but_storage_and_legal_claims(env: Env) {
    let app = &env.app;
    assert_eq!(decide(app, ada(), "service_email").await["allowed"], true);
    let r = env
        .verified(
            "restriction",
            "ada@example.com",
            json!({ "details": "my address is wrong" }),
        )
        .await;
    assert_eq!(r["status"], "verified");
    // Not in force before the DPO approves it.
    assert_eq!(decide(app, ada(), "service_email").await["allowed"], true);
    let id = r["id"].as_str().unwrap().to_owned();
    let a = env.act(&id, "approve", json!({})).await;
    assert_eq!(a.status, 200, "{}", a.text);
    for purpose in [
        "service_email",
        "support",
        "marketing",
        "legal_compliance",
        "account",
    ] {
        let d = decide(app, ada(), purpose).await;
        assert_eq!(d["allowed"], false, "{purpose}: {d}");
        assert_eq!(d["reason"], "restricted", "{purpose}");
        assert_eq!(d["rule"], "rights.restriction");
    }
    for purpose in ["storage", "legal_claims"] {
        let d = decide(app, ada(), purpose).await;
        assert_eq!(d["allowed"], true, "{purpose}: {d}");
    }
    assert_eq!(
        decide(app, json!({ "email": "bob@example.com" }), "service_email").await["allowed"],
        true,
        "others are not restricted"
    );
    // Still in force after a restart.
    let again = restart(&env).await;
    assert_eq!(
        decide(&again, ada(), "service_email").await["reason"],
        "restricted"
    );
    // Completing the request lifts it, once the lift was announced to the requester.
    let done = env.lift_restriction(&id).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(decide(app, ada(), "service_email").await["allowed"], true);
    let again = restart(&env).await;
    assert_eq!(
        decide(&again, ada(), "service_email").await["allowed"],
        true
    );
}

#[tokio::test]
async fn restriction_refuses_all_but_storage_and_legal_claims_sqlite() {
    restriction_refuses_all_but_storage_and_legal_claims(Env::new().await).await;
}

#[tokio::test]
async fn restriction_refuses_all_but_storage_and_legal_claims_postgres() {
    if let Some(url) = custodian_store::testing::fresh_postgres_url().await {
        restriction_refuses_all_but_storage_and_legal_claims(Env::on(&url).await).await;
    }
}

async fn objection_refuses_the_purposes_it_names(env: Env) {
    let app = &env.app;
    // Only what the policy lets an objection reach.
    let bad = env
        .submit(json!({ "type": "objection", "email": "ada@example.com", "purposes": ["legal_compliance"] }))
        .await;
    assert_problem(&bad, 422, "unknown_purpose");
    assert!(bad.body["detail"]
        .as_str()
        .unwrap()
        .contains("product_improvement"));
    let bad = env
        .submit(json!({ "type": "access", "email": "ada@example.com", "purposes": ["support"] }))
        .await;
    assert_problem(&bad, 422, "invalid_field");

    assert_eq!(
        decide(app, ada(), "product_improvement").await["allowed"],
        true
    );
    // The example approves objections once verified.
    let o = env
        .verified(
            "objection",
            "ada@example.com",
            json!({ "purposes": ["product_improvement", "change_of_control"] }),
        )
        .await;
    assert_eq!(o["status"], "completed", "{o}");
    for purpose in ["product_improvement", "change_of_control"] {
        let d = decide(app, ada(), purpose).await;
        assert_eq!(d["allowed"], false, "{purpose}: {d}");
        assert_eq!(d["reason"], "objection");
        assert_eq!(d["rule"], "rights.objection");
    }
    // Not named: still allowed; and someone else is not affected.
    assert_eq!(decide(app, ada(), "support").await["allowed"], true);
    assert_eq!(
        decide(
            app,
            json!({ "email": "bob@example.com" }),
            "product_improvement"
        )
        .await["allowed"],
        true
    );
    let again = restart(&env).await;
    assert_eq!(
        decide(&again, ada(), "product_improvement").await["reason"],
        "objection"
    );
    assert_eq!(decide(&again, ada(), "support").await["allowed"], true);
}

#[tokio::test]
async fn objection_refuses_the_purposes_it_names_sqlite() {
    objection_refuses_the_purposes_it_names(Env::new().await).await;
}

#[tokio::test]
async fn objection_refuses_the_purposes_it_names_postgres() {
    if let Some(url) = custodian_store::testing::fresh_postgres_url().await {
        objection_refuses_the_purposes_it_names(Env::on(&url).await).await;
    }
}

async fn event(
    app: &common::TestApp,
    subject: Value,
    event: &str,
    at: i64,
    extra: Value,
) -> common::Answer {
    let mut body =
        json!({ "subject": subject, "event": event, "at": custodian_core::clock::rfc3339(at) });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.post("/v1/subjects/events", Some(&app.service), &body)
        .await
}

async fn a_closed_account_ends_its_contract_purposes(env: Env) {
    let app = &env.app;
    const DAY: i64 = 86_400_000_000;
    assert_eq!(
        event(app, ada(), "account_opened", START - 30 * DAY, json!({}))
            .await
            .status,
        201
    );
    assert_eq!(decide(app, ada(), "service_email").await["allowed"], true);
    assert_eq!(
        event(app, ada(), "account_closed", START - DAY, json!({}))
            .await
            .status,
        201
    );
    for purpose in ["service_email", "account", "payments", "newsletter"] {
        let d = decide(app, ada(), purpose).await;
        assert_eq!(d["allowed"], false, "{purpose}: {d}");
        assert_eq!(d["reason"], "account_closed");
        assert_eq!(d["rule"], format!("purposes.{purpose}.legal_basis"));
    }
    // Other bases go on: the law, legitimate interests.
    assert_eq!(
        decide(app, ada(), "legal_compliance").await["allowed"],
        true
    );
    assert_eq!(decide(app, ada(), "support").await["allowed"], true);
    let again = restart(&env).await;
    assert_eq!(
        decide(&again, ada(), "service_email").await["reason"],
        "account_closed"
    );
    // Opened again: a customer again.
    assert_eq!(
        event(app, ada(), "account_opened", START, json!({}))
            .await
            .status,
        201
    );
    assert_eq!(decide(app, ada(), "service_email").await["allowed"], true);
    let again = restart(&env).await;
    assert_eq!(
        decide(&again, ada(), "service_email").await["allowed"],
        true
    );
}

#[tokio::test]
async fn a_closed_account_ends_its_contract_purposes_sqlite() {
    a_closed_account_ends_its_contract_purposes(Env::new().await).await;
}

#[tokio::test]
async fn a_closed_account_ends_its_contract_purposes_postgres() {
    if let Some(url) = custodian_store::testing::fresh_postgres_url().await {
        a_closed_account_ends_its_contract_purposes(Env::on(&url).await).await;
    }
}

async fn count(db: &custodian_connectors::sql::Db, sql: &str) -> i64 {
    let mut s = db.sql();
    s.push(sql);
    db.text_rows(&s).await.unwrap()[0][0]
        .clone()
        .unwrap()
        .parse()
        .unwrap()
}

async fn a_childs_erasure_runs_at_once(env: Env, tag: &str) {
    let app = &env.app;
    let var = format!("CUSTODIAN_TEST_COMPANY_URL_CHILD_{tag}");
    let db = common::company_datastore(app, &format!("child-{tag}"), &var).await;
    let kid = json!({ "email": "customer-3@example.com" });
    let registered =
        "SELECT CAST(COUNT(*) AS TEXT) FROM product_registrations WHERE customer_id = 3";
    assert!(count(&db, registered).await > 0);
    app.post(
        "/v1/consent",
        Some(&app.service),
        &json!({ "subject": kid,
        "choices": { "marketing": true }, "policy_version": "2018-05-25", "source": "signup" }),
    )
    .await;
    let a = event(
        app,
        kid.clone(),
        "age_declared",
        START,
        json!({ "birth_date": "2013-02-01", "country": "DE" }),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(
        a.body["erasure_request"]["answer_due"],
        "2026-01-02T00:00:00Z"
    );
    let id = a.body["erasure_request"]["id"].as_str().unwrap().to_owned();
    let r = env.admin(&id).await;
    // Approved and carried out at once — in Custodian and the company's datastore — without
    // waiting for the DPO.
    assert_eq!(r["status"], "completed", "{r}");
    let actions: Vec<&str> = r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["receive", "approve", "complete", "erase"], "{r}");
    assert_eq!(
        count(&db, registered).await,
        0,
        "erased in the company's datastore"
    );
    let v = app
        .get(
            "/v1/consent?email=customer-3@example.com",
            Some(&app.service),
        )
        .await;
    assert!(
        v.body["purposes"]["marketing"]["given"].is_null(),
        "{}",
        v.text
    );
    assert_eq!(
        decide(app, kid, "service_email").await["rule"],
        "children.minimum_age"
    );
    // Never extended.
    let ext = env
        .act(&id, "extend", json!({ "reason": "busy", "months": 1 }))
        .await;
    assert_problem(&ext, 409, "fixed_deadline");
    // Nor paused.
    let pause = env
        .act(&id, "pause", json!({ "pause_reason": "awaiting_identity" }))
        .await;
    assert_problem(&pause, 409, "fixed_deadline");
    db.close().await;
}

#[tokio::test]
async fn a_childs_erasure_runs_at_once_sqlite() {
    a_childs_erasure_runs_at_once(Env::new().await, "SQLITE").await;
}

#[tokio::test]
async fn a_childs_erasure_runs_at_once_postgres() {
    if let Some(url) = custodian_store::testing::fresh_postgres_url().await {
        a_childs_erasure_runs_at_once(Env::on(&url).await, "POSTGRES").await;
    }
}

/// When the company's datastore fails, the child's erasure stays in progress at the top of
/// the DPO's queue — above a request already overdue — and housekeeping carries it out as
/// soon as the datastore answers, without the DPO.
#[tokio::test]
async fn a_childs_erasure_that_fails_is_first_in_the_queue_and_retried() {
    let env = Env::new().await;
    let app = &env.app;
    const DAY: i64 = 86_400_000_000;
    let adult = env
        .verified(
            "rectification",
            "bob@example.com",
            json!({ "details": "x" }),
        )
        .await;
    let adult = adult["id"].as_str().unwrap().to_owned();
    app.clock.advance(60 * DAY);
    let var = "CUSTODIAN_TEST_COMPANY_URL_CHILD_FAILING";
    std::env::set_var(var, "postgres://postgres@127.0.0.1:1/test");
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/company/company.toml");
    app.store
        .put_datastore("company", dataset.to_str().unwrap(), Some(var), None)
        .await
        .unwrap();
    let a = event(
        app,
        json!({ "user_id": "kid-42" }),
        "age_declared",
        START + 60 * DAY,
        json!({ "under_minimum_age": true }),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.body["erasure_request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(env.admin(&id).await["status"], "in_progress");
    let queue = app.get("/v1/admin/requests", Some(&app.dpo)).await;
    let ids: Vec<&str> = queue.body["requests"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", queue.text))
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [id.as_str(), adult.as_str()],
        "the child's erasure first, though the other is overdue"
    );

    // The datastore is back: the next housekeeping round finishes it.
    let db = common::company_datastore(app, "child-failing", var).await;
    custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert_eq!(env.admin(&id).await["status"], "completed");
    db.close().await;
}

async fn an_anonymous_age_gate_keeps_only_the_flag(env: Env) {
    let app = &env.app;
    let device = json!({ "device_id": "dev_0123456789abcdef" });
    let consent = json!({ "subject": device, "choices": { "analytics": true },
        "policy_version": "2018-05-25", "source": "banner" });
    assert_eq!(
        app.post("/v1/consent", Some(&app.service), &consent)
            .await
            .status,
        201
    );
    assert_eq!(
        decide(app, device.clone(), "analytics").await["allowed"],
        true
    );
    // Other events still need a person.
    assert_problem(
        &event(app, device.clone(), "purchase", START, json!({})).await,
        422,
        "invalid_subject",
    );
    // An adult's device: nothing is kept.
    let adult = json!({ "device_id": "dev_adult000000000000" });
    let a = event(
        app,
        adult.clone(),
        "age_declared",
        START,
        json!({ "under_minimum_age": false }),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.body["under_minimum_age"], false);
    let hex = a.body["subject_ref"].as_str().unwrap().to_owned();
    assert!(app.store.lifecycle_events(&hex).await.unwrap().is_empty());
    assert!(app.store.minors().await.unwrap().is_empty());
    // A child's device: refused every purpose, and only the flag is stored.
    let a = event(
        app,
        device.clone(),
        "age_declared",
        START,
        json!({ "under_minimum_age": true }),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.body["under_minimum_age"], true);
    assert!(a.body["erasure_request"].is_null());
    let hex = a.body["subject_ref"].as_str().unwrap().to_owned();
    for purpose in ["analytics", "account", "site_administration"] {
        let d = decide(app, device.clone(), purpose).await;
        assert_eq!(d["allowed"], false, "{purpose}");
        assert_eq!(d["rule"], "children.minimum_age");
    }
    assert!(
        app.store.lifecycle_events(&hex).await.unwrap().is_empty(),
        "no event kept"
    );
    assert!(
        app.store.subject_identities(&hex).await.unwrap().is_empty(),
        "no identifier kept"
    );
    let minors = app.store.minors().await.unwrap();
    assert_eq!(minors.len(), 1);
    assert_eq!(
        (
            minors[0].declared_at,
            &minors[0].country,
            &minors[0].request_id
        ),
        (0, &None, &None)
    );
    // Nor is anything recorded about it afterwards (the banner asking again).
    assert_problem(
        &app.post("/v1/consent", Some(&app.service), &consent).await,
        409,
        "under_minimum_age",
    );
    let v = app
        .get(
            "/v1/consent?device_id=dev_0123456789abcdef",
            Some(&app.service),
        )
        .await;
    assert!(
        v.body["purposes"]["analytics"]["given"].is_null(),
        "{}",
        v.text
    );
    let again = restart(&env).await;
    assert_eq!(
        decide(&again, device, "analytics").await["rule"],
        "children.minimum_age"
    );
}

#[tokio::test]
async fn an_anonymous_age_gate_keeps_only_the_flag_sqlite() {
    an_anonymous_age_gate_keeps_only_the_flag(Env::new().await).await;
}

#[tokio::test]
async fn an_anonymous_age_gate_keeps_only_the_flag_postgres() {
    if let Some(url) = custodian_store::testing::fresh_postgres_url().await {
        an_anonymous_age_gate_keeps_only_the_flag(Env::on(&url).await).await;
    }
}
