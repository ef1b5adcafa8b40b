//! `[translations.<language>]`: the policy's own texts — purpose names and descriptions, the
//! interests pursued, the data categories, recipients, regions, retention rules, the promises
//! of `[[prohibited]]` and the summary — in the other languages of `policy.languages`, so the
//! notice says all of it in the reader's language (GDPR Art. 12(1): "in a concise,
//! transparent, intelligible and easily accessible form, using clear and plain language").
//!
//! The texts in the sections themselves are in the policy's first language; a translation
//! names each item by its id. What a translation leaves out is shown in the first language
//! (and `policy check` warns about it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every translation, keyed by language tag (`de`).
pub type Translations = BTreeMap<String, Translation>;

/// The texts of one language, by section and id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Translation {
    /// `policy.summary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// `name`, `description` and `interest` of `[[purposes]]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub purposes: BTreeMap<String, Translated>,
    /// `name` and `description` of `[[categories]]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub categories: BTreeMap<String, Translated>,
    /// `name` and `description` of `[[subjects]]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subjects: BTreeMap<String, Translated>,
    /// `name` and `description` of `[[recipients]]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub recipients: BTreeMap<String, Translated>,
    /// `name` of `[[regions]]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub regions: BTreeMap<String, Translated>,
    /// `description` of `[[retention]]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub retention: BTreeMap<String, Translated>,
    /// `name` and `promise` of `[[prohibited]]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prohibited: BTreeMap<String, Translated>,
}

/// One item's texts in one language; which keys an item takes depends on its section
/// (`validate` says which).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Translated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A purpose's legitimate interest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interest: Option<String>,
    /// A prohibited processing's promise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promise: Option<String>,
}

/// The sections a translation covers, with the keys each item may have.
pub const TRANSLATED_SECTIONS: [(&str, &[&str]); 7] = [
    ("purposes", &["name", "description", "interest"]),
    ("categories", &["name", "description"]),
    ("subjects", &["name", "description"]),
    ("recipients", &["name", "description"]),
    ("regions", &["name"]),
    ("retention", &["description"]),
    ("prohibited", &["name", "promise"]),
];

impl Translation {
    /// The items of `section` (one of [`TRANSLATED_SECTIONS`]).
    pub fn section(&self, section: &str) -> Option<&BTreeMap<String, Translated>> {
        Some(match section {
            "purposes" => &self.purposes,
            "categories" => &self.categories,
            "subjects" => &self.subjects,
            "recipients" => &self.recipients,
            "regions" => &self.regions,
            "retention" => &self.retention,
            "prohibited" => &self.prohibited,
            _ => return None,
        })
    }
}

impl Translated {
    /// The text of `key` (`name`, `description`, `interest`, `promise`).
    pub fn get(&self, key: &str) -> Option<&str> {
        match key {
            "name" => self.name.as_deref(),
            "description" => self.description.as_deref(),
            "interest" => self.interest.as_deref(),
            "promise" => self.promise.as_deref(),
            _ => None,
        }
    }

    /// The keys given, in a fixed order.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        ["name", "description", "interest", "promise"]
            .into_iter()
            .filter(|k| self.get(k).is_some())
    }
}
