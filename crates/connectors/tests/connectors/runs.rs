//! Runs: recorded, resumable and idempotent, and a completed run that cannot be retried.

use crate::helpers::{
    company_db, email, erasure_of, gated_service, http_datastores, no_holds, rand_suffix,
    seven_years, store_on, with_backoff_driven, write_dataset, T0,
};
use crate::support;
use custodian_connectors::company;
use custodian_connectors::run::{
    self, ExecuteOptions, RetryPolicy, RunKeys, RunKind, RunSpec, StepResult,
};
use custodian_core::clock::{Clock, ManualClock};
use custodian_store::Store;
use std::collections::BTreeMap;

// One scenario followed end to end: a run recorded with sealed identifiers, a failing step, the fix
// and a retry of only that step, a repeat that changes nothing, another node's lease.
#[tokio::test]
async fn runs_are_recorded_resumable_and_idempotent() {
    let clock = ManualClock::at(T0);
    let store = store_on(&clock).await;
    let url = support::fresh_company_sqlite_url();
    let db = company_db(&url, 10).await;
    let var = format!("CUSTODIAN_TEST_COMPANY_{}", rand_suffix());
    std::env::set_var(&var, &url);
    let path = write_dataset(company::DATASET);
    store
        .put_datastore("company", path.to_str().unwrap(), Some(&var), None)
        .await
        .unwrap();
    store
        .put_datastore(
            "broken",
            path.to_str().unwrap(),
            Some("CUSTODIAN_TEST_UNSET_VARIABLE"),
            None,
        )
        .await
        .unwrap();
    let keys = RunKeys::from_secret(&[7u8; 32]);
    let spec = RunSpec {
        kind: RunKind::Erasure,
        identities: email(&company::email(4)),
        corrections: BTreeMap::new(),
        datastores: Some(vec!["company".into(), "broken".into()]),
        dry_run: false,
        request_id: Some("req_1".into()),
    };
    let id = run::plan(&store, &keys, &spec, &[]).await.unwrap();
    // The identifiers are sealed in the store, never in clear.
    let rec = store.run(&id).await.unwrap().unwrap();
    assert!(!rec.payload.as_deref().unwrap().contains("customer-4"));
    let mut opts = ExecuteOptions::new(&seven_years);
    opts.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: std::time::Duration::from_secs(5),
        max_delay: std::time::Duration::from_secs(20),
    };
    let out = with_backoff_driven(&store, &clock, run::execute_run(&store, &keys, &id, opts))
        .await
        .unwrap();
    assert_eq!(
        clock.now_micros(),
        T0 + 15_000_000,
        "waited 5 s, then 10 s, on the store's clock"
    );
    assert_eq!(out.run.status.as_str(), "failed");
    assert_eq!(out.steps[0].status.as_str(), "done");
    assert_eq!(out.steps[1].status.as_str(), "failed");
    assert_eq!(out.steps[1].attempts, 3);
    assert!(out.steps[1]
        .last_error
        .as_deref()
        .unwrap()
        .contains("CUSTODIAN_TEST_UNSET_VARIABLE"));
    let Some(StepResult::Change(first)) = &out.results()[0] else {
        panic!("{:?}", out.results())
    };
    assert!(first.rows_changed() > 0);
    assert_eq!(first.holds.len(), 3);

    // The DPO fixes the datastore and retries the run: only the failed step runs.
    std::env::set_var("CUSTODIAN_TEST_UNSET_VARIABLE", &url);
    store.retry_run(&id).await.unwrap();
    let out = run::execute_run(&store, &keys, &id, ExecuteOptions::new(&seven_years))
        .await
        .unwrap();
    assert_eq!(out.run.status.as_str(), "done");
    let Some(StepResult::Change(second)) = &out.results()[1] else {
        panic!()
    };
    assert_eq!(
        second.rows_changed(),
        0,
        "the same database, already erased"
    );
    assert!(
        store.run(&id).await.unwrap().unwrap().payload.is_none(),
        "identifiers forgotten when done"
    );

    // A crash after commit but before `done` was recorded looks like a step to run again;
    // a fresh run over the same subject shows that re-running changes nothing more.
    let id2 = run::plan(
        &store,
        &keys,
        &RunSpec {
            datastores: Some(vec!["company".into()]),
            ..spec.clone()
        },
        &[],
    )
    .await
    .unwrap();
    let out = run::execute_run(&store, &keys, &id2, ExecuteOptions::new(&seven_years))
        .await
        .unwrap();
    let Some(StepResult::Change(third)) = &out.results()[0] else {
        panic!()
    };
    assert_eq!(third.rows_changed(), 0);
    assert_eq!(out.run.status.as_str(), "done");

    // Another node's live lease keeps the run from being executed twice at once.
    let id3 = run::plan(
        &store,
        &keys,
        &RunSpec {
            datastores: Some(vec!["company".into()]),
            ..spec.clone()
        },
        &[],
    )
    .await
    .unwrap();
    assert!(store
        .claim_run(&id3, "node-a", clock.now_micros(), 60_000_000, false)
        .await
        .unwrap());
    clock.advance(59_000_000);
    let err = run::execute_run(&store, &keys, &id3, ExecuteOptions::new(&seven_years))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("being executed by node-a"), "{err}");
    let mut take = ExecuteOptions::new(&seven_years);
    take.take_over = true;
    assert_eq!(
        run::execute_run(&store, &keys, &id3, take)
            .await
            .unwrap()
            .run
            .status
            .as_str(),
        "done"
    );
    db.close().await;
}

/// `retry` refuses a completed run — its identifiers are gone — and changes nothing.
#[tokio::test]
async fn a_completed_run_cannot_be_retried() {
    let (base, _, gate) = gated_service().await;
    gate.send_replace(true);
    let store = Store::open(&support::fresh_sqlite_url()).await.unwrap();
    http_datastores(&store, &base, &["desk"]).await;
    let keys = RunKeys::from_secret(&[6u8; 32]);
    let out = run::run_now(
        &store,
        &keys,
        &erasure_of(&["desk"]),
        ExecuteOptions::new(&no_holds),
    )
    .await
    .unwrap();
    assert_eq!(out.run.status.as_str(), "done");
    let err = run::retry(&store, &out.run.id, Some(0))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no longer holds the subject's identifiers"),
        "{err}"
    );
    let run = store.run(&out.run.id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "done");
    assert_eq!(
        store.run_steps(&out.run.id).await.unwrap()[0]
            .status
            .as_str(),
        "done"
    );
}
