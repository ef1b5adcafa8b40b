//! What a loaded policy answers: notice texts and their hash, what an objection withdraws, and
//! the receipts' jurisdiction.

use custodian_policy::example;

#[test]
fn notice_text_and_hash() {
    let p = example();
    let de = p.notice_text("marketing", "de").expect("german notice");
    assert!(de.starts_with("Wir möchten"));
    assert_eq!(
        p.notice_text("marketing", "fr"),
        p.notice_text("marketing", "en")
    );
    assert_eq!(p.notice_text("account", "en"), None);
    assert_eq!(p.notice_text("nope", "en"), None);
    assert_eq!(
        custodian_policy::notice_hash("abc"),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn what_an_objection_withdraws_and_the_receipts_jurisdiction_default_as_before() {
    let mut policy = custodian_policy::example();
    let marketing: Vec<&str> = policy
        .consent_purposes()
        .filter(|p| p.is_direct_marketing())
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(marketing, ["marketing", "social_widgets"]);
    assert_eq!(policy.receipt_jurisdiction(), "EU GDPR / UK GDPR");
    assert_eq!(policy.children.purposes_allowed, ["erasure"]);

    let analytics = policy
        .purposes
        .iter_mut()
        .find(|p| p.id == "analytics")
        .unwrap();
    analytics.direct_marketing = Some(true);
    assert!(analytics.is_direct_marketing());
    policy.policy.receipt_jurisdiction = Some("UK GDPR".into());
    assert_eq!(policy.receipt_jurisdiction(), "UK GDPR");
}
