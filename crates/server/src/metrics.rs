//! Request counts and latency per route, exported in Prometheus text at `/metrics`.
//!
//! The recorder is process-wide (the `metrics` crate has one global recorder), so it is
//! installed once and shared by every router built in the process — tests build many.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    1.0,
                ])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed by an embedding program; then our
            // handle renders only what we record ourselves, which is still correct.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The counter and histogram of one (route, method, status), registered once and reused: the
/// hot path then does one read-locked map lookup instead of building label strings.
#[derive(Clone)]
struct Handles {
    count: metrics::Counter,
    latency: metrics::Histogram,
}

/// Route template → the handles seen for it, by method and status.
type Cache = HashMap<String, Vec<(&'static str, u16, Handles)>>;

fn handles(route: &str, method: &'static str, status: u16) -> Handles {
    static CACHE: OnceLock<RwLock<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let found = cache
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(route)
        .and_then(|v| {
            v.iter()
                .find(|(m, s, _)| *m == method && *s == status)
                .map(|(.., h)| h.clone())
        });
    if let Some(h) = found {
        return h;
    }
    let h = Handles {
        count: metrics::counter!("custodian_http_requests_total", "method" => method, "route" => route.to_owned(), "status" => status.to_string()),
        latency: metrics::histogram!("custodian_http_request_duration_seconds", "route" => route.to_owned()),
    };
    cache
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .entry(route.to_owned())
        .or_default()
        .push((method, status, h.clone()));
    h
}

fn static_method(m: &axum::http::Method) -> &'static str {
    match *m {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        axum::http::Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// Middleware: one counter and one histogram sample per request, labelled by the route
/// template (never the raw path, which could carry identifiers or tokens).
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = static_method(req.method());
    let route = req.extensions().get::<MatchedPath>().cloned();
    let res = next.run(req).await;
    let h = handles(
        route.as_ref().map_or("unmatched", |p| p.as_str()),
        method,
        res.status().as_u16(),
    );
    h.count.increment(1);
    h.latency.record(start.elapsed().as_secs_f64());
    res
}
