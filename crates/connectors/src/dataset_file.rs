//! Dataset files: reading one in either format — Custodian's TOML or Fides YAML, told apart by
//! its content — into a validated [`Dataset`].
//!
//! It sits above both [`crate::dataset`] (the model) and [`crate::fides`] (the Fides reader),
//! so neither of those depends on the other's caller: the model knows no file format.

use std::path::Path;

use crate::dataset::Dataset;
use crate::fides_policy::{self, FidesPolicy};
use crate::{fides, ConnectorError};

/// The format a dataset file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Custodian,
    Fides,
}

/// Reads a dataset file in either format (told apart by its content) and validates it.
pub fn load(path: &Path) -> Result<(Dataset, Format), ConnectorError> {
    load_with(path, None)
}

/// Reads a dataset file, with the erasure rules of a Fides policy file when one is given (a
/// Fides dataset only). Every problem is prefixed with the file it is in.
pub fn load_with(
    path: &Path,
    fides_policy: Option<&Path>,
) -> Result<(Dataset, Format), ConnectorError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConnectorError::Dataset {
        problems: vec![format!("cannot read {}: {e}", path.display())],
    })?;
    let policy = fides_policy.map(fides_policy::load).transpose()?;
    parse_with(&text, policy.as_ref()).map_err(|e| match e {
        ConnectorError::Dataset { problems } => ConnectorError::Dataset {
            problems: problems
                .into_iter()
                .map(|p| {
                    // Problems of the policy name their own file already.
                    if policy
                        .as_ref()
                        .is_some_and(|pol| p.starts_with(&pol.source))
                    {
                        p
                    } else {
                        format!("{}: {p}", path.display())
                    }
                })
                .collect(),
        },
        other => other,
    })
}

/// Whether dataset text is Fides YAML: its first line of content is the `dataset:` key.
/// Blank lines, comments, YAML directives (`%YAML 1.2`) and the document start marker (`---`,
/// as many YAML files begin) come before it; a comment may follow the key.
pub fn is_fides(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('%') && *l != "---")
        .is_some_and(|l| {
            l.strip_prefix("dataset:")
                .is_some_and(|rest| rest.trim().is_empty() || rest.trim_start().starts_with('#'))
        })
}

/// Parses dataset text: Fides YAML when it starts a `dataset:` list, Custodian TOML otherwise.
pub fn parse(text: &str) -> Result<(Dataset, Format), ConnectorError> {
    parse_with(text, None)
}

/// Parses dataset text with an optional Fides policy, which only a Fides dataset can take.
pub fn parse_with(
    text: &str,
    policy: Option<&FidesPolicy>,
) -> Result<(Dataset, Format), ConnectorError> {
    let fides = is_fides(text);
    let (ds, format) = if fides {
        (fides::parse_with(text, policy)?, Format::Fides)
    } else {
        if let Some(p) = policy {
            return Err(ConnectorError::Dataset {
                problems: vec![format!(
                    "{}: a Fides policy applies to a Fides dataset (YAML); a Custodian dataset names each field's `erase` itself",
                    p.source
                )],
            });
        }
        let ds: Dataset = toml::from_str(text).map_err(|e| ConnectorError::Dataset {
            problems: vec![e.to_string()],
        })?;
        (ds, Format::Custodian)
    };
    let mut problems = ds.validate(None);
    problems.extend(crate::graph::cycles(&ds));
    if problems.is_empty() {
        Ok((ds, format))
    } else {
        Err(ConnectorError::Dataset { problems })
    }
}
