//! The lifting of a restriction, announced before it happens (GDPR Art. 18(3)): the
//! announcement is written with the request's history entry and the notice to the requester
//! in one transaction, and the housekeeping job lifts the restriction once its time has come
//! and the notice has gone out.

use crate::outbox::NewMail;
use crate::{Result, Store};

use super::{HistoryEntry, RequestRow};

/// An announced lift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiftRow {
    pub request_id: String,
    pub announced_at: i64,
    /// When the restriction ends (once the notice has gone out); `None` after an attempt
    /// failed, until the DPO completes the request.
    pub lift_at: Option<i64>,
    /// The notice's outbox key; `None` when no address was left to write to.
    pub notice_key: Option<String>,
}

type LiftTuple = (String, i64, Option<i64>, Option<String>);

fn lift(r: LiftTuple) -> LiftRow {
    LiftRow {
        request_id: r.0,
        announced_at: r.1,
        lift_at: r.2,
        notice_key: r.3,
    }
}

impl Store {
    /// Writes the change to the request (its history entry and the notice to the requester)
    /// and the announced lift, in one transaction; `false` when someone changed the request
    /// first (nothing written).
    pub async fn announce_lift(
        &self,
        seen: &RequestRow,
        new: &RequestRow,
        entry: &HistoryEntry,
        mails: &[NewMail],
        lift: &LiftRow,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !self
            .update_request_in(&mut tx, seen, new, Some(entry), mails)
            .await?
        {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO restriction_lifts (request_id, announced_at, lift_at, notice_key) VALUES ($1, $2, $3, $4)",
            &[
                (&lift.request_id).into(),
                lift.announced_at.into(),
                lift.lift_at.into(),
                (&lift.notice_key).into(),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The announced lift of a restriction request, if any.
    pub async fn restriction_lift(&self, request_id: &str) -> Result<Option<LiftRow>> {
        let row: Option<LiftTuple> = self
            .fetch_optional(
                "SELECT request_id, announced_at, lift_at, notice_key FROM restriction_lifts WHERE request_id = $1",
                &[request_id.into()],
            )
            .await?;
        Ok(row.map(lift))
    }

    /// Announced lifts whose time has come, of restrictions still in force, oldest first.
    pub async fn lifts_due(&self, now: i64, limit: i64) -> Result<Vec<LiftRow>> {
        let rows: Vec<LiftTuple> = self
            .fetch_all(
                "SELECT l.request_id, l.announced_at, l.lift_at, l.notice_key FROM restriction_lifts l \
                 JOIN requests r ON r.id = l.request_id WHERE l.lift_at IS NOT NULL AND l.lift_at <= $1 \
                 AND r.status IN ('approved', 'in_progress') ORDER BY l.lift_at, l.request_id LIMIT $2",
                &[now.into(), limit.into()],
            )
            .await?;
        Ok(rows.into_iter().map(lift).collect())
    }

    /// Stops trying a lift automatically (an attempt failed: the DPO completes the request).
    pub async fn unschedule_lift(&self, request_id: &str) -> Result<()> {
        self.execute(
            "UPDATE restriction_lifts SET lift_at = NULL WHERE request_id = $1",
            &[request_id.into()],
        )
        .await?;
        Ok(())
    }
}
