//! The master key from a fresh start to a rotation, with the real binary: `serve` makes the
//! key file and keeps subject keys apart from the data; `keys rotate` re-wraps them; a missing
//! named key file is an error, never a new key.

mod support;

use std::process::Output;

use support::{bin, http, serve, signal, temp_dir};

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .env_remove("CUSTODIAN_DATABASE_URL")
        .env_remove("CUSTODIAN_MASTER_KEY")
        .env_remove("CUSTODIAN_MASTER_KEY_FILE")
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

// One scenario followed end to end: `serve` makes the master key, requests write subject keys under
// it, rotation rewraps them all, then a missing key file and an empty folder.
#[test]
fn serve_makes_a_master_key_and_rotation_rewraps_every_subject_key() {
    let dir = temp_dir("keys");
    let (mut child, url) = serve(&dir, &["--intake-limit-per-client", "2"]);
    let request = |email: &str| {
        let body = format!(r#"{{"type":"access","email":"{email}"}}"#);
        http("POST", &format!("{url}/v1/requests"), None, Some(&body))
    };
    let (status, body) = request("kim@example.com");
    assert_eq!(status, 202, "{body}");
    // The client's address reaches the routes that need it (intake limits per client).
    let second = request("lee@example.com");
    assert_eq!(second.0, 202, "{}", second.1);
    let third = request("max@example.com");
    assert_eq!(third.0, 429, "{}", third.1);
    signal(child.id(), "TERM");
    child.wait().unwrap();

    let key_file = dir.join("custodian.master-key");
    assert!(key_file.exists() && dir.join("custodian-keys.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner reads the master key");
    }
    for file in ["custodian.db", "custodian.db-wal"] {
        let data = std::fs::read(dir.join(file)).unwrap_or_default();
        assert!(
            !data.windows(3).any(|w| w == b"kim"),
            "nothing in clear in {file}"
        );
    }

    let status = run(&dir, &["keys", "status", "--json"]);
    assert!(status.status.success());
    let s = json(&status);
    assert_eq!(
        (
            s["subject_keys"].as_i64(),
            s["all_wrapped_by_this_key"].as_bool()
        ),
        (Some(2), Some(true))
    );

    let new = run(&dir, &["keys", "generate"]);
    let new_key = String::from_utf8(new.stdout).unwrap();
    assert_eq!(new_key.trim().len(), 64);
    std::fs::write(dir.join("new.key"), &new_key).unwrap();
    let rotated = run(&dir, &["keys", "rotate", "--to", "new.key", "--json"]);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert_eq!(json(&rotated)["rewrapped"], 2);
    let trail = run(&dir, &["audit", "list", "--action", "keys.rotated"]);
    let entry = json(&trail);
    assert_eq!(
        (entry["object"].as_str(), entry["detail"].as_str()),
        (
            json(&rotated)["master_key_id"].as_str(),
            Some("rewrapped=2")
        ),
        "the rotation is audited by the new key's fingerprint"
    );

    // The old key no longer wraps anything; the new one wraps everything.
    let old = run(&dir, &["keys", "status", "--json"]);
    assert_eq!(old.status.code(), Some(1));
    assert_eq!(json(&old)["all_wrapped_by_this_key"], false);
    let new = run(
        &dir,
        &["keys", "status", "--master-key-file", "new.key", "--json"],
    );
    assert!(new.status.success());
    assert_eq!(json(&new)["master_key_id"], json(&rotated)["master_key_id"]);

    // A key file that is named but missing is an error, not a new key.
    let missing = run(&dir, &["keys", "status", "--master-key-file", "gone.key"]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("gone.key") && err.contains("does not exist"),
        "{err}"
    );
    assert!(!dir.join("gone.key").exists());
    // Only `serve` makes the default key: asking about keys in an empty folder makes none.
    let empty = temp_dir("keys-empty");
    let status = run(&empty, &["keys", "status"]);
    assert!(!status.status.success());
    assert!(!empty.join("custodian.master-key").exists());
    let same = run(
        &dir,
        &[
            "keys",
            "rotate",
            "--master-key-file",
            "new.key",
            "--to",
            "new.key",
        ],
    );
    assert!(!same.status.success());
}
