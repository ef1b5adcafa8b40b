//! Queueing mail and the worker that sends it: a delivery pass is the leased job `outbox`
//! (see `custodian_store::jobs`): one node at a time claims the job, takes the due messages,
//! sends them, marks them sent, and retries failures with exponential backoff.
//!
//! A message is a row before anything is sent, so a crash never loses it. Each message is
//! marked sent as soon as the relay accepted it (messages finishing together share a commit);
//! only a crash in that instant — after the relay's "250", before the mark — sends it again,
//! with the same Message-ID, so it is recognisably the same: the messages a crashed pass left
//! `sending` are taken by the next holder of the job once the dead node's lease has run out.
//! SMTP gives no way to ask the relay whether it already has a message, so no sender can close
//! that window entirely; Custodian keeps it to the messages in flight. Addresses and
//! parameters are sealed in the row and opened only in the worker's memory: under the key of
//! the subject the message is about (so erasing the subject erases its queued and kept mail,
//! backups included), or under the server's outbox key for mail about no one (the DPO digest).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use custodian_core::clock::Clock;
use custodian_core::keys::{is_subject_sealed, SubjectSealer};
use custodian_core::seal::Sealer;
use custodian_core::subject::SubjectRef;
use custodian_store::jobs::Claim;
use custodian_store::keyring::{Keyring, KeyringError};
use custodian_store::outbox::{ClaimedMail, NewMail};
use custodian_store::Store;
use futures_util::stream::{self, StreamExt};
use futures_util::FutureExt;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::mailer::{Mailer, SendError};
use crate::templates::{render, Lang, MailContent};
use crate::MailError;

/// A message to queue.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    /// Unique per logical message, e.g. `req_123/verification_code/1`: queueing the same key
    /// again queues nothing. It also fixes the Message-ID.
    pub idempotency_key: String,
    /// The recipient's address (sealed before it is stored).
    pub to: String,
    pub lang: Lang,
    /// The request the message is about, so exports list it and erasure forgets it.
    pub request_id: Option<String>,
    /// Whose personal data the message carries (the requester's address, their details):
    /// the row is sealed under that subject's key. `None` for mail about no one.
    pub subject: Option<SubjectRef>,
    pub content: MailContent,
}

/// The handle that queues mail and wakes the worker. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    sealer: Sealer,
    keyring: Option<Keyring>,
    wake: Arc<Notify>,
}

fn place(id: &str, field: &str) -> String {
    format!("outbox/{id}/{field}")
}

impl Outbox {
    /// `sealer` should be `Sealer::derived(secret, "outbox")`.
    pub fn new(store: Store, sealer: Sealer) -> Outbox {
        Outbox {
            store,
            sealer,
            keyring: None,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Seals mail about a subject under the subject's key. Without a keyring, all mail is
    /// sealed under the outbox key.
    pub fn with_keyring(mut self, keyring: Keyring) -> Outbox {
        self.keyring = Some(keyring);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The sealed row for a message, for callers that store it in a transaction of their own
    /// (then call [`Outbox::wake`]).
    pub async fn prepare(&self, mail: &OutgoingMail, now: i64) -> Result<NewMail, MailError> {
        self.prepare_with(mail, now, None).await
    }

    /// [`Outbox::prepare`] with the subject's sealer in hand already (request intake has just
    /// made the key), which saves looking the key up again.
    pub async fn prepare_with(
        &self,
        mail: &OutgoingMail,
        now: i64,
        sealer: Option<&SubjectSealer>,
    ) -> Result<NewMail, MailError> {
        let id = self.store.ids().next("mail");
        let params = serde_json::to_string(&mail.content).map_err(MailError::Params)?;
        let (to_place, params_place) = (place(&id, "to"), place(&id, "params"));
        let (to_sealed, params_sealed) = match (&mail.subject, &self.keyring) {
            (Some(subject), Some(keyring)) => {
                let looked_up;
                let sealer = match sealer {
                    Some(s) => s,
                    None => {
                        looked_up = keyring.sealer(subject).await?;
                        &looked_up
                    }
                };
                (
                    sealer.seal(subject, &to_place, &mail.to),
                    sealer.seal(subject, &params_place, &params),
                )
            }
            _ => (
                self.sealer.seal(&mail.to, &to_place),
                self.sealer.seal(&params, &params_place),
            ),
        };
        Ok(NewMail {
            to_sealed,
            params_sealed,
            id,
            idempotency_key: mail.idempotency_key.clone(),
            template: mail.content.template().into(),
            lang: mail.lang.as_str().into(),
            request_id: mail.request_id.clone(),
            created_at: now,
            send_after: now,
        })
    }

    /// Seals and queues a message (due at `now`) and wakes the worker. Answers `false` when
    /// a message with this idempotency key was already queued.
    pub async fn enqueue(&self, mail: &OutgoingMail, now: i64) -> Result<bool, MailError> {
        let queued = self
            .store
            .enqueue_mail(&self.prepare(mail, now).await?)
            .await?;
        if queued {
            self.wake.notify_one();
        }
        Ok(queued)
    }

    /// Wakes the worker now (e.g. after queueing mail in a transaction of one's own).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The name (and kind) of the leased job a delivery pass is.
pub const JOB: &str = "outbox";

/// The worker's knobs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Who holds the `outbox` job's lease during a pass: this node
    /// (`custodian_store::jobs::this_node`).
    pub owner: String,
    /// How long the pass's lease holds before another node may take the job over; renewed
    /// every third of it while the pass lasts. Must exceed the time one message can take (SMTP
    /// commands time out after 30 s).
    pub lease: Duration,
    pub batch: i64,
    /// Messages in flight at once (one SMTP connection each, at most [`crate::mailer::POOL`]).
    pub concurrency: usize,
    /// How often to look for due mail when nobody wakes the worker (retries, other nodes).
    pub poll: Duration,
    /// The first retry waits this long, doubling per attempt, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// After this many failed attempts the message is marked failed for the DPO to see.
    pub max_attempts: i32,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            owner: custodian_store::jobs::this_node(),
            // Twice the longest one SMTP command may take: a node killed mid-pass leaves its
            // mail to another node within a minute.
            lease: Duration::from_secs(60),
            batch: 64,
            concurrency: 16,
            poll: Duration::from_secs(5),
            base_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
            max_attempts: 10,
        }
    }
}

impl WorkerSettings {
    /// The wait before the next attempt after `attempts` failed ones: base × 2^(attempts-1),
    /// capped.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let shift = attempts.saturating_sub(1).clamp(0, 30) as u32;
        self.base_backoff
            .saturating_mul(1u32 << shift)
            .min(self.max_backoff)
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Another node holds the `outbox` job: this pass did nothing.
    pub held_elsewhere: bool,
    pub claimed: usize,
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// One delivery pass, the worker's unit of work (also called directly by tests to drain the
/// outbox): claims the `outbox` job for `settings.owner`, sends one batch of due mail —
/// resuming what a crashed holder left `sending` — records the outcomes, and finishes the job.
/// While another node holds the job, answers at once with [`Pass::held_elsewhere`].
pub async fn deliver_due(
    outbox: &Outbox,
    mailer: &Mailer,
    clock: &dyn Clock,
    settings: &WorkerSettings,
) -> Result<Pass, MailError> {
    let store = &outbox.store;
    let lease = settings.lease.as_micros() as i64;
    let now = clock.now_micros();
    if store
        .claim_job(JOB, JOB, &settings.owner, now, lease, Claim::Now)
        .await?
        .is_none()
    {
        return Ok(Pass {
            held_elsewhere: true,
            ..Pass::default()
        });
    }
    match send_batch(outbox, mailer, clock, settings).await {
        Ok(pass) => {
            let now = clock.now_micros();
            // Due again at once: the worker's wake-ups and poll decide when the next pass runs.
            store.finish_job(JOB, &settings.owner, now, now).await?;
            Ok(pass)
        }
        Err(MailError::LeaseLost) => Err(MailError::LeaseLost),
        Err(e) => {
            let now = clock.now_micros();
            store
                .fail_job(JOB, &settings.owner, now, now, &e.to_string())
                .await?;
            Err(e)
        }
    }
}

/// Takes a batch of due messages and sends it under the pass's lease, renewing the lease every
/// third of its length; stops with [`MailError::LeaseLost`] when another node took the job.
async fn send_batch(
    outbox: &Outbox,
    mailer: &Mailer,
    clock: &dyn Clock,
    settings: &WorkerSettings,
) -> Result<Pass, MailError> {
    let store = &outbox.store;
    let lease = settings.lease.as_micros() as i64;
    let claimed = store
        .claim_due_mail(clock.now_micros(), settings.batch)
        .await?;
    let mut pass = Pass {
        claimed: claimed.len(),
        ..Pass::default()
    };
    let mut renewed_at = clock.now_micros();
    // Sends run concurrently, in a task of their own: while this loop waits on the database
    // to mark what the relay accepted, the sends go on. Driven from this loop instead, a send
    // stopped halfway through reading its subject's key kept that pooled connection while the
    // mark waited for one — with enough of them, for as long as the mark kept trying (the
    // fault suite saw it after a database restart, and the marked mail went twice).
    //
    // Whatever has been accepted by the relay is marked sent at once, in one commit for all
    // the messages that finished meanwhile (one commit per message made the database the
    // bottleneck at ~140 messages/s). A crash can only resend the few messages accepted but
    // not yet marked, with the same Message-IDs, so receivers can tell: a send holds one of
    // `concurrency` places from its start until its outcome is recorded, so that those are
    // never more than `concurrency` however far the marks fall behind.
    let mut sends = Sends::start(outbox, mailer, claimed, settings.concurrency);
    let mut done = Vec::with_capacity(settings.batch.max(1) as usize);
    while sends
        .outcomes
        .recv_many(&mut done, settings.batch.max(1) as usize)
        .await
        > 0
    {
        let mut sent = Vec::new();
        // Every place to the sends first, before anything here waits (see [`Sends`]).
        let finished: Vec<_> = done
            .drain(..)
            .map(|(m, result, place)| {
                sends.recording.push(place);
                (m, result)
            })
            .collect();
        for (m, result) in finished {
            match result {
                Ok(()) => sent.push(m.id),
                Err(e) => {
                    if record_failure(store, clock, settings, &m, e).await {
                        pass.failed += 1;
                    } else {
                        pass.retrying += 1;
                    }
                }
            }
        }
        if !sent.is_empty() {
            mark_sent(store, &sent, clock, settings.lease).await?;
            pass.sent += sent.len();
        }
        // Recorded: the next sends may start.
        sends.recording.clear();
        let now = clock.now_micros();
        if now - renewed_at >= lease / 3 {
            match store.renew_job(JOB, &settings.owner, now, lease).await {
                Ok(true) => renewed_at = now,
                Ok(false) => {
                    tracing::warn!("another node took the outbox over; this pass stops");
                    return Err(MailError::LeaseLost);
                }
                // The lease still runs (it is three times the renewal period): keep marking
                // what the relay accepts, and renew at the next chunk.
                Err(e) => {
                    tracing::warn!(error = %e, "renewing the outbox lease failed; trying again")
                }
            }
        }
    }
    Ok(pass)
}

/// The sends of one pass, running in their own task, which reports each message's outcome.
/// Dropped (the pass ended early: its lease lost, the database gone), it stops the sends not
/// yet done, as a pass that ends always has: a `JoinSet` aborts its tasks when dropped.
struct Sends {
    // Fields drop in this order: a pass dropped while it marks (a node killed, its task
    // aborted) stops the sends before it gives their places back, so no further send can start
    // in between and go unmarked — only the ones in flight can go twice.
    _task: tokio::task::JoinSet<()>,
    outcomes:
        tokio::sync::mpsc::Receiver<(ClaimedMail, Result<(), SendError>, OwnedSemaphorePermit)>,
    /// The places of the sends whose outcomes the pass is recording.
    recording: Vec<OwnedSemaphorePermit>,
}

impl Sends {
    fn start(outbox: &Outbox, mailer: &Mailer, claimed: Vec<ClaimedMail>, at_once: usize) -> Sends {
        let (tx, outcomes) = tokio::sync::mpsc::channel(claimed.len().max(1));
        let (outbox, mailer) = (outbox.clone(), mailer.clone());
        let places = Arc::new(Semaphore::new(at_once.max(1)));
        let mut task = tokio::task::JoinSet::new();
        task.spawn(async move {
            let mut results = stream::iter(claimed)
                .map(|m| {
                    let (outbox, mailer, places) = (&outbox, &mailer, places.clone());
                    async move {
                        // Taken before the send, given back once the pass recorded it.
                        let place = places.acquire_owned().await.expect("never closed");
                        let result = send_one(outbox, mailer, &m).await;
                        (m, result, place)
                    }
                })
                .buffer_unordered(at_once.max(1));
            while let Some(outcome) = results.next().await {
                // The channel holds the whole batch: this never waits on the pass.
                if tx.send(outcome).await.is_err() {
                    return;
                }
            }
        });
        Sends {
            _task: task,
            outcomes,
            recording: Vec::new(),
        }
    }
}

/// Records a failed send: due again after the backoff, or failed for good. Answers whether
/// the message was given up on. A failure that cannot be recorded (the database restarting)
/// leaves the message claimed, to be tried again by a later pass.
async fn record_failure(
    store: &custodian_store::Store,
    clock: &dyn Clock,
    settings: &WorkerSettings,
    m: &ClaimedMail,
    e: SendError,
) -> bool {
    let give_up = matches!(
        e,
        SendError::Permanent(_) | SendError::BadRecipient | SendError::Erased
    ) || m.attempts >= settings.max_attempts;
    let next = clock.now_micros() + settings.backoff(m.attempts).as_micros() as i64;
    tracing::warn!(mail = %m.id, template = %m.template, attempts = m.attempts, give_up, error = %e, "mail not sent");
    if let Err(db) = store
        .mark_mail_failed(&m.id, &e.to_string(), next, give_up)
        .await
    {
        tracing::warn!(mail = %m.id, error = %db, "recording a failed send failed; it is tried again later");
        return false;
    }
    give_up
}

/// Marks messages the relay accepted as sent. They are gone: a mark that fails (the database
/// restarting) is tried again for up to half the lease rather than given up, which would leave
/// them `sending` for the next pass to send a second time.
async fn mark_sent(
    store: &custodian_store::Store,
    sent: &[String],
    clock: &dyn Clock,
    lease: Duration,
) -> Result<(), MailError> {
    let give_up = std::time::Instant::now() + lease / 2;
    loop {
        match store.mark_mails_sent(sent, clock.now_micros()).await {
            Ok(_) => return Ok(()),
            Err(e) if std::time::Instant::now() < give_up => {
                tracing::warn!(error = %e, messages = sent.len(), "marking sent mail failed; trying again");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Opens one sealed field of a message. A row that does not open (tampered, or sealed under
/// another secret) can never be sent; one whose subject was erased is gone for good.
async fn open(outbox: &Outbox, sealed: &str, place: &str) -> Result<String, SendError> {
    if !is_subject_sealed(sealed) {
        return outbox
            .sealer
            .open(sealed, place)
            .map_err(|_| SendError::BadRecipient);
    }
    let keyring = outbox.keyring.as_ref().ok_or(SendError::BadRecipient)?;
    keyring.open(place, sealed).await.map_err(|e| match e {
        KeyringError::Erased => SendError::Erased,
        KeyringError::Store(e) => SendError::Transient(format!("reading the subject's key: {e}")),
        KeyringError::Seal(_) | KeyringError::Key(_) => SendError::BadRecipient,
    })
}

async fn send_one(outbox: &Outbox, mailer: &Mailer, m: &ClaimedMail) -> Result<(), SendError> {
    let to = open(outbox, &m.to_sealed, &place(&m.id, "to")).await?;
    let content: MailContent =
        serde_json::from_str(&open(outbox, &m.params_sealed, &place(&m.id, "params")).await?)
            .map_err(|_| SendError::BadRecipient)?;
    let lang = Lang::parse_or_en(&m.lang);
    mailer
        .send(&to, &render(&content, lang), &m.idempotency_key)
        .await
}

/// Runs until `shutdown` resolves: sends due mail, then sleeps until woken by
/// [`Outbox::enqueue`] or the poll interval passes. Database errors are logged and retried
/// after the poll interval; they never stop the worker.
pub async fn run_outbox_worker(
    outbox: Outbox,
    mailer: Mailer,
    clock: Arc<dyn Clock>,
    settings: WorkerSettings,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        // A full batch means more may be due: go again at once. Otherwise wait.
        // A pass is finished even when shutdown is asked for meanwhile: stopping mid-pass
        // would leave accepted messages unmarked, to go again after the lease.
        let busy = match deliver_due(&outbox, &mailer, clock.as_ref(), &settings).await {
            Ok(pass) => pass.claimed as i64 >= settings.batch,
            Err(MailError::LeaseLost) => false,
            Err(e) => {
                tracing::error!(error = %e, "outbox pass failed");
                false
            }
        };
        if busy {
            if shutdown.as_mut().now_or_never().is_some() {
                return;
            }
            continue;
        }
        tokio::select! {
            biased;
            () = &mut shutdown => return,
            () = outbox.wake.notified() => {}
            () = tokio::time::sleep(settings.poll) => {}
        }
    }
}
