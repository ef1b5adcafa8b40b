//! What a write may carry: tokens for e-mail subjects, GPC over the body, and bad input that
//! writes nothing.

use crate::common::{assert_problem, TestApp};
use crate::helpers::{choice, decide, DEVICE};
use serde_json::json;

#[tokio::test]
async fn emails_need_a_token_to_write_or_read() {
    let app = TestApp::sqlite().await;
    let body = choice(
        json!({ "email": "ada@example.com" }),
        json!({ "marketing": true }),
    );
    assert_problem(
        &app.post("/v1/consent", None, &body).await,
        401,
        "unauthorized",
    );
    assert_problem(
        &app.get("/v1/consent?email=ada@example.com", None).await,
        401,
        "unauthorized",
    );
    let a = app.post("/v1/consent", Some(&app.service), &body).await;
    assert_eq!(a.status, 201);
    let v = app
        .get("/v1/consent?email=Ada@Example.com", Some(&app.dpo))
        .await;
    let m = v.body["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["purpose"] == "marketing")
        .unwrap()
        .clone();
    assert_eq!(m["given"], true, "normalised e-mails meet");
    assert_eq!(
        decide(
            &app,
            json!({ "email": "ada@example.com" }),
            "marketing",
            false
        )
        .await["allowed"],
        true
    );
}

#[tokio::test]
async fn gpc_opts_out_of_advertising_whatever_the_body_says() {
    let app = TestApp::sqlite().await;
    let dev = json!({ "device_id": DEVICE });
    let body = choice(
        dev.clone(),
        json!({ "analytics": true, "advertising": true }),
    );
    let a = app
        .post_raw("/v1/consent", None, body.to_string(), &[("sec-gpc", "1")])
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.body["gpc_honoured"], true);
    let events = a.body["events"].as_array().unwrap();
    let ads = events
        .iter()
        .find(|e| e["purpose"] == "advertising")
        .unwrap();
    assert_eq!(ads["given"], false);
    assert_eq!(ads["source"], "gpc");
    // social_widgets also opts out on GPC (sharing with social networks).
    assert!(events
        .iter()
        .any(|e| e["purpose"] == "social_widgets" && e["given"] == false));
    assert_eq!(
        events.iter().find(|e| e["purpose"] == "analytics").unwrap()["given"],
        true
    );
    assert_eq!(
        decide(&app, dev.clone(), "advertising", false).await["allowed"],
        false
    );
    assert_eq!(
        app.get("/.well-known/gpc.json", None).await.body["gpc"],
        true
    );
}

#[tokio::test]
async fn bad_consent_input_writes_nothing() {
    let app = TestApp::sqlite().await;
    let dev = json!({ "device_id": DEVICE });
    let cases = [
        (
            choice(dev.clone(), json!({ "spam": true })),
            422,
            "unknown_purpose",
        ),
        (
            choice(dev.clone(), json!({ "service_email": true })),
            422,
            "not_consent_purpose",
        ),
        (choice(dev.clone(), json!({})), 422, "no_choices"),
        (
            json!({ "subject": dev.clone(), "choices": { "analytics": true }, "policy_version": "1999", "source": "banner" }),
            422,
            "unknown_policy_version",
        ),
        (
            json!({ "subject": dev.clone(), "choices": { "analytics": true }, "policy_version": "2018-05-25", "source": "telepathy" }),
            422,
            "unknown_source",
        ),
        (
            json!({ "subject": dev.clone(), "choices": { "analytics": true }, "policy_version": "2018-05-25", "source": "gpc" }),
            422,
            "unknown_source",
        ),
        (
            json!({ "subject": {}, "choices": { "analytics": true }, "policy_version": "2018-05-25", "source": "banner" }),
            422,
            "invalid_subject",
        ),
        (
            json!({ "subject": { "device_id": "short" }, "choices": { "analytics": true }, "policy_version": "2018-05-25", "source": "banner" }),
            422,
            "invalid_subject",
        ),
        (
            json!({ "choices": { "analytics": true }, "policy_version": "2018-05-25", "source": "banner" }),
            422,
            "invalid_body",
        ),
        (
            json!({ "subject": dev.clone(), "choices": { "analytics": "yes" }, "policy_version": "2018-05-25", "source": "banner" }),
            422,
            "invalid_body",
        ),
    ];
    for (body, status, code) in cases {
        assert_problem(&app.post("/v1/consent", None, &body).await, status, code);
    }
    let big = format!(
        "{{\"subject\":{{\"device_id\":\"{DEVICE}\"}},\"choices\":{{\"{}\":true}}}}",
        "a".repeat(100_000)
    );
    assert_problem(
        &app.post_raw("/v1/consent", None, big, &[]).await,
        413,
        "payload_too_large",
    );
    assert_problem(
        &app.post_raw("/v1/consent", None, "{\"subject\":", &[])
            .await,
        400,
        "malformed_json",
    );
    assert!(app.events().await.is_empty(), "nothing written");
    assert!(app
        .store
        .consent_state_of(&custodian_core::subject::SubjectRef([0; 32]))
        .await
        .unwrap()
        .is_empty());
}
