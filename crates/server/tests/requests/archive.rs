//! The access archive of a subject with thousands of rows in the company's datastore, through
//! the route: a complete ZIP whose manifest hashes what is inside, the company's records the
//! same in `export.json` and in the CSVs, the length announced before the body, and the same
//! bytes on a second download.

use crate::common;
use crate::env::Env;
use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use tower::ServiceExt;

/// The entries of a ZIP file, read through its central directory: name → bytes.
fn unzip(zip: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let u16_at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
    let u32_at = |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().unwrap()) as usize;
    let end = zip.len() - 22;
    assert_eq!(u32_at(end), 0x0605_4b50, "end of central directory");
    let (count, mut at) = (u16_at(end + 10), u32_at(end + 16));
    let mut out = BTreeMap::new();
    for _ in 0..count {
        assert_eq!(u32_at(at), 0x0201_4b50);
        let (size, name_len) = (u32_at(at + 24), u16_at(at + 28));
        let (extra, comment, local) = (u16_at(at + 30), u16_at(at + 32), u32_at(at + 42));
        let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap();
        assert_eq!(u32_at(local), 0x0403_4b50, "{name}: local header");
        let data = local + 30 + u16_at(local + 26) + u16_at(local + 28);
        out.insert(name, zip[data..data + size].to_vec());
        at += 46 + name_len + extra + comment;
    }
    out
}

// One scenario: the large archive is built once and each property is read off it; split up,
// each part would generate the company and take the request again.
#[tokio::test]
async fn a_large_archive_is_complete_and_hashed() {
    let env = Env::new().await;
    let app = &env.app;
    let db = common::company_datastore(app, "archive", "CUSTODIAN_TEST_COMPANY_URL_ARCHIVE").await;
    // Customer 1 gets 5,000 more orders: a payment record each.
    let mut s = db.sql();
    s.push(
        "INSERT INTO orders (id, account_id, shipping_name, shipping_address, total) \
         WITH RECURSIVE n(i) AS (SELECT 1000 UNION ALL SELECT i + 1 FROM n WHERE i < 5999) \
         SELECT i, 1, 'Customer 1', '1 Example Street', 5 FROM n",
    );
    let mut tx = db.begin().await.unwrap();
    assert_eq!(tx.execute(&s).await.unwrap(), 5000);
    tx.commit().await.unwrap();

    let access = env
        .verified("access", "customer-1@example.com", json!({}))
        .await;
    assert_eq!(access["status"], "completed", "{access}");
    let download = || async {
        let req = Request::get(format!(
            "/v1/admin/requests/{}/export",
            access["id"].as_str().unwrap()
        ))
        .header(header::AUTHORIZATION, format!("Bearer {}", app.dpo))
        .body(Body::empty())
        .unwrap();
        let res = app.router.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), 200);
        let length: usize = res.headers()[header::CONTENT_LENGTH]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        assert_eq!(
            length,
            bytes.len(),
            "Content-Length is the archive's length"
        );
        bytes
    };
    let zip = download().await;
    assert_eq!(zip, download().await, "the same bytes every time");

    let files = unzip(&zip);
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), files.len() - 1, "every file but the manifest");
    for f in listed {
        let data = &files[f["file"].as_str().unwrap()];
        assert_eq!(f["bytes"], data.len());
        assert_eq!(
            f["sha256"],
            hex::encode(Sha256::digest(data)),
            "{}",
            f["file"]
        );
    }

    let export: Value = serde_json::from_slice(&files["export.json"]).unwrap();
    assert!(export["consents"].is_array() && export["requests"].is_array());
    let company = export["company_data"].as_array().unwrap();
    let csv_rows: usize = files
        .iter()
        .filter(|(name, _)| name.starts_with("company_"))
        .map(|(_, data)| String::from_utf8_lossy(data).matches("\r\n").count() - 1)
        .sum();
    assert_eq!(company.len(), csv_rows, "the same records in JSON and CSV");
    let payment = company
        .iter()
        .filter(|r| r["category"] == "payment")
        .count();
    assert!(payment >= 5003, "every order of customer 1: {payment}");
    let orders = String::from_utf8_lossy(&files["company_payment.csv"]).into_owned();
    assert!(orders.contains("orders,5999,"), "the last order is there");
    assert!(
        !String::from_utf8_lossy(&zip).contains("customer-2@example.com"),
        "nobody else's"
    );

    // Where the machine has unzip (CI's has), it agrees the archive is sound.
    if std::process::Command::new("unzip")
        .arg("-v")
        .output()
        .is_ok()
    {
        let path =
            std::env::temp_dir().join(format!("custodian-archive-{}.zip", std::process::id()));
        std::fs::write(&path, &zip).unwrap();
        let out = std::process::Command::new("unzip")
            .arg("-t")
            .arg(&path)
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
