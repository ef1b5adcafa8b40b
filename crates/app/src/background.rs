//! The work `serve` does besides answering: ledger checkpoints, catching up on consent written
//! elsewhere, the mail outbox, and request
//! housekeeping (closing requests never verified, deadline metrics, the DPO's daily digest).
//!
//! Each job is a plain async function that does one round ([`checkpoint_once`],
//! [`housekeeping_once`]) so tests call it directly with a clock they move; the loops here
//! only repeat them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use custodian_core::deadline::{urgency, Urgency};
use custodian_core::request::{Action, Status};
use custodian_mail::{DigestItem, Lang, MailContent};
use tokio::sync::Notify;

use crate::context::{Context, Shared};
use crate::error::AppError;
use crate::requests;

/// How often the ledger's chain heads are checkpointed while the service runs.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);
/// How often requests are looked after.
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);
/// The local hour (policy calendar) after which the DPO's daily digest goes out.
pub const DIGEST_HOUR: i8 = 8;

/// Running background jobs; [`Jobs::stop`] lets the outbox finish its pass, then ends all.
pub struct Jobs {
    stop: Arc<Notify>,
    handles: Vec<tokio::task::JoinHandle<()>>,
    mail: Option<tokio::task::JoinHandle<()>>,
}

pub fn spawn(state: Shared) -> Jobs {
    let stop = Arc::new(Notify::new());
    let handles = vec![
        tokio::spawn(every(CHECKPOINT_EVERY, state.clone(), |s| async move {
            checkpoint_once(&s).await
        })),
        tokio::spawn(every(HOUSEKEEPING_EVERY, state.clone(), |s| async move {
            if let Err(e) = housekeeping_once(&s).await {
                tracing::warn!(error = %e, "request housekeeping failed");
            }
        })),
        tokio::spawn(every(
            crate::consent_sync::EVERY,
            state.clone(),
            |s| async move {
                if let Err(e) = crate::consent_sync::sync_once(&s).await {
                    tracing::warn!(error = %e, "reading other writers' consent failed");
                }
            },
        )),
        tokio::spawn(every(
            crate::retention::EVERY,
            state.clone(),
            |s| async move { crate::retention::scheduled(&s).await },
        )),
    ];
    let mail = match &state.smtp {
        Some(cfg) => match custodian_mail::Mailer::new(cfg) {
            Ok(mailer) => {
                let stopped = stop.clone();
                Some(tokio::spawn(custodian_mail::run_outbox_worker(
                    state.outbox.clone(),
                    mailer,
                    state.clock.clone(),
                    custodian_mail::WorkerSettings::default(),
                    async move { stopped.notified().await },
                )))
            }
            Err(e) => {
                tracing::error!(error = %e, "mail is not configured correctly; messages stay queued");
                None
            }
        },
        None => {
            tracing::warn!(
                "CUSTODIAN_SMTP_URL is not set: mail is queued in the outbox and sent once it is"
            );
            None
        }
    };
    Jobs {
        stop,
        handles,
        mail,
    }
}

impl Jobs {
    pub async fn stop(self) {
        self.stop.notify_waiters();
        for h in &self.handles {
            h.abort();
        }
        if let Some(mail) = self.mail {
            let _ = tokio::time::timeout(Duration::from_secs(30), mail).await;
        }
    }
}

async fn every<F, Fut>(period: Duration, state: Shared, job: F)
where
    F: Fn(Shared) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tick.tick().await;
        job(state.clone()).await;
    }
}

pub async fn checkpoint_once(state: &Context) {
    match state.store.checkpoint(state.clock.now_micros()).await {
        Ok(Some(c)) => tracing::info!(checkpoint = c.id, digest = %c.digest, "ledger checkpoint"),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "ledger checkpoint failed"),
    }
}

/// One round of request housekeeping. Answers what it did, for tests and logs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub abandoned: usize,
    pub due_soon: usize,
    pub overdue: usize,
    pub digest_sent: bool,
    /// Erasures completed but interrupted before the data was gone, finished now.
    pub erasures_finished: usize,
}

/// How far back housekeeping looks for interrupted erasures (a node is back long before).
const ERASURE_LOOKBACK_MICROS: i64 = 30 * 86_400 * 1_000_000;

pub async fn housekeeping_once(state: &Context) -> Result<Round, AppError> {
    let now = state.clock.now_micros();
    let mut round = Round::default();

    // Requests whose code expired unverified are closed: nothing was shown or changed.
    for r in state.store.stale_unverified(now).await? {
        if requests::transition(
            state,
            &r,
            Action::Abandon,
            "system",
            Some("verification code expired"),
            |_| {},
        )
        .await
        .is_ok()
        {
            round.abandoned += 1;
        }
    }

    // An erasure marks its request completed (with the confirmation mail) and then erases;
    // a node stopped in between leaves the subject's key, which is destroyed last.
    round.erasures_finished =
        requests::execute::finish_interrupted_erasures(state, now - ERASURE_LOOKBACK_MICROS)
            .await?;

    let (due_soon, overdue) = deadlines(state, now).await?;
    round.due_soon = due_soon.len();
    round.overdue = overdue.len();
    round.digest_sent = digest(state, now, due_soon, overdue).await?;
    Ok(round)
}

/// Deadlines: what is due soon and what is overdue, reported as gauges (with the requests
/// and the outbox by status) and answered for the digest.
async fn deadlines(
    state: &Context,
    now: i64,
) -> Result<(Vec<DigestItem>, Vec<DigestItem>), AppError> {
    let ts = custodian_core::clock::timestamp;
    let horizon = state
        .calendar
        .add_business_time(ts(now), state.calendar.day_length())
        .as_microsecond()
        + 1;
    let mut due_soon = Vec::new();
    let mut overdue = Vec::new();
    for r in state
        .store
        .open_requests_due_before(horizon.max(now + 1))
        .await?
    {
        let item = DigestItem {
            request_id: r.id.clone(),
            due: requests::human_time(state, r.answer_due),
        };
        match urgency(ts(now), ts(r.answer_due), &state.calendar) {
            Urgency::Overdue => overdue.push(item),
            Urgency::DueSoon => due_soon.push(item),
            Urgency::OnTime => {}
        }
    }
    let m = &state.telemetry;
    m.set_gauge("custodian_requests_due_soon", &[], due_soon.len() as f64);
    m.set_gauge("custodian_requests_overdue", &[], overdue.len() as f64);
    for status in Status::ALL {
        m.set_gauge("custodian_requests", &[("status", status.as_str())], 0.0);
    }
    for (status, n) in state.store.request_counts().await? {
        m.set_gauge(
            "custodian_requests",
            &[("status", status.as_str())],
            n as f64,
        );
    }
    if let Ok(c) = state.store.outbox_counts().await {
        m.set_gauge("custodian_outbox", &[("status", "queued")], c.queued as f64);
        m.set_gauge("custodian_outbox", &[("status", "failed")], c.failed as f64);
    }

    Ok((due_soon, overdue))
}

/// The DPO's digest: once a day after [`DIGEST_HOUR`] local time, by one node only. Answers
/// whether this node sent it.
async fn digest(
    state: &Context,
    now: i64,
    due_soon: Vec<DigestItem>,
    overdue: Vec<DigestItem>,
) -> Result<bool, AppError> {
    let ts = custodian_core::clock::timestamp;
    let local = ts(now).to_zoned(state.calendar.time_zone().clone());
    let today =
        i64::from(local.year()) * 10_000 + i64::from(local.month()) * 100 + i64::from(local.day());
    if local.hour() >= DIGEST_HOUR {
        if let Some(dpo) = state.policy.contacts.dpo_email.clone() {
            let seen = state.store.job_mark("dpo_digest").await?;
            if seen.is_none_or(|d| d < today) {
                // Queued first, then marked: the day's idempotency key keeps a second node (or
                // a second try after a crash) from queueing it twice.
                let content = MailContent::DpoDigest {
                    date: local.strftime("%Y-%m-%d").to_string(),
                    due_soon,
                    overdue,
                    admin_link: Some(format!(
                        "{}/v1/admin/requests?overdue=true",
                        state.public_url
                    )),
                };
                requests::mail_to(
                    state,
                    &dpo,
                    None,
                    Lang::En,
                    None,
                    &format!("digest/{today}"),
                    content,
                )
                .await?;
                return Ok(state
                    .store
                    .claim_job_mark("dpo_digest", seen, today)
                    .await?);
            }
        }
    }
    Ok(false)
}
