//! The real binary's `policy records` and `report run`: the records of processing in each
//! form from the example policy, and the example's aggregate report read from the sample
//! company's database with its small groups suppressed.

mod support;

use std::process::{Command, Output};

use custodian_connectors::{company, sql::Db};
use support::{bin, temp_dir};

fn ok(out: Output) -> (String, String) {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn records_of_processing_in_json_csv_and_html() {
    let policy = format!("{}/../../examples/policy.toml", env!("CARGO_MANIFEST_DIR"));
    let (json, _) = ok(bin()
        .args(["policy", "records", &policy, "--format", "json"])
        .output()
        .unwrap());
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["regulation"], "GDPR Art. 30(1)");
    assert_eq!(
        json["controllers"][0]["activities"][0]["purpose"]["iri"],
        "https://w3id.org/dpv#DirectMarketing"
    );
    let (csv, _) = ok(bin()
        .args(["policy", "records", &policy, "--format", "csv"])
        .output()
        .unwrap());
    let example = custodian_policy::example();
    assert_eq!(
        csv.lines().count(),
        1 + example.controllers.len() * example.purposes.len()
    );
    assert!(csv.starts_with("controller,controller_country,purpose_id,"));
    let (html, _) = ok(bin()
        .args(["policy", "records", &policy, "--format", "html"])
        .output()
        .unwrap());
    assert!(html.contains("<h1>Records of processing activities — Focusrite Group</h1>"));
}

#[tokio::test]
async fn the_example_report_hides_small_groups() {
    let dir = temp_dir("report");
    let company_url = format!("sqlite://{}?mode=rwc", dir.join("company.db").display());
    let db = Db::connect(&company_url).await.unwrap();
    company::create_schema(&db).await.unwrap();
    company::generate(&db, 60, 0).await.unwrap();
    db.close().await;
    let dataset = format!(
        "{}/../../examples/company/company.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::write(
        dir.join("custodian.toml"),
        format!("[[datastores]]\nname = \"company\"\ndataset = \"{dataset}\"\nurl_env = \"COMPANY_DATABASE_URL\"\n"),
    )
    .unwrap();
    let cli = |args: &[&str]| -> Command {
        let mut c = bin();
        c.current_dir(&dir)
            .env_remove("CUSTODIAN_CONFIG")
            .env(
                "CUSTODIAN_DATABASE_URL",
                format!("sqlite://{}", dir.join("custodian.db").display()),
            )
            .env("COMPANY_DATABASE_URL", &company_url)
            .args(args);
        c
    };
    let (json, err) = ok(cli(&["report", "run", "product_use", "--format", "json"])
        .output()
        .unwrap());
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["keys"], serde_json::json!(["product", "country"]));
    assert_eq!(
        report["recipients"],
        serde_json::json!(["industry_partners"])
    );
    let cells = report["cells"].as_array().unwrap();
    assert!(!cells.is_empty());
    for c in cells {
        let n = c["people"].as_i64();
        assert!(n.is_none_or(|n| n >= 10), "{c}");
        assert_eq!(n.is_none(), c.get("hidden").is_some(), "{c}");
    }
    assert!(err.contains("suppressed"), "{err}");
    let (csv, _) = ok(cli(&["report", "run", "product_use"]).output().unwrap());
    assert!(
        csv.starts_with("product,country,people,suppressed\r\n"),
        "{csv}"
    );
    assert!(csv.contains("\r\ntotal,"), "{csv}");
    let out = cli(&["report", "run", "nope"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no report `nope` (it has: product_use)")
    );
}

#[test]
fn publish_takes_wording_at_once_and_a_material_change_only_with_notice() {
    let dir = temp_dir("publish");
    let cli = |args: &[&str]| -> Output {
        bin()
            .current_dir(&dir)
            .env_remove("CUSTODIAN_CONFIG")
            .env(
                "CUSTODIAN_DATABASE_URL",
                format!("sqlite://{}", dir.join("custodian.db").display()),
            )
            .args(args)
            .output()
            .unwrap()
    };
    let example = custodian_policy::EXAMPLE_POLICY;
    let wording = example
        .replacen("version = \"2018-05-25\"", "version = \"2026-01-01\"", 1)
        .replacen(
            "name = \"Website analytics\"",
            "name = \"Analytics on our sites\"",
            1,
        );
    std::fs::write(dir.join("wording.toml"), &wording).unwrap();
    let (_, err) = ok(cli(&[
        "policy",
        "publish",
        "wording.toml",
        "--effective",
        "2000-01-01T00:00:00Z",
    ]));
    assert!(err.contains("no material change"), "{err}");
    // In force at once: the records without a file are the new version's.
    let (json, _) = ok(cli(&["policy", "records"]));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["policy_version"], "2026-01-01");

    let material = wording
        .replacen("version = \"2026-01-01\"", "version = \"2026-06-01\"", 1)
        .replacen("keep_for = \"P90D\"", "keep_for = \"P1Y\"", 1);
    std::fs::write(dir.join("material.toml"), &material).unwrap();
    let out = cli(&[
        "policy",
        "publish",
        "material.toml",
        "--effective",
        "2000-01-01T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("retention.server_logs.keep_for") && err.contains("30 days of notice"),
        "{err}"
    );
    let (json, _) = ok(cli(&[
        "policy",
        "publish",
        "material.toml",
        "--effective",
        "2099-01-01T00:00:00Z",
        "--json",
    ]));
    let s: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (s["material"].as_bool(), s["follows"].as_str()),
        (Some(true), Some("2026-01-01"))
    );
}
