//! The privacy team's console in a real browser (issue 14): the server is built in this
//! process, exactly as `serve` builds it but on a clock the test moves, listens on loopback,
//! and `tests/browser/console.e2e.mjs` drives Debian's headless Chromium through it — sign-in,
//! a wrong password, TOTP enrolment and sign-in, a session expiring, a CSRF refusal, a viewer
//! refused an action, a request worked from the queue to completed through the forms, the
//! overview's charts and their tables checked against consent the script recorded, and axe-core
//! on every page with no serious or critical violation. Screenshots of every page go to a
//! freshly emptied `test-artifacts/console/`.
//!
//! The clock: a second loopback listener here answers `GET /now` (the server's time in
//! microseconds), `POST /set?at=MICROS` and `POST /advance?seconds=N`, so the script computes
//! TOTP codes on the server's time and lets a session expire without waiting. Nothing of it is
//! in the product.
//!
//! Needs what the banner's browser test needs (`node`, the npm packages of `tests/browser`,
//! `/usr/bin/chromium` or `CHROMIUM`); where one cannot be had, `crates/cli/build.rs` marks
//! the test ignored with the reason — never under `CI=true`, where a missing piece fails it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use custodian_core::clock::{Clock, ManualClock};
use custodian_core::request::{Kind, Status};
use custodian_core::staff::StaffRole;
use custodian_core::subject::{IdKind, SubjectId};
use custodian_server::SharedState;
use custodian_store::requests::{HistoryEntry, NewRequest, RequestRow};
use custodian_store::Store;

#[path = "support/browser.rs"]
mod support;

/// 2026-03-04T09:30:00Z, a Wednesday: where the server's clock starts.
const START: i64 = 1_772_616_600_000_000;
const DAY: i64 = 86_400_000_000;
const PASSWORD: &str = "correct horse battery staple";

/// Answers the script's clock requests until the test ends (the thread is left behind).
fn clock_control(clock: ManualClock) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            // The headers are read and dropped; no request has a body.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let target = first.split_whitespace().nth(1).unwrap_or("");
            let number = |key: &str| {
                target
                    .split_once(&format!("{key}="))
                    .and_then(|(_, v)| v.parse::<i64>().ok())
            };
            let ok = if target.starts_with("/set") {
                number("at").map(|at| clock.set(at)).is_some()
            } else if target.starts_with("/advance") {
                number("seconds")
                    .map(|s| clock.advance(s * 1_000_000))
                    .is_some()
            } else {
                target.starts_with("/now")
            };
            let body = clock.now_micros().to_string();
            let status = if ok { "200 OK" } else { "400 Bad Request" };
            let _ = write!(
                &stream,
                "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// A request as intake leaves it once verified, received `days_ago` days before the clock's
/// now; `completed_days_ago` closes it then.
async fn seed(
    state: &SharedState,
    store: &Store,
    kind: Kind,
    (jurisdiction, country): (&str, &str),
    days_ago: i64,
    completed_days_ago: Option<i64>,
) -> String {
    let now = state.clock.now_micros();
    let id = state.ids.next("req");
    let received = now - days_ago * DAY;
    let email = format!("person-{id}@example.com");
    let subject = state
        .hasher
        .reference(&SubjectId::parse(IdKind::Email, &email).unwrap());
    let mut row = RequestRow {
        id: id.clone(),
        kind,
        status: Status::Verified,
        subject_ref: subject.to_hex(),
        email_sealed: state.sealer.seal(&email, &format!("requests/{id}/email")),
        details_sealed: None,
        language: "en".into(),
        country: Some(country.into()),
        jurisdiction: jurisdiction.into(),
        customer_id: None,
        received_at: received,
        verified_at: Some(received),
        code_hash: None,
        code_expires_at: None,
        attempts: 0,
        acknowledge_due: 0,
        answer_due: 0,
        extended_months: 0,
        assignee: None,
        completed_at: None,
        updated_at: received,
        extended_days: 0,
        paused_since: None,
        pause_reason: None,
        paused_days: 0,
    };
    let due = custodian_app::requests::due_of(state, &row, received);
    row.acknowledge_due = due.acknowledge_due.as_microsecond();
    row.answer_due = due.answer_due.as_microsecond();
    if let Some(d) = completed_days_ago {
        row.status = Status::Completed;
        row.completed_at = Some(now - d * DAY);
        row.updated_at = now - d * DAY;
    }
    let first = HistoryEntry {
        at: received,
        actor: "requester".into(),
        action: "verify".into(),
        from_status: Some(Status::AwaitingVerification),
        to_status: Status::Verified,
        detail_sealed: None,
    };
    store
        .insert_requests(&[NewRequest {
            row,
            first,
            mail: None,
            key: None,
        }])
        .await
        .unwrap();
    id
}

/// The server as `serve` builds it, on `clock`, over a fresh SQLite database in `dir`.
async fn server(dir: &Path, clock: ManualClock) -> (SharedState, Store) {
    let url = format!("sqlite://{}", dir.join("custodian.db").display());
    let store = Store::open(&url).await.unwrap();
    let keys = Store::open(&format!(
        "sqlite://{}",
        dir.join("custodian-keys.db").display()
    ))
    .await
    .unwrap();
    let state = custodian_server::build(custodian_server::Settings {
        app: custodian_app::Settings {
            policy: custodian_policy::example(),
            store: store.clone(),
            secret: b"console-browser-test-secret-0123456789".to_vec(),
            public_url: "http://127.0.0.1".into(),
            clock: Arc::new(clock),
            smtp: None,
            intake_limits: Default::default(),
            datastores: Vec::new(),
            master_key: custodian_core::keys::MasterKey::from_bytes([0x5a; 32]),
            key_store: keys,
            consent_image: Default::default(),
        },
        allowed_origins: None,
        console: custodian_server::console::Options { idle_minutes: 30 },
    })
    .await
    .unwrap();
    for (email, role) in [
        ("admin@example.com", StaffRole::Admin),
        ("dpo@example.com", StaffRole::Dpo),
        ("viewer@example.com", StaffRole::Viewer),
    ] {
        state.users.add(email, role, PASSWORD).await.unwrap();
    }
    (state, store)
}

// Where this machine cannot run it, the build script says why and the summary shows the test
// ignored with that reason (never under CI=true): see crates/cli/build.rs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    browser_test_cannot_run = "node",
    ignore = "node is not installed (apt-get install -y nodejs npm)"
)]
#[cfg_attr(
    browser_test_cannot_run = "npm",
    ignore = "the npm packages of tests/browser are missing and npm is not installed (apt-get install -y npm)"
)]
#[cfg_attr(
    browser_test_cannot_run = "chromium",
    ignore = "chromium is not installed (apt-get install -y chromium, or set CHROMIUM)"
)]
async fn the_console_works_in_chromium() {
    let root = support::repo();
    let browser_dir = root.join("tests/browser");
    let chromium = support::chromium();
    if let Some(why) = support::missing(&browser_dir, &chromium) {
        panic!("the console's browser test cannot run: {why}");
    }
    let artifacts = root.join("test-artifacts/console");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    // Straight to stderr: the test harness captures `println!` of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "console screenshots: {}",
        artifacts.display()
    );

    let dir =
        std::env::temp_dir().join(format!("custodian-console-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let clock = ManualClock::at(START);
    let (state, store) = server(&dir, clock.clone()).await;

    // The queue: the access request the script works (UK GDPR, so it may be paused for
    // clarification), requests of every age under the GDPR (some overdue), and some completed
    // in earlier weeks for the weekly chart.
    let worked = seed(&state, &store, Kind::Access, ("uk_gdpr", "GB"), 2, None).await;
    let kinds = [
        Kind::Erasure,
        Kind::Access,
        Kind::Rectification,
        Kind::Objection,
    ];
    for (i, days) in [1, 3, 6, 9, 13, 20, 26, 29, 33, 38, 45, 52]
        .into_iter()
        .enumerate()
    {
        seed(
            &state,
            &store,
            kinds[i % kinds.len()],
            ("gdpr", "DE"),
            days,
            None,
        )
        .await;
    }
    for (days, done) in [(60, 40), (50, 30), (40, 18), (30, 12), (20, 5)] {
        seed(
            &state,
            &store,
            Kind::Erasure,
            ("gdpr", "DE"),
            days,
            Some(done),
        )
        .await;
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(custodian_server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    let clock_url = clock_control(clock);

    let node = {
        let (root, url, chromium, artifacts) = (
            root.clone(),
            url.clone(),
            chromium.clone(),
            artifacts.clone(),
        );
        tokio::task::spawn_blocking(move || {
            Command::new("node")
                .args([
                    "--test",
                    "--test-reporter=spec",
                    "tests/browser/console.e2e.mjs",
                ])
                .current_dir(&root)
                .env("CUSTODIAN_URL", &url)
                .env("CUSTODIAN_CLOCK", &clock_url)
                .env("CUSTODIAN_REQUEST", &worked)
                .env("CUSTODIAN_PASSWORD", PASSWORD)
                .env("CHROMIUM", &chromium)
                .env("CUSTODIAN_ARTIFACTS", &artifacts)
                .status()
                .expect("running node")
        })
    };
    let status = node.await.unwrap();
    let _ = stop.send(());
    let _ = served.await;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        status.success(),
        "the console's browser test failed (output above; screenshots in {})",
        artifacts.display()
    );
    let shots = std::fs::read_dir(&artifacts).unwrap().count();
    assert!(
        shots >= 12,
        "a screenshot of every page: {shots} in {}",
        artifacts.display()
    );
}
