//! `[aggregates]`, `[[reports]]` and `[[security_measures]]`: a report serves a purpose whose
//! recipients receive non-personal data only (the example notice shares "solely
//! non-personally identifiable" aggregates), names the column counting people, reads with one
//! grouped statement, and never publishes a group of fewer than two people; a measure names
//! purposes that exist.

use super::references::{refs, unknown_help, Kind};
use super::*;

pub(super) fn reports(p: &Policy, r: &mut Report) {
    if p.aggregates.min_group < 2 {
        r.at(
            "aggregates.min_group",
            format!(
                "a minimum group of {} describes a single person",
                p.aggregates.min_group
            ),
            "give the smallest group a shared figure may describe, e.g. 10",
        );
    }
    let ids: Vec<&str> = p.purposes.iter().map(|x| x.id.as_str()).collect();
    for (i, report) in p.reports.iter().enumerate() {
        let at = format!("reports[{i}]");
        match p.purpose(&report.purpose) {
            None => r.at(
                format!("{at}.purpose"),
                format!("unknown purpose `{}`", report.purpose),
                unknown_help(&report.purpose, "purposes", &ids),
            ),
            Some(purpose) => receivers(p, r, &at, purpose),
        }
        if report.min_group.is_some_and(|m| m < 2) {
            r.at(
                format!("{at}.min_group"),
                "a minimum group below 2 describes a single person",
                "give the smallest group a figure may describe, or leave it out to use aggregates.min_group",
            );
        }
        query(r, &at, report);
    }
}

/// The purpose's recipients must exist and all be `non_personal_only`: an aggregate of people
/// goes nowhere else.
fn receivers(p: &Policy, r: &mut Report, at: &str, purpose: &Purpose) {
    if purpose.recipients.is_empty() {
        r.at(
            format!("{at}.purpose"),
            format!(
                "purpose `{}` has no recipients to share the report with",
                purpose.id
            ),
            "name a purpose whose recipients are all `non_personal_only`",
        );
    }
    for id in &purpose.recipients {
        if p.recipient(id).is_some_and(|rec| !rec.non_personal_only) {
            r.at(
                format!("{at}.purpose"),
                format!(
                    "purpose `{}` shares with `{id}`, which is not `non_personal_only`",
                    purpose.id
                ),
                "reports go only to recipients of non-personal data: set `non_personal_only = true` on the recipient, or name another purpose",
            );
        }
    }
}

fn query(r: &mut Report, at: &str, report: &super::super::model::Report) {
    let q = report.query.trim().trim_end_matches(';');
    let lower = q.to_ascii_lowercase();
    if !lower.starts_with("select") || q.contains(';') {
        r.at(
            format!("{at}.query"),
            "the query is not one read-only statement",
            "write one grouped select, e.g. `select platform, count(distinct user_id) as people from registrations group by platform`",
        );
    } else if !lower.contains("group by") {
        r.at(
            format!("{at}.query"),
            "the query has no `group by`",
            "an aggregate report groups people; add `group by` over the key columns",
        );
    }
    if report.people.trim().is_empty() || !lower.contains(&report.people.to_ascii_lowercase()) {
        r.at(
            format!("{at}.people"),
            format!("the query names no column `{}`", report.people),
            "name the column that counts the distinct people of each group (`count(distinct …) as people`)",
        );
    }
}

pub(super) fn measures(p: &Policy, r: &mut Report) {
    let ids: Vec<&str> = p.purposes.iter().map(|x| x.id.as_str()).collect();
    let kind = Kind {
        one: "purpose",
        many: "purposes",
        known: &ids,
    };
    for (i, m) in p.security_measures.iter().enumerate() {
        refs(
            r,
            &format!("security_measures[{i}].purposes"),
            &m.purposes,
            &kind,
        );
        if m.description.trim().is_empty() {
            r.at(
                format!("security_measures[{i}].description"),
                "the measure is not described",
                "say what is done, e.g. \"Databases and backups are encrypted at rest (AES-256).\"",
            );
        }
    }
}
