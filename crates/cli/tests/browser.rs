//! The banner and the demo site in a real browser (issue 4): starts the real binary three
//! times — with the example policy, with a policy whose analytics and social-widget purposes
//! each gained a recipient in a new version, and with an allow-list of two origins (`CUSTODIAN_ALLOWED_ORIGINS`) that
//! excludes the demo — and runs `node --test tests/browser/` against them with Debian's
//! Chromium. Screenshots go to a freshly emptied `test-artifacts/`, whose path it prints.
//!
//! Needs `node`, the npm packages of `tests/browser` — installed by the test itself
//! (`npm ci --prefix tests/browser`) when they are missing and `npm` is there — and
//! `/usr/bin/chromium` (or `CHROMIUM`). Where one cannot be had, the build script
//! (`crates/cli/build.rs`) marks the test ignored with the reason, so the summary says
//! `ignored, chromium is not installed …` instead of `ok`; under `CI=true` it is never ignored,
//! and a missing piece fails it with what to install.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

#[path = "support/browser.rs"]
mod support;

use support::{missing, repo};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("custodian-browser-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A running `custodian serve`, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `custodian serve` in `dir` with these arguments and, of the variables it reads that
/// matter here, only those in `env` (the caller's own are removed).
fn serve(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custodian"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .current_dir(dir)
        .env_remove("CUSTODIAN_DATABASE_URL")
        .env_remove("CUSTODIAN_ALLOWED_ORIGINS")
        .env_remove("CUSTODIAN_POLICY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("custodian listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    Server { child, url }
}

/// The example policy with a new version in which analytics data also goes to the social
/// networks, and the social widget's to the advertising partners — a new recipient each and
/// nothing else, notices and labels unchanged: the banner must ask again for both, as the ledger
/// does (`consent_purposes_changed`).
fn changed_policy() -> String {
    let policy = custodian_policy::EXAMPLE_POLICY;
    let recipients = "recipients = [\"google_analytics\", \"crimson_hexagon\"]";
    let widget = "recipients = [\"social_networks\"]";
    for old in [recipients, widget] {
        assert_eq!(
            policy.matches(old).count(),
            1,
            "the example policy changed; update this test"
        );
    }
    let changed = policy
        .replacen("version = \"2018-05-25\"", "version = \"2026-01-01\"", 1)
        .replacen(
            recipients,
            "recipients = [\"google_analytics\", \"crimson_hexagon\", \"social_networks\"]",
            1,
        )
        .replacen(
            widget,
            "recipients = [\"social_networks\", \"advertising_partners\"]",
            1,
        );
    assert_ne!(changed, policy);
    changed
}

// Where this machine cannot run it, the build script says why and the summary shows the test
// ignored with that reason (never under CI=true): see crates/cli/build.rs.
#[test]
#[cfg_attr(
    browser_test_cannot_run = "node",
    ignore = "node is not installed (apt-get install -y nodejs npm)"
)]
#[cfg_attr(
    browser_test_cannot_run = "npm",
    ignore = "the npm packages of tests/browser are missing and npm is not installed (apt-get install -y npm)"
)]
#[cfg_attr(
    browser_test_cannot_run = "chromium",
    ignore = "chromium is not installed (apt-get install -y chromium, or set CHROMIUM)"
)]
fn the_banner_and_demo_work_in_chromium() {
    let root = repo();
    let browser_dir = root.join("tests/browser");
    let chromium = support::chromium();
    if let Some(why) = missing(&browser_dir, &chromium) {
        panic!("the browser tests cannot run: {why}");
    }

    // Each run starts with none of its screenshots, so what is there afterwards is this run's
    // (the console's browser test keeps its own in `test-artifacts/console/`).
    let artifacts = root.join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    for entry in std::fs::read_dir(&artifacts).unwrap().flatten() {
        if entry.path().is_file() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    // Straight to stderr: the test harness captures `println!` of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "browser test screenshots: {}",
        artifacts.display()
    );

    let first = temp_dir("example");
    let second = temp_dir("changed");
    let third = temp_dir("restricted");
    std::fs::write(second.join("policy.toml"), changed_policy()).unwrap();
    let example = serve(&first, &[], &[]);
    let changed = serve(&second, &["--policy", "policy.toml"], &[]);
    // As operators write it: a comma-separated list, with a space after the comma.
    let restricted = serve(
        &third,
        &[],
        &[(
            "CUSTODIAN_ALLOWED_ORIGINS",
            "https://a.example, https://shop.example",
        )],
    );

    let status = Command::new("node")
        .args(["--test", "--test-reporter=spec", "tests/browser/"])
        .current_dir(&root)
        .env("CUSTODIAN_URL", &example.url)
        .env("CUSTODIAN_URL_CHANGED", &changed.url)
        .env("CUSTODIAN_URL_RESTRICTED", &restricted.url)
        .env("CHROMIUM", &chromium)
        .env("CUSTODIAN_ARTIFACTS", &artifacts)
        .status()
        .expect("running node");
    drop((example, changed, restricted));
    for dir in [first, second, third] {
        let _ = std::fs::remove_dir_all(dir);
    }
    assert!(
        status.success(),
        "the browser tests failed (output above; screenshots in {})",
        artifacts.display()
    );
}
