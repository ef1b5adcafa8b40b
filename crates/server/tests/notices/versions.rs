//! A policy version: refused with too little notice, scheduled, mailed, shown, and governing at
//! its date; notices of other kinds and people's opt-out.

use crate::common::assert_problem;
use crate::{example_with, Env};
use serde_json::json;

/// The analytics purpose gains a recipient: material (and its consent is asked again).
fn material_version() -> String {
    example_with(&[
        ("version = \"2018-05-25\"", "version = \"2026-03-01\""),
        (
            "recipients = [\"google_analytics\", \"crimson_hexagon\"]",
            "recipients = [\"google_analytics\", \"crimson_hexagon\", \"hosting_us\"]",
        ),
    ])
}

async fn decide_analytics_to_hosting(env: &Env, email: &str) -> serde_json::Value {
    env.app
        .post(
            "/v1/decide",
            Some(&env.app.service),
            &json!({ "subject": { "email": email }, "purpose": "analytics", "recipient": "hosting_us", "country": "US" }),
        )
        .await
        .body
}

// One scenario followed end to end, each step building on the last: a version refused, then
// scheduled, mailed, shown, and in force at its date.
async fn material_change_scenario(env: Env) {
    let app = &env.app;
    let ada = env.customer("ada@example.com").await;
    let _bob = env.customer("bob@example.com").await;
    env.prefer(&ada, true, "de").await;
    let given = app
        .post(
            "/v1/consent",
            Some(&app.service),
            &json!({ "subject": { "email": "ada@example.com" }, "choices": { "analytics": true }, "policy_version": "2018-05-25", "source": "api", "language": "de" }),
        )
        .await;
    assert_eq!(given.status, 201, "{}", given.text);
    let before = decide_analytics_to_hosting(&env, "ada@example.com").await;
    assert_eq!(before["allowed"], false, "{before}");

    let text = material_version();
    // Only an admin token publishes; a policy is TOML.
    let a = env.publish(&text, "2026-03-01T00:00:00Z", &app.dpo).await;
    assert_problem(&a, 403, "forbidden");
    let a = app
        .post_raw(
            "/v1/admin/policy-versions?effective=2026-03-01T00:00:00Z",
            Some(&app.admin),
            text.clone(),
            &[],
        )
        .await;
    assert_eq!(a.status, 415, "{}", a.text);
    // Two weeks is too little notice for a material change (30 days in the example).
    let a = env.publish(&text, "2026-01-15T00:00:00Z", &app.admin).await;
    assert_problem(&a, 422, "notice_too_short");
    assert!(
        a.body["detail"]
            .as_str()
            .unwrap()
            .contains("purposes.analytics.recipients"),
        "{}",
        a.text
    );
    assert_eq!(
        a.body["earliest_effective"], "2026-01-31T00:00:00Z",
        "{}",
        a.text
    );
    let broken = text.replace("[deadlines]", "[deadline]");
    let a = env
        .publish(&broken, "2026-03-01T00:00:00Z", &app.admin)
        .await;
    assert_problem(&a, 422, "invalid_policy");
    assert!(
        a.body["problems"][0]["line"].as_u64().is_some(),
        "{}",
        a.text
    );
    assert_eq!(app.get("/v1/policy/upcoming", None).await.status, 404);

    let a = env.publish(&text, "2026-03-01T00:00:00Z", &app.admin).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.body["material"], true);
    assert_eq!(a.body["follows"], "2018-05-25");
    let again = env.publish(&text, "2026-03-02T00:00:00Z", &app.admin).await;
    assert_problem(&again, 409, "version_unchanged");
    let up = app.get("/v1/policy/upcoming?lang=de", None).await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert_eq!(up.body["version"], "2026-03-01");
    assert_eq!(up.body["effective_at"], "2026-03-01T00:00:00Z");
    assert_eq!(
        up.body["notice"]["title"],
        "Änderungen unserer Datenschutzerklärung"
    );
    assert!(up.body["changes"][0]
        .as_str()
        .unwrap()
        .contains("hosting_us"));

    // Everyone with an e-mail on record is told, in their language.
    assert_eq!(env.fan_out_and_deliver().await, 2);
    assert_eq!(env.fan_out_and_deliver().await, 0, "queued once");
    let de = env.mails_to("ada@example.com");
    assert_eq!(de.len(), 1);
    assert!(
        de[0].contains("Änderungen unserer Datenschutzerklärung"),
        "{}",
        de[0]
    );
    assert!(
        de[0].contains("Dies gilt ab dem 2026-03-01") && de[0].contains("hosting_us"),
        "{}",
        de[0]
    );
    assert!(
        de[0].contains("http://custodian.test/privacy-center")
            && de[0].contains("dpo@focusrite.com")
    );
    let en = env.mails_to("bob@example.com");
    assert!(
        en[0].contains("This takes effect on 2026-03-01") && en[0].contains("What changes:"),
        "{}",
        en[0]
    );

    // The sites show it until the date.
    let banner = app.get("/v1/banner?lang=en", None).await;
    assert_eq!(
        banner.body["notices"][0]["title"], "Changes to our privacy policy",
        "{}",
        banner.text
    );
    let notice = app.get("/privacy?lang=en", None).await;
    assert!(
        notice.text.contains("notice-announcement"),
        "{}",
        &notice.text[..400]
    );
    let centre = app.get("/privacy-center?lang=en", None).await;
    assert!(centre.text.contains("Changes to our privacy policy"));

    // At the date it governs, without a restart.
    app.clock.set(
        "2026-03-01T00:00:01Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_microsecond(),
    );
    let taken = custodian_app::announce::govern::govern_due(&app.state)
        .await
        .unwrap();
    assert_eq!(taken.as_deref(), Some("2026-03-01"));
    let policy = app.get("/v1/policy", None).await;
    assert_eq!(policy.body["version"], "2026-03-01");
    assert_eq!(app.get("/v1/policy/upcoming", None).await.status, 404);
    let after = decide_analytics_to_hosting(&env, "ada@example.com").await;
    assert_eq!(after["allowed"], true, "{after}");
    let view = app
        .get("/v1/consent?email=ada@example.com", Some(&app.service))
        .await;
    assert_eq!(view.body["policy_version"], "2026-03-01");
    assert_eq!(view.body["must_reask"], true, "{}", view.text);
    let banner = app.get("/v1/banner?lang=en", None).await;
    assert_eq!(banner.body["version"], "2026-03-01");
    assert!(
        banner.body["notices"].as_array().unwrap().is_empty(),
        "{}",
        banner.text
    );
}

#[tokio::test]
async fn a_material_change_is_noticed_then_governs_at_its_date_on_sqlite() {
    material_change_scenario(Env::on(&custodian_store::testing::fresh_sqlite_url()).await).await;
}

#[tokio::test]
async fn a_material_change_is_noticed_then_governs_at_its_date_on_postgres() {
    if let Some(url) = custodian_store::testing::fresh_postgres_url().await {
        material_change_scenario(Env::on(&url).await).await;
    }
}

#[tokio::test]
async fn optional_notices_honour_the_opt_out_and_mandatory_ones_do_not() {
    let env = Env::on(&custodian_store::testing::fresh_sqlite_url()).await;
    let app = &env.app;
    env.customer("ada@example.com").await;
    let bob = env.customer("bob@example.com").await;
    env.prefer(&bob, false, "en").await;
    let notice = json!({
        "kind": "change_of_control",
        "title": { "en": "We are joining Example Audio", "de": "Wir gehen zu Example Audio" },
        "body": { "en": "Example Audio is buying our consumer business.", "de": "Example Audio kauft unser Endkundengeschäft." },
        "email": true, "site": true, "effective": "2026-02-01T00:00:00Z",
    });
    let a = app
        .post("/v1/admin/notices", Some(&app.service), &notice)
        .await;
    assert_problem(&a, 403, "forbidden");
    let mut bad = notice.clone();
    bad["kind"] = json!("breach");
    assert_problem(
        &app.post("/v1/admin/notices", Some(&app.dpo), &bad).await,
        422,
        "invalid_kind",
    );
    let mut bad = notice.clone();
    bad["title"] = json!({ "de": "Nur Deutsch" });
    assert_problem(
        &app.post("/v1/admin/notices", Some(&app.dpo), &bad).await,
        422,
        "missing_text",
    );
    let a = app.post("/v1/admin/notices", Some(&app.dpo), &notice).await;
    assert_eq!(a.status, 201, "{}", a.text);
    // Recording it started the leased fan-out in the background: it queues Ada's mail alone,
    // since Bob turned optional notices off.
    let id = a.body["id"].as_str().unwrap().to_owned();
    let mut waited = 0;
    let row = loop {
        let row = app.store.notice(&id).await.unwrap().unwrap();
        if row.fanned_out_at.is_some() || waited > 1000 {
            break row;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        waited += 1;
    };
    assert_eq!(row.queued, 1, "bob turned optional notices off");
    assert_eq!(
        env.fan_out_and_deliver().await,
        1,
        "Ada's mail, queued by the background fan-out, and nothing more"
    );
    assert!(env.mails_to("ada@example.com")[0].contains("We are joining Example Audio"));
    assert!(env.mails_to("bob@example.com").is_empty());
    let shown = app.get("/v1/notices?lang=de", None).await;
    assert_eq!(
        shown.body["notices"][0]["title"], "Wir gehen zu Example Audio",
        "{}",
        shown.text
    );

    // A material change is mandatory: Bob is told too.
    let text = crate::example_with(&[
        ("version = \"2018-05-25\"", "version = \"2026-03-01\""),
        ("keep_for = \"P90D\"", "keep_for = \"P1Y\""),
    ]);
    let a = env.publish(&text, "2026-03-01T00:00:00Z", &app.admin).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(env.fan_out_and_deliver().await, 2);
    let bob_mail = env.mails_to("bob@example.com");
    assert!(
        bob_mail[0].contains("must tell you about this change"),
        "{}",
        bob_mail[0]
    );
}

#[tokio::test]
async fn a_change_that_is_not_material_may_take_effect_at_once() {
    let env = Env::on(&custodian_store::testing::fresh_sqlite_url()).await;
    let app = &env.app;
    let text = crate::example_with(&[
        ("version = \"2018-05-25\"", "version = \"2026-01-01\""),
        (
            "name = \"Website analytics\"",
            "name = \"Analytics on our sites\"",
        ),
    ]);
    let a = env.publish(&text, "2025-12-01T00:00:00Z", &app.admin).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.body["material"], false);
    assert_eq!(
        a.body["effective_at"], "2026-01-01T00:00:00Z",
        "clamped to now"
    );
    custodian_app::announce::govern::govern_due(&app.state)
        .await
        .unwrap();
    assert_eq!(
        app.get("/v1/policy", None).await.body["version"],
        "2026-01-01"
    );
    let v = app.get("/v1/admin/policy-versions", Some(&app.dpo)).await;
    assert_eq!(v.body[0]["in_force"], true, "{}", v.text);
}
