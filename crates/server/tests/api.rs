//! The HTTP API in process: decisions, auth, errors, operations, OpenAPI.

mod common;

use common::{assert_problem, TestApp};
use serde_json::json;

fn decide_body(purpose: &str, country: &str) -> serde_json::Value {
    json!({ "subject": { "email": "ada@example.com" }, "purpose": purpose, "categories": [], "country": country })
}

#[tokio::test]
async fn decisions_follow_the_seed_policy() {
    let app = TestApp::sqlite().await;
    let t = Some(app.service.as_str());

    let a = app
        .post("/v1/decide", t, &decide_body("marketing", "GB"))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["allowed"], false);
    assert_eq!(a.body["reason"], "no consent on record");
    assert_eq!(a.body["legal_basis"], "consent");

    let a = app
        .post("/v1/decide", t, &decide_body("service_email", "US"))
        .await;
    assert_eq!(a.body["allowed"], true);
    assert_eq!(a.body["legal_basis"], "contract");
    assert_eq!(a.body["legal_basis_dpv"], "dpv:Contract");

    let a = app.post("/v1/decide", t, &decide_body("sale", "US")).await;
    assert_eq!(a.body["allowed"], false);
    assert_eq!(a.body["legal_basis"], serde_json::Value::Null);

    let a = app
        .post("/v1/decide", t, &json!({ "subject": { "device_id": "0123456789abcdef0123" }, "purpose": "advertising",
            "categories": ["website_background"], "country": "DE", "recipient": "advertising_partners" }))
        .await;
    assert_eq!(a.body["allowed"], false);
    assert_eq!(
        a.body["rule"],
        "regions.europe.rules.no_third_party_personal_data"
    );

    let a = app
        .post(
            "/v1/decide",
            t,
            &json!({ "subject": { "user_id": "42" }, "purpose": "account",
            "categories": ["website_user", "website_background"], "country": "DE" }),
        )
        .await;
    assert_eq!(a.body["allowed"], true);
    let ids: Vec<&str> = a.body["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["truncate_ip", "keep_in_region"]);
    assert_eq!(a.body["policy_version"], "2018-05-25");
}

#[tokio::test]
async fn decide_needs_a_service_token() {
    let app = TestApp::sqlite().await;
    let body = decide_body("marketing", "GB");
    assert_problem(
        &app.post("/v1/decide", None, &body).await,
        401,
        "unauthorized",
    );
    assert_problem(
        &app.post("/v1/decide", Some("cst_forged"), &body).await,
        401,
        "unauthorized",
    );
    assert_problem(
        &app.post("/v1/decide", Some(&app.dpo), &body).await,
        403,
        "forbidden",
    );
    assert_eq!(
        app.post("/v1/decide", Some(&app.admin), &body).await.status,
        200
    );
    // A revoked token stops working (the cache is bypassed by a fresh router).
    let list = app.store.list_tokens().await.unwrap();
    let svc = list
        .iter()
        .find(|t| t.role == custodian_core::token::Role::Service)
        .unwrap();
    app.store.revoke_token(&svc.id).await.unwrap();
    let fresh = custodian_server::router(
        custodian_server::build(common::settings(
            app.store.clone(),
            custodian_policy::example(),
        ))
        .await
        .unwrap(),
    );
    let res = tower::ServiceExt::oneshot(
        fresh,
        axum::http::Request::post("/v1/decide")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", app.service))
            .body(axum::body::Body::from(body.to_string()))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 401);
}

// One piece: a catalogue of bad input (mostly to `/v1/decide`), one case after another against one
// app, each checked for its exact problem.
#[tokio::test]
async fn bad_input_gets_clear_problems() {
    let app = TestApp::sqlite().await;
    let t = Some(app.service.as_str());

    let a = app.post_raw("/v1/decide", t, "{\"subject\": ", &[]).await;
    assert_problem(&a, 400, "malformed_json");
    assert!(
        a.body["detail"].as_str().unwrap().contains("line 1"),
        "{}",
        a.text
    );

    let a = app
        .post(
            "/v1/decide",
            t,
            &json!({ "subject": { "email": "a@b.org" }, "country": "GB" }),
        )
        .await;
    assert_problem(&a, 422, "invalid_body");
    assert!(
        a.body["detail"].as_str().unwrap().contains("purpose"),
        "{}",
        a.text
    );

    let a = app.post("/v1/decide", t, &decide_body("spam", "GB")).await;
    assert_problem(&a, 422, "unknown_purpose");
    let known = a.body["known"].as_array().unwrap();
    assert!(known.contains(&json!("marketing")) && known.contains(&json!("analytics")));
    assert!(a.body["detail"].as_str().unwrap().contains("advertising"));

    assert_problem(
        &app.post("/v1/decide", t, &decide_body("marketing", "XX"))
            .await,
        422,
        "unknown_country",
    );

    let mut b = decide_body("analytics", "GB");
    b["categories"] = json!(["shoe_size"]);
    assert_problem(
        &app.post("/v1/decide", t, &b).await,
        422,
        "unknown_category",
    );

    let a = app
        .post(
            "/v1/decide",
            t,
            &json!({ "subject": {}, "purpose": "marketing", "country": "GB" }),
        )
        .await;
    assert_problem(&a, 422, "invalid_subject");
    let a = app.post("/v1/decide", t, &json!({ "subject": { "email": "not-an-email" }, "purpose": "marketing", "country": "GB" })).await;
    assert_problem(&a, 422, "invalid_subject");
    assert!(
        !a.text.contains("not-an-email"),
        "identifiers are never echoed"
    );

    // Escaped strings are unescaped (strings are borrowed from the body only when they can be).
    let a = app
        .post_raw(
            "/v1/decide",
            t,
            r#"{"subject":{"email":"ada\u0040example.com"},"purpose":"market\u0069ng","country":"GB"}"#,
            &[],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["rule"], "purposes.marketing");

    let huge = format!("{{\"purpose\": \"{}\"}}", "x".repeat(200_000));
    assert_problem(
        &app.post_raw("/v1/decide", t, huge, &[]).await,
        413,
        "payload_too_large",
    );

    let a = app
        .post_raw("/v1/decide", t, "{}", &[("content-type", "text/plain")])
        .await;
    assert!(a.status.is_client_error());

    assert_problem(&app.get("/nope", None).await, 404, "not_found");
    assert_problem(&app.get("/v1/decide", t).await, 405, "method_not_allowed");
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let app = TestApp::sqlite().await;
    assert_eq!(app.get("/healthz", None).await.body["status"], "ok");
    let r = app.get("/readyz", None).await;
    assert_eq!(r.body["status"], "ready");
    assert_eq!(r.body["store"], "sqlite");
    app.post(
        "/v1/decide",
        Some(&app.service),
        &decide_body("marketing", "GB"),
    )
    .await;
    let m = app.get("/metrics", None).await;
    assert!(
        m.text.contains("custodian_http_requests_total"),
        "{}",
        m.text
    );
    assert!(m.text.contains("route=\"/v1/decide\""));
    assert!(m.text.contains("custodian_http_request_duration_seconds"));
}

#[tokio::test]
async fn readiness_fails_when_the_store_is_gone() {
    let app = TestApp::sqlite().await;
    app.store.close().await;
    assert_problem(&app.get("/readyz", None).await, 503, "unavailable");
}

#[tokio::test]
async fn the_policy_is_served_as_json_and_as_a_notice() {
    let app = TestApp::sqlite().await;
    let p = app.get("/v1/policy", None).await;
    assert_eq!(p.status, 200);
    assert_eq!(p.body["version"], "2018-05-25");
    let consent: Vec<&str> = p.body["consent_purposes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in ["marketing", "analytics", "advertising"] {
        assert!(consent.contains(&id), "{id}");
    }
    assert!(p.body["consent_purposes"][0]["notice"]["en"]["hash"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    let n = app.get("/privacy", None).await;
    assert_eq!(n.status, 200);
    assert!(n.content_type.starts_with("text/html"));
    assert!(n.text.contains("Focusrite"));
}

#[tokio::test]
async fn the_api_runs_on_postgres_too() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let r = app.get("/readyz", None).await;
    assert_eq!(r.body["store"], "postgres");
    let a = app
        .post(
            "/v1/decide",
            Some(&app.service),
            &decide_body("service_email", "US"),
        )
        .await;
    assert_eq!(a.body["allowed"], true);
}

#[tokio::test]
async fn a_known_token_is_checked_from_memory() {
    // Decisions are the hot path: after the first call, the token must not cost a database
    // round trip. With the store closed, only a cached token can still be accepted.
    let app = TestApp::sqlite().await;
    let body = decide_body("marketing", "GB");
    assert_eq!(
        app.post("/v1/decide", Some(&app.service), &body)
            .await
            .status,
        200
    );
    app.store.close().await;
    assert_eq!(
        app.post("/v1/decide", Some(&app.service), &body)
            .await
            .status,
        200,
        "served from the token cache"
    );
}

async fn with_authorization(app: &TestApp, path: &str, value: Option<String>) -> common::Answer {
    let mut req = axum::http::Request::get(path);
    if let Some(v) = value {
        req = req.header("authorization", v);
    }
    app.call(req.body(axum::body::Body::empty()).unwrap()).await
}

// The review's findings (issue 15): the scheme `bearer` was matched in two spellings only, and
// `/v1/admin/holds` answered a bad query string before checking the token, in plain text,
// echoing the parameter's name. Every admin route with a query now checks the token first and
// answers a problem that repeats nothing of the input.
#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_admin_queries_wait_for_the_token() {
    let app = TestApp::sqlite().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let a = with_authorization(
            &app,
            "/v1/admin/holds",
            Some(format!("{scheme} {}", app.dpo)),
        )
        .await;
        assert_eq!(a.status, 200, "{scheme}: {}", a.text);
    }
    let routes = [
        "/v1/admin/holds?all=%3Cx%3E&zz_secret_param=1",
        "/v1/admin/requests?overdue=1&zz_secret_param=1",
        "/v1/admin/audit?limit=many&zz_secret_param=1",
        "/v1/admin/incidents?open=%3Cx%3E&zz_secret_param=1",
        "/v1/admin/incidents/inc_00/report?zz_secret_param=1",
        "/v1/admin/disclosures?limit=-x&zz_secret_param=1",
        "/v1/admin/records-of-processing?format=%3Cx%3E&zz_secret_param=1",
    ];
    for path in routes {
        let a = with_authorization(&app, path, None).await;
        assert_problem(&a, 401, "unauthorized");
        assert!(!a.text.contains("zz_secret_param"), "{path}: {}", a.text);
    }
    for path in routes {
        let a = with_authorization(&app, path, Some(format!("Bearer {}", app.admin))).await;
        if path.contains("records-of-processing") {
            // Its query takes any parameter; a bad format is the handler's own problem.
            assert_problem(&a, 422, "invalid_format");
        } else {
            assert_problem(&a, 400, "invalid_query");
        }
        assert!(
            !a.text.contains("zz_secret_param")
                && !a.text.contains("<x>")
                && !a.text.contains("%3Cx"),
            "{path}: {}",
            a.text
        );
    }
    let lift = app
        .call(
            axum::http::Request::delete("/v1/admin/holds/hold_00?reason=x&zz_secret_param=1")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_problem(&lift, 401, "unauthorized");
    let publish = app
        .call(
            axum::http::Request::post("/v1/admin/policy-versions?zz_secret_param=1")
                .header("content-type", "application/toml")
                .body(axum::body::Body::from("x"))
                .unwrap(),
        )
        .await;
    assert_problem(&publish, 401, "unauthorized");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_on_decide() {
    // RFC 9110 §11.1: an authentication scheme's name is case-insensitive.
    let app = TestApp::sqlite().await;
    let body = decide_body("marketing", "GB").to_string();
    for scheme in ["BEARER", "bearer", "bEaReR"] {
        let auth = format!("{scheme} {}", app.service);
        let a = app
            .post_raw(
                "/v1/decide",
                None,
                body.clone(),
                &[("authorization", &auth)],
            )
            .await;
        assert_eq!(a.status, 200, "{scheme}");
    }
    let basic = format!("Basic {}", app.service);
    let a = app
        .post_raw("/v1/decide", None, body, &[("authorization", &basic)])
        .await;
    assert_eq!(a.status, 401);
}
