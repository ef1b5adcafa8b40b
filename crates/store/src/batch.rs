//! Group commit, shared by the writers that need it (request intake, subject keys): callers
//! queue jobs; one task per queue takes every job waiting, up to a batch, and hands them to one
//! write, so one commit serves many callers. Each caller is answered after the write, with its
//! own result. Several queues let PostgreSQL overlap commits; SQLite takes one.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

type Reply<R> = oneshot::Sender<Result<R, String>>;
type Queue<J, R> = mpsc::Sender<(J, Reply<R>)>;

pub(crate) struct Batcher<J, R> {
    queues: Arc<[Queue<J, R>]>,
    next: Arc<AtomicUsize>,
    /// Names the writer in errors ("the intake writer has stopped").
    name: &'static str,
}

impl<J, R> Clone for Batcher<J, R> {
    fn clone(&self) -> Self {
        Batcher {
            queues: self.queues.clone(),
            next: self.next.clone(),
            name: self.name,
        }
    }
}

impl<J, R> std::fmt::Debug for Batcher<J, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Batcher({}, {} queues)", self.name, self.queues.len())
    }
}

impl<J: Send + 'static, R: Send + 'static> Batcher<J, R> {
    /// Starts `queues` tasks (inside a Tokio runtime). `write` gets a batch of at most
    /// `max_batch` jobs and answers one result per job, in order.
    pub(crate) fn spawn<W, F>(queues: usize, max_batch: usize, name: &'static str, write: W) -> Self
    where
        W: Fn(Vec<J>) -> F + Clone + Send + 'static,
        F: Future<Output = Vec<Result<R, String>>> + Send + 'static,
    {
        let senders: Vec<_> = (0..queues.max(1))
            .map(|_| {
                let (tx, mut rx) = mpsc::channel::<(J, Reply<R>)>(4096);
                let write = write.clone();
                tokio::spawn(async move {
                    while let Some(first) = rx.recv().await {
                        let mut jobs = vec![first];
                        while jobs.len() < max_batch {
                            match rx.try_recv() {
                                Ok(job) => jobs.push(job),
                                Err(_) => break,
                            }
                        }
                        let (jobs, replies): (Vec<J>, Vec<Reply<R>>) = jobs.into_iter().unzip();
                        for (reply, result) in replies.into_iter().zip(write(jobs).await) {
                            let _ = reply.send(result);
                        }
                    }
                });
                tx
            })
            .collect();
        Batcher {
            queues: senders.into(),
            next: Default::default(),
            name,
        }
    }

    /// Queues one job and waits for the write that carries it.
    pub(crate) async fn submit(&self, job: J) -> Result<R, String> {
        let stopped = || format!("the {} has stopped", self.name);
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len();
        let (reply, wait) = oneshot::channel();
        self.queues[i]
            .send((job, reply))
            .await
            .map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }
}
