//! A node that starts from an image of consent memory (issue 17 item 4) answers as one that
//! loaded every choice from the store: what was written, withdrawn or erased after the image
//! was made is applied at start, and a damaged image is not used.

use crate::common::TestApp;
use crate::helpers::{choice, decide};
use custodian_app::consent_image::{self, ImagePlace};
use serde_json::{json, Value};

fn device(i: u32) -> Value {
    json!({ "device_id": format!("dev_{i:016x}") })
}

async fn purposes(node: &TestApp, i: u32) -> Value {
    let got = node
        .get(&format!("/v1/consent?device_id=dev_{i:016x}"), None)
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    got.body["purposes"].clone()
}

/// Every purpose listed, none with a choice on record.
fn no_choice(purposes: &Value) -> bool {
    let list = purposes.as_array().expect("a list of purposes");
    !list.is_empty() && list.iter().all(|p| p["given"].is_null())
}

async fn node_with_image(url: &str, image: &std::path::Path) -> TestApp {
    let place = ImagePlace::At(image.to_owned());
    TestApp::with(url, custodian_policy::example(), move |s| {
        s.app.consent_image = place
    })
    .await
}

async fn starts_from_its_image_and_the_ledger_after_it(url: String) {
    let dir = std::env::temp_dir().join(format!(
        "custodian-image-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("node.consent-image");
    let a = node_with_image(&url, &image).await;
    assert_eq!(a.state.app.started_from_image, None, "no image yet");
    for i in 0..40 {
        let w = a
            .post(
                "/v1/consent",
                None,
                &choice(
                    device(i),
                    json!({ "analytics": true, "advertising": i % 2 == 0 }),
                ),
            )
            .await;
        assert_eq!(w.status, 201, "{}", w.text);
    }
    assert!(consent_image::save(&a.state.app).await.unwrap());
    assert!(!a.state.app.consent_seen.moved_since_image());

    // After the image: a new device, a withdrawal, and an erasure (as a completed erasure
    // request leaves the store: the current state gone, a forgetting noted).
    let w = a
        .post(
            "/v1/consent",
            None,
            &choice(device(100), json!({ "analytics": true })),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.text);
    let w = a
        .post(
            "/v1/consent",
            None,
            &choice(device(1), json!({ "analytics": false })),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.text);
    let erased = a.state.app.hasher.reference(
        &custodian_core::subject::SubjectId::parse(
            custodian_core::subject::IdKind::DeviceId,
            &format!("dev_{:016x}", 2),
        )
        .unwrap(),
    );
    assert_eq!(
        a.store
            .delete_consent_state(&erased.to_hex())
            .await
            .unwrap(),
        2
    );

    let b = node_with_image(&url, &image).await;
    assert!(
        b.state.app.started_from_image.is_some(),
        "the image was read"
    );
    assert_eq!(
        decide(&b, device(100), "analytics", false).await["allowed"],
        true
    );
    assert_eq!(
        decide(&b, device(1), "analytics", false).await["allowed"],
        false
    );
    assert_eq!(
        decide(&b, device(2), "analytics", false).await["allowed"],
        false
    );
    assert!(
        no_choice(&purposes(&b, 2).await),
        "the erased device has no choice left"
    );
    assert_eq!(
        decide(&b, device(3), "analytics", false).await["allowed"],
        true
    );
    for i in [0, 1, 3, 17, 39, 100] {
        assert_eq!(purposes(&b, i).await, purposes(&a, i).await, "device {i}");
    }
    assert_eq!(
        b.state.app.consents.choices_held(),
        a.state.app.consents.choices_held() - 2,
        "node a still holds the erased device's two choices in memory (its erasure went \
         around it); node b does not"
    );

    // A damaged image is not used: the node loads from the store and answers the same.
    let mut bytes = std::fs::read(&image).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&image, &bytes).unwrap();
    let c = node_with_image(&url, &image).await;
    assert_eq!(
        c.state.app.started_from_image, None,
        "the damaged image was refused"
    );
    for i in [0, 1, 2, 3, 100] {
        assert_eq!(purposes(&c, i).await, purposes(&b, i).await, "device {i}");
    }
    assert_eq!(
        c.state.app.consents.choices_held(),
        b.state.app.consents.choices_held()
    );

    // A forgetting also reaches a running node in its next round.
    let before = a.state.app.consents.choices_held();
    custodian_app::consent_sync::sync_once(&a.state.app)
        .await
        .unwrap();
    assert_eq!(a.state.app.consents.choices_held(), before - 2);
    assert!(no_choice(&purposes(&a, 2).await));
    let _ = std::fs::remove_dir_all(&dir);
}

/// An image that reaches past the store's ledger (a database restored from an older backup,
/// or another database) is not used: it would bring back choices the store does not have.
#[tokio::test]
async fn an_image_ahead_of_the_store_is_not_used() {
    let url = custodian_store::testing::fresh_sqlite_url();
    let image =
        std::path::PathBuf::from(url.trim_start_matches("sqlite://")).with_file_name("ahead.img");
    let a = node_with_image(&url, &image).await;
    let w = a
        .post(
            "/v1/consent",
            None,
            &choice(device(5), json!({ "analytics": true })),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.text);
    assert!(consent_image::save(&a.state.app).await.unwrap());
    let elsewhere = custodian_store::testing::fresh_sqlite_url();
    let b = node_with_image(&elsewhere, &image).await;
    assert_eq!(b.state.app.started_from_image, None);
    assert!(no_choice(&purposes(&b, 5).await));
    assert_eq!(b.state.app.consents.subjects(), 0);
}

#[tokio::test]
async fn starts_from_its_image_on_sqlite() {
    starts_from_its_image_and_the_ledger_after_it(custodian_store::testing::fresh_sqlite_url())
        .await;
}

#[tokio::test]
async fn starts_from_its_image_on_postgres() {
    let Some(url) = custodian_store::testing::fresh_postgres_url().await else {
        return;
    };
    starts_from_its_image_and_the_ledger_after_it(url).await;
}
