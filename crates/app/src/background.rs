//! The work `serve` does besides answering: ledger checkpoints, catching up on consent written
//! elsewhere, the mail outbox, what the company's services are told in the background
//! (`notices.rs`: consent withdrawals, erasures told to recipients), and request
//! housekeeping (closing requests never verified, deadline metrics, the DPO's daily digest);
//! it also removes console sessions that have ended, and the privacy centre's expired sign-ins
//! and sessions ([`sessions_once`]).
//!
//! Each job is a plain async function that does one round ([`checkpoint_once`],
//! [`housekeeping_once`]) so tests call it directly with a clock they move; the loops here
//! only repeat them. Every node runs the loops, but the work that must happen once per period
//! across nodes — checkpoints, housekeeping, the digest, the daily retention run — is a leased
//! job in the store (`custodian_store::jobs`): [`run_leased`] claims it when it is due, runs
//! it, and finishes it with the time it is next due, so one node does each round. Consent
//! and standing catch-up stay on every node (each node's memory needs them), woken at once by
//! other nodes' notices (`wake`); the outbox worker claims the job `outbox` itself.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use custodian_core::deadline::Urgency;
use custodian_core::request::{Action, Status};
use custodian_mail::{DigestIncident, DigestItem, Lang, MailContent};
use custodian_store::jobs::{self, Claim};
use custodian_store::StoreError;
use tokio::sync::Notify;

use crate::context::{Context, Shared};
use crate::error::AppError;
use crate::requests;

/// How often the ledger's chain heads are checkpointed while the service runs.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);
/// How often ended console sessions are removed.
pub const SESSIONS_EVERY: Duration = Duration::from_secs(300);
/// How often requests are looked after.
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);
/// The local hour (policy calendar) after which the DPO's daily digest goes out.
pub const DIGEST_HOUR: i8 = 8;

/// Running background jobs; [`Jobs::stop`] lets the outbox finish its pass, then ends all.
pub struct Jobs {
    stop: Arc<Notify>,
    handles: Vec<tokio::task::JoinHandle<()>>,
    wake: crate::wake::Wake,
    mail: Option<tokio::task::JoinHandle<()>>,
}

/// Starts the background loops. `console_idle_micros` is how long a console session may
/// sit idle: [`sessions_once`] removes those idle longer (and those past their absolute limit).
pub fn spawn(state: Shared, console_idle_micros: i64) -> Jobs {
    let stop = Arc::new(Notify::new());
    let handles = vec![
        tokio::spawn(every(SESSIONS_EVERY, state.clone(), move |s| async move {
            sessions_once(&s, console_idle_micros).await;
        })),
        tokio::spawn(every(CHECKPOINT_EVERY, state.clone(), |s| async move {
            checkpoint_job(&s).await
        })),
        tokio::spawn(every(HOUSEKEEPING_EVERY, state.clone(), |s| async move {
            housekeeping_job(&s).await
        })),
        // Registrations made by the CLI or another node, each second.
        tokio::spawn(every(
            crate::consent_sync::EVERY,
            state.clone(),
            |s| async move {
                s.withdrawal_takers.refresh(&s).await;
            },
        )),
        tokio::spawn(first_at_once(
            crate::consent_image::EVERY,
            state.clone(),
            |s| async move { crate::consent_image::scheduled(&s).await },
        )),
        tokio::spawn(every(
            crate::notices::EVERY,
            state.clone(),
            |s| async move { crate::notices::deliver_due_job(&s).await },
        )),
        tokio::spawn(every(
            crate::announce::EVERY,
            state.clone(),
            |s| async move { crate::announce::pass(&s).await },
        )),
        tokio::spawn(every(
            crate::retention::EVERY,
            state.clone(),
            |s| async move { crate::retention::scheduled(&s).await },
        )),
    ];
    // The consent and standing catch-ups, woken by other nodes' notices (`wake`).
    let wake = crate::wake::spawn(state.clone());
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
        wake,
        mail,
    }
}

impl Jobs {
    pub async fn stop(self) {
        self.stop.notify_waiters();
        for h in &self.handles {
            h.abort();
        }
        self.wake.stop();
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

/// [`every`], but the first round runs at once (a node that loaded consent from the store
/// writes its first image without waiting a whole period).
async fn first_at_once<F, Fut>(period: Duration, state: Shared, job: F)
where
    F: Fn(Shared) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        job(state.clone()).await;
    }
}

/// Removes the console sessions that have ended, idle or past their absolute limit
/// (`sessions::housekeeping`). Such a session is refused anyway when presented; this keeps
/// the table to the sessions that still count. Every node may do it: it is one idempotent
/// delete, so it needs no lease.
pub async fn sessions_once(state: &Context, idle_micros: i64) {
    match crate::sessions::housekeeping(state, idle_micros).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(sessions = n, "ended console sessions removed"),
        Err(e) => tracing::warn!(error = %e, "removing ended console sessions failed"),
    }
    match crate::signin::housekeeping(state).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            rows = n,
            "expired privacy-centre sign-ins and sessions removed"
        ),
        Err(e) => tracing::warn!(error = %e, "removing expired privacy-centre sessions failed"),
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
    /// Breaches past their 72 hours without the authority told.
    pub overdue_incidents: usize,
    /// Erasures completed but interrupted before the data was gone, finished now.
    pub erasures_finished: usize,
    /// Restrictions lifted after their announced notice went out.
    pub restrictions_lifted: usize,
    /// Approved accesses and erasures a stopped node left, carried out now.
    pub approvals_resumed: usize,
}

/// How long an approved access or erasure may stay `approved` before housekeeping takes it to
/// be left by a node that stopped (the approving call carries it out within seconds, and a
/// run in progress holds a live lease besides).
const STALLED_AFTER_MICROS: i64 = 60 * 1_000_000;

/// How far back housekeeping looks for interrupted erasures (a node is back long before).
const ERASURE_LOOKBACK_MICROS: i64 = 30 * 86_400 * 1_000_000;

// Kept whole: one round is a list of independent chores, read top to bottom in the order they
// run (abandon, finish erasures, prune standing changes, lift restrictions, resume approvals a
// stopped node left, retry children's erasures, deadlines, digest).
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

    // Standing changes every node has read by now (a node that restarts loads the facts).
    state
        .store
        .prune_standing_changes(now - crate::standing_sync::KEEP)
        .await?;

    // Restrictions whose lift was announced (GDPR Art. 18(3)) end once their time has come
    // and the notice has gone out.
    round.restrictions_lifted = requests::lift::lift_due(state, now).await?;

    // An access or erasure approved on a node that died before carrying it out (it runs in
    // the approving call) is carried out here, once no node holds a lease on its runs.
    for r in state
        .store
        .stalled_approved(now - STALLED_AFTER_MICROS, now)
        .await?
    {
        let id = r.id.clone();
        match requests::execute::finish(state, r, "system").await {
            Ok(_) => round.approvals_resumed += 1,
            Err(e) => {
                tracing::warn!(request = %id, error = %e, "an approved request left by a stopped node is still not carried out")
            }
        }
    }

    // A declared child's erasure that a company datastore failed is tried again at once:
    // it is due within `children.erase_within`, not whenever the DPO looks.
    for r in state.store.open_child_erasures().await? {
        let id = r.id.clone();
        if let Err(e) = requests::execute::finish(state, r, "system").await {
            tracing::warn!(request = %id, error = %e, "a child's erasure is still not complete");
        }
    }

    // Deadlines: what is due soon and what is overdue, as metrics and for the digest.
    // Every calendar's next business day lies within a fortnight (Christmas and New Year
    // included); what is fetched is then judged on its own calendar.
    let horizon = now + 14 * 86_400_000_000;
    let ts = custodian_core::clock::timestamp;
    let mut due_soon = Vec::new();
    let mut overdue = Vec::new();
    for r in state
        .store
        .open_requests_due_before(horizon.max(now + 1))
        .await?
    {
        let item = DigestItem {
            request_id: r.id.clone(),
            due: requests::due_day(state, &r),
        };
        match requests::views::urgency_at(state, &r, now) {
            Some(Urgency::Overdue) => overdue.push(item),
            Some(Urgency::DueSoon) => due_soon.push(item),
            Some(Urgency::OnTime) | None => {}
        }
    }
    round.due_soon = due_soon.len();
    round.overdue = overdue.len();
    let m = &state.telemetry;
    m.set_gauge("custodian_requests_due_soon", &[], due_soon.len() as f64);
    m.set_gauge("custodian_requests_overdue", &[], overdue.len() as f64);
    refresh_request_metrics(state).await?;
    refresh_job_metrics(state).await;
    let late_incidents: Vec<DigestIncident> = state
        .store
        .overdue_incidents(now)
        .await?
        .iter()
        .map(|i| DigestIncident {
            incident_id: i.id.clone(),
            due: requests::human_time(state, i.authority_due),
        })
        .collect();
    round.overdue_incidents = late_incidents.len();
    m.set_gauge(
        "custodian_incidents_overdue",
        &[],
        late_incidents.len() as f64,
    );

    // The DPO's digest: the job `digest`, due at DIGEST_HOUR local time each day, by one node.
    let local = ts(now).to_zoned(state.calendar.time_zone().clone());
    if local.hour() >= DIGEST_HOUR {
        if let Some(dpo) = state.policy.contacts.dpo_email.clone() {
            let today_at = digest_time(&local, 0).unwrap_or(now);
            state.store.ensure_job(DIGEST, DIGEST, today_at).await?;
            let sent = run_leased(state, DIGEST, |now| async move {
                send_digest(state, &dpo, now, due_soon, overdue, late_incidents).await?;
                let next = digest_time(&ts(now).to_zoned(local.time_zone().clone()), 1);
                Ok::<_, AppError>(((), next.unwrap_or(now + DAY_MICROS)))
            })
            .await?;
            round.digest_sent = sent.is_some();
        }
    }
    Ok(round)
}

/// The leased job of the DPO's daily digest.
pub const DIGEST: &str = "digest";
const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// DIGEST_HOUR local time, `days` after the day of `local`.
fn digest_time(local: &jiff::Zoned, days: i64) -> Option<i64> {
    let date = local
        .date()
        .checked_add(jiff::Span::new().days(days))
        .ok()?;
    let at = date
        .at(DIGEST_HOUR, 0, 0, 0)
        .to_zoned(local.time_zone().clone())
        .ok()?;
    Some(at.timestamp().as_microsecond())
}

/// Queues the day's digest. Its idempotency key is the day, so a second node — or a second
/// try after a crash between queueing and finishing the job — queues nothing more.
async fn send_digest(
    state: &Context,
    dpo: &str,
    now: i64,
    due_soon: Vec<DigestItem>,
    overdue: Vec<DigestItem>,
    overdue_incidents: Vec<DigestIncident>,
) -> Result<(), AppError> {
    let local = custodian_core::clock::timestamp(now).to_zoned(state.calendar.time_zone().clone());
    let today =
        i64::from(local.year()) * 10_000 + i64::from(local.month()) * 100 + i64::from(local.day());
    let content = MailContent::DpoDigest {
        date: local.strftime("%Y-%m-%d").to_string(),
        due_soon,
        overdue,
        admin_link: Some(format!(
            "{}/v1/admin/requests?overdue=true",
            state.public_url
        )),
        overdue_incidents,
    };
    requests::mail_to(
        state,
        dpo,
        None,
        Lang::En,
        None,
        &format!("digest/{today}"),
        content,
    )
    .await?;
    Ok(())
}

// ---- Leased recurring jobs -------------------------------------------------------------

/// The leased job of ledger checkpoints.
pub const CHECKPOINT: &str = "checkpoint";
/// The leased job of request housekeeping.
pub const HOUSEKEEPING: &str = "housekeeping";

/// How long a node holds a recurring job while it runs it (renewed every third of it while
/// the work lasts, whatever the work is doing): a killed node's job moves to another node
/// after this.
pub const RECURRING_LEASE: Duration = Duration::from_secs(60);
/// The first retry of a failed recurring job waits this long, doubling up to an hour.
const RETRY_BASE_MICROS: i64 = 60 * 1_000_000;
const RETRY_MAX_MICROS: i64 = 3_600 * 1_000_000;

/// Runs the recurring job `name` if it is due and this node claims it (`None` otherwise):
/// `work` gets the claim's time and answers its result and when the job is next due. While it
/// works the lease is renewed; if another node takes the job meanwhile the work is dropped.
/// A failure finishes the job with a backoff and the error, and is returned.
pub async fn run_leased<T, E, F, Fut>(state: &Context, name: &str, work: F) -> Result<Option<T>, E>
where
    F: FnOnce(i64) -> Fut,
    Fut: Future<Output = Result<(T, i64), E>>,
    E: std::fmt::Display + From<StoreError>,
{
    let (store, clock) = (&state.store, state.clock.as_ref());
    let owner = jobs::this_node();
    let lease = RECURRING_LEASE.as_micros() as i64;
    let now = clock.now_micros();
    let Some(job) = store
        .claim_job(name, name, &owner, now, lease, Claim::Due)
        .await?
    else {
        return Ok(None);
    };
    let result = tokio::select! {
        r = work(now) => r,
        () = keep_lease(state, name, &owner, lease) => {
            tracing::warn!(job = name, "another node took the job over; this node stopped it");
            return Ok(None);
        }
    };
    let done = clock.now_micros();
    match result {
        Ok((value, next)) => {
            store.finish_job(name, &owner, done, next).await?;
            Ok(Some(value))
        }
        Err(e) => {
            let retry = done + jobs::backoff(job.attempts, RETRY_BASE_MICROS, RETRY_MAX_MICROS);
            tracing::warn!(job = name, attempts = job.attempts, error = %e, "job failed");
            store
                .fail_job(name, &owner, done, retry, &e.to_string())
                .await?;
            Err(e)
        }
    }
}

/// Renews `owner`'s lease on `name` every third of its length (on the state's clock); returns
/// once the lease is lost.
async fn keep_lease(state: &Context, name: &str, owner: &str, lease: i64) {
    let clock = state.clock.as_ref();
    let mut renewed = clock.now_micros();
    loop {
        while clock.now_micros() < renewed + lease / 3 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let now = clock.now_micros();
        match state.store.renew_job(name, owner, now, lease).await {
            Ok(true) => renewed = now,
            Ok(false) => return,
            Err(e) => tracing::warn!(job = name, error = %e, "cannot renew a job's lease"),
        }
    }
}

/// The checkpoint loop's round: a ledger checkpoint by one node per period.
pub async fn checkpoint_job(state: &Context) {
    let start = state.clock.now_micros();
    let ran = async {
        state
            .store
            .ensure_job(CHECKPOINT, CHECKPOINT, start)
            .await?;
        run_leased(state, CHECKPOINT, |now| async move {
            checkpoint_once(state).await;
            Ok::<_, StoreError>(((), now + CHECKPOINT_EVERY.as_micros() as i64))
        })
        .await
    };
    if let Err(e) = ran.await {
        tracing::warn!(error = %e, "ledger checkpoint job failed");
    }
}

/// The housekeeping loop's round: [`housekeeping_once`] by one node per period; every node
/// refreshes its metrics of requests, the outbox and the jobs either way.
pub async fn housekeeping_job(state: &Context) {
    let start = state.clock.now_micros();
    let ran = async {
        state
            .store
            .ensure_job(HOUSEKEEPING, HOUSEKEEPING, start)
            .await?;
        run_leased(state, HOUSEKEEPING, |now| async move {
            let round = housekeeping_once(state).await?;
            Ok::<_, AppError>((round, now + HOUSEKEEPING_EVERY.as_micros() as i64))
        })
        .await
    };
    match ran.await {
        Ok(Some(_)) => {}
        Ok(None) => {
            if let Err(e) = refresh_request_metrics(state).await {
                tracing::warn!(error = %e, "reading request metrics failed");
            }
            refresh_job_metrics(state).await;
        }
        Err(e) => tracing::warn!(error = %e, "request housekeeping failed"),
    }
}

/// Request and outbox gauges (housekeeping's, and on a node that did not run it this period).
async fn refresh_request_metrics(state: &Context) -> Result<(), StoreError> {
    let m = &state.telemetry;
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
    let c = state.store.outbox_counts().await?;
    m.set_gauge("custodian_outbox", &[("status", "queued")], c.queued as f64);
    m.set_gauge("custodian_outbox", &[("status", "failed")], c.failed as f64);
    Ok(())
}

/// Gauges of the leased jobs from the store: when each is next due, its attempts since it
/// last went well, whether a node holds it and whether its last run failed. Connector runs
/// are left out (one series per run would grow without bound); `custodian jobs list` shows
/// them.
pub async fn refresh_job_metrics(state: &Context) {
    let all = match state.store.jobs().await {
        Ok(all) => all,
        Err(e) => {
            tracing::warn!(error = %e, "reading jobs for metrics failed");
            return;
        }
    };
    let now = state.clock.now_micros();
    let m = &state.telemetry;
    for j in all.iter().filter(|j| !j.name.starts_with("connector_run:")) {
        let labels = [("job", j.name.as_str())];
        let state = j.state(now);
        m.set_gauge(
            "custodian_job_next_run_seconds",
            &labels,
            j.run_at as f64 / 1e6,
        );
        m.set_gauge("custodian_job_attempts", &labels, j.attempts as f64);
        let running = f64::from(u8::from(state == jobs::JobState::Running));
        m.set_gauge("custodian_job_running", &labels, running);
        let failed = f64::from(u8::from(state == jobs::JobState::Failed));
        m.set_gauge("custodian_job_failed", &labels, failed);
    }
}
