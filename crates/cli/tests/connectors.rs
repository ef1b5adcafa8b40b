//! The real binary's datastore and dataset commands: register, check, dry run, erase, access,
//! and a run killed with SIGKILL mid-way that resumes to the same end state.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use custodian_connectors::{company, sql::Db};
use support::{bin, temp_dir};

const SECRET: &str = "0101010101010101010101010101010101010101010101010101010101010101";

fn cli(dir: &Path, company_url: &str, helpdesk: &str) -> Command {
    let mut c = bin();
    c.current_dir(dir)
        .env_remove("CUSTODIAN_CONFIG")
        .env(
            "CUSTODIAN_DATABASE_URL",
            format!("sqlite://{}", dir.join("custodian.db").display()),
        )
        .env("CUSTODIAN_SECRET", SECRET)
        .env("COMPANY_DATABASE_URL", company_url)
        .env("HELPDESK_URL", helpdesk)
        .env("HELPDESK_SECRET", "helpdesk-secret");
    c
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn dataset_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/company/company.toml")
}

async fn scalar(db: &Db, sql: &str) -> String {
    let mut s = db.sql();
    s.push(&sql.replacen("COUNT(*)", "CAST(COUNT(*) AS TEXT)", 1));
    db.text_rows(&s).await.unwrap()[0][0]
        .clone()
        .unwrap_or_default()
}

/// A stand-in helpdesk whose first request hangs forever and whose later ones succeed. The
/// counter says how many connections it has accepted, so the test kills the run only once the
/// hanging request is really in flight (a slow machine may mark the step running well before
/// it connects).
fn helpdesk() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (n, stream) in listener.incoming().enumerate() {
            let mut s = stream.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            if n == 0 {
                held.push(s);
                continue;
            }
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let body = r#"{"erased":1}"#;
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    (format!("http://{addr}/privacy"), accepted)
}

// One scenario followed end to end: the datastore commands run in order on one configuration
// (check, dry run, erase, retry, access), ending with a run killed mid-way and resumed.
#[tokio::test]
async fn datastore_commands_and_a_killed_run_resumes() {
    let dir = temp_dir("connectors");
    let company_url = format!("sqlite://{}?mode=rwc", dir.join("company.db").display());
    let db = Db::connect(&company_url).await.unwrap();
    company::create_schema(&db).await.unwrap();
    company::generate(&db, 10, 0).await.unwrap();
    let (hd, helpdesk_accepted) = helpdesk();
    let run = |args: &[&str]| cli(&dir, &company_url, &hd).args(args).output().unwrap();

    ok(run(&[
        "datastore",
        "add",
        "company",
        "--dataset",
        dataset_path().to_str().unwrap(),
        "--url-env",
        "COMPANY_DATABASE_URL",
    ]));
    let check = ok(run(&["dataset", "check", "--datastore", "company"]));
    assert!(check.contains("matches"), "{check}");

    // Dry run: the report, and nothing changed.
    let dry = ok(run(&[
        "datastore",
        "erase",
        "company",
        "--email",
        "customer-4@example.com",
        "--dry-run",
    ]));
    let dry: serde_json::Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM support_tickets WHERE customer_id = 4"
        )
        .await,
        "1"
    );
    let real = ok(run(&[
        "datastore",
        "erase",
        "company",
        "--email",
        "customer-4@example.com",
        "--hold-anchor",
        "2026-01-31",
    ]));
    let real: serde_json::Value = serde_json::from_str(&real).unwrap();
    assert_eq!(
        dry["steps"][0]["result"]["changes"],
        real["steps"][0]["result"]["changes"]
    );
    assert_eq!(
        real["steps"][0]["result"]["holds"][0]["until"],
        "2033-01-31"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM support_tickets WHERE customer_id = 4"
        )
        .await,
        "0"
    );

    // A completed run has forgotten the subject's identifiers: retrying one of its steps is
    // refused with the reason, and the run stays done.
    let done_run = real["run"].as_str().unwrap();
    let refused = run(&["datastore", "runs", "retry", done_run, "--step", "0"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("no longer holds the subject's identifiers")
            && stderr.contains("plan a new run"),
        "{stderr}"
    );
    let shown: serde_json::Value =
        serde_json::from_str(&ok(run(&["datastore", "runs", "show", done_run]))).unwrap();
    assert_eq!(shown["status"], "done", "{shown}");
    assert_eq!(shown["steps"][0]["status"], "done", "{shown}");

    // Access: JSON lines on standard output; nothing about the subject on standard error.
    let out = run(&[
        "datastore",
        "access",
        "company",
        "--email",
        "customer-5@example.com",
    ]);
    let stdout = ok(out.clone());
    assert!(stdout.lines().count() >= 8);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("customer-5"));

    // Each of those commands is in the audit trail, by run id, and no one in it is named.
    let trail = ok(run(&["audit", "list"]));
    let acts: Vec<(String, String)> = trail
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let want = [
        ("datastore.added", "-"),
        ("datastore.erasure", "done dry_run"),
        ("datastore.erasure", "done"),
        ("datastore.access", "done"),
    ];
    assert_eq!(
        acts,
        want.map(|(a, d)| (a.to_owned(), d.to_owned())),
        "{trail}"
    );
    assert!(
        trail.contains(done_run) && !trail.contains("customer-"),
        "{trail}"
    );

    // A run over the database and a helpdesk that hangs: kill -9 while the helpdesk step runs.
    let helpdesk_ds = dir.join("helpdesk.toml");
    std::fs::write(&helpdesk_ds, "name = \"helpdesk\"\n[connection]\nurl_env = \"HELPDESK_URL\"\n[http]\nsecret_env = \"HELPDESK_SECRET\"\n").unwrap();
    ok(run(&[
        "datastore",
        "add",
        "helpdesk",
        "--dataset",
        helpdesk_ds.to_str().unwrap(),
    ]));
    let mut child = cli(&dir, &company_url, &hd)
        .args([
            "datastore",
            "erase",
            "company",
            "helpdesk",
            "--email",
            "customer-6@example.com",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let store = Db::connect(&format!("sqlite://{}", dir.join("custodian.db").display()))
        .await
        .unwrap();
    let started = Instant::now();
    let run_id = loop {
        let mut s = store.sql();
        s.push("SELECT r.id FROM connector_runs r JOIN connector_run_steps a ON a.run_id = r.id AND a.seq = 0 AND a.status = 'done' \
                JOIN connector_run_steps b ON b.run_id = r.id AND b.seq = 1 AND b.status = 'running'");
        if let Some(row) = store.text_rows(&s).await.unwrap().into_iter().next() {
            if helpdesk_accepted.load(Ordering::SeqCst) >= 1 {
                break row[0].clone().unwrap();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run never reached the helpdesk step"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM support_tickets WHERE customer_id = 6"
        )
        .await,
        "0"
    );

    let resumed = ok(run(&[
        "datastore",
        "runs",
        "resume",
        &run_id,
        "--take-over",
    ]));
    let resumed: serde_json::Value = serde_json::from_str(&resumed).unwrap();
    assert_eq!(resumed["status"], "done", "{resumed}");
    assert_eq!(
        resumed["steps"][0]["attempts"], 1,
        "the finished step is not run again"
    );
    assert_eq!(resumed["steps"][1]["attempts"], 2);
    assert_eq!(resumed["steps"][1]["result"]["status"], 200);
    let list = ok(run(&["datastore", "runs", "list"]));
    assert!(list.contains(&run_id));
    let shown = ok(run(&["datastore", "runs", "show", &run_id]));
    assert!(!shown.contains("customer-6"), "runs never show identifiers");
    db.close().await;
    store.close().await;
}
