//! The DPO's queue: filters, actions, the audit trail, and bad filters answered with problems.

use crate::common::assert_problem;
use crate::env::{link_in, Env};
use serde_json::json;

// One scenario followed end to end: requests through the DPO's queue (filters, extend, assign,
// note, deny), the trail and status page they leave, then overdue, digest, metrics.
#[tokio::test]
async fn the_dpo_queue_filters_acts_and_keeps_an_audit_trail() {
    let env = Env::new().await;
    let app = &env.app;
    let r = env
        .verified("erasure", "gina@example.com", json!({ "country": "FR" }))
        .await;
    let id = r["id"].as_str().unwrap().to_owned();
    let other = env
        .verified("rectification", "hal@example.com", json!({}))
        .await;

    assert_problem(
        &app.get("/v1/admin/requests", None).await,
        401,
        "unauthorized",
    );
    assert_problem(
        &app.get("/v1/admin/requests", Some(&app.service)).await,
        403,
        "forbidden",
    );
    let q = app
        .get(
            "/v1/admin/requests?type=erasure&status=verified",
            Some(&app.dpo),
        )
        .await;
    let ids: Vec<&str> = q.body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    assert_eq!(q.body["requests"][0]["urgency"], "on_time");
    assert_problem(
        &app.get("/v1/admin/requests?status=lost", Some(&app.dpo))
            .await,
        422,
        "unknown_status",
    );

    // Deny and extend need a reason, told to the requester.
    assert_problem(&env.act(&id, "deny", json!({})).await, 422, "missing_field");
    assert_problem(
        &env.act(&id, "extend", json!({ "reason": "complex", "months": 3 }))
            .await,
        422,
        "invalid_extension",
    );
    let before = r["answer_due"].as_str().unwrap().to_owned();
    let e = env
        .act(
            &id,
            "extend",
            json!({ "reason": "We must check three archives.", "months": 2 }),
        )
        .await;
    assert_eq!(e.status, 200, "{}", e.text);
    assert!(e.body["answer_due"].as_str().unwrap() > before.as_str());
    env.mail_to_with("gina@example.com", "We must check three archives.")
        .await;
    assert_problem(
        &env.act(&id, "extend", json!({ "reason": "more", "months": 1 }))
            .await,
        422,
        "invalid_extension",
    );
    env.act(&id, "assign", json!({ "to": "priya" })).await;
    env.act(&id, "note", json!({ "text": "called the requester" }))
        .await;
    let denied = env
        .act(
            &id,
            "deny",
            json!({ "reason": "We hold records we must keep for tax law." }),
        )
        .await;
    assert_eq!(denied.body["status"], "denied");
    env.mail_to_with("gina@example.com", "tax law").await;
    assert_problem(
        &env.act(&id, "approve", json!({})).await,
        409,
        "invalid_transition",
    );
    assert_problem(&env.act(&id, "teleport", json!({})).await, 404, "not_found");
    let trail: Vec<(String, String)> = denied.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap().to_owned(),
                h["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let actions: Vec<&str> = trail.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["receive", "verify", "extend", "assign", "note", "deny"]
    );
    assert!(
        trail[2].1.starts_with("tok_"),
        "actions name the DPO's token"
    );
    assert_eq!(denied.body["assignee"], "priya");

    // The requester sees the reasons on their status page, not the internal note.
    let status_link = link_in(
        &env.mail_to_with("gina@example.com", "/requests/req_").await,
        "/requests/req_",
    );
    let page = app
        .get(
            status_link.strip_prefix("http://custodian.test").unwrap(),
            None,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("tax law") && !page.text.contains("called the requester"));
    assert!(
        !page.text.contains("<script"),
        "the status page runs no script"
    );

    // Overdue: a month and a bit later the open rectification is overdue and in the digest.
    // 40 days later, at 09:00 London time (after the digest hour).
    app.clock.advance((40 * 86_400 + 9 * 3_600) * 1_000_000);
    let q = app
        .get("/v1/admin/requests?overdue=true", Some(&app.dpo))
        .await;
    let overdue: Vec<&str> = q.body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(overdue, [other["id"].as_str().unwrap()]);
    assert_eq!(q.body["requests"][0]["urgency"], "overdue");
    let round = custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert_eq!(round.overdue, 1);
    assert!(round.digest_sent, "the daily digest goes out after 08:00");
    let again = custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert!(!again.digest_sent, "one digest a day");
    env.mail_to_with("dpo@focusrite.com", other["id"].as_str().unwrap())
        .await;
    let m = app.get("/metrics", None).await;
    assert!(
        m.text.contains("custodian_requests_overdue 1"),
        "{}",
        m.text
    );
    // The digest is a leased job, next due tomorrow at the digest hour; its gauges are
    // refreshed by the next housekeeping round.
    custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    let digest = app.state.store.job("digest").await.unwrap().unwrap();
    assert_eq!((digest.attempts, digest.lease_owner), (0, None));
    let m = app.get("/metrics", None).await;
    for line in [
        format!(
            "custodian_job_next_run_seconds{{job=\"digest\"}} {}",
            digest.run_at / 1_000_000
        ),
        "custodian_job_attempts{job=\"digest\"} 0".into(),
        "custodian_job_running{job=\"digest\"} 0".into(),
        "custodian_job_failed{job=\"digest\"} 0".into(),
    ] {
        assert!(m.text.contains(&line), "{line} in {}", m.text);
    }
}

#[tokio::test]
async fn the_queue_takes_empty_filters_and_answers_bad_ones_with_problems() {
    let env = Env::new().await;
    let app = &env.app;
    env.verified("access", "jo@example.com", json!({})).await;
    env.verified("erasure", "kim@example.com", json!({})).await;
    let all = app
        .get("/v1/admin/requests?status=&type=&overdue=", Some(&app.dpo))
        .await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(all.body["requests"].as_array().unwrap().len(), 2);
    let erasures = app
        .get(
            "/v1/admin/requests?status=&type=erasure&overdue=false",
            Some(&app.dpo),
        )
        .await;
    assert_eq!(erasures.body["requests"].as_array().unwrap().len(), 1);
    assert_problem(
        &app.get("/v1/admin/requests?overdue=maybe", Some(&app.dpo))
            .await,
        422,
        "invalid_overdue",
    );
    assert_problem(
        &app.get("/v1/admin/requests?limit=ten", Some(&app.dpo))
            .await,
        400,
        "invalid_query",
    );
    assert_problem(
        &app.get("/v1/admin/requests?colour=blue", Some(&app.dpo))
            .await,
        400,
        "invalid_query",
    );
}
