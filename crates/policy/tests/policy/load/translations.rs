//! `[translations.<language>]`: a language the policy does not have, the first language, a key
//! its section has no text for and an empty text are errors, located; a translation of an item
//! the policy does not have (renamed, removed, mistyped) and a text left untranslated are
//! warnings of `policy check`, located too.

use super::one;
use crate::{mutate, position};
use custodian_policy::{load, warnings};

#[test]
fn a_translation_needs_a_language_of_the_policy_other_than_the_first() {
    let text = mutate("[translations.de]\n", "[translations.fr]\n");
    let p = one(
        &text,
        "fr]\nsummary",
        "translations.fr",
        "`fr` is not one of policy.languages",
    );
    assert!(p.help.contains("policy.languages"), "{}", p.help);
    let text = mutate("[translations.de]\nsummary", "[translations.en]\nsummary");
    let found = super::problems(&text);
    assert!(
        found
            .iter()
            .any(|p| p.path == "translations.en" && p.message.contains("first language")),
        "{found:#?}"
    );
}

#[test]
fn a_key_the_section_has_no_text_for_and_an_empty_text_are_errors() {
    let text = mutate(
        "europe = { name = \"Europa (EWR",
        "europe = { description = \"x\", name = \"Europa (EWR",
    );
    one(
        &text,
        "description = \"x\"",
        "translations.de.regions.europe.description",
        "[[regions]] has no `description` to translate",
    );
    let text = mutate(
        "server_logs = { description = \"Server-Protokolle werden 90 Tage gespeichert.\" }",
        "server_logs = { description = \" \" }",
    );
    one(
        &text,
        "\" \"",
        "translations.de.retention.server_logs.description",
        "the text is empty",
    );
}

#[test]
fn stale_and_missing_translations_are_warnings_in_place() {
    // A purpose renamed in the policy but not in the translation: it still loads.
    let text = mutate(
        "testimonials = { name = \"Erfahrungsberichte\", description = \"Die Veröffentlichung",
        "testimonial = { name = \"Erfahrungsberichte\", description = \"Die Veröffentlichung",
    );
    let p = load("policy.toml", &text).expect("a stale translation does not stop loading");
    let w = warnings("policy.toml", &text, &p);
    let stale = w
        .iter()
        .find(|w| w.path == "translations.de.purposes.testimonial")
        .unwrap_or_else(|| panic!("{w:#?}"));
    assert!(
        stale.message.contains("purposes has no `testimonial`"),
        "{}",
        stale.message
    );
    assert_eq!(stale.help, "did you mean `testimonials`?");
    assert_eq!(
        (stale.line, stale.column),
        position(
            &text,
            "{ name = \"Erfahrungsberichte\", description = \"Die Veröffentlichung"
        )
    );
    // ... and the purpose it meant is now untranslated, at the purpose's own text.
    let missing = w
        .iter()
        .find(|w| w.message.contains("`testimonials` has no `de` name"))
        .unwrap_or_else(|| panic!("{w:#?}"));
    assert!(missing.path.starts_with("purposes[") && missing.path.ends_with("].name"));
    assert_eq!(
        missing.help,
        "add translations.de.purposes.testimonials.name"
    );
    // No translation at all: one warning for the language.
    let start = text
        .find("\n# ── The policy's own texts in German")
        .unwrap();
    let without = &text[..start];
    let p = load("policy.toml", without).unwrap();
    let w = warnings("policy.toml", without, &p);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].path, "policy.languages[1]");
    assert!(
        w[0].message.contains("no [translations.de]"),
        "{}",
        w[0].message
    );
}
