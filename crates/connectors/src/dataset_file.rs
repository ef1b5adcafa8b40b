//! Dataset files: reading one in either format — Custodian's TOML or Fides YAML, told apart by
//! its content — into a validated [`Dataset`].
//!
//! It sits above both [`crate::dataset`] (the model) and [`crate::fides`] (the Fides reader),
//! so neither of those depends on the other's caller: the model knows no file format.

use std::path::Path;

use crate::dataset::Dataset;
use crate::{fides, ConnectorError};

/// The format a dataset file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Custodian,
    Fides,
}

/// Reads a dataset file in either format (told apart by its content) and validates it.
pub fn load(path: &Path) -> Result<(Dataset, Format), ConnectorError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConnectorError::Dataset {
        problems: vec![format!("cannot read {}: {e}", path.display())],
    })?;
    parse(&text)
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
    let fides = is_fides(text);
    let (ds, format) = if fides {
        (fides::parse(text)?, Format::Fides)
    } else {
        let ds: Dataset = toml::from_str(text).map_err(|e| ConnectorError::Dataset {
            problems: vec![e.to_string()],
        })?;
        (ds, Format::Custodian)
    };
    let problems = ds.validate(None);
    if problems.is_empty() {
        Ok((ds, format))
    } else {
        Err(ConnectorError::Dataset { problems })
    }
}
