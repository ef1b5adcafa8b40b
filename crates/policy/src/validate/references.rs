//! References between sections: every id a section names must exist in the section it
//! points to.

use super::*;

// ── References between sections ───────────────────────────────────────────────────────────

pub(super) fn references(p: &Policy, r: &mut Report) {
    let categories: Vec<&str> = p.categories.iter().map(|c| c.id.as_str()).collect();
    let subjects: Vec<&str> = p.subjects.iter().map(|c| c.id.as_str()).collect();
    let recipients: Vec<&str> = p.recipients.iter().map(|c| c.id.as_str()).collect();
    let cat = Kind {
        one: "category",
        many: "categories",
        known: &categories,
    };
    let sub = Kind {
        one: "subject kind",
        many: "subjects",
        known: &subjects,
    };
    let rec = Kind {
        one: "recipient",
        many: "recipients",
        known: &recipients,
    };
    for (i, purpose) in p.purposes.iter().enumerate() {
        refs(
            r,
            &format!("purposes[{i}].categories"),
            &purpose.categories,
            &cat,
        );
        refs(
            r,
            &format!("purposes[{i}].subjects"),
            &purpose.subjects,
            &sub,
        );
        refs(
            r,
            &format!("purposes[{i}].recipients"),
            &purpose.recipients,
            &rec,
        );
        if purpose.categories.is_empty() {
            r.at(
                format!("purposes[{i}]"),
                format!("purpose `{}` processes no category", purpose.id),
                "list the categories it processes in `categories`; a decision refuses the others",
            );
        }
    }
    for (i, region) in p.regions.iter().enumerate() {
        let rules = format!("regions[{i}].rules");
        let truncate = &region.rules.truncate_ip_categories;
        refs(
            r,
            &format!("{rules}.truncate_ip_categories"),
            truncate,
            &cat,
        );
        let never = &region.rules.never_store_categories;
        refs(r, &format!("{rules}.never_store_categories"), never, &cat);
    }
    for (i, rule) in p.retention.iter().enumerate() {
        refs(
            r,
            &format!("retention[{i}].categories"),
            &rule.categories,
            &cat,
        );
    }
}

pub(super) struct Kind<'a> {
    pub(super) one: &'a str,
    pub(super) many: &'a str,
    pub(super) known: &'a [&'a str],
}

pub(super) fn refs(r: &mut Report, path: &str, list: &[String], kind: &Kind<'_>) {
    let mut seen = BTreeSet::new();
    for (j, id) in list.iter().enumerate() {
        let at = format!("{path}[{j}]");
        if !kind.known.contains(&id.as_str()) {
            r.at(
                &at,
                format!("unknown {} `{id}`", kind.one),
                unknown_help(id, kind.many, kind.known),
            );
        } else if !seen.insert(id.as_str()) {
            r.at(&at, format!("`{id}` is listed twice"), "remove the repeat");
        }
    }
}

pub(super) fn unknown_help(id: &str, many: &str, known: &[&str]) -> String {
    match closest(id, known.iter().copied()) {
        Some(near) => format!("did you mean `{near}`?"),
        None if known.is_empty() => format!("no {many} are defined; add them first"),
        None => format!("known {many}: {}", known.join(", ")),
    }
}
