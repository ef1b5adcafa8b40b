//! Disclosures to authorities through the API: recorded with their law and reference, the
//! people told by mail through the real SMTP sink unless withheld with a reason, the access
//! export listing what is not withheld, the public transparency report in HTML and JSON with
//! no count below the policy's minimum group, and each one in the audit trail.

use std::collections::BTreeMap;

use crate::audit::trail;
use crate::common::{assert_problem, TestApp};
use crate::env::Env;
use serde_json::{json, Value};

/// The entries of a ZIP file (stored, as Custodian writes them), read through its central
/// directory: name → bytes.
fn unzip(zip: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let u16_at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
    let u32_at = |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().unwrap()) as usize;
    let end = zip.len() - 22;
    let (count, mut at) = (u16_at(end + 10), u32_at(end + 16));
    let mut out = BTreeMap::new();
    for _ in 0..count {
        let (size, name_len) = (u32_at(at + 24), u16_at(at + 28));
        let (extra, comment, local) = (u16_at(at + 30), u16_at(at + 32), u32_at(at + 42));
        let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap();
        let data = local + 30 + u16_at(local + 26) + u16_at(local + 28);
        out.insert(name, zip[data..data + size].to_vec());
        at += 46 + name_len + extra + comment;
    }
    out
}

/// What a person's access export, downloaded by the DPO, lists as disclosures (ids).
async fn exported(app: &TestApp, request: &str) -> Vec<String> {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let res = app
        .router
        .clone()
        .oneshot(
            axum::http::Request::get(format!("/v1/admin/requests/{request}/export"))
                .header("authorization", format!("Bearer {}", app.dpo))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let files = unzip(&bytes);
    let export: Value = serde_json::from_slice(&files["export.json"]).unwrap();
    assert!(
        files.contains_key("disclosures.csv"),
        "{:?}",
        files.keys().collect::<Vec<_>>()
    );
    export["disclosures_to_authorities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

fn court(subjects: Value, at: &str) -> Value {
    json!({
        "recipient": { "name": "Westminster Magistrates' Court", "kind": "court" },
        "legal_basis": "Criminal Procedure Rules 2020, r. 47.3 (production order)",
        "reference": "WMC-2025-114",
        "categories": ["payment", "website_user"],
        "subjects": subjects,
        "disclosed_at": at,
        "notify_subject": true,
    })
}

async fn record(app: &TestApp, body: &Value) -> crate::common::Answer {
    app.post("/v1/admin/disclosures", Some(&app.dpo), body)
        .await
}

// One scenario: disclosures told and withheld, what each person's export shows, the public
// report before and after there are enough to count, and the trail.
async fn disclosures_are_told_exported_counted_and_audited(env: Env) {
    let app = &env.app;
    let ada = env.verified("access", "ada@example.com", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let greta = env
        .verified("access", "greta@example.com", json!({ "language": "de" }))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    assert_problem(
        &app.post(
            "/v1/admin/disclosures",
            Some(&app.service),
            &court(json!([]), "2025-06-01T10:00:00Z"),
        )
        .await,
        403,
        "forbidden",
    );
    let mut gagged = court(
        json!({ "emails": ["greta@example.com"] }),
        "2025-07-01T10:00:00Z",
    );
    gagged["recipient"] = json!("Metropolitan Police");
    gagged["authority_kind"] = json!("law_enforcement");
    gagged["notify_subject"] = json!(false);
    assert_problem(&record(app, &gagged).await, 422, "reason_required");
    let mut bad = court(
        json!([{ "email": "ada@example.com" }]),
        "2025-06-01T10:00:00Z",
    );
    bad["categories"] = json!(["shoe_size"]);
    assert_problem(&record(app, &bad).await, 422, "unknown_category");
    let mut bad = court(
        json!([{ "email": "ada@example.com" }]),
        "2025-06-01T10:00:00Z",
    );
    bad["recipient"]["kind"] = json!("oracle");
    assert_problem(&record(app, &bad).await, 422, "invalid_disclosure");
    assert_problem(
        &record(app, &court(json!([]), "2025-06-01T10:00:00Z")).await,
        422,
        "invalid_disclosure",
    );
    assert_problem(
        &record(
            app,
            &court(
                json!([{ "email": "ada@example.com" }]),
                "2099-01-01T00:00:00Z",
            ),
        )
        .await,
        422,
        "invalid_disclosure",
    );

    // Told: Ada gets a mail naming the court, the law and the reference.
    let told = record(
        app,
        &court(
            json!([{ "email": "ada@example.com" }]),
            "2025-06-01T10:00:00Z",
        ),
    )
    .await;
    assert_eq!(told.status, 201, "{}", told.text);
    assert_eq!(
        (
            told.body["notified"].as_u64(),
            told.body["subjects"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let told_id = told.body["id"].as_str().unwrap().to_owned();
    let mail = env.mail_to_with("ada@example.com", "disclosed").await;
    for part in [
        "Westminster Magistrates' Court",
        "r. 47.3",
        "WMC-2025-114",
        "2025-06-01",
        "dpo@focusrite.com",
    ] {
        assert!(mail.contains(part), "{part}: {mail}");
    }
    // Withheld with a reason: Greta is not told, and her export does not list it.
    gagged["reason"] =
        json!("The court's order of 30 June 2025 forbids telling the account holder.");
    let withheld = record(app, &gagged).await;
    assert_eq!(withheld.status, 201, "{}", withheld.text);
    assert_eq!(withheld.body["notified"], 0);
    let withheld_id = withheld.body["id"].as_str().unwrap().to_owned();
    let mut regulator = court(
        json!([{ "email": "greta@example.com" }, { "user_id": "u-77" }]),
        "2025-08-01T10:00:00Z",
    );
    regulator["recipient"] =
        json!({ "name": "Bundesanstalt für Finanzdienstleistungsaufsicht", "kind": "regulator" });
    regulator["reference"] = json!("BaFin-2025-9");
    let open = record(app, &regulator).await;
    assert_eq!(
        (
            open.body["notified"].as_u64(),
            open.body["unreachable"].as_u64()
        ),
        (Some(1), Some(1)),
        "{}",
        open.text
    );
    let open_id = open.body["id"].as_str().unwrap().to_owned();
    let de = env.mail_to_with("greta@example.com", "Behörde").await;
    assert!(
        de.contains("BaFin-2025-9") && de.contains("Rechtsgrundlage"),
        "in her language: {de}"
    );
    env.drain().await;
    assert!(
        !env.sink
            .received()
            .iter()
            .any(|m| m.text().unwrap_or_default().contains("Metropolitan Police")),
        "the withheld disclosure is told to no one"
    );

    assert_eq!(exported(app, &ada).await, [told_id.clone()]);
    assert_eq!(
        exported(app, &greta).await,
        [open_id.clone()],
        "not {withheld_id}"
    );

    let listed = app.get("/v1/admin/disclosures", Some(&app.dpo)).await;
    assert_eq!(
        listed.body["disclosures"].as_array().unwrap().len(),
        3,
        "{}",
        listed.text
    );
    assert!(
        !listed.text.contains('@'),
        "counts, never who: {}",
        listed.text
    );

    // Public: three disclosures in 2025, each count below 10, none shown.
    let page = app.get("/transparency", None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(
        page.text.contains("fewer than 10") && page.text.contains("Courts"),
        "{}",
        page.text
    );
    let j = app.get("/transparency?format=json", None).await;
    assert_eq!(j.body["min_group"], 10);
    let rows = j.body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r["disclosures"].is_null() && r["people"].is_null()),
        "{}",
        j.text
    );

    // Ten production orders in 2026 about twelve people: now the courts' 2026 row is shown.
    app.clock.set(crate::common::START + 12 * 3_600_000_000);
    let twelve: Vec<Value> = (0..12)
        .map(|i| json!({ "email": format!("p{i}@example.com") }))
        .collect();
    for i in 0..10 {
        let mut order = court(json!(twelve), &format!("2026-01-01T0{}:00:00Z", i % 10));
        order["notify_subject"] = json!(false);
        order["reason"] = json!("Ongoing investigation (DPA 2018 Sch. 2 para. 2).");
        order["reference"] = json!(format!("WMC-2026-{i}"));
        assert_eq!(record(app, &order).await.status, 201);
    }
    let j = app
        .call(
            axum::http::Request::get("/transparency")
                .header("accept", "application/json")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    let rows = j.body["rows"].as_array().unwrap();
    assert_eq!(
        (rows[0]["year"].as_i64(), rows[0]["authority_kind"].as_str()),
        (Some(2026), Some("court"))
    );
    assert_eq!(
        (rows[0]["disclosures"].as_u64(), rows[0]["people"].as_u64()),
        (Some(10), Some(12))
    );
    for r in rows {
        for n in [&r["disclosures"], &r["people"]] {
            assert!(
                n.is_null() || n.as_u64().unwrap() >= 10,
                "a count below the minimum group: {}",
                j.text
            );
        }
    }

    let recorded: Vec<String> = trail(app, "?action=disclosure.recorded")
        .await
        .iter()
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recorded.len(), 13);
    assert_eq!(
        recorded[0],
        "kind=court subjects=1 notified=1 unreachable=0"
    );
    assert_eq!(recorded[1], "kind=law_enforcement subjects=1 withheld");
    let text = serde_json::to_string(&trail(app, "").await).unwrap();
    assert!(
        !text.contains('@') && !text.contains("Westminster") && !text.contains("court's order"),
        "{text}"
    );
}

#[tokio::test]
async fn disclosures_are_told_exported_counted_and_audited_on_sqlite() {
    disclosures_are_told_exported_counted_and_audited(Env::new().await).await;
}

#[tokio::test]
async fn disclosures_are_told_exported_counted_and_audited_on_postgres() {
    let Some(url) = custodian_store::testing::fresh_postgres_url().await else {
        return;
    };
    disclosures_are_told_exported_counted_and_audited(Env::on(&url).await).await;
}

#[tokio::test]
async fn the_transparency_report_keeps_the_policys_own_minimum_group() {
    let mut policy = custodian_policy::example();
    policy.aggregates.min_group = 2;
    let app = TestApp::with_policy(&custodian_store::testing::fresh_sqlite_url(), policy).await;
    let mut order = court(
        json!([{ "user_id": "u-1" }, { "user_id": "u-2" }]),
        "2025-03-01T00:00:00Z",
    );
    order["notify_subject"] = json!(false);
    order["reason"] = json!("Sealed by the court.");
    for _ in 0..2 {
        assert_eq!(record(&app, &order).await.status, 201);
    }
    let j = app.get("/transparency?format=json", None).await;
    assert_eq!(j.body["min_group"], 2);
    assert_eq!(j.body["rows"][0]["disclosures"], 2, "{}", j.text);
    assert_eq!(j.body["rows"][0]["people"], 2);
}
