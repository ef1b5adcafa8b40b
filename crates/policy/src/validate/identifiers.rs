//! Identifiers: unique, stable-looking ids in every section, and the nearest known id when a
//! reference looks like a typo.

use super::*;

// ── Identifiers ───────────────────────────────────────────────────────────────────────────

pub(super) fn all_ids(p: &Policy, r: &mut Report) {
    ids(
        r,
        "controllers",
        p.controllers.iter().map(|x| x.id.as_str()),
    );
    ids(r, "categories", p.categories.iter().map(|x| x.id.as_str()));
    ids(r, "subjects", p.subjects.iter().map(|x| x.id.as_str()));
    ids(r, "purposes", p.purposes.iter().map(|x| x.id.as_str()));
    ids(r, "prohibited", p.prohibited.iter().map(|x| x.id.as_str()));
    ids(r, "recipients", p.recipients.iter().map(|x| x.id.as_str()));
    ids(r, "regions", p.regions.iter().map(|x| x.id.as_str()));
    ids(r, "retention", p.retention.iter().map(|x| x.id.as_str()));
    ids(r, "customers", p.customers.iter().map(|x| x.id.as_str()));
    ids(r, "reports", p.reports.iter().map(|x| x.id.as_str()));
    ids(
        r,
        "security_measures",
        p.security_measures.iter().map(|x| x.id.as_str()),
    );
    ids(
        r,
        "deadlines.jurisdictions",
        p.deadlines.jurisdictions.iter().map(|x| x.id.as_str()),
    );
}

/// Ids are referenced from other sections, from the API and from stored consent events, so
/// they must be unique and stable-looking: `[a-z][a-z0-9_]*`.
pub(super) fn ids<'a>(r: &mut Report, section: &str, ids: impl Iterator<Item = &'a str>) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.enumerate() {
        let path = format!("{section}[{i}].id");
        if !is_snake_id(id) {
            let suggestion = snake_case(id);
            let help = if is_snake_id(&suggestion) {
                format!("ids are snake_case ASCII, `[a-z][a-z0-9_]*`: try `{suggestion}`")
            } else {
                "ids are snake_case ASCII, `[a-z][a-z0-9_]*`".to_string()
            };
            r.at(&path, format!("`{id}` is not a valid id"), help);
        }
        if let Some(j) = first.get(id) {
            r.at(
                &path,
                format!("duplicate id `{id}` in {section}"),
                format!("{section}[{j}] already has this id; rename one of them"),
            );
        } else {
            first.insert(id, i);
        }
    }
}

pub(crate) fn is_snake_id(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

pub(super) fn snake_case(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            if ch.is_ascii_uppercase() && !out.is_empty() && !out.ends_with('_') {
                let prev_lower = out.chars().last().is_some_and(|c| c.is_ascii_lowercase());
                if prev_lower {
                    out.push('_');
                }
            }
            out.push(ch.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_')
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .to_string()
}

/// The candidate nearest to `word` by edit distance, when it is near enough to be a typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
