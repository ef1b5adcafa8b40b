//! Each rule of `load`: one mutation of the example, exactly the expected problem, in place.

use super::{mutate, mutate_all, position, problems};
use custodian_policy::{example, load, EXAMPLE_POLICY};

/// Asserts that `text` has exactly one problem, at `needle`, on `path`, saying `message`.
#[track_caller]
fn one(text: &str, needle: &str, path: &str, message: &str) -> custodian_policy::Problem {
    let found = problems(text);
    assert_eq!(found.len(), 1, "expected one problem, got:\n{found:#?}");
    let p = found.into_iter().next().expect("one problem");
    assert_eq!((p.line, p.column), position(text, needle), "{p:#?}");
    assert_eq!(p.path, path, "{p:#?}");
    assert!(
        p.message.contains(message),
        "`{}` lacks `{message}`",
        p.message
    );
    assert!(
        !p.help.is_empty(),
        "every problem says how to fix it: {p:#?}"
    );
    assert_eq!(p.file, "policy.toml");
    p
}

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
    let text = mutate("[calendar]", "[calender]");
    let p = one(&text, "calender", "calender", "unknown section `calender`");
    assert_eq!(p.help, "did you mean `calendar`?");
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
fn duplicate_id() {
    let text = mutate("id = \"novation\"", "id = \"ampify\"");
    // The later of the two is the duplicate.
    let p = one(
        &text,
        "\"ampify\"\nname = \"Ampify\"",
        "controllers[3].id",
        "duplicate id `ampify`",
    );
    assert!(p.help.contains("controllers[1]"), "{}", p.help);
}

#[test]
fn duplicate_purpose_id() {
    let text = mutate("id = \"newsletter\"", "id = \"marketing\"");
    one(
        &text,
        "\"marketing\"\nname = \"Newsletters",
        "purposes[3].id",
        "duplicate id `marketing` in purposes",
    );
}

#[test]
fn id_not_snake_case() {
    let text = mutate("id = \"rental\"", "id = \"Rental-Data\"");
    let p = one(
        &text,
        "\"Rental-Data\"",
        "prohibited[1].id",
        "not a valid id",
    );
    assert!(p.help.contains("`rental_data`"), "{}", p.help);
}

#[test]
fn unknown_category_in_a_purpose() {
    let text = mutate(
        "categories = [\"website_user\", \"website_background\", \"analytics_events\", \"keystrokes\", \"log_files\"]",
        "categories = [\"website_user\", \"website_backgrund\", \"analytics_events\", \"keystrokes\", \"log_files\"]",
    );
    let p = one(
        &text,
        "\"website_backgrund\"",
        "purposes[1].categories[1]",
        "unknown category `website_backgrund`",
    );
    assert_eq!(p.help, "did you mean `website_background`?");
}

#[test]
fn unknown_category_without_a_near_match_lists_the_known() {
    let text = mutate(
        "categories = [\"survey\"]\nsubjects",
        "categories = [\"biometrics\"]\nsubjects",
    );
    let p = one(
        &text,
        "\"biometrics\"",
        "purposes[10].categories[0]",
        "unknown category",
    );
    assert!(
        p.help.starts_with("known categories: website_user, "),
        "{}",
        p.help
    );
}

#[test]
fn unknown_category_in_a_region_rule() {
    let text = mutate(
        "never_store_categories = [\"keystrokes\"]",
        "never_store_categories = [\"keystroke\"]",
    );
    one(
        &text,
        "\"keystroke\"",
        "regions[0].rules.never_store_categories[0]",
        "unknown category `keystroke`",
    );
}

#[test]
fn unknown_category_in_a_retention_rule() {
    let text = mutate(
        "categories = [\"analytics_events\", \"keystrokes\"]",
        "categories = [\"analytics_events\", \"keystrokes\", \"clicks\"]",
    );
    one(
        &text,
        "\"clicks\"",
        "retention[3].categories[2]",
        "unknown category `clicks`",
    );
}

#[test]
fn unknown_subject_and_recipient() {
    let text = mutate(
        "subjects = [\"job_applicant\"]",
        "subjects = [\"applicant\"]",
    );
    one(
        &text,
        "\"applicant\"",
        "purposes[13].subjects[0]",
        "unknown subject kind",
    );
    let text = mutate(
        "recipients = [\"helpdesk\"]",
        "recipients = [\"help_desk\"]",
    );
    let p = one(
        &text,
        "\"help_desk\"",
        "purposes[9].recipients[0]",
        "unknown recipient",
    );
    assert_eq!(p.help, "did you mean `helpdesk`?");
}

#[test]
fn consent_purpose_without_notice() {
    let text = mutate(
        "legal_basis = \"contract\"\ncategories = [\"job_applicant\"]",
        "legal_basis = \"consent\"\ncategories = [\"job_applicant\"]",
    );
    one(
        &text,
        "[[purposes]]\nid = \"recruitment\"",
        "purposes[13]",
        "consent purpose `recruitment` has no notice text",
    );
}

#[test]
fn consent_notice_missing_a_language() {
    let de = "notice.de = \"Wir möchten Ihnen Neuigkeiten zu unseren Produkten und Veranstaltungen per E-Mail und Post senden. Sie können sich jederzeit mit einem Klick abmelden.\"\n";
    let text = mutate(de, "");
    one(
        &text,
        "[purposes.consent]\nbanner = true\ncollected_via = [\"banner\", \"privacy_center\", \"signup\"]",
        "purposes[0].consent.notice",
        "no notice text in `de`",
    );
}

#[test]
fn banner_label_missing_a_language() {
    let text = mutate(
        "label = { en = \"Advertising\", de = \"Werbung\" }",
        "label = { en = \"Advertising\" }",
    );
    one(
        &text,
        "{ en = \"Advertising\" }",
        "purposes[2].consent.label",
        "no label in `de`",
    );
}

#[test]
fn consent_table_on_a_non_consent_purpose() {
    let text = mutate(
        "legal_basis = \"consent\"\ncategories = [\"testimonial\", \"website_user\"]",
        "legal_basis = \"legitimate_interest\"\ninterest = \"Showing happy customers.\"\ncategories = [\"testimonial\", \"website_user\"]",
    );
    one(
        &text,
        "[purposes.consent]\ncollected_via = [\"privacy_center\", \"api\"]",
        "purposes[14].consent",
        "rests on legitimate_interest but has a consent table",
    );
}

#[test]
fn legitimate_interest_must_be_stated() {
    let text = mutate("interest = \"Keeping our sites running and secure.\"\n", "");
    one(
        &text,
        "[[purposes]]\nid = \"site_administration\"",
        "purposes[12]",
        "does not state it",
    );
}

#[test]
fn personal_category_without_retention() {
    let text = mutate(
        "categories = [\"support_contact\"]",
        "categories = [\"survey\"]",
    );
    one(
        &text,
        "[[categories]]\nid = \"support_contact\"",
        "categories[6]",
        "personal category `support_contact` has no retention rule",
    );
}

#[test]
fn non_personal_category_needs_no_retention() {
    let text = mutate(
        "personal = false\ndpv = \"dpv:NonPersonalData\"",
        "personal = false\ndpv = \"dpv:NonPersonalData\"\n\n[[categories]]\nid = \"stats\"\nname = \"Stats\"\npersonal = false",
    );
    assert!(load("p.toml", &text).is_ok());
}

#[test]
fn bad_dates() {
    let text = mutate(
        "effective_date = \"2018-05-25\"",
        "effective_date = \"2018-02-30\"",
    );
    one(
        &text,
        "\"2018-02-30\"",
        "policy.effective_date",
        "not a date",
    );
    let text = mutate("\"2027-01-01\"", "\"2027-1-1\"");
    one(&text, "\"2027-1-1\"", "calendar.holidays[8]", "not a date");
}

#[test]
fn bad_durations() {
    let text = mutate("keep_for = \"P7Y\"", "keep_for = \"7 years\"");
    let p = one(
        &text,
        "\"7 years\"",
        "retention[1].keep_for",
        "not a duration",
    );
    assert!(p.help.contains("P7Y"));
    let text = mutate("erase_within = \"PT24H\"", "erase_within = \"P24H\"");
    let p = one(&text, "\"P24H\"", "children.erase_within", "not a duration");
    assert!(p.help.contains("after `T`"), "{}", p.help);
    let text = mutate("answer_within = \"P45D\"", "answer_within = \"P45X\"");
    one(
        &text,
        "\"P45X\"",
        "deadlines.jurisdictions[2].answer_within",
        "not a duration",
    );
}

#[test]
fn bad_country_codes() {
    let text = mutate(
        "country = \"GB\"\nwebsite = \"https://novationmusic.com\"",
        "country = \"UK\"\nwebsite = \"https://novationmusic.com\"",
    );
    let p = one(
        &text,
        "\"UK\"",
        "controllers[1].country",
        "not a country code",
    );
    assert!(p.help.contains("`GB`"), "{}", p.help);
    let text = mutate(
        "countries = [\"IE\", \"US\"]",
        "countries = [\"IE\", \"usa\"]",
    );
    one(
        &text,
        "\"usa\"",
        "recipients[6].countries[1]",
        "not a country code",
    );
    let text = mutate("DE = 16", "de = 16");
    let p = one(
        &text,
        "de = 16",
        "children.by_country.de",
        "not a country code",
    );
    assert!(p.help.contains("`DE`"), "{}", p.help);
}

#[test]
fn country_in_two_regions() {
    let text = mutate(
        "[regions.rules]",
        "[[regions]]\nid = \"germany\"\nname = \"Germany\"\ncountries = [\"DE\"]\n\n[regions.rules]",
    );
    // The inserted region takes the `[regions.rules]` table that followed, which is fine:
    // what matters is the overlap.
    one(
        &text,
        "\"DE\"]",
        "regions[1].countries[0]",
        "already in region `europe`",
    );
}

#[test]
fn bad_transfer_mechanism() {
    let text = mutate(
        "countries = [\"US\"]\ntransfer_mechanism = \"dpf\"\n\n[[recipients]]\nid = \"email_service\"",
        "countries = [\"US\"]\ntransfer_mechanism = \"privacy_shield\"\n\n[[recipients]]\nid = \"email_service\"",
    );
    one(
        &text,
        "\"privacy_shield\"",
        "recipients[3].transfer_mechanism",
        "unknown transfer mechanism",
    );
}

#[test]
fn bad_time_zone() {
    let text = mutate(
        "time_zone = \"Europe/London\"",
        "time_zone = \"Europe/Londn\"",
    );
    let p = one(
        &text,
        "\"Europe/Londn\"",
        "calendar.time_zone",
        "unknown time zone",
    );
    assert_eq!(p.help, "did you mean `Europe/London`?");
}

#[test]
fn bad_working_day() {
    let text = mutate("\"thursday\", \"friday\"]", "\"thursday\", \"fryday\"]");
    let p = one(
        &text,
        "\"fryday\"",
        "calendar.working_days[4]",
        "not a day of the week",
    );
    assert_eq!(p.help, "did you mean `friday`?");
}

#[test]
fn opening_after_closing() {
    let text = mutate("opens = \"09:00\"", "opens = \"18:00\"");
    one(
        &text,
        "\"17:30\"",
        "calendar.closes",
        "close (17:30) before they open (18:00)",
    );
    let text = mutate("opens = \"09:00\"", "opens = \"9am\"");
    one(&text, "\"9am\"", "calendar.opens", "not a time of day");
}

#[test]
fn children_ages() {
    let text = mutate("DE = 16", "DE = 18");
    one(
        &text,
        "18, NL",
        "children.by_country.DE",
        "outside 13 to 16",
    );
    let text = mutate("minimum_age = 13", "minimum_age = 0");
    one(
        &text,
        "0\nerase_within",
        "children.minimum_age",
        "minimum age is 0",
    );
}

#[test]
fn non_personal_recipient_of_personal_data() {
    let text = mutate(
        "recipients = [\"email_service\"]\ndpv = \"dpv:DirectMarketing\"",
        "recipients = [\"email_service\", \"industry_partners\"]\ndpv = \"dpv:DirectMarketing\"",
    );
    one(
        &text,
        "\"industry_partners\"]\ndpv = \"dpv:DirectMarketing\"",
        "purposes[0].recipients[1]",
        "only receives non-personal data",
    );
}

#[test]
fn texts_for_every_language_and_only_those() {
    let text = mutate("[texts.de]", "[texts.fr]");
    let found = problems(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].path, "policy.languages[1]");
    assert_eq!((found[0].line, found[0].column), position(&text, "\"de\"]"));
    assert!(found[0].message.contains("`de` has no banner texts"));
    assert_eq!(found[1].path, "texts.fr");
    assert_eq!((found[1].line, found[1].column), position(&text, "fr]"));
}

#[test]
fn bad_dpv_term() {
    let text = mutate("dpv = \"dpv:DirectMarketing\"", "dpv = \"DirectMarketing\"");
    one(
        &text,
        "\"DirectMarketing\"",
        "purposes[0].dpv",
        "not a DPV term",
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
    assert_eq!(policy.calendar.time_zone, "Europe/London");
    assert_eq!(policy.children.erase_within, "PT24H");
}

#[test]
fn notice_text_and_hash() {
    let p = example();
    let de = p.notice_text("marketing", "de").expect("german notice");
    assert!(de.starts_with("Wir möchten"));
    assert_eq!(
        p.notice_text("marketing", "fr"),
        p.notice_text("marketing", "en")
    );
    assert_eq!(p.notice_text("account", "en"), None);
    assert_eq!(p.notice_text("nope", "en"), None);
    assert_eq!(
        custodian_policy::notice_hash("abc"),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn unknown_auto_approved_request_type() {
    let text = mutate(
        "auto_approve = [\"access\", \"objection\"]",
        "auto_approve = [\"access\", \"portability\"]",
    );
    one(
        &text,
        "\"portability\"",
        "requests.auto_approve[1]",
        "unknown request type `portability`",
    );
}

#[test]
fn customer_contact_must_be_an_email() {
    let text = mutate(
        "contact_email = \"privacy@studio-one.example\"",
        "contact_email = \"studio one\"",
    );
    one(
        &text,
        "\"studio one\"",
        "customers[0].contact_email",
        "not an e-mail address",
    );
}

#[test]
fn duplicate_customer_id() {
    let text = mutate("id = \"soundschool\"", "id = \"studio_one\"");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains("duplicate id `studio_one`"),
        "{found:#?}"
    );
}

#[test]
fn what_an_objection_withdraws_and_the_receipts_jurisdiction_default_as_before() {
    let mut policy = custodian_policy::example();
    let marketing: Vec<&str> = policy
        .consent_purposes()
        .filter(|p| p.is_direct_marketing())
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(marketing, ["marketing", "social_widgets"]);
    assert_eq!(policy.receipt_jurisdiction(), "EU GDPR / UK GDPR");
    assert_eq!(policy.children.purposes_allowed, ["erasure"]);

    let analytics = policy
        .purposes
        .iter_mut()
        .find(|p| p.id == "analytics")
        .unwrap();
    analytics.direct_marketing = Some(true);
    assert!(analytics.is_direct_marketing());
    policy.policy.receipt_jurisdiction = Some("UK GDPR".into());
    assert_eq!(policy.receipt_jurisdiction(), "UK GDPR");
}
