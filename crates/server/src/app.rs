//! The service `serve` runs: `POST /v1/decide` (asked before every processing step) and
//! `/v1/consent` (a banner's read of the visitor's choices on every page view, and its write
//! when the visitor chooses) answered directly, everything else by the router.
//!
//! These run at tens of thousands a second, so they skip the router: no route matching, no
//! per-layer boxing and cloning of the route's service, no path-parameter or matched-path
//! extensions (for a consent read the boxed route stack cost more instructions than finding
//! the subject's choices: issue 17). What the router's layers give a route is done here by
//! hand, in the same order: for consent, the client's address for the anonymous writes'
//! limit, CORS (a banner calls it from the company's site, another origin), the outage mark,
//! the security headers and the metrics sample labelled with the route; for a decision, a
//! service's JSON call, the outage mark and the metrics sample only. Both keep the body limit
//! (in [`crate::extract::json_body`]) and problem+json errors. A test
//! (`tests/consent/fast_path.rs`) holds consent's answers to the router's, header for header.
//! The router keeps these routes, so other methods still get its 405 (and a preflight its
//! CORS answer), and the OpenAPI document and route list stay whole.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::HttpBody;
use axum::extract::{ConnectInfo, Request};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::future::Either;

use crate::metrics::RouteMetrics;
use crate::state::SharedState;

pub const DECIDE: &str = "/v1/decide";
pub const CONSENT: &str = "/v1/consent";

/// The whole HTTP application, one clone per connection. Cheap to clone.
#[derive(Clone)]
pub struct App {
    state: SharedState,
    router: Router,
    decide_metrics: RouteMetrics,
    consent_metrics: RouteMetrics,
    /// The connection's peer, given to the routes that need it (intake limits) as axum's
    /// `ConnectInfo`; the fast paths do not.
    peer: Option<SocketAddr>,
}

/// Builds the application: the fast paths and the router for the rest.
pub fn app(state: SharedState) -> App {
    App {
        router: crate::router(state.clone()),
        decide_metrics: state.metrics.for_route(DECIDE),
        consent_metrics: state.metrics.for_route(CONSENT),
        state,
        peer: None,
    }
}

impl App {
    /// The application for one connection, knowing its peer.
    pub fn for_peer(&self, peer: SocketAddr) -> App {
        App {
            peer: Some(peer),
            ..self.clone()
        }
    }
}

type FastFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl tower::Service<Request> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<FastFuture, <Router as tower::Service<Request>>::Future>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let path = req.uri().path();
        if req.method() == Method::POST && path == DECIDE {
            let (state, metrics) = (self.state.clone(), self.decide_metrics.clone());
            Either::Left(Box::pin(async move {
                let start = Instant::now();
                let res = crate::routes::decide::answer(&state, req)
                    .await
                    .into_response();
                let res = crate::outage::mark(&state, res).await;
                metrics.observe(
                    "POST",
                    res.status().as_u16(),
                    start.elapsed().as_nanos() as u64,
                );
                Ok(res)
            }))
        } else if path == CONSENT && (req.method() == Method::GET || req.method() == Method::POST) {
            let write = req.method() == Method::POST;
            if let Some(peer) = self.peer.filter(|_| write) {
                // The anonymous writes' limit per client (`ClientIp`).
                req.extensions_mut().insert(ConnectInfo(peer));
            }
            let (state, metrics) = (self.state.clone(), self.consent_metrics.clone());
            Either::Left(Box::pin(async move {
                let start = Instant::now();
                let origin = req.headers().get(header::ORIGIN).cloned();
                // The handler itself, with its own extractors and their rejections.
                let mut res = if write {
                    crate::routes::consent::write.call(req, state.clone()).await
                } else {
                    crate::routes::consent::read.call(req, state.clone()).await
                };
                cors(
                    res.headers_mut(),
                    origin.as_ref(),
                    state.allowed_origins.as_deref(),
                );
                let mut res = crate::outage::mark(&state, res).await;
                crate::security_headers::apply(
                    res.headers_mut(),
                    true,
                    state.public_url.starts_with("https:"),
                );
                // Last, as the router's route does (hyper would add it on the wire anyway).
                if let Some(n) = res.body().size_hint().exact() {
                    if !res.headers().contains_key(header::CONTENT_LENGTH) {
                        res.headers_mut()
                            .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
                    }
                }
                metrics.observe(
                    if write { "POST" } else { "GET" },
                    res.status().as_u16(),
                    start.elapsed().as_nanos() as u64,
                );
                Ok(res)
            }))
        } else {
            if let Some(peer) = self.peer {
                req.extensions_mut().insert(ConnectInfo(peer));
            }
            Either::Right(tower::Service::call(&mut self.router, req))
        }
    }
}

/// What the router's CORS layer (`crate::cors_layer`) adds to the answer of a request that is
/// not a preflight: `Vary` on the three request headers a CORS answer depends on, appended to
/// any the answer has, and `Access-Control-Allow-Origin` — `*` when every origin is allowed,
/// else the request's `Origin` when it is one of those allowed (Fetch, "CORS protocol").
fn cors(h: &mut HeaderMap, origin: Option<&HeaderValue>, allowed: Option<&[String]>) {
    h.append(
        header::VARY,
        HeaderValue::from_static(
            "origin, access-control-request-method, access-control-request-headers",
        ),
    );
    match allowed {
        None => {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        Some(list) => {
            if let Some(o) =
                origin.filter(|o| list.iter().any(|a| a.trim().as_bytes() == o.as_bytes()))
            {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone());
            }
        }
    }
}
