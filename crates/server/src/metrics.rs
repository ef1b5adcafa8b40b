//! Prometheus metrics, kept by Custodian itself: request counts and latency per route, and a
//! few gauges and counters set by background jobs, rendered as Prometheus text at `/metrics`.
//!
//! Why not the `metrics` crate's Prometheus exporter: its histograms keep every sample until
//! they are scraped (memory grows without bound when nobody scrapes), and its registry is
//! process-wide, so routers built side by side in one process (tests) would share counts.
//! Here a histogram is a fixed array of atomic bucket counters, the registry belongs to one
//! [`AppState`](crate::state::AppState), and the hot path costs one read-locked map lookup and
//! a few relaxed atomic increments.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;

/// Upper bounds of the latency buckets, in nanoseconds (100 µs … 1 s).
const BOUNDS_NS: [u64; 12] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    1_000_000_000,
];

/// Latency of one route: per-bucket counts (not cumulative; rendering sums them), the count
/// above the last bound, and the sum.
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BOUNDS_NS.len() + 1],
    sum_ns: AtomicU64,
}

impl Histogram {
    fn record(&self, ns: u64) {
        let i = BOUNDS_NS.partition_point(|&b| b < ns);
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
    }
}

/// One route template's counters (by method and status) and latency histogram.
#[derive(Default)]
struct RouteSeries {
    counts: RwLock<Vec<(&'static str, u16, Arc<AtomicU64>)>>,
    latency: Histogram,
}

impl RouteSeries {
    fn count(&self, method: &'static str, status: u16) {
        let found = read(&self.counts)
            .iter()
            .find(|(m, s, _)| *m == method && *s == status)
            .map(|(.., c)| c.clone());
        let counter = match found {
            Some(c) => c,
            None => {
                let mut all = self.counts.write().unwrap_or_else(|e| e.into_inner());
                match all.iter().find(|(m, s, _)| *m == method && *s == status) {
                    Some((.., c)) => c.clone(),
                    None => {
                        let c = Arc::new(AtomicU64::new(0));
                        all.push((method, status, c.clone()));
                        c
                    }
                }
            }
        };
        counter.fetch_add(1, Relaxed);
    }
}

/// A gauge is set, a counter only grows.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Counter,
    Gauge,
}

/// (name, rendered labels) → kind and value.
type Values = BTreeMap<(&'static str, String), (Kind, f64)>;

/// The metrics of one server.
#[derive(Default)]
pub struct Metrics {
    routes: RwLock<HashMap<Box<str>, Arc<RouteSeries>>>,
    /// (name, rendered labels) → value, for the few values jobs set now and then.
    values: Mutex<Values>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

/// One route's series, resolved once: recording through it skips the route map.
#[derive(Clone)]
pub struct RouteMetrics(Arc<RouteSeries>);

impl RouteMetrics {
    pub fn observe(&self, method: &'static str, status: u16, elapsed_ns: u64) {
        self.0.count(method, status);
        self.0.latency.record(elapsed_ns);
    }
}

/// The application's jobs report their gauges and counters here, beside the routes' series.
impl custodian_app::Telemetry for Metrics {
    fn set_gauge(&self, name: &'static str, labels: &[(&str, &str)], value: f64) {
        Metrics::set_gauge(self, name, labels, value)
    }
    fn add_counter(&self, name: &'static str, by: u64) {
        Metrics::add_counter(self, name, by)
    }
}

impl Metrics {
    /// The series of one route template, for a caller that records it often.
    pub fn for_route(&self, route: &str) -> RouteMetrics {
        RouteMetrics(self.route(route))
    }

    fn route(&self, route: &str) -> Arc<RouteSeries> {
        if let Some(s) = read(&self.routes).get(route) {
            return s.clone();
        }
        self.routes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(route.into())
            .or_default()
            .clone()
    }

    /// Records one answered request.
    pub fn observe(&self, route: &str, method: &'static str, status: u16, elapsed_ns: u64) {
        let series = self.route(route);
        series.count(method, status);
        series.latency.record(elapsed_ns);
    }

    /// Sets a gauge. Labels are `(name, value)` pairs.
    pub fn set_gauge(&self, name: &'static str, labels: &[(&str, &str)], value: f64) {
        self.values
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((name, render_labels(labels)), (Kind::Gauge, value));
    }

    /// Adds to a counter.
    pub fn add_counter(&self, name: &'static str, by: u64) {
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        let v = values
            .entry((name, String::new()))
            .or_insert((Kind::Counter, 0.0));
        v.1 += by as f64;
    }

    /// Everything, in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let routes: BTreeMap<String, Arc<RouteSeries>> = read(&self.routes)
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        out.push_str("# HELP custodian_http_requests_total HTTP requests answered, by route template, method and status.\n# TYPE custodian_http_requests_total counter\n");
        for (route, s) in &routes {
            let mut counts: Vec<_> = read(&s.counts)
                .iter()
                .map(|(m, st, c)| (*m, *st, c.load(Relaxed)))
                .collect();
            counts.sort();
            for (method, status, n) in counts {
                let labels = render_labels(&[
                    ("method", method),
                    ("route", route),
                    ("status", &status.to_string()),
                ]);
                let _ = writeln!(out, "custodian_http_requests_total{labels} {n}");
            }
        }
        out.push_str("# HELP custodian_http_request_duration_seconds Time to answer, by route template.\n# TYPE custodian_http_request_duration_seconds histogram\n");
        for (route, s) in &routes {
            let mut cumulative = 0u64;
            for (i, bucket) in s.latency.buckets.iter().enumerate() {
                cumulative += bucket.load(Relaxed);
                let le = BOUNDS_NS
                    .get(i)
                    .map_or_else(|| "+Inf".to_owned(), |b| (*b as f64 / 1e9).to_string());
                let labels = render_labels(&[("route", route), ("le", &le)]);
                let _ = writeln!(
                    out,
                    "custodian_http_request_duration_seconds_bucket{labels} {cumulative}"
                );
            }
            let labels = render_labels(&[("route", route)]);
            let sum = s.latency.sum_ns.load(Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "custodian_http_request_duration_seconds_sum{labels} {sum}\ncustodian_http_request_duration_seconds_count{labels} {cumulative}"
            );
        }
        let values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        let mut last = "";
        for ((name, labels), (kind, v)) in values.iter() {
            if *name != last {
                let kind = match kind {
                    Kind::Counter => "counter",
                    Kind::Gauge => "gauge",
                };
                let _ = writeln!(out, "# TYPE {name} {kind}");
                last = name;
            }
            let _ = writeln!(out, "{name}{labels} {v}");
        }
        out
    }
}

/// `{a="1",b="2"}`, values escaped as the format asks; empty for no labels.
fn render_labels(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let mut s = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(k);
        s.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push('}');
    s
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

/// The layer that counts and times every request, labelled by the route template (never the
/// raw path, which could carry identifiers or tokens). A plain tower layer rather than
/// `axum::middleware::from_fn`, which boxes the inner service and its future per request.
#[derive(Clone)]
pub struct TrackLayer(pub Arc<Metrics>);

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;
    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            metrics: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Track<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> tower::Service<Request> for Track<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Tracked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let method = static_method(req.method());
        let route = req.extensions().get::<MatchedPath>().cloned();
        Tracked {
            inner: self.inner.call(req),
            start: Instant::now(),
            method,
            route,
            metrics: self.metrics.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's future, timed.
    pub struct Tracked<F> {
        #[pin]
        inner: F,
        start: Instant,
        method: &'static str,
        route: Option<MatchedPath>,
        metrics: Arc<Metrics>,
    }
}

impl<F, E> Future for Tracked<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Ok(res) = &result {
            this.metrics.observe(
                this.route.as_ref().map_or("unmatched", |p| p.as_str()),
                this.method,
                res.status().as_u16(),
                this.start.elapsed().as_nanos() as u64,
            );
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_cumulative_buckets_render_as_prometheus_text() {
        let m = Metrics::default();
        m.observe("/v1/decide", "POST", 200, 50_000); // first bucket
        m.observe("/v1/decide", "POST", 200, 300_000); // 0.0005
        m.observe("/v1/decide", "POST", 422, 2_000_000_000); // above every bound
        m.set_gauge("custodian_outbox", &[("status", "queued")], 3.0);
        m.add_counter("custodian_retention_records_purged_total", 2);
        m.add_counter("custodian_retention_records_purged_total", 5);
        let text = m.render();
        for line in [
            r#"custodian_http_requests_total{method="POST",route="/v1/decide",status="200"} 2"#,
            r#"custodian_http_requests_total{method="POST",route="/v1/decide",status="422"} 1"#,
            r#"custodian_http_request_duration_seconds_bucket{route="/v1/decide",le="0.0001"} 1"#,
            r#"custodian_http_request_duration_seconds_bucket{route="/v1/decide",le="0.00025"} 1"#,
            r#"custodian_http_request_duration_seconds_bucket{route="/v1/decide",le="0.0005"} 2"#,
            r#"custodian_http_request_duration_seconds_bucket{route="/v1/decide",le="1"} 2"#,
            r#"custodian_http_request_duration_seconds_bucket{route="/v1/decide",le="+Inf"} 3"#,
            r#"custodian_http_request_duration_seconds_count{route="/v1/decide"} 3"#,
            r#"custodian_outbox{status="queued"} 3"#,
            "# TYPE custodian_retention_records_purged_total counter",
            "custodian_retention_records_purged_total 7",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        let sum: f64 = text
            .lines()
            .find_map(|l| {
                l.strip_prefix(
                    r#"custodian_http_request_duration_seconds_sum{route="/v1/decide"} "#,
                )
            })
            .unwrap()
            .parse()
            .unwrap();
        assert!((sum - 2.00035).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(render_labels(&[("a", "x\"y\\z\nw")]), r#"{a="x\"y\\z\nw"}"#);
        assert_eq!(render_labels(&[]), "");
    }
}
