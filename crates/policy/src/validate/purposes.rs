//! Purposes and their consent texts, and the retention rules that keep their data.

use super::*;

// ── Purposes and consent ──────────────────────────────────────────────────────────────────

pub(super) fn purposes(p: &Policy, r: &mut Report) {
    let languages = &p.policy.languages;
    for (i, purpose) in p.purposes.iter().enumerate() {
        let path = format!("purposes[{i}]");
        match (&purpose.consent, purpose.is_consent()) {
            (None, true) => r.at(
                &path,
                format!("consent purpose `{}` has no notice text", purpose.id),
                format!(
                    "add a [purposes.consent] table with notice.<language> = \"...\" for {}: \
                     the text shown when asking is what the person agrees to",
                    languages.join(", ")
                ),
            ),
            (Some(_), false) => r.at(
                format!("{path}.consent"),
                format!(
                    "purpose `{}` rests on {} but has a consent table",
                    purpose.id,
                    purpose.legal_basis.id()
                ),
                "remove the consent table, or set legal_basis = \"consent\"",
            ),
            (Some(consent), true) => consent_texts(r, &path, &purpose.id, consent, languages),
            (None, false) => {}
        }
        if purpose.legal_basis == LegalBasis::LegitimateInterest
            && purpose
                .interest
                .as_deref()
                .is_none_or(|s| s.trim().is_empty())
        {
            r.at(
                &path,
                format!(
                    "purpose `{}` rests on legitimate interest but does not state it",
                    purpose.id
                ),
                "add interest = \"...\": the notice must say which interest is pursued (GDPR Art. 13(1)(d))",
            );
        }
        let personal: Vec<&str> = purpose
            .categories
            .iter()
            .filter(|c| p.category(c).is_some_and(|c| c.personal))
            .map(String::as_str)
            .collect();
        if let Some(first_personal) = personal.first() {
            for (j, id) in purpose.recipients.iter().enumerate() {
                if p.recipient(id).is_some_and(|rec| rec.non_personal_only) {
                    r.at(
                        format!("{path}.recipients[{j}]"),
                        format!(
                            "recipient `{id}` only receives non-personal data, but purpose `{}` processes personal data (`{first_personal}`)",
                            purpose.id
                        ),
                        "share only non-personal categories with it in a purpose of its own, or remove it here",
                    );
                }
            }
        }
    }
}

pub(super) fn consent_texts(
    r: &mut Report,
    path: &str,
    id: &str,
    consent: &ConsentSpec,
    languages: &[String],
) {
    let notice_path = format!("{path}.consent.notice");
    for lang in languages {
        match consent.notice.get(lang) {
            None => r.at(
                &notice_path,
                format!("consent purpose `{id}` has no notice text in `{lang}`"),
                format!(
                    "add notice.{lang} = \"...\" (every language of policy.languages needs one)"
                ),
            ),
            Some(text) if text.trim().is_empty() => r.at(
                format!("{notice_path}.{lang}"),
                format!("the `{lang}` notice text of `{id}` is empty"),
                "write what the person is asked to agree to",
            ),
            Some(_) => {}
        }
        if consent.banner && !consent.label.contains_key(lang) {
            r.at(
                format!("{path}.consent.label"),
                format!("banner purpose `{id}` has no label in `{lang}`"),
                format!("add label.{lang} = \"...\", the name of its toggle in the banner"),
            );
        }
    }
    for (field, map) in [("notice", &consent.notice), ("label", &consent.label)] {
        for lang in map.keys() {
            if !languages.contains(lang) {
                r.at_key(
                    format!("{path}.consent.{field}.{lang}"),
                    format!("`{lang}` is not one of policy.languages"),
                    format!("add `{lang}` to policy.languages, or remove this text"),
                );
            }
        }
    }
}

// ── Retention ─────────────────────────────────────────────────────────────────────────────

pub(super) fn retention(p: &Policy, r: &mut Report) {
    for (i, rule) in p.retention.iter().enumerate() {
        check_duration(r, &format!("retention[{i}].keep_for"), &rule.keep_for);
        if rule.categories.is_empty() {
            r.at(
                format!("retention[{i}].categories"),
                format!("retention rule `{}` covers no category", rule.id),
                "list the categories it applies to",
            );
        }
    }
    for (i, category) in p.categories.iter().enumerate() {
        let covered = p
            .retention
            .iter()
            .any(|rule| rule.categories.contains(&category.id));
        if category.personal && !covered {
            let example = p
                .retention
                .first()
                .map(|rule| format!(", e.g. `{}`", rule.id))
                .unwrap_or_default();
            r.at(
                format!("categories[{i}]"),
                format!("personal category `{}` has no retention rule", category.id),
                format!(
                    "add `{}` to the categories of a [[retention]] rule{example}, or add a rule for it: personal data may not be kept forever",
                    category.id
                ),
            );
        }
    }
}
