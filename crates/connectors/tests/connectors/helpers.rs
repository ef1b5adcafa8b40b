//! Shared helpers: the sample company's database and dataset, erasure with or without holds,
//! a store on a manual clock with its backoffs driven, and a gated stand-in HTTP service.

use crate::support;
use custodian_connectors::access::{access, AccessRecord};
use custodian_connectors::company;
use custodian_connectors::dataset;
use custodian_connectors::dataset_file;
use custodian_connectors::erase::{self, ChangeReport, Operation};
use custodian_connectors::run::{self, ExecuteOptions, RunKind, RunSpec};
use custodian_connectors::sql::Db;
use custodian_connectors::Identities;
use custodian_core::clock::{Clock, ManualClock};
use custodian_store::Store;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn fides_dir() -> PathBuf {
    std::env::var("CUSTODIAN_FIDES_SAMPLE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("crates/connectors/tests/fixtures/fides-sample"))
}

pub(crate) fn email(e: &str) -> Identities {
    run::identities([("email", e)])
}

pub(crate) fn no_holds(_: &str) -> Option<jiff::civil::Date> {
    None
}

pub(crate) fn seven_years(rule: &str) -> Option<jiff::civil::Date> {
    (rule == "accounting_records").then(|| jiff::civil::date(2033, 1, 31))
}

pub(crate) async fn company_db(url: &str, customers: u64) -> Db {
    let db = Db::connect(url).await.unwrap();
    company::create_schema(&db).await.unwrap();
    company::generate(&db, customers, 0).await.unwrap();
    db
}

pub(crate) fn company_dataset() -> dataset::Dataset {
    dataset_file::parse(company::DATASET).unwrap().0
}

pub(crate) async fn collect(
    db: &Db,
    ds: &dataset::Dataset,
    ids: &Identities,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut sink = |r: &AccessRecord<'_>| {
        out.push(serde_json::to_value(r).unwrap());
        Ok::<(), custodian_connectors::ConnectorError>(())
    };
    access(db, ds, ids, &mut sink).await.unwrap();
    out
}

pub(crate) async fn count(db: &Db, sql: &str) -> i64 {
    let mut s = db.sql();
    s.push(&sql.replacen("COUNT(*)", &db.dialect().as_text("COUNT(*)"), 1));
    db.text_rows(&s).await.unwrap()[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

pub(crate) async fn erase_now(
    db: &Db,
    ds: &dataset::Dataset,
    ids: &Identities,
    dry_run: bool,
) -> ChangeReport {
    erase::apply(
        db,
        ds,
        ids,
        Operation::Erase {
            hash_key: b"k",
            holds: &seven_years,
        },
        dry_run,
    )
    .await
    .unwrap()
}

pub(crate) fn write_dataset(text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("custodian-ds-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("dataset.toml");
    std::fs::write(&p, text).unwrap();
    p
}

pub(crate) fn rand_suffix() -> String {
    use rand::RngCore;
    let mut b = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

pub(crate) const T0: i64 = 1_700_000_000_000_000;

/// A fresh SQLite store on a clock the test moves.
pub(crate) async fn store_on(clock: &ManualClock) -> Store {
    Store::open(&support::fresh_sqlite_url())
        .await
        .unwrap()
        .with_clock(Arc::new(clock.clone()))
}

/// Polls `cond` until it holds (another task reaching a state); fails after ten seconds.
pub(crate) async fn until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// Moves `clock` to each retry time the store's runs record, so backoffs pass at once.
pub(crate) async fn drive_backoff(store: &Store, clock: &ManualClock) {
    loop {
        for r in store.runs(None, 50).await.unwrap() {
            for s in store.run_steps(&r.id).await.unwrap() {
                if let (true, Some(at)) = (s.status.as_str() == "retrying", s.next_attempt_at) {
                    if at > clock.now_micros() {
                        clock.set(at);
                    }
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// `run` with its backoffs passed by moving the clock.
pub(crate) async fn with_backoff_driven<T>(
    store: &Store,
    clock: &ManualClock,
    run: impl std::future::Future<Output = T>,
) -> T {
    tokio::select! {
        r = run => r,
        () = drive_backoff(store, clock) => unreachable!("the driver never ends"),
    }
}

/// A stand-in service that counts the calls per path and holds every answer until the test
/// opens the gate.
pub(crate) async fn gated_service() -> (
    String,
    Arc<Mutex<BTreeMap<String, u32>>>,
    Arc<tokio::sync::watch::Sender<bool>>,
) {
    use axum::{extract::Path, routing::post, Router};
    let calls: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
    let gate = Arc::new(tokio::sync::watch::channel(false).0);
    let app = {
        let (calls, gate) = (calls.clone(), gate.clone());
        Router::new().route(
            "/{name}",
            post(move |Path(name): Path<String>| {
                let (calls, mut open) = (calls.clone(), gate.subscribe());
                async move {
                    *calls.lock().unwrap().entry(name).or_default() += 1;
                    let _ = open.wait_for(|open| *open).await;
                    r#"{"erased":1}"#
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), calls, gate)
}

pub(crate) fn called(calls: &Mutex<BTreeMap<String, u32>>, name: &str) -> u32 {
    calls.lock().unwrap().get(name).copied().unwrap_or(0)
}

/// Registers HTTP datastores named `names`, served at `base/<name>`.
pub(crate) async fn http_datastores(store: &Store, base: &str, names: &[&str]) {
    let secret_var = format!("LEASE_SECRET_{}", rand_suffix());
    std::env::set_var(&secret_var, "lease-secret");
    for name in names {
        let url_var = format!("LEASE_URL_{}", rand_suffix());
        std::env::set_var(&url_var, format!("{base}/{name}"));
        let path = write_dataset(&format!(
            "name = \"{name}\"\n[connection]\nurl_env = \"{url_var}\"\n[http]\nsecret_env = \"{secret_var}\"\n"
        ));
        store
            .put_datastore(name, path.to_str().unwrap(), None, None)
            .await
            .unwrap();
    }
}

pub(crate) fn erasure_of(datastores: &[&str]) -> RunSpec {
    RunSpec {
        kind: RunKind::Erasure,
        identities: email("lease@example.com"),
        corrections: BTreeMap::new(),
        datastores: Some(datastores.iter().map(|s| s.to_string()).collect()),
        dry_run: false,
        request_id: None,
    }
}

/// A run's lease in these tests, on the store's (manual) clock.
pub(crate) const LEASE: i64 = 60_000_000;

pub(crate) fn leased<'a>(owner: &str, take_over: bool) -> ExecuteOptions<'a> {
    let mut o = ExecuteOptions::new(&no_holds);
    o.owner = owner.into();
    o.lease = std::time::Duration::from_micros(LEASE as u64);
    o.take_over = take_over;
    o.retry.max_attempts = 1;
    o
}
