//! SQLite's statements for the outbox: multi-row queueing and `IN` lists. (Taking due mail is
//! one statement on both backends: only the holder of the `outbox` job takes any.)

use crate::outbox::OutboxSql;
use crate::{Batch, MultiRow};

pub(crate) static SQL: OutboxSql = OutboxSql {
    enqueue: Batch::Rows(MultiRow::new(
        "INSERT INTO outbox (id, idempotency_key, template, lang, to_sealed, params_sealed, request_id, status, attempts, next_attempt_at, created_at) VALUES ",
        "(?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)",
        " ON CONFLICT (idempotency_key) DO NOTHING",
    )),
    // One statement whatever the number of ids, as before (SQLite allows 32,766 arguments).
    mark_sent: Batch::Rows(MultiRow::with_max(
        "UPDATE outbox SET status = 'sent', last_error = NULL, sent_at = ? WHERE status <> 'sent' AND id IN (",
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
