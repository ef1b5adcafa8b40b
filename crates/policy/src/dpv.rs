//! W3C Data Privacy Vocabulary (DPV) identifiers, and the records of processing built on them.
//!
//! Regulators, auditors and other tools read standard identifiers more easily than our ids, so
//! exports name each purpose, legal basis, data category, recipient kind and transfer safeguard
//! with a DPV IRI. The file writes compact terms (`dpv:Consent`, `pd:EmailAddress`); this module
//! expands them and assembles the GDPR Art. 30 records of processing.

use serde_json::{json, Value};

use crate::duration;
use crate::model::*;

/// The prefixes a policy file may use, with the namespace each stands for.
pub const PREFIXES: [(&str, &str); 4] = [
    ("dpv", "https://w3id.org/dpv#"),
    ("pd", "https://w3id.org/dpv/pd#"),
    ("eu-gdpr", "https://w3id.org/dpv/legal/eu/gdpr#"),
    ("tech", "https://w3id.org/dpv/tech#"),
];

/// Expands a compact term to its IRI: `dpv:Consent` → `https://w3id.org/dpv#Consent`. Anything
/// that has no known prefix (a full IRI, say) comes back unchanged.
pub fn expand(term: &str) -> String {
    for (prefix, namespace) in PREFIXES {
        if let Some(name) = term.strip_prefix(prefix).and_then(|t| t.strip_prefix(':')) {
            return format!("{namespace}{name}");
        }
    }
    term.to_string()
}

/// Whether `term` is a compact term with a known prefix and a plain name, or an https IRI.
pub fn is_term(term: &str) -> bool {
    if term.starts_with("https://") && !term.contains(char::is_whitespace) {
        return true;
    }
    let Some((prefix, name)) = term.split_once(':') else {
        return false;
    };
    PREFIXES.iter().any(|(p, _)| *p == prefix)
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The DPV legal-basis IRI, e.g. `https://w3id.org/dpv#Consent`.
pub fn legal_basis(basis: LegalBasis) -> String {
    expand(basis.dpv())
}

/// The GDPR article of a legal basis in DPV's GDPR extension, e.g. `eu-gdpr:A6-1-a`.
pub fn gdpr_legal_basis(basis: LegalBasis) -> &'static str {
    match basis {
        LegalBasis::Consent => "eu-gdpr:A6-1-a",
        LegalBasis::Contract => "eu-gdpr:A6-1-b",
        LegalBasis::LegalObligation => "eu-gdpr:A6-1-c",
        LegalBasis::VitalInterest => "eu-gdpr:A6-1-d",
        LegalBasis::PublicTask => "eu-gdpr:A6-1-e",
        LegalBasis::LegitimateInterest => "eu-gdpr:A6-1-f",
    }
}

/// The DPV entity term of a kind of recipient.
pub fn recipient_kind(kind: RecipientKind) -> &'static str {
    match kind {
        RecipientKind::Processor => "dpv:DataProcessor",
        // A group company is a separate legal entity that decides with us: a controller.
        RecipientKind::Affiliate => "dpv:DataController",
        RecipientKind::ThirdParty => "dpv:ThirdParty",
        RecipientKind::Authority => "dpv:Authority",
    }
}

/// The safeguard term of a transfer mechanism, or `None` when there is no transfer.
pub fn transfer_mechanism(mechanism: &str) -> Option<&'static str> {
    match mechanism {
        "adequacy" => Some("eu-gdpr:A45-3"),
        // The EU-US Data Privacy Framework is an adequacy decision under Art. 45(3).
        "dpf" => Some("eu-gdpr:A45-3"),
        "scc" => Some("dpv:StandardContractualClauses"),
        "bcr" => Some("dpv:BindingCorporateRules"),
        "derogation" => Some("eu-gdpr:A49-1"),
        _ => None,
    }
}

/// The European Economic Area: transfers elsewhere need a safeguard (GDPR Chapter V).
pub const EEA: [&str; 30] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

fn term(t: &str) -> Value {
    json!({ "term": t, "iri": expand(t) })
}

fn opt_term(t: &Option<String>) -> Value {
    t.as_deref().map_or(Value::Null, term)
}

/// The records of processing activities (GDPR Art. 30(1)) as JSON: the organisation and its
/// contacts, then per controller (Art. 30(1)(a)) one activity per purpose with its legal basis,
/// categories of data and of subjects (b)-(c), recipients with their countries, the third
/// countries among them and the safeguards (d)-(e), the retention of each category (f) and the
/// security measures that protect it (g) — every term with its DPV IRI. The policy names no
/// controller per purpose: every controller of the group is recorded with every activity.
pub fn records_of_processing(p: &Policy) -> Value {
    let activities: Vec<Value> = p
        .purposes
        .iter()
        .map(|purpose| activity(p, purpose))
        .collect();
    json!({
        "@context": PREFIXES.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect::<serde_json::Map<_, _>>(),
        "regulation": "GDPR Art. 30(1)",
        "organisation": p.policy.organisation,
        "policy_version": p.policy.version,
        "effective_date": p.policy.effective_date,
        "contacts": {
            "dpo_email": p.contacts.dpo_email,
            "support_email": p.contacts.support_email,
            "postal_address": p.contacts.postal_address,
        },
        "controllers": p.controllers.iter().map(|c| json!({
            "id": c.id, "name": c.name, "legal_entity": c.legal_entity, "country": c.country,
            "address": c.address, "website": c.website, "role": term("dpv:DataController"),
            "activities": activities,
        })).collect::<Vec<_>>(),
        "security_measures": p.security_measures.iter().map(measure).collect::<Vec<_>>(),
        "prohibited": p.prohibited.iter().map(|x| json!({
            "id": x.id, "name": x.name, "promise": x.promise, "dpv": opt_term(&x.dpv),
        })).collect::<Vec<_>>(),
    })
}

fn measure(m: &SecurityMeasure) -> Value {
    json!({
        "id": m.id, "kind": m.kind.id(), "class": term(m.kind.dpv()),
        "description": m.description, "dpv": opt_term(&m.dpv),
        "purposes": if m.purposes.is_empty() { json!("all") } else { json!(m.purposes) },
    })
}

fn activity(p: &Policy, purpose: &Purpose) -> Value {
    let categories: Vec<Value> = purpose
        .categories
        .iter()
        .filter_map(|id| p.category(id))
        .map(|c| {
            json!({
                "id": c.id, "name": c.name, "personal": c.personal, "sensitive": c.sensitive,
                "dpv": opt_term(&c.dpv),
                "retention": retention_of(p, &c.id),
            })
        })
        .collect();
    let subjects: Vec<Value> = purpose
        .subjects
        .iter()
        .filter_map(|id| p.subjects.iter().find(|s| &s.id == id))
        .map(|s| json!({ "id": s.id, "name": s.name, "dpv": term("dpv:DataSubject") }))
        .collect();
    let recipients: Vec<Value> = purpose
        .recipients
        .iter()
        .filter_map(|id| p.recipient(id))
        .map(|r| {
            let third: Vec<&String> = r
                .countries
                .iter()
                .filter(|c| !EEA.contains(&c.as_str()))
                .collect();
            json!({
                "id": r.id, "name": r.name, "kind": r.kind, "dpv": term(recipient_kind(r.kind)),
                "countries": r.countries,
                "third_countries": third,
                "transfer_mechanism": r.transfer_mechanism,
                "safeguard": transfer_mechanism(&r.transfer_mechanism).map(term),
                "non_personal_only": r.non_personal_only,
            })
        })
        .collect();
    json!({
        "id": purpose.id,
        "name": purpose.name,
        "description": purpose.description,
        "purpose": opt_term(&purpose.dpv),
        "legal_basis": {
            "id": purpose.legal_basis.id(),
            "article": purpose.legal_basis.article(),
            "dpv": term(purpose.legal_basis.dpv()),
            "gdpr": term(gdpr_legal_basis(purpose.legal_basis)),
        },
        "legitimate_interest": purpose.interest,
        "data_subjects": subjects,
        "personal_data": categories,
        "recipients": recipients,
        "security_measures": p.measures_for(&purpose.id).map(|m| m.id.clone()).collect::<Vec<_>>(),
    })
}

fn retention_of(p: &Policy, category: &str) -> Vec<Value> {
    p.retention
        .iter()
        .filter(|r| r.categories.iter().any(|c| c == category))
        .map(|r| {
            json!({
                "rule": r.id,
                "anchor": r.anchor,
                "keep_for": r.keep_for,
                "in_words": format!("{} after {}", duration::words(&r.keep_for), r.anchor.label()),
                "legal_hold": r.legal_hold,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_known_prefixes_only() {
        assert_eq!(expand("dpv:Consent"), "https://w3id.org/dpv#Consent");
        assert_eq!(
            expand("pd:EmailAddress"),
            "https://w3id.org/dpv/pd#EmailAddress"
        );
        assert_eq!(
            expand("eu-gdpr:A6-1-a"),
            "https://w3id.org/dpv/legal/eu/gdpr#A6-1-a"
        );
        assert_eq!(expand("https://example.com/x"), "https://example.com/x");
        assert!(is_term("dpv:DirectMarketing") && is_term("eu-gdpr:A6-1-a"));
        assert!(!is_term("DirectMarketing") && !is_term("foo:Bar") && !is_term("dpv:"));
    }

    #[test]
    fn records_cover_every_purpose() {
        let p = crate::example();
        let records = records_of_processing(&p);
        let controllers = records["controllers"].as_array().expect("controllers");
        assert_eq!(controllers.len(), p.controllers.len());
        let activities = controllers[0]["activities"].as_array().expect("activities");
        assert_eq!(activities.len(), p.purposes.len());
        let marketing = &activities[0];
        assert_eq!(
            marketing["legal_basis"]["dpv"]["iri"],
            "https://w3id.org/dpv#Consent"
        );
        assert_eq!(marketing["purpose"]["term"], "dpv:DirectMarketing");
        let payments = activities
            .iter()
            .find(|a| a["id"] == "payments")
            .expect("payments activity");
        let third = &payments["recipients"][0]["third_countries"];
        assert_eq!(third, &json!(["US"]));
    }
}
