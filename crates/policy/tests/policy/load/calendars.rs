//! The calendars of the deadlines: each bad input found, located and explained — an unknown
//! holiday set, a jurisdiction (or the default rules) without a calendar, a calendar that
//! does not exist, the old one-calendar `[calendar]` section.

use super::one;
use crate::{mutate, mutate_all, problems};

#[test]
fn an_unknown_holiday_set_is_named_with_the_nearest_one() {
    let text = mutate("holidays = \"gb-eng\"", "holidays = \"gb-en\"");
    let p = one(
        &text,
        "\"gb-en\"",
        "calendars[0].holidays",
        "unknown holiday set `gb-en`",
    );
    assert_eq!(p.help, "did you mean `gb-eng`?");
    let text = mutate("holidays = \"us-ca\"", "holidays = \"narnia\"");
    let p = one(
        &text,
        "\"narnia\"",
        "calendars[2].holidays",
        "unknown holiday set",
    );
    assert!(
        p.help.contains("gb-sct") && p.help.contains("extra_holidays"),
        "{}",
        p.help
    );
}

#[test]
fn a_jurisdiction_without_a_calendar_is_refused_where_it_is() {
    let text = mutate("calendar = \"dublin\"\n", "");
    let p = one(
        &text,
        "[[deadlines.jurisdictions]]\nid = \"gdpr\"",
        "deadlines.jurisdictions[0].calendar",
        "jurisdiction `gdpr` has no calendar",
    );
    assert!(p.help.contains("london, dublin, california"), "{}", p.help);
}

#[test]
fn the_default_rules_need_a_calendar_too() {
    let text = mutate("calendar = \"london\"\n\n# GDPR", "\n# GDPR");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].path, "deadlines.calendar");
    assert_eq!(found[0].message, "the default deadlines name no calendar");
}

#[test]
fn a_calendar_that_does_not_exist_is_a_typo_to_fix() {
    let text = mutate("calendar = \"california\"", "calendar = \"californa\"");
    let p = one(
        &text,
        "\"californa\"",
        "deadlines.jurisdictions[2].calendar",
        "unknown calendar `californa`",
    );
    assert_eq!(p.help, "did you mean `california`?");
}

#[test]
fn two_calendars_with_one_id_are_refused() {
    let text = mutate("id = \"dublin\"", "id = \"london\"");
    let found = problems(&text);
    assert!(
        found
            .iter()
            .any(|p| p.path == "calendars[1].id" && p.message.contains("duplicate id `london`")),
        "{found:#?}"
    );
}

#[test]
fn the_old_single_calendar_section_says_what_replaced_it() {
    let text = mutate_all(&[(
        "# ── Children",
        "[calendar]\ntime_zone = \"Europe/London\"\n\n# ── Children",
    )]);
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].message.contains("`[[calendars]]`"), "{found:#?}");
    assert!(found[0].help.contains("extra_holidays"), "{found:#?}");
}

#[test]
fn acknowledging_within_elapsed_hours_is_expressible_but_not_twice() {
    let text = mutate(
        "acknowledge_business_days = 10",
        "acknowledge_business_days = 10\nacknowledge_within = \"PT72H\"",
    );
    one(
        &text,
        "\"PT72H\"",
        "deadlines.jurisdictions[2].acknowledge_within",
        "both `acknowledge_within` and `acknowledge_business_days`",
    );
    let text = mutate(
        "acknowledge_business_days = 10",
        "acknowledge_within = \"PT72H\"",
    );
    let p = custodian_policy::load("policy.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.deadlines.jurisdictions[2].acknowledge_within.as_deref(),
        Some("PT72H")
    );
    let text = mutate(
        "acknowledge_business_days = 10",
        "acknowledge_within = \"72h\"",
    );
    one(
        &text,
        "\"72h\"",
        "deadlines.jurisdictions[2].acknowledge_within",
        "not a duration",
    );
}
