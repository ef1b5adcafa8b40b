//! The decision engine: may this processing happen, on what basis, and with which duties?
//!
//! Companies call it before every processing step, so it is built for speed: the policy is
//! compiled once into index tables and bitsets ([`Engine::compile`]), and a decision is a few
//! hash lookups and bit tests with no I/O. Consent comes from a [`ConsentLookup`] that the
//! caller keeps in memory.

use std::collections::HashMap;
use std::sync::Arc;

use custodian_policy::{LegalBasis, Policy, RecipientKind};
use serde::Serialize;

use crate::country::is_country;
use crate::standing::Standing;
use crate::subject::SubjectRef;

/// What the caller asks. Categories are any string type, so the HTTP edge can pass the
/// request's own (borrowed) strings without copying them.
#[derive(Debug, Clone)]
pub struct DecisionInput<'a, C: AsRef<str> = String> {
    pub subject: SubjectRef,
    pub purpose: &'a str,
    /// Empty means "the categories the purpose declares".
    pub categories: &'a [C],
    /// ISO 3166-1 alpha-2, any case.
    pub country: &'a str,
    pub recipient: Option<&'a str>,
    /// The request carried a Global Privacy Control signal.
    pub gpc: bool,
    /// For aggregate purposes with a `min_group`: how many people the shared figure describes.
    pub group_size: Option<u64>,
}

/// The answer, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// The basis the processing rests on; `None` for prohibited processing.
    pub legal_basis: Option<LegalBasis>,
    pub reason: Arc<str>,
    /// The policy element that decided, as a path into the policy file.
    pub rule: Arc<str>,
    pub obligations: Vec<Arc<Obligation>>,
    pub policy_version: Arc<str>,
}

/// A duty that comes with a yes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Obligation {
    /// `truncate_ip`, `drop_categories` or `keep_in_region`.
    pub id: &'static str,
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// The subject's recorded choice for one consent purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentStatus {
    Given,
    Withdrawn,
    Unknown,
}

/// Where the engine reads consent from; implemented by the in-memory consent state.
pub trait ConsentLookup {
    /// `slot` is the index of the purpose among the policy's consent purposes.
    fn status(&self, subject: &SubjectRef, slot: usize) -> ConsentStatus;

    /// Whether the subject is known to be under the policy's minimum age: every purpose is
    /// then refused (their data is being erased). Must answer from memory.
    fn under_minimum_age(&self, _subject: &SubjectRef) -> bool {
        false
    }

    /// A restriction in force, objections, a closed account (`standing.rs`). Must answer
    /// from memory.
    fn standing(&self, _subject: &SubjectRef) -> Standing {
        Standing::default()
    }
}

/// No consent recorded for anyone: what a fresh installation knows.
pub struct NoConsents;

impl ConsentLookup for NoConsents {
    fn status(&self, _: &SubjectRef, _: usize) -> ConsentStatus {
        ConsentStatus::Unknown
    }
}

/// Input the engine cannot judge; the HTTP edge answers these with a 4xx.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("unknown purpose `{given}`")]
    UnknownPurpose { given: String, known: Vec<String> },
    #[error("unknown data category `{given}`")]
    UnknownCategory { given: String, known: Vec<String> },
    #[error("unknown recipient `{given}`")]
    UnknownRecipient { given: String, known: Vec<String> },
    #[error("`{given}` is not an ISO 3166-1 alpha-2 country code")]
    UnknownCountry { given: String },
}

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("the policy declares {0} categories; at most 128 are supported")]
    TooManyCategories(usize),
    #[error("the policy declares {0} recipients; at most 64 are supported")]
    TooManyRecipients(usize),
    #[error("an objection reaches {0} purposes; at most 64 are supported")]
    TooManyObjectable(usize),
}

type CatSet = u128;

struct CPurpose {
    basis: LegalBasis,
    categories: CatSet,
    recipients: u64,
    consent_slot: Option<usize>,
    gpc_opt_out: bool,
    /// Still decided for a subject under the minimum age (`children.purposes_allowed`).
    for_minors: bool,
    /// Still decided while the subject's processing is restricted
    /// (`rights.restriction.continues`, GDPR Art. 18(2)).
    during_restriction: bool,
    /// The bit of this purpose in `Standing::objected` (`rights.objection.reaches`).
    objection_slot: Option<u32>,
    /// `min_group`: decisions must name a group at least this large.
    min_group: Option<u64>,
    rule: Arc<str>,
    allowed_reason: Arc<str>,
}

struct CRecipient {
    third_party: bool,
    non_personal_only: bool,
    countries: Vec<String>,
}

struct CRegion {
    id: String,
    truncate_ip: CatSet,
    never_store: CatSet,
    no_third_party: bool,
    residency: Option<(Vec<String>, Arc<Obligation>)>,
    truncate_obligation: Arc<Obligation>,
}

/// A policy compiled for fast decisions. Build a new one when the policy changes.
pub struct Engine {
    version: Arc<str>,
    category_ids: Vec<String>,
    category_index: HashMap<String, usize>,
    personal: CatSet,
    purposes: Vec<CPurpose>,
    purpose_index: HashMap<String, usize>,
    prohibited: HashMap<String, (Arc<str>, Arc<str>)>,
    recipients: Vec<CRecipient>,
    recipient_index: HashMap<String, usize>,
    regions: Vec<CRegion>,
    region_of_country: HashMap<[u8; 2], usize>,
    consent_purposes: Vec<String>,
    known_purposes: Vec<String>,
}

fn bit(i: usize) -> CatSet {
    1u128 << i
}

impl Engine {
    // One pass over the policy's sections, each building the tables the next one indexes into
    // (categories before purposes, purposes before regions); kept whole so that order is visible.
    pub fn compile(policy: &Policy) -> Result<Engine, CompileError> {
        if policy.categories.len() > 128 {
            return Err(CompileError::TooManyCategories(policy.categories.len()));
        }
        if policy.recipients.len() > 64 {
            return Err(CompileError::TooManyRecipients(policy.recipients.len()));
        }
        let category_ids: Vec<String> = policy.categories.iter().map(|c| c.id.clone()).collect();
        let category_index: HashMap<String, usize> = category_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        let cats = |ids: &[String]| -> CatSet {
            ids.iter()
                .filter_map(|id| category_index.get(id))
                .fold(0, |acc, &i| acc | bit(i))
        };
        let personal = policy
            .categories
            .iter()
            .enumerate()
            .filter(|(_, c)| c.personal)
            .fold(0, |acc, (i, _)| acc | bit(i));
        let recipient_index: HashMap<String, usize> = policy
            .recipients
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        let recipients = policy
            .recipients
            .iter()
            .map(|r| CRecipient {
                third_party: r.kind == RecipientKind::ThirdParty,
                non_personal_only: r.non_personal_only,
                countries: r.countries.iter().map(|c| c.to_ascii_uppercase()).collect(),
            })
            .collect();

        let consent_purposes: Vec<String> =
            policy.consent_purposes().map(|p| p.id.clone()).collect();
        let objectable = &policy.rights.objection.reaches;
        if objectable.len() > 64 {
            return Err(CompileError::TooManyObjectable(objectable.len()));
        }
        let mut purposes = Vec::new();
        let mut purpose_index = HashMap::new();
        for p in &policy.purposes {
            let consent_slot = consent_purposes.iter().position(|id| *id == p.id);
            let mut allowed_reason =
                format!("{} ({})", p.legal_basis.label(), p.legal_basis.article());
            if let Some(interest) = &p.interest {
                allowed_reason.push_str(": ");
                allowed_reason.push_str(interest);
            } else if consent_slot.is_some() {
                allowed_reason = format!("consent given ({})", p.legal_basis.article());
            }
            purpose_index.insert(p.id.clone(), purposes.len());
            purposes.push(CPurpose {
                basis: p.legal_basis,
                categories: cats(&p.categories),
                recipients: p
                    .recipients
                    .iter()
                    .filter_map(|r| recipient_index.get(r))
                    .fold(0u64, |acc, &i| acc | (1u64 << i)),
                consent_slot,
                gpc_opt_out: p.gpc_opt_out,
                for_minors: policy.children.purposes_allowed.contains(&p.id),
                during_restriction: policy.rights.continues_under_restriction(&p.id),
                objection_slot: objectable
                    .iter()
                    .position(|id| *id == p.id)
                    .map(|i| i as u32),
                min_group: p.min_group.map(u64::from),
                rule: format!("purposes.{}", p.id).into(),
                allowed_reason: allowed_reason.into(),
            });
        }
        let prohibited = policy
            .prohibited
            .iter()
            .map(|x| {
                (
                    x.id.clone(),
                    (
                        Arc::from(format!("never allowed: {}", x.promise)),
                        Arc::from(format!("prohibited.{}", x.id)),
                    ),
                )
            })
            .collect();

        let mut regions = Vec::new();
        let mut region_of_country = HashMap::new();
        for (i, r) in policy.regions.iter().enumerate() {
            for c in &r.countries {
                if let [a, b] = c.to_ascii_uppercase().as_bytes() {
                    region_of_country.entry([*a, *b]).or_insert(i);
                }
            }
            let residency = r.rules.residency.as_ref().map(|res| {
                (
                    res.countries
                        .iter()
                        .map(|c| c.to_ascii_uppercase())
                        .collect(),
                    Arc::new(Obligation {
                        id: "keep_in_region",
                        description: format!(
                            "store and process the data only in {} ({})",
                            res.tag, r.name
                        ),
                        categories: Vec::new(),
                        region: Some(res.tag.clone()),
                    }),
                )
            });
            regions.push(CRegion {
                id: r.id.clone(),
                truncate_ip: cats(&r.rules.truncate_ip_categories),
                never_store: cats(&r.rules.never_store_categories),
                no_third_party: r.rules.no_third_party_personal_data,
                residency,
                truncate_obligation: Arc::new(Obligation {
                    id: "truncate_ip",
                    description:
                        "truncate the IP address before storing it (IPv4 to /24, IPv6 to /48)"
                            .into(),
                    categories: Vec::new(),
                    region: Some(r.id.clone()),
                }),
            });
        }
        let mut known_purposes: Vec<String> = policy
            .purposes
            .iter()
            .map(|p| p.id.clone())
            .chain(policy.prohibited.iter().map(|p| p.id.clone()))
            .collect();
        known_purposes.sort();

        Ok(Engine {
            version: policy.policy.version.as_str().into(),
            category_ids,
            category_index,
            personal,
            purposes,
            purpose_index,
            prohibited,
            recipients,
            recipient_index,
            regions,
            region_of_country,
            consent_purposes,
            known_purposes,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Ids of the consent purposes; a purpose's position is its consent slot.
    pub fn consent_purposes(&self) -> &[String] {
        &self.consent_purposes
    }

    /// The bit of `purpose` in [`Standing::objected`], if an objection can reach it.
    pub fn objection_slot(&self, purpose: &str) -> Option<u32> {
        self.purpose_index
            .get(purpose)
            .and_then(|&i| self.purposes[i].objection_slot)
    }

    pub fn consent_slot(&self, purpose: &str) -> Option<usize> {
        self.purpose_index
            .get(purpose)
            .and_then(|&i| self.purposes[i].consent_slot)
    }

    /// Slots of consent purposes that a Global Privacy Control signal opts out of.
    pub fn gpc_slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.purposes
            .iter()
            .filter(|p| p.gpc_opt_out)
            .filter_map(|p| p.consent_slot)
    }

    /// The ids of the consent purposes a GPC signal opts out of (see `consent::honour_gpc`).
    pub fn gpc_purposes(&self) -> impl Iterator<Item = &str> + '_ {
        self.gpc_slots().map(|s| self.consent_purposes[s].as_str())
    }

    // The hot path (benchmarked at a fraction of a microsecond): the checks run in the order
    // the policy ranks them — prohibitions, purpose, categories, recipient, region, consent —
    // and each may end the decision, so they stay one function, read top to bottom.
    pub fn decide<C: AsRef<str>>(
        &self,
        input: &DecisionInput<'_, C>,
        consents: &impl ConsentLookup,
    ) -> Result<Decision, DecisionError> {
        let country = country_key(input.country)?;
        if let Some((reason, rule)) = self.prohibited.get(input.purpose) {
            return Ok(self.deny(None, reason.clone(), rule.clone()));
        }
        let Some(&pi) = self.purpose_index.get(input.purpose) else {
            return Err(DecisionError::UnknownPurpose {
                given: input.purpose.to_owned(),
                known: self.known_purposes.clone(),
            });
        };
        let purpose = &self.purposes[pi];
        let basis = Some(purpose.basis);
        if !purpose.for_minors && consents.under_minimum_age(&input.subject) {
            return Ok(self.deny(
                basis,
                "the subject is under the minimum age: their data is being erased".into(),
                "children.minimum_age".into(),
            ));
        }
        if let Some(denied) = self.by_standing(purpose, consents.standing(&input.subject)) {
            return Ok(denied);
        }
        if let Some(min) = purpose.min_group {
            if input.group_size.is_none_or(|g| g < min) {
                return Ok(self.deny(
                    basis,
                    format!("the purpose shares figures about groups of at least {min} people; `group_size` is smaller or missing").into(),
                    format!("{}.min_group", purpose.rule).into(),
                ));
            }
        }

        let mut asked: CatSet = 0;
        for c in input.categories {
            match self.category_index.get(c.as_ref()) {
                Some(&i) => asked |= bit(i),
                None => {
                    return Err(DecisionError::UnknownCategory {
                        given: c.as_ref().to_owned(),
                        known: self.category_ids.clone(),
                    })
                }
            }
        }
        if input.categories.is_empty() {
            asked = purpose.categories;
        }
        let outside = asked & !purpose.categories;
        if outside != 0 {
            let names = self.names(outside);
            return Ok(self.deny(
                basis,
                format!(
                    "the purpose does not cover the categories: {}",
                    names.join(", ")
                )
                .into(),
                format!("{}.categories", purpose.rule).into(),
            ));
        }
        let personal = asked & self.personal != 0;
        let region = self
            .region_of_country
            .get(&country)
            .map(|&i| &self.regions[i]);

        if let Some(rid) = input.recipient {
            let Some(&ri) = self.recipient_index.get(rid) else {
                return Err(DecisionError::UnknownRecipient {
                    given: rid.to_owned(),
                    known: self.recipient_index.keys().cloned().collect(),
                });
            };
            let recipient = &self.recipients[ri];
            if purpose.recipients & (1 << ri) == 0 {
                return Ok(self.deny(
                    basis,
                    format!("the purpose does not name `{rid}` as a recipient").into(),
                    format!("{}.recipients", purpose.rule).into(),
                ));
            }
            if personal && recipient.non_personal_only {
                return Ok(self.deny(
                    basis,
                    format!("`{rid}` may receive only non-personal data").into(),
                    format!("recipients.{rid}.non_personal_only").into(),
                ));
            }
            if let Some(region) = region {
                if personal && recipient.third_party && region.no_third_party {
                    return Ok(self.deny(
                        basis,
                        "personal data of subjects in this region is never shared with third parties"
                            .into(),
                        format!("regions.{}.rules.no_third_party_personal_data", region.id).into(),
                    ));
                }
                if let Some((allowed, _)) = &region.residency {
                    if personal && !recipient.countries.iter().all(|c| allowed.contains(c)) {
                        return Ok(self.deny(
                            basis,
                            format!(
                                "`{rid}` holds data outside the region where this subject's data must stay"
                            )
                            .into(),
                            format!("regions.{}.rules.residency", region.id).into(),
                        ));
                    }
                }
            }
        }

        if let Some(slot) = purpose.consent_slot {
            if input.gpc && purpose.gpc_opt_out {
                return Ok(self.deny(
                    basis,
                    "the Global Privacy Control signal opts the subject out of this purpose".into(),
                    format!("{}.gpc_opt_out", purpose.rule).into(),
                ));
            }
            match consents.status(&input.subject, slot) {
                ConsentStatus::Given => {}
                ConsentStatus::Withdrawn => {
                    return Ok(self.deny(basis, "consent withdrawn".into(), purpose.rule.clone()))
                }
                ConsentStatus::Unknown => {
                    return Ok(self.deny(
                        basis,
                        "no consent on record".into(),
                        purpose.rule.clone(),
                    ))
                }
            }
        }

        let mut obligations = Vec::new();
        if let Some(region) = region {
            if asked & region.truncate_ip != 0 {
                obligations.push(region.truncate_obligation.clone());
            }
            let dropped = asked & region.never_store;
            if dropped != 0 {
                let names = self.names(dropped);
                obligations.push(Arc::new(Obligation {
                    id: "drop_categories",
                    description: format!(
                        "drop these events before storing or sharing: {}",
                        names.join(", ")
                    ),
                    categories: names,
                    region: Some(region.id.clone()),
                }));
            }
            if personal {
                if let Some((_, keep)) = &region.residency {
                    obligations.push(keep.clone());
                }
            }
        }
        Ok(Decision {
            allowed: true,
            legal_basis: basis,
            reason: purpose.allowed_reason.clone(),
            rule: purpose.rule.clone(),
            obligations,
            policy_version: self.version.clone(),
        })
    }

    /// What the subject's standing refuses: a restriction in force refuses every purpose but
    /// those that continue (GDPR Art. 18(2): storage, legal claims); an objection the purposes
    /// it named (Art. 21(1)); a closed account the purposes resting on its contract
    /// (Art. 6(1)(b)). Reasons are short codes callers can match on.
    fn by_standing(&self, purpose: &CPurpose, st: Standing) -> Option<Decision> {
        let basis = Some(purpose.basis);
        if st.restricted && !purpose.during_restriction {
            return Some(self.deny(basis, "restricted".into(), "rights.restriction".into()));
        }
        if let Some(slot) = purpose.objection_slot {
            if st.objected & (1u64 << slot) != 0 {
                return Some(self.deny(basis, "objection".into(), "rights.objection".into()));
            }
        }
        if st.account_closed && purpose.basis == LegalBasis::Contract {
            return Some(self.deny(
                basis,
                "account_closed".into(),
                format!("{}.legal_basis", purpose.rule).into(),
            ));
        }
        None
    }

    fn deny(&self, basis: Option<LegalBasis>, reason: Arc<str>, rule: Arc<str>) -> Decision {
        Decision {
            allowed: false,
            legal_basis: basis,
            reason,
            rule,
            obligations: Vec::new(),
            policy_version: self.version.clone(),
        }
    }

    fn names(&self, set: CatSet) -> Vec<String> {
        (0..self.category_ids.len())
            .filter(|&i| set & bit(i) != 0)
            .map(|i| self.category_ids[i].clone())
            .collect()
    }
}

fn country_key(country: &str) -> Result<[u8; 2], DecisionError> {
    let upper = country.to_ascii_uppercase();
    match upper.as_bytes() {
        [a, b] if is_country(&upper) => Ok([*a, *b]),
        _ => Err(DecisionError::UnknownCountry {
            given: country.chars().take(16).collect(),
        }),
    }
}
