//! What the browser tests share: the repository's root, the Chromium to drive, and the check
//! (installing the npm packages of `tests/browser` with `npm ci` when they are missing) that
//! says what is still missing to run them, if anything.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `CHROMIUM`, else Debian's `/usr/bin/chromium`.
pub fn chromium() -> PathBuf {
    PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()))
}

/// Installs the npm packages when they are missing (`npm ci`, from the lock file); then says
/// what is still missing to run the browser tests, if anything.
pub fn missing(browser_dir: &Path, chromium: &Path) -> Option<String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed (apt-get install -y nodejs npm)".into());
    }
    let installed = |d: &Path| {
        d.join("node_modules/playwright-core").exists() && d.join("node_modules/axe-core").exists()
    };
    if !installed(browser_dir) {
        let _ = writeln!(
            std::io::stderr(),
            "installing the browser test's npm packages: npm ci --prefix tests/browser"
        );
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(browser_dir)
            .status();
        if !matches!(status, Ok(s) if s.success()) || !installed(browser_dir) {
            return Some(format!(
                "npm ci --prefix {} failed or npm is not installed ({status:?})",
                browser_dir.display()
            ));
        }
    }
    if !chromium.exists() {
        return Some(format!(
            "{} is missing (apt-get install -y chromium)",
            chromium.display()
        ));
    }
    None
}
