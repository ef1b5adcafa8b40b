//! SQLite's statements for appending consent: multi-row statements, read under the database
//! write lock (`BEGIN IMMEDIATE`).

use crate::consent::ConsentSql;
use crate::{Batch, MultiRow};

pub(crate) static SQL: ConsentSql = ConsentSql {
    // Every head: sixteen rows, and the write lock is held anyway.
    heads: Batch::Whole("SELECT chain, seq, hash FROM ledger_heads"),
    events: Batch::Rows(MultiRow::new(
        "INSERT INTO consent_events (id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash) VALUES ",
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "",
    )),
    state: Batch::Rows(MultiRow::new(
        "INSERT INTO consent_state (subject_ref, purpose, given, event_id, source, policy_version, notice_hash, updated_at) VALUES ",
        "(?, ?, ?, ?, ?, ?, ?, ?)",
        // The newest choice stands: an event dated before the one in place (an import of
        // old opt-ins, say) joins the ledger but does not change the current choice.
        " ON CONFLICT (subject_ref, purpose) DO UPDATE SET given = excluded.given, event_id = excluded.event_id, source = excluded.source, policy_version = excluded.policy_version, notice_hash = excluded.notice_hash, updated_at = excluded.updated_at WHERE excluded.updated_at >= consent_state.updated_at",
    )),
    set_heads: Batch::Rows(MultiRow::new(
        "INSERT INTO ledger_heads (chain, seq, hash) VALUES ",
        "(?, ?, ?)",
        " ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )),
};
