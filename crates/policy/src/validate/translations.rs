//! `[translations.<language>]`: a translation is for one of the policy's other languages and
//! gives only texts its section has, none of them empty. What a translation leaves out, and
//! what it gives for items the policy does not have, are warnings of `policy check`
//! ([`stale`], `lint.rs`), not errors: the notice is still whole (in the first language where
//! a text is missing), and renaming an item must not stop the policy from loading.

use super::identifiers::closest;
use super::*;

/// The ids of `section`'s items, and the texts each item has in the policy (a purpose without
/// `interest` has none to translate).
fn items<'a>(p: &'a Policy, section: &str) -> Vec<(&'a str, Vec<&'static str>)> {
    match section {
        "purposes" => p
            .purposes
            .iter()
            .map(|x| {
                let mut keys = vec!["name", "description"];
                if x.interest.is_some() {
                    keys.push("interest");
                }
                (x.id.as_str(), keys)
            })
            .collect(),
        "categories" => p
            .categories
            .iter()
            .map(|x| (x.id.as_str(), described(x.description.is_some())))
            .collect(),
        "subjects" => p
            .subjects
            .iter()
            .map(|x| (x.id.as_str(), described(x.description.is_some())))
            .collect(),
        "recipients" => p
            .recipients
            .iter()
            .map(|x| (x.id.as_str(), described(x.description.is_some())))
            .collect(),
        "regions" => p
            .regions
            .iter()
            .map(|x| (x.id.as_str(), vec!["name"]))
            .collect(),
        "retention" => p
            .retention
            .iter()
            .map(|x| (x.id.as_str(), vec!["description"]))
            .collect(),
        "prohibited" => p
            .prohibited
            .iter()
            .map(|x| (x.id.as_str(), vec!["name", "promise"]))
            .collect(),
        _ => Vec::new(),
    }
}

fn described(has: bool) -> Vec<&'static str> {
    if has {
        vec!["name", "description"]
    } else {
        vec!["name"]
    }
}

/// Every text `p` shows that a translation into another language may give:
/// `(section, id, key)`, in file order.
pub(crate) fn translatable(p: &Policy) -> Vec<(&'static str, String, &'static str)> {
    let mut out = Vec::new();
    for (section, _) in TRANSLATED_SECTIONS {
        for (id, keys) in items(p, section) {
            for key in keys {
                out.push((section, id.to_owned(), key));
            }
        }
    }
    out
}

pub(super) fn translations(p: &Policy, r: &mut Report) {
    let first = p.policy.languages.first();
    for (lang, t) in &p.translations {
        let at = format!("translations.{lang}");
        if !p.policy.languages.contains(lang) {
            r.at_key(
                &at,
                format!("`{lang}` is not one of policy.languages"),
                format!("add `{lang}` to policy.languages, or remove [translations.{lang}]"),
            );
        } else if Some(lang) == first {
            r.at_key(
                &at,
                format!("`{lang}` is the policy's first language: its texts are the sections' own"),
                "translations are for the other languages of policy.languages",
            );
        }
        if t.summary.as_deref().is_some_and(|s| s.trim().is_empty()) {
            r.at(
                format!("{at}.summary"),
                "the text is empty",
                "write the text, or remove the key",
            );
        }
        for (section, allowed) in TRANSLATED_SECTIONS {
            let Some(given) = t.section(section) else {
                continue;
            };
            for (id, texts) in given {
                for key in texts.keys() {
                    let kpath = format!("{at}.{section}.{id}.{key}");
                    if !allowed.contains(&key) {
                        r.at_key(
                            &kpath,
                            format!("[[{section}]] has no `{key}` to translate"),
                            format!("an item of {section} takes {}", allowed.join(", ")),
                        );
                    } else if texts.get(key).is_some_and(|s| s.trim().is_empty()) {
                        r.at(
                            &kpath,
                            "the text is empty",
                            "write the text, or remove the key",
                        );
                    }
                }
            }
        }
    }
}

/// Translations of items or texts the policy does not have — a stale translation after an
/// item was renamed or removed, or a typo — as `(path, message, help)` for `policy check`'s
/// warnings: harmless to the notice, so they do not stop the policy from loading.
pub(crate) fn stale(p: &Policy) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (lang, t) in &p.translations {
        if t.summary.is_some() && p.policy.summary.is_none() {
            out.push((
                format!("translations.{lang}.summary"),
                "the policy has no summary to translate".to_string(),
                "add policy.summary, or remove this one".to_string(),
            ));
        }
        for (section, allowed) in TRANSLATED_SECTIONS {
            let Some(given) = t.section(section) else {
                continue;
            };
            let known = items(p, section);
            for (id, texts) in given {
                let path = format!("translations.{lang}.{section}.{id}");
                let Some((_, has)) = known.iter().find(|(k, _)| k == id) else {
                    let help = match closest(id, known.iter().map(|(k, _)| *k)) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!("name one of the ids of [[{section}]], or remove it"),
                    };
                    out.push((
                        path,
                        format!("{section} has no `{id}`: nothing shows this translation"),
                        help,
                    ));
                    continue;
                };
                for key in texts
                    .keys()
                    .filter(|k| allowed.contains(k) && !has.contains(k))
                {
                    out.push((
                        format!("{path}.{key}"),
                        format!("`{id}` has no `{key}` in [[{section}]]: nothing shows this translation"),
                        "give the text in the section first, or remove this one".to_string(),
                    ));
                }
            }
        }
    }
    out
}
