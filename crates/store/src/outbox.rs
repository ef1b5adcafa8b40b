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

use rand::RngCore;

use crate::Pool;
use crate::{Result, Store, StoreError};

/// A message to queue. `to_sealed` and `params_sealed` are already sealed by the caller, bound
/// to the place `outbox/<id>/to` and `outbox/<id>/params`, which is why the id comes from the
/// caller too ([`new_mail_id`]).
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
    fn parse(s: &str) -> Result<MailStatus> {
        Ok(match s {
            "queued" => MailStatus::Queued,
            "sending" => MailStatus::Sending,
            "sent" => MailStatus::Sent,
            "failed" => MailStatus::Failed,
            other => return Err(StoreError::Corrupt(format!("outbox status `{other}`"))),
        })
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

/// A fresh message id (`mail_` and 16 hex digits).
pub fn new_mail_id() -> String {
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("mail_{}", hex::encode(b))
}

const CLAIMED_COLUMNS: &str = "id, idempotency_key, template, lang, to_sealed, params_sealed, request_id, attempts, created_at";
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
        status: MailStatus::parse(&status)?,
        id,
        template,
        lang,
        attempts,
        created_at,
        sent_at,
    })
}

/// Queues one message; a repeated idempotency key queues nothing. Shared with the requests
/// module, which queues a request's first mail in the same transaction as the request.
pub(crate) const ENQUEUE_HEAD: &str = "INSERT INTO outbox (id, idempotency_key, template, lang, to_sealed, params_sealed, request_id, status, attempts, next_attempt_at, created_at) VALUES ";
pub(crate) const ENQUEUE_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)";
pub(crate) const ENQUEUE_TAIL: &str = " ON CONFLICT (idempotency_key) DO NOTHING";

fn enqueue_one(postgres: bool) -> String {
    crate::multi_row(ENQUEUE_HEAD, ENQUEUE_ROW, 1, ENQUEUE_TAIL, postgres)
}

macro_rules! bind_mail {
    ($q:expr, $m:expr) => {
        $q.bind(&$m.id)
            .bind(&$m.idempotency_key)
            .bind(&$m.template)
            .bind(&$m.lang)
            .bind(&$m.to_sealed)
            .bind(&$m.params_sealed)
            .bind(&$m.request_id)
            .bind($m.send_after)
            .bind($m.created_at)
    };
}
pub(crate) use bind_mail;

impl Store {
    /// Queues a message; answers `false` (and queues nothing) when its idempotency key is
    /// already queued or sent.
    pub async fn enqueue_mail(&self, m: &NewMail) -> Result<bool> {
        let n = match &self.pool {
            Pool::Sqlite(p) => bind_mail!(sqlx::query(&enqueue_one(false)), m)
                .execute(p)
                .await?
                .rows_affected(),
            Pool::Postgres(p) => bind_mail!(sqlx::query(&enqueue_one(true)), m)
                .execute(p)
                .await?
                .rows_affected(),
        };
        Ok(n == 1)
    }

    /// Takes up to `limit` messages that are due at `now` for the pass holding the `outbox`
    /// job — queued ones whose retry time has come, and `sending` ones a crashed pass left
    /// (they were in flight: they go again, once) — and marks them `sending`, one attempt more.
    /// Only the job's holder calls this, so no two passes take the same message.
    pub async fn claim_due_mail(&self, now: i64, limit: i64) -> Result<Vec<ClaimedMail>> {
        // IMMEDIATE (on SQLite) takes the write lock before the read: a deferred transaction
        // would fail to upgrade, not wait, if another connection wrote meanwhile.
        let mut tx = self.begin_immediate().await?;
        let rows: Vec<ClaimedRow> = tx
            .fetch_all(
                &format!(
                    "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $1 \
                     WHERE id IN (SELECT id FROM outbox WHERE status IN ('queued', 'sending') AND next_attempt_at <= $1 \
                                  AND to_sealed IS NOT NULL ORDER BY next_attempt_at LIMIT $2) \
                     RETURNING {CLAIMED_COLUMNS}"
                ),
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
        const Q: &str = "UPDATE outbox SET status = 'sent', sent_at = ";
        let n = match &self.pool {
            Pool::Sqlite(p) => sqlx::query(&format!(
                "{Q}?, last_error = NULL WHERE id = ? AND status <> 'sent'"
            ))
            .bind(now)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected(),
            Pool::Postgres(p) => sqlx::query(&format!(
                "{Q}$1, last_error = NULL WHERE id = $2 AND status <> 'sent'"
            ))
            .bind(now)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected(),
        };
        Ok(n == 1)
    }

    /// [`Store::mark_mail_sent`] for several messages in one statement (one commit: the
    /// worker marks a pass's accepted messages together). Answers how many rows changed.
    pub async fn mark_mails_sent(&self, ids: &[String], now: i64) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        const Q: &str = "UPDATE outbox SET status = 'sent', last_error = NULL, sent_at = ";
        let n = match &self.pool {
            Pool::Sqlite(p) => {
                let marks = vec!["?"; ids.len()].join(", ");
                let sql = format!("{Q}? WHERE status <> 'sent' AND id IN ({marks})");
                let mut q = sqlx::query(&sql).bind(now);
                for id in ids {
                    q = q.bind(id);
                }
                q.execute(p).await?.rows_affected()
            }
            Pool::Postgres(p) => {
                sqlx::query(&format!("{Q}$1 WHERE status <> 'sent' AND id = ANY($2)"))
                    .bind(now)
                    .bind(ids)
                    .execute(p)
                    .await?
                    .rows_affected()
            }
        };
        Ok(n)
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
        let status = if give_up { "failed" } else { "queued" };
        let error: String = error.chars().take(500).collect();
        const Q: &str = "UPDATE outbox SET status = ";
        let n = match &self.pool {
            Pool::Sqlite(p) => sqlx::query(&format!(
                "{Q}?, last_error = ?, next_attempt_at = ? WHERE id = ? AND status = 'sending'"
            ))
            .bind(status)
            .bind(&error)
            .bind(next_attempt_at)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected(),
            Pool::Postgres(p) => sqlx::query(&format!(
                "{Q}$1, last_error = $2, next_attempt_at = $3 WHERE id = $4 AND status = 'sending'"
            ))
            .bind(status)
            .bind(&error)
            .bind(next_attempt_at)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected(),
        };
        Ok(n == 1)
    }

    /// The mail about one request, oldest first: template, status and times, never bodies.
    pub async fn mail_for_request(&self, request_id: &str) -> Result<Vec<MailSummary>> {
        const Q: &str = "SELECT id, template, lang, status, attempts, created_at, sent_at FROM outbox WHERE request_id = ";
        let rows: Vec<SummaryRow> = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_as(&format!("{Q}? ORDER BY created_at, id"))
                    .bind(request_id)
                    .fetch_all(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_as(&format!("{Q}$1 ORDER BY created_at, id"))
                    .bind(request_id)
                    .fetch_all(p)
                    .await?
            }
        };
        rows.into_iter().map(summary).collect()
    }

    /// One message by idempotency key (for callers that want to know whether theirs went).
    pub async fn mail_by_key(&self, idempotency_key: &str) -> Result<Option<MailSummary>> {
        const Q: &str = "SELECT id, template, lang, status, attempts, created_at, sent_at FROM outbox WHERE idempotency_key = ";
        let row: Option<SummaryRow> = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_as(&format!("{Q}?"))
                    .bind(idempotency_key)
                    .fetch_optional(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_as(&format!("{Q}$1"))
                    .bind(idempotency_key)
                    .fetch_optional(p)
                    .await?
            }
        };
        row.map(summary).transpose()
    }

    /// The last error of a message, for the DPO's view of failed mail.
    pub async fn mail_last_error(&self, id: &str) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_as("SELECT last_error FROM outbox WHERE id = ?")
                    .bind(id)
                    .fetch_optional(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_as("SELECT last_error FROM outbox WHERE id = $1")
                    .bind(id)
                    .fetch_optional(p)
                    .await?
            }
        };
        Ok(row.and_then(|(e,)| e))
    }

    /// Rows per status, for metrics.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts> {
        const Q: &str = "SELECT status, COUNT(*), MIN(next_attempt_at) FROM outbox GROUP BY status";
        let rows: Vec<(String, i64, Option<i64>)> = match &self.pool {
            Pool::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await?,
            Pool::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await?,
        };
        let mut c = OutboxCounts::default();
        for (status, n, oldest) in rows {
            match MailStatus::parse(&status)? {
                MailStatus::Queued => c.queued = n,
                MailStatus::Sending => c.sending = n,
                MailStatus::Sent => c.sent = n,
                MailStatus::Failed => c.failed = n,
            }
            if matches!(status.as_str(), "queued" | "sending") {
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
        const SET: &str = "UPDATE outbox SET to_sealed = NULL, params_sealed = NULL WHERE status IN ('sent', 'failed') AND to_sealed IS NOT NULL AND request_id";
        let n = match &self.pool {
            Pool::Sqlite(p) => {
                let marks = vec!["?"; request_ids.len()].join(", ");
                let sql = format!("{SET} IN ({marks})");
                let mut q = sqlx::query(&sql);
                for id in request_ids {
                    q = q.bind(id);
                }
                q.execute(p).await?.rows_affected()
            }
            Pool::Postgres(p) => sqlx::query(&format!("{SET} = ANY($1)"))
                .bind(request_ids)
                .execute(p)
                .await?
                .rows_affected(),
        };
        Ok(n)
    }
}
