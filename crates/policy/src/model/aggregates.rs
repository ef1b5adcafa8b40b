//! `[aggregates]`: the smallest group of people a published figure may describe.

use serde::{Deserialize, Serialize};

/// `[aggregates]`: the rule every published figure about people keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aggregates {
    /// The fewest people a published count may describe; smaller counts are suppressed (the
    /// transparency report, docs/disclosures.md). Default 10.
    #[serde(default = "default_min_group")]
    pub min_group: u32,
}

fn default_min_group() -> u32 {
    10
}

impl Default for Aggregates {
    fn default() -> Self {
        Aggregates {
            min_group: default_min_group(),
        }
    }
}
