//! PostgreSQL's statements for request intake: arrays through fixed statements.

use crate::requests::RequestSql;
use crate::Batch;

pub(crate) static SQL: RequestSql = RequestSql {
    insert: Batch::Arrays(
        "INSERT INTO requests (id, kind, status, subject_ref, email_sealed, details_sealed, language, country, jurisdiction, customer_id, received_at, verified_at, code_hash, code_expires_at, attempts, acknowledge_due, answer_due, extended_months, assignee, completed_at, updated_at, extended_days, paused_since, pause_reason, paused_days) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int8[], $12::int8[], $13::text[], $14::int8[], $15::int8[], $16::int8[], $17::int8[], $18::int8[], $19::text[], $20::int8[], $21::int8[], $22::int8[], $23::int8[], $24::text[], $25::int8[])",
    ),
    history: Batch::Arrays(
        "INSERT INTO request_history (request_id, at, actor, action, from_status, to_status, detail_sealed) \
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])",
    ),
};
