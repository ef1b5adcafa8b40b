//! Whom a notice reaches, on PostgreSQL, MariaDB and SQLite: a DPO's query is one read-only
//! select (anything else refused, and a read-only transaction on the server besides), its
//! `email` and `user_id` columns read whether text or integer; user ids become addresses
//! through the tables a dataset marks with both identities.

use crate::helpers::{company_db, count};
use crate::support;
use custodian_connectors::audience::{emails_of_user_ids, query_people, read_query, Person};
use custodian_connectors::company;
use custodian_store::Store;

/// A Custodian store with the sample company registered as `company`, its customers' `id`
/// marked as their user id.
async fn registered(url: &str) -> Store {
    let store = Store::open(&support::fresh_sqlite_url()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("custodian-audience-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let dataset = company::DATASET.replacen(
        "{ name = \"id\" }",
        "{ name = \"id\", identity = \"user_id\" }",
        1,
    );
    assert_ne!(dataset, company::DATASET);
    std::fs::write(dir.join("company.toml"), dataset).unwrap();
    std::fs::write(dir.join("url"), url).unwrap();
    store
        .put_datastore(
            "company",
            dir.join("company.toml").to_str().unwrap(),
            None,
            Some(dir.join("url").to_str().unwrap()),
        )
        .await
        .unwrap();
    store
}

fn rand_suffix() -> String {
    use rand::RngCore;
    let mut b = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

async fn finds_people_read_only(url: String) {
    let db = company_db(&url, 5).await;
    let store = registered(&url).await;
    let people = query_people(
        &store,
        &[],
        "company",
        "SELECT email FROM customers WHERE id <= 2 ORDER BY id",
    )
    .await
    .unwrap();
    assert_eq!(
        people,
        [1, 2].map(|i| Person {
            email: Some(company::email(i)),
            user_id: None
        })
    );
    let both = query_people(
        &store,
        &[],
        "company",
        "select id AS user_id, email from customers order by id;",
    )
    .await
    .unwrap();
    assert_eq!(both.len(), 5);
    assert_eq!(
        both[4],
        Person {
            email: Some(company::email(5)),
            user_id: Some("5".into())
        }
    );

    for refused in [
        "DELETE FROM customers",
        "UPDATE customers SET email = 'x'",
        "SELECT email FROM customers; DELETE FROM customers",
        "",
    ] {
        assert!(read_query(refused).is_err(), "{refused}");
        assert!(
            query_people(&store, &[], "company", refused).await.is_err(),
            "{refused}"
        );
    }
    let no_column = query_people(&store, &[], "company", "SELECT full_name FROM customers").await;
    assert!(no_column
        .unwrap_err()
        .to_string()
        .contains("no column named `email` or `user_id`"));
    assert!(
        query_people(&store, &[], "nowhere", "SELECT email FROM customers")
            .await
            .is_err()
    );

    let found = emails_of_user_ids(&store, &[], &["1".into(), "3".into(), "99".into()])
        .await
        .unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found["3"], company::email(3));
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM customers").await,
        5,
        "nothing changed"
    );
}

#[tokio::test]
async fn finds_people_read_only_on_sqlite() {
    finds_people_read_only(support::fresh_company_sqlite_url()).await;
}

#[tokio::test]
async fn finds_people_read_only_on_mariadb() {
    let Some(url) = support::fresh_mysql_url().await else {
        return;
    };
    finds_people_read_only(url).await;
}

#[tokio::test]
async fn finds_people_read_only_on_postgres() {
    let Some(url) = support::fresh_postgres_url().await else {
        return;
    };
    finds_people_read_only(url.clone()).await;
    // Even a select that would write is stopped by the read-only transaction.
    if let custodian_connectors::sql::Db::Postgres(pool) =
        custodian_connectors::sql::Db::connect(&url).await.unwrap()
    {
        sqlx::query("CREATE SEQUENCE audience_seq")
            .execute(&pool)
            .await
            .unwrap();
    }
    let store = registered(&url).await;
    let err = query_people(
        &store,
        &[],
        "company",
        "SELECT email FROM customers WHERE nextval('audience_seq') > 0",
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}
