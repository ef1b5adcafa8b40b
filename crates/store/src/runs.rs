//! Connector state in Custodian's own store: registered datastores, and runs of access,
//! erasure or rectification with one step per datastore.
//!
//! The connectors crate executes runs on the company's databases but never touches these
//! tables itself; everything it records goes through the functions here. A step is written
//! before it runs (`running`, one more attempt) and after (`done` with its result, or
//! `retrying`/`failed` with the exact error), so a node killed mid-run leaves a record that
//! another node — or the same one restarted — resumes from. A run's lease is the leased job
//! `connector_run:<id>` (see `crate::jobs`), so two nodes never execute the same run at once.

use custodian_core::run::{RunKind, RunStatus, StepStatus};

use crate::jobs::Claim;
use crate::{Arg, Result, Store, StoreError};

/// A datastore registered with `custodian datastore add`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatastoreRecord {
    pub name: String,
    pub dataset_path: String,
    pub url_env: Option<String>,
    pub url_file: Option<String>,
    /// A Fides request policy whose erasure rules give the fields their strategies.
    pub fides_policy: Option<String>,
    pub created_at: i64,
}

/// A run to create, with its steps in execution order.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: String,
    pub kind: RunKind,
    /// The hex subject reference (never the identifier itself).
    pub subject_ref: String,
    pub request_id: Option<String>,
    pub dry_run: bool,
    /// Sealed identifiers and corrections (opaque here).
    pub payload: Option<String>,
    /// Datastore names, one step each, in order.
    pub steps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunRecord {
    pub id: String,
    pub kind: RunKind,
    pub subject_ref: String,
    pub request_id: Option<String>,
    pub dry_run: bool,
    pub status: RunStatus,
    #[serde(skip)]
    pub payload: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepRecord {
    pub run_id: String,
    pub seq: i64,
    pub datastore: String,
    pub status: StepStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<i64>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// JSON written by the connector: counts, holds, the HTTP answer. Never row values.
    pub result: Option<String>,
}

type RunRow = (
    String,
    String,
    String,
    Option<String>,
    bool,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
);
type StepRow = (
    String,
    i64,
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// A run's columns, its lease from its job (see [`run_job`]).
const RUN_COLS: &str = "r.id, r.kind, r.subject_ref, r.request_id, r.dry_run, r.status, r.payload, j.lease_owner, j.lease_until, r.created_at, r.updated_at";
const RUN_FROM: &str = "connector_runs r LEFT JOIN jobs j ON j.name = 'connector_run:' || r.id";

/// The kind of a run's leased job.
pub const RUN_JOB_KIND: &str = "connector_run";

/// The name of a run's leased job (see `crate::jobs`): `connector_run:<run id>`.
pub fn run_job(run_id: &str) -> String {
    format!("{RUN_JOB_KIND}:{run_id}")
}
const STEP_COLS: &str = "run_id, seq, datastore, status, attempts, last_error, next_attempt_at, started_at, finished_at, result";

fn run_record(r: RunRow) -> Result<RunRecord> {
    let corrupt = |what: &str, value: &str| {
        StoreError::Corrupt(format!("connector run {} has {what} `{value}`", r.0))
    };
    Ok(RunRecord {
        kind: RunKind::parse(&r.1).ok_or_else(|| corrupt("kind", &r.1))?,
        status: RunStatus::parse(&r.5).ok_or_else(|| corrupt("status", &r.5))?,
        id: r.0,
        subject_ref: r.2,
        request_id: r.3,
        dry_run: r.4,
        payload: r.6,
        lease_owner: r.7,
        lease_until: r.8,
        created_at: r.9,
        updated_at: r.10,
    })
}

fn step_record(r: StepRow) -> Result<StepRecord> {
    let status = StepStatus::parse(&r.3).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "step {} of connector run {} has status `{}`",
            r.1, r.0, r.3
        ))
    })?;
    Ok(StepRecord {
        run_id: r.0,
        seq: r.1,
        datastore: r.2,
        status,
        attempts: r.4,
        last_error: r.5,
        next_attempt_at: r.6,
        started_at: r.7,
        finished_at: r.8,
        result: r.9,
    })
}

impl Store {
    /// Registers (or replaces) a datastore.
    pub async fn put_datastore(
        &self,
        name: &str,
        dataset_path: &str,
        url_env: Option<&str>,
        url_file: Option<&str>,
    ) -> Result<()> {
        self.put_datastore_with(name, dataset_path, url_env, url_file, None)
            .await
    }

    /// Registers (or replaces) a datastore with the Fides policy its strategies come from.
    pub async fn put_datastore_with(
        &self,
        name: &str,
        dataset_path: &str,
        url_env: Option<&str>,
        url_file: Option<&str>,
        fides_policy: Option<&str>,
    ) -> Result<()> {
        let now = self.now();
        self.execute(
            "INSERT INTO connector_datastores (name, dataset_path, url_env, url_file, fides_policy_path, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (name) DO UPDATE SET dataset_path = excluded.dataset_path, url_env = excluded.url_env, url_file = excluded.url_file, fides_policy_path = excluded.fides_policy_path",
            &[
                Arg::from(name),
                Arg::from(dataset_path),
                Arg::from(url_env),
                Arg::from(url_file),
                Arg::from(fides_policy),
                Arg::from(now),
            ],
        ).await?;
        self.note_datastore_change();
        Ok(())
    }

    pub async fn datastores(&self) -> Result<Vec<DatastoreRecord>> {
        type Row = (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
        );
        let rows = self.fetch_all::<Row>(
            "SELECT name, dataset_path, url_env, url_file, fides_policy_path, created_at FROM connector_datastores ORDER BY name",
            &[],
        ).await?;
        Ok(rows
            .into_iter()
            .map(|r| DatastoreRecord {
                name: r.0,
                dataset_path: r.1,
                url_env: r.2,
                url_file: r.3,
                fides_policy: r.4,
                created_at: r.5,
            })
            .collect())
    }

    /// The fingerprint of a datastore's dataset (and policy) as last checked against its
    /// database, and whether its problems were accepted with --force.
    pub async fn dataset_check(&self, name: &str) -> Result<Option<(String, bool)>> {
        self.fetch_optional::<(String, bool)>(
            "SELECT digest, forced FROM connector_dataset_checks WHERE name = $1",
            &[Arg::from(name)],
        )
        .await
    }

    /// Records that a datastore's dataset with this fingerprint was checked (and, with
    /// `forced`, that its problems were accepted).
    pub async fn put_dataset_check(&self, name: &str, digest: &str, forced: bool) -> Result<()> {
        let now = self.now();
        self.execute(
            "INSERT INTO connector_dataset_checks (name, digest, forced, checked_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, forced = excluded.forced, checked_at = excluded.checked_at",
            &[Arg::from(name), Arg::from(digest), Arg::from(forced), Arg::from(now)],
        )
        .await?;
        Ok(())
    }

    /// Forgets a datastore's check (its dataset is checked again at the next start).
    pub async fn forget_dataset_check(&self, name: &str) -> Result<()> {
        self.execute(
            "DELETE FROM connector_dataset_checks WHERE name = $1",
            &[Arg::from(name)],
        )
        .await?;
        Ok(())
    }

    /// Removes a registration; true when it existed.
    pub async fn remove_datastore(&self, name: &str) -> Result<bool> {
        let removed = self
            .execute(
                "DELETE FROM connector_datastores WHERE name = $1",
                &[Arg::from(name)],
            )
            .await?
            > 0;
        self.note_datastore_change();
        Ok(removed)
    }

    /// Creates a run and its pending steps in one transaction.
    pub async fn insert_run(&self, run: &NewRun) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin().await?;
        tx.execute(
            "INSERT INTO connector_runs (id, kind, subject_ref, request_id, dry_run, status, payload, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $7)",
            &[
                (&run.id).into(),
                run.kind.as_str().into(),
                (&run.subject_ref).into(),
                (&run.request_id).into(),
                run.dry_run.into(),
                (&run.payload).into(),
                now.into(),
            ],
        )
        .await?;
        for (seq, ds) in run.steps.iter().enumerate() {
            tx.execute(
                "INSERT INTO connector_run_steps (run_id, seq, datastore, status) VALUES ($1, $2, $3, 'pending')",
                &[(&run.id).into(), (seq as i64).into(), ds.into()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn run(&self, id: &str) -> Result<Option<RunRecord>> {
        let sql = format!("SELECT {RUN_COLS} FROM {RUN_FROM} WHERE id = $1");
        let rows = self.fetch_all::<RunRow>(&sql, &[Arg::from(id)]).await?;
        rows.into_iter().next().map(run_record).transpose()
    }

    /// The most recent runs, newest first, optionally of one status.
    pub async fn runs(&self, status: Option<RunStatus>, limit: i64) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT {RUN_COLS} FROM {RUN_FROM} WHERE ($1 IS NULL OR status = $2) ORDER BY created_at DESC, id LIMIT $3"
        );
        let rows = self
            .fetch_all::<RunRow>(
                &sql,
                &[
                    Arg::from(status.map(RunStatus::as_str)),
                    Arg::from(status.map(RunStatus::as_str)),
                    Arg::from(limit),
                ],
            )
            .await?;
        rows.into_iter().map(run_record).collect()
    }

    /// Runs of one request, oldest first.
    pub async fn runs_of_request(&self, request_id: &str) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT {RUN_COLS} FROM {RUN_FROM} WHERE request_id = $1 ORDER BY created_at, id"
        );
        let rows = self
            .fetch_all::<RunRow>(&sql, &[Arg::from(request_id)])
            .await?;
        rows.into_iter().map(run_record).collect()
    }

    pub async fn run_steps(&self, run_id: &str) -> Result<Vec<StepRecord>> {
        let sql =
            format!("SELECT {STEP_COLS} FROM connector_run_steps WHERE run_id = $1 ORDER BY seq");
        let rows = self
            .fetch_all::<StepRow>(&sql, &[Arg::from(run_id)])
            .await?;
        rows.into_iter().map(step_record).collect()
    }

    /// Takes the run's lease — the leased job `connector_run:<id>` — for `owner` until
    /// `now + lease_micros`, unless another owner holds an unexpired lease; `take_over` ignores
    /// that lease (an operator who knows its node is dead). The run is marked `running`.
    pub async fn claim_run(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        lease_micros: i64,
        take_over: bool,
    ) -> Result<bool> {
        let how = if take_over {
            Claim::TakeOver
        } else {
            Claim::Now
        };
        let job = self
            .claim_job(&run_job(id), RUN_JOB_KIND, owner, now, lease_micros, how)
            .await?;
        if job.is_none() {
            return Ok(false);
        }
        self.execute(
            "UPDATE connector_runs SET status = CASE WHEN status = 'done' THEN status ELSE 'running' END, updated_at = $1 WHERE id = $2",
            &[now.into(), id.into()],
        )
        .await?;
        Ok(true)
    }

    /// Extends `owner`'s lease on the run to `now + lease_micros`; `false` once another owner
    /// has taken it (the caller stops).
    pub async fn renew_run(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        lease_micros: i64,
    ) -> Result<bool> {
        self.renew_job(&run_job(id), owner, now, lease_micros).await
    }

    /// Gives the lease back and sets the run's status, if `owner` still holds it. A done run's
    /// job goes; a failed one's stays, with the failure, for `custodian jobs list`.
    pub async fn release_run(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        status: RunStatus,
    ) -> Result<()> {
        let job = run_job(id);
        let held = if status == RunStatus::Done {
            self.remove_job(&job, owner).await?
        } else {
            let error = format!(
                "the run ended {}: see `custodian datastore runs show {id}`",
                status.as_str()
            );
            self.fail_job(&job, owner, now, now, &error).await?
        };
        if held {
            self.execute(
                "UPDATE connector_runs SET status = $1, updated_at = $2 WHERE id = $3",
                &[status.as_str().into(), now.into(), id.into()],
            )
            .await?;
        }
        Ok(())
    }

    /// Forgets the sealed identifiers of a finished run.
    pub async fn clear_run_payload(&self, id: &str) -> Result<()> {
        self.execute(
            "UPDATE connector_runs SET payload = NULL, updated_at = $1 WHERE id = $2",
            &[Arg::from(self.now()), Arg::from(id)],
        )
        .await?;
        Ok(())
    }

    /// Records that a step is about to run: one more attempt.
    pub async fn step_started(&self, run_id: &str, seq: i64) -> Result<()> {
        let now = self.now();
        self.execute(
            "UPDATE connector_run_steps SET status = 'running', attempts = attempts + 1, started_at = $1, next_attempt_at = NULL WHERE run_id = $2 AND seq = $3",
            &[
                Arg::from(now),
                Arg::from(run_id),
                Arg::from(seq),
            ],
        ).await?;
        Ok(())
    }

    /// Records a step's success and what it did.
    pub async fn step_done(&self, run_id: &str, seq: i64, result: &str) -> Result<()> {
        self.execute(
            "UPDATE connector_run_steps SET status = 'done', result = $1, last_error = NULL, finished_at = $2 WHERE run_id = $3 AND seq = $4",
            &[
                Arg::from(result),
                Arg::from(self.now()),
                Arg::from(run_id),
                Arg::from(seq),
            ],
        ).await?;
        Ok(())
    }

    /// Records a step's failure: `retrying` at `next_attempt_at`, or `failed` when `None`.
    pub async fn step_failed(
        &self,
        run_id: &str,
        seq: i64,
        error: &str,
        next_attempt_at: Option<i64>,
    ) -> Result<()> {
        let status = if next_attempt_at.is_some() {
            StepStatus::Retrying
        } else {
            StepStatus::Failed
        };
        self.execute(
            "UPDATE connector_run_steps SET status = $1, last_error = $2, next_attempt_at = $3, finished_at = $4 WHERE run_id = $5 AND seq = $6",
            &[
                Arg::from(status.as_str()),
                Arg::from(error),
                Arg::from(next_attempt_at),
                Arg::from(self.now()),
                Arg::from(run_id),
                Arg::from(seq),
            ],
        ).await?;
        Ok(())
    }

    /// Puts every unfinished step of a run back to `pending` with a fresh attempt count, so
    /// the next execution retries them. Returns the number of steps reset.
    pub async fn retry_run(&self, run_id: &str) -> Result<u64> {
        let n = self.execute(
            "UPDATE connector_run_steps SET status = 'pending', attempts = 0, next_attempt_at = NULL WHERE run_id = $1 AND status <> 'done'",
            &[
                Arg::from(run_id),
            ],
        ).await?;
        self.reopen_run(run_id).await?;
        Ok(n)
    }

    /// Puts one step — even a done one — back to `pending`.
    pub async fn retry_step(&self, run_id: &str, seq: i64) -> Result<bool> {
        let n = self.execute(
            "UPDATE connector_run_steps SET status = 'pending', attempts = 0, next_attempt_at = NULL WHERE run_id = $1 AND seq = $2",
            &[
                Arg::from(run_id),
                Arg::from(seq),
            ],
        ).await?;
        self.reopen_run(run_id).await?;
        Ok(n == 1)
    }

    async fn reopen_run(&self, run_id: &str) -> Result<()> {
        self.execute(
            "UPDATE connector_runs SET status = 'pending', updated_at = $1 WHERE id = $2 AND status <> 'running'",
            &[
                Arg::from(self.now()),
                Arg::from(run_id),
            ],
        ).await?;
        Ok(())
    }
}

/// Rows of a company datastore that an erasure kept under a legal hold, for the retention job
/// to let go by key when the hold ends (see `held_rows` in the migrations).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HeldRowsRecord {
    /// `<run id>:<step>:<rule>`: a step executed again records over its own record.
    pub id: String,
    pub subject_ref: String,
    pub request_id: Option<String>,
    pub datastore: String,
    pub rule: String,
    /// When the hold ends (microseconds); `None` until further notice.
    pub due_at: Option<i64>,
    /// The rows' primary keys per table, sealed by the connectors (opaque here); `None` once
    /// the rows have gone.
    #[serde(skip)]
    pub sealed_keys: Option<String>,
    pub created_at: i64,
    pub done_at: Option<i64>,
}

type HeldRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    Option<i64>,
    Option<String>,
    i64,
    Option<i64>,
);
const HELD_COLS: &str =
    "id, subject_ref, request_id, datastore, rule, due_at, sealed_keys, created_at, done_at";

fn held_record(r: HeldRow) -> HeldRowsRecord {
    HeldRowsRecord {
        id: r.0,
        subject_ref: r.1,
        request_id: r.2,
        datastore: r.3,
        rule: r.4,
        due_at: r.5,
        sealed_keys: r.6,
        created_at: r.7,
        done_at: r.8,
    }
}

impl Store {
    /// Records (or, for the same id, replaces) rows kept under a hold.
    pub async fn put_held_rows(&self, h: &HeldRowsRecord) -> Result<()> {
        self.execute(
            "INSERT INTO held_rows (id, subject_ref, request_id, datastore, rule, due_at, sealed_keys, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET due_at = excluded.due_at, sealed_keys = excluded.sealed_keys, done_at = NULL",
            &[
                Arg::from(&h.id),
                Arg::from(&h.subject_ref),
                Arg::from(&h.request_id),
                Arg::from(&h.datastore),
                Arg::from(&h.rule),
                Arg::from(h.due_at),
                Arg::from(&h.sealed_keys),
                Arg::from(h.created_at),
            ],
        ).await?;
        Ok(())
    }

    /// Held rows whose hold has ended by `as_of` and that have not gone yet, ordered by id,
    /// after `after` (paging).
    pub async fn held_rows_due(
        &self,
        as_of: i64,
        after: &str,
        limit: i64,
    ) -> Result<Vec<HeldRowsRecord>> {
        let sql = format!(
            "SELECT {HELD_COLS} FROM held_rows WHERE done_at IS NULL AND due_at IS NOT NULL AND due_at <= $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows = self
            .fetch_all::<HeldRow>(
                &sql,
                &[Arg::from(as_of), Arg::from(after), Arg::from(limit)],
            )
            .await?;
        Ok(rows.into_iter().map(held_record).collect())
    }

    /// Every held-rows record of a subject, oldest first (gone ones included).
    pub async fn held_rows_of(&self, subject_ref: &str) -> Result<Vec<HeldRowsRecord>> {
        let sql = format!(
            "SELECT {HELD_COLS} FROM held_rows WHERE subject_ref = $1 ORDER BY created_at, id"
        );
        let rows = self
            .fetch_all::<HeldRow>(&sql, &[Arg::from(subject_ref)])
            .await?;
        Ok(rows.into_iter().map(held_record).collect())
    }
}
