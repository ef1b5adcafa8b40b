//! Files an operator hands Custodian, possibly written by someone else's tool: the policy, a
//! dataset in our TOML or in Fides YAML, a Fides erasure policy, a consent import.

use custodian_core::clock::ManualClock;
use custodian_core::ids::Ids;
use custodian_core::subject::SubjectHasher;

/// `policy.toml`: loaded, every problem located and rendered.
pub fn policy_load(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(problems) = custodian_policy::load("fuzz.toml", text) {
        // Rendering the problems exercises the line and column arithmetic too.
        let _ = problems.to_string();
    }
}

/// A dataset file (`datastore add`, `dataset check`): Custodian TOML, or Fides YAML when it
/// starts with `dataset:`; validated as on registration. What loads writes back as TOML and
/// loads again the same.
pub fn dataset_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((ds, _)) = custodian_connectors::dataset_file::parse(text) else {
        return;
    };
    let _ = ds.validate(Some(crate::policy()));
    let written = custodian_connectors::dataset::to_toml(&ds);
    let again = custodian_connectors::dataset_file::parse(&written);
    assert!(
        again.is_ok(),
        "a loaded dataset written as TOML does not load again: {again:?}\n{written}"
    );
}

/// Fides YAML: a dataset, and a Fides erasure policy (`--fides-policy`).
pub fn fides_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fides_policy = custodian_connectors::fides_policy::parse(text, "fuzz.yml").ok();
    let _ = custodian_connectors::fides::parse(text);
    if let Some(p) = fides_policy {
        let _ = custodian_connectors::fides::parse_with(text, Some(&p));
    }
}

/// `custodian consent import FILE`: a mailing tool's CSV export, every row checked.
pub fn consent_import_csv(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // 2026-01-01T00:00:00Z: rows may claim any earlier time.
    let now = 1_767_225_600_000_000;
    let ids = Ids::new(std::sync::Arc::new(ManualClock::at(now)));
    let hasher = SubjectHasher::new(b"fuzz secret, not a real one");
    if let Ok((rows, _bad)) =
        custodian_app::consent_import::parse_rows(crate::policy(), &hasher, text, now, &ids)
    {
        for row in rows {
            assert!(
                row.event.created_at <= now,
                "an accepted row from the future"
            );
            assert!(
                crate::policy()
                    .purpose(&row.event.purpose)
                    .is_some_and(|p| p.is_consent()),
                "an accepted row for a purpose that is not consent"
            );
        }
    }
}
