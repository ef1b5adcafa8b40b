//! The integration tests of `custodian-policy`: one binary, a module per concern.

mod diff;
mod diff_notice;
mod holidays;
mod load;
mod props;
mod records;
mod render;

pub use custodian_policy::EXAMPLE_POLICY;
use custodian_policy::{load, Problem};

/// The example with `from` (which must occur exactly once) replaced by `to`.
pub fn mutate(from: &str, to: &str) -> String {
    mutate_all(&[(from, to)])
}

pub fn mutate_all(edits: &[(&str, &str)]) -> String {
    let mut text = EXAMPLE_POLICY.to_string();
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once");
        text = text.replacen(from, to, 1);
    }
    text
}

/// The problems `load` finds in `text`; panics if it finds none.
pub fn problems(text: &str) -> Vec<Problem> {
    match load("policy.toml", text) {
        Ok(_) => panic!("expected problems, the text loaded"),
        Err(p) => p.0,
    }
}

/// The 1-based line and column of `needle`, which must occur exactly once in `text`.
pub fn position(text: &str, needle: &str) -> (usize, usize) {
    assert_eq!(
        text.matches(needle).count(),
        1,
        "`{needle}` must occur once"
    );
    let offset = text.find(needle).unwrap_or(0);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (line, col)
}
