//! Reads Fides dataset YAML as Fides users write it, into a [`Dataset`] — with the erasure
//! rules of a Fides request policy when one is given.
//!
//! Mapping: a collection is a table; `fides_meta.primary_key` names its key; `identity` marks
//! an identity field; each `references` entry becomes a reference whose walk follows Fides'
//! `direction` (`from` = down from the named field, `to` = up to it, none = both); a field is
//! personal when one of its data categories is under `user`. References to other datasets are
//! left out (one dataset describes one datastore here).
//!
//! Strategies. Fides keeps them in request policies, not datasets. With a policy
//! ([`crate::fides_policy`]), each field takes the strategy of the most specific erasure rule
//! whose target category covers one of its categories (or the field's own
//! `fides_meta.masking_strategy_override`); a field no rule targets is left alone, as in
//! Fides; a collection whose `masking_strategy_override` is `delete` has its rows deleted when
//! a rule targets one of its fields. Without a policy, personal fields get `auto` — Custodian
//! picks, against the live column, a strategy it can take — and `delete` collections are
//! deleted. Keys and references are never rewritten: erasure needs them to find and order
//! rows.
//!
//! A collection's `fides_meta.restriction_column` (Custodian's own key, not one of Fides')
//! names the column that marks restricted rows, as `restriction_column` does in Custodian's
//! format.

use serde::Deserialize;

use std::collections::BTreeSet;

use crate::dataset::{Dataset, Field, FieldType, Masking, RefSpec, Strategy, Table, Walk};
use crate::fides_policy::{covers, depth, strategy_of, FidesPolicy, RawStrategy};
use crate::ConnectorError;

#[derive(Deserialize)]
struct File {
    dataset: Vec<FDataset>,
}

#[derive(Deserialize)]
struct FDataset {
    fides_key: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    collections: Vec<FCollection>,
}

#[derive(Deserialize)]
struct FCollection {
    name: String,
    #[serde(default)]
    fields: Vec<FField>,
    #[serde(default)]
    fides_meta: Option<FCollectionMeta>,
}

#[derive(Deserialize, Default)]
struct FCollectionMeta {
    #[serde(default)]
    masking_strategy_override: Option<FStrategy>,
    /// Custodian's extension: the column marking restricted rows (see `crate::reach`).
    #[serde(default, deserialize_with = "crate::reach::restriction_column")]
    restriction_column: Option<crate::reach::RestrictionColumn>,
    /// Custodian's extension: the column holding each row's collection time (see
    /// `crate::collected`).
    #[serde(default, deserialize_with = "crate::collected::collected_at")]
    collected_at: Option<crate::collected::CollectedAt>,
}

#[derive(Deserialize)]
struct FStrategy {
    strategy: String,
}

#[derive(Deserialize)]
struct FField {
    name: String,
    #[serde(default)]
    data_categories: Vec<String>,
    #[serde(default)]
    fides_meta: Option<FMeta>,
}

#[derive(Deserialize, Default)]
struct FMeta {
    #[serde(default)]
    primary_key: Option<bool>,
    #[serde(default)]
    identity: Option<String>,
    #[serde(default)]
    data_type: Option<String>,
    #[serde(default)]
    references: Vec<FRef>,
    #[serde(default)]
    masking_strategy_override: Option<RawStrategy>,
}

#[derive(Deserialize)]
struct FRef {
    dataset: String,
    field: String,
    #[serde(default)]
    direction: Option<String>,
}

/// Parses the first dataset of a Fides YAML file, with Custodian choosing strategies.
pub fn parse(text: &str) -> Result<Dataset, ConnectorError> {
    parse_with(text, None)
}

/// The rule that applies to a field with these categories: the most specific target covering
/// one of them. `Err` names two rules that apply equally.
fn rule_for<'p>(
    policy: &'p FidesPolicy,
    categories: &[String],
) -> Result<Option<&'p crate::fides_policy::ErasureRule>, String> {
    let mut best: Option<(usize, &crate::fides_policy::ErasureRule)> = None;
    for rule in &policy.rules {
        for t in &rule.targets {
            if !categories.iter().any(|c| covers(t, c)) {
                continue;
            }
            let d = depth(t);
            match best {
                Some((bd, b)) if bd == d && b.index != rule.index => {
                    return Err(format!(
                        "rules[{}] ({}) and rules[{}] ({}) apply to it equally",
                        b.index, b.key, rule.index, rule.key
                    ))
                }
                Some((bd, _)) if bd >= d => {}
                _ => best = Some((d, rule)),
            }
        }
    }
    Ok(best.map(|(_, r)| r))
}

// One pass over the file's collections, as the mapping in the module comment reads: splitting
// it would pass the same half-built state between functions.
/// Parses the first dataset of a Fides YAML file; with `policy`, strategies come from its
/// erasure rules. Every problem is reported at once.
pub fn parse_with(text: &str, policy: Option<&FidesPolicy>) -> Result<Dataset, ConnectorError> {
    let file: File = serde_yaml::from_str(text).map_err(|e| ConnectorError::Dataset {
        problems: vec![format!("Fides YAML: {e}")],
    })?;
    let Some(fd) = file.dataset.into_iter().next() else {
        return Err(ConnectorError::Dataset {
            problems: vec!["Fides YAML: the `dataset` list is empty".into()],
        });
    };
    let mut problems = Vec::new();
    let mut tables = Vec::new();
    // Every target of the policy must cover some field's category (else it is a mistake).
    let mut used: BTreeSet<(usize, usize)> = BTreeSet::new();
    for c in fd.collections {
        let mut meta = c.fides_meta.unwrap_or_default();
        let restriction_column = meta.restriction_column.take();
        let collected_at = meta.collected_at.take();
        let delete = match meta.masking_strategy_override {
            None => false,
            Some(s) if s.strategy == "delete" => true,
            Some(s) => {
                problems.push(format!(
                    "collection {}: fides_meta.masking_strategy_override: `{}` — a collection's override is `delete`",
                    c.name, s.strategy
                ));
                false
            }
        };
        let primary_key = c
            .fields
            .iter()
            .find(|f| f.fides_meta.as_ref().and_then(|m| m.primary_key) == Some(true))
            .map(|f| f.name.clone());
        // With a policy: each field's rule (or none), before anything is decided, since a
        // `delete` collection goes when any of its fields is targeted.
        let mut chosen: Vec<Option<(Strategy, Option<Masking>)>> = Vec::new();
        for f in &c.fields {
            let at = format!("{}.{}", c.name, f.name);
            let Some(policy) = policy else {
                chosen.push(None);
                continue;
            };
            for rule in &policy.rules {
                for (ti, t) in rule.targets.iter().enumerate() {
                    if f.data_categories.iter().any(|cat| covers(t, cat)) {
                        used.insert((rule.index, ti));
                    }
                }
            }
            let pick = match rule_for(policy, &f.data_categories) {
                Ok(r) => r,
                Err(m) => {
                    problems.push(format!("{}: field {at}: {m}", policy.source));
                    None
                }
            };
            let own = f
                .fides_meta
                .as_ref()
                .and_then(|m| m.masking_strategy_override.clone());
            chosen.push(match (pick, own) {
                (None, _) => None,
                (Some(_), Some(o)) => match strategy_of(&o) {
                    Ok(s) => Some(s),
                    Err(m) => {
                        problems.push(format!(
                            "field {at}: fides_meta.masking_strategy_override{m}"
                        ));
                        None
                    }
                },
                (Some(r), None) => Some((r.strategy, r.masking.clone())),
            });
        }
        let targeted = chosen.iter().any(Option::is_some);
        let mut fields = Vec::new();
        for (f, choice) in c.fields.into_iter().zip(chosen) {
            let meta = f.fides_meta.unwrap_or_default();
            let personal = f
                .data_categories
                .iter()
                .any(|c| c == "user" || c.starts_with("user."));
            let mut reference = None;
            for r in meta.references {
                if r.dataset != fd.fides_key {
                    continue;
                }
                let walk = match r.direction.as_deref() {
                    Some("from") => Walk::Down,
                    Some("to") => Walk::Up,
                    None => Walk::Both,
                    Some(other) => {
                        problems.push(format!(
                            "{}.{}: unknown direction `{other}`",
                            c.name, f.name
                        ));
                        Walk::Both
                    }
                };
                reference = Some(RefSpec::Long { to: r.field, walk });
            }
            let is_key = meta.primary_key == Some(true);
            let keeps = is_key || reference.is_some() || primary_key.is_none();
            let (erase, masking) = match (policy, choice) {
                _ if delete && primary_key.is_some() && (policy.is_none() || targeted) => {
                    (Strategy::DeleteRow, None)
                }
                _ if keeps => (Strategy::None, None),
                (None, _) if personal => (Strategy::Auto, None),
                (Some(_), Some((s, m))) => (s, m.filter(|m| *m != Masking::default())),
                _ => (Strategy::None, None),
            };
            fields.push(Field {
                name: f.name,
                category: f.data_categories.first().cloned(),
                personal: Some(personal),
                identity: meta.identity,
                references: reference,
                erase,
                hold: None,
                after_hold: None,
                field_type: match meta.data_type.as_deref() {
                    Some("integer") => FieldType::Integer,
                    _ => FieldType::Text,
                },
                masking,
            });
        }
        tables.push(Table {
            name: c.name,
            primary_key,
            fields,
            restriction_column,
            collected_at,
        });
    }
    if let Some(policy) = policy {
        for rule in &policy.rules {
            for (ti, t) in rule.targets.iter().enumerate() {
                if !used.contains(&(rule.index, ti)) {
                    problems.push(format!(
                        "{}.targets[{ti}]: no field of dataset {} has the data category `{t}` or one under it",
                        rule.at(&policy.source),
                        fd.fides_key
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(ConnectorError::Dataset { problems });
    }
    Ok(Dataset {
        name: fd.fides_key,
        description: fd.description,
        connection: Default::default(),
        http: None,
        tables,
        keys: Vec::new(),
    })
}
