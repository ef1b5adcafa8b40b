//! `diff`: identical policies give nothing; each material change is flagged, wording is not.

use super::{mutate, mutate_all};
use custodian_policy::diff::{consent_purposes_changed, diff, Change, ChangeKind};
use custodian_policy::{example, load};

fn changes(text: &str) -> Vec<Change> {
    let new = load("new.toml", text).unwrap_or_else(|e| panic!("{e}"));
    diff(&example(), &new)
}

/// Asserts the mutation gives exactly one change, at `path`, with this materiality.
#[track_caller]
fn only(text: &str, path: &str, material: bool) -> Change {
    let found = changes(text);
    assert_eq!(found.len(), 1, "{found:#?}");
    let c = found.into_iter().next().expect("one change");
    assert_eq!(c.path, path, "{c:#?}");
    assert_eq!(c.material, material, "{c:#?}");
    c
}

#[test]
fn identical_policies_have_no_changes() {
    assert!(diff(&example(), &example()).is_empty());
    assert!(consent_purposes_changed(&example(), &example()).is_empty());
}

#[test]
fn new_purpose_is_material() {
    let text = mutate(
        "# ── Promises never to do something",
        "[[purposes]]\nid = \"profiling\"\nname = \"Profiling\"\ndescription = \"Scoring.\"\nlegal_basis = \"legitimate_interest\"\ninterest = \"Sales.\"\ncategories = [\"website_user\"]\n\n# ── Promises never to do something",
    );
    let c = only(&text, "purposes.profiling", true);
    assert_eq!(c.kind, ChangeKind::Added);
    assert_eq!(c.summary, "new purpose `profiling` (Profiling)");
    assert!(c.old.is_none() && c.new.is_some());
}

#[test]
fn new_category_is_material() {
    let text = mutate(
        "# ── Kinds of data subject",
        "[[categories]]\nid = \"location\"\nname = \"Location\"\npersonal = true\n\n# ── Kinds of data subject",
    )
    .replace("categories = [\"log_files\"]\nanchor", "categories = [\"log_files\", \"location\"]\nanchor");
    let found = changes(&text);
    let added: Vec<&Change> = found
        .iter()
        .filter(|c| c.path == "categories.location")
        .collect();
    assert_eq!(added.len(), 1);
    assert!(added[0].material);
}

#[test]
fn new_recipient_and_new_country_are_material() {
    let text = mutate(
        "# ── What changes for visitors in Europe",
        "[[recipients]]\nid = \"crm\"\nname = \"CRM\"\nkind = \"processor\"\ncountries = [\"IE\"]\ntransfer_mechanism = \"none\"\n\n# ── What changes for visitors in Europe",
    );
    only(&text, "recipients.crm", true);
    let text = mutate(
        "countries = [\"IE\", \"US\"]",
        "countries = [\"IE\", \"US\", \"IN\"]",
    );
    let c = only(&text, "recipients.payment_processor.countries", true);
    assert_eq!(
        c.summary,
        "recipient `payment_processor`: countries adds IN"
    );
    let text = mutate("countries = [\"IE\", \"US\"]", "countries = [\"IE\"]");
    only(&text, "recipients.payment_processor.countries", false);
}

#[test]
fn changed_legal_basis_is_material() {
    let text = mutate(
        "legal_basis = \"contract\"\ncategories = [\"job_applicant\"]",
        "legal_basis = \"legitimate_interest\"\ninterest = \"Hiring.\"\ncategories = [\"job_applicant\"]",
    );
    let found = changes(&text);
    let basis = found
        .iter()
        .find(|c| c.path == "purposes.recruitment.legal_basis")
        .expect("basis change");
    assert!(basis.material);
    assert_eq!(basis.kind, ChangeKind::Changed);
    let interest = found
        .iter()
        .find(|c| c.path == "purposes.recruitment.interest")
        .expect("interest added");
    assert!(!interest.material);
}

#[test]
fn longer_retention_is_material_and_shorter_is_not() {
    let longer = mutate("keep_for = \"P90D\"", "keep_for = \"P1Y\"");
    let c = only(&longer, "retention.server_logs.keep_for", true);
    assert_eq!(
        c.summary,
        "retention rule `server_logs`: keep_for changed from \"P90D\" to \"P1Y\""
    );
    let shorter = mutate("keep_for = \"P90D\"", "keep_for = \"P30D\"");
    only(&shorter, "retention.server_logs.keep_for", false);
    // 14 months against 1 year and 3 months: compared by approximate days.
    let text = mutate("keep_for = \"P14M\"", "keep_for = \"P1Y3M\"");
    only(&text, "retention.analytics_events.keep_for", true);
}

#[test]
fn a_category_moved_to_a_longer_rule_is_material() {
    let text = mutate_all(&[
        (
            "categories = [\"log_files\"]\nanchor",
            "categories = [\"swap\"]\nanchor",
        ),
        (
            "categories = [\"job_applicant\"]\nanchor",
            "categories = [\"log_files\"]\nanchor",
        ),
        (
            "categories = [\"swap\"]\nanchor",
            "categories = [\"job_applicant\"]\nanchor",
        ),
    ]);
    let found = changes(&text);
    let logs = found
        .iter()
        .find(|c| c.path == "retention.applications.categories")
        .expect("applications rule gains log files");
    // Log files go from 90 days to 6 months.
    assert!(logs.material, "{logs:#?}");
    let jobs = found
        .iter()
        .find(|c| c.path == "retention.server_logs.categories")
        .expect("server logs rule gains job applications");
    // Job applications go from 6 months to 90 days.
    assert!(!jobs.material, "{jobs:#?}");
}

#[test]
fn purpose_gaining_categories_or_recipients_is_material() {
    let text = mutate(
        "categories = [\"survey\"]\nsubjects",
        "categories = [\"survey\", \"website_user\"]\nsubjects",
    );
    only(&text, "purposes.market_research.categories", true);
    let text = mutate(
        "recipients = [\"helpdesk\"]",
        "recipients = [\"helpdesk\", \"hosting_us\"]",
    );
    only(&text, "purposes.support.recipients", true);
    let text = mutate("recipients = [\"helpdesk\"]", "recipients = []");
    only(&text, "purposes.support.recipients", false);
}

#[test]
fn loosened_region_rules_are_material() {
    let text = mutate(
        "no_third_party_personal_data = true",
        "no_third_party_personal_data = false",
    );
    only(
        &text,
        "regions.europe.rules.no_third_party_personal_data",
        true,
    );
    let text = mutate(
        "truncate_ip_categories = [\"log_files\", \"website_background\", \"analytics_events\"]",
        "truncate_ip_categories = [\"log_files\", \"website_background\"]",
    );
    only(&text, "regions.europe.rules.truncate_ip_categories", true);
    let text = mutate(
        "never_store_categories = [\"keystrokes\"]",
        "never_store_categories = [\"keystrokes\", \"log_files\"]",
    );
    only(&text, "regions.europe.rules.never_store_categories", false);
}

#[test]
fn lower_minimum_age_is_material() {
    let text = mutate("minimum_age = 13", "minimum_age = 14");
    only(&text, "children.minimum_age", false);
    let text = mutate("minimum_age = 13", "minimum_age = 13\nby_country = { DE = 16, NL = 16, IE = 16, FR = 15, IT = 14, ES = 14, GB = 13 }")
        .replace("by_country = { DE = 16, NL = 16, IE = 16, FR = 15, IT = 14, ES = 14 }\n", "");
    let found = changes(&text);
    assert!(found.iter().all(|c| !c.material), "{found:#?}");
    let text = mutate("IT = 14", "IT = 13");
    only(&text, "children.by_country.IT", true);
}

#[test]
fn wording_and_removals_are_not_material() {
    let text = mutate(
        "name = \"Website analytics\"",
        "name = \"Analytics on our sites\"",
    );
    let c = only(&text, "purposes.analytics.name", false);
    assert_eq!(c.old, Some(serde_json::json!("Website analytics")));
    let text = mutate(
        "[[prohibited]]\nid = \"rental\"\nname = \"Renting personal data\"\npromise = \"Focusrite will not rent or sell your personally identifiable information to others.\"\ndpv = \"dpv:SellDataToThirdParties\"\n",
        "",
    );
    // Dropping a promise is the exception: it loosens the policy.
    only(&text, "prohibited.rental", true);
}

#[test]
fn consent_notice_change_is_not_material_but_asks_again() {
    let text = mutate(
        "notice.en = \"Our advertising partners may set cookies",
        "notice.en = \"Our partners may set cookies",
    );
    let c = only(&text, "purposes.advertising.consent.notice.en", false);
    assert_eq!(c.kind, ChangeKind::Changed);
    let new = load("new.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(consent_purposes_changed(&example(), &new), ["advertising"]);
}

#[test]
fn consent_purposes_changed_covers_categories_recipients_basis_and_new_ones() {
    let text = mutate_all(&[
        (
            "categories = [\"website_background\", \"analytics_events\"]",
            "categories = [\"website_background\"]",
        ),
        ("recipients = [\"social_networks\"]", "recipients = []"),
        (
            "legal_basis = \"contract\"\ncategories = [\"website_user\", \"marketing\", \"prospect\"]",
            "legal_basis = \"consent\"\ncategories = [\"website_user\", \"marketing\", \"prospect\"]",
        ),
        (
            "dpv = \"dpv:ServiceProvision\"\n\n[[purposes]]\nid = \"service_email\"",
            "dpv = \"dpv:ServiceProvision\"\n\n[purposes.consent]\nnotice = { en = \"News?\", de = \"Neuigkeiten?\" }\n\n[[purposes]]\nid = \"service_email\"",
        ),
    ]);
    let new = load("new.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        consent_purposes_changed(&example(), &new),
        ["advertising", "newsletter", "social_widgets"]
    );
}

#[test]
fn changes_serialize_in_snake_case() {
    let text = mutate("keep_for = \"P90D\"", "keep_for = \"P1Y\"");
    let json = serde_json::to_value(changes(&text)).expect("json");
    assert_eq!(json[0]["kind"], "changed");
    assert_eq!(json[0]["material"], true);
}

#[test]
fn one_new_recipient_one_new_cookie_or_a_lost_gpc_opt_out_asks_again() {
    for (from, to, purpose) in [
        (
            "recipients = [\"google_analytics\", \"crimson_hexagon\"]",
            "recipients = [\"google_analytics\", \"crimson_hexagon\", \"social_networks\"]",
            "analytics",
        ),
        (
            "cookies = [\"_ga\", \"_gid\", \"_ga_*\", \"cst_analytics\"]",
            "cookies = [\"_ga\", \"_gid\", \"_ga_*\", \"cst_analytics\", \"_hj*\"]",
            "analytics",
        ),
        (
            "dpv = \"dpv:PersonalisedAdvertising\"\ngpc_opt_out = true\n",
            "dpv = \"dpv:PersonalisedAdvertising\"\n",
            "advertising",
        ),
    ] {
        // A new cookie comes with its lifetime (the notice lists it).
        let text = mutate_all(&[
            (from, to),
            (
                "\"datr\" = \"P2Y\"\n",
                "\"datr\" = \"P2Y\"\n\"_hj*\" = \"P1Y\"\n",
            ),
        ]);
        let text = if to.contains("_hj*") {
            text
        } else {
            mutate(from, to)
        };
        let new = load("new.toml", &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            consent_purposes_changed(&example(), &new),
            [purpose],
            "{to}"
        );
    }
    // Wording and order are not terms: a relabelled purpose with its recipients reordered is
    // not asked again.
    let text = mutate_all(&[
        (
            "label = { en = \"Analytics\"",
            "label = { en = \"Statistics\"",
        ),
        (
            "recipients = [\"google_analytics\", \"crimson_hexagon\"]",
            "recipients = [\"crimson_hexagon\", \"google_analytics\"]",
        ),
    ]);
    let new = load("new.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(consent_purposes_changed(&example(), &new).is_empty());
}

#[test]
fn a_smaller_minimum_group_for_published_figures_is_material() {
    // The example declares `[aggregates] min_group = 10`.
    let smaller = mutate(
        "[aggregates]\nmin_group = 10",
        "[aggregates]\nmin_group = 5",
    );
    let c = only(&smaller, "aggregates.min_group", true);
    assert_eq!(c.kind, ChangeKind::Changed);
    let larger = smaller.replace("min_group = 5", "min_group = 20");
    only(&larger, "aggregates.min_group", false);
    let zero = smaller.replace("min_group = 5", "min_group = 0");
    let problems = load("zero.toml", &zero).unwrap_err().to_string();
    assert!(
        problems.contains("a minimum group of 0 people"),
        "{problems}"
    );
}
