//! `/demo`: a page of a fictional brand of the group (Novation) with the banner, a stand-in
//! analytics script, an advertising pixel, an inline tag and a social widget, all blocked until
//! consent. Everything it loads is served from here, so it works offline and makes no
//! request to anyone else.
//!
//! The page is sent with a strict Content-Security-Policy (a fresh nonce per response, no
//! inline styles) to show that the banner needs no exceptions. Opening
//! `http://localhost:PORT/demo?custodian=http://127.0.0.1:PORT` makes it a site of another
//! origin than Custodian's, as a real company site would be.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::Query;
use crate::state::SharedState;

const PAGE: &str = include_str!("../../../../web/demo/index.html");

/// The stand-ins and the page's own files: name, content type, body.
const FILES: &[(&str, &str, &str)] = &[
    (
        "demo.css",
        "text/css; charset=utf-8",
        include_str!("../../../../web/demo/demo.css"),
    ),
    (
        "demo.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../../web/demo/demo.js"),
    ),
    (
        "analytics.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../../web/demo/analytics.js"),
    ),
    (
        "ads.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../../web/demo/ads.js"),
    ),
    (
        "social.html",
        "text/html; charset=utf-8",
        include_str!("../../../../web/demo/social.html"),
    ),
];

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DemoQuery {
    /// Load the banner from this origin instead of the page's own: another name of this same
    /// server on a loopback address (`http://127.0.0.1:PORT` while browsing `localhost:PORT`).
    custodian: Option<String>,
}

/// The demo site.
#[utoipa::path(get, path = "/demo", tag = "banner", params(DemoQuery),
    responses((status = 200, description = "A demo page embedding the banner", content_type = "text/html")))]
pub async fn page(
    State(_state): State<SharedState>,
    Query(q): Query<DemoQuery>,
    headers: HeaderMap,
) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin = q
        .custodian
        .as_deref()
        .filter(|o| host.is_some_and(|h| is_loopback_alias(o, h)))
        .unwrap_or("");
    let nonce = nonce();
    let html = PAGE
        .replace("{{NONCE}}", &nonce)
        .replace("{{CUSTODIAN}}", origin);
    let csp = format!(
        "default-src 'none'; script-src 'self' 'nonce-{nonce}' {origin}; style-src 'self' {origin}; \
         connect-src 'self' {origin}; img-src 'self' data:; frame-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    let mut res = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// A demo stand-in script, stylesheet or widget frame.
#[utoipa::path(get, path = "/demo/{file}", tag = "banner",
    params(("file" = String, Path, description = "demo.css, demo.js, analytics.js, ads.js or social.html")),
    responses(
        (status = 200, description = "The file"),
        (status = 404, description = "No such demo file", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn file(Path(name): Path<String>) -> Response {
    let Some((_, content_type, body)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return ApiError::NotFound.into_response();
    };
    let mut res = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, *content_type)],
        *body,
    )
        .into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if name.ends_with(".html") {
        // The widget frame runs no script at all.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; frame-ancestors 'self'",
            ),
        );
    }
    res
}

/// 128 random bits, hex: a script nonce that changes with every response.
fn nonce() -> String {
    let token = custodian_core::token::generate();
    token[custodian_core::token::TOKEN_PREFIX.len()..][..32].to_owned()
}

/// Whether `origin` is this same server under another loopback name: an `http(s)` origin on
/// `localhost`, `127.x.x.x` or `[::1]` with the port the request came in on. Anything else is
/// ignored, so the parameter can't make the page load a script from elsewhere.
fn is_loopback_alias(origin: &str, host_header: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let Some((host, port)) = rest.rsplit_once(':') else {
        return false;
    };
    let loopback = host == "localhost"
        || host == "[::1]"
        || (host.starts_with("127.")
            && host.split('.').count() == 4
            && host.split('.').all(|o| o.parse::<u8>().is_ok()));
    let own_port = host_header.rsplit_once(':').map(|(_, p)| p);
    loopback
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && own_port == Some(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_other_loopback_names_of_this_server_are_accepted() {
        assert!(is_loopback_alias("http://127.0.0.1:8080", "localhost:8080"));
        assert!(is_loopback_alias("http://localhost:8080", "127.0.0.1:8080"));
        assert!(is_loopback_alias("https://[::1]:8443", "localhost:8443"));
        assert!(
            !is_loopback_alias("http://127.0.0.1:9090", "localhost:8080"),
            "another port"
        );
        assert!(!is_loopback_alias(
            "http://evil.example:8080",
            "localhost:8080"
        ));
        assert!(!is_loopback_alias(
            "http://127.0.0.1:8080/x",
            "localhost:8080"
        ));
        assert!(!is_loopback_alias(
            "http://127.0.0.1:8080'",
            "localhost:8080"
        ));
        assert!(!is_loopback_alias(
            "javascript:alert(1)//:8080",
            "localhost:8080"
        ));
        assert!(!is_loopback_alias(
            "http://127.0.0.1.evil:8080",
            "localhost:8080"
        ));
        assert!(!is_loopback_alias("http://127.0.0.1", "localhost"));
    }

    #[test]
    fn nonces_are_fresh() {
        let a = nonce();
        assert_eq!(a.len(), 32);
        assert_ne!(a, nonce());
    }

    #[test]
    fn every_file_the_page_names_is_served() {
        for (name, _, _) in FILES {
            if *name != "demo.js" && *name != "demo.css" {
                assert!(PAGE.contains(&format!("/demo/{name}")), "{name} unused");
            }
        }
        assert!(PAGE.contains("{{NONCE}}") && PAGE.contains("{{CUSTODIAN}}/banner.js"));
    }
}
