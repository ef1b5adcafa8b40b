//! The consent ledger through the real binary: crash safety under kill -9, tamper detection
//! by `ledger verify`, CSV import and export, and unsubscribe links from the CLI.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use support::{bin, http, serve, signal, temp_dir};

fn consent_body(device: &str) -> String {
    format!(
        r#"{{"subject":{{"device_id":"{device}"}},"choices":{{"analytics":true}},"policy_version":"2018-05-25","source":"banner"}}"#
    )
}

// One scenario followed end to end: writers against a server, a kill -9 mid-burst, a restart, then
// every acknowledged write found and the ledger verified.
#[test]
fn every_acknowledged_write_survives_kill_9_and_the_ledger_verifies() {
    let dir = temp_dir("crash");
    // A burst from one client is what this test needs, so the per-client limit is off.
    let (mut child, url) = serve(&dir, &["--consent-limit-per-client", "0"]);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (url, acked, stop) = (url.clone(), acked.clone(), stop.clone());
        writers.push(std::thread::spawn(move || {
            // Bounded: at most 2,000 writes per thread, and only until the server dies.
            for i in 0..2_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let device = format!("crash-device-{w:02}-{i:06}");
                let Ok((status, _)) = std::panic::catch_unwind(|| {
                    http(
                        "POST",
                        &format!("{url}/v1/consent"),
                        None,
                        Some(&consent_body(&device)),
                    )
                }) else {
                    break; // connection refused or cut: the server is gone
                };
                if status == 201 {
                    acked.lock().unwrap().push(device);
                }
            }
        }));
    }
    // Let a burst build up, then kill the server without warning.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while acked.lock().unwrap().len() < 300 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    signal(child.id(), "KILL");
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.join();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 100,
        "the burst wrote too little to test anything: {}",
        acked.len()
    );

    let (mut child, url) = serve(&dir, &[]);
    for device in &acked {
        let (status, body) = http(
            "GET",
            &format!("{url}/v1/consent?device_id={device}"),
            None,
            None,
        );
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains(r#""purpose":"analytics","given":true"#),
            "acknowledged write of {device} lost: {body}"
        );
    }
    signal(child.id(), "TERM");
    child.wait().unwrap();

    let out = bin()
        .args(["ledger", "verify", "--json"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert!(report["report"]["events_checked"].as_u64().unwrap() >= acked.len() as u64);
    assert!(
        report["report"]["checkpoints_checked"].as_u64().unwrap() >= 1,
        "shutdown writes a checkpoint"
    );
}

#[test]
fn ledger_verify_names_the_event_edited_in_the_database() {
    let dir = temp_dir("tamper");
    let (mut child, url) = serve(&dir, &[]);
    let mut first_receipt = serde_json::Value::Null;
    for i in 0..10 {
        let (status, body) = http(
            "POST",
            &format!("{url}/v1/consent"),
            None,
            Some(&consent_body(&format!("tamper-device-{i:08}"))),
        );
        assert_eq!(status, 201);
        if i == 0 {
            first_receipt = serde_json::from_str(&body).unwrap();
        }
    }
    signal(child.id(), "TERM");
    child.wait().unwrap();
    assert!(bin()
        .args(["ledger", "verify"])
        .current_dir(&dir)
        .status()
        .unwrap()
        .success());

    // Turn a recorded "yes" into a "no" behind Custodian's back.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let victim: String = rt.block_on(async {
        let store = custodian_store::Store::connect(&format!(
            "sqlite://{}",
            dir.join("custodian.db").display()
        ))
        .await
        .unwrap();
        let pool = store.sqlite_pool().expect("an SQLite store");
        // What the receipt promised is what the ledger holds: the event's hash, and only the
        // client's network (the test client is 127.0.0.1).
        let purpose = &first_receipt["receipt"]["purposes"][0];
        let (hash, ip): (String, Option<String>) =
            sqlx::query_as("SELECT hash, ip_truncated FROM consent_events WHERE id = ?")
                .bind(purpose["event_id"].as_str().unwrap())
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(purpose["event_hash"].as_str(), Some(hash.as_str()));
        assert_eq!(ip.as_deref(), Some("127.0.0.0"));
        let id: String =
            sqlx::query_scalar("SELECT id FROM consent_events ORDER BY gseq LIMIT 1 OFFSET 4")
                .fetch_one(pool)
                .await
                .unwrap();
        sqlx::query("UPDATE consent_events SET given = 0 WHERE id = ?")
            .bind(&id)
            .execute(pool)
            .await
            .unwrap();
        store.close().await;
        id
    });
    let out = bin()
        .args(["ledger", "verify"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&victim),
        "names the edited event {victim}: {err}"
    );
}

// One scenario followed end to end: an import with bad rows, the same import again, both export
// formats reading it back, a server deciding by it, and the ledger verified.
#[test]
fn import_reports_bad_rows_writes_good_ones_once_and_export_reads_them_back() {
    let dir = temp_dir("import");
    let csv = "email,purpose,given,at\n\
               ada@example.com,marketing,true,2025-03-01T10:00:00Z\n\
               not-an-email,marketing,true,\n\
               bob@example.com,service_email,true,\n\
               carol@example.com,marketing,maybe,\n\
               dan@example.com,marketing,false,\n\
               erin@example.com,marketing,true,2999-01-01T00:00:00Z\n";
    std::fs::write(dir.join("optins.csv"), csv).unwrap();
    let out = bin()
        .args(["consent", "import", "optins.csv"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "bad rows make the exit non-zero"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for line in ["line 3:", "line 4:", "line 5:", "line 7:"] {
        assert!(err.contains(line), "reports {line}: {err}");
    }
    assert!(
        !err.contains("line 2:") && !err.contains("line 6:"),
        "{err}"
    );
    assert!(err.contains("2 event(s) written"), "{err}");

    // A second import of the same file writes nothing more.
    let out = bin()
        .args(["consent", "import", "optins.csv", "--json"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["written"], 0);
    assert_eq!(v["skipped_unchanged"], 2);

    let out = bin()
        .args(["consent", "export", "--format", "jsonl"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["source"], "import");
    assert_eq!(lines[0]["at"], "2025-03-01T10:00:00Z");
    assert!(
        !lines.iter().any(|l| l.to_string().contains("example.com")),
        "no raw e-mails in exports"
    );
    let out = bin()
        .args(["consent", "export", "--format", "csv"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("id,subject_ref,purpose,given"));
    assert_eq!(text.lines().count(), 3);

    // The imported opt-in decides once the server starts.
    let token = String::from_utf8(
        bin()
            .args(["token", "create", "--role", "service"])
            .current_dir(&dir)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let (mut child, url) = serve(&dir, &[]);
    let (_, body) = http(
        "POST",
        &format!("{url}/v1/decide"),
        Some(token.trim()),
        Some(r#"{"subject":{"email":"ada@example.com"},"purpose":"marketing","country":"GB"}"#),
    );
    assert!(body.contains(r#""allowed":true"#), "{body}");
    signal(child.id(), "TERM");
    child.wait().unwrap();
    assert!(bin()
        .args(["ledger", "verify"])
        .current_dir(&dir)
        .status()
        .unwrap()
        .success());
}

#[test]
fn the_cli_issues_unsubscribe_links_the_server_honours() {
    let dir = temp_dir("unsub");
    let (mut child, url) = serve(&dir, &[]);
    let token = String::from_utf8(
        bin()
            .args(["token", "create", "--role", "service"])
            .current_dir(&dir)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let token = token.trim();
    let (status, _) = http(
        "POST",
        &format!("{url}/v1/consent"),
        Some(token),
        Some(
            r#"{"subject":{"email":"ada@example.com"},"choices":{"marketing":true},"policy_version":"2018-05-25","source":"signup"}"#,
        ),
    );
    assert_eq!(status, 201);
    let out = bin()
        .args([
            "consent",
            "unsubscribe-link",
            "--email",
            "ada@example.com",
            "--public-url",
            &url,
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(link.starts_with(&format!("{url}/u/")) && !link.contains("ada"));
    let (status, _) = http("POST", &link, None, Some("List-Unsubscribe=One-Click"));
    assert_eq!(status, 200);
    let (_, body) = http(
        "POST",
        &format!("{url}/v1/decide"),
        Some(token),
        Some(r#"{"subject":{"email":"ada@example.com"},"purpose":"marketing","country":"GB"}"#),
    );
    assert!(body.contains("consent withdrawn"), "{body}");
    signal(child.id(), "TERM");
    child.wait().unwrap();
}
