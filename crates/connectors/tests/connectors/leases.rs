//! Run leases: two executors racing for one run execute it once, and a node that loses its
//! lease stops.

use crate::helpers::{
    called, erasure_of, gated_service, http_datastores, leased, store_on, until, LEASE, T0,
};
use custodian_connectors::run::{self, RunKeys};
use custodian_core::clock::{Clock, ManualClock};

/// Two executors race for one run whose step outlasts the lease: the lease is renewed while
/// the step runs, so the second is refused and the service is called once.
#[tokio::test]
async fn two_executors_racing_for_one_run_execute_it_once() {
    let clock = ManualClock::at(T0);
    let store = store_on(&clock).await;
    let (base, calls, gate) = gated_service().await;
    http_datastores(&store, &base, &["desk"]).await;
    let keys = RunKeys::from_secret(&[3u8; 32]);
    let id = run::plan(&store, &keys, &erasure_of(&["desk"]), &[])
        .await
        .unwrap();
    let job = format!("connector_run:{id}");
    let a = run::execute_run(&store, &keys, &id, leased("node-a", false));
    let b = async {
        until("node-a to call the service", || async {
            called(&calls, "desk") == 1
        })
        .await;
        // Two thirds of the lease on, node-a renews it while its step still runs…
        clock.advance(LEASE * 2 / 3);
        until("node-a to renew its lease", || async {
            let job = store.job(&job).await.unwrap().unwrap();
            job.lease_until == Some(clock.now_micros() + LEASE)
        })
        .await;
        // …so past the end of its first lease, node-b is refused.
        clock.advance(LEASE * 2 / 3);
        let b = run::execute_run(&store, &keys, &id, leased("node-b", false)).await;
        gate.send_replace(true);
        b
    };
    let (a, b) = tokio::join!(a, b);
    let a = a.unwrap();
    assert_eq!(a.run.status.as_str(), "done");
    let err = b.unwrap_err().to_string();
    assert!(err.contains("being executed by node-a"), "{err}");
    assert_eq!(called(&calls, "desk"), 1, "executed once");
    assert_eq!(a.steps[0].attempts, 1);
    assert!(
        store.job(&job).await.unwrap().is_none(),
        "a done run's job is gone"
    );
}

/// A node whose run is taken over (`--take-over`) stops at its next renewal instead of
/// carrying on alongside the new owner: the second datastore is called by the new owner only.
#[tokio::test]
async fn a_node_that_loses_its_lease_stops() {
    let clock = ManualClock::at(T0);
    let store = store_on(&clock).await;
    let (base, calls, gate) = gated_service().await;
    http_datastores(&store, &base, &["first", "second"]).await;
    let keys = RunKeys::from_secret(&[4u8; 32]);
    let id = run::plan(&store, &keys, &erasure_of(&["first", "second"]), &[])
        .await
        .unwrap();
    let a_stopped = std::sync::atomic::AtomicBool::new(false);
    let a = async {
        let r = run::execute_run(&store, &keys, &id, leased("node-a", false)).await;
        a_stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        r
    };
    let b = async {
        until("node-a to call the first", || async {
            called(&calls, "first") == 1
        })
        .await;
        let b = run::execute_run(&store, &keys, &id, leased("node-b", true));
        let driver = async {
            until("node-b to call the first again", || async {
                called(&calls, "first") == 2
            })
            .await;
            // node-a's next renewal falls due, and fails.
            clock.advance(LEASE / 3 + 1);
            until("node-a to stop", || async {
                a_stopped.load(std::sync::atomic::Ordering::SeqCst)
            })
            .await;
            gate.send_replace(true);
        };
        tokio::join!(b, driver).0
    };
    let (a, b) = tokio::join!(a, b);
    let err = a.unwrap_err().to_string();
    assert!(err.contains("lease was lost"), "{err}");
    let b = b.unwrap();
    assert_eq!(b.run.status.as_str(), "done");
    assert_eq!(called(&calls, "first"), 2, "started by a, run again by b");
    assert_eq!(called(&calls, "second"), 1, "only the new owner goes on");
}
