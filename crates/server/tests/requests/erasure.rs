//! Erasure: the subject key destroyed so earlier copies reveal nothing, erasures finished by
//! housekeeping, and held rows removed by key when their hold ends.

use crate::common;
use crate::env::{allowed, Env};
use serde_json::json;

/// Erasure by key: the subject's key is destroyed, so a copy of the database taken before the
/// erasure (a backup) no longer reveals the subject, while the ledger stays verifiable.
#[tokio::test]
async fn erasure_destroys_the_subject_key_so_earlier_copies_reveal_nothing() {
    let env = Env::new().await;
    let app = &env.app;
    app.post("/v1/consent", Some(&app.service), &json!({ "subject": { "email": "hank@example.com" }, "choices": { "analytics": true }, "policy_version": "2018-05-25", "source": "api" })).await;
    let req = env
        .verified(
            "erasure",
            "hank@example.com",
            json!({ "details": "please forget my account" }),
        )
        .await;
    let id = req["id"].as_str().unwrap();
    let place = format!("requests/{id}/email");

    // A backup, taken the way SQLite takes one while the database is in use.
    let dir = std::path::Path::new(app.url.strip_prefix("sqlite://").unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let copy = dir.join("backup.db");
    let pool = app.store.sqlite_pool().expect("an SQLite test");
    sqlx::query("VACUUM INTO ?")
        .bind(copy.display().to_string())
        .execute(pool)
        .await
        .unwrap();
    let backup = custodian_store::Store::open(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    let sealed = backup.request(id).await.unwrap().unwrap().email_sealed;
    assert!(sealed.starts_with("k1:") && !sealed.contains("hank"));
    assert_eq!(
        backup.subject_key_count().await.unwrap(),
        0,
        "the data holds no key"
    );
    let raw = std::fs::read(&copy).unwrap();
    assert!(!raw.windows(4).any(|w| w == b"hank"), "nothing in clear");

    // Before the erasure, the backup's fields open with the live keys and the master key.
    let keyring = app.state.keyring.clone();
    assert_eq!(
        keyring.open(&place, &sealed).await.unwrap(),
        "hank@example.com"
    );

    let done = env.act(id, "approve", json!({})).await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    env.mail_to_with("hank@example.com", "complete").await;

    // After it, the same backup reveals nothing, even with the master key.
    assert!(matches!(
        keyring.open(&place, &sealed).await,
        Err(custodian_store::keyring::KeyringError::Erased)
    ));
    let details = backup
        .request(id)
        .await
        .unwrap()
        .unwrap()
        .details_sealed
        .unwrap();
    assert!(keyring
        .open(&format!("requests/{id}/details"), &details)
        .await
        .is_err());
    assert_eq!(app.key_store.subject_key_count().await.unwrap(), 0);
    app.verify_ledger().await;
    backup.close().await;
}

#[tokio::test]
async fn an_erasure_stopped_after_its_completion_is_finished_by_housekeeping() {
    use custodian_app::requests::{self, execute};
    use custodian_core::request::Action;

    let env = Env::new().await;
    let app = &env.app;
    let ivy = json!({ "email": "ivy@example.com" });
    app.post("/v1/consent", Some(&app.service), &json!({ "subject": ivy.clone(), "choices": { "analytics": true }, "policy_version": "2018-05-25", "source": "api" })).await;
    let req = env.verified("erasure", "ivy@example.com", json!({})).await;
    let id = req["id"].as_str().unwrap();

    // The process stops right after the request was marked completed, before the erasure.
    let row = requests::load(&app.state, id).await.unwrap();
    let approved = requests::transition(&app.state, &row, Action::Approve, "dpo", None, |_| {})
        .await
        .unwrap();
    let done = execute::complete(&app.state, &approved, "system", None)
        .await
        .unwrap();
    let subject = requests::subject_of(&done).unwrap();
    assert!(app.state.keyring.has_key(&subject).await.unwrap());
    assert_eq!(allowed(app, &ivy).await, true);

    // The confirmation went out with the completion, in the same transaction.
    env.mail_to_with("ivy@example.com", id).await;

    let round = custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert_eq!(round.erasures_finished, 1);
    assert!(
        !app.state.keyring.has_key(&subject).await.unwrap(),
        "the key is gone"
    );
    assert_eq!(allowed(app, &ivy).await, false, "the consent went with it");
    assert!(app
        .state
        .store
        .request(id)
        .await
        .unwrap()
        .unwrap()
        .email_sealed
        .is_empty());
    let again = custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert_eq!(again.erasures_finished, 0, "done once");
}

/// Invoices kept under the 7-year rule by an erasure go when the rule falls due, found by the
/// keys the erasure recorded (the subject's identifiers and key are gone by then). The hold
/// counts from the account's closure when one is on record, else from the erasure; nobody
/// else's rows change.
// One scenario followed end to end: a closure on record for one customer, erasures that hold both
// customers' invoices, then the clock moved six and seven years on to see which rows go.
#[tokio::test]
async fn held_rows_go_by_key_when_the_hold_ends_after_an_erasure() {
    use custodian_app::retention::{self as retention_job, RunOptions};
    const DAY: i64 = 86_400_000_000;
    const YEAR: i64 = 365 * DAY;
    let env = Env::new().await;
    let app = &env.app;
    let start = app.state.clock.now_micros();
    let db = common::company_datastore(app, "held-rows", "CUSTODIAN_TEST_COMPANY_URL_HELD").await;
    let scalar = |sql: String| {
        let db = &db;
        async move {
            let mut s = db.sql();
            s.push(&sql);
            db.text_rows(&s).await.unwrap()[0][0]
                .clone()
                .unwrap_or_default()
        }
    };
    // Each customer's invoice ids, taken before the erasure changes anything.
    let mut invoices = std::collections::BTreeMap::new();
    for c in [4, 5, 6] {
        let ids = scalar(format!(
            "SELECT GROUP_CONCAT(i.id) FROM invoices i JOIN orders o ON o.id = i.order_id JOIN accounts a ON a.id = o.account_id WHERE a.customer_id = {c}"
        ))
        .await;
        assert!(!ids.is_empty(), "customer {c} has invoices");
        invoices.insert(c, ids);
    }
    let billed = |c: i32| {
        let ids = invoices[&c].clone();
        let scalar = &scalar;
        async move {
            scalar(format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM invoices WHERE id IN ({ids}) AND billing_name IS NOT NULL AND amount IS NOT NULL"
            ))
            .await
            .parse::<usize>()
            .unwrap()
        }
    };
    let all_billed = || {
        scalar("SELECT CAST(COUNT(*) AS TEXT) FROM invoices WHERE billing_name IS NOT NULL".into())
    };
    let rows = |c: i32| invoices[&c].split(',').count();
    assert_eq!((billed(4).await, billed(6).await), (rows(4), rows(6)));
    let total = all_billed().await.parse::<usize>().unwrap();

    // Customer 6 closed their account two years before the erasure; customer 4 never did.
    let rfc = custodian_core::clock::rfc3339;
    for (event, at) in [
        ("account_opened", start - 3 * YEAR),
        ("account_closed", start - 2 * YEAR),
    ] {
        let a = app
            .post(
                "/v1/subjects/events",
                Some(&app.service),
                &json!({ "subject": { "email": "customer-6@example.com" }, "event": event, "at": rfc(at) }),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.text);
    }
    let mut subjects = std::collections::BTreeMap::new();
    for c in [4, 6] {
        let r = env
            .verified("erasure", &format!("customer-{c}@example.com"), json!({}))
            .await;
        let id = r["id"].as_str().unwrap().to_owned();
        let done = env.act(&id, "approve", json!({})).await;
        assert_eq!(done.body["status"], "completed", "{}", done.text);
        let runs = app.store.runs_of_request(&id).await.unwrap();
        let held = app.store.held_rows_of(&runs[0].subject_ref).await.unwrap();
        assert_eq!(
            held.len(),
            1,
            "one record: datastore company, rule accounting_records"
        );
        assert_eq!(held[0].rule, "accounting_records");
        assert_eq!(held[0].datastore, "company");
        assert_eq!(held[0].request_id.as_deref(), Some(id.as_str()));
        let sealed = held[0].sealed_keys.clone().unwrap();
        for key in invoices[&c].split(',') {
            assert!(
                !sealed.contains(&format!("[{key}")),
                "keys are sealed: {sealed}"
            );
        }
        subjects.insert(c, (runs[0].subject_ref.clone(), held[0].due_at.unwrap()));
    }
    // Held from the closure for customer 6, from the erasure for customer 4.
    let (due_4, due_6) = (subjects[&4].1, subjects[&6].1);
    assert!(
        due_4 > start + 7 * YEAR - 2 * DAY && due_4 <= start + 7 * YEAR + 2 * DAY,
        "{due_4}"
    );
    assert!(
        due_6 > start + 5 * YEAR - 2 * DAY && due_6 <= start + 5 * YEAR + 2 * DAY,
        "{due_6}"
    );
    // The erasure kept the invoices (and the identifiers and key are gone).
    assert_eq!((billed(4).await, billed(6).await), (rows(4), rows(6)));
    assert!(app
        .store
        .subject_identities(&subjects[&6].0)
        .await
        .unwrap()
        .is_empty());

    let retention = |as_of: i64| async move {
        retention_job::run(
            &app.store,
            &app.state.retention.rules,
            &RunOptions {
                as_of,
                dry_run: false,
                list: true,
                pause_ratio: 0.0,
                now: custodian_core::clock::Clock::now_micros(&app.clock),
            },
            Some(&retention_job::company_purge(&app.state)),
            |_| {},
        )
        .await
        .unwrap()
    };
    // Six years on: customer 4's invoices are still held; customer 6's hold (from the
    // closure) has ended.
    let r = retention(start + 6 * YEAR).await;
    assert_eq!(r.company_failures, 0, "{r:?}");
    assert_eq!(billed(4).await, rows(4), "still held");
    assert_eq!(billed(6).await, 0, "held from the closure: gone");
    assert_eq!(
        all_billed().await.parse::<usize>().unwrap(),
        total - rows(6),
        "nobody else's"
    );

    // Seven years on: customer 4's billing fields go by `after_hold` (NULL); rows stay.
    let r = retention(start + 7 * YEAR + 2 * DAY).await;
    assert_eq!(r.company_failures, 0, "{r:?}");
    assert!(r.company_rows_changed >= rows(4) as u64, "{r:?}");
    assert_eq!(billed(4).await, 0);
    assert_eq!(
        scalar(format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM invoices WHERE id IN ({})",
            invoices[&4]
        ))
        .await,
        rows(4).to_string(),
        "after_hold = null keeps the rows"
    );
    assert_eq!(billed(5).await, rows(5), "customer 5 untouched");
    assert_eq!(
        all_billed().await.parse::<usize>().unwrap(),
        total - rows(4) - rows(6)
    );
    let held = app.store.held_rows_of(&subjects[&4].0).await.unwrap();
    assert!(held[0].done_at.is_some() && held[0].sealed_keys.is_none());
    let purges = app.store.purges(Some(&subjects[&4].0), 20).await.unwrap();
    let purge = purges
        .iter()
        .find(|p| p.rule == "accounting_records")
        .expect("recorded");
    assert!(purge.data.contains("held rows"), "{}", purge.data);

    // Done once.
    let again = retention(start + 7 * YEAR + 3 * DAY).await;
    assert_eq!(again.company_rows_changed, 0);
    db.close().await;
}
