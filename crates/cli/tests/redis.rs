//! A Redis datastore through the real binary, on the machine's Redis: `datastore add`,
//! `dataset check` (problems listed, exit 1; then clean, exit 0), `datastore access` and
//! `datastore erase` as JSON, and nothing about the subject on standard error.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use custodian_connectors::redis::resp::{Conn, Reply};
use support::{bin, temp_dir};

const SECRET: &str = "0202020202020202020202020202020202020202020202020202020202020202";

fn cli(dir: &Path, url: &str) -> Command {
    let mut c = bin();
    c.current_dir(dir)
        .env_remove("CUSTODIAN_CONFIG")
        .env(
            "CUSTODIAN_DATABASE_URL",
            format!("sqlite://{}", dir.join("custodian.db").display()),
        )
        .env("CUSTODIAN_SECRET", SECRET)
        .env("SHOP_REDIS_URL", url);
    c
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn dataset(p: &str, index_type: &str) -> String {
    format!(
        r#"name = "shop_redis"
[connection]
url_env = "SHOP_REDIS_URL"

[[keys]]
pattern = "{p}:user_by_email:{{email}}"
type = "{index_type}"
fields = [{{ name = "value", identity = "user_id", erase = "delete_row" }}]

[[keys]]
pattern = "{p}:profile:{{user_id}}"
fields = [
  {{ name = "name", category = "website_user", erase = "null" }},
  {{ name = "address", category = "payment", erase = "mask" }},
]
"#
    )
}

// One scenario on one keyspace: the check, then access and erasure of the subject it found;
// split up, each part would set up the keys and register the datastore again.
#[tokio::test]
async fn a_redis_datastore_is_checked_read_and_erased_by_the_binary() {
    let url = std::env::var("CUSTODIAN_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let mut c = match Conn::connect(&url).await {
        Ok(c) => c,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and Redis is unreachable: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: Redis unreachable ({e})");
            return;
        }
    };
    let p = format!("cli{}", std::process::id());
    for args in [
        vec!["SET", &format!("{p}:user_by_email:ann@example.com"), "7"],
        vec![
            "HSET",
            &format!("{p}:profile:7"),
            "name",
            "Ann",
            "address",
            "1 High Street",
        ],
        vec![
            "HSET",
            &format!("{p}:profile:8"),
            "name",
            "Bob",
            "address",
            "2 Low Road",
        ],
    ] {
        c.call(&args).await.unwrap();
    }
    let dir = temp_dir("redis");
    let run = |args: &[&str]| cli(&dir, &url).args(args).output().unwrap();

    // Declared as a hash, the index is not what the server holds: listed, exit 1.
    let wrong = dir.join("wrong.toml");
    std::fs::write(&wrong, dataset(&p, "hash")).unwrap();
    let out = run(&["dataset", "check", wrong.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "keys \"{p}:user_by_email:{{email}}\": 1 of 1 sampled keys are not of type hash (1 string)"
        )),
        "{}",
        text(&out)
    );

    let good = dir.join("shop.toml");
    std::fs::write(&good, dataset(&p, "string")).unwrap();
    let out = run(&[
        "datastore",
        "add",
        "shop",
        "--dataset",
        good.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["dataset", "check", "--datastore", "shop"]);
    assert!(
        out.status.success() && text(&out).contains("matches"),
        "{}",
        text(&out)
    );

    let out = run(&["datastore", "access", "shop", "--email", "ann@example.com"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 High Street") && !stdout.contains("Bob"),
        "{stdout}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("ann@"));

    let out = run(&["datastore", "erase", "shop", "--email", "ann@example.com"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "done", "{report}");
    let profile = c
        .call(&["HGETALL", &format!("{p}:profile:7")])
        .await
        .unwrap();
    assert_eq!(
        profile,
        Reply::Array(vec![
            Reply::Bulk(b"address".to_vec()),
            Reply::Bulk(b"[erased]".to_vec())
        ])
    );
    let index = c
        .call(&["EXISTS", &format!("{p}:user_by_email:ann@example.com")])
        .await
        .unwrap();
    assert_eq!(index, Reply::Int(0));
    for k in ["user_by_email:ann@example.com", "profile:7", "profile:8"] {
        c.call(&["DEL", &format!("{p}:{k}")]).await.unwrap();
    }
}
