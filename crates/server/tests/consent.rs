//! The consent ledger over HTTP: writes with receipts, reads, GPC, linking, one-click
//! unsubscribe, re-consent after a policy change, and bad input that writes nothing.

mod common;

use common::{assert_problem, TestApp};
use serde_json::{json, Value};

const DEVICE: &str = "dev_0123456789abcdef";

fn choice(subject: Value, choices: Value) -> Value {
    json!({ "subject": subject, "choices": choices, "policy_version": "2018-05-25", "source": "banner", "language": "de" })
}

async fn decide(app: &TestApp, subject: Value, purpose: &str, gpc: bool) -> Value {
    let body = json!({ "subject": subject, "purpose": purpose, "country": "DE" });
    let extra: &[(&str, &str)] = if gpc { &[("sec-gpc", "1")] } else { &[] };
    app.post_raw("/v1/decide", Some(&app.service), body.to_string(), extra)
        .await
        .body
}

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

#[tokio::test]
async fn linking_carries_choices_over_and_later_choices_apply_to_both() {
    let app = TestApp::sqlite().await;
    let dev = json!({ "device_id": DEVICE });
    let user = json!({ "user_id": "u-42" });
    app.post(
        "/v1/consent",
        Some(&app.service),
        &choice(
            user.clone(),
            json!({ "marketing": true, "analytics": true }),
        ),
    )
    .await;
    app.clock.advance(1_000_000);
    app.post(
        "/v1/consent",
        None,
        &choice(
            dev.clone(),
            json!({ "analytics": false, "advertising": true }),
        ),
    )
    .await;
    let link = json!({ "device_id": DEVICE, "account": { "user_id": "u-42" } });
    assert_problem(
        &app.post("/v1/consent/link", None, &link).await,
        401,
        "unauthorized",
    );
    let a = app
        .post("/v1/consent/link", Some(&app.service), &link)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    // Newer device choices win on the account; the account's marketing reaches the device.
    assert_eq!(
        decide(&app, user.clone(), "analytics", false).await["allowed"],
        false
    );
    assert_eq!(
        decide(&app, user.clone(), "advertising", false).await["allowed"],
        true
    );
    assert_eq!(
        decide(&app, dev.clone(), "marketing", false).await["allowed"],
        true
    );
    assert!(a.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["source"] == "link"));
    // After linking, a banner choice on the device applies to the account too.
    app.post(
        "/v1/consent",
        None,
        &choice(dev.clone(), json!({ "marketing": false })),
    )
    .await;
    assert_eq!(
        decide(&app, user.clone(), "marketing", false).await["allowed"],
        false
    );
    // Linking again writes nothing new.
    let again = app
        .post("/v1/consent/link", Some(&app.service), &link)
        .await;
    assert_eq!(again.body["events"], json!([]));

    // A second device of the same account: a choice on it reaches the first device too.
    let phone = json!({ "device_id": "dev_fedcba9876543210" });
    let link2 = json!({ "device_id": "dev_fedcba9876543210", "account": { "user_id": "u-42" } });
    let linked = app
        .post("/v1/consent/link", Some(&app.service), &link2)
        .await;
    assert_eq!(linked.status, 200, "{}", linked.text);
    let on_phone = app
        .post(
            "/v1/consent",
            None,
            &choice(phone.clone(), json!({ "analytics": true })),
        )
        .await;
    assert_eq!(on_phone.status, 201, "{}", on_phone.text);
    for who in [&phone, &user, &dev] {
        assert_eq!(
            decide(&app, who.clone(), "analytics", false).await["allowed"],
            true,
            "{who}"
        );
    }
    app.verify_ledger().await;
}

#[tokio::test]
async fn one_click_unsubscribe_withdraws_and_bad_links_change_nothing() {
    let app = TestApp::sqlite().await;
    let ada = json!({ "email": "ada@example.com" });
    app.post(
        "/v1/consent",
        Some(&app.service),
        &choice(ada.clone(), json!({ "marketing": true })),
    )
    .await;
    let req = json!({ "subject": ada.clone(), "purpose": "marketing", "ttl_days": 30 });
    assert_problem(
        &app.post("/v1/unsubscribe-links", None, &req).await,
        401,
        "unauthorized",
    );
    let bad = json!({ "subject": ada.clone(), "purpose": "service_email" });
    assert_problem(
        &app.post("/v1/unsubscribe-links", Some(&app.service), &bad)
            .await,
        422,
        "not_consent_purpose",
    );
    let link = app
        .post("/v1/unsubscribe-links", Some(&app.service), &req)
        .await;
    assert_eq!(link.status, 201, "{}", link.text);
    assert_eq!(
        link.body["headers"]["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
    let url = link.body["url"].as_str().unwrap();
    assert!(!url.contains("ada"), "the link names no e-mail");
    let path = url
        .strip_prefix("http://custodian.test")
        .unwrap()
        .to_owned();

    // GET only shows a page: scanners that follow links unsubscribe nobody.
    let page = app.get(&path, None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("<form method=\"post\""));
    assert_eq!(
        decide(&app, ada.clone(), "marketing", false).await["allowed"],
        true
    );

    // Forged and altered tokens: 4xx, nothing changes.
    let token = path.strip_prefix("/u/").unwrap();
    let mut altered = token.to_owned();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    for t in [altered.as_str(), "v1.Zm9v.YmFy", "garbage"] {
        let a = app
            .post_raw(
                &format!("/u/{t}"),
                None,
                "List-Unsubscribe=One-Click",
                &[("content-type", "application/x-www-form-urlencoded")],
            )
            .await;
        assert_problem(&a, 400, "invalid_link");
    }
    // A POST without the one-click body is refused.
    let a = app
        .post_raw(
            &path,
            None,
            "",
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_problem(&a, 400, "not_one_click");
    assert_eq!(
        decide(&app, ada.clone(), "marketing", false).await["allowed"],
        true,
        "still subscribed"
    );

    let a = app
        .post_raw(
            &path,
            None,
            "List-Unsubscribe=One-Click",
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let d = decide(&app, ada.clone(), "marketing", false).await;
    assert_eq!(d["allowed"], false);
    assert_eq!(d["reason"], "consent withdrawn");
    let last = app.events().await.pop().unwrap();
    assert_eq!(last.source.as_str(), "unsubscribe");
    // Twice is harmless.
    let before = app.events().await.len();
    app.post_raw(
        &path,
        None,
        "List-Unsubscribe=One-Click",
        &[("content-type", "application/x-www-form-urlencoded")],
    )
    .await;
    assert_eq!(app.events().await.len(), before);

    // Ada opts in again; after 30 days the link has expired and changes nothing.
    let again = app
        .post(
            "/v1/consent",
            Some(&app.service),
            &choice(ada.clone(), json!({ "marketing": true })),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    app.clock.advance(31 * 86_400 * 1_000_000);
    let before = app.events().await.len();
    let a = app
        .post_raw(
            &path,
            None,
            "List-Unsubscribe=One-Click",
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_problem(&a, 410, "link_expired");
    assert_eq!(app.events().await.len(), before, "nothing recorded");
    assert_eq!(
        decide(&app, ada.clone(), "marketing", false).await["allowed"],
        true,
        "still subscribed"
    );
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

/// Two nodes on one database: what one writes, and what an import appends behind both, reaches
/// the other's decisions after one catch-up round; an old imported opt-in never undoes a newer
/// withdrawal, in the store or in memory.
async fn writes_elsewhere_reach_decisions(url: String) {
    use custodian_core::subject::{IdKind, SubjectId};
    use custodian_server::consent_sync::sync_once;
    use custodian_store::consent::NewEvent;

    let a = TestApp::on(&url).await;
    let b = TestApp::on(&url).await;
    let dev = json!({ "device_id": DEVICE });
    let written = a
        .post(
            "/v1/consent",
            None,
            &choice(dev.clone(), json!({ "analytics": true })),
        )
        .await;
    assert_eq!(written.status, 201, "{}", written.text);
    assert_eq!(
        decide(&a, dev.clone(), "analytics", false).await["allowed"],
        true
    );
    assert_eq!(
        decide(&b, dev.clone(), "analytics", false).await["allowed"],
        false,
        "node b has not caught up yet"
    );
    assert!(sync_once(&b.state).await.unwrap() >= 1);
    assert_eq!(
        decide(&b, dev.clone(), "analytics", false).await["allowed"],
        true
    );

    // Node b withdraws now; an import then appends an opt-in dated a year earlier.
    let withdrawn = b
        .post(
            "/v1/consent",
            None,
            &choice(dev.clone(), json!({ "analytics": false })),
        )
        .await;
    assert_eq!(withdrawn.status, 201, "{}", withdrawn.text);
    let subject = b
        .state
        .hasher
        .reference(&SubjectId::parse(IdKind::DeviceId, DEVICE).unwrap());
    b.store
        .append_consent(&[NewEvent {
            id: "evt_imported_old_optin".into(),
            subject,
            purpose: "analytics".into(),
            given: true,
            source: custodian_core::consent::Source::Import,
            policy_version: "2018-05-25".into(),
            notice_hash: None,
            ip_truncated: None,
            receipt_id: "rcpt_import".into(),
            created_at: common::START - 365 * 86_400_000_000,
            link: custodian_store::consent::Unlinked,
        }])
        .await
        .unwrap();
    sync_once(&a.state).await.unwrap();
    sync_once(&b.state).await.unwrap();
    for node in [&a, &b] {
        assert_eq!(
            decide(node, dev.clone(), "analytics", false).await["allowed"],
            false,
            "the newer withdrawal stands"
        );
    }
    let held = a
        .get(&format!("/v1/consent?device_id={DEVICE}"), None)
        .await;
    assert_eq!(held.status, 200, "{}", held.text);
    let analytics = held.body["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["purpose"] == "analytics")
        .unwrap();
    assert_eq!(analytics["given"], false, "{}", held.text);
    assert_eq!(analytics["source"], "banner", "{}", held.text);
    // A round with nothing new applies nothing.
    assert_eq!(sync_once(&a.state).await.unwrap(), 0);

    // Both nodes append at once (24 devices over 16 chains: chains shared); every chain stays
    // whole, and each node learns the other's writes.
    let bodies: Vec<Value> = (0..24)
        .map(|i| {
            choice(
                json!({ "device_id": format!("dev_{i:016x}") }),
                json!({ "analytics": true }),
            )
        })
        .collect();
    let writes = bodies.iter().enumerate().map(|(i, body)| {
        let node = if i % 2 == 0 { &a } else { &b };
        node.post("/v1/consent", None, body)
    });
    for w in futures_util::future::join_all(writes).await {
        assert_eq!(w.status, 201, "{}", w.text);
    }
    a.verify_ledger().await;
    sync_once(&a.state).await.unwrap();
    let from_b = json!({ "device_id": format!("dev_{:016x}", 1) });
    assert_eq!(
        decide(&a, from_b, "analytics", false).await["allowed"],
        true
    );
}

#[tokio::test]
async fn writes_elsewhere_reach_decisions_on_sqlite() {
    writes_elsewhere_reach_decisions(custodian_store::testing::fresh_sqlite_url()).await;
}

#[tokio::test]
async fn writes_elsewhere_reach_decisions_on_postgres() {
    let Some(url) = custodian_store::testing::fresh_postgres_url().await else {
        return;
    };
    writes_elsewhere_reach_decisions(url).await;
}
