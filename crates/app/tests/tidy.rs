//! Tidy: the conventions of the application layer and the HTTP edge, checked on their
//! sources — every module opens with a `//!` line, no test is ignored, files and functions
//! stay readable in one sitting, "now" comes from the clock, and `app` knows no HTTP.

use std::fs;
use std::path::{Path, PathBuf};

/// Files longer than this are split along a seam.
const MOST_LINES: usize = 600;
/// Functions longer than this say why in their doc comment (`Kept whole: …`).
const MOST_FN_LINES: usize = 80;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources(crates: &[&str], folder: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for c in crates {
        let dir = root().join("crates").join(c).join(folder);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).expect("readable source");
            (p, text)
        })
        .collect()
}

#[test]
fn every_module_opens_with_a_doc_line() {
    let missing: Vec<_> = sources(&["app", "server"], "src")
        .into_iter()
        .filter(|(_, text)| !text.starts_with("//!"))
        .map(|(p, _)| p)
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a `//!` line: {missing:?}"
    );
}

#[test]
fn no_test_is_ignored() {
    let marker = ["#[", "ignore"].concat();
    let all = [
        "policy",
        "core",
        "store",
        "mail",
        "connectors",
        "app",
        "server",
        "cli",
        "bench",
    ];
    let mut found = Vec::new();
    for folder in ["src", "tests"] {
        for (p, text) in sources(&all, folder) {
            if text.contains(&marker) {
                found.push(p);
            }
        }
    }
    assert!(found.is_empty(), "ignored tests in {found:?}");
}

#[test]
fn files_and_functions_read_in_one_sitting() {
    let mut long = Vec::new();
    for (p, text) in sources(&["app", "server"], "src") {
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() > MOST_LINES {
            long.push(format!("{}: {} lines", p.display(), lines.len()));
        }
        for (i, line) in lines.iter().enumerate() {
            let Some(indent) = fn_start(line) else {
                continue;
            };
            let close = format!("{}}}", " ".repeat(indent));
            let Some(len) = lines[i..].iter().position(|l| *l == close) else {
                continue;
            };
            let doc: Vec<&str> = lines[..i]
                .iter()
                .rev()
                .take_while(|l| {
                    l.trim_start().starts_with("///") || l.trim_start().starts_with("#[")
                })
                .copied()
                .collect();
            if len + 1 > MOST_FN_LINES && !doc.iter().any(|l| l.contains("Kept whole")) {
                long.push(format!("{}:{}: {} lines", p.display(), i + 1, len + 1));
            }
        }
    }
    assert!(long.is_empty(), "too long, and not saying why: {long:#?}");
}

/// The indentation of a line that starts a function with a body.
fn fn_start(line: &str) -> Option<usize> {
    let trimmed = line.trim_start();
    let indent = line.len() - trimmed.len();
    let rest = ["pub(crate) ", "pub(super) ", "pub "]
        .iter()
        .find_map(|v| trimmed.strip_prefix(v))
        .unwrap_or(trimmed);
    let rest = rest.strip_prefix("async ").unwrap_or(rest);
    (rest.starts_with("fn ") && !line.trim_end().ends_with(';')).then_some(indent)
}

#[test]
fn now_comes_from_the_clock() {
    // `Instant` measures durations: the metrics' timings and the retention job's pacing.
    let instant_allowed = [
        "server/src/app.rs",
        "server/src/metrics.rs",
        "app/src/retention/paged.rs",
    ];
    let mut found = Vec::new();
    for (p, text) in sources(&["app", "server"], "src") {
        let shown = p.display().to_string();
        for wall in [
            "SystemTime::now",
            "store::now_micros",
            "Timestamp::now",
            "Zoned::now",
        ] {
            if text.contains(wall) {
                found.push(format!("{shown}: {wall}"));
            }
        }
        if text.contains("Instant::now") && !instant_allowed.iter().any(|a| shown.ends_with(a)) {
            found.push(format!("{shown}: Instant::now"));
        }
    }
    assert!(found.is_empty(), "wall-clock reads: {found:?}");
}

#[test]
fn the_application_layer_knows_no_http() {
    let manifest = fs::read_to_string(root().join("crates/app/Cargo.toml")).expect("manifest");
    for dep in ["axum", "http", "tower", "hyper"] {
        assert!(
            !manifest
                .lines()
                .any(|l| l.starts_with(&format!("{dep} ")) || l.starts_with(&format!("{dep}."))),
            "custodian-app depends on {dep}"
        );
    }
    for (p, text) in sources(&["app"], "src") {
        for word in ["axum::", "http::", "StatusCode"] {
            assert!(!text.contains(word), "{} mentions {word}", p.display());
        }
    }
}
