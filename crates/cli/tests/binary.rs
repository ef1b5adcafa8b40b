//! The real `custodian` binary: what a newcomer does on a fresh machine.

mod support;

use support::{bin, http, serve, temp_dir};

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["init", "--help"],
        vec!["policy", "--help"],
        vec!["policy", "check", "--help"],
        vec!["policy", "render", "--help"],
        vec!["policy", "diff", "--help"],
        vec!["policy", "publish", "--help"],
        vec!["policy", "records", "--help"],
        vec!["report", "run", "--help"],
        vec!["token", "--help"],
        vec!["token", "create", "--help"],
        vec!["token", "list", "--help"],
        vec!["token", "revoke", "--help"],
        vec!["keys", "--help"],
        vec!["keys", "generate", "--help"],
        vec!["keys", "status", "--help"],
        vec!["keys", "rotate", "--help"],
    ] {
        let out = bin().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

#[test]
fn init_writes_the_example_and_refuses_to_overwrite() {
    let dir = temp_dir("init");
    assert!(bin()
        .args(["init"])
        .current_dir(&dir)
        .status()
        .unwrap()
        .success());
    let policy = std::fs::read_to_string(dir.join("policy.toml")).unwrap();
    assert_eq!(policy, custodian_policy::EXAMPLE_POLICY);
    assert!(dir.join("custodian.toml").exists());
    std::fs::write(dir.join("policy.toml"), "# mine").unwrap();
    let out = bin().args(["init"]).current_dir(&dir).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(
        std::fs::read_to_string(dir.join("policy.toml")).unwrap(),
        "# mine",
        "nothing lost"
    );
    // The written files are what `check` and `serve` accept.
    std::fs::write(dir.join("policy.toml"), custodian_policy::EXAMPLE_POLICY).unwrap();
    assert!(bin()
        .args(["policy", "check", "policy.toml"])
        .current_dir(&dir)
        .status()
        .unwrap()
        .success());
}

#[test]
fn policy_check_lists_every_problem_with_its_place() {
    let dir = temp_dir("check");
    let broken = custodian_policy::EXAMPLE_POLICY
        .replacen(
            "categories = [\"website_user\", \"marketing\", \"prospect\"]",
            "categories = [\"website_usr\", \"marketing\", \"prospect\"]",
            1,
        )
        .replacen(
            "effective_date = \"2018-05-25\"",
            "effective_date = \"2018-13-45\"",
            1,
        );
    std::fs::write(dir.join("bad.toml"), &broken).unwrap();
    let out = bin()
        .args(["policy", "check", "bad.toml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("website_usr"), "{err}");
    assert!(
        err.contains("effective_date") || err.contains("2018-13-45"),
        "{err}"
    );
    let line = broken
        .lines()
        .position(|l| l.contains("website_usr"))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!("bad.toml:{line}:")),
        "located at line {line}: {err}"
    );

    let out = bin()
        .args(["policy", "check", "bad.toml", "--json"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert!(v["problems"].as_array().unwrap().len() >= 2);
}

#[test]
fn render_and_diff_work_on_files() {
    let dir = temp_dir("render");
    std::fs::write(dir.join("old.toml"), custodian_policy::EXAMPLE_POLICY).unwrap();
    let out = bin()
        .args(["policy", "render", "old.toml", "--format", "markdown"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Focusrite"));
    let out = bin()
        .args(["policy", "render", "old.toml", "--format", "html"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("<html"));

    let new =
        custodian_policy::EXAMPLE_POLICY.replacen("keep_for = \"P7Y\"", "keep_for = \"P10Y\"", 1);
    std::fs::write(dir.join("new.toml"), new).unwrap();
    let out = bin()
        .args(["policy", "diff", "old.toml", "new.toml", "--json"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["material"], true, "{v}");
}

#[test]
fn serve_runs_with_no_configuration_and_stops_on_sigterm() {
    let dir = temp_dir("serve");
    let out = bin()
        .args(["token", "create", "--role", "service", "--name", "ci"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let token = token.trim_end_matches('\n');
    assert!(
        token.starts_with("cst_") && !token.contains('\n'),
        "the token alone on stdout: {token:?}"
    );

    let (mut child, url) = serve(&dir, &[]);
    assert!(
        dir.join("custodian.db").exists(),
        "SQLite file in the current folder"
    );
    assert!(dir.join("custodian.secret").exists());
    let (status, body) = http("GET", &format!("{url}/readyz"), None, None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("sqlite"));
    let (status, body) = http(
        "POST",
        &format!("{url}/v1/decide"),
        Some(token),
        Some(
            r#"{"subject":{"email":"ada@example.com"},"purpose":"marketing","categories":[],"country":"GB"}"#,
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"allowed\":false"));

    support::signal(child.id(), "TERM");
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    let logs = std::fs::read_to_string(dir.join("serve.log")).unwrap();
    assert!(logs.contains("shutdown signal received"), "{logs}");
    assert!(
        !logs.contains("ada@example.com"),
        "no personal data in logs"
    );
}

#[test]
fn settings_come_from_the_config_file_and_the_environment() {
    let dir = temp_dir("config");
    std::fs::write(
        dir.join("custodian.toml"),
        "database_url = \"sqlite://from-file.db\"\nsecret_file = \"file.secret\"\n",
    )
    .unwrap();
    let (mut child, url) = serve(&dir, &[]);
    let (status, _) = http("GET", &format!("{url}/readyz"), None, None);
    assert_eq!(status, 200);
    support::signal(child.id(), "TERM");
    child.wait().unwrap();
    assert!(
        dir.join("from-file.db").exists(),
        "database_url from the config file"
    );
    assert!(
        dir.join("file.secret").exists(),
        "secret_file from the config file"
    );
    assert!(!dir.join("custodian.db").exists());

    // The environment wins over the file, and a flag over both.
    let out = bin()
        .args(["token", "create", "--role", "dpo"])
        .env("CUSTODIAN_DATABASE_URL", "sqlite://from-env.db")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(dir.join("from-env.db").exists());
    let out = bin()
        .args([
            "token",
            "list",
            "--json",
            "--database-url",
            "sqlite://from-env.db",
        ])
        .env("CUSTODIAN_DATABASE_URL", "sqlite://nowhere.db")
        .current_dir(&dir)
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["role"], "dpo");
    assert!(
        !list.to_string().contains("cst_"),
        "token secrets are never listed"
    );

    std::fs::write(dir.join("custodian.toml"), "no_such_key = 1\n").unwrap();
    let out = bin()
        .args(["token", "list"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no_such_key"),
        "unknown config keys are named"
    );
}

#[test]
fn the_same_service_runs_on_postgres_by_changing_the_url() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(pg) = rt.block_on(custodian_store::testing::fresh_postgres_url()) else {
        return;
    };
    let dir = temp_dir("pg");
    let token = bin()
        .args([
            "token",
            "create",
            "--role",
            "service",
            "--database-url",
            &pg,
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout).unwrap();
    let (mut child, url) = serve(&dir, &["--database-url", &pg]);
    let (_, body) = http("GET", &format!("{url}/readyz"), None, None);
    assert!(body.contains("postgres"), "{body}");
    let (status, _) = http(
        "POST",
        &format!("{url}/v1/consent"),
        None,
        Some(
            r#"{"subject":{"device_id":"pg-device-000000001"},"choices":{"marketing":true},"policy_version":"2018-05-25","source":"banner"}"#,
        ),
    );
    assert_eq!(status, 201);
    let (_, body) = http(
        "POST",
        &format!("{url}/v1/decide"),
        Some(token.trim()),
        Some(
            r#"{"subject":{"device_id":"pg-device-000000001"},"purpose":"marketing","country":"GB"}"#,
        ),
    );
    assert!(body.contains(r#""allowed":true"#), "{body}");
    support::signal(child.id(), "TERM");
    assert!(child.wait().unwrap().success());
    assert!(
        !dir.join("custodian.db").exists(),
        "no SQLite file when the URL is PostgreSQL"
    );
    let verify = bin()
        .args(["ledger", "verify", "--database-url", &pg])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn datastores_can_be_named_in_the_config_file() {
    let dir = temp_dir("config-datastores");
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/company/company.toml");
    std::fs::write(
        dir.join("custodian.toml"),
        format!(
            "[[datastores]]\nname = \"shop\"\ndataset = \"{}\"\nurl_env = \"SHOP_DATABASE_URL\"\n",
            dataset.display()
        ),
    )
    .unwrap();
    let out = bin()
        .args(["datastore", "list"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], "shop", "{list}");
    assert_eq!(list[0]["url_env"], "SHOP_DATABASE_URL");
}
