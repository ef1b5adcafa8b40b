//! Consent receipts: what a person (or an auditor) gets back as proof of a consent action.
//!
//! The fields follow the Kantara Initiative Consent Receipt v1.1 and ISO/IEC TS 27560 (consent
//! record information structure); each field's name here and its source field are listed in
//! docs/consent.md. A receipt is rebuilt from the ledger's events and the policy version they
//! name, so it never needs storing separately.

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
    /// Kantara `piiControllers`.
    pub controllers: Vec<ReceiptController>,
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

#[derive(Debug, Clone, Serialize)]
pub struct ReceiptPurpose {
    pub purpose: String,
    pub name: String,
    /// `given` or `withdrawn`.
    pub state: &'static str,
    pub legal_basis: String,
    pub legal_basis_dpv: String,
    pub purpose_dpv: Option<String>,
    /// Kantara `piiCategory`.
    pub data_categories: Vec<String>,
    /// Kantara `thirdPartyDisclosure` / `thirdPartyName`.
    pub third_parties: Vec<String>,
    /// ISO/IEC TS 27560 notice reference: the hash of the text shown.
    pub notice_hash: Option<String>,
    /// The ledger entry that records this choice.
    pub event_id: String,
    pub event_hash: String,
    /// Kantara `termination`.
    pub termination: &'static str,
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

pub fn build(policy: &Policy, input: ReceiptInput<'_>) -> Receipt {
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
    let mut sensitive = false;
    let purposes = input
        .choices
        .iter()
        .map(|c| {
            let p = policy.purpose(c.purpose);
            let cats: Vec<String> = p.map(|p| p.categories.clone()).unwrap_or_default();
            sensitive |= cats.iter().any(|id| policy.category(id).is_some_and(|c| c.sensitive));
            ReceiptPurpose {
                purpose: c.purpose.to_owned(),
                name: p.map(|p| p.name.clone()).unwrap_or_default(),
                state: if c.given { "given" } else { "withdrawn" },
                legal_basis: p.map(|p| p.legal_basis.id().to_owned()).unwrap_or_default(),
                legal_basis_dpv: p.map(|p| p.legal_basis.dpv().to_owned()).unwrap_or_default(),
                purpose_dpv: p.and_then(|p| p.dpv.clone()),
                data_categories: cats,
                third_parties: p
                    .map(|p| {
                        p.recipients
                            .iter()
                            .filter_map(|r| policy.recipient(r))
                            .filter(|r| r.kind == custodian_policy::RecipientKind::ThirdParty)
                            .map(|r| r.name.clone())
                            .collect()
                    })
                    .unwrap_or_default(),
                notice_hash: c.notice_hash.map(str::to_owned),
                event_id: c.event_id.to_owned(),
                event_hash: c.event_hash.to_owned(),
                termination: "Withdraw at any time in the privacy centre, through the banner, or with the unsubscribe link in any e-mail.",
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
        controllers,
        policy_url: policy.policy.url.clone(),
        policy_version: policy.policy.version.clone(),
        purposes,
        sensitive,
    }
}
