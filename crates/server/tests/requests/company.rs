//! Requests that reach the company's own datastores, and an access that waits for a failing one.

use crate::common;
use crate::env::Env;
use serde_json::json;

#[tokio::test]
async fn requests_reach_the_companys_own_datastores() {
    let env = Env::new().await;
    let app = &env.app;
    let db = common::company_datastore(app, "company", "CUSTODIAN_TEST_COMPANY_URL_REQUESTS").await;
    let count = |sql: &'static str| {
        let db = &db;
        async move {
            let mut s = db.sql();
            s.push(&sql.replacen("COUNT(*)", "CAST(COUNT(*) AS TEXT)", 1));
            db.text_rows(&s).await.unwrap()[0][0]
                .clone()
                .unwrap_or_default()
        }
    };

    // Access: the archive carries the company's records, one CSV per data category.
    let access = env
        .verified("access", "customer-3@example.com", json!({}))
        .await;
    assert_eq!(access["status"], "completed");
    let zip = app
        .get(
            &format!(
                "/v1/admin/requests/{}/export",
                access["id"].as_str().unwrap()
            ),
            Some(&app.dpo),
        )
        .await;
    assert_eq!(zip.status, 200, "{}", zip.text);
    assert!(
        zip.text.contains("company_website_user.csv"),
        "company data by category"
    );
    assert!(
        zip.text.contains("customer-3@example.com"),
        "the requester's own record is in their export"
    );
    assert!(
        !zip.text.contains("customer-4@example.com"),
        "nobody else's"
    );

    // Erasure: rows go in the company's database, invoices stay under the 7-year hold, and the
    // requester is told until when.
    assert_eq!(
        count("SELECT COUNT(*) FROM support_tickets WHERE customer_id = 4").await,
        "1"
    );
    let erasure = env
        .verified("erasure", "customer-4@example.com", json!({}))
        .await;
    let done = env
        .act(erasure["id"].as_str().unwrap(), "approve", json!({}))
        .await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    assert_eq!(
        count("SELECT COUNT(*) FROM support_tickets WHERE customer_id = 4").await,
        "0"
    );
    let complete = done.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["action"] == "complete")
        .unwrap()
        .clone();
    assert!(
        complete["detail"].as_str().unwrap().contains("legal hold"),
        "{complete}"
    );
    let runs = app
        .store
        .runs_of_request(erasure["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(runs.len(), 1, "the run is recorded against the request");
}

/// An access whose company datastore cannot be reached is not completed with an archive
/// missing the company's data: it stays in progress with the run's exact error for the DPO;
/// once the datastore is back, completing it retries the failed run and the archive carries
/// the company's records.
#[tokio::test]
async fn an_access_waits_for_a_failing_datastore() {
    let env = Env::new().await;
    let app = &env.app;
    let var = "CUSTODIAN_TEST_COMPANY_URL_CLOSED";
    // Port 1 on loopback: nothing listens there.
    std::env::set_var(var, "postgres://postgres@127.0.0.1:1/test");
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/company/company.toml");
    app.store
        .put_datastore("company", dataset.to_str().unwrap(), Some(var), None)
        .await
        .unwrap();

    let access = env
        .verified("access", "customer-3@example.com", json!({}))
        .await;
    let id = access["id"].as_str().unwrap();
    assert_eq!(access["status"], "in_progress", "{access}");
    let runs = app.store.runs_of_request(id).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status.as_str(), "failed");
    let step = &app.store.run_steps(&runs[0].id).await.unwrap()[0];
    let error = step.last_error.clone().unwrap();
    assert!(error.starts_with("cannot connect"), "{error}");
    let started = access["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["action"] == "start")
        .unwrap_or_else(|| panic!("{access}"));
    let detail = started["detail"].as_str().unwrap();
    assert!(
        detail.contains("company datastores failed")
            && detail.contains(&runs[0].id)
            && detail.contains(&error),
        "the exact error, for the DPO: {detail}"
    );
    assert!(!detail.contains("customer-3"), "{detail}");

    // Still down: completing is refused the same way, the request stays in progress.
    let again = env.act(id, "complete", json!({})).await;
    assert_eq!(again.body["status"], "in_progress", "{}", again.text);

    // The datastore is back: completing retries the failed run and completes.
    let db = common::company_datastore(app, "access-retry", var).await;
    let done = env.act(id, "complete", json!({})).await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    let runs = app.store.runs_of_request(id).await.unwrap();
    assert_eq!(runs.len(), 1, "the failed run itself was retried");
    assert_eq!(runs[0].status.as_str(), "done");
    let zip = app
        .get(&format!("/v1/admin/requests/{id}/export"), Some(&app.dpo))
        .await;
    assert_eq!(zip.status, 200, "{}", zip.text);
    assert!(zip.text.contains("company_website_user.csv"));
    assert!(zip.text.contains("customer-3@example.com"));
    db.close().await;
}
