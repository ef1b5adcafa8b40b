//! Requests carried into the company's own datastores through the connectors: access reads
//! every registered datastore into the export, erasure runs there before the request is
//! completed, and what stays under a legal hold is told to the requester with the date it goes.
//!
//! Each run is recorded step by step by the connectors (see docs/datasets.md), so a run that
//! fails is visible to the DPO with its exact error and can be retried
//! (`custodian datastore runs retry`); the request then stays `in_progress`.

use std::time::Duration;

use custodian_connectors::erase::PolicyHolds;
use custodian_connectors::run::{self, ExecuteOptions, RetryPolicy, RunKind, RunSpec, StepResult};
use custodian_store::requests::RequestRow;

use crate::error::ApiError;
use crate::state::AppState;

/// Whether any company datastore is registered.
pub async fn any(state: &AppState) -> Result<bool, ApiError> {
    let all = run::datastores(&state.store, &state.datastores)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(!all.is_empty())
}

fn today(state: &AppState) -> jiff::civil::Date {
    custodian_core::clock::timestamp(state.clock.now_micros())
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

fn spec(row: &RequestRow, email: &str, kind: RunKind) -> RunSpec {
    RunSpec {
        kind,
        identities: run::identities([("email", email)]),
        corrections: Default::default(),
        datastores: None,
        dry_run: false,
        request_id: Some(row.id.clone()),
    }
}

/// Every personal record the company's datastores hold about the requester, as JSON values
/// (datastore, category, table, key, fields). Empty when nothing is registered or the
/// address is gone.
pub async fn access(
    state: &AppState,
    row: &RequestRow,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let Some(email) = super::email_of(state, row).await else {
        return Ok(Vec::new());
    };
    if !any(state).await? {
        return Ok(Vec::new());
    }
    let keys = &state.run_keys;
    let holds = PolicyHolds {
        policy: &state.policy,
        anchor: today(state),
    };
    let mut records = Vec::new();
    let mut sink = |r: &custodian_connectors::access::AccessRecord<'_>| {
        records.push(serde_json::to_value(r).unwrap_or_default());
        Ok(())
    };
    let mut opts = ExecuteOptions::new(&holds);
    opts.retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
    };
    opts.sink = Some(&mut sink);
    run::run_now(
        &state.store,
        keys,
        &spec(row, &email, RunKind::Access),
        opts,
    )
    .await
    .map_err(|e| ApiError::Internal(format!("access run for {}: {e}", row.id)))?;
    Ok(records)
}

/// What an erasure left behind under legal holds, in words for the requester.
pub struct Erased {
    pub rows_changed: u64,
    pub kept: Vec<String>,
}

/// Runs the erasure in every registered datastore.
pub async fn erase(state: &AppState, row: &RequestRow) -> Result<Erased, String> {
    let Some(email) = super::email_of(state, row).await else {
        return Ok(Erased {
            rows_changed: 0,
            kept: Vec::new(),
        });
    };
    let keys = &state.run_keys;
    let holds = PolicyHolds {
        policy: &state.policy,
        anchor: today(state),
    };
    let mut opts = ExecuteOptions::new(&holds);
    opts.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(5),
    };
    let outcome = run::run_now(
        &state.store,
        keys,
        &spec(row, &email, RunKind::Erasure),
        opts,
    )
    .await
    .map_err(|e| e.to_string())?;
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
