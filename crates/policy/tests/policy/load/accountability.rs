//! `[aggregates]`, `[[reports]]` and `[[security_measures]]`: a report goes only to
//! recipients of non-personal data, reads with one grouped statement, names its people column;
//! groups of one are refused; measures name purposes that exist.

use super::one;
use crate::mutate;

#[test]
fn a_report_for_a_purpose_with_personal_recipients_is_refused() {
    let text = mutate(
        "purpose = \"aggregate_sharing\"\ndatastore",
        "purpose = \"marketing\"\ndatastore",
    );
    let p = one(
        &text,
        "\"marketing\"\ndatastore",
        "reports[0].purpose",
        "`email_service`, which is not `non_personal_only`",
    );
    assert!(p.help.contains("non_personal_only"));
    let text = mutate(
        "purpose = \"aggregate_sharing\"\ndatastore",
        "purpose = \"aggregate_sharng\"\ndatastore",
    );
    let p = one(
        &text,
        "\"aggregate_sharng\"",
        "reports[0].purpose",
        "unknown purpose",
    );
    assert!(p.help.contains("aggregate_sharing"), "{p:#?}");
}

#[test]
fn a_report_reads_with_one_grouped_select_naming_its_people_column() {
    let text = mutate("group by p.product, c.country\"\"\"", "\"\"\"");
    one(&text, "\"\"\"\nselect", "reports[0].query", "no `group by`");
    let text = mutate(
        "query = \"\"\"\nselect p.product",
        "query = \"\"\"\ndelete from customers; select p.product",
    );
    one(
        &text,
        "\"\"\"\ndelete",
        "reports[0].query",
        "not one read-only statement",
    );
    let text = mutate("people = \"people\"", "people = \"persons\"");
    one(
        &text,
        "\"persons\"",
        "reports[0].people",
        "no column `persons`",
    );
}

#[test]
fn groups_of_one_are_refused() {
    let text = mutate(
        "[aggregates]\nmin_group = 10",
        "[aggregates]\nmin_group = 1",
    );
    one(&text, "1\n", "aggregates.min_group", "a single person");
    let text = mutate(
        "people = \"people\"\n",
        "people = \"people\"\nmin_group = 1\n",
    );
    one(&text, "1\n\n#", "reports[0].min_group", "a single person");
}

#[test]
fn measures_name_known_purposes_and_dpv_terms() {
    let text = mutate(
        "purposes = [\"analytics\", \"site_administration\"]",
        "purposes = [\"analytics\", \"site_admin\"]",
    );
    let p = one(
        &text,
        "\"site_admin\"",
        "security_measures[2].purposes[1]",
        "unknown purpose",
    );
    assert!(p.help.contains("site_administration"));
    let text = mutate("dpv = \"dpv:StaffTraining\"", "dpv = \"StaffTraining\"");
    one(
        &text,
        "\"StaffTraining\"",
        "security_measures[3].dpv",
        "not a DPV term",
    );
}
