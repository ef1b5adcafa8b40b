//! A run's lease: the leased job `connector_run:<run id>` in Custodian's store (see
//! `custodian_store::jobs`). An execution claims it before anything runs, renews it every
//! third of its length while a step executes or waits out a backoff, and gives it back with
//! the run's status at the end. When a renewal fails another node has the run, and this one
//! stops: two nodes never execute a run at once.
//!
//! Time comes from the store's clock, so tests move a clock instead of sleeping; the tasks
//! here only wait (a short real tick) for that clock to reach a time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use custodian_core::clock::Clock;
use custodian_core::run::RunStatus;
use custodian_store::Store;

use crate::ConnectorError;

/// How often a waiting task looks at the clock again.
const TICK: Duration = Duration::from_millis(20);

/// Waits until `clock` reads `at` or later, or until as much real time has passed as the
/// clock had left to go, whichever comes first. On the system clock the two are the same; a
/// test that moves a manual clock ends the wait by moving it, and a manual clock that nobody
/// moves (a server test that only wants a datastore's retries to happen) still waits no
/// longer than the backoff itself, instead of forever.
pub(crate) async fn wait_until(clock: &dyn Clock, at: i64) {
    let started = std::time::Instant::now();
    let span = Duration::from_micros(at.saturating_sub(clock.now_micros()).max(0) as u64);
    loop {
        let now = clock.now_micros();
        let waited = started.elapsed();
        if now >= at || waited >= span {
            return;
        }
        let left = Duration::from_micros((at - now) as u64).min(span - waited);
        tokio::time::sleep(left.min(TICK)).await;
    }
}

/// The lease one execution holds on one run.
pub(super) struct Lease<'a> {
    store: &'a Store,
    run_id: &'a str,
    owner: String,
    lease: i64,
    clock: Arc<dyn Clock>,
    renewed_at: AtomicI64,
}

impl<'a> Lease<'a> {
    /// Claims the run for `owner` for `lease`; `take_over` ignores another owner's live lease
    /// (an operator who knows that node is dead). Refused, with the holder's name, when
    /// another owner holds it.
    pub(super) async fn claim(
        store: &'a Store,
        run_id: &'a str,
        owner: &str,
        lease: Duration,
        take_over: bool,
    ) -> Result<Lease<'a>, ConnectorError> {
        let clock = store.clock().clone();
        let lease = lease.as_micros() as i64;
        let now = clock.now_micros();
        if !store
            .claim_run(run_id, owner, now, lease, take_over)
            .await?
        {
            let holder = store.run(run_id).await?.and_then(|r| r.lease_owner);
            return Err(ConnectorError::Run(format!(
                "run {run_id} is being executed by {} (lease not expired)",
                holder.as_deref().unwrap_or("another node")
            )));
        }
        Ok(Lease {
            store,
            run_id,
            owner: owner.to_owned(),
            lease,
            clock,
            renewed_at: AtomicI64::new(now),
        })
    }

    pub(super) fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Extends the lease from now; `Err` (the error to stop with) once another owner has the run.
    pub(super) async fn renew(&self) -> Result<(), ConnectorError> {
        let now = self.clock.now_micros();
        if !self
            .store
            .renew_run(self.run_id, &self.owner, now, self.lease)
            .await?
        {
            return Err(self.lost());
        }
        self.renewed_at.store(now, Ordering::SeqCst);
        Ok(())
    }

    /// Renews the lease every third of its length, for as long as it is polled; answers (as
    /// the error to stop with) once a renewal finds the run taken. A failing store is retried:
    /// the lease may still be renewed before it runs out.
    pub(super) async fn keep(&self) -> ConnectorError {
        loop {
            let due = self.renewed_at.load(Ordering::SeqCst) + self.lease / 3;
            wait_until(self.clock.as_ref(), due).await;
            match self.renew().await {
                Ok(()) => {}
                Err(ConnectorError::Store(e)) => {
                    tracing::warn!(run = self.run_id, error = %e, "cannot renew a run's lease");
                    tokio::time::sleep(TICK).await;
                }
                Err(lost) => return lost,
            }
        }
    }

    /// Gives the lease back and sets the run's status (`done` forgets the job).
    pub(super) async fn release(&self, status: RunStatus) -> Result<(), ConnectorError> {
        self.store
            .release_run(self.run_id, &self.owner, self.clock.now_micros(), status)
            .await?;
        Ok(())
    }

    fn lost(&self) -> ConnectorError {
        ConnectorError::Run(format!(
            "run {} was taken by another node (this node's lease was lost); stopped here",
            self.run_id
        ))
    }
}
