//! Conventions the project promises, checked on every test run.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn crate_sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let src = entry.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 20, "found the sources");
    files
}

#[test]
fn every_module_says_why_it_exists() {
    let missing: Vec<_> = crate_sources()
        .into_iter()
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap()
                .trim_start()
                .starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a `//!` line: {missing:?}"
    );
}

#[test]
fn no_test_is_ignored() {
    let mut files = crate_sources();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let tests = entry.unwrap().path().join("tests");
        if tests.is_dir() {
            rust_files(&tests, &mut files);
        }
    }
    let marker = ["#[", "ignore]"].concat();
    let offenders: Vec<_> = files
        .into_iter()
        .filter(|f| std::fs::read_to_string(f).unwrap().contains(&marker))
        .collect();
    assert!(offenders.is_empty(), "ignored tests: {offenders:?}");
}

#[test]
fn both_migration_folders_list_the_same_versions() {
    let versions = |backend: &str| -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(root().join("crates/store/migrations").join(backend))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
        v.sort();
        v
    };
    let (sqlite, pg) = (versions("sqlite"), versions("postgres"));
    assert_eq!(sqlite, pg);
    assert_eq!(
        sqlite.len(),
        custodian_store::MIGRATIONS.len(),
        "every migration file is embedded"
    );
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap().trim())
        .collect();
    assert_eq!(
        blocks[0], "cargo run --release -p custodian -- serve",
        "the first command runs Custodian"
    );
    assert_eq!(
        blocks[1], "cargo test --workspace",
        "the second runs every test"
    );
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == blocks[1]),
        ".ci/run calls exactly the README's test command"
    );
}

#[test]
fn every_route_is_documented() {
    let lib = std::fs::read_to_string(root().join("crates/server/src/lib.rs")).unwrap();
    let api = std::fs::read_to_string(root().join("docs/api.md")).unwrap();
    let routes: Vec<&str> = lib
        .split(".route(")
        .skip(1)
        .filter_map(|s| s.trim_start().strip_prefix('"')?.split('"').next())
        .collect();
    assert!(routes.len() >= 10);
    for r in routes {
        assert!(api.contains(r), "{r} is not in docs/api.md");
    }
}
