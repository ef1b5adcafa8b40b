//! Group commit for consent events: one writer owns appends; callers queue their events and
//! wait; the writer takes everything queued, appends it in one transaction, commits once, and
//! only then answers every waiter, each with its events at the places they landed. Many
//! writers share one fsync, and nothing is acknowledged before it is durable.

use tokio::sync::{mpsc, oneshot};

use custodian_core::ledger::ConsentEvent;

use crate::consent::NewEvent;
use crate::{Store, StoreError};

/// The most events one transaction takes; bounds latency of a single commit.
const MAX_BATCH_EVENTS: usize = 2048;
/// How many submissions may wait before callers feel back-pressure.
const QUEUE: usize = 8192;

type Reply = oneshot::Sender<Result<Vec<ConsentEvent>, String>>;

/// A handle to the writers. Cloning it is cheap; the writers stop when every handle is gone.
///
/// SQLite has one writer at a time, so it gets one, on a thread of its own. PostgreSQL commits in parallel, so it
/// gets several, each owning a disjoint set of chains (chain mod shards): their transactions
/// never wait for each other's row locks, and their commits overlap.
#[derive(Clone, Debug)]
pub struct ConsentWriter {
    shards: Vec<mpsc::Sender<Job>>,
}

/// Writer tasks on PostgreSQL.
pub const POSTGRES_SHARDS: usize = 4;

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
    /// Starts the writers: on SQLite a thread of its own (`sqlite/consent_writer.rs`), on
    /// PostgreSQL tasks on the current runtime.
    pub fn spawn(store: Store) -> ConsentWriter {
        if let Some(file) = store.sqlite_file() {
            let (tx, rx) = mpsc::channel(QUEUE);
            std::thread::Builder::new()
                .name("consent-writer".into())
                .spawn(move || run_sqlite(&file, rx))
                .expect("a thread for the consent writer");
            return ConsentWriter { shards: vec![tx] };
        }
        let n = store.writer_tasks(POSTGRES_SHARDS);
        let shards = (0..n)
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(store.clone(), rx));
                tx
            })
            .collect();
        ConsentWriter { shards }
    }

    /// Appends `events` durably; returns once they are all committed, in the order given.
    pub async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<ConsentEvent>, WriteError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let n = self.shards.len();
        let shard_of = |e: &NewEvent| usize::from(custodian_core::ledger::chain_of(&e.subject)) % n;
        let first = shard_of(&events[0]);
        if events.iter().all(|e| shard_of(e) == first) {
            return self.send(first, events).await;
        }
        // Events for several shards (a subject and its linked devices): each shard commits its
        // part; the answer comes when all have, in the caller's order.
        let mut parts: Vec<Vec<(usize, NewEvent)>> = vec![Vec::new(); n];
        for (i, e) in events.into_iter().enumerate() {
            parts[shard_of(&e)].push((i, e));
        }
        let mut out: Vec<Option<ConsentEvent>> = Vec::new();
        for (shard, part) in parts.into_iter().enumerate().filter(|(_, p)| !p.is_empty()) {
            let (idx, evs): (Vec<usize>, Vec<NewEvent>) = part.into_iter().unzip();
            for (i, a) in idx.into_iter().zip(self.send(shard, evs).await?) {
                if out.len() <= i {
                    out.resize(i + 1, None);
                }
                out[i] = Some(a);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    async fn send(
        &self,
        shard: usize,
        events: Vec<NewEvent>,
    ) -> Result<Vec<ConsentEvent>, WriteError> {
        let (reply, wait) = oneshot::channel();
        self.shards[shard]
            .send((events, reply))
            .await
            .map_err(|_| WriteError::Stopped)?;
        wait.await
            .map_err(|_| WriteError::Stopped)?
            .map_err(WriteError::Failed)
    }
}

type Job = (Vec<NewEvent>, Reply);

/// Moves into `jobs` whatever else is already waiting after `first`, up to the batch bound —
/// this is what makes commits shared — and returns each job's count and all their events.
fn gather(
    first: Job,
    rx: &mut mpsc::Receiver<Job>,
    jobs: &mut Vec<Job>,
) -> (Vec<usize>, Vec<NewEvent>) {
    let mut count = first.0.len();
    jobs.push(first);
    while count < MAX_BATCH_EVENTS {
        match rx.try_recv() {
            Ok(job) => {
                count += job.0.len();
                jobs.push(job);
            }
            Err(_) => break,
        }
    }
    // Moved, not copied: each job keeps only its count, which is all the answer needs.
    let lens: Vec<usize> = jobs.iter().map(|(e, _)| e.len()).collect();
    let batch = jobs
        .iter_mut()
        .flat_map(|(e, _)| std::mem::take(e))
        .collect();
    (lens, batch)
}

/// Answers every job of a batch that landed with its own events, in order.
fn answer(jobs: Vec<Job>, lens: &[usize], appended: Vec<ConsentEvent>) {
    let mut rest = appended.into_iter();
    for ((_, reply), n) in jobs.into_iter().zip(lens) {
        let mine: Vec<ConsentEvent> = rest.by_ref().take(*n).collect();
        let _ = reply.send(Ok(mine));
    }
}

/// The batch's events given back to their jobs, for appending one job at a time after the
/// batch failed: one bad submission must not fail the others.
fn one_by_one(jobs: Vec<Job>, lens: &[usize], batch: Vec<NewEvent>) -> Vec<(Vec<NewEvent>, Reply)> {
    let mut rest = batch.into_iter();
    jobs.into_iter()
        .zip(lens)
        .map(|((_, reply), n)| (rest.by_ref().take(*n).collect(), reply))
        .collect()
}

/// The SQLite writer's loop, on its own thread: SQLite appends in process, so the thread
/// calls it directly and blocks on the queue only while nothing waits.
fn run_sqlite(file: &std::path::Path, mut rx: mpsc::Receiver<Job>) {
    use crate::sqlite::consent_writer::Appender;
    let mut appender: Option<Appender> = None;
    let mut jobs: Vec<Job> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let (lens, batch) = gather(first, &mut rx, &mut jobs);
        // After a failure the next append opens a new connection, as the tasks below do: the
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
        match append(&mut appender, &batch) {
            Ok(appended) => answer(std::mem::take(&mut jobs), &lens, appended),
            Err(e) if jobs.len() > 1 => {
                tracing::warn!(error = %e, jobs = jobs.len(), "batched append failed; retrying one by one");
                for (events, reply) in one_by_one(std::mem::take(&mut jobs), &lens, batch) {
                    let _ = reply.send(append(&mut appender, &events));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "append failed");
                for (_, reply) in std::mem::take(&mut jobs) {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// A writer task's loop on PostgreSQL (and on an in-memory SQLite database, which a
/// connection of the writer's own could not see).
async fn run(parent: Store, mut rx: mpsc::Receiver<Job>) {
    let mut store = parent.for_one_writer();
    let mut jobs: Vec<Job> = Vec::new();
    while let Some(first) = rx.recv().await {
        let (lens, batch) = gather(first, &mut rx, &mut jobs);
        match store.append_consent(&batch).await {
            Ok(appended) => answer(std::mem::take(&mut jobs), &lens, appended),
            // A connection whose append failed may be broken (the database restarted), and on
            // SQLite the database may have rolled the transaction back itself (a full disk, an
            // I/O error), which leaves the driver believing its connection is still inside it,
            // refusing every later `BEGIN`: after a failed append the next one takes a new
            // connection.
            Err(e) if jobs.len() > 1 => {
                store = parent.for_one_writer();
                tracing::warn!(error = %e, jobs = jobs.len(), "batched append failed; retrying one by one");
                for (events, reply) in one_by_one(std::mem::take(&mut jobs), &lens, batch) {
                    let appended = store.append_consent(&events).await;
                    if appended.is_err() {
                        store = parent.for_one_writer();
                    }
                    let _ = reply.send(appended.map_err(|e| e.to_string()));
                }
            }
            Err(e) => {
                store = parent.for_one_writer();
                tracing::error!(error = %e, "append failed");
                for (_, reply) in std::mem::take(&mut jobs) {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}
