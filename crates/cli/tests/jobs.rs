//! `custodian jobs list|release` through the real binary: the leased jobs in the database as a
//! table and as JSON, and freeing a dead node's lease.

mod support;

use custodian_store::jobs::Claim;
use custodian_store::Store;
use support::{bin, temp_dir};

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

#[test]
fn jobs_are_listed_and_a_dead_nodes_lease_is_released() {
    let dir = temp_dir("jobs");
    let (ok, out, err) = cli(&dir, &["jobs", "list", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "[]", "a fresh database has no jobs yet");

    // A node that holds the outbox until far in the future, and a retention run that failed.
    let url = format!("sqlite://{}", dir.join("custodian.db").display());
    let far = 4_000_000_000_000_000; // 2096
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = Store::open(&url).await.unwrap();
        let held = store
            .claim_job("outbox", "outbox", "web-1/42/abc", 0, far, Claim::Now)
            .await
            .unwrap();
        assert!(held.is_some());
        store.ensure_job("retention", "retention", 0).await.unwrap();
        store
            .claim_job("retention", "retention", "web-2/7/def", 0, 10, Claim::Due)
            .await
            .unwrap()
            .unwrap();
        assert!(store
            .fail_job(
                "retention",
                "web-2/7/def",
                5,
                1_000,
                "database error: disk full"
            )
            .await
            .unwrap());
        store.close().await;
    });

    let (ok, out, err) = cli(&dir, &["jobs", "list"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("LEASE OWNER"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("outbox")
            && lines[1].contains("running")
            && lines[1].contains("web-1/42/abc"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("retention")
            && lines[2].contains("failed")
            && lines[2].contains("database error: disk full"),
        "{out}"
    );

    let (ok, out, err) = cli(&dir, &["jobs", "list", "--json"]);
    assert!(ok, "{err}");
    let all: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(all[0]["name"], "outbox");
    assert_eq!(all[0]["state"], "running");
    assert_eq!(all[0]["lease_owner"], "web-1/42/abc");
    assert_eq!(all[0]["attempts"], 1);
    assert_eq!(all[1]["state"], "failed");
    assert_eq!(all[1]["next_run"], "1970-01-01T00:00:00.001Z");
    assert_eq!(all[1]["last_error"], "database error: disk full");

    let (ok, _, err) = cli(&dir, &["jobs", "release", "outbox"]);
    assert!(ok, "{err}");
    let (_, out, _) = cli(&dir, &["jobs", "list", "--json"]);
    let all: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(all[0]["state"], "idle");
    assert!(all[0]["lease_owner"].is_null());
    let (ok, _, err) = cli(&dir, &["jobs", "release", "no-such-job"]);
    assert!(!ok && err.contains("no job named no-such-job"), "{err}");
}
