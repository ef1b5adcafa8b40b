//! Reads Fides dataset YAML as Fides users write it, into a [`Dataset`].
//!
//! Mapping: a collection is a table; `fides_meta.primary_key` names its key; `identity` marks
//! an identity field; each `references` entry becomes a reference whose walk follows Fides'
//! `direction` (`from` = down from the named field, `to` = up to it, none = both); a field is
//! personal when one of its data categories is under `user`. Fides has no per-field erasure
//! strategy — its default policy rewrites personal fields to null — so personal fields of a
//! table with a primary key get `null`, keys and references are kept, and a collection whose
//! `masking_strategy_override` is `delete` has its rows deleted. References to other datasets
//! are left out (one dataset describes one datastore here). A collection's
//! `fides_meta.restriction_column` (Custodian's own key, not one of Fides') names the column
//! that marks restricted rows, as `restriction_column` does in Custodian's format.

use serde::Deserialize;

use crate::dataset::{Dataset, Field, FieldType, RefSpec, Strategy, Table, Walk};
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
}

#[derive(Deserialize)]
struct FRef {
    dataset: String,
    field: String,
    #[serde(default)]
    direction: Option<String>,
}

/// Parses the first dataset of a Fides YAML file.
pub fn parse(text: &str) -> Result<Dataset, ConnectorError> {
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
    for mut c in fd.collections {
        let restriction_column = c
            .fides_meta
            .as_mut()
            .and_then(|m| m.restriction_column.take());
        let delete = c
            .fides_meta
            .and_then(|m| m.masking_strategy_override)
            .is_some_and(|s| s.strategy == "delete");
        let primary_key = c
            .fields
            .iter()
            .find(|f| f.fides_meta.as_ref().and_then(|m| m.primary_key) == Some(true))
            .map(|f| f.name.clone());
        let mut fields = Vec::new();
        for f in c.fields {
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
            let erase = if delete && primary_key.is_some() {
                Strategy::DeleteRow
            } else if personal && !is_key && reference.is_none() && primary_key.is_some() {
                Strategy::Null
            } else {
                Strategy::None
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
            });
        }
        tables.push(Table {
            name: c.name,
            primary_key,
            fields,
            restriction_column,
        });
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
    })
}
