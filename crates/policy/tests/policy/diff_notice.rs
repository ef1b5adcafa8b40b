//! `diff` on what a lawyer reads first: the rights of restriction and objection, the notice's
//! statements of substance (Art. 13(2)(e)-(f), 14(2)(f)), transfers, retention, aggregates and
//! security measures. Each case is one edit of the example, with the materiality it must get.

use super::{mutate, mutate_all};
use custodian_policy::diff::{diff, Change};
use custodian_policy::{example, load};

fn changes(text: &str) -> Vec<Change> {
    let new = load("new.toml", text).unwrap_or_else(|e| panic!("{e}"));
    diff(&example(), &new)
}

/// The change at `path`, which must be the only one, and whether it is material.
#[track_caller]
fn material_at(text: &str, path: &str) -> bool {
    let found = changes(text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].path, path, "{found:#?}");
    found[0].material
}

#[test]
fn weakening_restriction_or_objection_is_material() {
    let more = mutate(
        "continues = [\"storage\", \"legal_claims\"]",
        "continues = [\"storage\", \"legal_claims\", \"support\"]",
    );
    assert!(material_at(&more, "rights.restriction.continues"));
    let fewer = mutate(
        "continues = [\"storage\", \"legal_claims\"]",
        "continues = [\"storage\"]",
    );
    assert!(!material_at(&fewer, "rights.restriction.continues"));
    let narrower = mutate(
        "reaches = [\"enquiries\", \"support\", \"product_improvement\", \"site_administration\", \"change_of_control\"]",
        "reaches = [\"enquiries\", \"support\", \"product_improvement\", \"site_administration\"]",
    );
    assert!(material_at(&narrower, "rights.objection.reaches"));
    let wider = mutate(
        "reaches = [\"enquiries\", \"support\", \"product_improvement\", \"site_administration\", \"change_of_control\"]",
        "reaches = [\"enquiries\", \"support\", \"product_improvement\", \"site_administration\", \"change_of_control\", \"legal_claims\"]",
    );
    assert!(!material_at(&wider, "rights.objection.reaches"));
}

#[test]
fn the_notices_statements_of_substance_are_material_and_its_wording_is_not() {
    let automated = mutate(
        "automated_decisions.en = \"We make no decision",
        "automated_decisions.en = \"We make some decisions",
    );
    assert!(material_at(&automated, "notice.automated_decisions.en"));
    let logic = mutate(
        "logic.en = \"Our advertising partners build a profile",
        "logic.en = \"Our advertising partners and data brokers build a profile",
    );
    assert!(material_at(&logic, "notice.profiling"));
    let source = mutate(
        "source.en = \"Our distributors and resellers,",
        "source.en = \"Data brokers, our distributors and resellers,",
    );
    assert!(material_at(&source, "notice.sources"));
    let copy = mutate(
        "safeguards_copy.en = \"For a copy of",
        "safeguards_copy.en = \"To receive a copy of",
    );
    assert!(!material_at(&copy, "notice.safeguards_copy.en"));
    let cookie = mutate("\"_gid\" = \"P1D\"", "\"_gid\" = \"P30D\"");
    assert!(material_at(&cookie, "notice.cookie_lifetimes._gid"));
    let shorter = mutate("\"_ga\" = \"P2Y\"", "\"_ga\" = \"P1Y\"");
    assert!(!material_at(&shorter, "notice.cookie_lifetimes._ga"));
}

#[test]
fn data_becoming_required_is_material() {
    let statutory = mutate(
        "purposes = [\"newsletter\"]\nkind = \"contractual\"",
        "purposes = [\"newsletter\"]\nkind = \"statutory\"",
    );
    assert!(material_at(&statutory, "notice.requirements"));
    let voluntary = mutate(
        "purposes = [\"newsletter\"]\nkind = \"contractual\"",
        "purposes = [\"newsletter\"]\nkind = \"voluntary\"",
    );
    assert!(!material_at(&voluntary, "notice.requirements"));
}

#[test]
fn transfers_and_controllers_are_material() {
    let mechanism = mutate(
        "name = \"Google Analytics\"\nkind = \"processor\"\ncountries = [\"US\"]\ntransfer_mechanism = \"dpf\"",
        "name = \"Google Analytics\"\nkind = \"processor\"\ncountries = [\"US\"]\ntransfer_mechanism = \"scc\"",
    );
    assert!(material_at(
        &mechanism,
        "recipients.google_analytics.transfer_mechanism"
    ));
    let entity = mutate(
        "name = \"Ampify\"\nlegal_entity = \"Focusrite Audio Engineering Ltd\"",
        "name = \"Ampify\"\nlegal_entity = \"Ampify Music Inc\"",
    );
    assert!(material_at(&entity, "controllers.ampify.legal_entity"));
}

#[test]
fn another_kind_of_purpose_or_a_lost_marketing_objection_is_material() {
    let dpv = mutate(
        "dpv = \"dpv:ImproveExistingProductsAndServices\"",
        "dpv = \"dpv:CommercialResearch\"",
    );
    assert!(material_at(&dpv, "purposes.product_improvement.dpv"));
    let marketing = mutate(
        "dpv = \"dpv:DirectMarketing\"\n",
        "dpv = \"dpv:DirectMarketing\"\ndirect_marketing = false\n",
    );
    assert!(material_at(
        &marketing,
        "purposes.marketing.direct_marketing"
    ));
}

#[test]
fn smaller_groups_less_notice_and_fewer_measures_are_material() {
    let group = mutate(
        "[aggregates]\nmin_group = 10",
        "[aggregates]\nmin_group = 5",
    );
    assert!(material_at(&group, "aggregates.min_group"));
    let purpose = mutate(
        "min_group = 10\n\n[[purposes]]",
        "min_group = 5\n\n[[purposes]]",
    );
    assert!(material_at(
        &purpose,
        "purposes.aggregate_sharing.min_group"
    ));
    let report = mutate(
        "people = \"people\"\n",
        "people = \"people\"\nmin_group = 3\n",
    );
    assert!(material_at(&report, "reports.product_use.min_group"));
    let stricter = mutate(
        "people = \"people\"\n",
        "people = \"people\"\nmin_group = 20\n",
    );
    assert!(!material_at(&stricter, "reports.product_use.min_group"));
    let days = mutate("material_change_days = 30", "material_change_days = 7");
    assert!(material_at(&days, "notices.material_change_days"));
    let gone = mutate_all(&[(
        "[[security_measures]]\nid = \"staff_training\"",
        "[[security_measures_gone]]\nid = \"staff_training\"",
    )]);
    assert!(
        load("new.toml", &gone).is_err(),
        "unknown section is refused"
    );
    let text = super::EXAMPLE_POLICY.to_string();
    let start = text
        .find("[[security_measures]]\nid = \"staff_training\"")
        .expect("measure");
    let end = start + text[start..].find("\n\n").expect("end of measure") + 2;
    let removed = format!("{}{}", &text[..start], &text[end..]);
    assert!(material_at(&removed, "security_measures.staff_training"));
}

#[test]
fn a_removed_retention_rule_whose_data_falls_to_a_longer_one_is_material() {
    // Log files are kept 90 days; without `server_logs` they fall to `analytics_events`
    // (14 months), which must now list them.
    let text = mutate_all(&[
        (
            "[[retention]]\nid = \"server_logs\"\ndescription = \"Server logs are kept for 90 days.\"\ncategories = [\"log_files\"]\nanchor = \"collected\"\nkeep_for = \"P90D\"\n\n",
            "",
        ),
        (
            "categories = [\"analytics_events\", \"keystrokes\"]\nanchor",
            "categories = [\"analytics_events\", \"keystrokes\", \"log_files\"]\nanchor",
        ),
    ]);
    let found = changes(&text);
    let removed = found
        .iter()
        .find(|c| c.path == "retention.server_logs")
        .expect("rule removed");
    assert!(removed.material, "{removed:#?}");
}
