//! Writing requests: intake in batches (all or none, with the requester's key and first
//! mail) and status changes under optimistic concurrency.

use crate::keys::{self, KeyRow};
use crate::outbox::{self, NewMail};
use crate::{Arg, Result, Store, StoreError, Tx};

use super::{HistoryEntry, NewRequest, RequestRow};

/// Every key a batch brought must be the one that stands after the insert; otherwise a
/// subject already had another, and the batch (all or nothing) fails with
/// [`super::KEY_CONFLICT`].
async fn put_keys_standing(tx: &mut Tx, keys: &[&KeyRow]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let standing = keys::put_keys(tx, keys).await?;
    if keys.iter().all(|k| {
        standing
            .get(&k.subject_ref)
            .is_some_and(|s| s.wrapped == k.wrapped)
    }) {
        Ok(())
    } else {
        Err(StoreError::KeyConflict)
    }
}

/// The columns of a batch of request rows, in [`super::COLUMNS`] order.
fn request_columns<'a>(rows: &[&'a RequestRow]) -> [Arg<'a>; 25] {
    [
        Arg::Texts(rows.iter().map(|r| r.id.as_str()).collect()),
        Arg::Texts(rows.iter().map(|r| r.kind.as_str()).collect()),
        Arg::Texts(rows.iter().map(|r| r.status.as_str()).collect()),
        Arg::Texts(rows.iter().map(|r| r.subject_ref.as_str()).collect()),
        Arg::Texts(rows.iter().map(|r| r.email_sealed.as_str()).collect()),
        Arg::OptTexts(rows.iter().map(|r| r.details_sealed.as_deref()).collect()),
        Arg::Texts(rows.iter().map(|r| r.language.as_str()).collect()),
        Arg::OptTexts(rows.iter().map(|r| r.country.as_deref()).collect()),
        Arg::Texts(rows.iter().map(|r| r.jurisdiction.as_str()).collect()),
        Arg::OptTexts(rows.iter().map(|r| r.customer_id.as_deref()).collect()),
        Arg::I64s(rows.iter().map(|r| r.received_at).collect()),
        Arg::OptI64s(rows.iter().map(|r| r.verified_at).collect()),
        Arg::OptTexts(rows.iter().map(|r| r.code_hash.as_deref()).collect()),
        Arg::OptI64s(rows.iter().map(|r| r.code_expires_at).collect()),
        Arg::I64s(rows.iter().map(|r| r.attempts).collect()),
        Arg::I64s(rows.iter().map(|r| r.acknowledge_due).collect()),
        Arg::I64s(rows.iter().map(|r| r.answer_due).collect()),
        Arg::I64s(rows.iter().map(|r| r.extended_months).collect()),
        Arg::OptTexts(rows.iter().map(|r| r.assignee.as_deref()).collect()),
        Arg::OptI64s(rows.iter().map(|r| r.completed_at).collect()),
        Arg::I64s(rows.iter().map(|r| r.updated_at).collect()),
        Arg::I64s(rows.iter().map(|r| r.extended_days).collect()),
        Arg::OptI64s(rows.iter().map(|r| r.paused_since).collect()),
        Arg::OptTexts(rows.iter().map(|r| r.pause_reason.as_deref()).collect()),
        Arg::I64s(rows.iter().map(|r| r.paused_days).collect()),
    ]
}

/// One request's columns, in [`super::COLUMNS`] order.
fn request_args(r: &RequestRow) -> [Arg<'_>; 25] {
    [
        (&r.id).into(),
        r.kind.as_str().into(),
        r.status.as_str().into(),
        (&r.subject_ref).into(),
        (&r.email_sealed).into(),
        (&r.details_sealed).into(),
        (&r.language).into(),
        (&r.country).into(),
        (&r.jurisdiction).into(),
        (&r.customer_id).into(),
        r.received_at.into(),
        r.verified_at.into(),
        (&r.code_hash).into(),
        r.code_expires_at.into(),
        r.attempts.into(),
        r.acknowledge_due.into(),
        r.answer_due.into(),
        r.extended_months.into(),
        (&r.assignee).into(),
        r.completed_at.into(),
        r.updated_at.into(),
        r.extended_days.into(),
        r.paused_since.into(),
        (&r.pause_reason).into(),
        r.paused_days.into(),
    ]
}

const UPDATE: &str = "UPDATE requests SET id = $1, kind = $2, status = $3, subject_ref = $4, email_sealed = $5, details_sealed = $6, language = $7, country = $8, jurisdiction = $9, customer_id = $10, received_at = $11, verified_at = $12, code_hash = $13, code_expires_at = $14, attempts = $15, acknowledge_due = $16, answer_due = $17, extended_months = $18, assignee = $19, completed_at = $20, updated_at = $21, extended_days = $22, paused_since = $23, pause_reason = $24, paused_days = $25 WHERE id = $26 AND status = $27 AND updated_at = $28";
const HISTORY: &str = "INSERT INTO request_history (request_id, at, actor, action, from_status, to_status, detail_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7)";

impl Store {
    /// Stores a new request with its first history entry and, in the same transaction, its
    /// first mail: a request never exists without the code that lets it go on.
    pub async fn insert_request(
        &self,
        r: &RequestRow,
        first: &HistoryEntry,
        mail: Option<&NewMail>,
    ) -> Result<()> {
        self.insert_requests(&[NewRequest {
            row: r.clone(),
            first: first.clone(),
            mail: mail.cloned(),
            key: None,
        }])
        .await
    }

    /// Stores several new requests in one transaction (see [`super::IntakeWriter`]): all or
    /// none. Each table gets one statement for many requests, not one per request: under load
    /// a batch holds dozens, and every statement is a round trip. On PostgreSQL the rows go as
    /// arrays through one fixed statement (`UNNEST`), prepared and planned once whatever the
    /// batch size; on SQLite as multi-row `VALUES` of [`crate::ROWS_PER_STATEMENT`] rows at
    /// most.
    pub async fn insert_requests(&self, batch: &[NewRequest]) -> Result<()> {
        let sql = self.dialect.requests;
        let mut tx = self.begin().await?;
        let keys: Vec<&KeyRow> = batch.iter().filter_map(|n| n.key.as_ref()).collect();
        put_keys_standing(&mut tx, &keys).await?;
        let rows: Vec<&RequestRow> = batch.iter().map(|n| &n.row).collect();
        tx.execute_batch(&sql.insert, &[], &request_columns(&rows))
            .await?;
        let history = [
            Arg::Texts(batch.iter().map(|n| n.row.id.as_str()).collect()),
            Arg::I64s(batch.iter().map(|n| n.first.at).collect()),
            Arg::Texts(batch.iter().map(|n| n.first.actor.as_str()).collect()),
            Arg::Texts(batch.iter().map(|n| n.first.action.as_str()).collect()),
            Arg::OptTexts(
                batch
                    .iter()
                    .map(|n| n.first.from_status.map(|s| s.as_str()))
                    .collect(),
            ),
            Arg::Texts(batch.iter().map(|n| n.first.to_status.as_str()).collect()),
            Arg::OptTexts(
                batch
                    .iter()
                    .map(|n| n.first.detail_sealed.as_deref())
                    .collect(),
            ),
        ];
        tx.execute_batch(&sql.history, &[], &history).await?;
        let mails: Vec<&NewMail> = batch.iter().filter_map(|n| n.mail.as_ref()).collect();
        outbox::enqueue(&mut tx, &mails).await?;
        tx.commit().await
    }

    /// Writes `new` over the stored request if it is unchanged since `seen` was read, with a
    /// history entry. Answers `false` (and writes nothing) when someone else changed it first.
    /// `mails` (the messages that tell the requester about the change) are queued in the same
    /// transaction: a change is never written without its mail, nor mail sent for a change
    /// that was refused. A repeated idempotency key queues nothing.
    pub async fn update_request(
        &self,
        seen: &RequestRow,
        new: &RequestRow,
        entry: Option<&HistoryEntry>,
        mails: &[NewMail],
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !self
            .update_request_in(&mut tx, seen, new, entry, mails)
            .await?
        {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// [`Store::update_request`] inside the caller's transaction (`false`: someone changed the
    /// request first, and nothing was written). A restriction that comes into force or ends is
    /// noted for the other nodes (`standing_changes`) in the same transaction.
    pub(crate) async fn update_request_in(
        &self,
        tx: &mut Tx,
        seen: &RequestRow,
        new: &RequestRow,
        entry: Option<&HistoryEntry>,
        mails: &[NewMail],
    ) -> Result<bool> {
        let mut args = request_args(new).to_vec();
        args.extend([
            (&seen.id).into(),
            seen.status.as_str().into(),
            seen.updated_at.into(),
        ]);
        if tx.execute(UPDATE, &args).await? != 1 {
            return Ok(false);
        }
        if let Some(h) = entry {
            tx.execute(
                HISTORY,
                &[
                    (&new.id).into(),
                    h.at.into(),
                    (&h.actor).into(),
                    (&h.action).into(),
                    h.from_status.map(|s| s.as_str()).into(),
                    h.to_status.as_str().into(),
                    (&h.detail_sealed).into(),
                ],
            )
            .await?;
        }
        for m in mails {
            tx.execute(outbox::ENQUEUE_ONE, &outbox::enqueue_args(m))
                .await?;
        }
        if new.kind == custodian_core::request::Kind::Restriction && seen.status != new.status {
            crate::standing::note_change(tx, &new.subject_ref, self.now()).await?;
        }
        Ok(true)
    }
}
