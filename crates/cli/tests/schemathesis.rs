//! Hostile input at every route (issue 15): schemathesis generates requests from the OpenAPI
//! document — valid and invalid bodies, parameters and headers, and sequences that follow the
//! links between operations — and checks the real `custodian serve` on SQLite and on a fresh
//! PostgreSQL database: no 5xx, every status, content type and body as documented
//! (`tests/schemathesis/run.sh`, docs/testing.md). Fixed seed, a bounded number of examples.
//!
//! The script installs its pinned schemathesis into a virtual environment of its own (once;
//! `.ci/run` does it ahead). Where that cannot be done — no `python3`, no network for `pip`,
//! no PostgreSQL — it exits 77: outside CI the test says why and passes without running, under
//! `CI=true` it fails with the reason.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// One run at a time: two would share two cores and one virtual environment.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(backend: &str) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new("bash")
        .arg(repo().join("tests/schemathesis/run.sh"))
        .arg(backend)
        .env("CUSTODIAN_BIN", env!("CARGO_BIN_EXE_custodian"))
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(77) {
        let reason = stderr.lines().last().unwrap_or("").to_owned();
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "schemathesis must run in CI: {reason}"
        );
        eprintln!("skipped: {reason}");
        return;
    }
    // The figures for the report: how many cases ran, and the closing line.
    let cases = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" generated"))
        .unwrap_or("")
        .trim();
    let closing = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" in "))
        .unwrap_or("")
        .trim();
    eprintln!("schemathesis on {backend}: {cases} — {closing}");
    assert!(
        out.status.success(),
        "schemathesis on {backend} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        cases.contains("passed"),
        "no test case ran on {backend}:\n{stdout}"
    );
}

#[test]
fn the_api_holds_against_schemathesis_on_sqlite() {
    run("sqlite");
}

#[test]
fn the_api_holds_against_schemathesis_on_postgres() {
    run("postgres");
}
