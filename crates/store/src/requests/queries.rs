//! Reading requests: one by id, the DPO's queue, a request's history, and the lists the
//! background jobs work through.

use custodian_core::request::{Kind, Status};

use super::{status, HistoryEntry, RawRequest, RequestFilter, RequestRow, COLUMNS};
use crate::{Arg, Result, Store};

/// Statuses in which the answer clock runs (see `custodian_core::request::Status::is_open`).
const OPEN: &str = "('verified', 'approved', 'in_progress')";

/// The queue's filters; a filter left out compares its NULL argument and keeps every row.
const FILTER: &str = "($1 IS NULL OR status = $1) AND ($2 IS NULL OR kind = $2) \
     AND ($3 IS NULL OR (status IN ('verified', 'approved', 'in_progress') AND answer_due < $3)) \
     AND ($4 IS NULL OR jurisdiction = $4) \
     AND ($5 IS NULL OR COALESCE(assignee, '') = $5)";

fn filter_args(f: &RequestFilter) -> Vec<Arg<'_>> {
    vec![
        f.status.map(Status::as_str).into(),
        f.kind.map(Kind::as_str).into(),
        f.due_before.into(),
        f.jurisdiction.as_deref().into(),
        f.assignee.as_deref().into(),
    ]
}

impl Store {
    /// Declared children's erasures not yet completed (a company datastore failed): the
    /// housekeeping round tries them again.
    pub async fn open_child_erasures(&self) -> Result<Vec<RequestRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM requests WHERE kind = 'erasure' AND status IN ('approved', 'in_progress') \
             AND id IN (SELECT request_id FROM minors WHERE request_id IS NOT NULL) ORDER BY answer_due, id"
        );
        self.requests_of(&sql, &[]).await
    }

    pub async fn request(&self, id: &str) -> Result<Option<RequestRow>> {
        let sql = format!("SELECT {COLUMNS} FROM requests WHERE id = $1");
        self.fetch_optional::<RawRequest>(&sql, &[id.into()])
            .await?
            .map(RequestRow::try_from)
            .transpose()
    }

    /// The DPO's queue, most urgent first: a declared child's erasure still open comes
    /// before everything (GDPR Art. 8, 17(1)(f); `minors.request_id`), then by due time.
    pub async fn list_requests(&self, f: &RequestFilter) -> Result<Vec<RequestRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM requests WHERE {FILTER} \
             ORDER BY CASE WHEN status IN {OPEN} AND id IN (SELECT request_id FROM minors WHERE request_id IS NOT NULL) \
             THEN 0 ELSE 1 END, answer_due, received_at, id LIMIT $6 OFFSET $7"
        );
        let mut args = filter_args(f);
        args.push(f.limit.clamp(1, 1000).into());
        args.push(f.offset.max(0).into());
        self.requests_of(&sql, &args).await
    }

    /// How many requests the filter selects, for paging through the queue.
    pub async fn count_requests(&self, f: &RequestFilter) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM requests WHERE {FILTER}");
        let (n,): (i64,) = self.fetch_one(&sql, &filter_args(f)).await?;
        Ok(n)
    }

    /// Open requests (the answer clock running), soonest due first, at most `limit`.
    pub async fn open_requests(&self, limit: i64) -> Result<Vec<RequestRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM requests WHERE status IN {OPEN} ORDER BY answer_due, id LIMIT $1"
        );
        self.requests_of(&sql, &[limit.into()]).await
    }

    pub async fn request_history(&self, id: &str) -> Result<Vec<HistoryEntry>> {
        type Row = (i64, String, String, Option<String>, String, Option<String>);
        let rows: Vec<Row> = self
            .fetch_all(
                "SELECT at, actor, action, from_status, to_status, detail_sealed FROM request_history WHERE request_id = $1 ORDER BY id",
                &[id.into()],
            )
            .await?;
        let row = format!("a history entry of request {id}");
        rows.into_iter()
            .map(
                |(at, actor, action, from_status, to_status, detail_sealed)| {
                    Ok(HistoryEntry {
                        at,
                        actor,
                        action,
                        from_status: from_status.map(|s| status(&s, &row)).transpose()?,
                        to_status: status(&to_status, &row)?,
                        detail_sealed,
                    })
                },
            )
            .collect()
    }

    /// Access and erasure requests approved before `before` and still `approved`, with no
    /// connector run of theirs under a live lease at `now`: the node that approved one died
    /// before carrying it out (it runs inside the approving call), and nobody else is on it.
    pub async fn stalled_approved(&self, before: i64, now: i64) -> Result<Vec<RequestRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM requests WHERE kind IN ('access', 'erasure') AND status = 'approved' \
             AND updated_at < $1 AND NOT EXISTS (SELECT 1 FROM connector_runs r JOIN jobs j \
             ON j.name = 'connector_run:' || r.id WHERE r.request_id = requests.id AND j.lease_until > $2) \
             ORDER BY answer_due, id LIMIT 100"
        );
        self.requests_of(&sql, &[before.into(), now.into()]).await
    }

    /// Erasure requests completed at or after `since` (microseconds), oldest first.
    pub async fn completed_erasures_since(&self, since: i64) -> Result<Vec<RequestRow>> {
        let sql = format!("SELECT {COLUMNS} FROM requests WHERE kind = 'erasure' AND status = 'completed' AND completed_at >= $1 ORDER BY completed_at, id");
        self.requests_of(&sql, &[since.into()]).await
    }

    /// Every request a subject made, oldest first (access exports, erasure).
    pub async fn requests_of_subject(&self, subject_ref: &str) -> Result<Vec<RequestRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM requests WHERE subject_ref = $1 ORDER BY received_at, id"
        );
        self.requests_of(&sql, &[subject_ref.into()]).await
    }

    /// How many requests are in each status.
    pub async fn request_counts(&self) -> Result<Vec<(Status, i64)>> {
        let rows: Vec<(String, i64)> = self
            .fetch_all(
                "SELECT status, COUNT(*) FROM requests GROUP BY status ORDER BY status",
                &[],
            )
            .await?;
        rows.into_iter()
            .map(|(s, n)| Ok((status(&s, "a request")?, n)))
            .collect()
    }

    /// Open requests answered by `by` at the latest (due soon and overdue lists).
    pub async fn open_requests_due_before(&self, by: i64) -> Result<Vec<RequestRow>> {
        self.list_requests(&RequestFilter {
            due_before: Some(by),
            limit: 1000,
            ..Default::default()
        })
        .await
    }

    /// Requests that were never verified and whose code expired before `cutoff`.
    pub async fn stale_unverified(&self, cutoff: i64) -> Result<Vec<RequestRow>> {
        let sql = format!("SELECT {COLUMNS} FROM requests WHERE status = 'awaiting_verification' AND code_expires_at < $1 ORDER BY received_at LIMIT 500");
        self.requests_of(&sql, &[cutoff.into()]).await
    }

    /// The requests a statement selects.
    async fn requests_of(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<RequestRow>> {
        self.fetch_all::<RawRequest>(sql, args)
            .await?
            .into_iter()
            .map(RequestRow::try_from)
            .collect()
    }
}
