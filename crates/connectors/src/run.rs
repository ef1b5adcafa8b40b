//! Runs: an access, erasure or rectification over several datastores as a durable job.
//!
//! [`plan`] records the run and one pending step per datastore, with the subject's
//! identifiers sealed under the server secret (the store never holds them in clear).
//! [`execute_run`] claims the run with a lease — renewed while a step executes; when a claim
//! or a renewal fails another node has the run and this one stops — then for each unfinished
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

use std::collections::BTreeMap;
use std::time::Duration;

use custodian_core::seal::Sealer;
use custodian_core::subject::{IdKind, SubjectHasher, SubjectId};
use custodian_store::runs::{DatastoreRecord, HeldRowsRecord, NewRun, RunRecord, StepRecord};
use custodian_store::Store;
use serde::{Deserialize, Serialize};

use crate::access::{self, AccessSink, AccessSummary};
use crate::dataset::Dataset;
use crate::erase::{self, ChangeReport, Corrections, HoldDates, Operation};
use crate::graph::Identities;
use crate::sql::{Db, Key};
use crate::ConnectorError;

/// The kind of run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Access,
    Erasure,
    Rectification,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Access => "access",
            RunKind::Erasure => "erasure",
            RunKind::Rectification => "rectification",
        }
    }
    pub fn parse(s: &str) -> Option<RunKind> {
        match s {
            "access" => Some(RunKind::Access),
            "erasure" => Some(RunKind::Erasure),
            "rectification" => Some(RunKind::Rectification),
            _ => None,
        }
    }
}

/// Keys derived from the server secret: sealing identifiers in the store, the subject
/// reference, and the keyed-hash strategy.
#[derive(Clone)]
pub struct RunKeys {
    sealer: Sealer,
    hasher: SubjectHasher,
    hash_key: Vec<u8>,
}

impl RunKeys {
    pub fn from_secret(secret: &[u8]) -> RunKeys {
        use hmac::Mac;
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).expect("any key length");
        mac.update(b"custodian connector keyed hash");
        RunKeys {
            sealer: Sealer::derived(secret, "connector-runs"),
            hasher: SubjectHasher::new(secret),
            hash_key: mac.finalize().into_bytes().to_vec(),
        }
    }

    /// The key of the keyed hashes that `hash` erasure writes.
    pub fn hash_key(&self) -> &[u8] {
        &self.hash_key
    }

    /// The subject reference of a run: the email's, else the user id's, else a keyed hash
    /// of the first identity.
    fn subject_ref(&self, identities: &Identities) -> String {
        for (kind, id_kind) in [("email", IdKind::Email), ("user_id", IdKind::UserId)] {
            if let Some(v) = identities.get(kind).and_then(|v| v.first()) {
                if let Ok(id) = SubjectId::parse(id_kind, v) {
                    return self.hasher.reference(&id).to_hex();
                }
            }
        }
        let first = identities
            .iter()
            .next()
            .map(|(k, v)| format!("{k}:{}", v.join(",")));
        erase::keyed_hash(&self.hash_key, &first.unwrap_or_default())
    }
}

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

#[derive(Serialize, Deserialize)]
struct Payload {
    identities: Identities,
    #[serde(default)]
    corrections: Corrections,
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
    /// How long a claim lasts; renewed every third of it while the run executes.
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

fn new_run_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("run_{}", hex::encode(b))
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
        None => known.iter().map(|k| k.name.clone()).collect(),
    };
    if steps.is_empty() {
        return Err(ConnectorError::Run("no datastore to run on".into()));
    }
    let id = new_run_id();
    let payload = serde_json::to_string(&Payload {
        identities: spec.identities.clone(),
        corrections: spec.corrections.clone(),
    })
    .expect("plain data serialises");
    store
        .insert_run(&NewRun {
            id: id.clone(),
            kind: spec.kind.as_str().into(),
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

/// The connection URL of a datastore: the registration's variable or file (`datastore add
/// --url-env/--url-file`, or the config file), else the dataset's `connection`. The
/// registration wins as a whole: a dataset's `url_env` never overrides a registered
/// `--url-file`. Read at every use, never stored, never printed.
fn connection_url(reg: &DatastoreRecord, ds: &Dataset) -> Result<String, ConnectorError> {
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
    let kind = RunKind::parse(&run.kind)
        .ok_or_else(|| ConnectorError::Run(format!("run {run_id} has kind {}", run.kind)))?;
    let lease_until =
        |o: &ExecuteOptions| store.clock().now_micros() + o.lease.as_micros() as i64;
    if !store
        .claim_run(run_id, &opts.owner, lease_until(&opts), opts.take_over)
        .await?
    {
        return Err(ConnectorError::Run(format!(
            "run {run_id} is being executed by {} (lease not expired)",
            run.lease_owner.as_deref().unwrap_or("another node")
        )));
    }
    let steps = store.run_steps(run_id).await?;
    let pending = steps
        .iter()
        .any(|s| kind == RunKind::Access || !matches!(s.status.as_str(), "done" | "failed"));
    let payload: Option<Payload> = match &run.payload {
        Some(sealed) => {
            let plain = keys
                .sealer
                .open(sealed, &payload_place(run_id))
                .map_err(|e| ConnectorError::Run(format!("run {run_id}: {e}")))?;
            Some(serde_json::from_str(&plain).map_err(|e| ConnectorError::Run(e.to_string()))?)
        }
        None => None,
    };
    let Some(payload) = payload.filter(|_| pending) else {
        let status = if steps.iter().all(|s| s.status == "done") {
            "done"
        } else {
            "failed"
        };
        if pending {
            store.release_run(run_id, &opts.owner, "failed").await?;
            return Err(ConnectorError::Run(format!(
                "run {run_id} no longer holds the subject's identifiers (they are deleted when a run completes); plan a new run"
            )));
        }
        store.release_run(run_id, &opts.owner, status).await?;
        return outcome(store, run_id).await;
    };
    let known = datastores(store, &opts.configured).await?;
    for step in &steps {
        if kind != RunKind::Access && matches!(step.status.as_str(), "done" | "failed") {
            continue;
        }
        let mut attempt = step.attempts as u32;
        loop {
            attempt += 1;
            // Renew before the step; if another node took the run meanwhile, stop here.
            if !store
                .claim_run(run_id, &opts.owner, lease_until(&opts), false)
                .await?
            {
                return Err(lease_lost(run_id));
            }
            store.step_started(run_id, step.seq).await?;
            let (owner, lease) = (opts.owner.clone(), opts.lease);
            let idempotency_key = format!("{run_id}:{}", step.seq);
            let step_run = execute_step(
                &known,
                &step.datastore,
                kind,
                &payload,
                run.dry_run,
                &idempotency_key,
                keys,
                &mut opts,
            );
            // A step can outlast the lease (a slow datastore, a large erasure): keep renewing
            // while it runs, and abandon it (its transaction rolls back) once the run is lost.
            let result = tokio::select! {
                r = step_run => r,
                lost = keep_lease(store, run_id, &owner, lease) => return Err(lost),
            };
            match result {
                Ok(r) => {
                    if let StepResult::Change(report) = &r {
                        if kind == RunKind::Erasure && !run.dry_run {
                            record_held(store, keys, &run, step.seq, &step.datastore, report)
                                .await?;
                        }
                    }
                    let json = serde_json::to_string(&r).expect("plain data serialises");
                    store.step_done(run_id, step.seq, &json).await?;
                    tracing::info!(run = run_id, step = step.seq, datastore = %step.datastore, "connector step done");
                    break;
                }
                Err(e) => {
                    let message = e.to_string();
                    tracing::warn!(run = run_id, step = step.seq, datastore = %step.datastore, attempt, error = %message, "connector step failed");
                    if attempt >= opts.retry.max_attempts {
                        store.step_failed(run_id, step.seq, &message, None).await?;
                        break;
                    }
                    let delay = opts.retry.delay(attempt);
                    let next = store.clock().now_micros() + delay.as_micros() as i64;
                    store
                        .step_failed(run_id, step.seq, &message, Some(next))
                        .await?;
                    // The backoff keeps the run too.
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        lost = keep_lease(store, run_id, &opts.owner, opts.lease) => return Err(lost),
                    }
                }
            }
        }
    }
    let steps = store.run_steps(run_id).await?;
    let done = steps.iter().all(|s| s.status == "done");
    if done {
        store.clear_run_payload(run_id).await?;
    }
    store
        .release_run(run_id, &opts.owner, if done { "done" } else { "failed" })
        .await?;
    outcome(store, run_id).await
}

fn lease_lost(run_id: &str) -> ConnectorError {
    ConnectorError::Run(format!(
        "run {run_id} was taken by another node (this node's lease was lost); stopped here"
    ))
}

/// Renews the lease every third of its length; answers (as the error to stop with) once a
/// renewal fails because another owner holds the run. A failing store is retried: the lease
/// may still be renewed before it runs out.
async fn keep_lease(store: &Store, run_id: &str, owner: &str, lease: Duration) -> ConnectorError {
    let every = (lease / 3).max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(every).await;
        let until = store.clock().now_micros() + lease.as_micros() as i64;
        match store.claim_run(run_id, owner, until, false).await {
            Ok(true) => {}
            Ok(false) => return lease_lost(run_id),
            Err(e) => tracing::warn!(run = run_id, error = %e, "cannot renew a run's lease"),
        }
    }
}

fn held_place(id: &str) -> String {
    format!("held_rows/{id}")
}

/// Records the rows an erasure step kept under each rule, their keys sealed under the server
/// secret (the subject's own key is destroyed by the erasure), with the day the hold ends.
async fn record_held(
    store: &Store,
    keys: &RunKeys,
    run: &RunRecord,
    seq: i64,
    datastore: &str,
    report: &ChangeReport,
) -> Result<(), ConnectorError> {
    for h in &report.held_rows {
        let id = format!("{}:{seq}:{}", run.id, h.rule);
        let tables = serde_json::to_string(&h.tables).expect("plain data serialises");
        let due_at = h
            .until
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp().as_microsecond());
        store
            .put_held_rows(&HeldRowsRecord {
                sealed_keys: Some(keys.sealer.seal(&tables, &held_place(&id))),
                id,
                subject_ref: run.subject_ref.clone(),
                request_id: run.request_id.clone(),
                datastore: datastore.to_owned(),
                rule: h.rule.clone(),
                due_at,
                created_at: store.clock().now_micros(),
                done_at: None,
            })
            .await?;
    }
    Ok(())
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
            run.status
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

/// Loads a registered datastore's dataset.
pub fn load_dataset(reg: &DatastoreRecord) -> Result<Dataset, ConnectorError> {
    let (ds, _) = crate::dataset_file::load(std::path::Path::new(&reg.dataset_path))?;
    Ok(ds)
}

#[allow(clippy::too_many_arguments)]
async fn execute_step(
    known: &[DatastoreRecord],
    name: &str,
    kind: RunKind,
    payload: &Payload,
    dry_run: bool,
    idempotency_key: &str,
    keys: &RunKeys,
    opts: &mut ExecuteOptions<'_>,
) -> Result<StepResult, ConnectorError> {
    let reg = known
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| ConnectorError::UnknownDatastore(name.to_owned()))?;
    let ds = load_dataset(reg)?;
    let url = connection_url(reg, &ds)?;
    if let Some(http) = &ds.http {
        let secret = std::env::var(&http.secret_env).map_err(|_| {
            ConnectorError::Config(format!(
                "the environment variable {} (signing secret of {name}) is not set",
                http.secret_env
            ))
        })?;
        let corrections = (kind == RunKind::Rectification).then_some(&payload.corrections);
        let sink: Option<&mut dyn AccessSink> = match opts.sink.as_mut() {
            Some(s) if kind == RunKind::Access => Some(&mut **s),
            _ => None,
        };
        let answer = crate::http::call(
            &url,
            secret.as_bytes(),
            &ds,
            kind.as_str(),
            idempotency_key,
            &payload.identities,
            corrections,
            dry_run,
            sink,
        )
        .await?;
        return Ok(StepResult::Http(answer));
    }
    let db = Db::connect(&url).await?;
    let result = match kind {
        RunKind::Access => {
            let mut discard = |_: &access::AccessRecord<'_>| Ok(());
            let sink: &mut dyn AccessSink = match opts.sink.as_deref_mut() {
                Some(s) => s,
                None => &mut discard,
            };
            access::access(&db, &ds, &payload.identities, sink)
                .await
                .map(StepResult::Access)
        }
        RunKind::Erasure => erase::apply(
            &db,
            &ds,
            &payload.identities,
            Operation::Erase {
                hash_key: &keys.hash_key,
                holds: opts.holds,
            },
            dry_run,
        )
        .await
        .map(StepResult::Change),
        RunKind::Rectification => {
            let mine: Corrections = payload
                .corrections
                .iter()
                .filter(|(k, _)| {
                    k.split_once('.')
                        .is_some_and(|(t, _)| ds.table(t).is_some())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            erase::apply(
                &db,
                &ds,
                &payload.identities,
                Operation::Rectify(&mine),
                dry_run,
            )
            .await
            .map(StepResult::Change)
        }
    };
    db.close().await;
    result
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

/// The company's SQL datastores as the retention job uses them: opened once per run, each
/// with the retention rules its fields are held under. Datastores reached over HTTP have no
/// field-level schema and are left out, as are datastores that hold nothing under a rule.
pub struct Expirer {
    targets: Vec<Target>,
}

struct Target {
    /// The registration's name (what runs and held rows record).
    name: String,
    ds: Dataset,
    db: Db,
    rules: std::collections::BTreeSet<String>,
}

impl Expirer {
    /// Loads every registered and configured datastore's dataset and connects to those that
    /// hold fields under some rule.
    pub async fn open(
        store: &Store,
        configured: &[DatastoreRecord],
    ) -> Result<Expirer, ConnectorError> {
        let mut targets = Vec::new();
        for reg in datastores(store, configured).await? {
            let ds = load_dataset(&reg)?;
            let rules: std::collections::BTreeSet<String> = ds
                .tables
                .iter()
                .flat_map(|t| &t.fields)
                .filter_map(|f| f.hold.clone())
                .collect();
            if ds.http.is_some() || rules.is_empty() {
                continue;
            }
            let db = Db::connect(&connection_url(&reg, &ds)?).await?;
            targets.push(Target {
                name: reg.name,
                ds,
                db,
                rules,
            });
        }
        Ok(Expirer { targets })
    }

    /// Whether some datastore holds fields under `rule`.
    pub fn holds(&self, rule: &str) -> bool {
        self.targets.iter().any(|t| t.rules.contains(rule))
    }

    /// The rule is due for the subject with these identities: in every datastore holding
    /// fields under it, those fields go by their `after_hold` strategy, one transaction per
    /// datastore. Idempotent (a second call changes nothing).
    pub async fn expire(
        &self,
        identities: &Identities,
        rule: &str,
        hash_key: &[u8],
    ) -> Result<Vec<ChangeReport>, ConnectorError> {
        let mut reports = Vec::new();
        for Target { ds, db, rules, .. } in &self.targets {
            if !rules.contains(rule) {
                continue;
            }
            reports.push(
                erase::apply(
                    db,
                    ds,
                    identities,
                    Operation::Expire { hash_key, rule },
                    false,
                )
                .await?,
            );
        }
        Ok(reports)
    }

    /// Rows an erasure kept under a hold that has now ended: the fields their rule held go by
    /// their `after_hold` strategy, found by the recorded primary keys (the subject's
    /// identifiers are long gone). One transaction; idempotent.
    pub async fn expire_held(
        &self,
        keys: &RunKeys,
        held: &HeldRowsRecord,
    ) -> Result<ChangeReport, ConnectorError> {
        let target = self
            .targets
            .iter()
            .find(|t| t.name == held.datastore)
            .ok_or_else(|| {
                ConnectorError::Config(format!(
                    "the datastore {} of rows held under {} is no longer registered with held fields",
                    held.datastore, held.rule
                ))
            })?;
        let Some(sealed) = &held.sealed_keys else {
            return Ok(ChangeReport {
                datastore: target.ds.name.clone(),
                ..Default::default()
            });
        };
        let plain = keys
            .sealer
            .open(sealed, &held_place(&held.id))
            .map_err(|e| ConnectorError::Run(format!("held rows {}: {e}", held.id)))?;
        let tables: BTreeMap<String, Vec<Key>> = serde_json::from_str(&plain)
            .map_err(|e| ConnectorError::Run(format!("held rows {}: {e}", held.id)))?;
        erase::expire_keys(&target.db, &target.ds, &tables, &held.rule, &keys.hash_key).await
    }

    pub async fn close(self) {
        for t in self.targets {
            t.db.close().await;
        }
    }
}
