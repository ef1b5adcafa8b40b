//! Group commit for consent events: one writer owns appends; callers queue their events and
//! wait; the writer takes everything queued, appends it in one transaction, commits once, and
//! only then answers every waiter, each with its events at the places they landed. Many
//! writers share one fsync, and nothing is acknowledged before it is durable.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use custodian_core::ledger::ConsentEvent;

use crate::consent::NewEvent;
use crate::Store;

/// The most events one transaction takes; bounds latency of a single commit.
const MAX_BATCH_EVENTS: usize = 2048;
/// How many submissions may wait before callers feel back-pressure.
const QUEUE: usize = 8192;

type Reply = oneshot::Sender<Result<Vec<ConsentEvent>, String>>;

/// A handle to the writer. Cloning it is cheap; the writer stops when every handle is gone.
///
/// One writer per node on either backend: on SQLite a thread of its own, since SQLite has one
/// writer at a time anyway; on PostgreSQL one task. PostgreSQL could commit several batches
/// at once, and the writer once ran four tasks, each owning a quarter of the chains; since a
/// batch became one statement (one round trip), one writer takes larger batches for the same
/// load, and measured cheaper *and* faster at every concurrency from 1 to 64 clients
/// (docs/benchmarks.md, issue 17, sixth sitting). A subject's write that reaches its linked
/// devices' chains is also one transaction again, not one per shard.
#[derive(Clone, Debug)]
pub struct ConsentWriter {
    queue: mpsc::Sender<Job>,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the consent writer has stopped")]
    Stopped,
    #[error("appending consent events failed: {0}")]
    Failed(String),
}

impl ConsentWriter {
    /// Starts the writer: on SQLite a thread of its own (`sqlite/consent_writer.rs`), on
    /// PostgreSQL (and an in-memory SQLite database) a task on the current runtime.
    pub fn spawn(store: Store) -> ConsentWriter {
        let (queue, rx) = mpsc::channel(QUEUE);
        match store.sqlite_file() {
            Some(file) => {
                std::thread::Builder::new()
                    .name("consent-writer".into())
                    .spawn(move || run_sqlite(&file, rx))
                    .expect("a thread for the consent writer");
            }
            None => {
                tokio::spawn(run(store, rx));
            }
        }
        ConsentWriter { queue }
    }

    /// Appends `events` durably, in one transaction; returns once they are committed, in the
    /// order given.
    pub async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<ConsentEvent>, WriteError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, wait) = oneshot::channel();
        self.queue
            .send((events, reply))
            .await
            .map_err(|_| WriteError::Stopped)?;
        wait.await
            .map_err(|_| WriteError::Stopped)?
            .map_err(WriteError::Failed)
    }
}

type Job = (Vec<NewEvent>, Reply);

/// Takes `first` and whatever else is already waiting, up to the batch bound — this is what
/// makes commits shared — and returns the waiters, each one's count of events, and all the
/// events, moved out of their jobs.
fn gather(first: Job, rx: &mut mpsc::Receiver<Job>) -> (Vec<Reply>, Vec<usize>, Vec<NewEvent>) {
    let mut count = first.0.len();
    let mut jobs = vec![first];
    while count < MAX_BATCH_EVENTS {
        match rx.try_recv() {
            Ok(job) => {
                count += job.0.len();
                jobs.push(job);
            }
            Err(_) => break,
        }
    }
    let lens = jobs.iter().map(|(e, _)| e.len()).collect();
    let mut batch = Vec::with_capacity(count);
    let replies = jobs
        .into_iter()
        .map(|(events, reply)| {
            batch.extend(events);
            reply
        })
        .collect();
    (replies, lens, batch)
}

/// Answers the waiters of a batch after its append: each with its own events when it landed.
/// When it failed, one bad submission must not fail the others: the submissions come back,
/// each with its waiter, to be appended one at a time (a lone one is answered with the error
/// at once).
fn settle(
    landed: Result<Vec<ConsentEvent>, String>,
    replies: Vec<Reply>,
    lens: &[usize],
    batch: Vec<NewEvent>,
) -> Vec<Job> {
    match landed {
        Ok(appended) => {
            let mut rest = appended.into_iter();
            for (reply, n) in replies.into_iter().zip(lens) {
                let _ = reply.send(Ok(rest.by_ref().take(*n).collect()));
            }
            Vec::new()
        }
        Err(e) if replies.len() > 1 => {
            tracing::warn!(error = %e, jobs = replies.len(), "batched append failed; retrying one by one");
            let mut rest = batch.into_iter();
            replies
                .into_iter()
                .zip(lens)
                .map(|(reply, n)| (rest.by_ref().take(*n).collect(), reply))
                .collect()
        }
        Err(e) => {
            tracing::error!(error = %e, "append failed");
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
            Vec::new()
        }
    }
}

/// How long the SQLite writer's queue must stay empty before it folds the ledger's tail into
/// the current state (`consent/fold.rs`): long enough that a steady stream of writes is not
/// interrupted by small folds, which would cost a state page per event again; short enough
/// that once writes pause, the state catches up before anyone reads it.
const FOLD_WHEN_QUIET: Duration = Duration::from_millis(200);

/// The SQLite writer's loop, on its own thread: SQLite appends in process, so the thread
/// calls it directly and waits on the queue only while nothing waits. It folds the ledger's
/// tail, a slice at a time, when the tail is long or the queue quiet (`Appender::fold_step`).
fn run_sqlite(file: &std::path::Path, mut rx: mpsc::Receiver<Job>) {
    use crate::sqlite::consent_writer::Appender;
    // Only for the quiet time's timer: the appends themselves block this thread.
    let timer = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a timer for the consent writer");
    // Opened before the first consent arrives: opening reads which subjects the state holds
    // (`known_subjects.rs`), which the first writer should not wait for. Opened again at the
    // next batch if this fails, or after a failed append.
    let mut appender: Option<Appender> = Appender::open(file)
        .inspect_err(|e| tracing::warn!(error = %e, "opening the consent writer failed; the first append tries again"))
        .ok();
    let fold_step = |appender: &mut Option<Appender>| {
        if let Some(a) = appender {
            if let Err(e) = a.fold_step() {
                tracing::warn!(error = %e, "folding the consent ledger's tail failed; the next append folds it");
                *appender = None;
            }
        }
    };
    loop {
        // Waiting: for good while nothing is unfolded; while a fold is under way, not at all
        // (its next slice goes when no append waits); else until the queue has been quiet.
        let wait = match &appender {
            Some(a) if a.folding() => Some(Duration::ZERO),
            Some(a) if a.has_tail() => Some(FOLD_WHEN_QUIET),
            _ => None,
        };
        let first = match wait {
            None => timer.block_on(rx.recv()),
            // The timeout is made inside the runtime: its timer needs the runtime's clock. It
            // looks at the queue once before it times out.
            Some(wait) => {
                match timer.block_on(async { tokio::time::timeout(wait, rx.recv()).await }) {
                    Ok(job) => job,
                    Err(_quiet) => {
                        fold_step(&mut appender);
                        continue;
                    }
                }
            }
        };
        let Some(first) = first else {
            // Every handle is gone: leave no tail for the next start to fold.
            while appender.as_ref().is_some_and(Appender::has_tail) {
                fold_step(&mut appender);
            }
            return;
        };
        let (replies, lens, batch) = gather(first, &mut rx);
        // After a failure the next append opens a new connection: the
        // appender leaves no transaction open, but an I/O error may have left worse.
        let append = |appender: &mut Option<Appender>, events: &[NewEvent]| {
            let open = match appender {
                Some(a) => a,
                None => appender.insert(Appender::open(file).map_err(|e| e.to_string())?),
            };
            let appended = open.append(events).map_err(|e| e.to_string());
            if appended.is_err() {
                *appender = None;
            }
            appended
        };
        let landed = append(&mut appender, &batch);
        for (events, reply) in settle(landed, replies, &lens, batch) {
            let _ = reply.send(append(&mut appender, &events));
        }
        // A fold goes a slice after each batch, begun once the tail is long enough.
        if appender
            .as_ref()
            .is_some_and(|a| a.folding() || a.fold_due())
        {
            fold_step(&mut appender);
        }
    }
}

/// A writer task's loop on PostgreSQL (and on an in-memory SQLite database, which a
/// connection of the writer's own could not see), on the writer's own connection
/// (`Store::for_one_writer`; a failed statement closes it and the next opens another).
async fn run(parent: Store, mut rx: mpsc::Receiver<Job>) {
    let store = parent.for_one_writer();
    while let Some(first) = rx.recv().await {
        let (replies, lens, batch) = gather(first, &mut rx);
        let landed = store
            .append_consent(&batch)
            .await
            .map_err(|e| e.to_string());
        for (events, reply) in settle(landed, replies, &lens, batch) {
            let appended = store.append_consent(&events).await;
            let _ = reply.send(appended.map_err(|e| e.to_string()));
        }
    }
}
