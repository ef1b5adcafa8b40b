//! Anonymous consent writes are limited per client address (issue 15: one client wrote 4,287
//! a second); a refusal is a 429 problem with `Retry-After`, and writes with a token are not
//! limited.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::common::TestApp;
use crate::helpers::choice;

async fn write(
    app: &TestApp,
    peer: &str,
    body: &Value,
    token: Option<&str>,
) -> (u16, Option<String>, String, Value) {
    let mut req = Request::post("/v1/consent").header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req.body(Body::from(body.to_string())).unwrap();
    // The peer as the accept loop gives it (`App::for_peer`), which the application hands to
    // the handler whichever way it answers.
    let res = app
        .router
        .for_peer(peer.parse::<SocketAddr>().unwrap())
        .oneshot(req)
        .await
        .unwrap();
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let kind = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        retry,
        kind,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn device(n: usize) -> Value {
    choice(
        json!({ "device_id": format!("dev_limit_{n:012}") }),
        json!({ "analytics": true }),
    )
}

#[tokio::test]
async fn anonymous_consent_writes_are_limited_per_client_with_retry_after() {
    let app = TestApp::sqlite().await;
    let per_second = custodian_app::limits::CONSENT_PER_CLIENT as usize;
    for n in 0..per_second {
        let (status, ..) = write(&app, "192.0.2.10:4000", &device(n), None).await;
        assert_eq!(status, 201, "write {n}");
    }
    let (status, retry, kind, body) = write(&app, "192.0.2.10:4001", &device(999), None).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(kind, "application/problem+json");
    assert_eq!(body["code"], "rate_limited");

    // Another client, and the same client's other IPv6 interface ids, are counted apart / together.
    let (status, ..) = write(&app, "192.0.2.11:4000", &device(1_000), None).await;
    assert_eq!(status, 201);
    for n in 0..per_second {
        write(&app, "[2001:db8:1:2::1]:4000", &device(2_000 + n), None).await;
    }
    let (status, ..) = write(&app, "[2001:db8:1:2::beef]:4000", &device(3_000), None).await;
    assert_eq!(status, 429, "one /64 is one client");

    // A token's holder is accountable and not limited; the next second the client may go on.
    let email = json!({ "subject": { "email": "ada@example.com" }, "choices": { "marketing": true }, "policy_version": "2018-05-25", "source": "signup" });
    let (status, ..) = write(&app, "192.0.2.10:4002", &email, Some(&app.service)).await;
    assert_eq!(status, 201);
    app.clock.advance(1_000_000);
    let (status, ..) = write(&app, "192.0.2.10:4003", &device(4_000), None).await;
    assert_eq!(status, 201);
    assert_eq!(
        app.events().await.len(),
        2 * per_second + 3,
        "nothing refused was written"
    );
}
