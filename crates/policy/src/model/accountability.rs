//! What the privacy team must *do and prove* besides what machines decide: how much notice a
//! change needs (`[notices]`), the smallest group an aggregate may describe (`[aggregates]`),
//! the aggregate reports the company shares (`[[reports]]`), and the security measures the
//! records of processing describe (`[[security_measures]]`, GDPR Art. 30(1)(g), 32(1)).

use serde::{Deserialize, Serialize};

use super::Policy;

/// `[notices]`: telling people before a change takes effect (GDPR Art. 12(1), 13(3): a new
/// purpose is told before the processing; the example notice promises notice "before the
/// change takes effect" by e-mail or on the sites).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeRules {
    /// The fewest days between scheduling a version with a material change and the day it
    /// takes effect; a non-material change may take effect at once.
    #[serde(default = "default_material_change_days")]
    pub material_change_days: u32,
}

fn default_material_change_days() -> u32 {
    30
}

impl Default for NoticeRules {
    fn default() -> Self {
        NoticeRules {
            material_change_days: default_material_change_days(),
        }
    }
}

/// `[aggregates]`: what an aggregate shared outside the company must hide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateRules {
    /// The fewest distinct people a published figure may describe; a report's own
    /// `min_group` overrides it.
    #[serde(default = "default_min_group")]
    pub min_group: u32,
}

fn default_min_group() -> u32 {
    10
}

impl Default for AggregateRules {
    fn default() -> Self {
        AggregateRules {
            min_group: default_min_group(),
        }
    }
}

/// One `[[reports]]`: a grouped query over a registered datastore whose figures are shared
/// with the recipients of `purpose` (all of them `non_personal_only`), with every group
/// smaller than `min_group` suppressed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The purpose the figures serve; its recipients must all receive non-personal data only.
    pub purpose: String,
    /// The name a datastore is registered under (`custodian datastore add`).
    pub datastore: String,
    /// One grouped, read-only statement: every column but `people` is a group key.
    pub query: String,
    /// The column that counts the distinct people of each group.
    pub people: String,
    /// Overrides `aggregates.min_group` for this report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_group: Option<u32>,
}

/// Whether a security measure is technical or organisational (Art. 32(1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasureKind {
    Technical,
    Organisational,
}

impl MeasureKind {
    pub fn id(self) -> &'static str {
        match self {
            MeasureKind::Technical => "technical",
            MeasureKind::Organisational => "organisational",
        }
    }

    /// The DPV class a measure of this kind belongs to.
    pub fn dpv(self) -> &'static str {
        match self {
            MeasureKind::Technical => "dpv:TechnicalMeasure",
            MeasureKind::Organisational => "dpv:OrganisationalMeasure",
        }
    }
}

/// One `[[security_measures]]`: a general description of a technical or organisational
/// measure (GDPR Art. 30(1)(g) refers to Art. 32(1)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityMeasure {
    pub id: String,
    pub kind: MeasureKind,
    pub description: String,
    /// W3C DPV term, e.g. `dpv:EncryptionAtRest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpv: Option<String>,
    /// The purposes it protects; empty means every purpose.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purposes: Vec<String>,
}

impl Policy {
    /// The report with this id.
    pub fn report(&self, id: &str) -> Option<&Report> {
        self.reports.iter().find(|r| r.id == id)
    }

    /// The smallest group `report` may publish: its own `min_group` or the policy's.
    pub fn min_group_of(&self, report: &Report) -> u32 {
        report.min_group.unwrap_or(self.aggregates.min_group)
    }

    /// The security measures that protect `purpose`.
    pub fn measures_for<'a>(
        &'a self,
        purpose: &'a str,
    ) -> impl Iterator<Item = &'a SecurityMeasure> {
        self.security_measures
            .iter()
            .filter(move |m| m.purposes.is_empty() || m.purposes.iter().any(|p| p == purpose))
    }
}
