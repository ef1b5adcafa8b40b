//! The recurring jobs `serve` runs under leases (`background::run_leased`), with a clock the
//! test moves: one node per period, a failure retried after a backoff with its error recorded,
//! and a dead node's job taken by another once its lease runs out.

mod common;

use common::TestApp;
use custodian_app::background::{self, run_leased, RECURRING_LEASE};
use custodian_core::clock::Clock;
use custodian_store::jobs::{Claim, JobState};
use custodian_store::StoreError;

const MINUTE: i64 = 60_000_000;

#[tokio::test]
async fn a_recurring_job_runs_once_per_period_and_backs_off_when_it_fails() {
    let app = TestApp::sqlite().await;
    let store = &app.state.store;
    let start = app.clock.now_micros();
    store.ensure_job("test", "test", start).await.unwrap();

    // It fails: the error is recorded and it is due again after a minute, not before.
    let failed = run_leased(&app.state, "test", |_| async {
        Err::<((), i64), StoreError>(StoreError::Corrupt("the test says no".into()))
    })
    .await;
    assert!(failed.is_err());
    let job = store.job("test").await.unwrap().unwrap();
    assert_eq!(job.state(start), JobState::Failed);
    assert_eq!((job.attempts, job.run_at), (1, start + MINUTE));
    assert_eq!(
        job.last_error.as_deref(),
        Some("stored data is corrupt: the test says no")
    );
    let ran = |next: i64| {
        run_leased(&app.state, "test", move |now| async move {
            Ok::<_, StoreError>((now, next))
        })
    };
    assert_eq!(ran(0).await.unwrap(), None, "not due during the backoff");

    // A minute on it runs, and is next due when the work said.
    app.clock.advance(MINUTE);
    let now = app.clock.now_micros();
    assert_eq!(ran(now + 10 * MINUTE).await.unwrap(), Some(now));
    let job = store.job("test").await.unwrap().unwrap();
    assert_eq!(
        (job.attempts, job.last_error, job.run_at),
        (0, None, now + 10 * MINUTE)
    );
    assert_eq!(ran(0).await.unwrap(), None, "once per period");

    // Another node claims it and dies: it is left to that node until its lease runs out.
    app.clock.advance(10 * MINUTE);
    let lease = RECURRING_LEASE.as_micros() as i64;
    let dead = store
        .claim_job(
            "test",
            "test",
            "dead-node",
            app.clock.now_micros(),
            lease,
            Claim::Due,
        )
        .await
        .unwrap();
    assert!(dead.is_some());
    assert_eq!(ran(0).await.unwrap(), None);
    app.clock.advance(lease);
    assert!(ran(0).await.unwrap().is_some());
}

#[tokio::test]
async fn the_loops_rounds_claim_their_jobs() {
    let app = TestApp::sqlite().await;
    background::checkpoint_job(&app.state).await;
    background::housekeeping_job(&app.state).await;
    let now = app.clock.now_micros();
    let jobs = app.state.store.jobs().await.unwrap();
    let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["checkpoint", "housekeeping"]);
    for j in &jobs {
        assert_eq!(j.state(now), JobState::Idle, "{j:?}");
        assert_eq!(j.run_at, now + MINUTE, "{j:?}");
        assert_eq!(j.last_started_at, Some(now));
    }
    // Within the minute a second round (another node's) does nothing but read the gauges.
    background::housekeeping_job(&app.state).await;
    let again = app.state.store.job("housekeeping").await.unwrap().unwrap();
    assert_eq!(again.last_started_at, Some(now));
    let m = app.get("/metrics", None).await;
    assert!(
        m.text
            .contains("custodian_job_running{job=\"housekeeping\"} 0"),
        "{}",
        m.text
    );
}
