//! Fides request policies: the erasure rules a Fides user already has, read as Fides' API
//! takes them (JSON or YAML) — `{key, rules: [{key, action_type, masking_strategy: {strategy,
//! configuration}, targets: [{data_category}]}]}` — so the masking strategies they chose come
//! along with their datasets (`custodian datastore add --fides-policy`).
//!
//! Only `erasure` rules matter here (access rules are Fides' own business: Custodian exports
//! every personal field). Each rule's strategy becomes one of the dataset's strategies:
//! `null_rewrite` → `null`, `string_rewrite` → `rewrite`, `random_string_rewrite` → `random`,
//! `hash` → `digest`, `hmac` → `hmac` (both keyed by the server secret, where Fides keeps a
//! per-request secret). Which rule a field takes is decided in [`crate::fides`], which knows
//! the fields' categories: the most specific target covering one of them.
//!
//! Every problem is reported at once, located by file and rule path
//! (`policy.yml: rules[1] (mask_names).targets: ...`).

use std::path::Path;

use serde::Deserialize;

use crate::dataset::{Algorithm, Masking, Strategy};
use crate::ConnectorError;

/// A Fides policy's erasure rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FidesPolicy {
    pub key: String,
    /// Where it was read from, for locating problems found later (a target no field has).
    pub source: String,
    pub rules: Vec<ErasureRule>,
}

/// One erasure rule: its strategy and the data categories it targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureRule {
    pub key: String,
    /// Its place in the file's `rules` list.
    pub index: usize,
    pub strategy: Strategy,
    pub masking: Option<Masking>,
    pub targets: Vec<String>,
}

impl ErasureRule {
    /// `FILE: rules[i] (key)`, the start of every message about this rule.
    pub fn at(&self, source: &str) -> String {
        format!("{source}: rules[{}] ({})", self.index, self.key)
    }
}

#[derive(Deserialize)]
struct RawPolicy {
    key: Option<String>,
    #[serde(default)]
    rules: Option<Vec<RawRule>>,
}

#[derive(Deserialize)]
struct RawRule {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    action_type: Option<String>,
    #[serde(default)]
    masking_strategy: Option<RawStrategy>,
    #[serde(default)]
    targets: Option<Vec<RawTarget>>,
}

/// A masking strategy as Fides writes it: in a rule, or as a field's or collection's
/// `masking_strategy_override`.
#[derive(Deserialize, Debug, Clone)]
pub struct RawStrategy {
    pub strategy: String,
    #[serde(default)]
    pub configuration: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct RawTarget {
    #[serde(default)]
    data_category: Option<String>,
}

/// The strategies Fides has that Custodian does not apply, told apart from typing mistakes.
const FIDES_UNSUPPORTED: &[&str] = &["aes_encrypt", "preserve", "random_date"];
const SUPPORTED: &str = "null_rewrite, string_rewrite, random_string_rewrite, hash, hmac";

/// Reads a policy file (JSON or YAML, told apart by its first character).
pub fn load(path: &Path) -> Result<FidesPolicy, ConnectorError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConnectorError::Dataset {
        problems: vec![format!(
            "cannot read the Fides policy {}: {e}",
            path.display()
        )],
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses policy text; `source` names it in every message.
pub fn parse(text: &str, source: &str) -> Result<FidesPolicy, ConnectorError> {
    let fail = |m: String| ConnectorError::Dataset {
        problems: vec![format!("{source}: {m}")],
    };
    let raw: RawPolicy = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| fail(format!("not a Fides policy (JSON): {e}")))?
    } else {
        serde_yaml::from_str(text).map_err(|e| fail(format!("not a Fides policy (YAML): {e}")))?
    };
    let mut problems = Vec::new();
    let key = raw.key.unwrap_or_else(|| {
        problems.push(format!("{source}: the policy has no `key`"));
        String::new()
    });
    let mut rules = Vec::new();
    let raw_rules = raw.rules.unwrap_or_else(|| {
        problems.push(format!("{source}: the policy has no `rules`"));
        Vec::new()
    });
    for (index, r) in raw_rules.into_iter().enumerate() {
        let rule_key = r
            .key
            .clone()
            .or(r.name.clone())
            .unwrap_or_else(|| format!("#{index}"));
        let at = format!("{source}: rules[{index}] ({rule_key})");
        match r.action_type.as_deref() {
            Some("erasure") => {}
            Some("access" | "consent" | "update") => continue,
            Some(other) => {
                problems.push(format!(
                    "{at}.action_type: unknown action `{other}` (Fides has access, erasure, consent, update)"
                ));
                continue;
            }
            None => {
                problems.push(format!("{at}: no `action_type`"));
                continue;
            }
        }
        let Some(ms) = r.masking_strategy else {
            problems.push(format!("{at}: an erasure rule needs a `masking_strategy`"));
            continue;
        };
        let (strategy, masking) = match strategy_of(&ms) {
            Ok(s) => s,
            Err(m) => {
                problems.push(format!("{at}.masking_strategy{m}"));
                continue;
            }
        };
        let mut targets = Vec::new();
        match r.targets {
            None => problems.push(format!(
                "{at}.targets: the rule has no targets, so it would erase nothing; add `targets: [{{data_category: ...}}]`"
            )),
            Some(ts) if ts.is_empty() => problems.push(format!(
                "{at}.targets: the rule has no targets, so it would erase nothing; add `targets: [{{data_category: ...}}]`"
            )),
            Some(ts) => {
                for (ti, t) in ts.into_iter().enumerate() {
                    match t.data_category.filter(|c| valid_category(c)) {
                        Some(c) => targets.push(c),
                        None => problems.push(format!(
                            "{at}.targets[{ti}].data_category: a dotted Fides data category such as `user.contact.email`"
                        )),
                    }
                }
            }
        }
        rules.push(ErasureRule {
            key: rule_key,
            index,
            strategy,
            masking,
            targets,
        });
    }
    // Fides refuses two erasure rules on the same category; so does Custodian (which rule
    // would apply could not be told). A rule on a category and another on a narrower one is
    // fine: the narrower one applies to the fields it covers.
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            for t in a.targets.iter().filter(|t| b.targets.contains(t)) {
                problems.push(format!(
                    "{}.targets: `{t}` is also targeted by rules[{}] ({}); one category, one erasure rule",
                    a.at(source),
                    b.index,
                    b.key
                ));
            }
        }
    }
    if rules.is_empty() && problems.is_empty() {
        problems.push(format!(
            "{source}: the policy has no erasure rule, so it would erase nothing"
        ));
    }
    if !problems.is_empty() {
        return Err(ConnectorError::Dataset { problems });
    }
    Ok(FidesPolicy {
        key,
        source: source.to_owned(),
        rules,
    })
}

fn valid_category(c: &str) -> bool {
    !c.is_empty()
        && c.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        })
}

/// Whether the target category covers a field's category: the same, or an ancestor in the
/// dotted hierarchy (`user.contact` covers `user.contact.email`, not `user.contactless`).
pub fn covers(target: &str, category: &str) -> bool {
    category == target
        || category
            .strip_prefix(target)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// How specific a category is: its depth in the hierarchy.
pub fn depth(category: &str) -> usize {
    category.split('.').count()
}

/// A Fides strategy and its configuration as one of the dataset's strategies. The error is a
/// path below `masking_strategy` and a message (`.strategy: unknown ...`).
pub fn strategy_of(raw: &RawStrategy) -> Result<(Strategy, Option<Masking>), String> {
    let config = raw.configuration.clone().unwrap_or_default();
    let mut masking = Masking::default();
    let allowed: &[&str] = match raw.strategy.as_str() {
        "null_rewrite" => &[],
        "string_rewrite" => &["rewrite_value", "format_preservation"],
        "random_string_rewrite" => &["length", "format_preservation"],
        "hash" | "hmac" => &["algorithm", "format_preservation"],
        "delete" => {
            return Err(
                ".strategy: `delete` is not a rule's strategy in Fides; a collection's rows are deleted with `fides_meta.masking_strategy_override: {strategy: delete}` in the dataset"
                    .into(),
            )
        }
        s if FIDES_UNSUPPORTED.contains(&s) => {
            return Err(format!(
                ".strategy: Fides' `{s}` is not one Custodian applies; use one of {SUPPORTED}"
            ))
        }
        s => {
            return Err(format!(
                ".strategy: unknown strategy `{s}`; Custodian applies {SUPPORTED}"
            ))
        }
    };
    for k in config.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!(
                ".configuration.{k}: not a setting of `{}`{}",
                raw.strategy,
                if allowed.is_empty() {
                    String::new()
                } else {
                    format!(" (it takes {})", allowed.join(", "))
                }
            ));
        }
    }
    if let Some(fp) = config.get("format_preservation") {
        match fp.get("suffix").and_then(|s| s.as_str()) {
            Some(s) if fp.as_object().is_some_and(|o| o.len() == 1) => {
                masking.suffix = Some(s.to_owned())
            }
            _ => {
                return Err(
                    ".configuration.format_preservation: Custodian takes `{suffix: \"...\"}` only"
                        .into(),
                )
            }
        }
    }
    let strategy = match raw.strategy.as_str() {
        "null_rewrite" => return Ok((Strategy::Null, None)),
        "string_rewrite" => {
            match config.get("rewrite_value") {
                Some(serde_json::Value::String(v)) => masking.value = Some(v.clone()),
                Some(other) => masking.value = Some(other.to_string()),
                None => {
                    return Err(
                        ".configuration.rewrite_value: string_rewrite needs the value to write"
                            .into(),
                    )
                }
            }
            if masking.suffix.is_some() {
                return Err(
                    ".configuration.format_preservation: string_rewrite writes its value as it is"
                        .into(),
                );
            }
            Strategy::Rewrite
        }
        "random_string_rewrite" => {
            if let Some(l) = config.get("length") {
                match l.as_u64().filter(|&n| (1..=4096).contains(&n)) {
                    Some(n) => masking.length = Some(n as usize),
                    None => {
                        return Err(".configuration.length: a whole number from 1 to 4096".into())
                    }
                }
            }
            Strategy::Random
        }
        name => {
            if let Some(a) = config.get("algorithm") {
                masking.algorithm = Some(match a.as_str() {
                    Some("SHA-256") => Algorithm::Sha256,
                    Some("SHA-512") => Algorithm::Sha512,
                    _ => return Err(".configuration.algorithm: `SHA-256` or `SHA-512`".into()),
                });
            }
            if name == "hash" {
                Strategy::Digest
            } else {
                Strategy::Hmac
            }
        }
    };
    Ok((strategy, Some(masking)))
}
