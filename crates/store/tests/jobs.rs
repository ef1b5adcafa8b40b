//! The leased jobs' contract on both backends: claiming due jobs, leases that keep claimers
//! apart and run out for a dead holder, renewal that fails once the lease is lost, finishing
//! with the next run or with a backoff and the error, take-over, and listing. Time is the
//! test's: every instant is passed in, nothing sleeps.

use std::collections::HashSet;

use custodian_store::jobs::{Claim, JobState};
use custodian_store::{testing, Store};

macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
                ($body)(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(url) = testing::fresh_postgres_url().await else {
                    return;
                };
                let store = Store::open(&url).await.unwrap();
                ($body)(store).await;
            }
        }
    };
}

const T0: i64 = 1_700_000_000_000_000;
const LEASE: i64 = 60_000_000;

on_both!(
    due_jobs_are_claimed_once_until_their_lease_runs_out,
    |store: Store| async move {
        assert!(store.ensure_job("a", "t", T0).await.unwrap());
        assert!(!store.ensure_job("a", "t", T0 + 999).await.unwrap(), "kept");
        store.ensure_job("b", "t", T0 + 10).await.unwrap();
        store.ensure_job("c", "t", T0 + 100).await.unwrap();
        store.ensure_job("other", "u", T0).await.unwrap();
        assert!(store
            .claim_due_jobs("t", "n1", T0 - 1, LEASE, 10)
            .await
            .unwrap()
            .is_empty());
        let got = store
            .claim_due_jobs("t", "n1", T0 + 10, LEASE, 10)
            .await
            .unwrap();
        assert_eq!(
            got.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"],
            "due ones of the kind, oldest first"
        );
        assert!(got.iter().all(|j| j.attempts == 1
            && j.lease_owner.as_deref() == Some("n1")
            && j.lease_until == Some(T0 + 10 + LEASE)
            && j.last_started_at == Some(T0 + 10)));
        assert_eq!(got[0].state(T0 + 10), JobState::Running);
        // Held: another node gets nothing, even once `c` is due it gets only `c`.
        assert!(store
            .claim_due_jobs("t", "n2", T0 + 20, LEASE, 10)
            .await
            .unwrap()
            .is_empty());
        let c = store
            .claim_due_jobs("t", "n2", T0 + 100, LEASE, 10)
            .await
            .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].name, "c");
        // n1 dies: when its lease runs out, n2 resumes its jobs.
        let later = T0 + 10 + LEASE;
        assert_eq!(got[0].state(later), JobState::Idle);
        let taken = store
            .claim_due_jobs("t", "n2", later, LEASE, 10)
            .await
            .unwrap();
        assert_eq!(
            taken.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(taken.iter().all(|j| j.attempts == 2));
        // The dead node, back, finds its lease lost.
        assert!(!store.renew_job("a", "n1", later + 1, LEASE).await.unwrap());
        assert!(!store.finish_job("a", "n1", later + 1, later).await.unwrap());
        assert!(store.renew_job("a", "n2", later + 1, LEASE).await.unwrap());
        assert_eq!(
            store.job("a").await.unwrap().unwrap().lease_until,
            Some(later + 1 + LEASE)
        );
    }
);

on_both!(
    finishing_sets_the_next_run_and_failing_backs_off,
    |store: Store| async move {
        store.ensure_job("daily", "daily", T0).await.unwrap();
        let j = store
            .claim_job("daily", "daily", "n1", T0, LEASE, Claim::Due)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(j.attempts, 1);
        let retry = T0 + 5 + custodian_store::jobs::backoff(j.attempts, 1_000, 60_000);
        assert!(store
            .fail_job("daily", "n1", T0 + 5, retry, "database error: gone")
            .await
            .unwrap());
        let failed = store.job("daily").await.unwrap().unwrap();
        assert_eq!(failed.state(T0 + 6), JobState::Failed);
        assert_eq!(
            (
                failed.run_at,
                failed.attempts,
                failed.lease_owner.as_deref()
            ),
            (T0 + 1_005, 1, None)
        );
        assert_eq!(failed.last_error.as_deref(), Some("database error: gone"));
        assert_eq!(failed.last_finished_at, Some(T0 + 5));
        // Not before the backoff; then again, one more attempt.
        assert!(store
            .claim_job("daily", "daily", "n2", T0 + 1_004, LEASE, Claim::Due)
            .await
            .unwrap()
            .is_none());
        let again = store
            .claim_job("daily", "daily", "n2", T0 + 1_005, LEASE, Claim::Due)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.attempts, 2);
        let tomorrow = T0 + 86_400_000_000;
        assert!(store
            .finish_job("daily", "n2", T0 + 2_000, tomorrow)
            .await
            .unwrap());
        let done = store.job("daily").await.unwrap().unwrap();
        assert_eq!(
            (
                done.run_at,
                done.attempts,
                done.last_error.clone(),
                done.lease_until
            ),
            (tomorrow, 0, None, None)
        );
        assert_eq!(done.state(T0 + 2_001), JobState::Idle);
        assert!(store
            .claim_job("daily", "daily", "n1", tomorrow - 1, LEASE, Claim::Due)
            .await
            .unwrap()
            .is_none());
        // A job nobody made is never due.
        assert!(store
            .claim_job("missing", "daily", "n1", tomorrow, LEASE, Claim::Due)
            .await
            .unwrap()
            .is_none());
        store.schedule_job("daily", "daily", T0).await.unwrap();
        assert_eq!(store.job("daily").await.unwrap().unwrap().run_at, T0);
    }
);

on_both!(
    work_asked_for_now_is_created_and_taken_over_by_an_operator,
    |store: Store| async move {
        let name = "connector_run:run_1";
        let a = store
            .claim_job(name, "connector_run", "exec-a", T0, LEASE, Claim::Now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (a.kind.as_str(), a.attempts, a.run_at),
            ("connector_run", 1, T0)
        );
        // Not due yet for anyone else while a's lease holds, whatever its run time.
        assert!(store
            .claim_job(name, "connector_run", "exec-b", T0 + 1, LEASE, Claim::Now)
            .await
            .unwrap()
            .is_none());
        // An operator who knows a's node is dead takes it over; a, back, stops.
        let b = store
            .claim_job(
                name,
                "connector_run",
                "exec-b",
                T0 + 2,
                LEASE,
                Claim::TakeOver,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!((b.lease_owner.as_deref(), b.attempts), (Some("exec-b"), 2));
        assert!(!store
            .renew_job(name, "exec-a", T0 + 3, LEASE)
            .await
            .unwrap());
        assert!(!store.remove_job(name, "exec-a").await.unwrap());
        // Or frees it for whoever looks next.
        assert!(store.release_job(name).await.unwrap());
        assert!(!store.release_job("no such job").await.unwrap());
        let c = store
            .claim_job(name, "connector_run", "exec-c", T0 + 4, LEASE, Claim::Now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.attempts, 3);
        assert!(store.remove_job(name, "exec-c").await.unwrap());
        assert!(store.job(name).await.unwrap().is_none());

        store.ensure_job("outbox", "outbox", T0).await.unwrap();
        store.ensure_job("digest", "digest", T0).await.unwrap();
        let all = store.jobs().await.unwrap();
        assert_eq!(
            all.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(),
            ["digest", "outbox"]
        );
    }
);

on_both!(
    concurrent_claimers_never_share_a_job,
    |store: Store| async move {
        const N: i64 = 60;
        for i in 0..N {
            store
                .ensure_job(&format!("job-{i:03}"), "t", T0 + i)
                .await
                .unwrap();
        }
        let mut tasks = Vec::new();
        for node in 0..6 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim_due_jobs("t", &format!("n{node}"), T0 + N, LEASE, 3)
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|j| j.name));
                }
            }));
        }
        let mut seen = HashSet::new();
        for t in tasks {
            for name in t.await.unwrap() {
                assert!(seen.insert(name.clone()), "{name} claimed twice");
            }
        }
        assert_eq!(seen.len(), N as usize);
    }
);
