//! Every fuzz target on stable Rust, as CI runs it: the committed corpus of
//! `fuzz/corpus/<target>/` replayed whole, then a seeded loop of mutated inputs, bounded by
//! `CUSTODIAN_FUZZ_INPUTS` inputs (20,000) or `CUSTODIAN_FUZZ_SECONDS` seconds (8), whichever
//! comes first. A panic fails the test with the input, also written under the target folder
//! (`…/tmp/fuzz-crash-<target>.bin`) to replay or add to the corpus (fuzz/README.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

use custodian_fuzz_targets::mutate::{self, Budget};
use custodian_fuzz_targets::TARGETS;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The corpus of one target, in file-name order (so a run is the same everywhere).
fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = repo().join("fuzz/corpus").join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

fn budget() -> Budget {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Budget {
        inputs: var("CUSTODIAN_FUZZ_INPUTS", 20_000) as usize,
        time: Duration::from_secs(var("CUSTODIAN_FUZZ_SECONDS", 8)),
    }
}

/// The seed of a target: fixed, and different per target.
fn seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn fuzz(name: &str) {
    let target = TARGETS
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no target {name}"));
    let corpus = corpus(name);
    assert!(!corpus.is_empty(), "fuzz/corpus/{name} is empty");
    match mutate::run(target.run, &corpus, seed(name), budget()) {
        Ok(o) => eprintln!(
            "{name}: {} corpus inputs replayed, {} mutated inputs in {:.1} s ({:.0} inputs/s)",
            o.replayed,
            o.mutated,
            o.elapsed.as_secs_f64(),
            (o.replayed + o.mutated) as f64 / o.elapsed.as_secs_f64().max(1e-9)
        ),
        Err(crash) => {
            let file =
                Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-crash-{name}.bin"));
            let _ = std::fs::write(&file, &crash.input);
            panic!(
                "{name} panicked: {}\ninput ({} bytes, written to {}): {:?}",
                crash.message,
                crash.input.len(),
                file.display(),
                String::from_utf8_lossy(&crash.input[..crash.input.len().min(2048)])
            );
        }
    }
}

macro_rules! targets {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                fuzz(stringify!($name));
            }
        )*

        #[test]
        fn every_target_is_run_here_and_by_cargo_fuzz() {
            let here = [$(stringify!($name)),*];
            let manifest = std::fs::read_to_string(repo().join("fuzz/Cargo.toml")).unwrap();
            for t in TARGETS {
                assert!(here.contains(&t.name), "{} is not run by this test", t.name);
                assert!(
                    repo().join("fuzz/fuzz_targets").join(format!("{}.rs", t.name)).is_file(),
                    "fuzz/fuzz_targets/{}.rs is missing", t.name
                );
                assert!(
                    manifest.contains(&format!("name = \"{}\"", t.name)),
                    "fuzz/Cargo.toml does not name {}", t.name
                );
            }
            assert_eq!(here.len(), TARGETS.len());
        }
    };
}

targets!(
    policy_load,
    dataset_toml,
    fides_yaml,
    consent_import_csv,
    decide_body,
    consent_body,
    request_body,
    banner_cookie,
    unsubscribe_token,
);
