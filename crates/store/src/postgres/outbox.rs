//! PostgreSQL's statements for the outbox: arrays through `UNNEST` and `ANY`. (Taking due mail
//! is one statement on both backends: only the holder of the `outbox` job takes any.)

use crate::outbox::OutboxSql;
use crate::Batch;

pub(crate) static SQL: OutboxSql = OutboxSql {
    enqueue: Batch::Arrays(
        "INSERT INTO outbox (id, idempotency_key, template, lang, to_sealed, params_sealed, request_id, status, attempts, next_attempt_at, created_at) \
         SELECT id, k, t, l, ts, ps, r, 'queued', 0, n, c FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[], $9::int8[]) AS u(id, k, t, l, ts, ps, r, n, c) \
         ON CONFLICT (idempotency_key) DO NOTHING",
    ),
    mark_sent: Batch::Arrays(
        "UPDATE outbox SET status = 'sent', last_error = NULL, sent_at = $1 WHERE status <> 'sent' AND id = ANY($2)",
    ),
    forget: Batch::Arrays(
        "UPDATE outbox SET to_sealed = NULL, params_sealed = NULL WHERE status IN ('sent', 'failed') AND to_sealed IS NOT NULL AND request_id = ANY($1)",
    ),
};
