//! Runs: an access, erasure, rectification — or a restriction marked or lifted, an objection,
//! a consent withdrawal, an erasure told to a recipient — over the datastores that take it
//! (`crate::reach::takes`), as a durable job.
//!
//! [`plan`] records the run and one pending step per datastore, with the subject's
//! identifiers sealed under the server secret (the store never holds them in clear).
//! [`execute_run`] claims the run's lease — the leased job `connector_run:<run id>` in the
//! store's `jobs` table, renewed while a step executes; when a claim or a renewal fails another
//! node has the run and this one stops — then for each unfinished
//! step records it as started, executes it, and records the result or the exact error. A
//! failing step is retried with exponential backoff up to `max_attempts`, then marked
//! `failed` while the other datastores go on; the DPO can retry it ([`retry`]) and execute
//! again. A node killed mid-step leaves the step `running`; the next execution simply runs it
//! again — one transaction per datastore and idempotent strategies make that safe, so a
//! resumed run ends exactly where an uninterrupted one would. When a run is done its sealed
//! identifiers are deleted. An erasure step records the rows it kept under a legal hold (their
//! primary keys, sealed under the server secret) so that [`Expirer::expire_held`] can let them
//! go when the hold ends, without the subject's identifiers.
//!
//! Access runs re-read every datastore on each execution, because the export goes to the
//! caller's writer, which does not survive a crash.
//!
//! The parts: [`keys`] (what a run derives from the server secret), [`execute`] (one
//! execution, step by step), [`lease`] (the run's leased job, and waiting on the store's
//! clock), [`expire`] (the retention job's use of the datastores).

mod execute;
mod expire;
mod keys;
mod lease;

pub use execute::execute_run;
pub use expire::Expirer;
pub use keys::RunKeys;

use std::collections::BTreeMap;
use std::time::Duration;

use custodian_store::runs::{DatastoreRecord, NewRun, RunRecord, StepRecord};
use custodian_store::Store;
use serde::{Deserialize, Serialize};

use crate::access::{AccessSink, AccessSummary};
use crate::dataset::Dataset;
use crate::erase::{ChangeReport, Corrections, HoldDates};
use crate::graph::Identities;
use crate::ConnectorError;

/// The kind of run (defined in core, where the store reads it too).
pub use custodian_core::run::RunKind;

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub kind: RunKind,
    pub identities: Identities,
    /// For rectification: `table.field` → corrected value.
    pub corrections: Corrections,
    /// The datastores, in order; `None` for every registered one (by name).
    pub datastores: Option<Vec<String>>,
    pub dry_run: bool,
    /// The data-subject request this run serves, if any.
    pub request_id: Option<String>,
}

/// The sealed part of a run: who it is about, the corrections of a rectification, and the
/// purposes of an objection or a consent withdrawal.
#[derive(Serialize, Deserialize)]
struct Payload {
    identities: Identities,
    #[serde(default)]
    corrections: Corrections,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    purposes: Vec<String>,
}

/// Backoff for failing steps: `base * 2^(attempt-1)`, capped, `max_attempts` in all.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// How to execute a run.
pub struct ExecuteOptions<'a> {
    /// Who holds the lease: unique per execution (process id and a counter), so two
    /// executions in one process are two owners too.
    pub owner: String,
    /// How long a claim lasts, on the store's clock; renewed every third of it while the run
    /// executes.
    pub lease: Duration,
    /// Take the run even when another owner's lease has not expired (an operator who knows
    /// that node is dead). Only the first claim takes over; renewals never do.
    pub take_over: bool,
    pub retry: RetryPolicy,
    /// When legal holds end.
    pub holds: &'a dyn HoldDates,
    /// Where access records go (access runs only).
    pub sink: Option<&'a mut dyn AccessSink>,
    /// Datastores from the config file, besides the registered ones.
    pub configured: Vec<DatastoreRecord>,
    /// A failing step with attempts left is recorded `retrying` at its next attempt and the
    /// execution moves on instead of waiting (runs executed by a background pass, which
    /// comes back when the step is due); the run then stays `pending`.
    pub defer_retries: bool,
}

impl<'a> ExecuteOptions<'a> {
    pub fn new(holds: &'a dyn HoldDates) -> ExecuteOptions<'a> {
        static EXECUTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = EXECUTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ExecuteOptions {
            owner: format!("pid-{}-{n}", std::process::id()),
            lease: Duration::from_secs(60),
            take_over: false,
            retry: RetryPolicy::default(),
            holds,
            sink: None,
            configured: Vec::new(),
            defer_retries: false,
        }
    }
}

/// A step's recorded result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepResult {
    Access(AccessSummary),
    Change(ChangeReport),
    Http(crate::http::HttpAnswer),
}

/// A run with its steps, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub run: RunRecord,
    pub steps: Vec<StepRecord>,
}

impl RunOutcome {
    pub fn results(&self) -> Vec<Option<StepResult>> {
        self.steps
            .iter()
            .map(|s| {
                s.result
                    .as_deref()
                    .and_then(|r| serde_json::from_str(r).ok())
            })
            .collect()
    }
}

/// Every datastore Custodian knows: registered ones, then configured ones not registered.
pub async fn datastores(
    store: &Store,
    configured: &[DatastoreRecord],
) -> Result<Vec<DatastoreRecord>, ConnectorError> {
    let mut all = store.datastores().await?;
    for c in configured {
        if !all.iter().any(|r| r.name == c.name) {
            all.push(c.clone());
        }
    }
    Ok(all)
}

/// Records a run and its pending steps; returns the run id. Nothing executes yet.
pub async fn plan(
    store: &Store,
    keys: &RunKeys,
    spec: &RunSpec,
    configured: &[DatastoreRecord],
) -> Result<String, ConnectorError> {
    plan_with(store, keys, spec, configured, &[]).await
}

/// The datastores a run of `kind` has a step on (`crate::reach::takes`), by name. A dataset
/// that does not load is counted in, so the run records its exact error.
pub async fn takers(
    store: &Store,
    configured: &[DatastoreRecord],
    kind: RunKind,
) -> Result<Vec<String>, ConnectorError> {
    let known = datastores(store, configured).await?;
    Ok(known
        .iter()
        .filter(|r| takes_cached(r, kind))
        .map(|r| r.name.clone())
        .collect())
}

/// Which kinds a dataset file takes, remembered per file while its size and modification
/// time stay the same: a consent withdrawal asks on every write, and parsing every dataset
/// each time cost about as much as the write itself.
fn takes_cached(reg: &DatastoreRecord, kind: RunKind) -> bool {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Stamp = (Option<std::time::SystemTime>, u64);
    static CACHE: OnceLock<Mutex<HashMap<String, (Stamp, Vec<RunKind>)>>> = OnceLock::new();
    let stamp: Option<Stamp> = std::fs::metadata(&reg.dataset_path)
        .ok()
        .map(|m| (m.modified().ok(), m.len()));
    let cache = CACHE.get_or_init(Default::default);
    if let Some(stamp) = stamp {
        let known = cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, kinds)) = known.get(&reg.dataset_path) {
            if *at == stamp {
                return kinds.contains(&kind);
            }
        }
    }
    // A dataset that does not load counts in, so the run records its exact error.
    let Ok(ds) = load_dataset(reg) else {
        return true;
    };
    let kinds: Vec<RunKind> = RunKind::ALL
        .into_iter()
        .filter(|k| crate::reach::takes(&ds, *k))
        .collect();
    let takes = kinds.contains(&kind);
    if let Some(stamp) = stamp {
        cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(reg.dataset_path.clone(), (stamp, kinds));
    }
    takes
}

/// [`plan`], with the purposes an objection or a consent withdrawal concerns (sealed with
/// the identities). Without named datastores the run has a step on each that takes its kind.
pub async fn plan_with(
    store: &Store,
    keys: &RunKeys,
    spec: &RunSpec,
    configured: &[DatastoreRecord],
    purposes: &[String],
) -> Result<String, ConnectorError> {
    if spec.identities.values().all(Vec::is_empty) {
        return Err(ConnectorError::Run(
            "a run needs at least one identity".into(),
        ));
    }
    let known = datastores(store, configured).await?;
    let steps = match &spec.datastores {
        Some(names) => {
            for n in names {
                if !known.iter().any(|k| &k.name == n) {
                    return Err(ConnectorError::UnknownDatastore(n.clone()));
                }
            }
            names.clone()
        }
        None => takers(store, configured, spec.kind).await?,
    };
    if steps.is_empty() {
        return Err(ConnectorError::Run("no datastore to run on".into()));
    }
    let id = store.ids().next("run");
    let payload = serde_json::to_string(&Payload {
        identities: spec.identities.clone(),
        corrections: spec.corrections.clone(),
        purposes: purposes.to_vec(),
    })
    .expect("plain data serialises");
    store
        .insert_run(&NewRun {
            id: id.clone(),
            kind: spec.kind,
            subject_ref: keys.subject_ref(&spec.identities),
            request_id: spec.request_id.clone(),
            dry_run: spec.dry_run,
            payload: Some(keys.sealer.seal(&payload, &payload_place(&id))),
            steps,
        })
        .await?;
    Ok(id)
}

fn payload_place(run_id: &str) -> String {
    format!("connector_runs/{run_id}/payload")
}

fn held_place(id: &str) -> String {
    format!("held_rows/{id}")
}

/// The connection URL of a datastore: the registration's variable or file (`datastore add
/// --url-env/--url-file`, or the config file), else the dataset's `connection`. The
/// registration wins as a whole: a dataset's `url_env` never overrides a registered
/// `--url-file`. Read at every use, never stored, never printed.
pub(crate) fn connection_url(
    reg: &DatastoreRecord,
    ds: &Dataset,
) -> Result<String, ConnectorError> {
    let (env, file) = if reg.url_env.is_some() || reg.url_file.is_some() {
        (reg.url_env.clone(), reg.url_file.clone())
    } else {
        (
            ds.connection.url_env.clone(),
            ds.connection
                .url_file
                .as_ref()
                .map(|p| p.display().to_string()),
        )
    };
    if let Some(var) = env {
        return std::env::var(&var).map_err(|_| {
            ConnectorError::Config(format!(
                "the environment variable {var} (connection URL of {}) is not set",
                reg.name
            ))
        });
    }
    if let Some(path) = file {
        return std::fs::read_to_string(&path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| ConnectorError::Config(format!("cannot read the URL file {path}: {e}")));
    }
    Err(ConnectorError::Config(format!(
        "datastore {} has no connection: give --url-env or --url-file, or `connection` in its dataset",
        reg.name
    )))
}

/// Puts a run's failed steps — or step `seq`, even a done one — back to pending, so the next
/// execution runs them. Refused when the run no longer holds the subject's identifiers
/// (deleted when it completed): nothing could execute, so nothing is changed.
pub async fn retry(store: &Store, run_id: &str, seq: Option<i64>) -> Result<(), ConnectorError> {
    let run = store
        .run(run_id)
        .await?
        .ok_or_else(|| ConnectorError::Run(format!("no run {run_id}")))?;
    if run.payload.is_none() {
        return Err(ConnectorError::Run(format!(
            "run {run_id} is {} and no longer holds the subject's identifiers (they are deleted when a run completes), so none of its steps can run again; plan a new run for the subject instead",
            run.status.as_str()
        )));
    }
    match seq {
        Some(seq) => {
            if !store.retry_step(run_id, seq).await? {
                return Err(ConnectorError::Run(format!(
                    "run {run_id} has no step {seq}"
                )));
            }
        }
        None => {
            store.retry_run(run_id).await?;
        }
    }
    Ok(())
}

async fn outcome(store: &Store, run_id: &str) -> Result<RunOutcome, ConnectorError> {
    Ok(RunOutcome {
        run: store
            .run(run_id)
            .await?
            .ok_or_else(|| ConnectorError::Run(format!("no run {run_id}")))?,
        steps: store.run_steps(run_id).await?,
    })
}

/// Loads a registered datastore's dataset, with its Fides policy's strategies when it has one.
pub fn load_dataset(reg: &DatastoreRecord) -> Result<Dataset, ConnectorError> {
    let (ds, _) = crate::dataset_file::load_with(
        std::path::Path::new(&reg.dataset_path),
        reg.fides_policy.as_deref().map(std::path::Path::new),
    )?;
    Ok(ds)
}

/// Plans and executes in one go (the CLI's and simple callers' path).
pub async fn run_now(
    store: &Store,
    keys: &RunKeys,
    spec: &RunSpec,
    opts: ExecuteOptions<'_>,
) -> Result<RunOutcome, ConnectorError> {
    let id = plan(store, keys, spec, &opts.configured).await?;
    execute_run(store, keys, &id, opts).await
}

/// Identities from `kind=value` pairs.
pub fn identities<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Identities {
    let mut out: Identities = BTreeMap::new();
    for (k, v) in pairs {
        out.entry(k.to_owned())
            .or_default()
            .push(v.trim().to_owned());
    }
    out
}
