//! `load`: text in, a valid [`Policy`] or every problem out.
//!
//! Three passes, so that one run reports everything it can: the TOML syntax (which stops
//! everything when broken), the shape of each section and each array element on its own (so a
//! wrong type in `purposes[2]` does not hide an unknown key in `recipients[5]`), and then the
//! rules in `validate`, whose path-addressed findings `locate` turns into lines and columns.

use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::Deserialize;
use toml_edit::{ImDocument, Item, Value};

use crate::locate::{line_col, path_at, span_of, Target};
use crate::model::*;
use crate::problem::{Problem, Problems};
use crate::validate::{self, Finding};

/// Parses and validates a policy file; `file_name` only labels the problems.
pub fn load(file_name: &str, text: &str) -> Result<Policy, Problems> {
    let doc = match ImDocument::parse(text.to_string()) {
        Ok(doc) => doc,
        Err(e) => {
            let offset = e.span().map_or(0, |s| s.start);
            let (line, column) = line_col(text, offset);
            let (message, help) = syntax_message(e.message());
            return Err(Problems(vec![Problem {
                file: file_name.to_string(),
                line,
                column,
                path: String::new(),
                message,
                help,
            }]));
        }
    };
    let shaped = Policy::deserialize(doc.clone().into_deserializer());
    let findings: Vec<Located> = match shaped {
        Ok(policy) => {
            let findings = validate::validate(&policy);
            if findings.is_empty() {
                return Ok(policy);
            }
            findings
                .into_iter()
                .map(|f| Located::from_finding(&doc, f))
                .collect()
        }
        Err(whole) => {
            let mut found = shape_problems(&doc);
            if found.is_empty() {
                // The per-section pass should always find what the whole pass found; if it
                // ever does not, the whole-document error is still worth reporting.
                found.push(Located::from_serde(&doc, "", &whole));
            }
            found
        }
    };
    let mut problems: Vec<Problem> = findings
        .into_iter()
        .map(|l| {
            let (line, column) = line_col(text, l.offset);
            Problem {
                file: file_name.to_string(),
                line,
                column,
                path: l.path,
                message: l.message,
                help: l.help,
            }
        })
        .collect();
    problems.sort_by_key(|p| (p.line, p.column));
    Err(Problems(problems))
}

/// The bundled example; the test suite guarantees it loads.
pub fn example() -> Policy {
    match load("examples/policy.toml", crate::EXAMPLE_POLICY) {
        Ok(policy) => policy,
        Err(problems) => panic!("the bundled example policy is invalid:\n{problems}"),
    }
}

/// A problem with its byte offset, before lines are counted.
struct Located {
    offset: usize,
    path: String,
    message: String,
    help: String,
}

impl Located {
    fn from_finding(doc: &ImDocument<String>, f: Finding) -> Located {
        Located {
            offset: span_of(doc, &f.path, f.target).start,
            path: f.path,
            message: f.message,
            help: f.help,
        }
    }

    fn from_serde(doc: &ImDocument<String>, prefix: &str, e: &toml_edit::de::Error) -> Located {
        let (message, help) = serde_message(e.message());
        let (offset, path) = match e.span() {
            Some(span) => {
                let path = path_at(doc.as_item(), "", span.start);
                let path = if path.starts_with(prefix) {
                    path
                } else {
                    prefix.to_string()
                };
                (span.start, path)
            }
            None => (
                span_of(doc, prefix, Target::Value).start,
                prefix.to_string(),
            ),
        };
        Located {
            offset,
            path,
            message,
            help,
        }
    }
}

/// Deserializes one part of the document. `toml_edit` only offers public deserializers for a
/// whole document and for values, so tables are turned into inline tables first; the spans of
/// their keys and values survive that, only the table's own header span is lost, and
/// [`Located::from_serde`] falls back to the part's path for errors that carried only that.
fn deserialize_part<T: DeserializeOwned>(item: &Item) -> Result<T, toml_edit::de::Error> {
    let value = match item.clone() {
        Item::Value(v) => v,
        Item::Table(t) => Value::InlineTable(t.into_inline_table()),
        Item::ArrayOfTables(a) => Value::Array(a.into_array()),
        Item::None => Value::InlineTable(Default::default()),
    };
    T::deserialize(value.into_deserializer())
}

const SECTIONS: [&str; 23] = [
    "policy",
    "controllers",
    "contacts",
    "categories",
    "subjects",
    "purposes",
    "prohibited",
    "recipients",
    "regions",
    "retention",
    "deadlines",
    "calendars",
    "children",
    "requests",
    "customers",
    "texts",
    "rights",
    "notice",
    "translations",
    "notices",
    "aggregates",
    "reports",
    "security_measures",
];

/// Checks the shape of each top-level section, and of each element of the arrays, on its own.
fn shape_problems(doc: &ImDocument<String>) -> Vec<Located> {
    let mut out = Vec::new();
    let table = doc.as_table();
    for (key, item) in table.iter() {
        let found = match key {
            "policy" => one::<PolicyMeta>(doc, key, item),
            "controllers" => each::<Controller>(doc, key, item),
            "contacts" => one::<Contacts>(doc, key, item),
            "categories" => each::<Category>(doc, key, item),
            "subjects" => each::<SubjectKind>(doc, key, item),
            "purposes" => each::<Purpose>(doc, key, item),
            "prohibited" => each::<Prohibited>(doc, key, item),
            "recipients" => each::<Recipient>(doc, key, item),
            "regions" => each::<Region>(doc, key, item),
            "retention" => each::<RetentionRule>(doc, key, item),
            "deadlines" => deadlines(doc, item),
            "calendars" => each::<Calendar>(doc, key, item),
            // One calendar for every jurisdiction was the old form (issue 12).
            "calendar" => vec![Located {
                offset: table.key(key).and_then(|k| k.span()).map_or(0, |s| s.start),
                path: key.to_string(),
                message: "`[calendar]` is now `[[calendars]]`, one per jurisdiction's law".into(),
                help:
                    "give it an `id`, name a built-in holiday set in `holidays` (e.g. \"gb-eng\") \
                       with your own dates in `extra_holidays`, and name its id in \
                       `[deadlines] calendar` and each jurisdiction's `calendar`"
                        .into(),
            }],
            "children" => one::<Children>(doc, key, item),
            "requests" => one::<RequestSettings>(doc, key, item),
            "customers" => each::<Customer>(doc, key, item),
            "texts" => one::<std::collections::BTreeMap<String, UiTexts>>(doc, key, item),
            "rights" => one::<Rights>(doc, key, item),
            "notice" => one::<Disclosures>(doc, key, item),
            "translations" => one::<Translations>(doc, key, item),
            "notices" => one::<NoticeRules>(doc, key, item),
            "aggregates" => one::<AggregateRules>(doc, key, item),
            "reports" => each::<Report>(doc, key, item),
            "security_measures" => each::<SecurityMeasure>(doc, key, item),
            other => {
                let help = match validate::closest(other, SECTIONS.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("known sections: {}", SECTIONS.join(", ")),
                };
                vec![Located {
                    offset: table
                        .key(other)
                        .and_then(|k| k.span())
                        .map_or(0, |s| s.start),
                    path: other.to_string(),
                    message: format!("unknown section `{other}`"),
                    help,
                }]
            }
        };
        out.extend(found);
    }
    for required in ["policy", "deadlines", "children"] {
        if !table.contains_key(required) {
            out.push(Located {
                offset: 0,
                path: String::new(),
                message: format!("missing section `[{required}]`"),
                help: format!("add a `[{required}]` table; docs/policy.md lists its keys"),
            });
        }
    }
    out
}

fn one<T: DeserializeOwned>(doc: &ImDocument<String>, path: &str, item: &Item) -> Vec<Located> {
    match deserialize_part::<T>(item) {
        Ok(_) => Vec::new(),
        Err(e) => vec![Located::from_serde(doc, path, &e)],
    }
}

/// Arrays are checked element by element so that each broken element is reported.
fn each<T: DeserializeOwned>(doc: &ImDocument<String>, path: &str, item: &Item) -> Vec<Located> {
    let elements: Vec<Item> = if let Some(aot) = item.as_array_of_tables() {
        aot.iter().map(|t| Item::Table(t.clone())).collect()
    } else if let Some(array) = item.as_array() {
        array.iter().map(|v| Item::Value(v.clone())).collect()
    } else {
        return one::<Vec<T>>(doc, path, item);
    };
    elements
        .iter()
        .enumerate()
        .flat_map(|(i, element)| one::<T>(doc, &format!("{path}[{i}]"), element))
        .collect()
}

/// `[deadlines]` holds an array (`jurisdictions`); check its elements apart from the rest so
/// that a broken jurisdiction does not hide a broken default, nor the other way round.
fn deadlines(doc: &ImDocument<String>, item: &Item) -> Vec<Located> {
    let mut without = item.clone();
    let jurisdictions = without
        .as_table_like_mut()
        .and_then(|t| t.remove("jurisdictions"));
    let mut found = one::<Deadlines>(doc, "deadlines", &without);
    if let Some(jurisdictions) = jurisdictions {
        found.extend(each::<Jurisdiction>(
            doc,
            "deadlines.jurisdictions",
            &jurisdictions,
        ));
    }
    found
}

/// Splits a serde message into what is wrong and what would fix it.
fn serde_message(raw: &str) -> (String, String) {
    let raw = raw.trim();
    for marker in [", expected one of ", ", expected "] {
        if let Some(i) = raw.find(marker) {
            let (what, rest) = raw.split_at(i);
            let expected = &rest[marker.len()..];
            let help = if let Some(unknown) = backticked(what) {
                let choices: Vec<&str> =
                    expected.split(", ").map(|s| s.trim_matches('`')).collect();
                match validate::closest(unknown, choices.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`? expected one of {expected}"),
                    None => format!("expected one of {expected}"),
                }
            } else {
                format!("expected {expected}")
            };
            return (what.to_string(), help);
        }
    }
    if let Some(field) = raw.strip_prefix("missing field ") {
        return (
            raw.to_string(),
            format!(
                "add {} = ...; docs/policy.md describes it",
                field.trim_matches('`')
            ),
        );
    }
    (
        raw.to_string(),
        "see docs/policy.md for the expected form".to_string(),
    )
}

fn backticked(s: &str) -> Option<&str> {
    let start = s.find('`')? + 1;
    let len = s[start..].find('`')?;
    Some(&s[start..start + len])
}

fn syntax_message(raw: &str) -> (String, String) {
    let first = raw.lines().next().unwrap_or("invalid TOML").trim();
    let rest: Vec<&str> = raw
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let help = if rest.is_empty() {
        "fix the TOML syntax at this place".to_string()
    } else {
        rest.join("; ")
    };
    (format!("TOML syntax error: {first}"), help)
}
