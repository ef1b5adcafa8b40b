//! `[notice]`: what the notice must tell people under GDPR Art. 13 and 14 that the rest of the
//! file does not already say — whether they must give their data and what happens if they do
//! not (Art. 13(2)(e)), automated decisions and profiling (Art. 13(2)(f), 14(2)(g), 22), where
//! data not obtained from them comes from (Art. 14(2)(f)), how to obtain a copy of the
//! transfer safeguards (Art. 13(1)(f), 14(1)(f)), and how long each cookie lives (the
//! ePrivacy Directive Art. 5(3) asks for clear information about cookies).
//!
//! Texts are per language (`{ en = "…", de = "…" }`), one for each of `policy.languages`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A text in each language of the policy, keyed by language tag.
pub type Texts = BTreeMap<String, String>;

/// The `[notice]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disclosures {
    /// Art. 13(2)(e): for contract- and law-based purposes, whether giving the data is
    /// required and what happens if it is not given.
    #[serde(default)]
    pub requirements: Vec<Requirement>,
    /// Art. 13(2)(f) and 22: whether decisions are made by automated means alone with legal
    /// or similarly significant effects. Required once the policy has purposes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated_decisions: Option<Texts>,
    /// Art. 13(2)(f), 4(4): purposes that profile people (behavioural advertising is
    /// profiling), with the logic involved and what it means for them.
    #[serde(default)]
    pub profiling: Vec<Profiling>,
    /// Art. 14(2)(f): where data not obtained from the person comes from.
    #[serde(default)]
    pub sources: Vec<SourceOfData>,
    /// Art. 13(1)(f), 14(1)(f): how to obtain a copy of the transfer safeguards (standard
    /// contractual clauses, binding corporate rules). Required when a recipient relies on
    /// `scc` or `bcr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safeguards_copy: Option<Texts>,
    /// How long each consent cookie lives: the cookie's name as written in
    /// `purposes.consent.cookies` → an ISO 8601 duration, or `session`.
    #[serde(default)]
    pub cookie_lifetimes: BTreeMap<String, String>,
}

/// Whether people must give the data of some purposes (Art. 13(2)(e)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequirementKind {
    /// Required by law.
    Statutory,
    /// Required by a contract with the person.
    Contractual,
    /// Needed to enter into a contract.
    ContractEntry,
    /// Not required.
    Voluntary,
}

impl RequirementKind {
    pub fn id(self) -> &'static str {
        match self {
            RequirementKind::Statutory => "statutory",
            RequirementKind::Contractual => "contractual",
            RequirementKind::ContractEntry => "contract_entry",
            RequirementKind::Voluntary => "voluntary",
        }
    }
}

/// One statement of Art. 13(2)(e), for some purposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub purposes: Vec<String>,
    pub kind: RequirementKind,
    /// What happens if the person does not give the data.
    pub consequence: Texts,
}

/// A purpose that profiles people (Art. 4(4)), and what the notice says about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profiling {
    pub purpose: String,
    /// Meaningful information about the logic involved.
    pub logic: Texts,
    /// The significance and the envisaged consequences for the person.
    pub consequences: Texts,
}

/// Where some categories of data come from when not from the person (Art. 14(2)(f)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceOfData {
    pub categories: Vec<String>,
    pub source: Texts,
    /// Whether the source is publicly accessible (Art. 14(2)(f) asks to say so).
    #[serde(default)]
    pub publicly_accessible: bool,
}

/// The DPV purpose terms that are profiling whatever the file says (Art. 4(4), recital 71):
/// a purpose carrying one must be listed under `notice.profiling`.
pub const PROFILING_TERMS: [&str; 4] = [
    "dpv:PersonalisedAdvertising",
    "dpv:TargetedAdvertising",
    "dpv:BehaviouralAdvertising",
    "dpv:UserProfiling",
];

/// The text of `texts` in `lang`, falling back to the first of `languages`, then any.
pub fn text_in<'a>(texts: &'a Texts, lang: &str, languages: &[String]) -> &'a str {
    texts
        .get(lang)
        .or_else(|| languages.first().and_then(|l| texts.get(l)))
        .or_else(|| texts.values().next())
        .map_or("", String::as_str)
}
