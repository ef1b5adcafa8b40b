//! The audit trail through the real binary, on SQLite and PostgreSQL: commands that
//! administer Custodian are recorded (actor `cli`, nothing personal), `audit verify` passes on
//! an intact trail and exits 1 naming the first bad entry once a row is changed, removed or
//! moved in the database behind Custodian's back.

mod support;

use support::{bin, temp_dir};

fn cli(db: &str, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    bin()
        .args(args)
        .args(["--database-url", db])
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Runs `audit verify`; answers its exit code and standard error.
fn verify(db: &str, dir: &std::path::Path) -> (Option<i32>, String) {
    let out = cli(db, dir, &["audit", "verify"]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs one SQL statement on the database, as someone with access to it could.
fn tamper(db: &str, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = custodian_store::Store::connect(db).await.unwrap();
        store.execute(sql, &[]).await.unwrap();
        store.close().await;
    });
}

fn entries(db: &str, dir: &std::path::Path) -> Vec<serde_json::Value> {
    let out = cli(db, dir, &["audit", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// One scenario per backend, followed end to end: acts recorded, verified, then three kinds of
// tampering each named, each on a copy of the trail made fresh by truncating and re-running.
fn scenario(db: &str, dir: &std::path::Path) {
    let mut ids = Vec::new();
    for (role, name) in [
        ("dpo", "ada@example.com's token"),
        ("admin", "ops"),
        ("service", "shop"),
    ] {
        let out = cli(
            db,
            dir,
            &["token", "create", "--role", role, "--name", name, "--json"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    assert!(cli(db, dir, &["token", "revoke", &ids[2]]).status.success());
    assert!(!cli(db, dir, &["token", "revoke", "tok_nobody"])
        .status
        .success());
    assert!(
        cli(db, dir, &["jobs", "release", "nothing-of-that-name"])
            .status
            .code()
            == Some(1)
    );
    std::fs::write(
        dir.join("optins.csv"),
        "email,purpose,given\nada@example.com,marketing,true\nbob@example.com,marketing,false\n",
    )
    .unwrap();
    let import = cli(db, dir, &["consent", "import", "optins.csv"]);
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let retention = cli(db, dir, &["retention", "run", "--json"]);
    assert!(
        retention.status.success(),
        "{}",
        String::from_utf8_lossy(&retention.stderr)
    );

    let all = entries(db, dir);
    let acts: Vec<(&str, &str, &str)> = all
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["object"].as_str().unwrap(),
                e["detail"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        acts,
        [
            ("token.created", ids[0].as_str(), "dpo"),
            ("token.created", ids[1].as_str(), "admin"),
            ("token.created", ids[2].as_str(), "service"),
            ("token.revoked", ids[2].as_str(), "-"),
            ("consent.imported", acts[4].1, "written=2 skipped=0"),
            ("retention.run", acts[5].1, "due=0 held=0 purged=0"),
        ],
        "what failed is not recorded"
    );
    assert!(all.iter().all(|e| e["actor"] == "cli"));
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains("ada@") && !text.contains("ops"),
        "no token names: {text}"
    );
    let (code, err) = verify(db, dir);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("intact: 6 entries"), "{err}");
    assert!(
        acts[4].1.starts_with("rcpt_import_"),
        "the import's receipt: {acts:?}"
    );

    // Changed: the second token's role in its entry.
    tamper(db, "UPDATE audit_log SET detail = 'service' WHERE seq = 2");
    let (code, err) = verify(db, dir);
    assert_eq!(code, Some(1));
    let second = all[1]["id"].as_str().unwrap();
    assert!(
        err.contains("audit entry 2") && err.contains(second) && err.contains("changed"),
        "{err}"
    );
    tamper(db, "UPDATE audit_log SET detail = 'admin' WHERE seq = 2");
    assert_eq!(verify(db, dir).0, Some(0), "put back, it verifies again");

    // Moved: entries 3 and 4 exchange places.
    for sql in [
        "UPDATE audit_log SET seq = 100 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = 100",
    ] {
        tamper(db, sql);
    }
    let (code, err) = verify(db, dir);
    assert_eq!(code, Some(1));
    let moved = all[3]["id"].as_str().unwrap();
    assert!(
        err.contains("audit entry 3") && err.contains(moved),
        "{err}"
    );
    for sql in [
        "UPDATE audit_log SET seq = 100 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = 100",
    ] {
        tamper(db, sql);
    }
    assert_eq!(verify(db, dir).0, Some(0));

    // Removed: the first entry.
    tamper(db, "DELETE FROM audit_log WHERE seq = 1");
    let (code, err) = verify(db, dir);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("audit entry 2") && err.contains("entries 1 to 1 are missing"),
        "{err}"
    );
}

#[test]
fn audit_verify_names_the_entry_changed_moved_or_removed_on_sqlite() {
    let dir = temp_dir("audit");
    let db = format!("sqlite://{}", dir.join("custodian.db").display());
    scenario(&db, &dir);
}

#[test]
fn audit_verify_names_the_entry_changed_moved_or_removed_on_postgres() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(pg) = rt.block_on(custodian_store::testing::fresh_postgres_url()) else {
        return;
    };
    let dir = temp_dir("audit-pg");
    scenario(&pg, &dir);
}
