//! Job marks: a named value (the day a daily job last ran) that of several nodes only one
//! moves, so only one of them runs the job.

use crate::{Result, Store};

impl Store {
    pub async fn job_mark(&self, name: &str) -> Result<Option<i64>> {
        let row: Option<(i64,)> = self
            .fetch_optional(
                "SELECT value FROM job_marks WHERE name = $1",
                &[name.into()],
            )
            .await?;
        Ok(row.map(|(v,)| v))
    }

    /// Sets a mark only if it still has the value the caller saw, so of several nodes only
    /// one runs a daily job.
    pub async fn claim_job_mark(&self, name: &str, seen: Option<i64>, value: i64) -> Result<bool> {
        let n = match seen {
            None => {
                self.execute(
                    "INSERT INTO job_marks (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[name.into(), value.into()],
                )
                .await?
            }
            Some(old) => {
                self.execute(
                    "UPDATE job_marks SET value = $1 WHERE name = $2 AND value = $3",
                    &[value.into(), name.into(), old.into()],
                )
                .await?
            }
        };
        Ok(n == 1)
    }
}
