//! `[rights]` and `[notice]`: the purposes restriction and objection reach exist and may be
//! reached (GDPR Art. 18(2), 21(1)), and the notice has every statement Art. 13 and 14 ask
//! for — each in every language of the policy.

use super::references::{refs, unknown_help, Kind};
use super::*;

// ── Rights ────────────────────────────────────────────────────────────────────────────────

pub(super) fn rights(p: &Policy, r: &mut Report) {
    let ids: Vec<&str> = p.purposes.iter().map(|x| x.id.as_str()).collect();
    let kind = Kind {
        one: "purpose",
        many: "purposes",
        known: &ids,
    };
    refs(
        r,
        "rights.restriction.continues",
        &p.rights.restriction.continues,
        &kind,
    );
    refs(
        r,
        "rights.objection.reaches",
        &p.rights.objection.reaches,
        &kind,
    );
    for (i, id) in p.rights.objection.reaches.iter().enumerate() {
        let Some(purpose) = p.purpose(id) else {
            continue;
        };
        if !matches!(
            purpose.legal_basis,
            LegalBasis::LegitimateInterest | LegalBasis::PublicTask
        ) {
            r.at(
                format!("rights.objection.reaches[{i}]"),
                format!(
                    "purpose `{id}` rests on {}; an objection reaches only legitimate interest or public task",
                    purpose.legal_basis.id()
                ),
                "GDPR Art. 21(1): remove it (consent is withdrawn instead, and contracts end)",
            );
        }
    }
    if p.aggregates.min_group == 0 {
        r.at(
            "aggregates.min_group".to_owned(),
            "a minimum group of 0 people protects nobody",
            "give the smallest group a published figure may describe, e.g. 10",
        );
    }
    for (i, purpose) in p.purposes.iter().enumerate() {
        if purpose.min_group == Some(0) {
            r.at(
                format!("purposes[{i}].min_group"),
                "a minimum group of 0 people protects nobody",
                "give the smallest group a shared figure may describe, e.g. 10",
            );
        }
    }
}

// ── The notice's statements ───────────────────────────────────────────────────────────────

/// A per-language text has every language of the policy, no other, none empty.
fn texts(r: &mut Report, p: &Policy, path: &str, t: &Texts) {
    for lang in &p.policy.languages {
        if t.get(lang).is_none_or(|s| s.trim().is_empty()) {
            r.at(
                path,
                format!("no text in `{lang}`"),
                format!("give the text for every language of policy.languages ({lang} = \"...\")"),
            );
        }
    }
    for lang in t.keys() {
        if !p.policy.languages.contains(lang) {
            r.at_key(
                format!("{path}.{lang}"),
                format!("`{lang}` is not one of policy.languages"),
                "remove it, or add the language to policy.languages",
            );
        }
    }
}

// Kept whole: one check per statement of Art. 13/14, in the order the articles list them.
pub(super) fn notice(p: &Policy, r: &mut Report) {
    let n = &p.notice;
    let ids: Vec<&str> = p.purposes.iter().map(|x| x.id.as_str()).collect();
    let purposes = Kind {
        one: "purpose",
        many: "purposes",
        known: &ids,
    };
    let cat_ids: Vec<&str> = p.categories.iter().map(|x| x.id.as_str()).collect();
    let categories = Kind {
        one: "category",
        many: "categories",
        known: &cat_ids,
    };
    // Art. 13(2)(e): every purpose resting on a contract or the law says whether the data is
    // required and what happens without it.
    for (i, req) in n.requirements.iter().enumerate() {
        let path = format!("notice.requirements[{i}]");
        refs(r, &format!("{path}.purposes"), &req.purposes, &purposes);
        texts(r, p, &format!("{path}.consequence"), &req.consequence);
    }
    for (i, purpose) in p.purposes.iter().enumerate() {
        let needs = matches!(
            purpose.legal_basis,
            LegalBasis::Contract | LegalBasis::LegalObligation
        );
        if needs
            && !n
                .requirements
                .iter()
                .any(|q| q.purposes.contains(&purpose.id))
        {
            r.at(
                format!("purposes[{i}]"),
                format!(
                    "purpose `{}` rests on {} but the notice does not say whether its data is required",
                    purpose.id,
                    purpose.legal_basis.id()
                ),
                "list it in a [[notice.requirements]] with its kind and consequence (GDPR Art. 13(2)(e))",
            );
        }
    }
    // Art. 13(2)(f), 22: automated decisions, and profiling.
    match &n.automated_decisions {
        Some(t) => texts(r, p, "notice.automated_decisions", t),
        None if !p.purposes.is_empty() => r.at(
            "notice",
            "the notice does not say whether decisions are made by automated means alone",
            "add automated_decisions = { en = \"...\" } to [notice] (GDPR Art. 13(2)(f), 22)",
        ),
        None => {}
    }
    for (i, prof) in n.profiling.iter().enumerate() {
        let path = format!("notice.profiling[{i}]");
        if p.purpose(&prof.purpose).is_none() {
            r.at(
                format!("{path}.purpose"),
                format!("unknown purpose `{}`", prof.purpose),
                unknown_help(&prof.purpose, "purposes", &ids),
            );
        }
        texts(r, p, &format!("{path}.logic"), &prof.logic);
        texts(r, p, &format!("{path}.consequences"), &prof.consequences);
    }
    for (i, purpose) in p.purposes.iter().enumerate() {
        let profiles = purpose
            .dpv
            .as_deref()
            .is_some_and(|d| PROFILING_TERMS.contains(&d));
        if profiles && !n.profiling.iter().any(|x| x.purpose == purpose.id) {
            r.at(
                format!("purposes[{i}].dpv"),
                format!("purpose `{}` is profiling, which the notice does not explain", purpose.id),
                "add a [[notice.profiling]] for it with its logic and consequences (GDPR Art. 4(4), 13(2)(f))",
            );
        }
    }
    // Art. 14(2)(f): sources of data not obtained from the person.
    for (i, src) in n.sources.iter().enumerate() {
        let path = format!("notice.sources[{i}]");
        refs(
            r,
            &format!("{path}.categories"),
            &src.categories,
            &categories,
        );
        texts(r, p, &format!("{path}.source"), &src.source);
    }
    // Art. 13(1)(f), 14(1)(f): a copy of the safeguards.
    let safeguarded = p
        .recipients
        .iter()
        .position(|x| matches!(x.transfer_mechanism.as_str(), "scc" | "bcr"));
    match (&n.safeguards_copy, safeguarded) {
        (Some(t), _) => texts(r, p, "notice.safeguards_copy", t),
        (None, Some(j)) => r.at(
            format!("recipients[{j}].transfer_mechanism"),
            format!(
                "recipient `{}` relies on {} but the notice does not say how to obtain a copy",
                p.recipients[j].id, p.recipients[j].transfer_mechanism
            ),
            "add safeguards_copy = { en = \"...\" } to [notice] (GDPR Art. 13(1)(f))",
        ),
        (None, None) => {}
    }
    cookies(p, r);
}

/// Every consent cookie has a lifetime, and every lifetime names a consent cookie.
fn cookies(p: &Policy, r: &mut Report) {
    let lifetimes = &p.notice.cookie_lifetimes;
    let mut named = BTreeSet::new();
    for (i, purpose) in p.purposes.iter().enumerate() {
        let Some(consent) = &purpose.consent else {
            continue;
        };
        for (j, cookie) in consent.cookies.iter().enumerate() {
            named.insert(cookie.as_str());
            if !lifetimes.contains_key(cookie) {
                r.at(
                    format!("purposes[{i}].consent.cookies[{j}]"),
                    format!("cookie `{cookie}` has no lifetime"),
                    format!("add \"{cookie}\" = \"P1Y\" (or \"session\") to [notice.cookie_lifetimes]: the notice lists how long each cookie lives"),
                );
            }
        }
    }
    for (name, life) in lifetimes {
        let path = format!("notice.cookie_lifetimes.{name}");
        if !named.contains(name.as_str()) {
            r.at_key(
                &path,
                format!("`{name}` is not a cookie of any consent purpose"),
                "list it in a purpose's consent.cookies, or remove it",
            );
        } else if life != "session" {
            check_duration(r, &path, life);
        }
    }
}
