//! The whole life of one subject in the sample company on SQLite, PostgreSQL and MariaDB, and
//! expiry of the fields a due retention rule held.

use crate::helpers::{collect, company_dataset, company_db, count, email, erase_now};
use crate::support;
use custodian_connectors::check;
use custodian_connectors::company;
use custodian_connectors::dataset;
use custodian_connectors::dataset_file;
use custodian_connectors::erase::{self, Operation};
use std::collections::{BTreeMap, BTreeSet};

/// The whole life of one subject in the sample company, on one backend.
// One scenario followed end to end: one subject's whole life in the sample company (schema check,
// access, dry run, erasure with holds, expiry by key, rectification) on the backend it is given.
async fn company_scenario(url: &str) {
    let db = company_db(url, 40).await;
    let ds = company_dataset();
    let schema_problems = check::check(&db, &ds, Some(&custodian_policy::example()))
        .await
        .unwrap();
    assert!(schema_problems.is_empty(), "{schema_problems:?}");

    // Customer 28: ticket (28 % 2), newsletter (28 % 4), survey (28 % 7); no application.
    let ids = email(&company::email(28));
    let records = collect(&db, &ds, &ids).await;
    let tables: BTreeMap<String, usize> = records.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r["table"].as_str().unwrap().to_owned())
            .or_default() += 1;
        m
    });
    // Orders and invoices each appear once per category they hold (payment only).
    assert_eq!(tables["orders"], 3);
    assert_eq!(tables["invoices"], 3);
    assert_eq!(tables["customers"], 1);
    assert_eq!(tables["accounts"], 1);
    assert_eq!(tables["product_registrations"], 1);
    assert_eq!(tables["support_tickets"], 1);
    assert_eq!(tables["newsletter_subscriptions"], 1);
    assert_eq!(tables["survey_answers"], 1);
    assert!(!tables.contains_key("job_applications"));
    // Grouped by category: categories come in runs, never interleaved.
    let cats: Vec<&str> = records
        .iter()
        .map(|r| r["category"].as_str().unwrap())
        .collect();
    let mut seen = BTreeSet::new();
    for w in cats.windows(2) {
        if w[0] != w[1] {
            assert!(seen.insert(w[0]), "category {} appears twice apart", w[0]);
        }
    }
    assert!(records
        .iter()
        .all(|r| !r.to_string().contains("customer-29@")));

    // A dry run reports exactly what the real run then does, and changes nothing.
    let before = count(&db, "SELECT COUNT(*) FROM support_tickets").await;
    let dry = erase_now(&db, &ds, &ids, true).await;
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM support_tickets").await,
        before
    );
    let real = erase_now(&db, &ds, &ids, false).await;
    assert_eq!(dry.changes, real.changes);
    assert_eq!(dry.holds, real.holds);
    let change = |t: &str, f: Option<&str>| {
        real.changes
            .iter()
            .find(|c| c.table == t && c.field.as_deref() == f)
            .map(|c| c.rows)
            .unwrap_or_else(|| panic!("no change for {t}.{f:?} in {:?}", real.changes))
    };
    assert_eq!(change("support_tickets", None), 1);
    assert_eq!(change("newsletter_subscriptions", None), 1);
    assert_eq!(change("survey_answers", None), 1);
    assert_eq!(change("product_registrations", None), 1);
    assert_eq!(change("orders", Some("shipping_name")), 3);
    assert_eq!(change("customers", Some("email")), 1);
    assert_eq!(change("accounts", Some("username")), 1);
    // Children before parents: every deleting or updating table comes before what it references.
    let pos = |t: &str| real.changes.iter().position(|c| c.table == t).unwrap();
    assert!(pos("orders") < pos("accounts") && pos("accounts") < pos("customers"));
    assert!(pos("support_tickets") < pos("customers"));
    // Invoices are held, with the rule and the day they go.
    let held: Vec<_> = real
        .holds
        .iter()
        .filter(|h| h.table == "invoices")
        .collect();
    assert_eq!(held.len(), 3);
    assert!(held.iter().all(|h| h.rule == "accounting_records"
        && h.rows == 3
        && h.until.as_deref() == Some("2033-01-31")));
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM invoices WHERE billing_name = 'Customer 28'"
        )
        .await,
        3
    );
    let hashed = count(
        &db,
        "SELECT COUNT(*) FROM customers WHERE email LIKE 'h1:%'",
    )
    .await;
    assert_eq!(hashed, 1);
    // Others are untouched.
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM customers WHERE email = 'customer-27@example.com'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM support_tickets").await,
        before - 1
    );

    // The held rows' keys travel with the report (never in its recorded JSON), so the hold
    // can end by key once the subject's identifiers are gone: the held fields go by their
    // `after_hold` (NULL), only on those rows.
    assert_eq!(real.held_rows.len(), 1);
    let kept = &real.held_rows[0];
    assert_eq!(kept.rule, "accounting_records");
    assert_eq!(kept.until, Some(jiff::civil::date(2033, 1, 31)));
    assert_eq!(kept.tables["invoices"].len(), 3);
    assert!(!serde_json::to_string(&real).unwrap().contains("held_rows"));
    let billed = "SELECT COUNT(*) FROM invoices WHERE billing_name IS NOT NULL";
    let billed_before = count(&db, billed).await;
    let gone = erase::expire_keys(&db, &ds, &kept.tables, "accounting_records", b"k")
        .await
        .unwrap();
    assert_eq!(gone.rows_changed(), 9, "3 rows x 3 held fields: {gone:?}");
    assert_eq!(count(&db, billed).await, billed_before - 3);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM invoices WHERE billing_name = 'Customer 28'"
        )
        .await,
        0
    );
    let twice = erase::expire_keys(&db, &ds, &kept.tables, "accounting_records", b"k")
        .await
        .unwrap();
    assert_eq!(twice.rows_changed(), 0);

    // Running it again changes nothing more.
    let again = erase_now(&db, &ds, &ids, false).await;
    assert_eq!(again.rows_changed(), 0, "{again:?}");

    // Rectification of another subject, bound like everything else.
    let fix: BTreeMap<String, String> = [(
        "customers.full_name".to_owned(),
        "Ann O'Brien; DROP TABLE orders".to_owned(),
    )]
    .into();
    let r = erase::apply(
        &db,
        &ds,
        &email(&company::email(30)),
        Operation::Rectify(&fix),
        false,
    )
    .await
    .unwrap();
    assert_eq!(r.rows_changed(), 1);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM customers WHERE full_name = 'Ann O''Brien; DROP TABLE orders'"
        )
        .await,
        1
    );
    assert!(count(&db, "SELECT COUNT(*) FROM orders").await > 0);

    // A subject e-mail carrying SQL finds nothing and changes nothing.
    let hostile = email("x' OR '1'='1");
    assert!(collect(&db, &ds, &hostile).await.is_empty());
    let r = erase_now(&db, &ds, &hostile, false).await;
    assert_eq!(r.rows_changed(), 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM customers").await, 40);

    // The drafted dataset knows every table and the foreign keys.
    let draft = check::generate(&db, "draft").await.unwrap();
    assert_eq!(draft.tables.len(), 9);
    let orders = draft.table("orders").unwrap();
    assert_eq!(
        orders
            .field("account_id")
            .unwrap()
            .reference()
            .unwrap()
            .table,
        "accounts"
    );
    assert_eq!(
        draft
            .table("customers")
            .unwrap()
            .field("email")
            .unwrap()
            .identity
            .as_deref(),
        Some("email")
    );
    db.close().await;
}

#[tokio::test]
async fn company_on_sqlite() {
    company_scenario(&support::fresh_company_sqlite_url()).await;
}

#[tokio::test]
async fn company_on_postgres() {
    let Some(url) = support::fresh_postgres_url().await else {
        return;
    };
    company_scenario(&url).await;
}

#[tokio::test]
async fn company_on_mariadb() {
    let Some(url) = support::fresh_mysql_url().await else {
        return;
    };
    company_scenario(&url).await;
}

/// Expiry (the retention job's operation): only the fields held by the due rule go, by their
/// `after_hold` strategy; `after_hold` is refused on a field that is not held.
#[tokio::test]
async fn expiry_takes_only_the_fields_the_due_rule_held() {
    let db = company_db(&support::fresh_company_sqlite_url(), 10).await;
    let ds = company_dataset();
    let ids = email(&company::email(3));
    let invoices_of_3 = "SELECT COUNT(*) FROM invoices i JOIN orders o ON o.id = i.order_id JOIN accounts a ON a.id = o.account_id WHERE a.customer_id = 3";
    let all_invoices = count(&db, "SELECT COUNT(*) FROM invoices").await;
    let mine = count(&db, invoices_of_3).await;
    assert!(mine > 0);

    let expire = |rule: &'static str, ds: dataset::Dataset| {
        let (db, ids) = (&db, &ids);
        async move {
            erase::apply(
                db,
                &ds,
                ids,
                Operation::Expire {
                    hash_key: b"k",
                    rule,
                },
                false,
            )
            .await
            .unwrap()
        }
    };
    // Another rule: nothing.
    assert_eq!(expire("while_customer", ds.clone()).await.rows_changed(), 0);
    // The invoices' rule, with the default strategy: the held fields are NULL, rows stay,
    // nothing else of the customer's changes.
    let r = expire("accounting_records", ds.clone()).await;
    assert!(r.rows_changed() > 0);
    assert_eq!(
        count(
            &db,
            &format!("{invoices_of_3} AND i.billing_name IS NULL AND i.amount IS NULL")
        )
        .await,
        mine
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM customers WHERE id = 3 AND full_name IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM invoices").await,
        all_invoices
    );

    // With `after_hold = "delete_row"` the rows themselves go.
    let text = company::DATASET.replace(
        r#"{ name = "amount", category = "payment", erase = "hold", hold = "accounting_records" }"#,
        r#"{ name = "amount", category = "payment", erase = "hold", hold = "accounting_records", after_hold = "delete_row" }"#,
    );
    assert_ne!(text, company::DATASET, "the sample dataset changed shape");
    let (deleting, _) = dataset_file::parse(&text).unwrap();
    expire("accounting_records", deleting).await;
    assert_eq!(count(&db, invoices_of_3).await, 0);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM invoices").await,
        all_invoices - mine
    );

    let bad = company::DATASET.replace(
        r#"{ name = "full_name", category = "website_user", erase = "null" }"#,
        r#"{ name = "full_name", category = "website_user", erase = "null", after_hold = "mask" }"#,
    );
    let err = dataset_file::parse(&bad).unwrap_err().to_string();
    assert!(
        err.contains("customers.full_name") && err.contains("`after_hold` only goes with"),
        "{err}"
    );
}
