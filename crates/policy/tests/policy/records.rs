//! The records of processing (Art. 30(1)) in JSON, CSV and HTML: every controller with every
//! purpose, each item of Art. 30(1)(a)-(g) present, DPV identifiers in the JSON.

use custodian_policy::records::{records, Format, CSV_COLUMNS};
use custodian_policy::{example, load};

#[test]
fn json_has_each_item_of_article_30_with_dpv_identifiers() {
    let p = example();
    let json: serde_json::Value = serde_json::from_str(&records(&p, Format::Json)).expect("json");
    let controllers = json["controllers"].as_array().expect("controllers");
    assert_eq!(controllers.len(), 4);
    assert_eq!(
        controllers[0]["role"]["iri"],
        "https://w3id.org/dpv#DataController"
    );
    let activities = controllers[1]["activities"].as_array().expect("activities");
    assert_eq!(activities.len(), p.purposes.len());
    let analytics = activities
        .iter()
        .find(|a| a["id"] == "analytics")
        .expect("analytics");
    assert_eq!(
        analytics["purpose"]["iri"],
        "https://w3id.org/dpv#ServiceUsageAnalytics"
    );
    assert_eq!(analytics["legal_basis"]["gdpr"]["term"], "eu-gdpr:A6-1-a");
    assert_eq!(
        analytics["data_subjects"][0]["dpv"]["term"],
        "dpv:DataSubject"
    );
    let ga = &analytics["recipients"][0];
    assert_eq!(ga["third_countries"], serde_json::json!(["US"]));
    assert_eq!(
        ga["safeguard"]["iri"],
        "https://w3id.org/dpv/legal/eu/gdpr#A45-3"
    );
    let logs = analytics["personal_data"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "log_files"))
        .expect("log files");
    assert_eq!(logs["dpv"]["iri"], "https://w3id.org/dpv/pd#IPAddress");
    assert_eq!(logs["retention"][0]["keep_for"], "P90D");
    // Every measure protecting every purpose, plus the one for analytics only.
    assert_eq!(
        analytics["security_measures"],
        serde_json::json!([
            "encryption",
            "access_control",
            "pseudonymised_analytics",
            "staff_training"
        ])
    );
    let payments = activities
        .iter()
        .find(|a| a["id"] == "payments")
        .expect("payments");
    assert!(!payments["security_measures"]
        .as_array()
        .expect("measures")
        .contains(&serde_json::json!("pseudonymised_analytics")));
    assert_eq!(
        json["security_measures"][0]["class"]["term"],
        "dpv:TechnicalMeasure"
    );
}

#[test]
fn csv_has_one_row_per_controller_and_purpose_quoted_as_rfc_4180() {
    let p = example();
    let csv = records(&p, Format::Csv);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], CSV_COLUMNS.join(","));
    assert_eq!(lines.len(), 1 + p.controllers.len() * p.purposes.len());
    let payments = lines
        .iter()
        .find(|l| l.starts_with("Novation,GB,payments,"))
        .expect("Novation's payments row");
    assert!(payments.contains("Card payment processor: US (dpv:StandardContractualClauses)"));
    assert!(
        payments.contains("Payment data: 7 years after account closure"),
        "{payments}"
    );
    // A name with a comma and a quote is quoted, its quote doubled.
    let text = custodian_policy::EXAMPLE_POLICY
        .replace("name = \"Payments\"", "name = \"Payments, \\\"cards\\\"\"");
    let csv = records(&load("policy.toml", &text).expect("valid"), Format::Csv);
    assert!(
        csv.contains(",payments,\"Payments, \"\"cards\"\"\","),
        "{csv}"
    );
}

#[test]
fn html_escapes_what_the_file_says() {
    let text = custodian_policy::EXAMPLE_POLICY.replace(
        "name = \"Payments\"",
        "name = \"Payments <script>alert(1)</script>\"",
    );
    let p = load("policy.toml", &text).expect("valid");
    let html = records(&p, Format::Html);
    assert!(html.starts_with("<!doctype html>"));
    assert!(!html.contains("<script>"), "escaped");
    assert!(html.contains("Payments &lt;script&gt;"));
    assert_eq!(html.matches("<h2>").count(), p.controllers.len() + 1);
    assert!(html.contains("staff_training"));
}
