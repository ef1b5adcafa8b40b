//! The mail outbox: every outgoing message is a row before it is sent, taken by a delivery
//! pass, and marked sent or failed afterwards. Passes are the leased job `outbox` (see
//! [`crate::jobs`]): only the job's holder takes messages, so the rows carry no lease of their
//! own.
//!
//! Delivery is at least once: a node killed between the SMTP server's accept and
//! [`Store::mark_mail_sent`] leaves the row `sending`, and when its lease on the job runs out
//! the next holder's pass sends it again (with the same Message-ID, which the mail crate
//! derives from the idempotency key). The store never sees an address or a body in clear:
//! the caller seals them, and erasure ([`Store::forget_mail_to`]) drops the sealed fields.

use crate::{Arg, Batch, Result, Store, StoreError, Tx};

/// A message to queue. `to_sealed` and `params_sealed` are already sealed by the caller, bound
/// to the place `outbox/<id>/to` and `outbox/<id>/params`, which is why the id comes from the
/// caller too (`store.ids().next("mail")`).
#[derive(Debug, Clone)]
pub struct NewMail {
    pub id: String,
    /// Unique per logical message (e.g. `req_123/verification_code/1`): queueing the same key
    /// twice queues one message.
    pub idempotency_key: String,
    pub template: String,
    pub lang: String,
    pub to_sealed: String,
    pub params_sealed: String,
    pub request_id: Option<String>,
    pub created_at: i64,
    /// The earliest time to send; usually `created_at`.
    pub send_after: i64,
}

/// A message taken for sending by the pass holding the `outbox` job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMail {
    pub id: String,
    pub idempotency_key: String,
    pub template: String,
    pub lang: String,
    pub to_sealed: String,
    pub params_sealed: String,
    pub request_id: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub created_at: i64,
}

/// What was sent about a request, for access exports and the DPO's history: never the body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailSummary {
    pub id: String,
    pub template: String,
    pub lang: String,
    pub status: MailStatus,
    pub attempts: i32,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    Queued,
    Sending,
    Sent,
    Failed,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Queued => "queued",
            MailStatus::Sending => "sending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<MailStatus> {
        [
            MailStatus::Queued,
            MailStatus::Sending,
            MailStatus::Sent,
            MailStatus::Failed,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }

    /// The status of a stored row, which must be one Custodian writes.
    fn of_row(s: &str, row: &str) -> Result<MailStatus> {
        MailStatus::parse(s)
            .ok_or_else(|| StoreError::Corrupt(format!("{row} has outbox status `{s}`")))
    }
}

/// Rows per status, for metrics; `oldest_due_at` is the `next_attempt_at` of the most overdue
/// unsent message (how far behind the sender is).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxCounts {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub oldest_due_at: Option<i64>,
}

/// The dialect's statements for the outbox (see `sqlite/outbox.rs`, `postgres/outbox.rs`).
#[derive(Debug)]
pub(crate) struct OutboxSql {
    /// Queues messages `(id, idempotency_key, template, lang, to_sealed, params_sealed,
    /// request_id, next_attempt_at, created_at)`; a repeated idempotency key queues nothing.
    pub enqueue: Batch,
    /// Marks messages `(id)` sent at `$1` (the head's argument).
    pub mark_sent: Batch,
    /// Drops the sealed fields of the finished mail of requests `(request_id)`.
    pub forget: Batch,
}

type ClaimedRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i32,
    i64,
);

fn claimed(r: ClaimedRow) -> ClaimedMail {
    ClaimedMail {
        id: r.0,
        idempotency_key: r.1,
        template: r.2,
        lang: r.3,
        to_sealed: r.4,
        params_sealed: r.5,
        request_id: r.6,
        attempts: r.7,
        created_at: r.8,
    }
}

type SummaryRow = (String, String, String, String, i32, i64, Option<i64>);

fn summary(
    (id, template, lang, status, attempts, created_at, sent_at): SummaryRow,
) -> Result<MailSummary> {
    Ok(MailSummary {
        status: MailStatus::of_row(&status, &format!("mail {id}"))?,
        id,
        template,
        lang,
        attempts,
        created_at,
        sent_at,
    })
}

/// Queues messages inside the caller's transaction (request intake queues a request's first
/// mail with the request). Answers how many were new.
pub(crate) async fn enqueue(tx: &mut Tx, mails: &[&NewMail]) -> Result<u64> {
    if mails.is_empty() {
        return Ok(0);
    }
    let columns = [
        Arg::Texts(mails.iter().map(|m| m.id.as_str()).collect()),
        Arg::Texts(mails.iter().map(|m| m.idempotency_key.as_str()).collect()),
        Arg::Texts(mails.iter().map(|m| m.template.as_str()).collect()),
        Arg::Texts(mails.iter().map(|m| m.lang.as_str()).collect()),
        Arg::Texts(mails.iter().map(|m| m.to_sealed.as_str()).collect()),
        Arg::Texts(mails.iter().map(|m| m.params_sealed.as_str()).collect()),
        Arg::OptTexts(mails.iter().map(|m| m.request_id.as_deref()).collect()),
        Arg::I64s(mails.iter().map(|m| m.send_after).collect()),
        Arg::I64s(mails.iter().map(|m| m.created_at).collect()),
    ];
    tx.execute_batch(&tx.dialect().outbox.enqueue, &[], &columns)
        .await
}

/// Queues one message; shared by [`Store::enqueue_mail`] and request updates.
pub(crate) const ENQUEUE_ONE: &str = "INSERT INTO outbox (id, idempotency_key, template, lang, to_sealed, params_sealed, request_id, status, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $9) ON CONFLICT (idempotency_key) DO NOTHING";

pub(crate) fn enqueue_args(m: &NewMail) -> [Arg<'_>; 9] {
    [
        (&m.id).into(),
        (&m.idempotency_key).into(),
        (&m.template).into(),
        (&m.lang).into(),
        (&m.to_sealed).into(),
        (&m.params_sealed).into(),
        (&m.request_id).into(),
        m.send_after.into(),
        m.created_at.into(),
    ]
}

const SUMMARY_COLUMNS: &str = "id, template, lang, status, attempts, created_at, sent_at";

impl Store {
    /// Queues a message; answers `false` (and queues nothing) when its idempotency key is
    /// already queued or sent.
    pub async fn enqueue_mail(&self, m: &NewMail) -> Result<bool> {
        Ok(self.execute(ENQUEUE_ONE, &enqueue_args(m)).await? == 1)
    }

    /// Queues many messages in one transaction; answers how many were new (a message whose
    /// idempotency key is already queued or sent is skipped).
    pub async fn enqueue_mails(&self, mails: &[NewMail]) -> Result<u64> {
        let mut tx = self.begin().await?;
        let refs: Vec<&NewMail> = mails.iter().collect();
        let n = enqueue(&mut tx, &refs).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Takes up to `limit` messages that are due at `now` for the pass holding the `outbox`
    /// job — queued ones whose retry time has come, and `sending` ones a crashed pass left
    /// (they were in flight: they go again, once) — and marks them `sending`, one attempt more.
    /// Only the job's holder calls this, so no two passes take the same message, and the
    /// statement is the same on both backends.
    pub async fn claim_due_mail(&self, now: i64, limit: i64) -> Result<Vec<ClaimedMail>> {
        // Immediate: on SQLite the write lock is taken before the read (a deferred
        // transaction would fail to upgrade, not wait, if another connection wrote meanwhile).
        let mut tx = self.begin_immediate().await?;
        let rows: Vec<ClaimedRow> = tx
            .fetch_all(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $1 \
                 WHERE id IN (SELECT id FROM outbox WHERE status IN ('queued', 'sending') AND next_attempt_at <= $1 \
                              AND to_sealed IS NOT NULL ORDER BY next_attempt_at LIMIT $2) \
                 RETURNING id, idempotency_key, template, lang, to_sealed, params_sealed, request_id, attempts, created_at",
                &[now.into(), limit.into()],
            )
            .await?;
        tx.commit().await?;
        let mut out: Vec<ClaimedMail> = rows.into_iter().map(claimed).collect();
        // RETURNING gives no order; oldest first keeps delivery roughly in queue order.
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    /// Records that the SMTP server accepted the message. Answers whether the row changed
    /// (false when it was already sent).
    pub async fn mark_mail_sent(&self, id: &str, now: i64) -> Result<bool> {
        let n = self
            .execute(
                "UPDATE outbox SET status = 'sent', sent_at = $1, last_error = NULL WHERE id = $2 AND status <> 'sent'",
                &[now.into(), id.into()],
            )
            .await?;
        Ok(n == 1)
    }

    /// [`Store::mark_mail_sent`] for several messages in one statement (one commit: the
    /// worker marks a pass's accepted messages together). Answers how many rows changed.
    pub async fn mark_mails_sent(&self, ids: &[String], now: i64) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let ids = Arg::Texts(ids.iter().map(String::as_str).collect());
        self.execute_batch(&self.dialect.outbox.mark_sent, &[now.into()], &[ids])
            .await
    }

    /// Records a failed attempt: the message is due again at `next_attempt_at`, or, with
    /// `give_up`, ends `failed`. `error` must carry no personal data (it is shown to the DPO).
    /// A message already sent (by a node that outlived its lease on the job) stays sent.
    pub async fn mark_mail_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: i64,
        give_up: bool,
    ) -> Result<bool> {
        let status = if give_up {
            MailStatus::Failed
        } else {
            MailStatus::Queued
        };
        let error: String = error.chars().take(500).collect();
        let n = self
            .execute(
                "UPDATE outbox SET status = $1, last_error = $2, next_attempt_at = $3 WHERE id = $4 AND status = 'sending'",
                &[status.as_str().into(), (&error).into(), next_attempt_at.into(), id.into()],
            )
            .await?;
        Ok(n == 1)
    }

    /// The mail about one request, oldest first: template, status and times, never bodies.
    pub async fn mail_for_request(&self, request_id: &str) -> Result<Vec<MailSummary>> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM outbox WHERE request_id = $1 ORDER BY created_at, id"
        );
        let rows: Vec<SummaryRow> = self.fetch_all(&sql, &[request_id.into()]).await?;
        rows.into_iter().map(summary).collect()
    }

    /// One message by idempotency key (for callers that want to know whether theirs went).
    pub async fn mail_by_key(&self, idempotency_key: &str) -> Result<Option<MailSummary>> {
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM outbox WHERE idempotency_key = $1");
        let row: Option<SummaryRow> = self.fetch_optional(&sql, &[idempotency_key.into()]).await?;
        row.map(summary).transpose()
    }

    /// The last error of a message, for the DPO's view of failed mail.
    pub async fn mail_last_error(&self, id: &str) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> = self
            .fetch_optional("SELECT last_error FROM outbox WHERE id = $1", &[id.into()])
            .await?;
        Ok(row.and_then(|(e,)| e))
    }

    /// Rows per status, for metrics.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts> {
        let rows: Vec<(String, i64, Option<i64>)> = self
            .fetch_all(
                "SELECT status, COUNT(*), MIN(next_attempt_at) FROM outbox GROUP BY status",
                &[],
            )
            .await?;
        let mut c = OutboxCounts::default();
        for (status, n, oldest) in rows {
            let status = MailStatus::of_row(&status, "an outbox row")?;
            match status {
                MailStatus::Queued => c.queued = n,
                MailStatus::Sending => c.sending = n,
                MailStatus::Sent => c.sent = n,
                MailStatus::Failed => c.failed = n,
            }
            if matches!(status, MailStatus::Queued | MailStatus::Sending) {
                c.oldest_due_at = match (c.oldest_due_at, oldest) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        Ok(c)
    }

    /// Erasure: drops the sealed address and parameters of the finished (sent or failed) mail
    /// of these requests, keeping template, status and times as the record that mail went.
    /// Unsent mail keeps them so it can still go (the erasure's own confirmation among it).
    /// Answers the number of messages forgotten.
    pub async fn forget_mail_to(&self, request_ids: &[String]) -> Result<u64> {
        if request_ids.is_empty() {
            return Ok(0);
        }
        let ids = Arg::Texts(request_ids.iter().map(String::as_str).collect());
        self.execute_batch(&self.dialect.outbox.forget, &[], &[ids])
            .await
    }
}
