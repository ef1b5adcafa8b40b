//! Requests carried into the company's own datastores through the connectors: access reads
//! every registered datastore (before the request completes, and again for each export),
//! erasure runs there before the request is completed, and what stays under a legal hold is
//! told to the requester with the date it goes — and recorded, by the connectors, for the
//! retention job to let go then.
//!
//! Each run is recorded step by step by the connectors (see docs/datasets.md). A run that
//! fails keeps the request `in_progress` with the run's exact error in its history; the DPO
//! can retry (`custodian datastore runs retry`, or simply `complete`, which retries the
//! request's failed run) and the request completes only once every datastore has answered.
//!
//! When a hold ends: the rule's period counts from the subject's anchor in Custodian's
//! lifecycle records — for `accounting_records` (`anchor = "account_closed"`) the day the
//! account was closed, as `POST /v1/subjects/events` reported it — and, when no such event is
//! on record, from the erasure itself (the account ends with it).

use custodian_core::run::{RunStatus, StepStatus};
use std::collections::HashMap;
use std::time::Duration;

use custodian_connectors::access::AccessSink;
use custodian_connectors::erase::HoldDates;
use custodian_connectors::run::{
    self, ExecuteOptions, RetryPolicy, RunKind, RunOutcome, RunSpec, StepResult,
};
use custodian_connectors::ConnectorError;
use custodian_core::retention::{date_of, SubjectFacts};
use custodian_store::requests::RequestRow;

use crate::context::Context;
use crate::error::AppError;

/// Whether any company datastore is registered.
pub async fn any(state: &Context) -> Result<bool, AppError> {
    let all = run::datastores(&state.store, &state.datastores)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(!all.is_empty())
}

/// The datastores a run of `kind` has a step on (an HTTP service that declares other
/// endpoints takes no access or erasure, a database no objection).
pub async fn takers(state: &Context, kind: RunKind) -> Result<Vec<String>, AppError> {
    run::takers(&state.store, &state.datastores, kind)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// When each rule's hold ends for one subject (see the module's notes).
struct SubjectHolds<'a> {
    state: &'a Context,
    facts: SubjectFacts,
    now: i64,
}

impl HoldDates for SubjectHolds<'_> {
    fn hold_until(&self, rule: &str) -> Option<jiff::civil::Date> {
        self.state
            .retention
            .rules
            .hold_due(rule, &self.facts, self.now)
            .map(date_of)
    }
}

async fn subject_holds<'a>(
    state: &'a Context,
    row: &RequestRow,
) -> Result<SubjectHolds<'a>, String> {
    let events = state
        .store
        .lifecycle_events(&row.subject_ref)
        .await
        .map_err(|e| e.to_string())?;
    Ok(SubjectHolds {
        state,
        facts: SubjectFacts {
            subject_ref: row.subject_ref.clone(),
            lifecycle: events
                .iter()
                .filter_map(crate::retention::event_of)
                .collect(),
            consent: HashMap::new(),
        },
        now: state.clock.now_micros(),
    })
}

pub(super) fn spec(row: &RequestRow, ids: &[(String, String)], kind: RunKind) -> RunSpec {
    RunSpec {
        kind,
        identities: run::identities(ids.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        corrections: Default::default(),
        datastores: None,
        dry_run: false,
        request_id: Some(row.id.clone()),
    }
}

/// Executes the request's failed run of `kind` again, if it has one (the DPO's retry), or
/// plans and executes a new one.
async fn execute(
    state: &Context,
    row: &RequestRow,
    ids: &[(String, String)],
    kind: RunKind,
    opts: ExecuteOptions<'_>,
) -> Result<RunOutcome, ConnectorError> {
    execute_spec(state, row, spec(row, ids, kind), &[], opts).await
}

/// [`execute`] for a spec of the caller's (corrections, datastores) and the purposes of an
/// objection; a new run is planned only when no failed one of the kind is left to retry.
pub(super) async fn execute_spec(
    state: &Context,
    row: &RequestRow,
    spec: RunSpec,
    purposes: &[String],
    mut opts: ExecuteOptions<'_>,
) -> Result<RunOutcome, ConnectorError> {
    let kind = spec.kind;
    opts.configured = state.datastores.clone();
    let failed = state
        .store
        .runs_of_request(&row.id)
        .await?
        .into_iter()
        .rev()
        .find(|r| r.kind == kind && r.status == RunStatus::Failed && r.payload.is_some());
    match failed {
        Some(r) => {
            run::retry(&state.store, &r.id, None).await?;
            run::execute_run(&state.store, &state.run_keys, &r.id, opts).await
        }
        None => {
            let (store, keys) = (&state.store, &state.run_keys);
            let id = run::plan_with(store, keys, &spec, &opts.configured, purposes).await?;
            run::execute_run(store, keys, &id, opts).await
        }
    }
}

/// The exact errors of a run that did not finish, for the DPO: datastore, run, step, error.
pub(super) fn failure(outcome: &RunOutcome) -> Option<String> {
    if outcome.run.status == RunStatus::Done {
        return None;
    }
    let steps: Vec<String> = outcome
        .steps
        .iter()
        .filter(|s| s.status != StepStatus::Done)
        .map(|s| {
            format!(
                "{} (run {}, step {}): {}",
                s.datastore,
                outcome.run.id,
                s.seq,
                s.last_error.as_deref().unwrap_or(s.status.as_str())
            )
        })
        .collect();
    Some(steps.join("; "))
}

/// Reads every datastore for the requester into `sink` (`None`: read and discard, to learn
/// that every datastore answers). `Err` carries the exact errors of the datastores that
/// failed: an export is never silently missing the company's data.
pub async fn access_run(
    state: &Context,
    row: &RequestRow,
    sink: Option<&mut dyn AccessSink>,
) -> Result<(), String> {
    let Some(email) = super::email_of(state, row).await else {
        return Ok(());
    };
    let takers = takers(state, RunKind::Access)
        .await
        .map_err(|e| e.to_string())?;
    if takers.is_empty() {
        return Ok(());
    }
    // Access keeps nothing under a hold; the dates are never asked for.
    let holds = |_: &str| -> Option<jiff::civil::Date> { None };
    let mut opts = ExecuteOptions::new(&holds);
    opts.retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
    };
    opts.sink = match sink {
        Some(s) => Some(s),
        None => None,
    };
    let ids = [("email".to_owned(), email)];
    let outcome = execute(state, row, &ids, RunKind::Access, opts)
        .await
        .map_err(|e| e.to_string())?;
    match failure(&outcome) {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

/// Who an erasure looks for: the requester's address, and the identifiers the company's
/// service gave with the subject's lifecycle events (a child declared by `user_id` has no
/// address on the request; `POST /v1/subjects/events` kept the id sealed under its key).
pub(crate) async fn identities_of(
    state: &Context,
    row: &RequestRow,
) -> Result<Vec<(String, String)>, String> {
    let mut ids = Vec::new();
    if let Some(email) = super::email_of(state, row).await {
        ids.push(("email".to_owned(), email));
    }
    let sealed = state
        .store
        .subject_identities(&row.subject_ref)
        .await
        .map_err(|e| e.to_string())?;
    for (kind, value) in sealed {
        if ids.iter().any(|(k, _)| *k == kind) {
            continue;
        }
        if let Ok(v) = state
            .keyring
            .open(&format!("identities/{kind}"), &value)
            .await
        {
            ids.push((kind, v));
        }
    }
    Ok(ids)
}

/// What an erasure left behind under legal holds, in words for the requester.
pub struct Erased {
    pub rows_changed: u64,
    pub kept: Vec<String>,
}

/// Runs the erasure in every registered datastore. `Err` carries the exact errors of the
/// datastores that failed.
pub async fn erase(state: &Context, row: &RequestRow) -> Result<Erased, String> {
    let ids = identities_of(state, row).await?;
    if ids.is_empty() {
        return Ok(Erased {
            rows_changed: 0,
            kept: Vec::new(),
        });
    }
    let holds = subject_holds(state, row).await?;
    let mut opts = ExecuteOptions::new(&holds);
    opts.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(5),
    };
    let outcome = execute(state, row, &ids, RunKind::Erasure, opts)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(f) = failure(&outcome) {
        return Err(f);
    }
    let mut erased = Erased {
        rows_changed: 0,
        kept: Vec::new(),
    };
    for result in outcome.results().into_iter().flatten() {
        if let StepResult::Change(report) = result {
            erased.rows_changed += report.changes.iter().map(|c| c.rows).sum::<u64>();
            for h in report.holds {
                erased.kept.push(format!(
                    "{}.{} (rule {}) until {}",
                    h.table,
                    h.field,
                    h.rule,
                    h.until.clone().unwrap_or_else(|| "further notice".into())
                ));
            }
        }
    }
    Ok(erased)
}
