//! What one audit-trail append costs: the head row read under its lock, the entry hashed and
//! inserted, the head moved, committed — `Store::append_audit`, the whole of what
//! `custodian_app::audit::record` adds to an administrative act. Measured one at a time (the
//! latency an act waits) and from several nodes at once (separate pools on one database, all
//! queueing on the head row), then the chain verified.
//!
//! Usage:
//!   audit-append sqlite   DIR                     [--appends N] [--nodes K]
//!   audit-append postgres postgres://USER@HOST/DB [--appends N] [--nodes K]
//!
//! Prints one JSON line per phase.

use std::time::{Duration, Instant};

use custodian_store::Store;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

async fn append(store: &Store, node: u64, i: u64) {
    store
        .append_audit(
            &format!("tok_bench{node}"),
            "request.noted",
            &format!("req_{node}_{i}"),
            None,
        )
        .await
        .expect("append");
}

// One run read top to bottom: open, the three phases in order, each printing its line.
#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (backend, target) = (
        args.get(1).cloned().unwrap_or_default(),
        args.get(2).cloned().unwrap_or_default(),
    );
    let url = match backend.as_str() {
        "sqlite" => {
            std::fs::create_dir_all(&target).expect("create DIR");
            format!("sqlite://{target}/custodian.db")
        }
        "postgres" => target,
        _ => {
            eprintln!("usage: audit-append sqlite DIR | postgres URL [--appends N] [--nodes K]");
            std::process::exit(2);
        }
    };
    let appends = arg(&args, "--appends", 2000);
    let nodes = arg(&args, "--nodes", 4);
    let store = Store::open(&url).await.expect("open store");

    // One at a time: what a single administrative act waits for.
    let mut lat = Vec::with_capacity(appends as usize);
    let t0 = Instant::now();
    for i in 0..appends {
        let t = Instant::now();
        append(&store, 0, i).await;
        lat.push(t.elapsed());
    }
    let total = t0.elapsed();
    lat.sort();
    println!(
        "{}",
        serde_json::json!({
            "phase": "sequential", "backend": backend, "appends": appends,
            "per_second": (appends as f64 / total.as_secs_f64()).round(),
            "mean_us": (total.as_secs_f64() * 1e6 / appends as f64).round(),
            "p50_us": percentile(&lat, 0.5).round(), "p99_us": percentile(&lat, 0.99).round(),
        })
    );

    // Several nodes at once, each with its own pool and 4 acts in flight.
    let mut handles = Vec::new();
    let t0 = Instant::now();
    for n in 1..=nodes {
        let node = Store::connect(&url).await.expect("connect node");
        for c in 0..4u64 {
            let node = node.clone();
            let per_task = appends / (nodes * 4);
            handles.push(tokio::spawn(async move {
                for i in 0..per_task {
                    append(&node, n, c * per_task + i).await;
                }
                per_task
            }));
        }
    }
    let mut done = 0;
    for h in handles {
        done += h.await.expect("task");
    }
    let total = t0.elapsed();
    println!(
        "{}",
        serde_json::json!({
            "phase": "concurrent", "backend": backend, "nodes": nodes, "appends": done,
            "per_second": (done as f64 / total.as_secs_f64()).round(),
        })
    );

    let t0 = Instant::now();
    let report = store.verify_audit().await.expect("verify");
    println!(
        "{}",
        serde_json::json!({
            "phase": "verify", "backend": backend, "entries": report.entries_checked, "ok": report.ok(),
            "seconds": (t0.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        })
    );
    assert!(report.ok(), "{report:?}");
}
