//! Two nodes on one PostgreSQL database, each with its listener running: a consent write, a
//! device link, its erasure and a token revocation on one node reach the other at once — by the notice its
//! commit sends, not by the once-a-second poll.

use std::time::{Duration, Instant};

use crate::common::TestApp;
use crate::helpers::{choice, decide};
use custodian_core::token::Role;
use serde_json::{json, Value};

/// The longest any one propagation may take here: under the poll's second, so a pass shows
/// that the notice woke the node (the median below is the sharper check).
const AT_MOST: Duration = Duration::from_millis(500);

/// Asks `done` every millisecond until it holds, for at most two seconds; answers how long it
/// took, or `None`.
async fn time_until<F, Fut>(mut done: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if done().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

async fn allowed(node: &TestApp, subject: &Value, purpose: &str) -> bool {
    decide(node, subject.clone(), purpose, false).await["allowed"] == true
}

// One scenario: the listeners start, twenty consent writes are timed from A to B, then a
// device link, its erasure and a revocation made on A are timed to B.
#[tokio::test]
async fn consent_links_and_revocations_reach_the_other_node_at_once() {
    let Some(url) = custodian_store::testing::fresh_postgres_url().await else {
        return;
    };
    let a = TestApp::on(&url).await;
    let b = TestApp::on(&url).await;
    let wake_a = custodian_app::wake::spawn(a.state.app.clone());
    let wake_b = custodian_app::wake::spawn(b.state.app.clone());

    // The first write also waits for the listeners to be up (the poll would bring it anyway).
    let first = json!({ "device_id": "dev_00000000000000ff" });
    let w = a
        .post(
            "/v1/consent",
            None,
            &choice(first.clone(), json!({ "analytics": true })),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.text);
    assert!(time_until(|| allowed(&b, &first, "analytics"))
        .await
        .is_some());

    let mut took = Vec::new();
    for i in 0..20 {
        let dev = json!({ "device_id": format!("dev_{i:016x}") });
        let w = a
            .post(
                "/v1/consent",
                None,
                &choice(dev.clone(), json!({ "analytics": true })),
            )
            .await;
        assert_eq!(w.status, 201, "{}", w.text);
        let t = time_until(|| allowed(&b, &dev, "analytics"))
            .await
            .unwrap_or_else(|| panic!("write {i} never reached node b"));
        took.push(t);
    }
    took.sort();
    let (median, most) = (took[took.len() / 2], took[took.len() - 1]);
    eprintln!("consent from a to b: median {median:?}, slowest {most:?}");
    assert!(median < Duration::from_millis(100), "median {median:?}");
    assert!(most < AT_MOST, "slowest {most:?}");

    // A device linked to an account on A: B carries a later choice on the device to the
    // account, without a restart.
    let device = json!({ "device_id": "dev_1111111111111111" });
    let account = json!({ "user_id": "u-77" });
    let link = json!({ "device_id": "dev_1111111111111111", "account": account });
    let linked = a.post("/v1/consent/link", Some(&a.service), &link).await;
    assert_eq!(linked.status, 200, "{}", linked.text);
    let device_ref = b.state.hasher.reference(
        &custodian_core::subject::SubjectId::parse(
            custodian_core::subject::IdKind::DeviceId,
            "dev_1111111111111111",
        )
        .unwrap(),
    );
    let t = time_until(|| async { b.state.with_links(device_ref).len() == 2 })
        .await
        .expect("node b never learned the link");
    eprintln!("link from a to b: {t:?}");
    assert!(t < AT_MOST, "{t:?}");
    let w = b
        .post(
            "/v1/consent",
            None,
            &choice(device.clone(), json!({ "marketing": true })),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.text);
    assert!(
        allowed(&b, &account, "marketing").await,
        "the account follows its device on b"
    );
    assert!(time_until(|| allowed(&a, &account, "marketing"))
        .await
        .is_some());

    // The account declared a child on A: its consent and links go (the device is no longer
    // carried to it), on B too.
    let declared = a
        .post(
            "/v1/subjects/events",
            Some(&a.service),
            &json!({ "subject": account, "event": "age_declared", "under_minimum_age": true,
                "at": custodian_core::clock::rfc3339(crate::common::START) }),
        )
        .await;
    assert_eq!(declared.status, 201, "{}", declared.text);
    let t = time_until(|| async { b.state.with_links(device_ref).len() == 1 })
        .await
        .expect("node b kept the erased link");
    eprintln!("erased link from a to b: {t:?}");
    assert!(t < AT_MOST, "{t:?}");

    // A token B has verified (and caches for 30 s of a clock that does not move here) is
    // revoked on A: B refuses it at once.
    let (rec, secret) = custodian_app::tokens::create(&a.state.app, "short-lived", Role::Service)
        .await
        .unwrap();
    let body = json!({ "subject": first, "purpose": "analytics", "country": "DE" }).to_string();
    let ask = || b.post_raw("/v1/decide", Some(&secret), body.clone(), &[]);
    assert_eq!(ask().await.status, 200);
    assert!(custodian_app::tokens::revoke(&a.state.app, &rec.id)
        .await
        .unwrap());
    let t = time_until(|| async { ask().await.status == 401 })
        .await
        .expect("node b still trusts the revoked token");
    eprintln!("revocation from a to b: {t:?}");
    assert!(t < AT_MOST, "{t:?}");

    wake_a.stop();
    wake_b.stop();
}
