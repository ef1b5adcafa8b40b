//! The Fides sample: its files read as they are, access and erasure across its graph, and
//! Fides YAML detected after comments and document markers.

use crate::helpers::{collect, count, email, fides_dir, no_holds};
use crate::support;
use custodian_connectors::dataset_file::{self, Format};
use custodian_connectors::erase::{self, Operation};
use custodian_connectors::sql::Db;
use std::collections::BTreeSet;

#[test]
fn fides_sample_files_read_as_they_are() {
    for (file, tables) in [
        ("postgres_example_test_dataset.yml", 11),
        ("postgres_example_test_extended_dataset.yml", 1),
    ] {
        let (ds, format) = dataset_file::load(&fides_dir().join(file)).unwrap();
        assert_eq!(format, Format::Fides);
        assert_eq!(ds.tables.len(), tables, "{file}");
    }
    let (ds, _) =
        dataset_file::load(&fides_dir().join("postgres_example_test_dataset.yml")).unwrap();
    let customer = ds.table("customer").unwrap();
    assert_eq!(customer.primary_key.as_deref(), Some("id"));
    assert_eq!(
        customer.field("email").unwrap().identity.as_deref(),
        Some("email")
    );
    let login = ds
        .table("login")
        .unwrap()
        .field("customer_id")
        .unwrap()
        .reference()
        .unwrap();
    assert_eq!(
        (login.table.as_str(), login.field.as_str()),
        ("customer", "id")
    );
}

// One scenario followed end to end: the Fides sample loaded into a database, an access over its
// graph, an erasure and the rows it changed, and a second erasure that changes nothing.
#[tokio::test]
async fn fides_sample_access_and_erasure_reach_the_graph() {
    let Some(url) = support::fresh_postgres_url().await else {
        return;
    };
    let db = Db::connect(&url).await.unwrap();
    let sql = std::fs::read_to_string(fides_dir().join("postgres_sample.sql")).unwrap();
    if let Db::Postgres(pool) = &db {
        sqlx::raw_sql(&sql).execute(pool).await.unwrap();
    }
    let (ds, _) =
        dataset_file::load(&fides_dir().join("postgres_example_test_dataset.yml")).unwrap();
    let ids = email("customer-1@example.com");
    let records = collect(&db, &ds, &ids).await;
    let reached: BTreeSet<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["table"].as_str().unwrap().to_owned(),
                r["key"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("customer", "1"),
        ("address", "1"),
        ("address", "2"),
        ("orders", "ord_aaa-aaa"),
        ("orders", "ord_ccc-ccc"),
        ("orders", "ord_ddd-ddd"),
        ("payment_card", "pay_aaa-aaa"),
        ("login", "1"),
        ("login", "2"),
        ("login", "3"),
        ("login", "4"),
        ("login", "5"),
        ("login", "6"),
        ("service_request", "ser_aaa-aaa"),
        ("visit", "-"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(reached, expected);

    let report = erase::apply(
        &db,
        &ds,
        &ids,
        Operation::Erase {
            hash_key: b"k",
            holds: &no_holds,
        },
        false,
    )
    .await
    .unwrap();
    assert!(report.rows_changed() > 0);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM customer WHERE id = 1 AND email IS NULL AND name IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM address WHERE street IS NULL").await,
        2
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM login WHERE time IS NULL").await,
        6
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM payment_card WHERE ccn IS NULL").await,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM service_request WHERE alt_email IS NULL"
        )
        .await,
        4
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM customer WHERE email = 'customer-2@example.com' AND name IS NOT NULL").await, 1);
    let again = erase::apply(
        &db,
        &ds,
        &ids,
        Operation::Erase {
            hash_key: b"k",
            holds: &no_holds,
        },
        false,
    )
    .await
    .unwrap();
    assert_eq!(again.rows_changed(), 0, "{again:?}");
    db.close().await;
}

/// Fides YAML is recognised however the file begins: comments, a `%YAML` directive, the
/// `---` document marker, a comment after the key.
#[test]
fn fides_yaml_is_detected_after_comments_and_document_markers() {
    let sample =
        std::fs::read_to_string(fides_dir().join("postgres_example_test_dataset.yml")).unwrap();
    for head in [
        "---\n",
        "# Our datasets, exported from Fides\n\n---\n",
        "%YAML 1.2\n---\n# comment\n",
    ] {
        let (ds, format) = dataset_file::parse(&format!("{head}{sample}")).unwrap();
        assert_eq!(format, Format::Fides, "{head:?}");
        assert_eq!(ds.tables.len(), 11);
    }
    let commented = sample.replacen("dataset:", "dataset: # from fides", 1);
    assert_eq!(dataset_file::parse(&commented).unwrap().1, Format::Fides);
    assert!(dataset_file::is_fides("---\ndataset:\n  - fides_key: x\n"));
    assert!(!dataset_file::is_fides("name = \"company\"\n# dataset:\n"));
    assert!(!dataset_file::is_fides("---\ndatasets:\n"));
}
