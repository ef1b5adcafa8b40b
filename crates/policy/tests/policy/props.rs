//! `load` never panics, whatever it is given, and always points inside the text.

use custodian_policy::{load, EXAMPLE_POLICY};
use proptest::prelude::*;

fn check(text: &str) {
    if let Err(problems) = load("fuzz.toml", text) {
        assert!(!problems.is_empty());
        let lines = text.split('\n').count();
        for p in problems.iter() {
            assert!(
                p.line >= 1 && p.line <= lines,
                "{p:?} outside {lines} lines"
            );
            assert!(p.column >= 1, "{p:?}");
            assert!(!p.message.is_empty(), "{p:?}");
        }
    }
}

/// One edit of the example: replace a span of bytes (snapped to character boundaries) by a
/// fragment that is likely to matter in TOML.
fn edited(start: usize, len: usize, fragment: &str) -> String {
    let text = EXAMPLE_POLICY;
    let mut a = start % text.len();
    while !text.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (a + len).min(text.len());
    while !text.is_char_boundary(b) {
        b -= 1;
    }
    format!("{}{fragment}{}", &text[..a], &text[b..])
}

const FRAGMENTS: [&str; 16] = [
    "", "\"", "[", "]", "[[", "=", "\n", "0", "-1", "\"x\"", "true", "{", "}", ",", "#", "é",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(&text);
    }

    #[test]
    fn toml_like_text_never_panics(text in "[\\[\\]a-z_.=\"0-9 \n{},#-]{0,300}") {
        check(&text);
    }

    #[test]
    fn mutations_of_the_example_never_panic(
        start in 0usize..100_000,
        len in 0usize..40,
        fragment in proptest::sample::select(FRAGMENTS.to_vec()),
    ) {
        check(&edited(start, len, fragment));
    }

    #[test]
    fn dropped_lines_never_panic(line in 0usize..700, count in 1usize..5) {
        let text: Vec<&str> = EXAMPLE_POLICY.lines().collect();
        let at = line % text.len();
        let kept: Vec<&str> = text[..at].iter().chain(text[(at + count).min(text.len())..].iter()).copied().collect();
        check(&kept.join("\n"));
    }
}
