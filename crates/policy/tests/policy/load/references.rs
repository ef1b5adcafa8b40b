//! Ids and what refers to them: duplicates, snake case, unknown categories, subjects, recipients,
//! request types and customers, and what consent and personal categories must come with.

use super::one;
use crate::{mutate, problems};
use custodian_policy::load;

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
    let text = mutate("id = \"market_research\"", "id = \"marketing\"");
    one(
        &text,
        "\"marketing\"\nname = \"Market research",
        "purposes[10].id",
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
