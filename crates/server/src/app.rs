//! The service `serve` runs: `POST /v1/decide` answered directly, everything else by the
//! router.
//!
//! Decisions are the one route called before every processing step, at tens of thousands a
//! second, so they skip the router: no route matching, no per-layer boxing and cloning of the
//! route's service, no path-parameter, matched-path or connection-info extensions. What the
//! router's layers give every other route is done here by hand, the same way: the metrics
//! sample (labelled `/v1/decide`), the body limit (in [`crate::extract::json_body`]) and
//! problem+json errors. The router keeps its own `/v1/decide` route, so a `GET` still gets its
//! 405 and the OpenAPI document and route list stay whole.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::future::Either;

use crate::metrics::RouteMetrics;
use crate::state::SharedState;

pub const DECIDE: &str = "/v1/decide";

/// The whole HTTP application, one clone per connection. Cheap to clone.
#[derive(Clone)]
pub struct App {
    state: SharedState,
    router: Router,
    decide_metrics: RouteMetrics,
    /// The connection's peer, given to the routes that need it (intake limits) as axum's
    /// `ConnectInfo`; decisions do not.
    peer: Option<SocketAddr>,
}

/// Builds the application: the fast path for decisions and the router for the rest.
pub fn app(state: SharedState) -> App {
    App {
        router: crate::router(state.clone()),
        decide_metrics: state.metrics.for_route(DECIDE),
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

type DecideFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl tower::Service<Request> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<DecideFuture, <Router as tower::Service<Request>>::Future>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        if req.method() == Method::POST && req.uri().path() == DECIDE {
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
        } else {
            if let Some(peer) = self.peer {
                req.extensions_mut().insert(ConnectInfo(peer));
            }
            Either::Right(tower::Service::call(&mut self.router, req))
        }
    }
}
