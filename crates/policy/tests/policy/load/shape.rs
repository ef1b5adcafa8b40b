//! The shape of the file: syntax, types, unknown keys and sections, missing fields, every
//! problem reported in one run, and empty or minimal files.

use super::one;
use crate::{mutate, mutate_all, position, problems};
use custodian_policy::{example, load, EXAMPLE_POLICY};

#[test]
fn the_example_loads_without_problems() {
    let policy = load("examples/policy.toml", EXAMPLE_POLICY).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy, example());
    let consent: Vec<&str> = policy.consent_purposes().map(|p| p.id.as_str()).collect();
    for id in ["marketing", "analytics", "advertising"] {
        assert!(consent.contains(&id), "{id} is a consent purpose");
    }
}

#[test]
fn syntax_error() {
    let text = mutate("[policy]\norganisation", "[policy\norganisation");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].line, position(&text, "[policy\n").0);
    assert!(found[0].message.starts_with("TOML syntax error"));
}

#[test]
fn wrong_type() {
    let text = mutate(
        "acknowledge_business_hours = 72",
        "acknowledge_business_hours = \"72\"",
    );
    let p = one(
        &text,
        "\"72\"",
        "deadlines.acknowledge_business_hours",
        "invalid type",
    );
    assert!(p.help.contains("u32"), "{}", p.help);
}

#[test]
fn unknown_key() {
    let text = mutate(
        "name = \"Novation\"\n",
        "name = \"Novation\"\ncolour = \"red\"\n",
    );
    let p = one(
        &text,
        "colour",
        "controllers[1].colour",
        "unknown field `colour`",
    );
    assert!(p.help.contains("`name`"), "{}", p.help);
}

#[test]
fn unknown_variant_suggests_the_nearest() {
    let text = mutate(
        "legal_basis = \"contract\"\ncategories = [\"job_applicant\"]",
        "legal_basis = \"contrakt\"\ncategories = [\"job_applicant\"]",
    );
    let p = one(
        &text,
        "\"contrakt\"",
        "purposes[13].legal_basis",
        "unknown variant",
    );
    assert!(p.help.contains("did you mean `contract`?"), "{}", p.help);
}

#[test]
fn missing_field() {
    let text = mutate("name = \"Novation\"\n", "");
    one(
        &text,
        "[[controllers]]\nid = \"novation\"",
        "controllers[1]",
        "missing field `name`",
    );
}

#[test]
fn unknown_section() {
    let text = mutate("[contacts]", "[contact]");
    let p = one(&text, "contact]", "contact", "unknown section `contact`");
    assert_eq!(p.help, "did you mean `contacts`?");
}

#[test]
fn shape_problems_in_different_sections_are_all_reported() {
    let text = mutate_all(&[
        (
            "name = \"Novation\"\n",
            "name = \"Novation\"\ncolour = \"red\"\n",
        ),
        (
            "acknowledge_business_hours = 72",
            "acknowledge_business_hours = \"72\"",
        ),
        ("minimum_age = 13", "minimum_age = -1"),
        ("kind = \"affiliate\"", "kind = \"afiliate\""),
    ]);
    let found = problems(&text);
    let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "controllers[1].colour",
            "recipients[9].kind",
            "deadlines.acknowledge_business_hours",
            "children.minimum_age"
        ],
        "{found:#?}"
    );
}

#[test]
fn every_rule_problem_is_reported_in_one_run() {
    let text = mutate_all(&[
        (
            "effective_date = \"2018-05-25\"",
            "effective_date = \"25/05/2018\"",
        ),
        ("id = \"rental\"", "id = \"sale\""),
        (
            "never_store_categories = [\"keystrokes\"]",
            "never_store_categories = [\"keystroke\"]",
        ),
        ("keep_for = \"P7Y\"", "keep_for = \"P7\""),
        ("time_zone = \"Europe/London\"", "time_zone = \"London\""),
        ("DE = 16", "DE = 12"),
    ]);
    let found = problems(&text);
    assert_eq!(found.len(), 6, "{found:#?}");
    let mut lines: Vec<usize> = found.iter().map(|p| p.line).collect();
    let sorted = {
        lines.sort_unstable();
        lines.clone()
    };
    assert_eq!(lines, sorted, "problems come in file order");
    let shown = custodian_policy::Problems(found).to_string();
    assert!(
        shown.starts_with("policy.toml:10:18: `25/05/2018` is not a date\n  help: "),
        "{shown}"
    );
    assert_eq!(shown.lines().count(), 12);
}

#[test]
fn empty_and_minimal_files() {
    let found = problems("");
    assert_eq!(found.len(), 3);
    assert!(found.iter().all(|p| (p.line, p.column) == (1, 1)));
    let minimal = r#"
[policy]
organisation = "Acme"
version = "1"
effective_date = "2024-01-01"

[[controllers]]
id = "acme"
name = "Acme Ltd"
country = "IE"

[contacts]
dpo_email = "dpo@acme.example"

[deadlines]
acknowledge_business_hours = 72
answer_within = "P1M"
extension_max = "P2M"
calendar = "office"

[[calendars]]
id = "office"
time_zone = "Europe/Berlin"
working_days = ["monday", "tuesday", "wednesday", "thursday", "friday"]
opens = "09:00"
closes = "17:00"
holidays = "de"

[children]
minimum_age = 16

[texts.en]
banner_title = "Privacy"
banner_body = "We ask first."
accept_all = "Accept"
reject_all = "Reject"
choose = "Choose"
save = "Save"
notice_link = "Notice"
"#;
    let policy = load("minimal.toml", minimal).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.default_calendar().time_zone, "Europe/Berlin");
    assert!(
        !policy.deadlines.roll_forward,
        "rolling forward is asked for, not assumed"
    );
    assert_eq!(policy.children.erase_within, "PT24H");
}
