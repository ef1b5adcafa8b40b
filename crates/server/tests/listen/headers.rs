//! Every GET route of the router, walked from the route table in `src/lib.rs` and
//! `src/assets.rs`, answers with the security headers; personal answers are never cached;
//! behind HTTPS every answer carries HSTS and every cookie is `Secure`; the banner's files stay
//! loadable from other origins.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request};
use tower::ServiceExt;

use crate::common;

/// The GET routes of the route table, read from the sources so a new route is walked too.
fn get_routes() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut routes = Vec::new();
    for file in ["lib.rs", "assets.rs"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        for chunk in text.split(".route(").skip(1) {
            let Some(path) = chunk
                .trim_start()
                .strip_prefix('"')
                .and_then(|s| s.split('"').next())
            else {
                continue;
            };
            // The handlers of this route: up to the call's closing parenthesis at depth 0.
            let mut depth = 1;
            let end = chunk
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(chunk.len(), |(i, _)| i);
            if chunk[..end].contains("get(") {
                routes.push(path.to_owned());
            }
        }
    }
    assert!(routes.len() >= 40, "only {} GET routes found", routes.len());
    routes
}

/// A concrete path for a route pattern.
fn concrete(route: &str) -> String {
    route
        .replace("{file}", "demo.css")
        .replace("{token}", "not-a-token")
        .replace("{action}", "x")
        .replace("{id}", "00000000-0000-0000-0000-000000000000")
}

async fn state(public_url: &str) -> custodian_server::SharedState {
    let store = custodian_store::Store::open(&custodian_store::testing::fresh_sqlite_url())
        .await
        .unwrap();
    let mut settings = common::settings(store, custodian_policy::example());
    settings.app.public_url = public_url.into();
    custodian_server::build(settings).await.unwrap()
}

async fn headers_of(app: &custodian_server::app::App, path: &str) -> (u16, HeaderMap) {
    let req = Request::get(path)
        .header(header::HOST, "custodian.test")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    (res.status().as_u16(), res.headers().clone())
}

fn value<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn every_get_route_carries_the_security_headers() {
    for https in [false, true] {
        let url = if https {
            "https://custodian.test"
        } else {
            "http://custodian.test"
        };
        let app = custodian_server::app::app(state(url).await);
        let mut paths: Vec<String> = get_routes().iter().map(|r| concrete(r)).collect();
        // The personal JSON answers the review named, with their query strings.
        paths.extend([
            "/v1/requests/00000000-0000-0000-0000-000000000000?t=x".to_owned(),
            "/v1/consent?email=ada@example.com".to_owned(),
            "/no-such-page".to_owned(),
        ]);
        let mut cookies = 0;
        for path in &paths {
            let (status, h) = headers_of(&app, path).await;
            let at = format!("GET {path} ({url}) answered {status}");
            assert!(status < 500, "{at}");
            let csp = value(&h, "content-security-policy");
            assert!(
                csp.contains("frame-ancestors") && csp.contains("default-src 'none'"),
                "{at}: CSP {csp:?}"
            );
            assert!(
                !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
                "{at}: {csp}"
            );
            assert_eq!(value(&h, "x-content-type-options"), "nosniff", "{at}");
            let referrer = value(&h, "referrer-policy");
            assert!(
                [
                    "same-origin",
                    "no-referrer",
                    "strict-origin-when-cross-origin"
                ]
                .contains(&referrer),
                "{at}: Referrer-Policy {referrer:?}"
            );
            if custodian_server::security_headers::is_personal(path.split('?').next().unwrap()) {
                assert_eq!(value(&h, "cache-control"), "no-store", "{at}");
            }
            assert_eq!(
                h.contains_key("strict-transport-security"),
                https,
                "{at}: HSTS only behind HTTPS"
            );
            for c in h.get_all(header::SET_COOKIE) {
                cookies += 1;
                let c = c.to_str().unwrap();
                assert_eq!(c.contains("; Secure"), https, "{at}: cookie {c}");
            }
        }
        assert!(
            cookies > 0,
            "the walk set no cookie, so `Secure` went unchecked"
        );
    }
}

#[tokio::test]
async fn pages_that_forms_post_from_send_their_origin() {
    let app = custodian_server::app::app(state("https://custodian.test").await);
    for path in [
        "/console/login",
        "/privacy-center",
        "/privacy-center/sign-in",
        "/privacy-center/requests",
        "/u/not-a-token",
        "/privacy",
    ] {
        let (_, h) = headers_of(&app, path).await;
        // `no-referrer` would make a browser send `Origin: null` with the page's form posts.
        assert_eq!(value(&h, "referrer-policy"), "same-origin", "{path}");
        let csp = value(&h, "content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("form-action 'self'"), "{path}: {csp}");
    }
}

#[tokio::test]
async fn the_banner_stays_loadable_from_other_origins() {
    let app = custodian_server::app::app(state("https://custodian.test").await);
    for path in ["/banner.js", "/banner.css", "/v1/banner"] {
        let (status, h) = headers_of(&app, path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(value(&h, "access-control-allow-origin"), "*", "{path}");
        // Nothing that would stop another origin's page from using the file.
        assert!(
            !matches!(
                value(&h, "cross-origin-resource-policy"),
                "same-origin" | "same-site"
            ),
            "{path}"
        );
        assert!(!h.contains_key("cross-origin-embedder-policy"), "{path}");
        assert!(
            !value(&h, "cache-control").contains("no-store"),
            "{path}: still cacheable"
        );
    }
    // The demo's widget frame is framed by the demo page: its own policy decides, not DENY.
    let (_, h) = headers_of(&app, "/demo/social.html").await;
    assert!(value(&h, "content-security-policy").contains("frame-ancestors 'self'"));
    assert!(!h.contains_key("x-frame-options"));
}
