//! Rectification, restriction and objection carried into the company's own systems through
//! the connectors, as part of the request (access and erasure are `company.rs`):
//!
//! - **rectification** (GDPR Art. 16): the corrections the DPO approves with the request
//!   (`corrections`: `table.field` → value) are applied to the subject's rows of every
//!   datastore that lists the field, and to services that take rectification; the request
//!   completes once every datastore has answered;
//! - **restriction** (Art. 18): while in force (from approval until its announced lift
//!   completes it, `lift.rs`) the subject's rows are marked where a dataset names a
//!   restriction column, and services that declare a `restriction` endpoint are told; the
//!   marks are cleared the same way when it ends;
//! - **objection** (Art. 21): services that declare an `objection` endpoint are told the
//!   subject's identities and every purpose the objection stops.
//!
//! Each is a connector run recorded against the request. A run that fails keeps the request
//! `in_progress` with the run's exact error in its history, and completing the request again
//! retries it (the deny of a restriction, which must not wait, records the error and the
//! command that retries instead). Only field names and counts reach the history, never values.

use std::collections::BTreeMap;
use std::time::Duration;

use custodian_connectors::erase::Corrections;
use custodian_connectors::run::{
    self, ExecuteOptions, RetryPolicy, RunKind, RunOutcome, StepResult,
};
use custodian_core::request::{Action, Kind, Status};
use custodian_store::requests::RequestRow;

use super::company::{execute_spec, failure, identities_of, spec, takers};
use super::execute::complete;
use super::{transition, ActionBody};
use crate::context::Context;
use crate::error::AppError;

/// The longest corrected value taken.
const MAX_VALUE: usize = 2000;

/// The corrections sent with an action, checked: only for a rectification, each value at
/// most 2,000 characters, each target (`corrections.<table.field>`, or `pattern.field` on
/// Redis) a personal field of a registered datastore — any name goes when a service takes
/// rectification itself.
pub async fn corrections(
    state: &Context,
    row: &RequestRow,
    body: &ActionBody,
) -> Result<Option<Corrections>, AppError> {
    let Some(given) = &body.corrections else {
        return Ok(None);
    };
    if row.kind != Kind::Rectification {
        return Err(AppError::invalid(
            "invalid_field",
            "`corrections` belongs to a rectification only",
        ));
    }
    if given.is_empty() {
        return Err(AppError::invalid(
            "invalid_field",
            "`corrections` names no field",
        ));
    }
    let mut out = BTreeMap::new();
    for (target, value) in given {
        if value.chars().count() > MAX_VALUE {
            return Err(AppError::invalid(
                "invalid_correction",
                format!("corrections.{target}: at most {MAX_VALUE} characters"),
            ));
        }
        out.insert(target.trim().to_owned(), value.clone());
    }
    check_targets(state, &out).await?;
    Ok(Some(out))
}

/// Checks the targets against the datastores' datasets (see [`corrections`]).
async fn check_targets(state: &Context, c: &Corrections) -> Result<(), AppError> {
    let known = run::datastores(&state.store, &state.datastores)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut fields = Vec::new();
    let mut service = false;
    for reg in &known {
        let Ok(ds) = run::load_dataset(reg) else {
            continue;
        };
        if ds.http.is_some() {
            service |= custodian_connectors::reach::takes(&ds, RunKind::Rectification);
            continue;
        }
        for t in &ds.tables {
            for f in t.fields.iter().filter(|f| f.is_personal()) {
                fields.push(format!("{}.{}", t.name, f.name));
            }
        }
        // A Redis datastore's targets are `pattern.field`.
        for k in &ds.keys {
            for f in k.fields.iter().filter(|f| f.is_personal()) {
                fields.push(format!("{}.{}", k.pattern, f.name));
            }
        }
    }
    if service {
        return Ok(());
    }
    fields.sort();
    fields.dedup();
    for target in c.keys() {
        if !fields.contains(target) {
            let known = if fields.is_empty() {
                "no datastore is registered".to_owned()
            } else {
                format!("they are: {}", fields.join(", "))
            };
            return Err(AppError::invalid(
                "unknown_correction_target",
                format!("corrections.{target}: not a personal field of any registered datastore; {known}"),
            ));
        }
    }
    Ok(())
}

/// Whether completing a request of `kind` first has the company's systems act (rectification
/// with corrections, lifting a restriction, an objection left in progress).
pub fn completes_through_company(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Rectification | Kind::Restriction | Kind::Objection
    )
}

/// Runs `kind` for the request in every datastore that takes it and answers what happened in
/// words for the history; `Ok(None)` when none takes it; `Err` carries the run's exact errors.
async fn reach(
    state: &Context,
    row: &RequestRow,
    kind: RunKind,
    corrections: Corrections,
    purposes: &[String],
) -> Result<Option<String>, String> {
    let takers = takers(state, kind).await.map_err(|e| e.to_string())?;
    if takers.is_empty() {
        return Ok(None);
    }
    let ids = identities_of(state, row).await?;
    if ids.is_empty() {
        return Err("the request holds no identity of the subject any more".into());
    }
    if !corrections.is_empty() {
        supersede_failed(state, row, kind)
            .await
            .map_err(|e| e.to_string())?;
    }
    let holds = |_: &str| -> Option<jiff::civil::Date> { None };
    let mut opts = ExecuteOptions::new(&holds);
    opts.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(5),
    };
    let mut spec = spec(row, &ids, kind);
    spec.corrections = corrections;
    spec.datastores = Some(takers);
    let outcome = execute_spec(state, row, spec, purposes, opts)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(f) = failure(&outcome) {
        return Err(f);
    }
    Ok(Some(summary(&outcome)))
}

/// What a finished run did, per datastore: fields and row counts, or the service's status.
fn summary(outcome: &RunOutcome) -> String {
    let mut parts = Vec::new();
    for (step, result) in outcome.steps.iter().zip(outcome.results()) {
        match result {
            Some(StepResult::Change(r)) => {
                let changes: Vec<String> = r
                    .changes
                    .iter()
                    .map(|c| {
                        format!(
                            "{}.{} ({} row{})",
                            c.table,
                            c.field.as_deref().unwrap_or("*"),
                            c.rows,
                            if c.rows == 1 { "" } else { "s" }
                        )
                    })
                    .collect();
                let what = if changes.is_empty() {
                    "nothing to change".to_owned()
                } else {
                    changes.join(", ")
                };
                parts.push(format!("{}: {what}", step.datastore));
            }
            Some(StepResult::Http(a)) if a.status == 0 => {
                parts.push(format!("{}: {}", step.datastore, a.body))
            }
            Some(StepResult::Http(a)) => {
                parts.push(format!("{}: told (HTTP {})", step.datastore, a.status))
            }
            _ => parts.push(format!("{}: done", step.datastore)),
        }
    }
    format!("{} (run {})", parts.join("; "), outcome.run.id)
}

/// Applies a rectification's corrections; the words for the history.
pub async fn rectify(
    state: &Context,
    row: &RequestRow,
    corrections: &Corrections,
) -> Result<Option<String>, String> {
    reach(state, row, RunKind::Rectification, corrections.clone(), &[])
        .await
        .map(|t| t.map(|t| format!("corrected in the company's systems: {t}")))
}

/// Marks (`in_force`) or clears the subject's restriction in the company's systems.
pub async fn restrict(
    state: &Context,
    row: &RequestRow,
    in_force: bool,
) -> Result<Option<String>, String> {
    let (kind, words) = if in_force {
        (RunKind::Restriction, "restriction marked")
    } else {
        (RunKind::RestrictionLift, "restriction lifted")
    };
    reach(state, row, kind, Corrections::new(), &[])
        .await
        .map(|t| t.map(|t| format!("{words} in the company's systems: {t}")))
}

/// Tells the services that take objections the purposes the objection stops.
pub async fn object(
    state: &Context,
    row: &RequestRow,
    purposes: &[String],
) -> Result<Option<String>, String> {
    reach(state, row, RunKind::Objection, Corrections::new(), purposes)
        .await
        .map(|t| t.map(|t| format!("objection sent to the company's systems: {t}")))
}

/// Every purpose an objection stops: those it names, and direct marketing (Art. 21(2)-(3)).
pub fn objected_purposes(state: &Context, named: Vec<String>) -> Vec<String> {
    let mut purposes = named;
    for p in state
        .policy
        .consent_purposes()
        .filter(|p| p.is_direct_marketing())
    {
        if !purposes.contains(&p.id) {
            purposes.push(p.id.clone());
        }
    }
    purposes
}

/// Whether another restriction of the subject is still in force (its marks must stay).
async fn other_restriction(state: &Context, row: &RequestRow) -> Result<Option<String>, AppError> {
    Ok(state
        .store
        .requests_of_subject(&row.subject_ref)
        .await?
        .into_iter()
        .find(|r| {
            r.id != row.id
                && r.kind == Kind::Restriction
                && matches!(r.status, Status::Approved | Status::InProgress)
        })
        .map(|r| r.id))
}

/// The DPO completes a rectification, a restriction or an objection: the company's systems
/// act first (the corrections given now, or a failed run retried; the restriction lifted;
/// the objection sent), and only then is the request completed. A failure keeps it in
/// progress with the exact error.
pub async fn complete_request(
    state: &Context,
    row: RequestRow,
    actor: &str,
    corrections: Option<Corrections>,
) -> Result<RequestRow, AppError> {
    if custodian_core::request::next(row.status, Action::Complete).is_err() {
        return complete(state, &row, actor, None).await;
    }
    let outcome = match row.kind {
        Kind::Rectification => match corrections {
            Some(c) => rectify(state, &row, &c).await,
            // Without corrections only a failed run is retried; else the DPO applied it.
            None if failed_run(state, &row, RunKind::Rectification).await? => {
                rectify(state, &row, &Corrections::new()).await
            }
            None => Ok(None),
        },
        Kind::Restriction => match other_restriction(state, &row).await? {
            Some(other) => Ok(Some(format!(
                "restriction kept in the company's systems: request {other} still restricts"
            ))),
            None => restrict(state, &row, false).await,
        },
        Kind::Objection => {
            let named = state.store.objection_purposes(&row.id).await?;
            let purposes = objected_purposes(state, named);
            object(state, &row, &purposes).await
        }
        _ => Ok(None),
    };
    match outcome {
        Ok(told) => complete(state, &row, actor, told.as_deref()).await,
        Err(err) => stay_in_progress(state, &row, &err).await,
    }
}

/// New corrections replace those of a failed run: its sealed identities and corrections are
/// dropped, so it is never retried with the old values.
async fn supersede_failed(
    state: &Context,
    row: &RequestRow,
    kind: RunKind,
) -> Result<(), AppError> {
    for r in state.store.runs_of_request(&row.id).await? {
        if r.kind == kind && r.payload.is_some() && r.status.as_str() == "failed" {
            state.store.clear_run_payload(&r.id).await?;
        }
    }
    Ok(())
}

async fn failed_run(state: &Context, row: &RequestRow, kind: RunKind) -> Result<bool, AppError> {
    Ok(state
        .store
        .runs_of_request(&row.id)
        .await?
        .iter()
        .any(|r| r.kind == kind && r.payload.is_some() && r.status.as_str() == "failed"))
}

/// The request stays (or is put) in progress with the run's exact errors in its history.
pub async fn stay_in_progress(
    state: &Context,
    row: &RequestRow,
    err: &str,
) -> Result<RequestRow, AppError> {
    let detail = format!(
        "company datastores failed: {err}; fix the datastore, then complete the request again (it retries the failed run)"
    );
    let action = if row.status == Status::Approved {
        Action::Start
    } else {
        Action::Note
    };
    transition(state, row, action, "system", Some(&detail), |_| {}).await
}

/// Approving a rectification with corrections applies them and completes it; approving a
/// restriction marks the subject's rows. The request as it ends up.
pub async fn approved_rectification(
    state: &Context,
    approved: RequestRow,
    corrections: Option<&Corrections>,
) -> Result<RequestRow, AppError> {
    let Some(c) = corrections else {
        return transition(state, &approved, Action::Start, "system", None, |_| {}).await;
    };
    match rectify(state, &approved, c).await {
        Ok(told) => complete(state, &approved, "system", told.as_deref()).await,
        Err(err) => stay_in_progress(state, &approved, &err).await,
    }
}

/// A restriction comes into force: the marks go into the company's systems, and the request
/// is in progress either way (the restriction holds in Custodian from approval); a failure is
/// in the history with the command that retries the run.
pub async fn approved_restriction(
    state: &Context,
    approved: RequestRow,
) -> Result<RequestRow, AppError> {
    let detail = match restrict(state, &approved, true).await {
        Ok(told) => told,
        Err(err) => Some(retry_hint("marking the restriction", &err)),
    };
    transition(
        state,
        &approved,
        Action::Start,
        "system",
        detail.as_deref(),
        |_| {},
    )
    .await
}

/// A denied restriction ends: its marks are cleared (unless another restriction of the
/// subject is in force). A failure is noted with the command that retries the run; the
/// denial itself stands.
pub async fn after_deny(
    state: &Context,
    before: &RequestRow,
    denied: RequestRow,
) -> Result<RequestRow, AppError> {
    let was_in_force = matches!(before.status, Status::Approved | Status::InProgress);
    if denied.kind != Kind::Restriction || !was_in_force {
        return Ok(denied);
    }
    if other_restriction(state, &denied).await?.is_some() {
        return Ok(denied);
    }
    let detail = match restrict(state, &denied, false).await {
        Ok(None) => return Ok(denied),
        Ok(Some(told)) => told,
        Err(err) => retry_hint("lifting the restriction", &err),
    };
    transition(
        state,
        &denied,
        Action::Note,
        "system",
        Some(&detail),
        |_| {},
    )
    .await
}

fn retry_hint(what: &str, err: &str) -> String {
    format!(
        "company datastores failed {what}: {err}; once fixed, `custodian datastore runs retry <run>` runs it again"
    )
}
