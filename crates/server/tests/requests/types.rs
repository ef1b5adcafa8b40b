//! Each type of request from intake to its effect, signed download links, forwarding to a
//! customer, and the same flow on PostgreSQL.

use crate::common::assert_problem;
use crate::env::{decide, link_in, Env};
use serde_json::{json, Value};

// One scenario followed end to end: each type of request in turn (access, objection, rectification,
// restriction, erasure) against one app and one SMTP sink, then every mail delivered checked.
#[tokio::test]
async fn each_type_of_request_runs_end_to_end_through_real_smtp() {
    let env = Env::new().await;
    let app = &env.app;

    // Access: auto-approved by the example policy, completed with a download link.
    app.post("/v1/consent", Some(&app.service), &json!({ "subject": { "email": "ada@example.com" }, "choices": { "marketing": true }, "policy_version": "2018-05-25", "source": "signup" })).await;
    let access = env
        .verified("access", "ada@example.com", json!({ "country": "DE" }))
        .await;
    assert_eq!(access["status"], "completed", "{access}");
    assert_eq!(access["jurisdiction"], "gdpr");
    let mail = env.mail_to_with("ada@example.com", "/archive?t=").await;
    let download = link_in(&mail, "/archive?t=");
    let path = download.strip_prefix("http://custodian.test").unwrap();
    let zip = app.get(path, None).await;
    assert_eq!(zip.status, 200);
    assert_eq!(zip.content_type, "application/zip");
    let admin_zip = app
        .get(
            &format!(
                "/v1/admin/requests/{}/export",
                access["id"].as_str().unwrap()
            ),
            Some(&app.dpo),
        )
        .await;
    assert_eq!(
        zip.text.as_bytes(),
        admin_zip.text.as_bytes(),
        "the DPO gets the same archive"
    );
    assert!(
        zip.text.contains("manifest.json")
            && zip.text.contains("consents.csv")
            && zip.text.contains("marketing")
    );
    assert!(
        !zip.text.contains("ada@example.com"),
        "the archive names the subject by reference"
    );

    // Objection: auto-approved, withdraws marketing.
    assert_eq!(
        decide(app, json!({ "email": "ada@example.com" }), "marketing").await["allowed"],
        true
    );
    let objection = env
        .verified("objection", "ada@example.com", json!({}))
        .await;
    assert_eq!(objection["status"], "completed");
    let d = decide(app, json!({ "email": "ada@example.com" }), "marketing").await;
    assert_eq!(d["reason"], "consent withdrawn");

    // Rectification and restriction wait for the DPO, then are started and completed.
    for kind in ["rectification", "restriction"] {
        let r = env
            .verified(
                kind,
                "bob@example.com",
                json!({ "details": "my surname is Smith, not Smyth" }),
            )
            .await;
        assert_eq!(r["status"], "verified");
        assert_eq!(
            r["details"], "my surname is Smith, not Smyth",
            "the DPO reads what was asked"
        );
        let id = r["id"].as_str().unwrap();
        assert_eq!(
            env.act(id, "approve", json!({})).await.body["status"],
            "in_progress"
        );
        let done = if kind == "restriction" {
            env.lift_restriction(id).await
        } else {
            env.act(id, "complete", json!({})).await
        };
        assert_eq!(done.body["status"], "completed", "{}", done.text);
        env.mail_to_with("bob@example.com", id).await;
    }

    // Erasure: approved by the DPO; consent state, links and the address go; the ledger stays valid.
    app.post("/v1/consent", Some(&app.service), &json!({ "subject": { "email": "carol@example.com" }, "choices": { "analytics": true }, "policy_version": "2018-05-25", "source": "api" })).await;
    let erasure = env
        .verified("erasure", "carol@example.com", json!({ "country": "GB" }))
        .await;
    assert_eq!(erasure["jurisdiction"], "uk_gdpr");
    let id = erasure["id"].as_str().unwrap();
    let done = env.act(id, "approve", json!({})).await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    assert_eq!(
        done.body["email"],
        Value::Null,
        "the address is gone once the request is closed"
    );
    env.mail_to_with("carol@example.com", "complete").await;
    let d = decide(app, json!({ "email": "carol@example.com" }), "analytics").await;
    assert_eq!(d["reason"], "no consent on record");
    let v = app
        .get("/v1/consent?email=carol@example.com", Some(&app.dpo))
        .await;
    assert!(v.body["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["given"].is_null()));
    let history: Vec<&str> = done.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        ["receive", "verify", "approve", "complete", "erase"]
    );
    app.verify_ledger().await;

    // Every mail went through SMTP, and none carries a raw identifier in its subject line.
    assert!(env.sink.count() >= 12, "{} mails", env.sink.count());
}

#[tokio::test]
async fn requests_about_a_customers_data_are_forwarded() {
    let env = Env::new().await;
    let r = env
        .verified(
            "erasure",
            "ivy@example.com",
            json!({ "customer": "studio_one" }),
        )
        .await;
    assert_eq!(r["status"], "forwarded");
    let to_customer = env
        .mail_to_with("privacy@studio-one.example", "ivy@example.com")
        .await;
    assert!(
        to_customer.contains("ivy@example.com") && to_customer.contains(r["id"].as_str().unwrap())
    );
    env.mail_to_with("ivy@example.com", "Studio One Records")
        .await;
    assert_problem(
        &env.act(r["id"].as_str().unwrap(), "approve", json!({}))
            .await,
        409,
        "invalid_transition",
    );
}

#[tokio::test]
async fn download_links_are_signed_and_expire() {
    let env = Env::new().await;
    let app = &env.app;
    let r = env.verified("access", "jo@example.com", json!({})).await;
    let link = link_in(
        &env.mail_to_with("jo@example.com", "/archive?t=").await,
        "/archive?t=",
    );
    let path = link
        .strip_prefix("http://custodian.test")
        .unwrap()
        .to_owned();
    let mut forged = path.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_problem(&app.get(&forged, None).await, 400, "invalid_link");
    let other_id = path.replace(
        r["id"].as_str().unwrap(),
        "req_00000000000000000000000000000000",
    );
    assert_problem(&app.get(&other_id, None).await, 400, "invalid_link");
    app.clock.advance(15 * 86_400 * 1_000_000);
    assert_problem(&app.get(&path, None).await, 410, "link_expired");
}

#[tokio::test]
async fn requests_run_on_postgres_too() {
    let Some(url) = custodian_store::testing::fresh_postgres_url().await else {
        return;
    };
    let env = Env::on(&url).await;
    let r = env.verified("access", "pg@example.com", json!({})).await;
    assert_eq!(r["status"], "completed");
    let q = env
        .app
        .get("/v1/admin/requests?status=completed", Some(&env.app.dpo))
        .await;
    assert_eq!(q.body["requests"].as_array().unwrap().len(), 1);
}
