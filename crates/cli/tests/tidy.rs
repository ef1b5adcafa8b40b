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

/// The one allowed way to ignore a test: a `cfg_attr` whose condition is `NAME = "VALUE"` and
/// whose attribute is `ignore = "REASON"` (as tests/browser.rs has it), where NAME is a cfg the crate's own build script sets when the machine lacks what the test
/// needs, the build script never sets it under `CI=true` (a missing tool fails in CI), and the
/// reason says what is missing. Anything else that ignores a test is an offence.
fn ignore_offences(text: &str, build_script: Option<&str>) -> Vec<String> {
    // Spelt in two so that this file's own text holds no such attribute.
    let cfg_attr = ["cfg_", "attr("].concat();
    // Attributes may be wrapped over lines by rustfmt: read the file as one line.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = flat
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(", )", ")");
    let mut out = Vec::new();
    if flat.contains(&["#[", "ignore"].concat()) {
        out.push("a bare ignore attribute".to_owned());
    }
    for (at, _) in flat.match_indices(&cfg_attr) {
        let attr = &flat[at..];
        let Some(end) = attr.find(")]") else { continue };
        let attr = &attr[cfg_attr.len()..end];
        if !attr.contains("ignore") {
            continue;
        }
        let parsed = (|| {
            let (cfg, reason) = attr.split_once(", ignore = \"")?;
            let reason = reason.strip_suffix('"')?;
            let (name, value) = cfg.split_once(" = \"")?;
            let value = value.strip_suffix('"')?;
            let ok_name =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            (ok_name && !value.is_empty() && reason.len() >= 10).then_some(name)
        })();
        let Some(name) = parsed else {
            out.push(format!(
                "{cfg_attr}{attr}) is not the form NAME = \"VALUE\", ignore = \"REASON\""
            ));
            continue;
        };
        match build_script {
            Some(b) if b.contains(&format!("rustc-cfg={name}=")) && b.contains("\"CI\"") => {}
            _ => out.push(format!(
                "cfg `{name}` is not set by the crate's build script, or that script does not read CI"
            )),
        }
    }
    out
}

#[test]
fn no_test_is_ignored() {
    let mut offenders = Vec::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let krate = entry.unwrap().path();
        let mut files = Vec::new();
        for dir in ["src", "tests"] {
            if krate.join(dir).is_dir() {
                rust_files(&krate.join(dir), &mut files);
            }
        }
        let build = std::fs::read_to_string(krate.join("build.rs")).ok();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for o in ignore_offences(&text, build.as_deref()) {
                offenders.push(format!("{}: {o}", f.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "ignored tests: {offenders:#?}");
}

#[test]
fn only_the_build_script_form_may_ignore_a_test() {
    // `@(` stands for the attribute's name, spelt out at run time (see ignore_offences).
    let attr = |s: &str| s.replace("@(", &["cfg_", "attr("].concat());
    let build = r#"println!("cargo::rustc-cfg=tool_missing=\"x\""); std::env::var("CI")"#;
    let allowed = attr(
        "#[test]\n#[@(\n    tool_missing = \"x\",\n    ignore = \"x is not installed here\"\n)]\nfn t() {}",
    );
    assert_eq!(ignore_offences(&allowed, Some(build)), Vec::<String>::new());
    for text in [
        ["#[", "ignore]"].concat(),
        ["#[", "ignore = \"slow\"]"].concat(),
        attr("#[@(tool_missing = \"x\", ignore)]"),
        attr("#[@(unix, ignore = \"not on this machine\")]"),
        attr("#[@(tool_missing = \"x\", ignore = \"\")]"),
    ] {
        assert!(!ignore_offences(&text, Some(build)).is_empty(), "{text}");
    }
    assert!(
        !ignore_offences(
            &allowed,
            Some("println!(\"cargo::rustc-cfg=tool_missing=x\");")
        )
        .is_empty(),
        "a build script that ignores CI cannot excuse a test"
    );
    assert!(
        !ignore_offences(&allowed, None).is_empty(),
        "no build script, no cfg"
    );
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

/// The names in a manifest's `[dependencies]` table (not dev- or build-dependencies).
fn runtime_dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut in_deps = false;
    let mut names = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && !line.is_empty() && !line.starts_with('#') {
            if let Some(name) = line.split(['=', '.', ' ']).next() {
                names.push(name.trim().to_owned());
            }
        }
    }
    names
}

/// Every crate folder with its name (`crates/<name>`).
fn crate_dirs() -> Vec<(String, PathBuf)> {
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    dirs.sort();
    dirs
}

/// The source files of one crate, with their text (test code included: `#[cfg(test)]`
/// modules sit in the same files).
fn sources_of(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&dir.join("src"), &mut files);
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f, text)
        })
        .collect()
}

/// Only the HTTP edge knows axum: the application layer and everything below it are usable
/// without HTTP. `bench` is the named exception: its constant server is the reference that
/// `/v1/decide` is measured against, on the same stack.
#[test]
fn only_the_server_knows_axum() {
    for (name, dir) in crate_dirs() {
        if name == "server" || name == "bench" {
            continue;
        }
        assert!(
            !runtime_dependencies(&dir.join("Cargo.toml")).contains(&"axum".to_owned()),
            "crates/{name} depends on axum"
        );
        for (file, text) in sources_of(&dir) {
            assert!(
                !text.contains("axum::"),
                "{} uses axum outside the server",
                file.display()
            );
        }
    }
}

/// SQL is written in `store` (Custodian's own tables) and `connectors` (the company's
/// datastores) and nowhere else; `bench` holds the raw-insert references the store is
/// measured against.
#[test]
fn only_store_and_connectors_hold_sql() {
    for (name, dir) in crate_dirs() {
        if ["store", "connectors", "bench"].contains(&name.as_str()) {
            continue;
        }
        let deps = runtime_dependencies(&dir.join("Cargo.toml"));
        for driver in ["sqlx", "rusqlite"] {
            assert!(
                !deps.contains(&driver.to_owned()),
                "crates/{name} depends on {driver}"
            );
        }
        for (file, text) in sources_of(&dir) {
            for marker in [
                "sqlx::",
                "rusqlite::",
                "SELECT ",
                "INSERT INTO",
                "UPDATE ",
                "DELETE FROM",
            ] {
                assert!(
                    !text.contains(marker),
                    "{} holds SQL (`{marker}`)",
                    file.display()
                );
            }
        }
    }
}

/// "Now" comes from the injected `Clock` (crates/core/src/clock.rs) and nowhere else, so a
/// test can move time instead of sleeping. `Instant` (a stopwatch for durations in metrics and
/// benchmarks) is not a wall clock and is allowed; the bench crate and the benchmark binaries
/// beside the connectors and the mail crate measure real time on purpose.
#[test]
fn no_wall_clock_outside_the_clock_module() {
    let reads = [
        "SystemTime::now",
        "Timestamp::now",
        "Zoned::now",
        "Utc::now",
        "Local::now",
        "now_micros()",
    ];
    let allowed = |f: &Path| {
        let s = f.to_string_lossy();
        s.ends_with("crates/core/src/clock.rs")
            || s.contains("crates/bench/")
            || s.contains("/src/bin/")
    };
    let mut offenders = Vec::new();
    for (_, dir) in crate_dirs() {
        for (file, text) in sources_of(&dir) {
            if allowed(&file) {
                continue;
            }
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                // `clock.now_micros()` asks the injected clock; any other `now_micros()`
                // (the old `store::now_micros`) read the wall clock.
                for r in reads {
                    if let Some(at) = code.find(r) {
                        let via_clock = r == "now_micros()"
                            && code[..at].trim_end().ends_with('.')
                            && code[..at].contains("clock");
                        if !via_clock {
                            offenders.push(format!(
                                "{}:{}: {}",
                                file.display(),
                                n + 1,
                                line.trim()
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "wall-clock reads:\n{}",
        offenders.join("\n")
    );
}

/// Files stay readable in one sitting: no source file over 650 lines (the aim is ~600).
#[test]
fn source_files_are_short() {
    let mut long = Vec::new();
    for (_, dir) in crate_dirs() {
        for (file, text) in sources_of(&dir) {
            let n = text.lines().count();
            if n > 650 {
                long.push(format!("{} ({n} lines)", file.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "files over 650 lines:\n{}",
        long.join("\n")
    );
}

/// A function over 80 lines says why it is long, in a comment just above it.
#[test]
fn long_functions_say_why() {
    let mut offenders = Vec::new();
    for (_, dir) in crate_dirs() {
        for (file, text) in sources_of(&dir) {
            let lines: Vec<&str> = text.lines().collect();
            for (start, len) in functions(&lines) {
                if len <= 80 {
                    continue;
                }
                let commented = lines[..start]
                    .iter()
                    .rev()
                    .take_while(|l| {
                        let t = l.trim_start();
                        t.starts_with("//") || t.starts_with("#[")
                    })
                    .any(|l| l.trim_start().starts_with("//"));
                if !commented {
                    offenders.push(format!(
                        "{}:{} ({len} lines): {}",
                        file.display(),
                        start + 1,
                        lines[start].trim()
                    ));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "functions over 80 lines without a comment above them:\n{}",
        offenders.join("\n")
    );
}

/// The functions in a file as (first line, length in lines): a line that declares a `fn`
/// with a body, up to the line that closes it at the same indentation (rustfmt's layout).
fn functions(lines: &[&str]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let is_fn = [
            "fn ",
            "pub fn ",
            "async fn ",
            "pub async fn ",
            "pub(crate) fn ",
            "pub(crate) async fn ",
            "const fn ",
            "pub const fn ",
            "unsafe fn ",
        ]
        .iter()
        .any(|p| t.starts_with(p));
        if !is_fn || t.ends_with(';') || t.ends_with('}') {
            continue;
        }
        let indent = line.len() - t.len();
        let close = " ".repeat(indent) + "}";
        if let Some(end) = lines[i..].iter().position(|l| *l == close) {
            found.push((i, end + 1));
        }
    }
    found
}

#[test]
fn the_function_finder_measures_bodies() {
    let src = "/// why\nfn a() {\n    x();\n}\n\n    pub async fn b(\n        y: u8,\n    ) {\n    }\nfn c();";
    let lines: Vec<&str> = src.lines().collect();
    assert_eq!(functions(&lines), vec![(1, 3), (5, 4)]);
}

/// The application layer knows no HTTP: no HTTP crate in its manifest, no HTTP type or status
/// code in its sources — its errors carry a kind and a code, which only the server maps to a
/// status.
#[test]
fn the_application_layer_knows_no_http() {
    let dir = root().join("crates/app");
    let deps = runtime_dependencies(&dir.join("Cargo.toml"));
    for dep in ["axum", "http", "tower", "hyper", "tower-http"] {
        assert!(
            !deps.contains(&dep.to_owned()),
            "custodian-app depends on {dep}"
        );
    }
    for (file, text) in sources_of(&dir) {
        for word in ["axum::", "http::", "StatusCode"] {
            assert!(!text.contains(word), "{} mentions {word}", file.display());
        }
    }
}

/// Handlers parse, call a use case of `app` and answer: the HTTP edge never reads or writes
/// the store itself (`state.store…`, however the call is wrapped over lines), so what a page
/// shows is a use case the application layer owns and tests.
#[test]
fn handlers_never_touch_the_store() {
    for (file, text) in sources_of(&root().join("crates/server")) {
        let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let mut rest = squeezed.as_str();
        while let Some(at) = rest.find(".store") {
            let next = rest[at + ".store".len()..].chars().next();
            assert!(
                next.is_some_and(|c| c.is_alphanumeric() || c == '_'),
                "{} reaches the store directly (`{}`): call a use case of custodian-app",
                file.display(),
                &rest[at.saturating_sub(20)..(at + 30).min(rest.len())]
            );
            rest = &rest[at + 1..];
        }
    }
}
