//! A policy's aggregate report read from a registered datastore on SQLite, PostgreSQL and
//! MariaDB: the rows as group keys and counts of people, in a read-only transaction that
//! refuses a statement that writes, with the connection URL never in an error.

use crate::helpers::{rand_suffix, write_dataset};
use crate::support;
use custodian_connectors::report;
use custodian_connectors::sql::Db;
use custodian_core::aggregate::suppress;
use custodian_store::Store;

/// Registrations: product `a` in GB by 25 people and in DE by 3; `b` in GB by 12 and in DE by
/// 40 (one person registering twice counts once).
async fn seed(db: &Db) {
    let mut s = db.sql();
    s.push("CREATE TABLE registrations (customer_id INTEGER NOT NULL, product VARCHAR(20) NOT NULL, country VARCHAR(2) NOT NULL)");
    let mut tx = db.begin().await.unwrap();
    tx.execute(&s).await.unwrap();
    let mut id = 0;
    for (product, country, people) in [
        ("a", "GB", 25),
        ("a", "DE", 3),
        ("b", "GB", 12),
        ("b", "DE", 40),
    ] {
        for _ in 0..people {
            id += 1;
            for _ in 0..2 {
                let mut s = db.sql();
                s.push(&format!(
                    "INSERT INTO registrations (customer_id, product, country) VALUES ({id}, '{product}', '{country}')"
                ));
                tx.execute(&s).await.unwrap();
            }
        }
    }
    tx.commit().await.unwrap();
}

const QUERY: &str = "select product, country, count(distinct customer_id) as people from registrations group by product, country order by product, country";

async fn scenario(url: &str) {
    let db = Db::connect(url).await.unwrap();
    seed(&db).await;
    db.close().await;
    let store = Store::open(&support::fresh_sqlite_url()).await.unwrap();
    let url_file = std::env::temp_dir().join(format!("custodian-report-url-{}", rand_suffix()));
    std::fs::write(&url_file, url).unwrap();
    let dataset = write_dataset("name = \"product_db\"\n[[tables]]\nname = \"registrations\"\nfields = [{ name = \"customer_id\", identity = \"user_id\" }]\n");
    store
        .put_datastore(
            "product_db",
            dataset.to_str().unwrap(),
            None,
            url_file.to_str(),
        )
        .await
        .unwrap();

    let rows = report::run(&store, &[], "product_db", QUERY, "people")
        .await
        .unwrap();
    assert_eq!(rows.keys, ["product", "country"]);
    let counts: Vec<i64> = rows.groups.iter().map(|g| g.1).collect();
    assert_eq!(counts, [3, 25, 40, 12]);
    assert_eq!(
        rows.groups[0].0,
        [Some("a".to_owned()), Some("DE".to_owned())]
    );
    let s = suppress(rows.groups, 10);
    assert_eq!((s.primary, s.secondary, s.total), (1, 1, Some(80)));
    assert_eq!(
        s.cells[3].people, None,
        "b/GB (12) hidden to protect a/DE (3)"
    );

    // A statement that writes is refused by the read-only transaction.
    let err = report::run(
        &store,
        &[],
        "product_db",
        "delete from registrations",
        "people",
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(!err.contains(url), "{err}");
    let db = Db::connect(url).await.unwrap();
    let mut count = db.sql();
    count.push(&format!(
        "SELECT {} FROM registrations",
        db.dialect().as_text("COUNT(*)")
    ));
    assert_eq!(
        db.text_rows(&count).await.unwrap()[0][0].as_deref(),
        Some("160")
    );
    db.close().await;

    let missing = report::run(&store, &[], "product_db", QUERY, "persons")
        .await
        .unwrap_err();
    assert!(
        missing.to_string().contains("no column `persons`"),
        "{missing}"
    );
    let unknown = report::run(&store, &[], "nowhere", QUERY, "people")
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("nowhere"), "{unknown}");
}

#[tokio::test]
async fn report_on_sqlite() {
    scenario(&support::fresh_company_sqlite_url()).await;
}

#[tokio::test]
async fn report_on_postgres() {
    if let Some(url) = support::fresh_postgres_url().await {
        scenario(&url).await;
    }
}

#[tokio::test]
async fn report_on_mariadb() {
    if let Some(url) = support::fresh_mysql_url().await {
        scenario(&url).await;
    }
}
