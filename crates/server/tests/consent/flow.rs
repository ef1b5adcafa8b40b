//! The consent flow on SQLite and PostgreSQL: writes with receipts, reads, receipts fetched
//! again, consent surviving a restart, and re-consent after a policy change.

use crate::common::{assert_problem, TestApp};
use crate::helpers::{choice, decide, DEVICE};
use serde_json::json;

// One scenario followed end to end: a banner choice written, its receipt, the next decision, the
// same choice again, the read-back and the stored rows, each step building on the last.
async fn consent_flow(app: TestApp) {
    let dev = json!({ "device_id": DEVICE });
    let a = app
        .post(
            "/v1/consent",
            None,
            &choice(
                dev.clone(),
                json!({ "analytics": true, "advertising": false, "marketing": false }),
            ),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let r = &a.body["receipt"];
    assert_eq!(r["schema_version"], "KI-CR-v1.1.0");
    assert_eq!(r["policy_version"], "2018-05-25");
    assert_eq!(r["collection_method"], "banner");
    assert_eq!(r["language"], "de");
    assert!(r["receipt_id"].as_str().unwrap().starts_with("rcpt_"));
    assert!(r["controllers"][0]["contact"]
        .as_str()
        .unwrap()
        .contains("dpo@"));
    let purposes = r["purposes"].as_array().unwrap();
    assert_eq!(purposes.len(), 3);
    let analytics = purposes
        .iter()
        .find(|p| p["purpose"] == "analytics")
        .unwrap();
    assert_eq!(analytics["state"], "given");
    assert_eq!(analytics["legal_basis"], "consent");
    assert!(analytics["data_categories"]
        .as_array()
        .unwrap()
        .contains(&json!("keystrokes")));
    let de_text = custodian_policy::example()
        .notice_text("analytics", "de")
        .unwrap()
        .to_owned();
    assert_eq!(
        analytics["notice_hash"],
        custodian_policy::notice_hash(&de_text),
        "the German text that was shown"
    );
    assert_eq!(a.body["events"].as_array().unwrap().len(), 3);
    assert_eq!(a.body["gpc_honoured"], false);
    assert!(
        !a.text.contains(DEVICE),
        "the raw identifier is never echoed"
    );

    // Read-your-writes: the next decision sees the choice.
    assert_eq!(
        decide(&app, dev.clone(), "analytics", false).await["allowed"],
        true
    );
    assert_eq!(
        decide(&app, dev.clone(), "advertising", false).await["reason"],
        "consent withdrawn"
    );

    // The same choices again change nothing and write nothing.
    let again = app
        .post(
            "/v1/consent",
            None,
            &choice(dev.clone(), json!({ "analytics": true })),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["events"], json!([]));

    let v = app
        .get(&format!("/v1/consent?device_id={DEVICE}"), None)
        .await;
    assert_eq!(v.status, 200, "{}", v.text);
    let analytics = v.body["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["purpose"] == "analytics")
        .unwrap()
        .clone();
    assert_eq!(analytics["given"], true);
    assert_eq!(analytics["source"], "banner");
    assert_eq!(analytics["must_reask"], false);
    assert_eq!(v.body["must_reask"], false);

    // Stored rows carry the truncated IP only when there is one, never the identifier.
    for e in app.events().await {
        assert_ne!(e.subject.to_hex(), DEVICE);
        assert_eq!(e.subject.to_hex().len(), 64);
    }
    assert_eq!(app.verify_ledger().await, 3);
}

#[tokio::test]
async fn a_banner_choice_is_recorded_with_a_receipt_and_decides_at_once() {
    consent_flow(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn the_consent_flow_runs_on_postgres() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    consent_flow(app).await;
}

#[tokio::test]
async fn a_changed_consent_purpose_must_be_asked_again() {
    let url = custodian_store::testing::fresh_sqlite_url();
    let v1 = TestApp::on(&url).await;
    v1.post(
        "/v1/consent",
        None,
        &choice(
            json!({ "device_id": DEVICE }),
            json!({ "analytics": true, "marketing": true }),
        ),
    )
    .await;
    v1.store.close().await;

    let mut policy = custodian_policy::example();
    policy.policy.version = "2026-12-01".into();
    let analytics = policy
        .purposes
        .iter_mut()
        .find(|p| p.id == "analytics")
        .unwrap();
    analytics
        .consent
        .as_mut()
        .unwrap()
        .notice
        .insert("en".into(), "We now also record session replays.".into());
    let v2 = TestApp::with_policy(&url, policy).await;
    let v = v2
        .get(&format!("/v1/consent?device_id={DEVICE}"), None)
        .await;
    assert_eq!(v.body["policy_version"], "2026-12-01");
    assert_eq!(v.body["must_reask"], true);
    let find = |id: &str| {
        v.body["purposes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["purpose"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(find("analytics")["must_reask"], true);
    assert_eq!(find("marketing")["must_reask"], false);
    // Consent given under the old version still counts until it is asked again.
    assert_eq!(
        decide(&v2, json!({ "device_id": DEVICE }), "analytics", false).await["allowed"],
        true
    );
    // The old version is still a valid version to record under (a stale page).
    let a = v2
        .post(
            "/v1/consent",
            None,
            &choice(
                json!({ "device_id": DEVICE }),
                json!({ "advertising": false }),
            ),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
}

#[tokio::test]
async fn receipts_can_be_fetched_again_from_the_ledger() {
    let app = TestApp::sqlite().await;
    let a = app
        .post(
            "/v1/consent",
            None,
            &choice(json!({ "device_id": DEVICE }), json!({ "analytics": true })),
        )
        .await;
    let id = a.body["receipt"]["receipt_id"].as_str().unwrap();
    assert_problem(
        &app.get(&format!("/v1/receipts/{id}"), None).await,
        401,
        "unauthorized",
    );
    let r = app.get(&format!("/v1/receipts/{id}"), Some(&app.dpo)).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["purposes"][0]["event_hash"],
        a.body["receipt"]["purposes"][0]["event_hash"]
    );
    assert_problem(
        &app.get("/v1/receipts/rcpt_nope", Some(&app.dpo)).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn consent_survives_a_restart() {
    let url = custodian_store::testing::fresh_sqlite_url();
    let first = TestApp::on(&url).await;
    first
        .post(
            "/v1/consent",
            None,
            &choice(json!({ "device_id": DEVICE }), json!({ "analytics": true })),
        )
        .await;
    first.store.close().await;
    let second = TestApp::on(&url).await;
    assert_eq!(
        decide(&second, json!({ "device_id": DEVICE }), "analytics", false).await["allowed"],
        true
    );
}
