//! The audit trail through the API: every DPO action, export and hold is one entry naming the
//! DPO's token and the object's id; refused actions, `decide` and consent writes add none;
//! only admins read it; filters select.

use crate::common::{assert_problem, TestApp};
use crate::env::Env;
use custodian_core::token::Role;
use serde_json::{json, Value};

async fn token_id(app: &TestApp, role: Role) -> String {
    let all = app.store.list_tokens().await.unwrap();
    all.into_iter().find(|t| t.role == role).unwrap().id
}

pub(crate) async fn trail(app: &TestApp, query: &str) -> Vec<Value> {
    let a = app
        .get(&format!("/v1/admin/audit{query}"), Some(&app.admin))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.body["entries"].as_array().unwrap().clone()
}

fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn every_admin_act_is_one_entry(env: Env) {
    let app = &env.app;
    let dpo = token_id(app, Role::Dpo).await;
    let uk = env
        // Not a restriction: one in force ends only by announcing its lift (GDPR Art. 18(3)),
        // a step of its own (tests/requests/lift.rs).
        .verified(
            "rectification",
            "uk@example.com",
            json!({ "country": "GB" }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let fr = env
        .verified("erasure", "fr@example.com", json!({ "country": "FR" }))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        trail(app, "").await.is_empty(),
        "intake and verification are not admin acts"
    );

    let steps: [(&str, &str, Value); 7] = [
        (&uk, "pause", json!({ "pause_reason": "awaiting_identity" })),
        (&uk, "resume", json!({})),
        (&uk, "assign", json!({ "to": "priya" })),
        (&uk, "note", json!({ "text": "called back" })),
        (
            &uk,
            "extend",
            json!({ "reason": "Three archives.", "months": 1 }),
        ),
        (&uk, "approve", json!({})),
        (
            &fr,
            "deny",
            json!({ "reason": "We must keep it for tax law." }),
        ),
    ];
    for (id, action, body) in steps {
        let a = env.act(id, action, body).await;
        assert_eq!(a.status, 200, "{action}: {}", a.text);
    }
    // Refused: changes nothing, records nothing.
    assert_problem(
        &env.act(&fr, "approve", json!({})).await,
        409,
        "invalid_transition",
    );
    assert_problem(&env.act(&uk, "deny", json!({})).await, 422, "missing_field");
    if env.admin(&uk).await["status"] != "completed" {
        let a = env.act(&uk, "complete", json!({})).await;
        assert_eq!(a.status, 200, "{}", a.text);
    }
    app.clock.advance(3_600_000_000);
    let export = app
        .get(&format!("/v1/admin/requests/{uk}/export"), Some(&app.dpo))
        .await;
    assert_eq!(export.status, 200);
    let hold = app
        .post(
            "/v1/admin/holds",
            Some(&app.dpo),
            &json!({ "subject": { "email": "fr@example.com" }, "matter": "Smith v. Group", "reason": "litigation" }),
        )
        .await;
    assert_eq!(hold.status, 201, "{}", hold.text);
    let hold_id = hold.body["id"].as_str().unwrap().to_owned();
    let lifted = app
        .call(
            axum::http::Request::delete(format!("/v1/admin/holds/{hold_id}?reason=settled"))
                .header("authorization", format!("Bearer {}", app.dpo))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(lifted.status, 204);

    let all = trail(app, "").await;
    let mut want = vec![
        "request.paused",
        "request.resumed",
        "request.assigned",
        "request.noted",
        "request.extended",
        "request.approved",
        "request.denied",
    ];
    if actions(&all).contains(&"request.completed".to_owned()) {
        want.push("request.completed");
    }
    want.extend(["request.exported", "hold.placed", "hold.lifted"]);
    assert_eq!(actions(&all), want);
    let objects: Vec<&str> = all.iter().map(|e| e["object"].as_str().unwrap()).collect();
    assert!(
        objects[..6].iter().all(|o| *o == uk) && objects[6] == fr,
        "{objects:?}"
    );
    assert_eq!(objects[objects.len() - 1], hold_id);
    assert_eq!(
        all[all.len() - 2]["detail"],
        "subject",
        "a hold's scope, not whom it holds"
    );
    assert!(
        all.iter().all(|e| e["actor"] == dpo.as_str()),
        "every act names the DPO's token"
    );
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e["seq"], i as i64 + 1);
        if i > 0 {
            assert_eq!(e["prev_hash"], all[i - 1]["hash"]);
        }
    }
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains('@') && !text.contains("Smith") && !text.contains("tax law"),
        "nothing personal: {text}"
    );

    // Decisions and consent writes are not administrative acts: they add nothing.
    for i in 0..20 {
        let d = app
            .post(
                "/v1/decide",
                Some(&app.service),
                &json!({ "subject": { "email": format!("p{i}@example.com") }, "purpose": "analytics", "country": "DE" }),
            )
            .await;
        assert_eq!(d.status, 200, "{}", d.text);
        let c = app
            .post(
                "/v1/consent",
                Some(&app.service),
                &json!({ "subject": { "email": format!("p{i}@example.com") }, "choices": { "analytics": i % 2 == 0 },
                    "policy_version": "2018-05-25", "source": "api" }),
            )
            .await;
        assert!(c.status.is_success(), "{}", c.text);
    }
    assert_eq!(
        trail(app, "").await.len(),
        all.len(),
        "decide and consent append nothing"
    );

    // Only admins read it; filters select.
    assert_problem(
        &app.get("/v1/admin/audit", Some(&app.dpo)).await,
        403,
        "forbidden",
    );
    assert_problem(&app.get("/v1/admin/audit", None).await, 401, "unauthorized");
    assert_eq!(
        actions(&trail(app, "?action=hold.placed").await),
        ["hold.placed"]
    );
    assert_eq!(trail(app, &format!("?actor={dpo}")).await.len(), all.len());
    assert!(trail(app, "?actor=tok_nobody").await.is_empty());
    let exported = all
        .iter()
        .find(|e| e["action"] == "request.exported")
        .unwrap();
    let since = exported["at"].as_str().unwrap();
    assert_eq!(
        actions(&trail(app, &format!("?since={since}")).await),
        ["request.exported", "hold.placed", "hold.lifted"]
    );
    assert!(trail(app, "?since=2999-01-01T00:00:00Z").await.is_empty());
    assert_eq!(trail(app, "?after=2&limit=3").await[0]["seq"], 3);
    assert_problem(
        &app.get("/v1/admin/audit?action=token.deleted", Some(&app.admin))
            .await,
        422,
        "unknown_action",
    );
    assert_problem(
        &app.get("/v1/admin/audit?since=yesterday", Some(&app.admin))
            .await,
        422,
        "invalid_since",
    );
    let report = custodian_app::audit::verify(&app.store).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.entries_checked, all.len() as u64);
}

#[tokio::test]
async fn every_admin_act_is_one_entry_on_sqlite() {
    every_admin_act_is_one_entry(Env::new().await).await;
}

#[tokio::test]
async fn every_admin_act_is_one_entry_on_postgres() {
    let Some(url) = custodian_store::testing::fresh_postgres_url().await else {
        return;
    };
    every_admin_act_is_one_entry(Env::on(&url).await).await;
}
