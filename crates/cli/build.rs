//! Decides whether the browser test (`tests/browser.rs`) can run on this machine, so that where
//! it cannot, the test summary shows it as *ignored, with the reason* — never as a pass.
//!
//! It needs `node`, the npm packages of `tests/browser` (which the test installs itself with
//! `npm ci` when `npm` is there) and Chromium (`CHROMIUM`, else `/usr/bin/chromium`). When one
//! is missing this sets `browser_test_cannot_run = "node" | "npm" | "chromium"`, and the test
//! carries `#[cfg_attr(browser_test_cannot_run = "...", ignore = "...")]`. Under `CI=true` it
//! never sets it: in CI a missing browser is a failure, which the test reports with what to
//! install. Cargo runs this again when `CI`, `CHROMIUM` or `PATH` change, or the places where
//! the missing program would appear.

use std::path::{Path, PathBuf};

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Watches `path` only when it exists: a missing path would make Cargo run this every build.
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo::rerun-if-changed={}", path.display());
    }
}

fn watch_path_dirs() {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            watch(&dir);
        }
    }
}

fn main() {
    println!(
        "cargo::rustc-check-cfg=cfg(browser_test_cannot_run, values(\"node\", \"npm\", \"chromium\"))"
    );
    println!("cargo::rerun-if-changed=build.rs");
    for var in ["CI", "CHROMIUM", "PATH"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        return;
    }
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser");
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    let installed = browser_dir.join("node_modules/playwright-core").is_dir()
        && browser_dir.join("node_modules/axe-core").is_dir();
    let missing = match (on_path("node"), on_path("npm")) {
        (None, _) => {
            watch_path_dirs();
            "node"
        }
        (Some(_), None) if !installed => {
            watch_path_dirs();
            watch(&browser_dir);
            "npm"
        }
        (Some(node), npm) => {
            watch(&node);
            if let Some(npm) = npm {
                watch(&npm);
            }
            if chromium.is_file() {
                watch(&chromium);
                return;
            }
            if let Some(dir) = chromium.parent() {
                watch(dir);
            }
            "chromium"
        }
    };
    println!("cargo::rustc-cfg=browser_test_cannot_run=\"{missing}\"");
}
