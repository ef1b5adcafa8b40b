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
use serde_json::value::RawValue;

use crate::clock::rfc3339;
use crate::json_out::JsonOut;

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
    /// Kantara `piiControllers`: JSON written once per policy version and shared by every
    /// receipt of it (see [`Terms`]).
    pub controllers: Arc<RawValue>,
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

/// What a receipt says of a purpose that depends only on the policy version, each value as
/// the JSON it is written as: made once per version, a receipt copies the bytes instead of
/// escaping the same strings on every write (a third of the answer; issue 17).
#[derive(Debug)]
pub struct PurposeTerms {
    pub name: Box<RawValue>,
    pub legal_basis: Box<RawValue>,
    pub legal_basis_dpv: Box<RawValue>,
    pub purpose_dpv: Box<RawValue>,
    /// Kantara `piiCategory`.
    pub data_categories: Box<RawValue>,
    /// Kantara `thirdPartyDisclosure` / `thirdPartyName`.
    pub third_parties: Box<RawValue>,
    /// Whether any of its categories is sensitive (Kantara `sensitive`).
    pub sensitive: bool,
}

impl PurposeTerms {
    /// The terms of a purpose the policy does not have (a receipt rebuilt from an old event).
    fn unknown() -> PurposeTerms {
        let none: Option<String> = None;
        PurposeTerms {
            name: raw(&""),
            legal_basis: raw(&""),
            legal_basis_dpv: raw(&""),
            purpose_dpv: raw(&none),
            data_categories: raw(&[] as &[String]),
            third_parties: raw(&[] as &[String]),
            sensitive: false,
        }
    }
}

/// `value` written as JSON once, to be copied into receipts.
fn raw<T: Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    let json = serde_json::to_string(value).expect("policy texts and lists are plain JSON values");
    RawValue::from_string(json).expect("serde_json writes valid JSON")
}

/// [`TERMINATION`] as JSON, written once.
fn termination() -> &'static RawValue {
    static JSON: std::sync::OnceLock<Box<RawValue>> = std::sync::OnceLock::new();
    JSON.get_or_init(|| raw(TERMINATION))
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
        m.serialize_field("name", &*t.name)?;
        m.serialize_field("state", self.state)?;
        m.serialize_field("legal_basis", &*t.legal_basis)?;
        m.serialize_field("legal_basis_dpv", &*t.legal_basis_dpv)?;
        m.serialize_field("purpose_dpv", &*t.purpose_dpv)?;
        m.serialize_field("data_categories", &*t.data_categories)?;
        m.serialize_field("third_parties", &*t.third_parties)?;
        m.serialize_field("notice_hash", &self.notice_hash)?;
        m.serialize_field("event_id", &self.event_id)?;
        m.serialize_field("event_hash", &self.event_hash)?;
        m.serialize_field("termination", termination())?;
        m.end()
    }
}

impl Receipt {
    /// The receipt as JSON, the same bytes as its `Serialize` gives, written by hand for the
    /// consent write's answer (`json_out.rs`).
    pub fn write_json(&self, o: &mut JsonOut<'_>) {
        o.raw("{\"schema_version\":");
        o.str(self.schema_version);
        o.raw(",\"receipt_id\":");
        o.str(&self.receipt_id);
        o.raw(",\"timestamp\":");
        o.str(&self.timestamp);
        o.raw(",\"collection_method\":");
        o.str(&self.collection_method);
        o.raw(",\"subject_ref\":");
        o.str(&self.subject_ref);
        o.raw(",\"language\":");
        o.str(&self.language);
        o.raw(",\"jurisdiction\":");
        o.str(&self.jurisdiction);
        o.raw(",\"controllers\":");
        o.raw(self.controllers.get());
        o.raw(",\"policy_url\":");
        o.opt_str(self.policy_url.as_deref());
        o.raw(",\"policy_version\":");
        o.str(&self.policy_version);
        o.raw(",\"purposes\":[");
        for (i, p) in self.purposes.iter().enumerate() {
            if i > 0 {
                o.raw(",");
            }
            p.write_json(o);
        }
        o.raw("],\"sensitive\":");
        o.bool(self.sensitive);
        o.raw("}");
    }
}

impl ReceiptPurpose {
    /// As its `Serialize` writes it.
    fn write_json(&self, o: &mut JsonOut<'_>) {
        let t = &*self.terms;
        o.raw("{\"purpose\":");
        o.str(&self.purpose);
        o.raw(",\"name\":");
        o.raw(t.name.get());
        o.raw(",\"state\":");
        o.str(self.state);
        o.raw(",\"legal_basis\":");
        o.raw(t.legal_basis.get());
        o.raw(",\"legal_basis_dpv\":");
        o.raw(t.legal_basis_dpv.get());
        o.raw(",\"purpose_dpv\":");
        o.raw(t.purpose_dpv.get());
        o.raw(",\"data_categories\":");
        o.raw(t.data_categories.get());
        o.raw(",\"third_parties\":");
        o.raw(t.third_parties.get());
        o.raw(",\"notice_hash\":");
        o.opt_str(self.notice_hash.as_deref());
        o.raw(",\"event_id\":");
        o.str(&self.event_id);
        o.raw(",\"event_hash\":");
        o.str(&self.event_hash);
        o.raw(",\"termination\":");
        o.raw(termination().get());
        o.raw("}");
    }
}

/// Everything a receipt takes from one policy version, made once per version: a receipt on
/// the write path shares these instead of copying some forty strings out of the policy
/// (issue 17).
#[derive(Debug)]
pub struct Terms {
    controllers: Arc<RawValue>,
    purposes: HashMap<String, Arc<PurposeTerms>>,
    /// For a purpose the policy does not have (a receipt rebuilt from an old event).
    unknown: Arc<PurposeTerms>,
    policy_url: Option<String>,
    policy_version: String,
}

impl Terms {
    pub fn of(policy: &Policy) -> Terms {
        let contact = policy.contacts.dpo_email.clone();
        let controllers: Vec<ReceiptController> = policy
            .controllers
            .iter()
            .map(|c| ReceiptController {
                name: c.name.clone(),
                country: c.country.clone(),
                contact: contact.clone(),
                url: c.website.clone(),
            })
            .collect();
        let controllers: Arc<RawValue> = raw(&controllers).into();
        let purposes = policy
            .purposes
            .iter()
            .map(|p| {
                let third_parties: Vec<&str> = p
                    .recipients
                    .iter()
                    .filter_map(|r| policy.recipient(r))
                    .filter(|r| r.kind == custodian_policy::RecipientKind::ThirdParty)
                    .map(|r| r.name.as_str())
                    .collect();
                let terms = PurposeTerms {
                    name: raw(&p.name),
                    legal_basis: raw(p.legal_basis.id()),
                    legal_basis_dpv: raw(p.legal_basis.dpv()),
                    purpose_dpv: raw(&p.dpv),
                    data_categories: raw(&p.categories),
                    third_parties: raw(&third_parties),
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
            unknown: Arc::new(PurposeTerms::unknown()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(choices: Vec<Choice<'a>>) -> ReceiptInput<'a> {
        ReceiptInput {
            receipt_id: "rcpt_1",
            at_micros: 1_700_000_000_000_000,
            source: "banner",
            subject_ref: "ab",
            language: "en",
            jurisdiction: "GB",
            choices,
        }
    }

    /// The terms written once per policy version read as they would written field by field:
    /// the same keys in the same order, the same values, from the policy.
    #[test]
    fn receipts_carry_the_policys_terms_in_their_order() {
        let policy = custodian_policy::example();
        let purpose = policy.consent_purposes().next().expect("a consent purpose");
        let choice = Choice {
            purpose: &purpose.id,
            given: true,
            notice_hash: Some("sha256:00"),
            event_id: "evt_1",
            event_hash: "h",
        };
        let text = serde_json::to_string(&build(&policy, input(vec![choice]))).unwrap();
        let purposes = &text[text.find("\"purposes\"").unwrap()..];
        let at = |key: &str| purposes.find(&format!("\"{key}\":")).unwrap();
        let order = [
            "purpose",
            "name",
            "state",
            "legal_basis",
            "legal_basis_dpv",
            "purpose_dpv",
            "data_categories",
            "third_parties",
            "notice_hash",
            "event_id",
            "event_hash",
            "termination",
        ];
        assert!(
            order.windows(2).all(|w| at(w[0]) < at(w[1])),
            "keys in their order: {purposes}"
        );
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let p = &json["purposes"][0];
        assert_eq!(p["name"], purpose.name.as_str());
        assert_eq!(p["legal_basis"], purpose.legal_basis.id());
        assert_eq!(p["legal_basis_dpv"], purpose.legal_basis.dpv());
        assert_eq!(p["data_categories"], serde_json::json!(purpose.categories));
        assert_eq!(p["state"], "given");
        assert_eq!(p["termination"], TERMINATION);
        let controllers = json["controllers"].as_array().unwrap();
        assert_eq!(controllers.len(), policy.controllers.len());
        assert_eq!(controllers[0]["name"], policy.controllers[0].name.as_str());
        assert_eq!(json["policy_version"], policy.policy.version.as_str());
    }

    /// The hand-written JSON is `Serialize`'s, byte for byte: for every purpose of the
    /// example policy, one it does not have, texts that need escaping, and fields left out.
    #[test]
    fn receipts_written_by_hand_are_the_bytes_serde_writes() {
        let policy = custodian_policy::example();
        let mut choices: Vec<Choice> = policy
            .purposes
            .iter()
            .enumerate()
            .map(|(i, p)| Choice {
                purpose: &p.id,
                given: i % 2 == 0,
                notice_hash: (i % 3 != 0).then_some("sha256:0f"),
                event_id: "evt_1",
                event_hash: "00ff",
            })
            .collect();
        choices.push(Choice {
            purpose: "gone \"quoted\"\n",
            given: true,
            notice_hash: None,
            event_id: "evt_\u{1}",
            event_hash: "ü",
        });
        let mut odd = input(choices);
        odd.language = "en\"\\";
        odd.jurisdiction = "EU \t GDPR";
        let mut receipt = build(&policy, odd);
        for url in [None, Some("https://example.com/p?a=\"b\"".to_owned())] {
            receipt.policy_url = url;
            let mut buf = Vec::new();
            receipt.write_json(&mut JsonOut(&mut buf));
            assert_eq!(
                String::from_utf8(buf).unwrap(),
                serde_json::to_string(&receipt).unwrap()
            );
        }
    }

    #[test]
    fn a_purpose_the_policy_does_not_have_gets_empty_terms() {
        let policy = custodian_policy::example();
        let choice = Choice {
            purpose: "gone",
            given: false,
            notice_hash: None,
            event_id: "evt_2",
            event_hash: "h",
        };
        let json = serde_json::to_value(build(&policy, input(vec![choice]))).unwrap();
        let p = &json["purposes"][0];
        assert_eq!(p["name"], "");
        assert_eq!(p["purpose_dpv"], serde_json::Value::Null);
        assert_eq!(p["data_categories"], serde_json::json!([]));
        assert_eq!(p["state"], "withdrawn");
        assert_eq!(json["sensitive"], false);
    }
}
