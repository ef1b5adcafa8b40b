//! The service `serve` runs: `POST /v1/decide` answered directly, everything else by the
//! router.
//!
//! Decisions are the one route called before every processing step, at tens of thousands a
//! second, so they skip the router: no route matching, no per-layer boxing and cloning of the
//! route's service, no path-parameter and matched-path extensions. What the router's layers
//! give every other route is done here by hand, the same way: the metrics sample (labelled
//! `/v1/decide`), the body limit (in [`crate::extract::json_body`]) and problem+json errors.
//! The router keeps its own `/v1/decide` route, so a `GET` still gets its 405 and the OpenAPI
//! document and route list stay whole.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::future::Either;

use crate::state::SharedState;

pub const DECIDE: &str = "/v1/decide";

/// The whole HTTP application. Cheap to clone.
#[derive(Clone)]
pub struct App {
    state: SharedState,
    router: Router,
}

/// Builds the application: the fast path for decisions and the router for the rest.
pub fn app(state: SharedState) -> App {
    App {
        router: crate::router(state.clone()),
        state,
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

    fn call(&mut self, req: Request) -> Self::Future {
        if req.method() == Method::POST && req.uri().path() == DECIDE {
            let state = self.state.clone();
            Either::Left(Box::pin(async move {
                let start = Instant::now();
                let res = crate::routes::decide::decide(State(state.clone()), req)
                    .await
                    .into_response();
                state.metrics.observe(
                    DECIDE,
                    "POST",
                    res.status().as_u16(),
                    start.elapsed().as_nanos() as u64,
                );
                Ok(res)
            }))
        } else {
            Either::Right(tower::Service::call(&mut self.router, req))
        }
    }
}
