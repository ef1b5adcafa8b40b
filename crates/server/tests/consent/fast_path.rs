//! `GET /v1/consent` is answered before the router (`app.rs`, the fast path); the router keeps
//! its own route. These tests hold the two to the same answer — status, every header in order,
//! body — for what a banner and a service send, on both CORS settings.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use custodian_store::testing;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::common::TestApp;

type Seen = (StatusCode, Vec<(String, String)>, String);

async fn seen(res: axum::response::Response) -> Seen {
    let status = res.status();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// What a banner or a service adds to its request: the page's origin, its token.
fn sent_by(
    mut b: axum::http::request::Builder,
    origin: Option<&str>,
    token: Option<&str>,
) -> axum::http::request::Builder {
    if let Some(o) = origin {
        b = b.header(header::ORIGIN, o);
    }
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b
}

fn read(path: &str, origin: Option<&str>, token: Option<&str>) -> Request<Body> {
    sent_by(Request::get(path), origin, token)
        .body(Body::empty())
        .unwrap()
}

/// `request(true)` through the fast path and `request(false)` through the router.
async fn both_ways(app: &TestApp, request: impl Fn(bool) -> Request<Body>) -> (Seen, Seen) {
    let fast = seen(app.router.clone().oneshot(request(true)).await.unwrap()).await;
    let routed = seen(
        custodian_server::router(app.state.clone())
            .oneshot(request(false))
            .await
            .unwrap(),
    )
    .await;
    (fast, routed)
}

/// Each request through the fast path and through the router: the same answer. Answers the
/// fast path's, for the caller's own checks.
async fn same_both_ways(
    app: &TestApp,
    path: &str,
    origin: Option<&str>,
    token: Option<&str>,
) -> Seen {
    let (fast, routed) = both_ways(app, |_| read(path, origin, token)).await;
    assert_eq!(
        fast,
        routed,
        "{path} (origin {origin:?}, token {})",
        token.is_some()
    );
    fast
}

async fn record(app: &TestApp, device: &str) {
    let a = app
        .post(
            "/v1/consent",
            None,
            &json!({"subject": {"device_id": device}, "choices": {"analytics": true, "marketing": false},
                    "policy_version": "2018-05-25", "source": "banner"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
}

fn header<'a>(s: &'a Seen, name: &str) -> Vec<&'a str> {
    s.1.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[tokio::test]
async fn the_fast_consent_read_answers_as_the_router_does() {
    let app = TestApp::on(&testing::fresh_sqlite_url()).await;
    record(&app, "fast-path-device-0001").await;
    let email = app
        .post(
            "/v1/consent",
            Some(&app.service),
            &json!({"subject": {"email": "ada@example.com"}, "choices": {"analytics": false},
                    "policy_version": "2018-05-25", "source": "api"}),
        )
        .await;
    assert_eq!(email.status, StatusCode::CREATED, "{}", email.text);

    let chosen = same_both_ways(
        &app,
        "/v1/consent?device_id=fast-path-device-0001",
        Some("https://shop.example"),
        None,
    )
    .await;
    assert_eq!(chosen.0, StatusCode::OK);
    assert!(
        chosen.2.contains(r#""purpose":"analytics","given":true"#),
        "{}",
        chosen.2
    );
    assert_eq!(header(&chosen, "access-control-allow-origin"), ["*"]);
    assert_eq!(header(&chosen, "cache-control"), ["no-store"]);
    assert_eq!(header(&chosen, "content-type"), ["application/json"]);

    for (path, token, status) in [
        (
            "/v1/consent?device_id=fast-path-device-0001",
            None,
            StatusCode::OK,
        ),
        (
            "/v1/consent?device_id=fast-path-never-seen-0001",
            None,
            StatusCode::OK,
        ),
        (
            "/v1/consent?device_id=short",
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/v1/consent", None, StatusCode::UNPROCESSABLE_ENTITY),
        (
            "/v1/consent?device_id=fast-path-device-0001&device_id=x",
            None,
            StatusCode::BAD_REQUEST,
        ),
        ("/v1/consent?colour=blue", None, StatusCode::BAD_REQUEST),
        (
            "/v1/consent?email=ada@example.com",
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "/v1/consent?email=ada@example.com",
            Some("not-a-token"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "/v1/consent?email=ada@example.com",
            Some(app.service.as_str()),
            StatusCode::OK,
        ),
    ] {
        for origin in [None, Some("https://shop.example")] {
            let s = same_both_ways(&app, path, origin, token).await;
            assert_eq!(s.0, status, "{path}: {}", s.2);
        }
    }

    // Every answer of the fast path is counted under the route's template, as the router's are.
    let metrics = app.get("/metrics", None).await.text;
    assert!(
        metrics.contains(
            r#"custodian_http_requests_total{method="GET",route="/v1/consent",status="200"}"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_fast_consent_read_allows_only_the_listed_origins() {
    let url = testing::fresh_sqlite_url();
    let app = TestApp::with(&url, custodian_policy::example(), |s| {
        s.allowed_origins = Some(vec![
            "https://shop.example".into(),
            " https://www.shop.example ".into(),
        ]);
    })
    .await;
    record(&app, "fast-path-device-0002").await;
    let path = "/v1/consent?device_id=fast-path-device-0002";
    for (origin, allowed) in [
        (Some("https://shop.example"), Some("https://shop.example")),
        (
            Some("https://www.shop.example"),
            Some("https://www.shop.example"),
        ),
        (Some("https://evil.example"), None),
        (Some("null"), None),
        (None, None),
    ] {
        let s = same_both_ways(&app, path, origin, None).await;
        assert_eq!(s.0, StatusCode::OK);
        assert_eq!(
            header(&s, "access-control-allow-origin"),
            allowed.into_iter().collect::<Vec<_>>(),
            "{origin:?}"
        );
        assert_eq!(header(&s, "vary").len(), 1, "{origin:?}");
    }
}

fn write(
    body: String,
    content_type: &str,
    token: Option<&str>,
    origin: Option<&str>,
) -> Request<Body> {
    let b = Request::post("/v1/consent").header(header::CONTENT_TYPE, content_type);
    sent_by(b, origin, token).body(Body::from(body)).unwrap()
}

/// The same write through the fast path and through the router, each on its own device
/// (`{device}` in `body`) so that neither finds the other's choice.
async fn write_both_ways(
    app: &TestApp,
    body: &str,
    content_type: &str,
    token: Option<&str>,
    origin: Option<&str>,
) -> (Seen, Seen) {
    both_ways(app, |fast| {
        let device = if fast {
            "fast-path-writer-0001"
        } else {
            "routed-writer-00001"
        };
        write(
            body.replace("{device}", device),
            content_type,
            token,
            origin,
        )
    })
    .await
}

#[tokio::test]
async fn the_fast_consent_write_answers_as_the_router_does() {
    let app = TestApp::on(&testing::fresh_sqlite_url()).await;
    let given = r#"{"subject":{"device_id":"{device}"},"choices":{"analytics":true},"policy_version":"2018-05-25","source":"banner"}"#;
    let json = "application/json";
    let origin = Some("https://shop.example");
    // A write that lands, then the same choice again (nothing changes): the bodies hold each
    // device's own ids and references (so their lengths may differ by a digit); the status and
    // every other header are the same.
    let but_length = |s: &Seen| -> Vec<(String, String)> {
        s.1.iter()
            .filter(|(k, _)| k != "content-length")
            .cloned()
            .collect()
    };
    for status in [StatusCode::CREATED, StatusCode::OK] {
        let (fast, routed) = write_both_ways(&app, given, json, None, origin).await;
        assert_eq!(fast.0, status, "{}", fast.2);
        assert_eq!((fast.0, but_length(&fast)), (routed.0, but_length(&routed)));
        assert_eq!(header(&fast, "content-length"), [fast.2.len().to_string()]);
        assert_eq!(header(&fast, "access-control-allow-origin"), ["*"]);
        assert_eq!(header(&fast, "cache-control"), ["no-store"]);
    }
    // What is refused is refused alike, to the byte.
    let big = format!(
        r#"{{"subject":{{"device_id":"{{device}}"}},"choices":{{"analytics":true}},"policy_version":"2018-05-25","source":"banner","pad":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let by_email = r#"{"subject":{"email":"ada@example.com"},"choices":{"analytics":true},"policy_version":"2018-05-25","source":"api"}"#;
    for (body, content_type, token, status) in [
        ("{", json, None, StatusCode::BAD_REQUEST),
        (
            given,
            "text/plain",
            None,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (big.as_str(), json, None, StatusCode::PAYLOAD_TOO_LARGE),
        (
            r#"{"subject":{"device_id":"{device}"},"choices":{"telepathy":true},"policy_version":"2018-05-25","source":"banner"}"#,
            json,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"subject":{"device_id":"{device}"},"choices":{"analytics":true},"policy_version":"1999-01-01","source":"banner"}"#,
            json,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (by_email, json, None, StatusCode::UNAUTHORIZED),
        (
            by_email,
            json,
            Some("not-a-token"),
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        let (fast, routed) = write_both_ways(&app, body, content_type, token, origin).await;
        assert_eq!(fast.0, status, "{}", fast.2);
        assert_eq!(fast, routed);
    }
    let metrics = app.get("/metrics", None).await.text;
    assert!(
        metrics.contains(
            r#"custodian_http_requests_total{method="POST",route="/v1/consent",status="201"}"#
        ),
        "{metrics}"
    );
}
