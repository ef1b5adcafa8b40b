//! The policy model: what a `policy.toml` says, as plain data.
//!
//! These types mirror the file one to one so that a reader of `docs/policy.md` can find each
//! section here. They carry no behaviour beyond small lookups; validation lives in
//! `validate`, rendering in `render`, comparison in `diff`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod accountability;
mod disclosures;
mod requests;
mod rights;
mod translations;

pub use accountability::*;
pub use disclosures::*;
pub use requests::*;
pub use rights::*;
pub use translations::*;

// ── Calendars of the deadlines (issue 12): their own module ─────────────────────────────────
mod calendars;
pub use calendars::Calendar;

/// A whole policy file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub policy: PolicyMeta,
    #[serde(default)]
    pub controllers: Vec<Controller>,
    #[serde(default)]
    pub contacts: Contacts,
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub subjects: Vec<SubjectKind>,
    #[serde(default)]
    pub purposes: Vec<Purpose>,
    /// Things the policy promises never to do, such as selling personal data.
    #[serde(default)]
    pub prohibited: Vec<Prohibited>,
    #[serde(default)]
    pub recipients: Vec<Recipient>,
    #[serde(default)]
    pub regions: Vec<Region>,
    #[serde(default)]
    pub retention: Vec<RetentionRule>,
    pub deadlines: Deadlines,
    /// The calendars deadlines are counted on (`[[calendars]]`, `model/calendars.rs`).
    #[serde(default)]
    pub calendars: Vec<Calendar>,
    pub children: Children,
    /// How data-subject requests are handled.
    #[serde(default)]
    pub requests: RequestSettings,
    /// Companies we process data for as a processor: requests about their data go to them.
    #[serde(default)]
    pub customers: Vec<Customer>,
    /// Texts shown by the banner and the privacy centre, per language tag.
    #[serde(default)]
    pub texts: BTreeMap<String, UiTexts>,
    /// What restriction and objection reach (`model/rights.rs`).
    #[serde(default)]
    pub rights: Rights,
    /// What else the notice must say under Art. 13 and 14 (`model/disclosures.rs`).
    #[serde(default)]
    pub notice: Disclosures,
    /// The policy's own texts in its other languages (`model/translations.rs`).
    #[serde(default, skip_serializing_if = "Translations::is_empty")]
    pub translations: Translations,
    /// How much notice a change needs (`model/accountability.rs`).
    #[serde(default)]
    pub notices: NoticeRules,
    /// The smallest group a shared aggregate may describe.
    #[serde(default)]
    pub aggregates: AggregateRules,
    /// Aggregate reports over the company's datastores.
    #[serde(default)]
    pub reports: Vec<Report>,
    /// Security measures for the records of processing (Art. 30(1)(g)).
    #[serde(default)]
    pub security_measures: Vec<SecurityMeasure>,
}

/// Identity of the policy document itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyMeta {
    /// A short organisation name used in headings ("Focusrite Group").
    pub organisation: String,
    /// The version label; any string, compared for equality only.
    pub version: String,
    /// The date the version takes effect, `YYYY-MM-DD`.
    pub effective_date: String,
    /// Where the published notice lives.
    #[serde(default)]
    pub url: Option<String>,
    /// Languages the texts are offered in; the first is the fallback.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// A free-text summary shown at the top of the rendered notice.
    #[serde(default)]
    pub summary: Option<String>,
    /// The legal framework named on consent receipts (Kantara `jurisdiction`); see
    /// [`Policy::receipt_jurisdiction`] for the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_jurisdiction: Option<String>,
}

fn default_languages() -> Vec<String> {
    vec!["en".into()]
}

/// One company of the group that acts as a controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Controller {
    pub id: String,
    pub name: String,
    /// The registered legal entity, when `name` is a brand (GDPR Art. 13(1)(a)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_entity: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
}

/// Ways to reach the people responsible for privacy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    #[serde(default)]
    pub dpo_email: Option<String>,
    #[serde(default)]
    pub support_email: Option<String>,
    #[serde(default)]
    pub postal_address: Option<String>,
    /// Where a person can ask to be forgotten without signing in.
    #[serde(default)]
    pub erasure_url: Option<String>,
}

/// A kind of data, personal or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Whether the data identifies or relates to a person (GDPR Art. 4(1)).
    pub personal: bool,
    /// Whether this category is sensitive enough to deserve special handling.
    #[serde(default)]
    pub sensitive: bool,
    /// W3C DPV personal-data term, e.g. `pd:EmailAddress`.
    #[serde(default)]
    pub dpv: Option<String>,
}

/// A kind of data subject (customer, website visitor, job applicant...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectKind {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// A legal basis for processing, GDPR Art. 6(1)(a)–(f).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    Consent,
    Contract,
    LegalObligation,
    VitalInterest,
    PublicTask,
    LegitimateInterest,
}

impl LegalBasis {
    pub const ALL: [LegalBasis; 6] = [
        LegalBasis::Consent,
        LegalBasis::Contract,
        LegalBasis::LegalObligation,
        LegalBasis::VitalInterest,
        LegalBasis::PublicTask,
        LegalBasis::LegitimateInterest,
    ];

    /// The identifier used in the file and the API.
    pub fn id(self) -> &'static str {
        match self {
            LegalBasis::Consent => "consent",
            LegalBasis::Contract => "contract",
            LegalBasis::LegalObligation => "legal_obligation",
            LegalBasis::VitalInterest => "vital_interest",
            LegalBasis::PublicTask => "public_task",
            LegalBasis::LegitimateInterest => "legitimate_interest",
        }
    }

    /// The W3C Data Privacy Vocabulary term, so exports use standard identifiers.
    pub fn dpv(self) -> &'static str {
        match self {
            LegalBasis::Consent => "dpv:Consent",
            LegalBasis::Contract => "dpv:Contract",
            LegalBasis::LegalObligation => "dpv:LegalObligation",
            LegalBasis::VitalInterest => "dpv:VitalInterest",
            LegalBasis::PublicTask => "dpv:PublicInterest",
            LegalBasis::LegitimateInterest => "dpv:LegitimateInterest",
        }
    }

    /// The GDPR article that grants this basis.
    pub fn article(self) -> &'static str {
        match self {
            LegalBasis::Consent => "GDPR Art. 6(1)(a)",
            LegalBasis::Contract => "GDPR Art. 6(1)(b)",
            LegalBasis::LegalObligation => "GDPR Art. 6(1)(c)",
            LegalBasis::VitalInterest => "GDPR Art. 6(1)(d)",
            LegalBasis::PublicTask => "GDPR Art. 6(1)(e)",
            LegalBasis::LegitimateInterest => "GDPR Art. 6(1)(f)",
        }
    }

    /// A short label for people.
    pub fn label(self) -> &'static str {
        match self {
            LegalBasis::Consent => "Consent",
            LegalBasis::Contract => "Performance of a contract",
            LegalBasis::LegalObligation => "Compliance with a legal obligation",
            LegalBasis::VitalInterest => "Vital interests",
            LegalBasis::PublicTask => "Public task",
            LegalBasis::LegitimateInterest => "Legitimate interest",
        }
    }
}

/// Why and on what basis data is processed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    pub id: String,
    pub name: String,
    pub description: String,
    pub legal_basis: LegalBasis,
    /// Categories this purpose may process; a decision asking for others is refused.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Kinds of subject concerned.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Recipients that may receive data for this purpose.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// W3C DPV purpose term, e.g. `dpv:DirectMarketing`.
    #[serde(default)]
    pub dpv: Option<String>,
    /// For legitimate interest: the interest pursued, shown in the notice.
    #[serde(default)]
    pub interest: Option<String>,
    /// Consent purposes: what the person is asked, and how the banner treats it.
    #[serde(default)]
    pub consent: Option<ConsentSpec>,
    /// Whether a Global Privacy Control signal opts the person out (sale, sharing,
    /// targeted advertising).
    #[serde(default)]
    pub gpc_opt_out: bool,
    /// Whether this is direct marketing, which an objection (GDPR Art. 21(3)) stops at once;
    /// see [`Purpose::is_direct_marketing`] for the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_marketing: Option<bool>,
    /// For aggregate purposes: the fewest people a shared figure may describe; a decision
    /// that does not give a `group_size` at least this large is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_group: Option<u32>,
}

impl Purpose {
    pub fn is_consent(&self) -> bool {
        self.legal_basis == LegalBasis::Consent
    }

    /// Whether an objection withdraws this purpose: `direct_marketing` when the policy says,
    /// otherwise when its DPV term names marketing (`dpv:DirectMarketing`) or, for policies
    /// written before terms were set, its id is `marketing`.
    pub fn is_direct_marketing(&self) -> bool {
        self.direct_marketing.unwrap_or_else(|| {
            self.id == "marketing" || self.dpv.as_deref().is_some_and(|d| d.contains("Marketing"))
        })
    }
}

/// How a consent purpose is asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentSpec {
    /// The text shown when asking, per language tag. Its hash goes into every consent event.
    pub notice: BTreeMap<String, String>,
    /// The short label of the banner toggle, per language tag.
    #[serde(default)]
    pub label: BTreeMap<String, String>,
    /// Whether the cookie banner offers this purpose.
    #[serde(default)]
    pub banner: bool,
    /// Cookies set by scripts of this purpose, deleted when consent is withdrawn.
    #[serde(default)]
    pub cookies: Vec<String>,
    /// Where the consent is collected: `banner`, `privacy_center`, `signup`, `survey`...
    #[serde(default)]
    pub collected_via: Vec<String>,
}

/// A processing the policy promises never to carry out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prohibited {
    pub id: String,
    pub name: String,
    /// The sentence of the policy that makes the promise.
    pub promise: String,
    #[serde(default)]
    pub dpv: Option<String>,
}

/// Who data goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    /// Processes on our behalf under a contract (Art. 28).
    Processor,
    /// A company of the same group.
    Affiliate,
    /// An independent third party (advertising partner, social network...).
    ThirdParty,
    /// Authorities receiving data under a legal obligation.
    Authority,
}

impl RecipientKind {
    pub fn label(self) -> &'static str {
        match self {
            RecipientKind::Processor => "Processor",
            RecipientKind::Affiliate => "Group company",
            RecipientKind::ThirdParty => "Third party",
            RecipientKind::Authority => "Public authority",
        }
    }
}

/// A recipient of data, with where it sits and how a transfer there is lawful.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub id: String,
    pub name: String,
    pub kind: RecipientKind,
    /// ISO 3166-1 alpha-2 codes of the countries data is stored or processed in.
    pub countries: Vec<String>,
    /// `adequacy`, `scc`, `bcr`, `dpf` (EU-US Data Privacy Framework), `derogation`, or
    /// `none` when no transfer out of the EEA happens.
    pub transfer_mechanism: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Whether this recipient only ever receives data that is not personal.
    #[serde(default)]
    pub non_personal_only: bool,
}

/// Rules that apply to subjects in a set of countries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub id: String,
    pub name: String,
    /// ISO 3166-1 alpha-2 codes.
    pub countries: Vec<String>,
    /// Obligations attached to every allowed decision in the region.
    #[serde(default)]
    pub rules: RegionRules,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionRules {
    /// Categories whose IP addresses must be truncated before storage.
    #[serde(default)]
    pub truncate_ip_categories: Vec<String>,
    /// Categories that are never stored nor shared for subjects of the region.
    #[serde(default)]
    pub never_store_categories: Vec<String>,
    /// Refuse personal data to any recipient of kind `third_party`.
    #[serde(default)]
    pub no_third_party_personal_data: bool,
    /// Personal data stays in these countries; recipients elsewhere are refused.
    #[serde(default)]
    pub residency: Option<Residency>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Residency {
    /// A short tag for the obligation, e.g. `EU`.
    pub tag: String,
    /// Countries where storage is allowed.
    pub countries: Vec<String>,
}

/// What starts a retention clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionAnchor {
    /// When the data was collected.
    Collected,
    AccountClosed,
    LastActivity,
    Purchase,
    /// When consent for the purpose was withdrawn.
    ConsentWithdrawn,
}

impl RetentionAnchor {
    pub fn label(self) -> &'static str {
        match self {
            RetentionAnchor::Collected => "collection",
            RetentionAnchor::AccountClosed => "account closure",
            RetentionAnchor::LastActivity => "last activity",
            RetentionAnchor::Purchase => "purchase",
            RetentionAnchor::ConsentWithdrawn => "withdrawal of consent",
        }
    }
}

/// How long a set of categories is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    pub id: String,
    pub description: String,
    pub categories: Vec<String>,
    /// The event that starts the clock.
    pub anchor: RetentionAnchor,
    /// How long after the anchor the data goes, as an ISO 8601 duration (`P7Y`, `P30D`).
    pub keep_for: String,
    /// The legal reason for keeping it, when it outlives the relationship.
    #[serde(default)]
    pub legal_basis: Option<LegalBasis>,
    /// Whether a legal hold on the subject suspends this rule (always true for records kept
    /// under a legal obligation).
    #[serde(default)]
    pub legal_hold: bool,
}

/// Request deadlines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    /// Business hours to acknowledge a request (the seed promises 72).
    pub acknowledge_business_hours: u32,
    /// Time to answer, ISO 8601 (`P1M`).
    pub answer_within: String,
    /// The most an answer may be extended by, ISO 8601 (`P2M`).
    pub extension_max: String,
    /// Per-jurisdiction overrides.
    #[serde(default)]
    pub jurisdictions: Vec<Jurisdiction>,
    // ── Calendars and the law's arithmetic (issue 12) ──
    /// The id of the `[[calendars]]` entry the default rules count on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
    /// Whether a last day that is not a working day moves to the next working day.
    #[serde(default)]
    pub roll_forward: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jurisdiction {
    pub id: String,
    pub name: String,
    pub countries: Vec<String>,
    /// Acknowledgement in business days (CCPA: 10); absent means the default hours.
    #[serde(default)]
    pub acknowledge_business_days: Option<u32>,
    pub answer_within: String,
    pub extension_max: String,
    /// Whether the clock stops while the requester's identity is being confirmed.
    #[serde(default)]
    pub stop_clock_for_identity: bool,
    // ── Calendars and the law's arithmetic (issue 12) ──
    /// The id of the `[[calendars]]` entry this law is counted on (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
    /// Whether a last day that is not a working day of the calendar moves to the next working
    /// day (Regulation 1182/71 Art. 3(4), ICO guidance, Cal. Code Civ. Proc. §12a).
    #[serde(default)]
    pub roll_forward: bool,
    /// Acknowledge within a span instead of business hours or days: `PT72H` is 72 hours of
    /// elapsed time, `P10D` ten calendar days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge_within: Option<String>,
    /// Whether the DPO may stop the clock while waiting for the requester to clarify the
    /// request (`awaiting_clarification`); `stop_clock_for_identity` covers `awaiting_identity`.
    #[serde(default)]
    pub stop_clock_for_clarification: bool,
}

/// The minimum age and what happens below it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Children {
    pub minimum_age: u8,
    /// Per-country minimum ages (GDPR Art. 8 lets member states choose 13–16).
    #[serde(default)]
    pub by_country: BTreeMap<String, u8>,
    /// How fast a child's data is erased once known, ISO 8601 (`PT24H`).
    #[serde(default = "default_child_erasure")]
    pub erase_within: String,
    /// The purposes still decided for a subject known to be under the minimum age — the
    /// erasure of their data itself; every other decision is refused.
    #[serde(
        default = "default_child_purposes",
        skip_serializing_if = "is_default_child_purposes"
    )]
    pub purposes_allowed: Vec<String>,
}

fn default_child_erasure() -> String {
    "PT24H".into()
}

fn default_child_purposes() -> Vec<String> {
    vec!["erasure".into()]
}

fn is_default_child_purposes(p: &[String]) -> bool {
    p == default_child_purposes()
}

/// A customer of the company that controls data the company processes for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub id: String,
    pub name: String,
    /// Where requests about this customer's data are forwarded.
    pub contact_email: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// Texts of the banner and privacy centre in one language.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiTexts {
    pub banner_title: String,
    pub banner_body: String,
    pub accept_all: String,
    pub reject_all: String,
    pub choose: String,
    pub save: String,
    pub notice_link: String,
    #[serde(default)]
    pub gpc_honoured: Option<String>,
    /// Next to a switch that Global Privacy Control keeps off: why it cannot be switched on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpc_locked: Option<String>,
    /// The verb of a click-to-load placeholder's button ("Load: Social media").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<String>,
}

impl Policy {
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    pub fn purpose(&self, id: &str) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.id == id)
    }

    pub fn customer(&self, id: &str) -> Option<&Customer> {
        self.customers.iter().find(|c| c.id == id)
    }

    pub fn recipient(&self, id: &str) -> Option<&Recipient> {
        self.recipients.iter().find(|r| r.id == id)
    }

    /// The legal framework named on consent receipts: `policy.receipt_jurisdiction`, or by
    /// default `EU GDPR / UK GDPR` (what every receipt named before it could be set).
    pub fn receipt_jurisdiction(&self) -> &str {
        self.policy
            .receipt_jurisdiction
            .as_deref()
            .unwrap_or("EU GDPR / UK GDPR")
    }

    /// Purposes that rest on consent, in file order.
    pub fn consent_purposes(&self) -> impl Iterator<Item = &Purpose> {
        self.purposes.iter().filter(|p| p.is_consent())
    }

    /// The region a country belongs to, if any.
    pub fn region_of(&self, country: &str) -> Option<&Region> {
        self.regions
            .iter()
            .find(|r| r.countries.iter().any(|c| c.eq_ignore_ascii_case(country)))
    }
}
