//! Two nodes on one database: what one node puts in force — a restriction and its lift, an
//! objection, a closed account, a declared child — the other refuses after one round of its
//! background catch-up (`standing_sync`, once a second in `serve`), without a restart and
//! without any work on its decide path; on SQLite and PostgreSQL.

use crate::common::{self, START};
use crate::env::{decide, Env};
use custodian_app::standing_sync::sync_once;
use serde_json::{json, Value};

const DAY: i64 = 86_400_000_000;

async fn event(app: &common::TestApp, email: &str, event: &str, extra: Value) {
    let mut body = json!({ "subject": { "email": email }, "event": event,
        "at": custodian_core::clock::rfc3339(START - DAY) });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let a = app
        .post("/v1/subjects/events", Some(&app.service), &body)
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
}

async fn other_nodes_see_standings_after_one_round(env: Env) {
    let a = &env.app;
    let b = common::TestApp::on(&a.url).await;
    let ada = || json!({ "email": "ada@example.com" });
    assert_eq!(sync_once(&b.state).await.unwrap(), 0, "nothing new yet");

    // A restriction approved on A.
    let r = env
        .verified("restriction", "ada@example.com", json!({}))
        .await;
    let id = r["id"].as_str().unwrap().to_owned();
    assert_eq!(env.act(&id, "approve", json!({})).await.status, 200);
    assert_eq!(
        decide(a, ada(), "service_email").await["reason"],
        "restricted"
    );
    assert_eq!(
        decide(&b, ada(), "service_email").await["allowed"],
        true,
        "B has not read it yet"
    );
    assert_eq!(sync_once(&b.state).await.unwrap(), 1);
    assert_eq!(
        decide(&b, ada(), "service_email").await["reason"],
        "restricted"
    );
    assert_eq!(sync_once(&b.state).await.unwrap(), 0, "read once");
    // ... and its lift.
    let done = env.lift_restriction(&id).await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    sync_once(&b.state).await.unwrap();
    assert_eq!(decide(&b, ada(), "service_email").await["allowed"], true);

    // An objection (approved once verified, in the example).
    let o = env
        .verified(
            "objection",
            "bob@example.com",
            json!({ "purposes": ["product_improvement"] }),
        )
        .await;
    assert_eq!(o["status"], "completed");
    let bob = json!({ "email": "bob@example.com" });
    assert_eq!(
        decide(&b, bob.clone(), "product_improvement").await["allowed"],
        true
    );
    sync_once(&b.state).await.unwrap();
    assert_eq!(
        decide(&b, bob.clone(), "product_improvement").await["reason"],
        "objection"
    );

    // A closed account, and a child declared, by lifecycle events on A.
    event(a, "carl@example.com", "account_opened", json!({})).await;
    let mut closed = json!({ "subject": { "email": "carl@example.com" }, "event": "account_closed",
        "at": custodian_core::clock::rfc3339(START - DAY / 2) });
    let c = a
        .post("/v1/subjects/events", Some(&a.service), &closed)
        .await;
    assert_eq!(c.status, 201, "{}", c.text);
    event(
        a,
        "dora@example.com",
        "age_declared",
        json!({ "under_minimum_age": true }),
    )
    .await;
    let carl = json!({ "email": "carl@example.com" });
    let dora = json!({ "email": "dora@example.com" });
    assert_eq!(
        decide(&b, carl.clone(), "service_email").await["allowed"],
        true
    );
    assert_eq!(decide(&b, dora.clone(), "support").await["allowed"], true);
    sync_once(&b.state).await.unwrap();
    assert_eq!(
        decide(&b, carl.clone(), "service_email").await["reason"],
        "account_closed"
    );
    assert_eq!(
        decide(&b, dora, "support").await["rule"],
        "children.minimum_age"
    );
    // Opened again on A: B follows.
    closed["event"] = json!("account_opened");
    closed["at"] = json!(custodian_core::clock::rfc3339(START));
    let c = a
        .post("/v1/subjects/events", Some(&a.service), &closed)
        .await;
    assert_eq!(c.status, 201, "{}", c.text);
    sync_once(&b.state).await.unwrap();
    assert_eq!(decide(&b, carl, "service_email").await["allowed"], true);
    // Housekeeping drops what every node has read, a day on.
    a.clock.set(START + 2 * DAY);
    custodian_app::background::housekeeping_once(&a.state)
        .await
        .unwrap();
    assert_eq!(a.store.standing_changes(0, 100).await.unwrap().len(), 0);
}

#[tokio::test]
async fn other_nodes_see_standings_after_one_round_sqlite() {
    other_nodes_see_standings_after_one_round(Env::new().await).await;
}

#[tokio::test]
async fn other_nodes_see_standings_after_one_round_postgres() {
    if let Some(url) = custodian_store::testing::fresh_postgres_url().await {
        other_nodes_see_standings_after_one_round(Env::on(&url).await).await;
    }
}

/// A node approves an erasure request and stops before carrying it out (the approving call
/// does that): it stays `approved` until housekeeping — on any node, a minute on — finds no
/// lease on its runs and carries it out, once.
async fn an_approval_a_stopped_node_left_is_carried_out(env: Env) {
    use custodian_core::request::Action;
    let a = &env.app;
    let r = env.verified("erasure", "ada@example.com", json!({})).await;
    let id = r["id"].as_str().unwrap();
    let seen = a.store.request(id).await.unwrap().unwrap();
    // The approval committed; the node died before `execute::run`.
    custodian_app::requests::transition(&a.state, &seen, Action::Approve, "dpo", None, |_| {})
        .await
        .unwrap();
    let b = common::TestApp::on(&a.url).await;
    let round = custodian_app::background::housekeeping_once(&b.state)
        .await
        .unwrap();
    assert_eq!(
        round.approvals_resumed, 0,
        "the approving node may still be on it"
    );
    b.clock.advance(61_000_000);
    let round = custodian_app::background::housekeeping_once(&b.state)
        .await
        .unwrap();
    assert_eq!(round.approvals_resumed, 1);
    let done = a.store.request(id).await.unwrap().unwrap();
    assert_eq!(done.status.as_str(), "completed");
    let again = custodian_app::background::housekeeping_once(&b.state)
        .await
        .unwrap();
    assert_eq!(again.approvals_resumed, 0, "carried out once");
}

#[tokio::test]
async fn an_approval_a_stopped_node_left_is_carried_out_sqlite() {
    an_approval_a_stopped_node_left_is_carried_out(Env::new().await).await;
}

#[tokio::test]
async fn an_approval_a_stopped_node_left_is_carried_out_postgres() {
    if let Some(url) = custodian_store::testing::fresh_postgres_url().await {
        an_approval_a_stopped_node_left_is_carried_out(Env::on(&url).await).await;
    }
}
