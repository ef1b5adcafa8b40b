//! What the console's pages read besides the overview (`overview.rs`) and the queue
//! (`requests::views`): a person's consent history, the ledger's verification, the company's
//! datastores and recent runs, a request's runs with their steps, and recent retention
//! purges. The HTTP edge calls these and never the store (ARCHITECTURE.md: a handler calls one
//! use case and answers).

use custodian_core::ledger::ConsentEvent;
use custodian_core::subject::SubjectRef;
use custodian_store::retention::PurgeRecord;
use custodian_store::runs::{DatastoreRecord, RunRecord, StepRecord};
use custodian_store::verify::Report;

use crate::context::Context;
use crate::error::AppError;

/// Every consent event of `subject`, oldest first, as the ledger holds them.
pub async fn consent_history(
    ctx: &Context,
    subject: &SubjectRef,
) -> Result<Vec<ConsentEvent>, AppError> {
    Ok(ctx.store.subject_events(subject).await?)
}

/// Walks every chain of the consent ledger and checks its checkpoints, now.
pub async fn verify_ledger(ctx: &Context) -> Result<Report, AppError> {
    Ok(ctx.store.verify_ledger(|_, _| {}).await?)
}

/// The company's datastores and their most recent runs.
pub struct Datastores {
    /// Registered ones (`custodian datastore add`) first, then those only named in the config
    /// file (their `created_at` is 0).
    pub stores: Vec<DatastoreRecord>,
    /// The newest runs first.
    pub runs: Vec<RunRecord>,
}

/// The datastores Custodian knows and the newest `runs` runs.
pub async fn datastores(ctx: &Context, runs: i64) -> Result<Datastores, AppError> {
    let (mut stores, runs) = tokio::try_join!(ctx.store.datastores(), ctx.store.runs(None, runs))?;
    let configured: Vec<DatastoreRecord> = ctx
        .datastores
        .iter()
        .filter(|c| !stores.iter().any(|s| s.name == c.name))
        .map(|c| DatastoreRecord {
            created_at: 0,
            ..c.clone()
        })
        .collect();
    stores.extend(configured);
    Ok(Datastores { stores, runs })
}

/// A request's datastore runs, oldest first, each with its steps in order.
pub async fn request_runs(
    ctx: &Context,
    request_id: &str,
) -> Result<Vec<(RunRecord, Vec<StepRecord>)>, AppError> {
    let mut out = Vec::new();
    for run in ctx.store.runs_of_request(request_id).await? {
        let steps = ctx.store.run_steps(&run.id).await?;
        out.push((run, steps));
    }
    Ok(out)
}

/// The newest `limit` retention purges.
pub async fn purges(ctx: &Context, limit: i64) -> Result<Vec<PurgeRecord>, AppError> {
    Ok(ctx.store.purges(None, limit).await?)
}
