//! `custodian retention run` through the real binary: lifecycle events posted to `serve`,
//! then a dry run seven years ahead that lists each subject and rule with its due date, and
//! a real run that purges and records.

mod support;

use support::{bin, http, serve, signal, temp_dir};

fn cli(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = bin()
        .args(args)
        .current_dir(dir)
        .env_remove("CUSTODIAN_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// One scenario followed end to end: lifecycle events through a server, dry runs at dates before and
// after the rule falls due, a bad date, then a real run.
#[test]
fn dry_run_lists_what_goes_by_a_date_and_why() {
    let dir = temp_dir("retention");
    let (ok, token, err) = cli(
        &dir,
        &["token", "create", "--role", "service", "--name", "ci"],
    );
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    let (mut child, url) = serve(&dir, &[]);
    let post = |event: &str, at: &str| {
        let body =
            format!(r#"{{"subject":{{"email":"ada@example.com"}},"event":"{event}","at":"{at}"}}"#);
        http(
            "POST",
            &format!("{url}/v1/subjects/events"),
            Some(&token),
            Some(&body),
        )
    };
    assert_eq!(post("account_opened", "2020-01-15T10:00:00Z").0, 201);
    let (status, body) = post("account_closed", "2025-12-31T00:00:00Z");
    assert_eq!(status, 201, "{body}");
    let (status, body) = post("account_closed", "2025-12-31T00:00:00Z");
    assert_eq!(status, 409, "{body}");
    signal(child.id(), "TERM");
    child.wait().unwrap();

    let (ok, out, err) = cli(
        &dir,
        &[
            "retention",
            "run",
            "--dry-run",
            "--as-of",
            "2033-01-01",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let entries: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entries = entries.as_array().unwrap();
    let rule = |id: &str| entries.iter().find(|e| e["rule"] == id).cloned();
    let acc = rule("accounting_records").expect("7 years after closure");
    assert_eq!(acc["due_since"], "2032-12-31T00:00:00Z");
    assert_eq!(acc["data"]["categories"], serde_json::json!(["payment"]));
    assert_eq!(acc["subject_ref"].as_str().unwrap().len(), 64);
    assert_eq!(
        rule("while_customer").unwrap()["due_since"],
        "2026-01-30T00:00:00Z"
    );
    assert!(!out.contains("ada@example.com"));

    let (ok, out, _) = cli(
        &dir,
        &[
            "retention",
            "run",
            "--dry-run",
            "--as-of",
            "2032-12-30",
            "--json",
        ],
    );
    assert!(ok);
    assert!(!out.contains("accounting_records"), "not yet due: {out}");

    let (ok, _, err) = cli(&dir, &["retention", "run", "--as-of", "someday"]);
    assert!(!ok && err.contains("2033-01-01"), "{err}");

    // A real run purges the lifecycle events once every account rule is due.
    let (ok, out, err) = cli(
        &dir,
        &["retention", "run", "--as-of", "2033-01-01", "--json"],
    );
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["records_purged"], 2, "{report}");
    let (_, out, _) = cli(
        &dir,
        &[
            "retention",
            "run",
            "--dry-run",
            "--as-of",
            "2033-01-01",
            "--json",
        ],
    );
    assert_eq!(out.trim(), "[]");
}
