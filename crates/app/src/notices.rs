//! What the company's services are told in the background, after the fact is durable:
//!
//! - **consent withdrawal** (GDPR Art. 7(3)): once withdrawn choices are in the ledger,
//!   [`consent_withdrawn`] plans one connector run per subject for the HTTP services that
//!   declare a `consent_withdrawal` endpoint, with the subject's identities and the purposes;
//! - **the notice of an erasure to its recipients** (Art. 19: "The controller shall
//!   communicate any … erasure of personal data carried out in accordance with Article 17(1)
//!   … to each recipient to whom the personal data have been disclosed, unless this proves
//!   impossible or involves disproportionate effort"): once an erasure is complete,
//!   [`plan_erasure_notice`] plans a run for the services that name a policy recipient and
//!   declare an `erasure_notice` endpoint, and notes on the request who will be told, who
//!   was told by the erasure itself and who has no endpoint (to be told by other means).
//!
//! The call that made the fact durable only plans (a few rows; the identities sealed under
//! the server secret, as every run's): nothing waits for a service. [`deliver_due`] — every
//! [`EVERY`] on every node, each run under its own lease — executes what is due, one attempt
//! per step; a failing step is retried with backoff ([`RETRY`]) by later passes, then marked
//! failed for `custodian datastore runs retry`. Each recipient told is noted on the erasure's
//! history as it happens (sealed under the server's key: the subject's is gone by then).

use std::time::Duration;

use custodian_connectors::run::{self, ExecuteOptions, RetryPolicy, RunKind, RunSpec, StepResult};
use custodian_core::ledger::ConsentEvent;
use custodian_core::request::Action;
use custodian_core::run::StepStatus;
use custodian_core::subject::{SubjectId, SubjectRef};
use custodian_store::requests::RequestRow;

use crate::context::Context;
use crate::error::AppError;
use crate::requests::{self, Sealing};

/// How often a node looks for due background runs.
pub const EVERY: Duration = Duration::from_secs(5);
/// The kinds of run executed here rather than by the call that planned them.
pub const BACKGROUND: [RunKind; 2] = [RunKind::ConsentWithdrawal, RunKind::ErasureNotice];
/// Retries of a failing service: 30 s doubling up to an hour, ten attempts (about five hours).
pub const RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 10,
    base_delay: Duration::from_secs(30),
    max_delay: Duration::from_secs(3600),
};

/// After consent events are durable: one withdrawal run per subject with withdrawn choices,
/// for the services that take withdrawals. `asked` is the subject the caller named and
/// `identity` the identifier it was named by (when the caller gave one); the subject's
/// identities declared by lifecycle events are added. A subject with no identity a service
/// could act on, or a failure to plan, is logged (no personal data) and never fails the
/// consent answer.
pub async fn consent_withdrawn<L>(
    state: &Context,
    asked: SubjectRef,
    identity: Option<&SubjectId>,
    events: &[ConsentEvent<L>],
) {
    let mut withdrawn: Vec<(SubjectRef, Vec<String>)> = Vec::new();
    for e in events.iter().filter(|e| !e.given) {
        match withdrawn.iter_mut().find(|(s, _)| *s == e.subject) {
            Some((_, purposes)) => purposes.push(e.purpose.clone()),
            None => withdrawn.push((e.subject, vec![e.purpose.clone()])),
        }
    }
    if withdrawn.is_empty() {
        return;
    }
    let Some(takers) = state.withdrawal_takers.current(state).await else {
        return;
    };
    // Boxed: planning is a large future, and inline it made every refusal's own future — moved
    // whole at each step up to the connection's task — that much larger (issue 17: `memmove`
    // was 9 % of a refusal's request side where no service takes withdrawals at all).
    Box::pin(plan_withdrawals(state, asked, identity, withdrawn, &takers)).await
}

/// One withdrawal run per subject of `withdrawn`, for `takers` (see [`consent_withdrawn`]).
async fn plan_withdrawals(
    state: &Context,
    asked: SubjectRef,
    identity: Option<&SubjectId>,
    withdrawn: Vec<(SubjectRef, Vec<String>)>,
    takers: &[String],
) {
    for (subject, purposes) in withdrawn {
        let mut ids = declared_identities(state, &subject).await;
        if let Some(id) = identity.filter(|_| subject == asked) {
            let kind = id.kind().as_str().to_owned();
            if !ids.iter().any(|(k, v)| *k == kind && v == id.expose()) {
                ids.insert(0, (kind, id.expose().to_owned()));
            }
        }
        if ids.is_empty() {
            tracing::info!(
                "a consent withdrawal names no identity a service could act on; not passed on"
            );
            continue;
        }
        let spec = RunSpec {
            kind: RunKind::ConsentWithdrawal,
            identities: run::identities(ids.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            corrections: Default::default(),
            datastores: Some(takers.to_vec()),
            dry_run: false,
            request_id: None,
        };
        let planned = run::plan_with(
            &state.store,
            &state.run_keys,
            &spec,
            &state.datastores,
            &purposes,
        )
        .await;
        if let Err(e) = planned {
            tracing::warn!(error = %e, "a consent withdrawal could not be planned for the company's services");
        }
    }
}

/// The datastores that take consent withdrawals, kept in memory: every refusal and withdrawal
/// asks, and reading the registrations each time cost a refusal about 45 % more CPU than the
/// write itself (docs/benchmarks.md). Refreshed when this process registers or removes a
/// datastore (`Store::datastore_changes`, an atomic load), and on a timer ([`REFRESH`], by
/// the consent catch-up pass) for registrations made by the CLI or another node, and for
/// dataset files edited in place.
#[derive(Default)]
pub struct WithdrawalTakers {
    known: std::sync::RwLock<Option<Known>>,
}

/// The takers, and the store's change count they were read at.
struct Known {
    changes: u64,
    read_at: i64,
    takers: std::sync::Arc<Vec<String>>,
}

/// How old the list may grow before a caller reads it again, besides the timer's refresh.
pub const REFRESH: Duration = Duration::from_secs(1);

impl WithdrawalTakers {
    /// The datastores to tell of a withdrawal; `None` when there are none (or they cannot be
    /// read, which is logged), so the common case costs a lock and two loads.
    pub async fn current(&self, state: &Context) -> Option<std::sync::Arc<Vec<String>>> {
        let changes = state.store.datastore_changes();
        let now = state.clock.now_micros();
        let fresh = {
            let known = self.known.read().unwrap_or_else(|e| e.into_inner());
            known
                .as_ref()
                .filter(|k| {
                    k.changes == changes && now - k.read_at < REFRESH.as_micros() as i64 * 2
                })
                .map(|k| k.takers.clone())
        };
        let takers = match fresh {
            Some(t) => t,
            // Boxed for the same reason as the planning (`consent_withdrawn`).
            None => Box::pin(self.refresh(state)).await?,
        };
        (!takers.is_empty()).then_some(takers)
    }

    /// Reads the registrations again (the consent catch-up pass calls this every [`REFRESH`]).
    pub async fn refresh(&self, state: &Context) -> Option<std::sync::Arc<Vec<String>>> {
        // The count before the read: a registration landing during it is read again next time.
        let changes = state.store.datastore_changes();
        let read_at = state.clock.now_micros();
        match run::takers(&state.store, &state.datastores, RunKind::ConsentWithdrawal).await {
            Ok(t) => {
                let takers = std::sync::Arc::new(t);
                *self.known.write().unwrap_or_else(|e| e.into_inner()) = Some(Known {
                    changes,
                    read_at,
                    takers: takers.clone(),
                });
                Some(takers)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the datastores; a consent withdrawal was not passed on");
                None
            }
        }
    }
}

/// The identities the company declared for the subject with lifecycle events, opened under
/// the subject's key (none once the subject is erased).
async fn declared_identities(state: &Context, subject: &SubjectRef) -> Vec<(String, String)> {
    let Ok(sealed) = state.store.subject_identities(&subject.to_hex()).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (kind, value) in sealed {
        if let Ok(v) = state
            .keyring
            .open(&format!("identities/{kind}"), &value)
            .await
        {
            out.push((kind, v));
        }
    }
    out
}

/// A service that names one of the policy's recipients, and how an erasure reaches it.
struct Recipient {
    id: String,
    datastore: String,
    notice: bool,
    erases: bool,
}

/// The recipients the registered services name.
async fn recipients(state: &Context) -> Result<Vec<Recipient>, AppError> {
    let known = run::datastores(&state.store, &state.datastores)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut out = Vec::new();
    for reg in &known {
        let Ok(ds) = run::load_dataset(reg) else {
            continue;
        };
        let Some(id) = ds.http.as_ref().and_then(|h| h.recipient.clone()) else {
            continue;
        };
        out.push(Recipient {
            id,
            datastore: reg.name.clone(),
            notice: custodian_connectors::reach::takes(&ds, RunKind::ErasureNotice),
            erases: custodian_connectors::reach::takes(&ds, RunKind::Erasure),
        });
    }
    Ok(out)
}

/// A recipient as people read it: the policy's name and its id.
fn recipient_name(state: &Context, id: &str) -> String {
    match state.policy.recipients.iter().find(|r| r.id == id) {
        Some(r) => format!("{} ({id})", r.name),
        None => id.to_owned(),
    }
}

/// Plans the Art. 19 notice of a completed erasure (once per request) and notes on it who
/// will be told, who was told by the erasure itself, and which of the policy's recipients
/// has no endpoint. Must run before the subject's key is destroyed (the identities are read
/// from the request). Nothing happens when no registered service names a recipient.
pub async fn plan_erasure_notice(
    state: &Context,
    row: &RequestRow,
) -> Result<Option<String>, AppError> {
    let runs = state.store.runs_of_request(&row.id).await?;
    if runs.iter().any(|r| r.kind == RunKind::ErasureNotice) {
        return Ok(None);
    }
    let services = recipients(state).await?;
    if services.is_empty() {
        return Ok(None);
    }
    let named = |f: &dyn Fn(&Recipient) -> bool| -> Vec<String> {
        services
            .iter()
            .filter(|r| f(r))
            .map(|r| format!("{} through {}", recipient_name(state, &r.id), r.datastore))
            .collect()
    };
    let to_tell = named(&|r| r.notice);
    let by_erasure = named(&|r| r.erases && !r.notice);
    let unreached: Vec<String> = state
        .policy
        .recipients
        .iter()
        .filter(|r| !r.non_personal_only && !services.iter().any(|s| s.id == r.id))
        .map(|r| recipient_name(state, &r.id))
        .collect();
    let mut run_id = None;
    let ids = requests::company::identities_of(state, row)
        .await
        .unwrap_or_default();
    let takers: Vec<String> = services
        .iter()
        .filter(|r| r.notice)
        .map(|r| r.datastore.clone())
        .collect();
    if !takers.is_empty() && !ids.is_empty() {
        let spec = RunSpec {
            kind: RunKind::ErasureNotice,
            identities: run::identities(ids.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            corrections: Default::default(),
            datastores: Some(takers),
            dry_run: false,
            request_id: Some(row.id.clone()),
        };
        let id = run::plan(&state.store, &state.run_keys, &spec, &state.datastores)
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        run_id = Some(id);
    }
    let mut parts = Vec::new();
    match &run_id {
        Some(id) if !to_tell.is_empty() => parts.push(format!(
            "to be told through their endpoint: {} (run {id})",
            to_tell.join(", ")
        )),
        _ if !to_tell.is_empty() => parts.push(format!(
            "cannot be told automatically, no identity of the subject is left: {}",
            to_tell.join(", ")
        )),
        _ => {}
    }
    if !by_erasure.is_empty() {
        parts.push(format!(
            "told by the erasure itself: {}",
            by_erasure.join(", ")
        ));
    }
    if !unreached.is_empty() {
        parts.push(format!(
            "no HTTP endpoint, to be told by other means: {}",
            unreached.join(", ")
        ));
    }
    note(
        state,
        &row.id,
        &format!(
            "GDPR Art. 19 — recipients of the erased data: {}",
            parts.join("; ")
        ),
    )
    .await?;
    Ok(run_id)
}

/// Adds a note to a request's history, sealed under the server's key (an erased subject's
/// own key is gone).
async fn note(state: &Context, request_id: &str, text: &str) -> Result<(), AppError> {
    let row = requests::load(state, request_id).await?;
    requests::transition_sealed(
        state,
        &row,
        Action::Note,
        "system",
        Some(text),
        Sealing::ServerKey,
        |_| {},
    )
    .await?;
    Ok(())
}

/// Executes one background run now: each step due gets one attempt, a failure is left to
/// retry later. Recipients told of an erasure are noted on its request.
pub async fn deliver(state: &Context, run_id: &str) -> Result<(), AppError> {
    let internal = |e: custodian_connectors::ConnectorError| AppError::Internal(e.to_string());
    let before = state.store.run_steps(run_id).await?;
    let holds = |_: &str| -> Option<jiff::civil::Date> { None };
    let mut opts = ExecuteOptions::new(&holds);
    opts.retry = RETRY;
    opts.defer_retries = true;
    opts.configured = state.datastores.clone();
    let outcome = run::execute_run(&state.store, &state.run_keys, run_id, opts)
        .await
        .map_err(internal)?;
    let Some(request_id) = outcome
        .run
        .request_id
        .clone()
        .filter(|_| outcome.run.kind == RunKind::ErasureNotice)
    else {
        return Ok(());
    };
    let services = recipients(state).await?;
    for (step, result) in outcome.steps.iter().zip(outcome.results()) {
        let was_done = before
            .iter()
            .any(|b| b.seq == step.seq && b.status == StepStatus::Done);
        let Some(StepResult::Http(answer)) = result else {
            continue;
        };
        let status = answer.status;
        if was_done || step.status != StepStatus::Done || status == 0 {
            continue;
        }
        let who = services
            .iter()
            .find(|r| r.datastore == step.datastore)
            .map(|r| recipient_name(state, &r.id))
            .unwrap_or_else(|| step.datastore.clone());
        note(
            state,
            &request_id,
            &format!(
                "GDPR Art. 19 — the erasure was communicated to {who} through {} (HTTP {status}, run {run_id})",
                step.datastore
            ),
        )
        .await?;
    }
    Ok(())
}

/// One pass: every background run due now, oldest first. Answers how many were executed;
/// a run another node holds is left to it.
pub async fn deliver_due(state: &Context) -> Result<usize, AppError> {
    let now = state.clock.now_micros();
    let mut executed = 0;
    for id in state.store.due_runs(&BACKGROUND, now, 100).await? {
        match deliver(state, &id).await {
            Ok(()) => executed += 1,
            Err(e) => tracing::warn!(run = %id, error = %e, "a background run did not execute"),
        }
    }
    Ok(executed)
}

/// The background loop's round.
pub async fn deliver_due_job(state: &Context) {
    if let Err(e) = deliver_due(state).await {
        tracing::warn!(error = %e, "delivering background runs failed");
    }
}
