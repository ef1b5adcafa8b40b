//! The real `custodian` binary: what a newcomer does on a fresh machine.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_custodian"))
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("custodian-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts `serve` in `dir` on a free port and returns the child and its base URL.
fn serve(dir: &Path, extra: &[&str]) -> (Child, String) {
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .current_dir(dir)
        .env_remove("CUSTODIAN_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("custodian listening on ").unwrap_or_else(|| panic!("unexpected first line: {line:?}")).to_owned();
    (child, url)
}

fn http(method: &str, url: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    // A tiny HTTP/1.1 client: enough for these checks, and it keeps the test build lean.
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let body = body.unwrap_or("");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"], vec!["serve", "--help"], vec!["init", "--help"], vec!["policy", "--help"],
        vec!["policy", "check", "--help"], vec!["policy", "render", "--help"], vec!["policy", "diff", "--help"],
        vec!["token", "--help"], vec!["token", "create", "--help"], vec!["token", "list", "--help"], vec!["token", "revoke", "--help"],
    ] {
        let out = bin().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"), "{args:?}");
    }
}

#[test]
fn init_writes_the_example_and_refuses_to_overwrite() {
    let dir = temp_dir("init");
    assert!(bin().args(["init"]).current_dir(&dir).status().unwrap().success());
    let policy = std::fs::read_to_string(dir.join("policy.toml")).unwrap();
    assert_eq!(policy, custodian_policy::EXAMPLE_POLICY);
    assert!(dir.join("custodian.toml").exists());
    std::fs::write(dir.join("policy.toml"), "# mine").unwrap();
    let out = bin().args(["init"]).current_dir(&dir).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read_to_string(dir.join("policy.toml")).unwrap(), "# mine", "nothing lost");
    // The written files are what `check` and `serve` accept.
    std::fs::write(dir.join("policy.toml"), custodian_policy::EXAMPLE_POLICY).unwrap();
    assert!(bin().args(["policy", "check", "policy.toml"]).current_dir(&dir).status().unwrap().success());
}

#[test]
fn policy_check_lists_every_problem_with_its_place() {
    let dir = temp_dir("check");
    let broken = custodian_policy::EXAMPLE_POLICY
        .replacen("categories = [\"website_user\", \"marketing\", \"prospect\"]", "categories = [\"website_usr\", \"marketing\", \"prospect\"]", 1)
        .replacen("effective_date = \"2018-05-25\"", "effective_date = \"2018-13-45\"", 1);
    std::fs::write(dir.join("bad.toml"), &broken).unwrap();
    let out = bin().args(["policy", "check", "bad.toml"]).current_dir(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("website_usr"), "{err}");
    assert!(err.contains("effective_date") || err.contains("2018-13-45"), "{err}");
    let line = broken.lines().position(|l| l.contains("website_usr")).unwrap() + 1;
    assert!(err.contains(&format!("bad.toml:{line}:")), "located at line {line}: {err}");

    let out = bin().args(["policy", "check", "bad.toml", "--json"]).current_dir(&dir).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert!(v["problems"].as_array().unwrap().len() >= 2);
}

#[test]
fn render_and_diff_work_on_files() {
    let dir = temp_dir("render");
    std::fs::write(dir.join("old.toml"), custodian_policy::EXAMPLE_POLICY).unwrap();
    let out = bin().args(["policy", "render", "old.toml", "--format", "markdown"]).current_dir(&dir).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Focusrite"));
    let out = bin().args(["policy", "render", "old.toml", "--format", "html"]).current_dir(&dir).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("<html"));

    let new = custodian_policy::EXAMPLE_POLICY.replacen("keep_for = \"P7Y\"", "keep_for = \"P10Y\"", 1);
    std::fs::write(dir.join("new.toml"), new).unwrap();
    let out = bin().args(["policy", "diff", "old.toml", "new.toml", "--json"]).current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["material"], true, "{v}");
}

#[test]
fn serve_runs_with_no_configuration_and_stops_on_sigterm() {
    let dir = temp_dir("serve");
    let out = bin().args(["token", "create", "--role", "service", "--name", "ci"]).current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap();
    let token = token.trim_end_matches('\n');
    assert!(token.starts_with("cst_") && !token.contains('\n'), "the token alone on stdout: {token:?}");

    let (mut child, url) = serve(&dir, &[]);
    assert!(dir.join("custodian.db").exists(), "SQLite file in the current folder");
    assert!(dir.join("custodian.secret").exists());
    let (status, body) = http("GET", &format!("{url}/readyz"), None, None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("sqlite"));
    let (status, body) = http("POST", &format!("{url}/v1/decide"), Some(token),
        Some(r#"{"subject":{"email":"ada@example.com"},"purpose":"marketing","categories":[],"country":"GB"}"#));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"allowed\":false"));

    send_sigterm(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    assert!(logs.contains("shutdown signal received"), "{logs}");
    assert!(!logs.contains("ada@example.com"), "no personal data in logs");
}

fn send_sigterm(pid: u32) {
    let ok = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success();
    assert!(ok);
}
