//! `[rights]`: what the rights of restriction and objection reach, so that `/v1/decide` can
//! enforce them (GDPR Art. 18(2) and Art. 21(1)) instead of only recording the requests.

use serde::{Deserialize, Serialize};

/// How a restriction (Art. 18) and an objection (Art. 21) change decisions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rights {
    #[serde(default)]
    pub restriction: RestrictionRules,
    #[serde(default)]
    pub objection: ObjectionRules,
}

/// GDPR Art. 18(2): while processing is restricted, the data may only be stored, or used with
/// the person's consent, for legal claims, to protect another person, or for an important
/// public interest. The purposes listed here are those that continue (storage, legal claims);
/// every other decision about a restricted subject is refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictionRules {
    /// Purpose ids that continue during a restriction.
    #[serde(default)]
    pub continues: Vec<String>,
}

/// GDPR Art. 21(1): a person may object to processing based on legitimate interests (or a
/// public task); the controller must stop unless it shows compelling grounds. The purposes
/// listed here are those an objection can reach; an objection names which of them it is
/// about. Direct marketing (Art. 21(2)–(3)) is always reachable, through consent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectionRules {
    /// Purpose ids (legitimate interest or public task) that an objection can stop.
    #[serde(default)]
    pub reaches: Vec<String>,
}

impl Rights {
    /// Whether `purpose` continues while the subject's processing is restricted.
    pub fn continues_under_restriction(&self, purpose: &str) -> bool {
        self.restriction.continues.iter().any(|p| p == purpose)
    }

    /// Whether an objection can stop `purpose`.
    pub fn objection_reaches(&self, purpose: &str) -> bool {
        self.objection.reaches.iter().any(|p| p == purpose)
    }
}
