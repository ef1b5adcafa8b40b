//! Leased jobs: one mechanism for every piece of work that one node at a time must do — a
//! delivery pass of the outbox, a connector run, request housekeeping, the daily retention
//! run, ledger checkpoints, the DPO's daily digest.
//!
//! A job is a row named by what it does (`outbox`, `connector_run:<run id>`, …). It is *due*
//! when its `run_at` has come and *free* when nobody holds an unexpired lease on it. A node
//! claims due, free jobs for a lease duration ([`Store::claim_due_jobs`], [`Store::claim_job`]);
//! while it works it renews the lease ([`Store::renew_job`], which fails once another node
//! has taken the job, so the loser stops); when it is done it finishes the job with the time it
//! is next due ([`Store::finish_job`]) or, after a failure, with a backoff and the error
//! ([`Store::fail_job`]). A holder that dies simply stops renewing: when its lease runs out the
//! job is free again and the next claimer resumes it. An operator who knows a node is dead
//! takes its jobs over at once ([`Claim::TakeOver`], [`Store::release_job`]).
//!
//! Claiming is one statement: on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so nodes claiming
//! together pass over each other's rows instead of waiting; on SQLite under its single writer
//! (`BEGIN IMMEDIATE`). Time always comes from the caller's clock — the store never reads the
//! wall clock to decide who holds a lease, so tests move a clock instead of sleeping.

use crate::db::Arg;
use crate::{Result, Store};

/// A job as stored, for the holder and for `custodian jobs list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Job {
    pub name: String,
    pub kind: String,
    /// When the job is next due (microseconds).
    pub run_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    /// Claims since the job last finished well, the running one included.
    pub attempts: i64,
    /// The error of the last failed run (no personal data).
    pub last_error: Option<String>,
    pub last_started_at: Option<i64>,
    pub last_finished_at: Option<i64>,
}

/// What a job is doing at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Nobody holds it and its last run (if any) went well.
    Idle,
    /// A node holds an unexpired lease on it.
    Running,
    /// Nobody holds it and its last run failed; it goes again at `run_at`.
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Idle => "idle",
            JobState::Running => "running",
            JobState::Failed => "failed",
        }
    }
}

impl Job {
    /// The job's state at `now`: a lease that ran out counts as nobody's.
    pub fn state(&self, now: i64) -> JobState {
        if self.lease_until.is_some_and(|until| until > now) {
            JobState::Running
        } else if self.last_error.is_some() {
            JobState::Failed
        } else {
            JobState::Idle
        }
    }
}

/// How [`Store::claim_job`] treats the job's due time and another holder's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Only when the job exists, is due and is free (recurring jobs).
    Due,
    /// Whenever it is free, creating it if it does not exist (work asked for now: a
    /// connector run, an outbox pass).
    Now,
    /// Even when another owner's lease has not run out (an operator who knows that node is
    /// dead), creating it if it does not exist.
    TakeOver,
}

/// The dialect's statement for claiming due jobs (see `sqlite/jobs.rs`, `postgres/jobs.rs`).
#[derive(Debug)]
pub(crate) struct JobSql {
    /// Claims due, free jobs of a kind: `$1` owner, `$2` lease end, `$3` now, `$4` kind,
    /// `$5` limit; answers the claimed rows.
    pub claim_due: &'static str,
}

/// A row of [`COLS`], in order.
type JobRow = (
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
    i64,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

fn job(r: JobRow) -> Job {
    Job {
        name: r.0,
        kind: r.1,
        run_at: r.2,
        lease_owner: r.3,
        lease_until: r.4,
        attempts: r.5,
        last_error: r.6,
        last_started_at: r.7,
        last_finished_at: r.8,
    }
}

const COLS: &str = "name, kind, run_at, lease_owner, lease_until, attempts, last_error, last_started_at, last_finished_at";

/// Claims a named job when it is due and free: one conditional update of one row. On
/// PostgreSQL a concurrent claimer of the same row waits for the first to commit and then
/// finds the row taken.
const CLAIM_DUE_ONE: &str = "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, last_started_at = $3 \
     WHERE name = $4 AND run_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
     RETURNING name, kind, run_at, lease_owner, lease_until, attempts, last_error, last_started_at, last_finished_at";

/// Creates or claims a job whatever its due time; `$6` true takes over a live lease.
const CLAIM_NOW: &str = "INSERT INTO jobs (name, kind, run_at, lease_owner, lease_until, attempts, last_started_at) \
     VALUES ($1, $2, $3, $4, $5, 1, $3) \
     ON CONFLICT (name) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until, \
         attempts = jobs.attempts + 1, last_started_at = excluded.last_started_at \
     WHERE $6 OR jobs.lease_owner IS NULL OR jobs.lease_until IS NULL OR jobs.lease_until <= $3 \
     RETURNING name, kind, run_at, lease_owner, lease_until, attempts, last_error, last_started_at, last_finished_at";

/// The wait before the next attempt after `attempts` failed ones: `base × 2^(attempts-1)`,
/// capped at `max` (microseconds).
pub fn backoff(attempts: i64, base: i64, max: i64) -> i64 {
    let shift = attempts.saturating_sub(1).clamp(0, 40) as u32;
    base.saturating_mul(1i64 << shift).min(max)
}

/// A lease owner naming this process: host, process id and a random tag (a restarted
/// process with the same id is another owner).
pub fn this_node() -> String {
    use rand::RngCore;
    static NODE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NODE.get_or_init(|| {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "node".into());
        let mut tag = [0u8; 3];
        rand::rngs::OsRng.fill_bytes(&mut tag);
        format!("{host}/{}/{}", std::process::id(), hex::encode(tag))
    })
    .clone()
}

impl Store {
    /// Creates the job due at `run_at` unless it exists; answers whether it was created.
    pub async fn ensure_job(&self, name: &str, kind: &str, run_at: i64) -> Result<bool> {
        let n = self
            .execute(
                "INSERT INTO jobs (name, kind, run_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                &[name.into(), kind.into(), run_at.into()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Sets when the job is next due, creating it if need be; a lease on it is left alone.
    pub async fn schedule_job(&self, name: &str, kind: &str, run_at: i64) -> Result<()> {
        self.execute(
            "INSERT INTO jobs (name, kind, run_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET run_at = excluded.run_at",
            &[name.into(), kind.into(), run_at.into()],
        )
        .await?;
        Ok(())
    }

    /// Claims up to `limit` jobs of `kind` that are due and free at `now`, oldest due first,
    /// for `owner` until `now + lease_micros`. Two claimers never get the same job while its
    /// lease holds; on PostgreSQL they pass over each other's rows (`SKIP LOCKED`).
    pub async fn claim_due_jobs(
        &self,
        kind: &str,
        owner: &str,
        now: i64,
        lease_micros: i64,
        limit: i64,
    ) -> Result<Vec<Job>> {
        let until = now.saturating_add(lease_micros);
        let mut tx = self.begin_immediate().await?;
        let rows: Vec<JobRow> = tx
            .fetch_all(
                tx.dialect().jobs.claim_due,
                &[
                    owner.into(),
                    until.into(),
                    now.into(),
                    kind.into(),
                    limit.into(),
                ],
            )
            .await?;
        tx.commit().await?;
        let mut jobs: Vec<Job> = rows.into_iter().map(job).collect();
        // RETURNING gives no order.
        jobs.sort_by(|a, b| (a.run_at, &a.name).cmp(&(b.run_at, &b.name)));
        Ok(jobs)
    }

    /// Claims one job for `owner` until `now + lease_micros` (see [`Claim`]); `None` when it
    /// is not due (with [`Claim::Due`]) or another owner holds it.
    pub async fn claim_job(
        &self,
        name: &str,
        kind: &str,
        owner: &str,
        now: i64,
        lease_micros: i64,
        how: Claim,
    ) -> Result<Option<Job>> {
        let until = now.saturating_add(lease_micros);
        let mut tx = self.begin_immediate().await?;
        let row: Option<JobRow> = match how {
            Claim::Due => {
                tx.fetch_optional(
                    CLAIM_DUE_ONE,
                    &[owner.into(), until.into(), now.into(), name.into()],
                )
                .await?
            }
            Claim::Now | Claim::TakeOver => {
                tx.fetch_optional(
                    CLAIM_NOW,
                    &[
                        name.into(),
                        kind.into(),
                        now.into(),
                        owner.into(),
                        until.into(),
                        Arg::Bool(how == Claim::TakeOver),
                    ],
                )
                .await?
            }
        };
        tx.commit().await?;
        Ok(row.map(job))
    }

    /// Extends `owner`'s lease to `now + lease_micros`. `false` when the lease is lost:
    /// another owner took the job (or it was finished), and the caller must stop.
    pub async fn renew_job(
        &self,
        name: &str,
        owner: &str,
        now: i64,
        lease_micros: i64,
    ) -> Result<bool> {
        let n = self
            .execute(
                "UPDATE jobs SET lease_until = $1 WHERE name = $2 AND lease_owner = $3",
                &[
                    now.saturating_add(lease_micros).into(),
                    name.into(),
                    owner.into(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Records a run that went well: the lease is given back, the job is next due at
    /// `next_run_at`, attempts and error are cleared. `false` when `owner` no longer held it.
    pub async fn finish_job(
        &self,
        name: &str,
        owner: &str,
        now: i64,
        next_run_at: i64,
    ) -> Result<bool> {
        let n = self
            .execute(
                "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, run_at = $1, attempts = 0, \
                 last_error = NULL, last_finished_at = $2 WHERE name = $3 AND lease_owner = $4",
                &[next_run_at.into(), now.into(), name.into(), owner.into()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Records a failed run: the lease is given back and the job is due again at `retry_at`
    /// (the caller's backoff, see [`backoff`]) with `error`, which must carry no personal
    /// data. Attempts keep counting. `false` when `owner` no longer held it.
    pub async fn fail_job(
        &self,
        name: &str,
        owner: &str,
        now: i64,
        retry_at: i64,
        error: &str,
    ) -> Result<bool> {
        let error: String = error.chars().take(500).collect();
        let n = self
            .execute(
                "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, run_at = $1, last_error = $2, \
                 last_finished_at = $3 WHERE name = $4 AND lease_owner = $5",
                &[retry_at.into(), error.as_str().into(), now.into(), name.into(), owner.into()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Frees a job whatever lease is on it (an operator who knows its holder is dead), so the
    /// next claimer takes it at once. `false` when there is no such job.
    pub async fn release_job(&self, name: &str) -> Result<bool> {
        let n = self
            .execute(
                "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE name = $1",
                &[name.into()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Deletes a job that `owner` holds (a connector run that is done); `false` when it does
    /// not hold it.
    pub async fn remove_job(&self, name: &str, owner: &str) -> Result<bool> {
        let n = self
            .execute(
                "DELETE FROM jobs WHERE name = $1 AND lease_owner = $2",
                &[name.into(), owner.into()],
            )
            .await?;
        Ok(n == 1)
    }

    /// One job by name.
    pub async fn job(&self, name: &str) -> Result<Option<Job>> {
        let row: Option<JobRow> = self
            .fetch_optional(
                &format!("SELECT {COLS} FROM jobs WHERE name = $1"),
                &[name.into()],
            )
            .await?;
        Ok(row.map(job))
    }

    /// Every job, by name.
    pub async fn jobs(&self) -> Result<Vec<Job>> {
        let rows: Vec<JobRow> = self
            .fetch_all(&format!("SELECT {COLS} FROM jobs ORDER BY name"), &[])
            .await?;
        Ok(rows.into_iter().map(job).collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(super::backoff(1, 10, 1000), 10);
        assert_eq!(super::backoff(2, 10, 1000), 20);
        assert_eq!(super::backoff(4, 10, 1000), 80);
        assert_eq!(super::backoff(100, 10, 1000), 1000);
        assert_eq!(super::backoff(0, 10, 1000), 10);
    }
}
