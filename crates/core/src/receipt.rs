//! Consent receipts: what a person (or an auditor) gets back as proof of a consent action.
//!
//! The fields follow the Kantara Initiative Consent Receipt v1.1 and ISO/IEC TS 27560 (consent
//! record information structure); each field's name here and its source field are listed in
//! docs/consent.md. A receipt is rebuilt from the ledger's events and the policy version they
//! name, so it never needs storing separately.

use std::collections::HashMap;
use std::sync::Arc;

use custodian_policy::Policy;
use serde::Serialize;

use crate::clock::rfc3339;

#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    /// Kantara `version`.
    pub schema_version: &'static str,
    /// Kantara `consentReceiptID`.
    pub receipt_id: String,
    /// Kantara `consentTimestamp` (RFC 3339).
    pub timestamp: String,
    /// Kantara `collectionMethod`.
    pub collection_method: String,
    /// Kantara `piiPrincipalId`: the keyed reference, never the raw identifier.
    pub subject_ref: String,
    pub language: String,
    /// Kantara `jurisdiction`.
    pub jurisdiction: String,
    /// Kantara `piiControllers` (shared by every receipt of a policy version).
    pub controllers: Arc<[ReceiptController]>,
    /// Kantara `policyUrl`, plus the version the choice was made under.
    pub policy_url: Option<String>,
    pub policy_version: String,
    /// Kantara `services[].purposes[]`, one entry per choice recorded.
    pub purposes: Vec<ReceiptPurpose>,
    /// Kantara `sensitive`.
    pub sensitive: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReceiptController {
    pub name: String,
    pub country: String,
    pub contact: Option<String>,
    pub url: Option<String>,
}

/// One choice on a receipt: what was chosen, and the purpose's terms under that policy
/// version (shared by every receipt of the version, not copied into each).
#[derive(Debug, Clone)]
pub struct ReceiptPurpose {
    pub purpose: String,
    /// `given` or `withdrawn`.
    pub state: &'static str,
    pub terms: Arc<PurposeTerms>,
    /// ISO/IEC TS 27560 notice reference: the hash of the text shown.
    pub notice_hash: Option<String>,
    /// The ledger entry that records this choice.
    pub event_id: String,
    pub event_hash: String,
}

/// What a receipt says of a purpose that depends only on the policy version.
#[derive(Debug, Default)]
pub struct PurposeTerms {
    pub name: String,
    pub legal_basis: String,
    pub legal_basis_dpv: String,
    pub purpose_dpv: Option<String>,
    /// Kantara `piiCategory`.
    pub data_categories: Vec<String>,
    /// Kantara `thirdPartyDisclosure` / `thirdPartyName`.
    pub third_parties: Vec<String>,
    /// Whether any of its categories is sensitive (Kantara `sensitive`).
    pub sensitive: bool,
}

/// Kantara `termination`.
const TERMINATION: &str = "Withdraw at any time in the privacy centre, through the banner, or with the unsubscribe link in any e-mail.";

/// The fields in the order receipts have always had them (`purpose`, `name`, `state`, …).
impl Serialize for ReceiptPurpose {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let t = &*self.terms;
        let mut m = s.serialize_struct("ReceiptPurpose", 12)?;
        m.serialize_field("purpose", &self.purpose)?;
        m.serialize_field("name", &t.name)?;
        m.serialize_field("state", self.state)?;
        m.serialize_field("legal_basis", &t.legal_basis)?;
        m.serialize_field("legal_basis_dpv", &t.legal_basis_dpv)?;
        m.serialize_field("purpose_dpv", &t.purpose_dpv)?;
        m.serialize_field("data_categories", &t.data_categories)?;
        m.serialize_field("third_parties", &t.third_parties)?;
        m.serialize_field("notice_hash", &self.notice_hash)?;
        m.serialize_field("event_id", &self.event_id)?;
        m.serialize_field("event_hash", &self.event_hash)?;
        m.serialize_field("termination", TERMINATION)?;
        m.end()
    }
}

/// Everything a receipt takes from one policy version, made once per version: a receipt on
/// the write path shares these instead of copying some forty strings out of the policy
/// (issue 17).
#[derive(Debug)]
pub struct Terms {
    controllers: Arc<[ReceiptController]>,
    purposes: HashMap<String, Arc<PurposeTerms>>,
    /// For a purpose the policy does not have (a receipt rebuilt from an old event).
    unknown: Arc<PurposeTerms>,
    policy_url: Option<String>,
    policy_version: String,
}

impl Terms {
    pub fn of(policy: &Policy) -> Terms {
        let contact = policy.contacts.dpo_email.clone();
        let controllers = policy
            .controllers
            .iter()
            .map(|c| ReceiptController {
                name: c.name.clone(),
                country: c.country.clone(),
                contact: contact.clone(),
                url: c.website.clone(),
            })
            .collect();
        let purposes = policy
            .purposes
            .iter()
            .map(|p| {
                let terms = PurposeTerms {
                    name: p.name.clone(),
                    legal_basis: p.legal_basis.id().to_owned(),
                    legal_basis_dpv: p.legal_basis.dpv().to_owned(),
                    purpose_dpv: p.dpv.clone(),
                    data_categories: p.categories.clone(),
                    third_parties: p
                        .recipients
                        .iter()
                        .filter_map(|r| policy.recipient(r))
                        .filter(|r| r.kind == custodian_policy::RecipientKind::ThirdParty)
                        .map(|r| r.name.clone())
                        .collect(),
                    sensitive: p
                        .categories
                        .iter()
                        .any(|id| policy.category(id).is_some_and(|c| c.sensitive)),
                };
                (p.id.clone(), Arc::new(terms))
            })
            .collect();
        Terms {
            controllers,
            purposes,
            unknown: Arc::default(),
            policy_url: policy.policy.url.clone(),
            policy_version: policy.policy.version.clone(),
        }
    }
}

/// One recorded choice, as the receipt needs it.
pub struct Choice<'a> {
    pub purpose: &'a str,
    pub given: bool,
    pub notice_hash: Option<&'a str>,
    pub event_id: &'a str,
    pub event_hash: &'a str,
}

pub struct ReceiptInput<'a> {
    pub receipt_id: &'a str,
    pub at_micros: i64,
    pub source: &'a str,
    pub subject_ref: &'a str,
    pub language: &'a str,
    pub jurisdiction: &'a str,
    pub choices: Vec<Choice<'a>>,
}

pub const SCHEMA_VERSION: &str = "KI-CR-v1.1.0";

/// A receipt under `policy` (its terms made for this one receipt).
pub fn build(policy: &Policy, input: ReceiptInput<'_>) -> Receipt {
    build_with(&Terms::of(policy), input)
}

/// A receipt under the policy version `terms` were made of.
pub fn build_with(terms: &Terms, input: ReceiptInput<'_>) -> Receipt {
    let mut sensitive = false;
    let purposes = input
        .choices
        .iter()
        .map(|c| {
            let t = terms.purposes.get(c.purpose).unwrap_or(&terms.unknown);
            sensitive |= t.sensitive;
            ReceiptPurpose {
                purpose: c.purpose.to_owned(),
                state: if c.given { "given" } else { "withdrawn" },
                terms: t.clone(),
                notice_hash: c.notice_hash.map(str::to_owned),
                event_id: c.event_id.to_owned(),
                event_hash: c.event_hash.to_owned(),
            }
        })
        .collect();
    Receipt {
        schema_version: SCHEMA_VERSION,
        receipt_id: input.receipt_id.to_owned(),
        timestamp: rfc3339(input.at_micros),
        collection_method: input.source.to_owned(),
        subject_ref: input.subject_ref.to_owned(),
        language: input.language.to_owned(),
        jurisdiction: input.jurisdiction.to_owned(),
        controllers: terms.controllers.clone(),
        policy_url: terms.policy_url.clone(),
        policy_version: terms.policy_version.clone(),
        purposes,
        sensitive,
    }
}
