//! The seed policy's promises, asked of the decision engine with the bundled example policy.

use std::collections::HashMap;

use custodian_core::decide::{
    ConsentLookup, ConsentStatus, DecisionError, DecisionInput, Engine, NoConsents,
};
use custodian_core::subject::{IdKind, SubjectHasher, SubjectId, SubjectRef};

fn engine() -> Engine {
    Engine::compile(&custodian_policy::example()).expect("example compiles")
}

fn subject(email: &str) -> SubjectRef {
    SubjectHasher::new(b"test").reference(&SubjectId::parse(IdKind::Email, email).unwrap())
}

fn ask<'a>(purpose: &'a str, categories: &'a [String], country: &'a str) -> DecisionInput<'a> {
    DecisionInput {
        subject: subject("ada@example.com"),
        purpose,
        categories,
        country,
        recipient: None,
        gpc: false,
        group_size: None,
    }
}

fn cats(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// Consent given or withdrawn per (subject, slot), as the ledger's state would hold it.
#[derive(Default)]
struct Given(HashMap<(SubjectRef, usize), bool>);

impl ConsentLookup for Given {
    fn status(&self, s: &SubjectRef, slot: usize) -> ConsentStatus {
        match self.0.get(&(*s, slot)) {
            Some(true) => ConsentStatus::Given,
            Some(false) => ConsentStatus::Withdrawn,
            None => ConsentStatus::Unknown,
        }
    }
}

#[test]
fn marketing_without_consent_is_refused() {
    let e = engine();
    let c = cats(&["website_user"]);
    let d = e.decide(&ask("marketing", &c, "GB"), &NoConsents).unwrap();
    assert!(!d.allowed);
    assert_eq!(&*d.reason, "no consent on record");
    assert_eq!(d.legal_basis, Some(custodian_policy::LegalBasis::Consent));
}

#[test]
fn service_email_rests_on_the_contract() {
    let e = engine();
    let c = cats(&["website_user", "product_registration"]);
    let d = e
        .decide(&ask("service_email", &c, "US"), &NoConsents)
        .unwrap();
    assert!(d.allowed, "{d:?}");
    assert_eq!(d.legal_basis, Some(custodian_policy::LegalBasis::Contract));
    assert!(d.obligations.is_empty(), "no region rules outside Europe");
}

#[test]
fn analytics_in_germany_with_consent_carries_european_obligations() {
    let e = engine();
    let mut given = Given::default();
    let slot = e.consent_slot("analytics").unwrap();
    given.0.insert((subject("ada@example.com"), slot), true);
    let c = cats(&["analytics_events", "keystrokes", "website_background"]);
    let d = e.decide(&ask("analytics", &c, "de"), &given).unwrap();
    assert!(d.allowed, "{d:?}");
    let ids: Vec<_> = d.obligations.iter().map(|o| o.id).collect();
    assert_eq!(ids, ["truncate_ip", "drop_categories", "keep_in_region"]);
    assert_eq!(d.obligations[1].categories, ["keystrokes"]);

    // Withdrawal wins at once; and another subject has no consent.
    given.0.insert((subject("ada@example.com"), slot), false);
    let d = e.decide(&ask("analytics", &c, "DE"), &given).unwrap();
    assert!(!d.allowed);
    assert_eq!(&*d.reason, "consent withdrawn");
}

#[test]
fn personal_data_to_a_third_party_is_refused_in_europe_only() {
    let e = engine();
    let mut given = Given::default();
    given.0.insert(
        (
            subject("ada@example.com"),
            e.consent_slot("advertising").unwrap(),
        ),
        true,
    );
    let c = cats(&["website_background"]);
    let mut q = ask("advertising", &c, "FR");
    q.recipient = Some("advertising_partners");
    let d = e.decide(&q, &given).unwrap();
    assert!(!d.allowed);
    assert_eq!(
        &*d.rule,
        "regions.europe.rules.no_third_party_personal_data"
    );
    q.country = "US";
    assert!(e.decide(&q, &given).unwrap().allowed);
}

#[test]
fn european_data_stays_in_europe() {
    let e = engine();
    let c = cats(&["website_user"]);
    let mut q = ask("account", &c, "IE");
    q.recipient = Some("hosting_us");
    let d = e.decide(&q, &NoConsents).unwrap();
    assert!(!d.allowed);
    assert_eq!(&*d.rule, "regions.europe.rules.residency");
    q.recipient = Some("hosting_eu");
    assert!(e.decide(&q, &NoConsents).unwrap().allowed);
}

#[test]
fn selling_is_never_allowed() {
    let e = engine();
    for country in ["US", "DE", "JP"] {
        let d = e.decide(&ask("sale", &[], country), &NoConsents).unwrap();
        assert!(!d.allowed);
        assert_eq!(d.legal_basis, None);
        assert_eq!(&*d.rule, "prohibited.sale");
    }
}

#[test]
fn gpc_opts_out_of_advertising_even_with_consent() {
    let e = engine();
    let mut given = Given::default();
    given.0.insert(
        (
            subject("ada@example.com"),
            e.consent_slot("advertising").unwrap(),
        ),
        true,
    );
    let mut q = ask("advertising", &[], "US");
    q.gpc = true;
    let d = e.decide(&q, &given).unwrap();
    assert!(!d.allowed);
    assert!(d.reason.contains("Global Privacy Control"));
}

#[test]
fn categories_outside_the_purpose_are_refused() {
    let e = engine();
    let c = cats(&["payment"]);
    let d = e
        .decide(&ask("service_email", &c, "US"), &NoConsents)
        .unwrap();
    assert!(!d.allowed);
    assert!(d.reason.contains("payment"));
}

#[test]
fn non_personal_aggregates_may_go_to_third_parties() {
    let e = engine();
    let c = cats(&["aggregate_usage"]);
    let mut q = ask("aggregate_sharing", &c, "DE");
    q.recipient = Some("industry_partners");
    // "only aggregates of at least 10 people are shared": `min_group = 10` keeps the promise.
    let d = e.decide(&q, &NoConsents).unwrap();
    assert!(!d.allowed);
    assert_eq!(&*d.rule, "purposes.aggregate_sharing.min_group");
    q.group_size = Some(9);
    assert!(!e.decide(&q, &NoConsents).unwrap().allowed);
    q.group_size = Some(10);
    assert!(e.decide(&q, &NoConsents).unwrap().allowed);
}

/// A subject's standing, as `ConsentLookup::standing` reports it from memory.
struct Standing(custodian_core::standing::Standing);

impl ConsentLookup for Standing {
    fn status(&self, _: &SubjectRef, _: usize) -> ConsentStatus {
        ConsentStatus::Given
    }
    fn standing(&self, _: &SubjectRef) -> custodian_core::standing::Standing {
        self.0
    }
}

#[test]
fn restriction_objection_and_a_closed_account_refuse_what_they_reach() {
    use custodian_core::standing::Standing as S;
    let e = engine();
    let none: [String; 0] = [];
    let decide =
        |purpose: &str, st: S| e.decide(&ask(purpose, &none, "GB"), &Standing(st)).unwrap();
    let restricted = S {
        restricted: true,
        ..S::default()
    };
    for purpose in ["service_email", "marketing", "support", "legal_compliance"] {
        let d = decide(purpose, restricted);
        assert!(!d.allowed, "{purpose}");
        assert_eq!((&*d.reason, &*d.rule), ("restricted", "rights.restriction"));
    }
    assert!(decide("storage", restricted).allowed);
    assert!(decide("legal_claims", restricted).allowed);
    let slot = e.objection_slot("product_improvement").unwrap();
    let objected = S {
        objected: 1 << slot,
        ..S::default()
    };
    assert_eq!(
        &*decide("product_improvement", objected).reason,
        "objection"
    );
    assert!(decide("support", objected).allowed);
    assert_eq!(e.objection_slot("legal_compliance"), None);
    let closed = S {
        account_closed: true,
        ..S::default()
    };
    for purpose in [
        "service_email",
        "account",
        "payments",
        "newsletter",
        "recruitment",
    ] {
        assert_eq!(
            &*decide(purpose, closed).reason,
            "account_closed",
            "{purpose}"
        );
    }
    assert!(decide("legal_compliance", closed).allowed);
    assert!(decide("support", closed).allowed);
}

#[test]
fn unknown_inputs_are_errors_that_name_what_is_known() {
    let e = engine();
    match e.decide(&ask("spam", &[], "US"), &NoConsents) {
        Err(DecisionError::UnknownPurpose { known, .. }) => {
            assert!(known.contains(&"marketing".to_string()))
        }
        other => panic!("{other:?}"),
    }
    let c = cats(&["shoe_size"]);
    assert!(matches!(
        e.decide(&ask("analytics", &c, "US"), &NoConsents),
        Err(DecisionError::UnknownCategory { .. })
    ));
    for bad in ["XX", "", "DEU", "ü"] {
        assert!(matches!(
            e.decide(&ask("analytics", &[], bad), &NoConsents),
            Err(DecisionError::UnknownCountry { .. })
        ));
    }
    let mut q = ask("analytics", &[], "US");
    q.recipient = Some("nobody");
    assert!(matches!(
        e.decide(&q, &NoConsents),
        Err(DecisionError::UnknownRecipient { .. })
    ));
}

#[test]
fn the_three_banner_purposes_are_consent_purposes() {
    let e = engine();
    for id in ["marketing", "analytics", "advertising"] {
        assert!(e.consent_slot(id).is_some(), "{id}");
    }
    assert!(e.consent_slot("service_email").is_none());
}

/// Every subject is under the minimum age.
struct Minor;

impl ConsentLookup for Minor {
    fn status(&self, _: &SubjectRef, _: usize) -> ConsentStatus {
        ConsentStatus::Given
    }
    fn under_minimum_age(&self, _: &SubjectRef) -> bool {
        true
    }
}

#[test]
fn a_minor_gets_only_the_purposes_the_policy_still_allows_them() {
    let mut policy = custodian_policy::example();
    let cats = cats(&["website_user"]);
    let refused = Engine::compile(&policy)
        .unwrap()
        .decide(&ask("service_email", &cats, "DE"), &Minor)
        .unwrap();
    assert!(!refused.allowed);
    assert_eq!(&*refused.rule, "children.minimum_age");
    policy.children.purposes_allowed = vec!["service_email".into()];
    let allowed = Engine::compile(&policy)
        .unwrap()
        .decide(&ask("service_email", &cats, "DE"), &Minor)
        .unwrap();
    assert_ne!(&*allowed.rule, "children.minimum_age");
}
