//! bench/archive-rss.sh: the peak resident memory of the process that builds an access
//! archive whose subject has many rows in the company's datastore (real PostgreSQL).
//!
//! `archive-rss STORE_URL COMPANY_URL_ENV DATASET EMAIL`: builds the application as `serve`
//! does (over a fresh Custodian store at STORE_URL, with DATASET registered as the datastore
//! `company`, its URL in the environment variable COMPANY_URL_ENV), takes an access request
//! for EMAIL in, builds its archive exactly as a download does — the company's rows read
//! through the connectors — reads it through to /dev/null, and prints the archive's size, the time
//! and the process's peak resident set (VmHWM) before and after.

use std::sync::Arc;
use std::time::Instant;

use custodian_app::requests::{self, export};
use custodian_core::request::Kind;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

// One straight script, as a benchmark should read: set up, measure, print.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [store_url, url_env, dataset, email] = &args[..] else {
        panic!("usage: archive-rss STORE_URL COMPANY_URL_ENV DATASET EMAIL")
    };
    let store = custodian_store::Store::open(store_url)
        .await
        .expect("store");
    store
        .put_datastore("company", dataset, Some(url_env), None)
        .await
        .expect("register the datastore");
    let settings = custodian_app::Settings {
        policy: custodian_policy::example(),
        store: store.clone(),
        secret: b"bench-secret-bench-secret-bench-secret".to_vec(),
        public_url: "http://custodian.bench".into(),
        clock: Arc::new(custodian_core::clock::SystemClock),
        smtp: None,
        intake_limits: Default::default(),
        datastores: Vec::new(),
        master_key: custodian_core::keys::MasterKey::from_bytes([7; 32]),
        key_store: store.clone(),
        consent_image: Default::default(),
    };
    let state = custodian_app::build(settings, Arc::new(custodian_app::NoTelemetry))
        .await
        .expect("build the application");
    let row = requests::intake(
        &state,
        requests::Intake {
            kind: Kind::Access,
            email: email.clone(),
            details: None,
            country: None,
            language: None,
            customer: None,
            purposes: Vec::new(),
        },
        None,
    )
    .await
    .expect("intake");
    let before = peak_rss_kib();
    let t = Instant::now();
    let mut archive = export::archive(&state, &row).await.expect("archive");
    let size = std::io::copy(&mut archive.file, &mut std::io::sink()).expect("read the archive");
    assert_eq!(size, archive.len);
    println!(
        "archive of {size} bytes in {:.1} s; peak RSS {} KiB (before building: {before} KiB)",
        t.elapsed().as_secs_f64(),
        peak_rss_kib()
    );
}
