//! The lifting of a restriction, told to the requester first (GDPR Art. 18(3): "shall be
//! informed by the controller before the restriction of processing is lifted"): not by a
//! completion or a denial out of the blue, but announced with a reason and a date, the notice
//! mailed in the requester's language, and lifted by housekeeping once both the date and the
//! delivery have come — on SQLite and PostgreSQL.

use crate::common::{assert_problem, START};
use crate::env::{decide, Env};
use serde_json::json;

const DAY: i64 = 86_400_000_000;

async fn a_restriction_ends_only_after_the_requester_was_told(env: Env) {
    let app = &env.app;
    let ada = json!({ "email": "ada@example.com" });
    let r = env
        .verified(
            "restriction",
            "ada@example.com",
            json!({ "language": "de" }),
        )
        .await;
    let id = r["id"].as_str().unwrap().to_owned();
    assert_eq!(env.act(&id, "approve", json!({})).await.status, 200);
    assert_eq!(
        decide(app, ada.clone(), "service_email").await["reason"],
        "restricted"
    );

    // Not ended without a word to the requester.
    assert_problem(
        &env.act(&id, "complete", json!({})).await,
        409,
        "lift_not_announced",
    );
    assert_problem(
        &env.act(&id, "deny", json!({ "reason": "no" })).await,
        409,
        "restriction_in_force",
    );
    // Bad input: no reason, a time in the past or no time at all, another kind of request.
    assert_problem(&env.act(&id, "lift", json!({})).await, 422, "missing_field");
    let past = custodian_core::clock::rfc3339(START - DAY);
    assert_problem(
        &env.act(&id, "lift", json!({ "reason": "r", "at": past }))
            .await,
        422,
        "invalid_time",
    );
    assert_problem(
        &env.act(&id, "lift", json!({ "reason": "r", "at": "next week" }))
            .await,
        422,
        "invalid_time",
    );
    let other = env
        .verified("rectification", "bob@example.com", json!({}))
        .await;
    assert_problem(
        &env.act(
            other["id"].as_str().unwrap(),
            "lift",
            json!({ "reason": "r" }),
        )
        .await,
        422,
        "not_a_restriction",
    );

    // Announced for a week from now: the restriction stays in force meanwhile.
    let at = custodian_core::clock::rfc3339(START + 7 * DAY);
    let a = env
        .act(
            &id,
            "lift",
            json!({ "reason": "Ihre Adresse wurde geprüft und ist richtig", "at": at }),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["status"], "in_progress");
    assert!(a.text.contains("Art. 18(3)"), "{}", a.text);
    assert_problem(
        &env.act(&id, "lift", json!({ "reason": "again" })).await,
        409,
        "lift_announced",
    );
    assert_problem(
        &env.act(&id, "complete", json!({})).await,
        409,
        "lift_notice_pending",
    );
    assert_eq!(
        decide(app, ada.clone(), "service_email").await["reason"],
        "restricted"
    );
    // The notice, in German, with the date and the reason; the status page says so too.
    let mail = env.mail_to_with("ada@example.com", "Art. 18 Abs. 3").await;
    let link = crate::env::link_in(&mail, "/requests/req_");
    let page = app
        .get(link.strip_prefix("http://custodian.test").unwrap(), None)
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("Ihre Adresse wurde geprüft"),
        "{}",
        page.text
    );
    assert!(mail.contains("frühestens am 2026-01-08"), "{mail}");
    assert!(
        mail.contains("Grund: Ihre Adresse wurde geprüft und ist richtig"),
        "{mail}"
    );
    assert_problem(
        &env.act(&id, "complete", json!({})).await,
        409,
        "lift_not_due",
    );
    let round = custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert_eq!(round.restrictions_lifted, 0);
    assert_eq!(
        decide(app, ada.clone(), "service_email").await["reason"],
        "restricted"
    );

    // A week on, housekeeping lifts it: completed, told, and decisions allowed again.
    app.clock.set(START + 7 * DAY + 1);
    let round = custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert_eq!(round.restrictions_lifted, 1);
    assert_eq!(env.admin(&id).await["status"], "completed");
    assert_eq!(
        decide(app, ada.clone(), "service_email").await["allowed"],
        true
    );
    env.mail_to_with("ada@example.com", &id).await;
    let round = custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert_eq!(round.restrictions_lifted, 0, "once");
}

#[tokio::test]
async fn a_restriction_ends_only_after_the_requester_was_told_sqlite() {
    a_restriction_ends_only_after_the_requester_was_told(Env::new().await).await;
}

#[tokio::test]
async fn a_restriction_ends_only_after_the_requester_was_told_postgres() {
    if let Some(url) = custodian_store::testing::fresh_postgres_url().await {
        a_restriction_ends_only_after_the_requester_was_told(Env::on(&url).await).await;
    }
}
