//! The shop of issue 16 on PostgreSQL and MariaDB: a NOT NULL, UNIQUE `serial_number` too
//! short for a keyed hash. Fides YAML without a policy gets strategies its columns can take
//! (and `dataset check` shows them); a policy that writes null there, a constant into the
//! UNIQUE column or a hash longer than a column is refused at registration with every problem
//! listed, unless forced; an unreachable database is a warning; a changed dataset is checked
//! again at start-up.

use crate::fides_policy::{policy_dir, temp_file};
use crate::helpers::{count, email, no_holds, rand_suffix};
use crate::support;
use custodian_connectors::check;
use custodian_connectors::dataset_file;
use custodian_connectors::erase::{self, Operation};
use custodian_connectors::registration::{self, Live};
use custodian_connectors::sql::Db;
use custodian_connectors::ConnectorError;
use custodian_store::runs::DatastoreRecord;
use custodian_store::Store;

/// The shop's schema and five customers, each with two registrations.
async fn shop(url: &str) -> Db {
    let db = Db::connect(url).await.unwrap();
    let schema = std::fs::read_to_string(policy_dir().join("shop_schema.sql")).unwrap();
    let mut tx = db.begin().await.unwrap();
    for stmt in schema.split(';') {
        let body: String = stmt
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        if !body.trim().is_empty() {
            let mut s = db.sql();
            s.push(&body);
            tx.execute(&s).await.unwrap();
        }
    }
    for i in 1..=5i64 {
        let mut s = db.sql();
        s.push(&format!(
            "INSERT INTO customers (id, email, full_name, phone) VALUES ({i}, 'shopper-{i}@example.com', 'Shopper {i}', '+4470000000{i}')"
        ));
        tx.execute(&s).await.unwrap();
        for k in 0..2 {
            let id = i * 10 + k;
            let mut s = db.sql();
            s.push(&format!(
                "INSERT INTO product_registrations (id, customer_id, product, serial_number, device_label) VALUES ({id}, {i}, 'Scarlett 2i2', 'SN{id:09}', 'Studio of shopper {i}')"
            ));
            tx.execute(&s).await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    db
}

fn dataset() -> std::path::PathBuf {
    policy_dir().join("shop_dataset.yml")
}

/// Custodian's own choices on the shop: checked, shown, and an erasure that succeeds.
async fn auto_choices_fit(db: &Db) {
    let (ds, _) = dataset_file::load(&dataset()).unwrap();
    let report = check::report(db, &ds, None).await.unwrap();
    let relevant: Vec<&String> = report
        .problems
        .iter()
        .filter(|p| !p.contains("foreign key"))
        .collect();
    assert!(relevant.is_empty(), "{relevant:?}");
    let choices = report.choices.join("\n");
    for expected in [
        "customers.email: Custodian erases it with a keyed hash (the column is NOT NULL)",
        "customers.full_name: Custodian erases it with null (the column is nullable)",
        "product_registrations.serial_number: Custodian erases it with a random rewrite of 20 characters (the column is NOT NULL and UNIQUE and holds 20)",
        "product_registrations.device_label: Custodian erases it with a keyed hash (the column is NOT NULL)",
    ] {
        assert!(choices.contains(expected), "{expected}\n--\n{choices}");
    }
    let op = || Operation::Erase {
        hash_key: b"k",
        holds: &no_holds,
    };
    let report = erase::apply(db, &ds, &email("shopper-2@example.com"), op(), false)
        .await
        .unwrap();
    assert!(report.rows_changed() >= 6, "{report:?}");
    let rewritten = "SELECT COUNT(*) FROM product_registrations WHERE customer_id = 2 AND serial_number NOT LIKE 'SN%' AND LENGTH(serial_number) = 20 AND device_label LIKE 'h1:%'";
    assert_eq!(count(db, rewritten).await, 2);
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM customers WHERE id = 2 AND email LIKE 'h1:%' AND full_name IS NULL AND phone IS NULL").await,
        1
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM product_registrations WHERE serial_number LIKE 'SN%'"
        )
        .await,
        8,
        "the other shoppers keep theirs"
    );
    // Erasing another shopper writes other random values into the UNIQUE column.
    erase::apply(db, &ds, &email("shopper-3@example.com"), op(), false)
        .await
        .unwrap();
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM product_registrations WHERE serial_number NOT LIKE 'SN%'"
        )
        .await,
        4
    );
}

/// Policies whose strategies the shop's columns cannot take: every problem, at once.
async fn unfit_policies_are_listed(db: &Db) {
    let (nulls, _) = dataset_file::load_with(
        &dataset(),
        Some(&policy_dir().join("shop_null_policy.json")),
    )
    .unwrap();
    let p = check::check(db, &nulls, None).await.unwrap().join("\n");
    for expected in [
        "customers.email: erase = \"null\" but the column is NOT NULL",
        "product_registrations.serial_number: erase = \"null\" but the column is NOT NULL",
        "product_registrations.device_label: erase = \"null\" but the column is NOT NULL",
    ] {
        assert!(p.contains(expected), "{expected}\n--\n{p}");
    }
    let odd = temp_file(
        "odd.json",
        r#"{"key": "odd", "rules": [
          {"key": "same_serial", "action_type": "erasure", "masking_strategy": {"strategy": "string_rewrite", "configuration": {"rewrite_value": "gone"}}, "targets": [{"data_category": "user.device.device_id"}]},
          {"key": "long_labels", "action_type": "erasure", "masking_strategy": {"strategy": "hash", "configuration": {"algorithm": "SHA-512"}}, "targets": [{"data_category": "user.device"}]}]}"#,
    );
    let (odd, _) = dataset_file::load_with(&dataset(), Some(&odd)).unwrap();
    let p = check::check(db, &odd, None).await.unwrap().join("\n");
    assert!(p.contains("product_registrations.serial_number: erase = \"rewrite\" writes the same value into every erased row but the column is UNIQUE"), "{p}");
    assert!(p.contains("product_registrations.device_label: erase = \"digest\" writes 128 characters but the column holds 100"), "{p}");
    // A Custodian dataset naming another key than the table's: its PRIMARY KEY rewritten.
    let toml = temp_file(
        "shop.toml",
        r#"name = "shop"
[[tables]]
name = "customers"
primary_key = "email"
fields = [
  { name = "email", identity = "email" },
  { name = "id", category = "website_user", erase = "random" },
]
"#,
    );
    let (ds, _) = dataset_file::load(&toml).unwrap();
    let p = check::check(db, &ds, None).await.unwrap().join("\n");
    assert!(
        p.contains("customers.id: erase = \"random\" writes text but the column is bigint"),
        "{p}"
    );
    assert!(
        p.contains("customers.id: erase = \"random\" would rewrite the table's PRIMARY KEY"),
        "{p}"
    );
}

/// The masking policy fits, and its erasure writes what each rule says.
async fn masking_policy_erases(db: &Db) {
    let (ds, _) = dataset_file::load_with(
        &dataset(),
        Some(&policy_dir().join("shop_masking_policy.json")),
    )
    .unwrap();
    let p = check::check(db, &ds, None).await.unwrap();
    assert!(!p.iter().any(|m| m.contains("erase =")), "{p:?}");
    let op = Operation::Erase {
        hash_key: b"k",
        holds: &no_holds,
    };
    erase::apply(db, &ds, &email("shopper-4@example.com"), op, false)
        .await
        .unwrap();
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM product_registrations WHERE customer_id = 4 AND LENGTH(serial_number) = 16 AND device_label = 'erased device'").await,
        2
    );
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM customers WHERE id = 4 AND LENGTH(email) = 64 AND full_name IS NULL").await,
        1
    );
}

#[tokio::test]
async fn the_not_null_serial_number_on_postgres() {
    let Some(url) = support::fresh_postgres_url().await else {
        return;
    };
    let db = shop(&url).await;
    auto_choices_fit(&db).await;
    unfit_policies_are_listed(&db).await;
    masking_policy_erases(&db).await;
    db.close().await;
}

#[tokio::test]
async fn the_not_null_serial_number_on_mariadb() {
    let Some(url) = support::fresh_mysql_url().await else {
        return;
    };
    let db = shop(&url).await;
    auto_choices_fit(&db).await;
    unfit_policies_are_listed(&db).await;
    masking_policy_erases(&db).await;
    db.close().await;
}

// One registration followed through its cases: refused with every problem, forced, unreachable
// (a warning, checked again later), and a changed dataset checked again at start-up.
#[tokio::test]
async fn registration_checks_against_the_live_database() {
    let Some(url) = support::fresh_postgres_url().await else {
        return;
    };
    let db = shop(&url).await;
    let store = Store::open(&support::fresh_sqlite_url()).await.unwrap();
    let var = format!("SHOP_URL_{}", rand_suffix());
    std::env::set_var(&var, &url);
    let dataset_copy = temp_file("shop.yml", &std::fs::read_to_string(dataset()).unwrap());
    let reg = |policy: Option<&str>, env: &str| DatastoreRecord {
        name: "shop".into(),
        dataset_path: dataset_copy.display().to_string(),
        url_env: Some(env.to_owned()),
        url_file: None,
        fides_policy: policy.map(|p| policy_dir().join(p).display().to_string()),
        created_at: 0,
    };
    let nulls = reg(Some("shop_null_policy.json"), &var);
    match registration::register(&store, &nulls, false).await {
        Err(ConnectorError::Refused { problems, .. }) => {
            assert_eq!(
                problems.iter().filter(|p| p.contains("NOT NULL")).count(),
                3,
                "{problems:?}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        store.datastores().await.unwrap().is_empty(),
        "nothing registered"
    );
    // Forced: registered, its problems recorded as accepted.
    let forced = registration::register(&store, &nulls, true).await.unwrap();
    assert_eq!(forced.problems().len(), 3);
    let listed = store.datastores().await.unwrap();
    assert_eq!(listed[0].fides_policy, nulls.fides_policy);
    let (digest, was_forced) = store.dataset_check("shop").await.unwrap().unwrap();
    assert!(was_forced);
    // Unchanged: nothing to check at start-up.
    assert!(
        registration::check_changed(&store, &[(nulls.clone(), false)])
            .await
            .unwrap()
            .is_empty()
    );
    // The masking policy fits: a clean registration replaces the forced one.
    let masking = reg(Some("shop_masking_policy.json"), &var);
    let clean = registration::register(&store, &masking, false)
        .await
        .unwrap();
    assert!(
        matches!(clean.live, Live::Checked(ref r) if r.problems.iter().all(|p| p.contains("foreign key"))),
        "{:?}",
        clean.live
    );
    let (masked_digest, _) = store.dataset_check("shop").await.unwrap().unwrap();
    assert_ne!(masked_digest, digest);

    // An unreachable database: registered with a warning, and no check recorded.
    let down = format!("SHOP_DOWN_{}", rand_suffix());
    std::env::set_var(&down, "postgres://postgres@127.0.0.1:1/nowhere");
    let unreachable = registration::register(&store, &reg(None, &down), false)
        .await
        .unwrap();
    assert!(
        matches!(unreachable.live, Live::Unreachable(_)),
        "{:?}",
        unreachable.live
    );
    assert_eq!(store.dataset_check("shop").await.unwrap(), None);
    // At start-up it is checked again: still down, a warning, never a pass.
    let warnings = registration::check_changed(&store, &[(reg(None, &down), false)])
        .await
        .unwrap();
    assert!(warnings[0].contains("could not be checked"), "{warnings:?}");
    assert_eq!(store.dataset_check("shop").await.unwrap(), None);
    // Up again, with the null policy the start is refused; forced (config `force = true`) it starts.
    let refused = registration::check_changed(&store, &[(nulls.clone(), false)]).await;
    assert!(
        matches!(refused, Err(ConnectorError::Refused { ref problems, .. }) if problems.len() == 3),
        "{refused:?}"
    );
    let warned = registration::check_changed(&store, &[(nulls.clone(), true)])
        .await
        .unwrap();
    assert_eq!(warned.len(), 3, "{warned:?}");
    // The dataset file changes (a cycle): the start is refused with the file's problem.
    let mut text = std::fs::read_to_string(&dataset_copy).unwrap();
    text = text.replace(
        "          - name: id\n            data_categories: [user.unique_id]\n            fides_meta:\n              primary_key: true\n              data_type: integer\n",
        "          - name: id\n            data_categories: [user.unique_id]\n            fides_meta:\n              primary_key: true\n              data_type: integer\n              references:\n                - dataset: shop\n                  field: product_registrations.id\n",
    );
    std::fs::write(&dataset_copy, text).unwrap();
    let cyclic = registration::check_changed(&store, &[(nulls, true)]).await;
    match cyclic {
        Err(ConnectorError::Refused { problems, .. }) => {
            assert!(problems[0].contains("form a cycle"), "{problems:?}");
            assert!(
                problems[0].contains(&dataset_copy.display().to_string()),
                "{problems:?}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    db.close().await;
}
