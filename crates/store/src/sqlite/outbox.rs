//! SQLite's statements for the outbox: multi-row queueing, `IN` lists, and a claim that runs
//! under the write lock.

use crate::outbox::OutboxSql;
use crate::{Batch, MultiRow};

pub(crate) static SQL: OutboxSql = OutboxSql {
    enqueue: Batch::Rows(MultiRow::new(
        "INSERT INTO outbox (id, idempotency_key, template, lang, to_sealed, params_sealed, request_id, status, attempts, next_attempt_at, created_at) VALUES ",
        "(?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)",
        " ON CONFLICT (idempotency_key) DO NOTHING",
    )),
    claim: "UPDATE outbox SET status = 'sending', attempts = attempts + 1, lease_until = $1, next_attempt_at = $1 \
            WHERE id IN (SELECT id FROM outbox WHERE status IN ('queued', 'sending') AND next_attempt_at <= $2 \
                         AND to_sealed IS NOT NULL ORDER BY next_attempt_at LIMIT $3) \
            RETURNING id, idempotency_key, template, lang, to_sealed, params_sealed, request_id, attempts, lease_until, created_at",
    // One statement whatever the number of ids, as before (SQLite allows 32,766 arguments).
    mark_sent: Batch::Rows(MultiRow::with_max(
        "UPDATE outbox SET status = 'sent', lease_until = NULL, last_error = NULL, sent_at = ? WHERE status <> 'sent' AND id IN (",
        "?",
        ")",
        usize::MAX,
    )),
    forget: Batch::Rows(MultiRow::with_max(
        "UPDATE outbox SET to_sealed = NULL, params_sealed = NULL WHERE status IN ('sent', 'failed') AND to_sealed IS NOT NULL AND request_id IN (",
        "?",
        ")",
        usize::MAX,
    )),
};
