//! Breaches through the API (GDPR Art. 33/34): the 72 hours to the microsecond, overdue in the
//! list, `/metrics` and the digest, the late reason, one plain-language mail per person in
//! their language through the real SMTP sink (named by address, by user id, or by a read-only
//! query over a company datastore), counts and never who, the Art. 33(3) report in JSON and
//! Markdown, and every step in the audit trail.

use crate::audit::trail;
use crate::common::{assert_problem, company_datastore, START};
use crate::env::Env;
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000_000;

fn breach(aware: &str) -> Value {
    json!({
        "title": "Customer database copied",
        "became_aware_at": aware,
        "description": "A backup of the customer database was left on a public file share.",
        "categories": ["website_user", "payment"],
        "subjects_estimate": 1200,
        "records_estimate": 5400,
        "risk": "high_risk",
    })
}

async fn step(env: &Env, id: &str, step: &str, body: Value) -> crate::common::Answer {
    env.app
        .post(
            &format!("/v1/admin/incidents/{id}/{step}"),
            Some(&env.app.dpo),
            &body,
        )
        .await
}

// One scenario followed end to end, in the order a DPO lives it: refusals, the report and its
// clock, assessment, notices, the deadline passing, the late notification, the report, closing.
async fn a_breach_from_report_to_close(env: Env, tag: &str) {
    let app = &env.app;
    let post =
        |body: Value| async move { app.post("/v1/admin/incidents", Some(&app.dpo), &body).await };
    assert_problem(
        &app.post("/v1/admin/incidents", None, &breach("2026-01-01T00:00:00Z"))
            .await,
        401,
        "unauthorized",
    );
    assert_problem(
        &app.post(
            "/v1/admin/incidents",
            Some(&app.service),
            &breach("2026-01-01T00:00:00Z"),
        )
        .await,
        403,
        "forbidden",
    );
    let mut bad = breach("2025-12-31T23:00:00Z");
    bad["categories"] = json!(["shoe_size"]);
    assert_problem(&post(bad).await, 422, "unknown_category");
    let mut bad = breach("2025-12-31T23:00:00Z");
    bad["risk"] = json!("catastrophic");
    assert_problem(&post(bad).await, 422, "unknown_risk");
    assert_problem(
        &post(breach("2026-01-02T00:00:00Z")).await,
        422,
        "invalid_incident",
    );
    assert_problem(&post(breach("last tuesday")).await, 422, "invalid_time");

    // Aware at 23:00:00.000001 on New Year's Eve: due 72 hours later to the microsecond.
    let created = post(breach("2025-12-31T23:00:00.000001Z")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let inc = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["authority_due"], "2026-01-03T23:00:00.000001Z");
    assert_eq!(
        (
            created.body["status"].as_str(),
            created.body["overdue"].as_bool()
        ),
        (Some("open"), Some(false))
    );

    assert_problem(
        &step(
            &env,
            &inc,
            "notify-subjects",
            json!({ "emails": ["ada@example.com"] }),
        )
        .await,
        409,
        "not_assessed",
    );
    assert_problem(
        &step(&env, &inc, "assess", json!({ "consequences": "Phishing." })).await,
        422,
        "invalid_incident",
    );
    let assessed = step(
        &env,
        &inc,
        "assess",
        json!({ "consequences": "You may receive convincing phishing mail that quotes your orders.",
                "measures": "We removed the file and reset every password. Do not reuse it elsewhere.",
                "subject_kinds": ["customer"] }),
    )
    .await;
    assert_eq!(assessed.status, 200, "{}", assessed.text);
    assert_eq!(assessed.body["status"], "assessed");

    // Greta asked for her data in German before: she is written to in German.
    let greta = env
        .verified(
            "access",
            "greta@example.com",
            json!({ "language": "de", "country": "DE" }),
        )
        .await;
    assert!(greta["id"].is_string());
    let env_var = format!("CUSTODIAN_ACC_INCIDENT_{tag}");
    company_datastore(app, &format!("acc-incident-{tag}"), &env_var).await;
    let told = step(
        &env,
        &inc,
        "notify-subjects",
        json!({ "emails": ["ada@example.com", "greta@example.com", " ADA@Example.com "], "user_ids": ["u-404"],
                "texts": { "de": { "nature": "Eine Sicherung der Kundendatenbank lag auf einer öffentlichen Dateifreigabe." } } }),
    )
    .await;
    assert_eq!(told.status, 200, "{}", told.text);
    assert_eq!(
        (
            told.body["queued"].as_u64(),
            told.body["already_notified"].as_u64(),
            told.body["unreachable"].as_u64()
        ),
        (Some(2), Some(0), Some(1))
    );
    let ada = env
        .mail_to_with("ada@example.com", "security incident")
        .await;
    for part in [
        "A backup of the customer database was left on a public file share.",
        "What this may mean for you: You may receive convincing phishing mail",
        "What we have done and what we advise: We removed the file",
        "dpo@focusrite.com",
    ] {
        assert!(
            ada.contains(part),
            "Art. 34(2) item missing ({part}): {ada}"
        );
    }
    let de = env
        .mail_to_with("greta@example.com", "Sicherheitsvorfall")
        .await;
    assert!(
        de.contains("Was geschehen ist: Eine Sicherung der Kundendatenbank"),
        "{de}"
    );
    assert!(
        de.contains("Was das für Sie bedeuten kann: You may receive"),
        "untranslated parts are the incident's own: {de}"
    );

    // Again, plus three customers a read-only query over the company's datastore finds.
    let again = step(
        &env,
        &inc,
        "notify-subjects",
        json!({ "emails": ["ada@example.com"], "datastore": "company",
                "query": "SELECT email FROM customers ORDER BY id LIMIT 3;" }),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        (
            again.body["queued"].as_u64(),
            again.body["already_notified"].as_u64()
        ),
        (Some(3), Some(1))
    );
    assert_eq!(again.body["incident"]["subjects_notified"], 5);
    assert_eq!(again.body["incident"]["subjects_unreachable"], 1);
    env.drain().await;
    assert_eq!(
        env.sink
            .received()
            .iter()
            .filter(|m| m
                .subject()
                .unwrap_or_default()
                .contains("security incident"))
            .count(),
        4
    );
    for q in [
        "DELETE FROM customers",
        "SELECT email FROM customers; DELETE FROM customers",
        "SELECT id FROM customers",
    ] {
        let a = step(
            &env,
            &inc,
            "notify-subjects",
            json!({ "datastore": "company", "query": q }),
        )
        .await;
        assert_problem(&a, 422, "invalid_query");
    }
    assert_problem(
        &step(
            &env,
            &inc,
            "notify-subjects",
            json!({ "datastore": "company" }),
        )
        .await,
        422,
        "invalid_people",
    );
    let shown = app
        .get(&format!("/v1/admin/incidents/{inc}"), Some(&app.dpo))
        .await;
    assert!(
        !shown.text.contains('@'),
        "counts, never who: {}",
        shown.text
    );

    // The deadline passes at 10:00 London time on 4 January: overdue in the list, the
    // metrics and the digest.
    app.clock.set(START + 3 * 24 * HOUR + 10 * HOUR);
    let listed = app
        .get("/v1/admin/incidents?open=true", Some(&app.dpo))
        .await;
    assert_eq!(listed.body["overdue"], 1, "{}", listed.text);
    assert_eq!(listed.body["incidents"][0]["overdue"], true);
    let round = custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert_eq!(round.overdue_incidents, 1);
    assert!(app
        .get("/metrics", None)
        .await
        .text
        .contains("custodian_incidents_overdue 1"));
    assert!(round.digest_sent);
    let digest = env
        .mail_to_with("dpo@focusrite.com", "breach notification")
        .await;
    assert!(digest.contains(&inc), "{digest}");

    // Told late: only with the reasons for the delay (Art. 33(1)).
    let late = step(
        &env,
        &inc,
        "authority-notified",
        json!({ "authority": "ICO" }),
    )
    .await;
    assert_problem(&late, 422, "late_reason_required");
    let notified = step(
        &env,
        &inc,
        "authority-notified",
        json!({ "authority": "ICO", "reference": "IC-1234-5678", "late_reason": "The share's owner was unreachable over New Year." }),
    )
    .await;
    assert_eq!(notified.status, 200, "{}", notified.text);
    assert_eq!(
        (
            notified.body["status"].as_str(),
            notified.body["overdue"].as_bool()
        ),
        (Some("authority_notified"), Some(false))
    );
    assert_problem(
        &step(
            &env,
            &inc,
            "authority-notified",
            json!({ "late_reason": "x" }),
        )
        .await,
        409,
        "already_notified",
    );
    custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert!(app
        .get("/metrics", None)
        .await
        .text
        .contains("custodian_incidents_overdue 0"));

    // The authority's report: the Art. 33(3) items, as JSON and as Markdown.
    let r = app
        .get(&format!("/v1/admin/incidents/{inc}/report"), Some(&app.dpo))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["nature"]["subjects_estimate"], 1200);
    assert_eq!(r.body["nature"]["records_estimate"], 5400);
    assert_eq!(r.body["nature"]["data_categories"][0]["id"], "website_user");
    assert_eq!(r.body["nature"]["subject_categories"][0]["id"], "customer");
    assert_eq!(r.body["contact"]["dpo_email"], "dpo@focusrite.com");
    assert!(r.body["likely_consequences"]
        .as_str()
        .unwrap()
        .contains("phishing"));
    assert!(r.body["measures"]
        .as_str()
        .unwrap()
        .contains("reset every password"));
    assert_eq!(r.body["timeline"]["late"], true);
    assert_eq!(r.body["communication_to_subjects"]["notified"], 5);
    let md = app
        .call(
            axum::http::Request::get(format!("/v1/admin/incidents/{inc}/report"))
                .header("authorization", format!("Bearer {}", app.dpo))
                .header("accept", "text/markdown")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        md.content_type.starts_with("text/markdown"),
        "{}",
        md.content_type
    );
    for part in [
        "(a) Nature of the breach",
        "(b) Contact point",
        "(c) Likely consequences",
        "(d) Measures taken",
        "dpo@focusrite.com",
        "Reasons for the delay",
        "IC-1234-5678",
    ] {
        assert!(md.text.contains(part), "{part}: {}", md.text);
    }
    let md2 = app
        .get(
            &format!("/v1/admin/incidents/{inc}/report?format=markdown"),
            Some(&app.dpo),
        )
        .await;
    assert_eq!(md2.text, md.text);

    let closed = step(&env, &inc, "close", json!({})).await;
    assert_eq!(closed.body["status"], "closed", "{}", closed.text);
    assert_problem(
        &step(&env, &inc, "assess", json!({ "risk": "risk" })).await,
        409,
        "incident_closed",
    );
    assert!(app
        .get("/v1/admin/incidents?open=true", Some(&app.dpo))
        .await
        .body["incidents"]
        .as_array()
        .unwrap()
        .is_empty());

    // A notifiable incident closes only once the authority was told; an unlikely one at once.
    let other = post(breach("2026-01-04T09:00:00Z")).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_problem(
        &step(&env, &other, "close", json!({ "note": "nothing" })).await,
        409,
        "authority_not_notified",
    );
    let low = step(&env, &other, "assess", json!({ "risk": "unlikely", "consequences": "None: the file was encrypted.", "measures": "None needed." })).await;
    assert_eq!(low.body["risk"], "unlikely", "{}", low.text);
    assert_eq!(
        step(
            &env,
            &other,
            "close",
            json!({ "note": "encrypted at rest" })
        )
        .await
        .body["status"],
        "closed"
    );

    let entries = trail(app, "").await;
    let incident_acts: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("incident."))
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["detail"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        incident_acts,
        [
            ("incident.reported", "high_risk"),
            ("incident.assessed", "high_risk"),
            (
                "incident.subjects_notified",
                "queued=2 already=0 unreachable=1"
            ),
            (
                "incident.subjects_notified",
                "queued=3 already=1 unreachable=0"
            ),
            ("incident.authority_notified", "late"),
            ("incident.closed", "-"),
            ("incident.reported", "high_risk"),
            ("incident.assessed", "unlikely"),
            ("incident.closed", "-"),
        ]
    );
}

#[tokio::test]
async fn a_breach_from_report_to_close_on_sqlite() {
    a_breach_from_report_to_close(Env::new().await, "SQLITE").await;
}

#[tokio::test]
async fn a_breach_from_report_to_close_on_postgres() {
    let Some(url) = custodian_store::testing::fresh_postgres_url().await else {
        return;
    };
    a_breach_from_report_to_close(Env::on(&url).await, "PG").await;
}
