//! One-click unsubscribe: the link withdraws consent, and bad links change nothing.

use crate::common::{assert_problem, TestApp};
use crate::helpers::{choice, decide};
use serde_json::json;

// One scenario followed end to end: a link minted for a consent, its page, forged and altered
// links, the one-click POST that withdraws (twice), then a new opt-in and the expired link.
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
