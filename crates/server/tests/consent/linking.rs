//! Linking identifiers: choices carried over, and later choices that apply to both.

use crate::common::{assert_problem, TestApp};
use crate::helpers::{choice, decide, DEVICE};
use serde_json::json;

// One scenario followed end to end: choices on a device and an account, the link, later choices, a
// repeated link and a second device, each checked against the state the previous step left.
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
