//! Consent changed through the form: the CSRF check, the choice seen by the ledger and by
//! decisions, and the banner cookie given when a browser chooses.

use crate::browser::{decide, Browser, Mail, DEVICE};
use crate::common::TestApp;
use serde_json::{json, Value};

// One piece: each way a form's token can be wrong (missing, another browser's, forged, cross-site,
// expired), one after another, then the other forms guarded the same way.
#[tokio::test]
async fn a_form_without_a_valid_token_changes_nothing() {
    let app = TestApp::sqlite().await;
    let mail = Mail::start().await;
    let mut b = Browser::with_device(&app);
    let choice = ("choice.analytics", "yes");

    // No token at all.
    let p = b
        .post("/privacy-center/consents", &[("for", "device"), choice])
        .await;
    assert_eq!(p.status, 403);
    assert!(p.text.contains("could not accept this form") && p.text.contains(r#"role="alert""#));
    assert_eq!(
        p.header("content-security-policy"),
        custodian_server::routes::privacy_center::page::CSP
    );

    // A token minted for another browser's cookie.
    let mut other = Browser::new(&app);
    let foreign = other.get("/privacy-center/consents").await.csrf();
    b.get("/privacy-center/consents").await;
    let p = b
        .post(
            "/privacy-center/consents",
            &[("csrf", &foreign), ("for", "device"), choice],
        )
        .await;
    assert_eq!(p.status, 403);

    // A forged token, and a real one sent from another site.
    let p = b
        .post(
            "/privacy-center/consents",
            &[("csrf", "99999999999.AAAA"), ("for", "device"), choice],
        )
        .await;
    assert_eq!(p.status, 403);
    let token = b.get("/privacy-center/consents").await.csrf();
    let mut cross = Browser {
        app: &app,
        jar: b.jar.clone(),
        headers: vec![("sec-fetch-site".into(), "cross-site".into())],
    };
    let p = cross
        .post(
            "/privacy-center/consents",
            &[("csrf", &token), ("for", "device"), choice],
        )
        .await;
    assert_eq!(p.status, 403);

    // An expired token (a day old).
    app.clock.advance(86_400 * 1_000_000 + 1);
    let p = b
        .post(
            "/privacy-center/consents",
            &[("csrf", &token), ("for", "device"), choice],
        )
        .await;
    assert_eq!(p.status, 403);

    // Every other form is guarded too.
    for action in [
        "/privacy-center/sign-in",
        "/privacy-center/sign-in/code",
        "/privacy-center/sign-out",
        "/privacy-center/requests",
        "/privacy-center/verify",
    ] {
        let p = b
            .post(
                action,
                &[
                    ("email", "ada@example.com"),
                    ("type", "access"),
                    ("code", "123456"),
                    ("request", "req_00"),
                ],
            )
            .await;
        assert_eq!(p.status, 403, "{action}");
    }
    assert!(app.events().await.is_empty(), "nothing was recorded");
    assert_eq!(mail.delivered(&app).await, 0, "nothing was mailed");
}

// A token is not enough: a post must come from our own origin by `Origin`, or without one by
// `Referer` (the console's check). `Origin: null` is what a page under `no-referrer` makes a
// browser send, so it is refused and our pages send `same-origin` instead.
#[tokio::test]
async fn a_form_posted_from_another_origin_changes_nothing() {
    let app = TestApp::sqlite().await;
    let mut b = Browser::with_device(&app);
    let token = b.get("/privacy-center/consents").await.csrf();
    let choice = [
        ("csrf", token.as_str()),
        ("for", "device"),
        ("choice.analytics", "yes"),
    ];
    let from = |headers: &[(&str, &str)]| Browser {
        app: &app,
        jar: b.jar.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    };
    for headers in [
        &[("origin", "https://evil.example")][..],
        &[("origin", "null")],
        &[("origin", "http://custodian.test.evil.example")],
        &[("referer", "https://evil.example/page")],
        &[
            ("origin", "https://evil.example"),
            ("referer", "http://custodian.test/privacy-center"),
        ],
    ] {
        let p = from(headers)
            .post("/privacy-center/consents", &choice)
            .await;
        assert_eq!(p.status, 403, "{headers:?}");
    }
    assert!(app.events().await.is_empty(), "nothing was recorded");
    for headers in [
        &[("origin", "http://custodian.test")][..],
        &[(
            "referer",
            "http://custodian.test/privacy-center/consents?lang=en",
        )],
        &[
            ("origin", "http://localhost:8080"),
            ("host", "localhost:8080"),
        ],
    ] {
        let p = from(headers)
            .post("/privacy-center/consents", &choice)
            .await;
        assert_eq!(p.status, 303, "{headers:?}: {}", p.text);
    }
}

// One scenario followed end to end: choices saved in the form and seen by the ledger, the API,
// decisions, cookie and page; saved again, overridden by GPC, refused when unknown.
#[tokio::test]
async fn a_choice_made_in_the_form_is_in_the_ledger_and_decisions_see_it() {
    let app = TestApp::sqlite().await;
    let mut b = Browser::with_device(&app);
    assert_eq!(
        decide(&app, json!({ "device_id": DEVICE }), "analytics").await["allowed"],
        false
    );

    let page = b.get("/privacy-center/consents").await;
    assert!(page.text.contains("stored for this browser"));
    let p = b
        .submit(
            "/privacy-center/consents",
            "/privacy-center/consents",
            &[
                ("lang", "en"),
                ("for", "device"),
                ("choice.analytics", "yes"),
                ("choice.marketing", "no"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.text);
    assert_eq!(
        p.header("location"),
        "/privacy-center/consents?lang=en&saved=1#device"
    );

    // The ledger holds both choices, from the privacy centre, with the notice's hash.
    let events = app.events().await;
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| e.source.as_str() == "privacy_center" && e.notice_hash.is_some()));
    assert_eq!(app.verify_ledger().await, 2);
    let state = app
        .get(&format!("/v1/consent?device_id={DEVICE}"), None)
        .await;
    let analytics = state.body["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["purpose"] == "analytics")
        .unwrap()
        .clone();
    assert_eq!(analytics["given"], true);
    assert_eq!(analytics["source"], "privacy_center");
    assert_eq!(
        decide(&app, json!({ "device_id": DEVICE }), "analytics").await["allowed"],
        true
    );

    // The banner's cookie now agrees, and keeps its id.
    let cookie = p
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("cst_consent="))
        .unwrap();
    assert!(
        cookie.contains("Path=/")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("cst_consent=");
    let decoded: String = {
        let bytes = value.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    let json: Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(json["id"], DEVICE);
    assert_eq!(json["c"]["analytics"], true);
    assert_eq!(json["c"]["marketing"], false);

    // The page shows the state, when and how it was set.
    let after = b.get("/privacy-center/consents?lang=en&saved=1").await;
    assert!(
        after.text.contains("Your choices were saved.") && after.text.contains(r#"role="status""#)
    );
    assert!(
        after.text.contains("agreed on 2026-01-01")
            && after.text.contains("via the privacy centre"),
        "{}",
        after.text
    );
    assert!(after
        .text
        .contains(r#"id="device-analytics-yes" name="choice.analytics" value="yes" checked"#));

    // Saving the same again records nothing.
    let again = b
        .submit(
            "/privacy-center/consents",
            "/privacy-center/consents",
            &[("for", "device"), ("choice.analytics", "yes")],
        )
        .await;
    assert_eq!(
        again.header("location"),
        "/privacy-center/consents?lang=en&saved=none#device"
    );
    assert_eq!(app.events().await.len(), 2);

    // Global Privacy Control wins over the form for advertising, as in `POST /v1/consent`.
    let mut gpc = Browser {
        app: &app,
        jar: b.jar.clone(),
        headers: vec![("sec-gpc".into(), "1".into())],
    };
    let note = gpc.get("/privacy-center/consents").await;
    assert!(note.text.contains("Global Privacy Control"));
    let p = gpc
        .submit(
            "/privacy-center/consents",
            "/privacy-center/consents",
            &[("for", "device"), ("choice.advertising", "yes")],
        )
        .await;
    assert_eq!(p.status, 303);
    let ads: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.purpose == "advertising")
        .collect();
    assert_eq!(ads.len(), 1);
    assert!(!ads[0].given);
    assert_eq!(ads[0].source.as_str(), "gpc");

    // An unknown purpose or value is refused without recording anything.
    let before = app.events().await.len();
    for bad in [
        ("choice.spam", "yes"),
        ("choice.account", "yes"),
        ("choice.analytics", "maybe"),
    ] {
        let p = b
            .submit(
                "/privacy-center/consents",
                "/privacy-center/consents",
                &[("for", "device"), bad],
            )
            .await;
        assert_eq!(p.status, 422, "{bad:?}");
    }
    assert_eq!(app.events().await.len(), before);
}

#[tokio::test]
async fn a_browser_without_the_banner_cookie_gets_one_when_it_chooses() {
    let app = TestApp::sqlite().await;
    let mut b = Browser::new(&app);
    let page = b.get("/privacy-center/consents").await;
    assert!(page
        .text
        .contains("No choices are stored for this browser yet"));
    let p = b
        .submit(
            "/privacy-center/consents",
            "/privacy-center/consents",
            &[("for", "device"), ("choice.analytics", "no")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert!(b.jar.contains_key("cst_consent"));
    let events = app.events().await;
    assert_eq!(events.len(), 1);
    let again = b.get("/privacy-center/consents").await;
    assert!(again
        .text
        .contains("stored for this browser by our cookie banner"));
    assert!(again.text.contains("refused on"));
}
