//! Group commit for consent events: one task owns appends; callers queue their events and
//! wait; the task takes everything queued, appends it in one transaction, commits once, and
//! only then answers every waiter. Many writers share one fsync, and nothing is acknowledged
//! before it is durable.

use tokio::sync::{mpsc, oneshot};

use crate::consent::{Appended, NewEvent};
use crate::{Store, StoreError};

/// The most events one transaction takes; bounds latency of a single commit.
const MAX_BATCH_EVENTS: usize = 2048;
/// How many submissions may wait before callers feel back-pressure.
const QUEUE: usize = 8192;

type Reply = oneshot::Sender<Result<Vec<Appended>, String>>;

/// A handle to the writer task. Cloning it is cheap; the task stops when every handle is gone.
#[derive(Clone, Debug)]
pub struct ConsentWriter {
    tx: mpsc::Sender<(Vec<NewEvent>, Reply)>,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the consent writer has stopped")]
    Stopped,
    #[error("appending consent events failed: {0}")]
    Failed(String),
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        WriteError::Failed(e.to_string())
    }
}

impl ConsentWriter {
    /// Starts the writer task on the current runtime.
    pub fn spawn(store: Store) -> ConsentWriter {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, rx));
        ConsentWriter { tx }
    }

    /// Appends `events` durably; returns once they are committed.
    pub async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Appended>, WriteError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, wait) = oneshot::channel();
        self.tx
            .send((events, reply))
            .await
            .map_err(|_| WriteError::Stopped)?;
        wait.await
            .map_err(|_| WriteError::Stopped)?
            .map_err(WriteError::Failed)
    }
}

async fn run(store: Store, mut rx: mpsc::Receiver<(Vec<NewEvent>, Reply)>) {
    let mut jobs: Vec<(Vec<NewEvent>, Reply)> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut count = first.0.len();
        jobs.push(first);
        // Take whatever else is already waiting: this is what makes commits shared.
        while count < MAX_BATCH_EVENTS {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.0.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let batch: Vec<NewEvent> = jobs.iter().flat_map(|(e, _)| e.iter().cloned()).collect();
        match store.append_consent(&batch).await {
            Ok(appended) => {
                let mut rest = appended.into_iter();
                for (events, reply) in std::mem::take(&mut jobs) {
                    let mine: Vec<Appended> = rest.by_ref().take(events.len()).collect();
                    let _ = reply.send(Ok(mine));
                }
            }
            Err(e) if jobs.len() > 1 => {
                // One bad submission must not fail the others: retry each on its own.
                tracing::warn!(error = %e, jobs = jobs.len(), "batched append failed; retrying one by one");
                for (events, reply) in std::mem::take(&mut jobs) {
                    let _ = reply.send(
                        store
                            .append_consent(&events)
                            .await
                            .map_err(|e| e.to_string()),
                    );
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "append failed");
                for (_, reply) in std::mem::take(&mut jobs) {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}
