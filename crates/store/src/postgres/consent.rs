//! PostgreSQL's statements for appending consent: arrays through fixed statements, and row
//! locks on only the heads of the chains a batch touches, so other nodes append to other
//! chains at the same time.

use crate::consent::ConsentSql;
use crate::Batch;

pub(crate) static SQL: ConsentSql = ConsentSql {
    heads: Batch::Arrays(
        "SELECT chain, seq, hash FROM ledger_heads WHERE chain = ANY($1) ORDER BY chain FOR UPDATE",
    ),
    events: Batch::Arrays(
        "INSERT INTO consent_events (id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int8[], $11::int4[], $12::int8[], $13::text[], $14::text[])",
    ),
    // The newest choice stands (see `sqlite/consent.rs`).
    state: Batch::Arrays(
        "INSERT INTO consent_state (subject_ref, purpose, given, event_id, source, policy_version, notice_hash, updated_at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bool[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[]) ON CONFLICT (subject_ref, purpose) DO UPDATE SET given = excluded.given, event_id = excluded.event_id, source = excluded.source, policy_version = excluded.policy_version, notice_hash = excluded.notice_hash, updated_at = excluded.updated_at WHERE excluded.updated_at >= consent_state.updated_at",
    ),
    set_heads: Batch::Arrays(
        "UPDATE ledger_heads h SET seq = u.seq, hash = u.hash FROM UNNEST($1::int4[], $2::int8[], $3::text[]) AS u(chain, seq, hash) WHERE h.chain = u.chain",
    ),
};
