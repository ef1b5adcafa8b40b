//! `custodian deadline` through the real binary: the exact JSON of the issue for each
//! jurisdiction of the example policy, pauses, a policy file of one's own, and each bad input
//! refused with the flag it came from.

mod support;

use support::{bin, temp_dir};

fn run(args: &[&str]) -> (bool, String, String) {
    // One empty folder per call: tests run at once, and each folder is made anew.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = temp_dir(&format!("deadline-{n}"));
    let out = bin()
        .arg("deadline")
        .args(args)
        .current_dir(&dir)
        .env_remove("CUSTODIAN_POLICY")
        .env_remove("CUSTODIAN_CONFIG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn prints_exactly_the_deadlines_of_each_jurisdiction() {
    // 23:30 on Monday 2 March 2026 in Los Angeles.
    let (ok, out, err) = run(&[
        "--jurisdiction",
        "ccpa",
        "--received",
        "2026-03-02T23:30:00-08:00",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        r#"{"jurisdiction":"ccpa","received_date":"2026-03-02","acknowledge_due":"2026-03-17T06:59:59.999999Z","acknowledge_due_date":"2026-03-16","answer_due":"2026-04-17T06:59:59.999999Z","answer_due_date":"2026-04-16","latest_answer_due_date":"2026-06-01"}"#
    );
    // UK GDPR, a week's pause: 2 April becomes 9 April.
    let (ok, out, err) = run(&[
        "--jurisdiction",
        "uk_gdpr",
        "--received",
        "2026-03-02T10:00:00Z",
        "--pause",
        "2026-03-02T12:00:00Z/2026-03-09T12:00:00Z",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["answer_due_date"], "2026-04-09");
    assert_eq!(v["latest_answer_due_date"], "2026-06-09");
    // EU GDPR in Dublin: 3 October 2026 is a Saturday.
    let (ok, out, _) = run(&[
        "--jurisdiction",
        "gdpr",
        "--received",
        "2026-09-03T10:00:00+01:00",
        "--json",
    ]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["answer_due_date"], "2026-10-05");
    // Without --json: a table for people.
    let (ok, out, _) = run(&[
        "--jurisdiction",
        "default",
        "--received",
        "2026-01-31T10:00:00Z",
    ]);
    assert!(ok);
    assert!(out.contains("answer by         end of 2026-02-28"), "{out}");
}

#[test]
fn a_policy_file_of_ones_own_is_used() {
    let dir = temp_dir("deadline-policy");
    let text = custodian_policy::EXAMPLE_POLICY.replace("holidays = \"ie\"", "holidays = \"fr\"");
    let file = dir.join("policy.toml");
    std::fs::write(&file, text).unwrap();
    // 17 March is no holiday in France: the day after 17 February stays.
    let (ok, out, err) = run(&[
        "--jurisdiction",
        "gdpr",
        "--received",
        "2026-02-17T10:00:00Z",
        "--policy",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains(r#""answer_due_date":"2026-03-17""#), "{out}");
}

#[test]
fn bad_input_names_the_flag_it_came_from() {
    let (ok, _, err) = run(&[
        "--jurisdiction",
        "uk_gdpr",
        "--received",
        "2026-03-02T10:00:00Z",
        "--pause",
        "2026-03-02T12:00:00Z/2026-03-03T12:00:00Z",
        "--pause",
        "2026-03-09T12:00:00Z/2026-03-02T12:00:00Z",
    ]);
    assert!(!ok);
    assert!(err.contains("--pause #2"), "{err}");
    assert!(
        err.contains("ends (2026-03-02T12:00:00Z) before it begins"),
        "{err}"
    );
    let (ok, _, err) = run(&[
        "--jurisdiction",
        "ukgdpr",
        "--received",
        "2026-03-02T10:00:00Z",
    ]);
    assert!(!ok);
    assert!(
        err.contains("unknown jurisdiction `ukgdpr`") && err.contains("uk_gdpr"),
        "{err}"
    );
    let (ok, _, err) = run(&["--jurisdiction", "gdpr", "--received", "2 March"]);
    assert!(!ok);
    assert!(
        err.contains("--received: `2 March` is not an RFC 3339 time"),
        "{err}"
    );
    let (ok, _, err) = run(&[
        "--jurisdiction",
        "gdpr",
        "--received",
        "2026-03-02T10:00:00Z",
        "--pause",
        "2026-03-02T12:00:00Z",
    ]);
    assert!(!ok);
    assert!(
        err.contains("--pause #1") && err.contains("FROM/TO"),
        "{err}"
    );
}
