//! The document itself: its version, controllers and contacts, texts, DPV terms and the
//! request settings — what a reader of the notice sees first.

use super::*;

// ── Requests and customers ────────────────────────────────────────────────────────────────

pub(super) fn requests(p: &Policy, r: &mut Report) {
    for (i, t) in p.requests.auto_approve.iter().enumerate() {
        if !crate::model::REQUEST_TYPES.contains(&t.as_str()) {
            r.at(
                format!("requests.auto_approve[{i}]"),
                format!("unknown request type `{t}`"),
                format!("request types: {}", crate::model::REQUEST_TYPES.join(", ")),
            );
        }
    }
    if p.requests.verification_code_minutes == 0 || p.requests.verification_code_minutes > 24 * 60 {
        r.at(
            "requests.verification_code_minutes",
            "a verification code must work for 1 minute to 24 hours",
            "30 minutes is usual",
        );
    }
    if p.requests.verification_attempts == 0 {
        r.at(
            "requests.verification_attempts",
            "no attempt to enter the code would be allowed",
            "allow a few attempts, e.g. 5",
        );
    }
    for (i, c) in p.customers.iter().enumerate() {
        if !looks_like_email(&c.contact_email) {
            r.at(
                format!("customers[{i}].contact_email"),
                format!("`{}` is not an e-mail address", c.contact_email),
                "requests about this customer's data are forwarded there; give its privacy contact",
            );
        }
    }
}

// ── The document itself ──────────────────────────────────────────────────────────────────

pub(super) fn meta(p: &Policy, r: &mut Report) {
    let m = &p.policy;
    for (key, value) in [("organisation", &m.organisation), ("version", &m.version)] {
        if value.trim().is_empty() {
            r.at(
                format!("policy.{key}"),
                format!("`{key}` is empty"),
                "write the text people will see",
            );
        }
    }
    check_date(r, "policy.effective_date", &m.effective_date);
    if m.languages.is_empty() {
        r.at(
            "policy.languages",
            "no language is listed",
            "list at least one language tag, e.g. languages = [\"en\"]",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, lang) in m.languages.iter().enumerate() {
        let path = format!("policy.languages[{i}]");
        if !is_language_tag(lang) {
            r.at(
                &path,
                format!("`{lang}` is not a language tag"),
                format!(
                    "use a BCP 47 tag such as `en` or `de-CH`{}",
                    lower_hint(lang)
                ),
            );
        } else if !seen.insert(lang.as_str()) {
            r.at(
                &path,
                format!("language `{lang}` is listed twice"),
                "remove the repeat",
            );
        }
    }
    if p.controllers.is_empty() {
        r.at(
            "",
            "no controller is named",
            "add a [[controllers]] table for each company that decides on the processing (GDPR Art. 13(1)(a))",
        );
    }
    for (i, c) in p.controllers.iter().enumerate() {
        check_country(
            r,
            &format!("controllers[{i}].country"),
            &c.country,
            Target::Value,
        );
    }
    let c = &p.contacts;
    if c.dpo_email.is_none() && c.support_email.is_none() {
        r.at(
            "contacts",
            "no contact address is given",
            "set contacts.dpo_email or contacts.support_email, so people can use their rights",
        );
    }
    for (key, value) in [
        ("dpo_email", &c.dpo_email),
        ("support_email", &c.support_email),
    ] {
        if let Some(v) = value {
            if !looks_like_email(v) {
                r.at(
                    format!("contacts.{key}"),
                    format!("`{v}` is not an e-mail address"),
                    "write an address such as dpo@example.com",
                );
            }
        }
    }
}

pub(super) fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

pub(super) fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

pub(super) fn lower_hint(s: &str) -> String {
    let lower = s.to_ascii_lowercase().replace('_', "-");
    if lower != s && is_language_tag(&lower) {
        format!("; did you mean `{lower}`?")
    } else {
        String::new()
    }
}

// ── Texts ─────────────────────────────────────────────────────────────────────────────────

pub(super) fn texts(p: &Policy, r: &mut Report) {
    for (i, lang) in p.policy.languages.iter().enumerate() {
        if !p.texts.contains_key(lang) {
            r.at(
                format!("policy.languages[{i}]"),
                format!("language `{lang}` has no banner texts"),
                format!("add a [texts.{lang}] table (see [texts.<language>] in docs/policy.md)"),
            );
        }
    }
    for lang in p.texts.keys() {
        if !p.policy.languages.contains(lang) {
            r.at_key(
                format!("texts.{lang}"),
                format!("`{lang}` is not one of policy.languages"),
                format!("add `{lang}` to policy.languages, or remove [texts.{lang}]"),
            );
        }
    }
}

pub(super) fn dpv_terms(p: &Policy, r: &mut Report) {
    let terms = p
        .categories
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("categories[{i}].dpv"), &c.dpv))
        .chain(
            p.purposes
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("purposes[{i}].dpv"), &c.dpv)),
        )
        .chain(
            p.prohibited
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("prohibited[{i}].dpv"), &c.dpv)),
        )
        .chain(
            p.security_measures
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("security_measures[{i}].dpv"), &c.dpv)),
        );
    for (path, term) in terms {
        if let Some(term) = term {
            if !crate::dpv::is_term(term) {
                r.at(
                    path,
                    format!("`{term}` is not a DPV term"),
                    format!(
                        "write prefix:Name with a prefix of {} (e.g. `dpv:DirectMarketing`), or a full https IRI",
                        crate::dpv::PREFIXES.map(|(p, _)| p).join(", ")
                    ),
                );
            }
        }
    }
}
