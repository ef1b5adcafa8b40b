//! Fuzz targets: for every parser that takes bytes from outside, one plain function that feeds
//! it arbitrary bytes and checks what must hold whatever they are — no panic, and where a value
//! goes out and comes back (the banner cookie), that it comes back the same.
//!
//! The functions are run two ways (docs/testing.md, fuzz/README.md):
//! - by cargo-fuzz and libFuzzer, coverage-guided, from `fuzz/` (`fuzz/fuzz_targets/<name>.rs`
//!   calls the function of the same name here);
//! - on stable Rust in the test suite (`tests/corpus.rs`): every committed input of
//!   `fuzz/corpus/<name>/` replayed, then a seeded, bounded loop of mutations ([`mutate`]).
//!
//! The targets call the code the server and the commands run — the handlers' body types and
//! `extract::parse`, the banner cookie's decoder, the connectors' dataset loaders, the consent
//! import's row parser — never a copy of it.

pub mod files;
pub mod http;
pub mod mutate;

/// One target: its name (the folder of its corpus and its cargo-fuzz binary) and its function.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "policy_load",
        run: files::policy_load,
    },
    Target {
        name: "dataset_toml",
        run: files::dataset_toml,
    },
    Target {
        name: "fides_yaml",
        run: files::fides_yaml,
    },
    Target {
        name: "consent_import_csv",
        run: files::consent_import_csv,
    },
    Target {
        name: "decide_body",
        run: http::decide_body,
    },
    Target {
        name: "consent_body",
        run: http::consent_body,
    },
    Target {
        name: "request_body",
        run: http::request_body,
    },
    Target {
        name: "banner_cookie",
        run: http::banner_cookie,
    },
    Target {
        name: "unsubscribe_token",
        run: http::unsubscribe_token,
    },
];

/// The example policy, loaded once: the policy the bodies and files are checked against.
pub fn policy() -> &'static custodian_policy::Policy {
    static POLICY: std::sync::OnceLock<custodian_policy::Policy> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        custodian_policy::load("policy.toml", custodian_policy::EXAMPLE_POLICY)
            .expect("the example policy loads")
    })
}
