//! Two nodes on one database: writes made elsewhere (or imported) reach each node's decisions.

use crate::common;
use crate::common::TestApp;
use crate::helpers::{choice, decide, DEVICE};
use serde_json::{json, Value};

/// Two nodes on one database: what one writes, and what an import appends behind both, reaches
/// the other's decisions after one catch-up round; an old imported opt-in never undoes a newer
/// withdrawal, in the store or in memory.
// One scenario followed end to end: two nodes on one database, a write, a withdrawal and an old
// import, an empty round, then both appending at once, each followed by a catch-up round.
async fn writes_elsewhere_reach_decisions(url: String) {
    use custodian_app::consent_sync::sync_once;
    use custodian_core::subject::{IdKind, SubjectId};
    use custodian_store::consent::NewEvent;

    let a = TestApp::on(&url).await;
    let b = TestApp::on(&url).await;
    let dev = json!({ "device_id": DEVICE });
    let written = a
        .post(
            "/v1/consent",
            None,
            &choice(dev.clone(), json!({ "analytics": true })),
        )
        .await;
    assert_eq!(written.status, 201, "{}", written.text);
    assert_eq!(
        decide(&a, dev.clone(), "analytics", false).await["allowed"],
        true
    );
    assert_eq!(
        decide(&b, dev.clone(), "analytics", false).await["allowed"],
        false,
        "node b has not caught up yet"
    );
    assert!(sync_once(&b.state).await.unwrap() >= 1);
    assert_eq!(
        decide(&b, dev.clone(), "analytics", false).await["allowed"],
        true
    );

    // Node b withdraws now; an import then appends an opt-in dated a year earlier.
    let withdrawn = b
        .post(
            "/v1/consent",
            None,
            &choice(dev.clone(), json!({ "analytics": false })),
        )
        .await;
    assert_eq!(withdrawn.status, 201, "{}", withdrawn.text);
    let subject = b
        .state
        .hasher
        .reference(&SubjectId::parse(IdKind::DeviceId, DEVICE).unwrap());
    b.store
        .append_consent(&[NewEvent {
            id: "evt_imported_old_optin".into(),
            subject,
            purpose: "analytics".into(),
            given: true,
            source: custodian_core::consent::Source::Import,
            policy_version: "2018-05-25".into(),
            notice_hash: None,
            ip_truncated: None,
            receipt_id: "rcpt_import".into(),
            created_at: common::START - 365 * 86_400_000_000,
            link: custodian_store::consent::Unlinked,
        }])
        .await
        .unwrap();
    sync_once(&a.state).await.unwrap();
    sync_once(&b.state).await.unwrap();
    for node in [&a, &b] {
        assert_eq!(
            decide(node, dev.clone(), "analytics", false).await["allowed"],
            false,
            "the newer withdrawal stands"
        );
    }
    let held = a
        .get(&format!("/v1/consent?device_id={DEVICE}"), None)
        .await;
    assert_eq!(held.status, 200, "{}", held.text);
    let analytics = held.body["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["purpose"] == "analytics")
        .unwrap();
    assert_eq!(analytics["given"], false, "{}", held.text);
    assert_eq!(analytics["source"], "banner", "{}", held.text);
    // A round with nothing new applies nothing.
    assert_eq!(sync_once(&a.state).await.unwrap(), 0);

    // Both nodes append at once (24 devices over 16 chains: chains shared); every chain stays
    // whole, and each node learns the other's writes.
    let bodies: Vec<Value> = (0..24)
        .map(|i| {
            choice(
                json!({ "device_id": format!("dev_{i:016x}") }),
                json!({ "analytics": true }),
            )
        })
        .collect();
    let writes = bodies.iter().enumerate().map(|(i, body)| {
        let node = if i % 2 == 0 { &a } else { &b };
        node.post("/v1/consent", None, body)
    });
    for w in futures_util::future::join_all(writes).await {
        assert_eq!(w.status, 201, "{}", w.text);
    }
    a.verify_ledger().await;
    sync_once(&a.state).await.unwrap();
    let from_b = json!({ "device_id": format!("dev_{:016x}", 1) });
    assert_eq!(
        decide(&a, from_b, "analytics", false).await["allowed"],
        true
    );
}

#[tokio::test]
async fn writes_elsewhere_reach_decisions_on_sqlite() {
    writes_elsewhere_reach_decisions(custodian_store::testing::fresh_sqlite_url()).await;
}

#[tokio::test]
async fn writes_elsewhere_reach_decisions_on_postgres() {
    let Some(url) = custodian_store::testing::fresh_postgres_url().await else {
        return;
    };
    writes_elsewhere_reach_decisions(url).await;
}

/// More than a page of changes over every chain (a node that was busy, or an import): one
/// round reads them all, a page at a time, and applies each once.
async fn a_round_reads_pages_across_chains(url: String) {
    use custodian_app::consent_sync::sync_once;
    use custodian_core::subject::{IdKind, SubjectId};
    use custodian_store::consent::NewEvent;

    let a = TestApp::on(&url).await;
    let b = TestApp::on(&url).await;
    let devices: Vec<String> = (0..2_500).map(|i| format!("dev_page{i:012x}")).collect();
    let events: Vec<NewEvent> = devices
        .iter()
        .enumerate()
        .map(|(i, d)| NewEvent {
            id: format!("evt_page_{i}"),
            subject: a
                .state
                .hasher
                .reference(&SubjectId::parse(IdKind::DeviceId, d).unwrap()),
            purpose: "analytics".into(),
            given: true,
            source: custodian_core::consent::Source::Import,
            policy_version: "2018-05-25".into(),
            notice_hash: None,
            ip_truncated: None,
            receipt_id: "rcpt_page".into(),
            created_at: common::START,
            link: custodian_store::consent::Unlinked,
        })
        .collect();
    a.store.append_consent(&events).await.unwrap();
    assert_eq!(sync_once(&b.state).await.unwrap(), 2_500);
    assert_eq!(sync_once(&b.state).await.unwrap(), 0, "read once");
    for d in devices.iter().step_by(97) {
        let dev = json!({ "device_id": d });
        assert_eq!(
            decide(&b, dev, "analytics", false).await["allowed"],
            true,
            "{d}"
        );
    }
}

#[tokio::test]
async fn a_round_reads_pages_across_chains_on_sqlite() {
    a_round_reads_pages_across_chains(custodian_store::testing::fresh_sqlite_url()).await;
}

#[tokio::test]
async fn a_round_reads_pages_across_chains_on_postgres() {
    let Some(url) = custodian_store::testing::fresh_postgres_url().await else {
        return;
    };
    a_round_reads_pages_across_chains(url).await;
}
