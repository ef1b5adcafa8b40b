//! Hostile names in a dataset inject nothing, and access works with read-only credentials.

use crate::helpers::{collect, company_dataset, company_db, count, email, no_holds};
use crate::support;
use custodian_connectors::check;
use custodian_connectors::company;
use custodian_connectors::dataset_file;
use custodian_connectors::erase::{self, Operation};
use custodian_connectors::sql::{Db, Dialect};

#[tokio::test]
async fn hostile_names_in_a_dataset_inject_nothing() {
    let url = support::fresh_company_sqlite_url();
    let db = company_db(&url, 3).await;
    let text = company::DATASET.replace(
        "name = \"newsletter_subscriptions\"",
        "name = \"newsletter_subscriptions\\\"; DROP TABLE orders; --\"",
    );
    let (ds, _) = dataset_file::parse(&text).unwrap();
    // The name is taken as one (nonexistent) table: the walk fails, and nothing is dropped.
    let problems = check::check(&db, &ds, None).await.unwrap();
    assert!(
        problems.iter().any(|p| p.contains("not in the database")),
        "{problems:?}"
    );
    let err = erase::apply(
        &db,
        &ds,
        &email(&company::email(1)),
        Operation::Erase {
            hash_key: b"k",
            holds: &no_holds,
        },
        false,
    )
    .await;
    assert!(err.is_err());
    assert_eq!(count(&db, "SELECT COUNT(*) FROM orders").await, 9);
    assert_eq!(Dialect::Postgres.quote("a\"b"), "\"a\"\"b\"");
    assert_eq!(Dialect::MySql.quote("a`b"), "`a``b`");
    // Control characters are refused outright.
    assert!(dataset_file::parse(
        &company::DATASET.replace("name = \"orders\"", "name = \"ord\\u0000ers\"")
    )
    .is_err());
}

#[tokio::test]
async fn access_works_with_read_only_credentials() {
    let Some(url) = support::fresh_postgres_url().await else {
        return;
    };
    let db = company_db(&url, 5).await;
    let role = format!("ro_{}", url.rsplit('_').next().unwrap());
    let dbname = url.rsplit('/').next().unwrap().to_owned();
    let mut s = db.sql();
    s.push(&format!(
        "CREATE ROLE {role} LOGIN; GRANT CONNECT ON DATABASE {dbname} TO {role}; GRANT USAGE ON SCHEMA public TO {role}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"
    ));
    if let Db::Postgres(pool) = &db {
        sqlx::raw_sql(&s.text).execute(pool).await.unwrap();
    }
    let (head, _) = url.split_once("://").unwrap();
    let rest = url.split_once('@').unwrap().1;
    let ro_url = format!("{head}://{role}@{rest}");
    let ro = Db::connect(&ro_url).await.unwrap();
    let ds = company_dataset();
    let records = collect(&ro, &ds, &email(&company::email(4))).await;
    assert!(records.len() >= 10);
    // Erasure needs write access: it fails cleanly, with the server's message and no URL.
    let err = erase::apply(
        &ro,
        &ds,
        &email(&company::email(4)),
        Operation::Erase {
            hash_key: b"k",
            holds: &no_holds,
        },
        false,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("permission denied"), "{err}");
    assert!(!err.contains(&ro_url));
    ro.close().await;
    if let Db::Postgres(pool) = &db {
        sqlx::raw_sql(&format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}; REVOKE ALL ON SCHEMA public FROM {role}; REVOKE ALL ON DATABASE {dbname} FROM {role}; DROP ROLE {role}"))
            .execute(pool)
            .await
            .unwrap();
    }
    db.close().await;
}
