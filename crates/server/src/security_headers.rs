//! The security headers every answer of the router carries, set in one layer.
//!
//! A page that sets a header itself keeps its own (the console's and the privacy centre's
//! Content-Security-Policy, the demo's per-response nonce, the demo widget frame that the demo
//! page frames): this layer fills in only what is missing, so a route's own header is its
//! override. Two headers are not left to routes:
//! - `Cache-Control: no-store` on every answer that can carry someone's data (a request's
//!   status, a consent lookup, a receipt, the admin API, the privacy centre, the console), so
//!   no shared or browser cache keeps a copy (RFC 9111 §5.2.2.5);
//! - `Strict-Transport-Security` when the service is reached over HTTPS — it serves TLS itself
//!   or its public URL is `https://…` behind a TLS proxy (RFC 6797; browsers ignore it over
//!   plain HTTP, §8.1).
//!
//! `Referrer-Policy` is `same-origin`, not `no-referrer`: under `no-referrer` a browser sends
//! `Origin: null` with a form post (Fetch, "serializing a request origin"), and the forms'
//! origin checks would refuse them; other sites still get no referrer. `/v1/decide`, answered
//! before the router (`app.rs`), is a service's JSON call and carries none of these;
//! `/v1/consent`, also answered before the router, gets them from [`apply`] there.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{header, HeaderMap, HeaderValue, Request};
use axum::response::Response;

/// For pages that set none: nothing but the service's own stylesheets and images, forms only
/// to itself, and never inside another site's frame.
pub const DEFAULT_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// One year, the value HSTS preload lists ask for. Without `includeSubDomains`: the company's
/// other hosts are not Custodian's to commit.
pub const HSTS: &str = "max-age=31536000";

/// Paths whose answers can carry personal data (each path and everything under it).
const PERSONAL: &[&str] = &[
    "/v1/admin",
    "/v1/requests",
    "/v1/consent",
    "/v1/receipts",
    "/v1/subjects",
    "/v1/unsubscribe-links",
    "/u",
    "/requests",
    "/privacy-center",
    "/console",
];

/// Whether answers under `path` must not be stored by any cache.
pub fn is_personal(path: &str) -> bool {
    PERSONAL.iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The layer; `https` when the service is reached over HTTPS.
#[derive(Clone, Copy)]
pub struct SecurityHeadersLayer {
    pub https: bool,
}

impl<S> tower::Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders {
            inner,
            https: self.https,
        }
    }
}

#[derive(Clone)]
pub struct SecurityHeaders<S> {
    inner: S,
    https: bool,
}

impl<S, B> tower::Service<Request<B>> for SecurityHeaders<S>
where
    S: tower::Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = WithHeaders<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        WithHeaders {
            personal: is_personal(req.uri().path()),
            https: self.https,
            inner: self.inner.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct WithHeaders<F> {
        #[pin]
        inner: F,
        personal: bool,
        https: bool,
    }
}

impl<F, E> Future for WithHeaders<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = std::task::ready!(this.inner.poll(cx))?;
        apply(res.headers_mut(), *this.personal, *this.https);
        Poll::Ready(Ok(res))
    }
}

/// Adds what the answer lacks.
pub fn apply(h: &mut HeaderMap, personal: bool, https: bool) {
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        );
        // For browsers that predate `frame-ancestors`. Only with our own policy: a page that
        // sets its own (the demo's widget frame allows its own origin) decides its framing.
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if !h.contains_key(header::X_CONTENT_TYPE_OPTIONS) {
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    if personal {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::is_personal;

    #[test]
    fn personal_paths_are_whole_segments() {
        for p in [
            "/v1/admin/requests",
            "/v1/consent",
            "/v1/requests/abc",
            "/u/tok",
            "/privacy-center",
            "/console/overview",
        ] {
            assert!(is_personal(p), "{p}");
        }
        for p in [
            "/v1/policy",
            "/assets/console.css",
            "/assets/privacy-center.css",
            "/privacy",
            "/banner.js",
            "/v1/consentx",
            "/user",
        ] {
            assert!(!is_personal(p), "{p}");
        }
    }
}
