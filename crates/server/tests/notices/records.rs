//! `GET /v1/admin/records-of-processing` in each format, for the DPO only.

use crate::common::{assert_problem, TestApp};

#[tokio::test]
async fn records_of_processing_in_json_csv_and_html() {
    let app = TestApp::sqlite().await;
    assert_problem(
        &app.get("/v1/admin/records-of-processing", None).await,
        401,
        "unauthorized",
    );
    let json = app
        .get("/v1/admin/records-of-processing", Some(&app.dpo))
        .await;
    assert_eq!(json.status, 200);
    assert_eq!(json.content_type, "application/json");
    assert_eq!(
        json.body["controllers"][0]["activities"][0]["legal_basis"]["dpv"]["iri"],
        "https://w3id.org/dpv#Consent"
    );
    let csv = app
        .get("/v1/admin/records-of-processing?format=csv", Some(&app.dpo))
        .await;
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    assert!(csv
        .text
        .starts_with("controller,controller_country,purpose_id,"));
    let html = app
        .get(
            "/v1/admin/records-of-processing?format=html",
            Some(&app.admin),
        )
        .await;
    assert!(html.text.contains("Records of processing activities"));
    assert_problem(
        &app.get("/v1/admin/records-of-processing?format=xml", Some(&app.dpo))
            .await,
        422,
        "invalid_format",
    );
}
