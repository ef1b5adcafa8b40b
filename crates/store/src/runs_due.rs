//! Connector runs that execute in the background rather than inside the call that planned
//! them: a consent withdrawal told to the company's services, an erasure told to recipients
//! (GDPR Art. 19). The call that made them durable only plans them; a pass on any node asks
//! here which are due and executes each under its run's lease (`crate::runs`), so a failing
//! service is retried with backoff and never holds up the answer.

use custodian_core::run::RunKind;

use crate::{Arg, Result, Store};

impl Store {
    /// Runs of `kinds` that still hold their identifiers and have a step to execute at `now`:
    /// pending, left running by a node that stopped, or retrying and due — and that no node
    /// holds a live lease on (`crate::runs::run_job`). Oldest first.
    pub async fn due_runs(&self, kinds: &[RunKind], now: i64, limit: i64) -> Result<Vec<String>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        // The kinds are the enum's own names, never input.
        let list: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
        let sql = format!(
            "SELECT r.id FROM connector_runs r WHERE r.kind IN ({}) AND r.payload IS NOT NULL \
             AND r.status <> 'done' AND EXISTS (SELECT 1 FROM connector_run_steps s WHERE s.run_id = r.id \
             AND (s.status IN ('pending', 'running') OR (s.status = 'retrying' AND s.next_attempt_at <= $1))) \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.name = 'connector_run:' || r.id AND j.lease_until > $1) \
             ORDER BY r.created_at, r.id LIMIT $2",
            list.join(", ")
        );
        let rows = self
            .fetch_all::<(String,)>(&sql, &[Arg::from(now), Arg::from(limit)])
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
