//! Executing a planned run: claim its lease, then for each unfinished step record it as
//! started, execute it on its datastore, and record the result or the exact error, retrying
//! with backoff; finally give the lease back with the run's status.

use custodian_core::run::{RunStatus, StepStatus};
use custodian_store::runs::{DatastoreRecord, HeldRowsRecord, RunRecord, StepRecord};
use custodian_store::Store;

use super::lease::{wait_until, Lease};
use super::{
    connection_url, datastores, held_place, load_dataset, outcome, payload_place, ExecuteOptions,
    Payload, RunKeys, RunKind, RunOutcome, StepResult,
};
use crate::access::{self, AccessSink};
use crate::erase::{self, ChangeReport, Corrections, Operation};
use crate::sql::Db;
use crate::ConnectorError;

/// What every step of one execution shares.
struct Cx<'a> {
    store: &'a Store,
    keys: &'a RunKeys,
    run: &'a RunRecord,
    kind: RunKind,
    payload: &'a Payload,
    known: &'a [DatastoreRecord],
    lease: &'a Lease<'a>,
}

/// Executes a planned run until every step is done or has failed for good, recording each
/// step before and after. Safe to call again on the same run at any time: finished steps are
/// skipped (except for access runs), interrupted ones run again.
pub async fn execute_run(
    store: &Store,
    keys: &RunKeys,
    run_id: &str,
    mut opts: ExecuteOptions<'_>,
) -> Result<RunOutcome, ConnectorError> {
    let run = store
        .run(run_id)
        .await?
        .ok_or_else(|| ConnectorError::Run(format!("no run {run_id}")))?;
    let kind = run.kind;
    let lease = Lease::claim(store, run_id, &opts.owner, opts.lease, opts.take_over).await?;
    let steps = store.run_steps(run_id).await?;
    let pending = steps
        .iter()
        .any(|s| kind == RunKind::Access || !finished(s));
    let payload = open_payload(keys, &run)?;
    let Some(payload) = payload.filter(|_| pending) else {
        return finish_without_payload(store, &lease, run_id, &steps, pending).await;
    };
    let known = datastores(store, &opts.configured).await?;
    let cx = Cx {
        store,
        keys,
        run: &run,
        kind,
        payload: &payload,
        known: &known,
        lease: &lease,
    };
    for step in &steps {
        if kind != RunKind::Access && finished(step) {
            continue;
        }
        run_step(&cx, step, &mut opts).await?;
    }
    let steps = store.run_steps(run_id).await?;
    let done = steps.iter().all(|s| s.status == StepStatus::Done);
    if done {
        store.clear_run_payload(run_id).await?;
    }
    // A step left to retry later (`defer_retries`) keeps the run pending, not failed.
    let deferred = steps.iter().any(|s| s.status == StepStatus::Retrying);
    let status = if deferred && !done {
        RunStatus::Pending
    } else {
        end_status(done)
    };
    lease.release(status).await?;
    outcome(store, run_id).await
}

/// A step that will not run again unless the DPO retries it.
fn finished(step: &StepRecord) -> bool {
    matches!(step.status, StepStatus::Done | StepStatus::Failed)
}

fn end_status(done: bool) -> RunStatus {
    if done {
        RunStatus::Done
    } else {
        RunStatus::Failed
    }
}

fn open_payload(keys: &RunKeys, run: &RunRecord) -> Result<Option<Payload>, ConnectorError> {
    let Some(sealed) = &run.payload else {
        return Ok(None);
    };
    let plain = keys
        .sealer
        .open(sealed, &payload_place(&run.id))
        .map_err(|e| ConnectorError::Run(format!("run {}: {e}", run.id)))?;
    Ok(Some(
        serde_json::from_str(&plain).map_err(|e| ConnectorError::Run(e.to_string()))?,
    ))
}

/// Nothing to execute: every step has finished, or the identifiers are gone (deleted when the
/// run completed), which leaves unfinished steps nothing to run with.
async fn finish_without_payload(
    store: &Store,
    lease: &Lease<'_>,
    run_id: &str,
    steps: &[StepRecord],
    pending: bool,
) -> Result<RunOutcome, ConnectorError> {
    if pending {
        lease.release(RunStatus::Failed).await?;
        return Err(ConnectorError::Run(format!(
            "run {run_id} no longer holds the subject's identifiers (they are deleted when a run completes); plan a new run"
        )));
    }
    let done = steps.iter().all(|s| s.status == StepStatus::Done);
    lease.release(end_status(done)).await?;
    outcome(store, run_id).await
}

/// One step, attempted until it is done or has failed `max_attempts` times, the lease kept
/// meanwhile. `Err` stops the whole execution (the lease was lost, or the store failed).
async fn run_step(
    cx: &Cx<'_>,
    step: &StepRecord,
    opts: &mut ExecuteOptions<'_>,
) -> Result<(), ConnectorError> {
    let (store, run_id) = (cx.store, cx.run.id.as_str());
    let mut attempt = step.attempts as u32;
    loop {
        attempt += 1;
        // Renew before the step; if another node took the run meanwhile, stop here.
        cx.lease.renew().await?;
        store.step_started(run_id, step.seq).await?;
        let idempotency_key = format!("{run_id}:{}", step.seq);
        let step_run = execute_step(cx, &step.datastore, &idempotency_key, opts);
        // A step can outlast the lease (a slow datastore, a large erasure): keep renewing
        // while it runs, and abandon it (its transaction rolls back) once the run is lost.
        let result = tokio::select! {
            r = step_run => r,
            lost = cx.lease.keep() => return Err(lost),
        };
        let message = match result {
            Ok(r) => {
                if let StepResult::Change(report) = &r {
                    if cx.kind == RunKind::Erasure && !cx.run.dry_run {
                        record_held(cx, step.seq, &step.datastore, report).await?;
                    }
                }
                let json = serde_json::to_string(&r).expect("plain data serialises");
                store.step_done(run_id, step.seq, &json).await?;
                tracing::info!(run = run_id, step = step.seq, datastore = %step.datastore, "connector step done");
                return Ok(());
            }
            Err(e) => e.to_string(),
        };
        tracing::warn!(run = run_id, step = step.seq, datastore = %step.datastore, attempt, error = %message, "connector step failed");
        if attempt >= opts.retry.max_attempts {
            store.step_failed(run_id, step.seq, &message, None).await?;
            return Ok(());
        }
        let next = cx.lease.clock().now_micros() + opts.retry.delay(attempt).as_micros() as i64;
        store
            .step_failed(run_id, step.seq, &message, Some(next))
            .await?;
        if opts.defer_retries {
            return Ok(());
        }
        // The backoff keeps the run too; it ends when the clock reaches the next attempt.
        tokio::select! {
            () = wait_until(cx.lease.clock(), next) => {}
            lost = cx.lease.keep() => return Err(lost),
        }
    }
}

/// Records the rows an erasure step kept under each rule, their keys sealed under the server
/// secret (the subject's own key is destroyed by the erasure), with the day the hold ends.
async fn record_held(
    cx: &Cx<'_>,
    seq: i64,
    datastore: &str,
    report: &ChangeReport,
) -> Result<(), ConnectorError> {
    for h in &report.held_rows {
        let id = format!("{}:{seq}:{}", cx.run.id, h.rule);
        let tables = serde_json::to_string(&h.tables).expect("plain data serialises");
        let due_at = h
            .until
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp().as_microsecond());
        cx.store
            .put_held_rows(&HeldRowsRecord {
                sealed_keys: Some(cx.keys.sealer.seal(&tables, &held_place(&id))),
                id,
                subject_ref: cx.run.subject_ref.clone(),
                request_id: cx.run.request_id.clone(),
                datastore: datastore.to_owned(),
                rule: h.rule.clone(),
                due_at,
                created_at: cx.lease.clock().now_micros(),
                done_at: None,
            })
            .await?;
    }
    Ok(())
}

/// Executes one step on its datastore: over HTTP for a service, else in one transaction on
/// its database.
async fn execute_step(
    cx: &Cx<'_>,
    name: &str,
    idempotency_key: &str,
    opts: &mut ExecuteOptions<'_>,
) -> Result<StepResult, ConnectorError> {
    let reg = cx
        .known
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| ConnectorError::UnknownDatastore(name.to_owned()))?;
    let ds = load_dataset(reg)?;
    let url = connection_url(reg, &ds)?;
    if ds.http.is_some() {
        return execute_http(cx, name, &ds, &url, idempotency_key, opts).await;
    }
    if crate::redis::is_redis(&ds) {
        let sink: Option<&mut dyn AccessSink> = match opts.sink.as_mut() {
            Some(s) if cx.kind == RunKind::Access => Some(&mut **s),
            _ => None,
        };
        let (p, run) = (cx.payload, cx.run);
        return crate::redis::step(
            &url,
            &ds,
            cx.kind,
            &p.identities,
            &p.corrections,
            &cx.keys.hash_key,
            opts.holds,
            run.dry_run,
            sink,
        )
        .await;
    }
    let db = Db::connect(&url).await?;
    let (identities, dry_run) = (&cx.payload.identities, cx.run.dry_run);
    let result = match cx.kind {
        RunKind::Access => {
            let mut discard = |_: &access::AccessRecord<'_>| Ok(());
            let sink: &mut dyn AccessSink = match opts.sink.as_deref_mut() {
                Some(s) => s,
                None => &mut discard,
            };
            access::access(&db, &ds, identities, sink)
                .await
                .map(StepResult::Access)
        }
        RunKind::Erasure => {
            let erase = Operation::Erase {
                hash_key: &cx.keys.hash_key,
                holds: opts.holds,
            };
            erase::apply(&db, &ds, identities, erase, dry_run)
                .await
                .map(StepResult::Change)
        }
        RunKind::Rectification => {
            let mine: Corrections = cx
                .payload
                .corrections
                .iter()
                .filter(|(k, _)| {
                    k.split_once('.')
                        .is_some_and(|(t, _)| ds.table(t).is_some())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            erase::apply(&db, &ds, identities, Operation::Rectify(&mine), dry_run)
                .await
                .map(StepResult::Change)
        }
        RunKind::Restriction | RunKind::RestrictionLift => {
            let restricted = cx.kind == RunKind::Restriction;
            crate::restrict::apply(&db, &ds, identities, restricted, dry_run)
                .await
                .map(StepResult::Change)
        }
        other => Err(ConnectorError::Run(format!(
            "datastore {name} is a database, which takes no {} (only an HTTP service that declares an endpoint for it does)",
            other.as_str()
        ))),
    };
    db.close().await;
    result
}

/// A step on a company service reached over HTTP, with signed requests.
async fn execute_http(
    cx: &Cx<'_>,
    name: &str,
    ds: &crate::dataset::Dataset,
    url: &str,
    idempotency_key: &str,
    opts: &mut ExecuteOptions<'_>,
) -> Result<StepResult, ConnectorError> {
    let http = ds.http.as_ref().expect("the caller checked");
    let secret = std::env::var(&http.secret_env).map_err(|_| {
        ConnectorError::Config(format!(
            "the environment variable {} (signing secret of {name}) is not set",
            http.secret_env
        ))
    })?;
    let corrections = (cx.kind == RunKind::Rectification).then_some(&cx.payload.corrections);
    let sink: Option<&mut dyn AccessSink> = match opts.sink.as_mut() {
        Some(s) if cx.kind == RunKind::Access => Some(&mut **s),
        _ => None,
    };
    if !crate::reach::takes(ds, cx.kind) {
        return Err(ConnectorError::Run(format!(
            "the service {name} declares no endpoint for {}",
            cx.kind.as_str()
        )));
    }
    // A notice about someone the service knows by none of the identities at hand (a device
    // id, for a service that knows e-mails) is not sent: it could not act on it.
    if !cx.kind.is_classic()
        && crate::http::filtered(ds, &cx.payload.identities)
            .values()
            .all(Vec::is_empty)
    {
        return Ok(StepResult::Http(crate::http::HttpAnswer {
            status: 0,
            body: "not sent: no identity of a kind the service takes".into(),
        }));
    }
    let answer = crate::http::call(
        &crate::reach::endpoint_url(ds, url, cx.kind),
        secret.as_bytes(),
        cx.store.clock().now_micros() / 1_000_000,
        ds,
        cx.kind.as_str(),
        idempotency_key,
        &cx.payload.identities,
        corrections,
        &cx.payload.purposes,
        cx.run.dry_run,
        sink,
    )
    .await?;
    Ok(StepResult::Http(answer))
}
