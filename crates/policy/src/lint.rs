//! Warnings: promises the text of a policy makes that the rules of the same policy cannot
//! keep. A regulator reads the notice as a promise (GDPR Art. 5(1)(a), 12(1)), so a purpose
//! that says "only aggregates of at least 10 people" needs a `min_group` that decisions
//! enforce, and a text that says "we delete it within 24 hours" needs retention rules that
//! are not longer. `custodian policy check` prints these as warnings: the file still loads.
//!
//! The reading of texts is deliberately simple (English and German phrases, numbers written
//! as digits): it finds the usual ways of writing such promises, not every one.

use toml_edit::ImDocument;

use crate::duration::{approx_days, parse_duration};
use crate::locate::{line_col, span_of, Target};
use crate::model::*;
use crate::problem::Problem;

/// Every promise of `policy` (loaded from `text`) that its rules cannot keep, located.
pub fn warnings(file_name: &str, text: &str, policy: &Policy) -> Vec<Problem> {
    let doc = ImDocument::parse(text.to_string()).ok();
    let mut out: Vec<Problem> = findings(policy)
        .into_iter()
        .map(|(path, message, help)| {
            let offset = doc
                .as_ref()
                .map_or(0, |d| span_of(d, &path, Target::Value).start);
            let (line, column) = line_col(text, offset);
            Problem {
                file: file_name.to_string(),
                line,
                column,
                path,
                message,
                help,
            }
        })
        .collect();
    out.sort_by_key(|p| (p.line, p.column));
    out
}

type Finding = (String, String, String);

/// The texts of a purpose that speak to people, with their paths — translations included.
fn purpose_texts<'a>(policy: &'a Policy, i: usize, p: &'a Purpose) -> Vec<(String, &'a str)> {
    let mut out = vec![(format!("purposes[{i}].description"), p.description.as_str())];
    if let Some(interest) = &p.interest {
        out.push((format!("purposes[{i}].interest"), interest.as_str()));
    }
    if let Some(consent) = &p.consent {
        for (lang, t) in &consent.notice {
            out.push((format!("purposes[{i}].consent.notice.{lang}"), t.as_str()));
        }
    }
    for (lang, tr) in &policy.translations {
        if let Some(item) = tr.purposes.get(&p.id) {
            for key in ["description", "interest"] {
                if let Some(t) = item.get(key) {
                    out.push((format!("translations.{lang}.purposes.{}.{key}", p.id), t));
                }
            }
        }
    }
    out
}

/// The index of item `id` in `section` (one of `TRANSLATED_SECTIONS`).
fn index_of(policy: &Policy, section: &str, id: &str) -> Option<usize> {
    let ids: Vec<&str> = match section {
        "purposes" => policy.purposes.iter().map(|x| x.id.as_str()).collect(),
        "categories" => policy.categories.iter().map(|x| x.id.as_str()).collect(),
        "subjects" => policy.subjects.iter().map(|x| x.id.as_str()).collect(),
        "recipients" => policy.recipients.iter().map(|x| x.id.as_str()).collect(),
        "regions" => policy.regions.iter().map(|x| x.id.as_str()).collect(),
        "retention" => policy.retention.iter().map(|x| x.id.as_str()).collect(),
        "prohibited" => policy.prohibited.iter().map(|x| x.id.as_str()).collect(),
        _ => return None,
    };
    ids.iter().position(|x| *x == id)
}

/// The policy's own texts that a language of `policy.languages` has no translation of: the
/// notice in that language shows them in the first language (GDPR Art. 12(1) asks for an
/// intelligible notice). One warning per language with no translation at all.
fn untranslated(policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(first) = policy.policy.languages.first() else {
        return out;
    };
    let texts = crate::validate::translatable(policy);
    for (li, lang) in policy.policy.languages.iter().enumerate().skip(1) {
        let Some(tr) = policy.translations.get(lang) else {
            if !texts.is_empty() {
                out.push((
                    format!("policy.languages[{li}]"),
                    format!("the notice in `{lang}` shows the policy's own texts (purposes, data, recipients, retention) in `{first}`: there is no [translations.{lang}]"),
                    format!("add [translations.{lang}] with their texts (docs/policy.md, `[translations.<language>]`)"),
                ));
            }
            continue;
        };
        if policy.policy.summary.is_some() && tr.summary.is_none() {
            out.push((
                "policy.summary".to_string(),
                format!(
                    "the summary has no `{lang}` text; the `{lang}` notice shows it in `{first}`"
                ),
                format!("add translations.{lang}.summary"),
            ));
        }
        for (section, id, key) in &texts {
            let (section, key) = (*section, *key);
            let given = tr
                .section(section)
                .and_then(|items| items.get(id))
                .and_then(|item| item.get(key));
            if given.is_some() {
                continue;
            }
            let Some(i) = index_of(policy, section, id) else {
                continue;
            };
            out.push((
                format!("{section}[{i}].{key}"),
                format!("`{id}` has no `{lang}` {key}; the `{lang}` notice shows it in `{first}`"),
                format!("add translations.{lang}.{section}.{id}.{key}"),
            ));
        }
    }
    out
}

/// The longest period any retention rule keeps one of `categories`, in days.
fn longest_kept<'a>(policy: &'a Policy, categories: &[String]) -> Option<(f64, &'a str)> {
    policy
        .retention
        .iter()
        .filter(|r| r.categories.iter().any(|c| categories.contains(c)))
        .filter_map(|r| {
            Some((
                approx_days(&parse_duration(&r.keep_for).ok()?),
                r.id.as_str(),
            ))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

fn findings(policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, purpose) in policy.purposes.iter().enumerate() {
        for (path, t) in purpose_texts(policy, i, purpose) {
            if let Some(n) = promised_group(t) {
                match purpose.min_group {
                    None => out.push((
                        path.clone(),
                        format!("the text promises groups of at least {n} people, but purpose `{}` has no `min_group`", purpose.id),
                        format!("add min_group = {n} to the purpose: decisions then refuse smaller groups"),
                    )),
                    Some(m) if m < n => out.push((
                        path.clone(),
                        format!("the text promises groups of at least {n} people, but `min_group` is {m}"),
                        format!("set min_group = {n}, or change the text"),
                    )),
                    _ => {}
                }
            }
            if let Some(days) = promised_deletion(t) {
                if let Some((kept, rule)) = longest_kept(policy, &purpose.categories) {
                    if kept > days {
                        out.push((
                            path,
                            format!("the text promises deletion within {}, but rule `{rule}` keeps data of this purpose longer", days_words(days)),
                            "change the text to what the retention rules do, or shorten the rule".into(),
                        ));
                    }
                }
            }
        }
    }
    for (i, rule) in policy.retention.iter().enumerate() {
        let Ok(span) = parse_duration(&rule.keep_for) else {
            continue;
        };
        let translated = policy.translations.iter().filter_map(|(lang, tr)| {
            let t = tr.retention.get(&rule.id)?.description.as_deref()?;
            Some((
                format!("translations.{lang}.retention.{}.description", rule.id),
                t,
            ))
        });
        let texts = std::iter::once((
            format!("retention[{i}].description"),
            rule.description.as_str(),
        ))
        .chain(translated);
        for (path, text) in texts {
            if let Some(days) = promised_deletion(text) {
                if approx_days(&span) > days {
                    out.push((
                        path,
                        format!(
                        "the text promises deletion within {}, but the rule keeps the data for {}",
                        days_words(days),
                        crate::duration::words(&rule.keep_for)
                    ),
                        "say what `keep_for` does".into(),
                    ));
                }
            }
        }
    }
    for (i, c) in policy.controllers.iter().enumerate() {
        if c.address.as_deref().is_none_or(|a| a.trim().is_empty()) {
            out.push((
                format!("controllers[{i}]"),
                format!("controller `{}` has no address", c.id),
                "add address = \"...\": the notice must give each controller's contact details (GDPR Art. 13(1)(a))".into(),
            ));
        }
    }
    out.extend(untranslated(policy));
    out.extend(crate::validate::stale_translations(policy));
    out
}

fn days_words(days: f64) -> String {
    if days == 0.0 {
        "no time".into()
    } else if days < 1.0 {
        format!("{} hours", (days * 24.0).round())
    } else {
        format!("{} days", days.round())
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// "at least 10 people", "mindestens 10 Personen": the smallest group promised.
pub(crate) fn promised_group(text: &str) -> Option<u32> {
    let w = words(text);
    const PEOPLE: [&str; 8] = [
        "people",
        "persons",
        "users",
        "individuals",
        "personen",
        "nutzer",
        "menschen",
        "nutzern",
    ];
    for (k, word) in w.iter().enumerate() {
        let Ok(n) = word.parse::<u32>() else { continue };
        let before = |s: &[&str]| {
            k >= s.len() && s.iter().enumerate().all(|(j, x)| w[k - s.len() + j] == *x)
        };
        let after = w
            .iter()
            .skip(k + 1)
            .take(2)
            .any(|x| PEOPLE.contains(&x.as_str()));
        if (before(&["at", "least"]) || before(&["mindestens"])) && after {
            return Some(n);
        }
    }
    None
}

/// "deleted within 24 hours", "innerhalb von 30 Tagen gelöscht", "as soon as": the time a
/// sentence that speaks of deleting promises, in days.
pub(crate) fn promised_deletion(text: &str) -> Option<f64> {
    const DELETE: [&str; 6] = ["delet", "eras", "remov", "take it down", "lösch", "entfern"];
    let mut best: Option<f64> = None;
    for sentence in text.split(['.', ';', '!', '?']) {
        let lower = sentence.to_lowercase();
        if !DELETE.iter().any(|d| lower.contains(d)) {
            continue;
        }
        let w = words(&lower);
        let mut found = None;
        for (k, word) in w.iter().enumerate() {
            let Ok(n) = word.parse::<f64>() else { continue };
            let unit = w.get(k + 1).map(String::as_str).unwrap_or("");
            let per = match unit {
                u if u.starts_with("hour") || u.starts_with("stunde") => 1.0 / 24.0,
                u if u.starts_with("day") || u.starts_with("tag") => 1.0,
                u if u.starts_with("week") || u.starts_with("woche") => 7.0,
                u if u.starts_with("month") || u.starts_with("monat") => 30.436_875,
                u if u.starts_with("year") || u.starts_with("jahr") => 365.25,
                _ => continue,
            };
            let within = k >= 1 && matches!(w[k - 1].as_str(), "within" | "von" | "binnen");
            let within = within || (k >= 2 && w[k - 2] == "innerhalb");
            if within {
                found = Some(n * per);
            }
        }
        if found.is_none()
            && [
                "as soon as",
                "immediately",
                "at once",
                "sofort",
                "unverzüglich",
            ]
            .iter()
            .any(|p| lower.contains(p))
        {
            found = Some(0.0);
        }
        // "deleted when your account is closed": at the event itself.
        if found.is_none() && (lower.contains("deleted when") || lower.contains("gelöscht, wenn"))
        {
            found = Some(0.0);
        }
        if let Some(f) = found {
            best = Some(best.map_or(f, |b: f64| b.min(f)));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_promises() {
        assert_eq!(
            promised_group("only aggregates of at least 10 people are shared"),
            Some(10)
        );
        assert_eq!(promised_group("mindestens 5 Personen"), Some(5));
        assert_eq!(promised_group("10 people work here"), None);
        assert_eq!(
            promised_deletion("If we learn of it, we delete it within 24 hours."),
            Some(1.0)
        );
        assert_eq!(
            promised_deletion("Wir löschen sie innerhalb von 30 Tagen."),
            Some(30.0)
        );
        assert_eq!(
            promised_deletion("You can withdraw at any time and we will take it down."),
            None
        );
        assert_eq!(
            promised_deletion("deleted when your account is closed unless a longer rule applies"),
            Some(0.0)
        );
        assert_eq!(promised_deletion("kept for 7 years"), None);
    }
}
