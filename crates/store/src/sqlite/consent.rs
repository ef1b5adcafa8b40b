//! SQLite's statements for appending consent: multi-row statements, read under the database
//! write lock (`BEGIN IMMEDIATE`).
//!
//! Two sets, the same but for what a broken constraint undoes. By default the statement alone
//! (SQLite's `ABORT`), for which SQLite copies every page a multi-row statement is about to
//! change into a statement journal first — a fifth of the appends' own work (issue 17). A
//! group-commit writer's own connection (`Store::for_one_writer`) uses `OR ROLLBACK` instead:
//! a broken constraint fails the whole batch anyway, so SQLite may roll the transaction back
//! at once and keeps no statement journal. The driver does not notice a transaction the
//! database rolled back; the writer therefore replaces its connection after a failed append
//! (`writer.rs`), which a pooled connection could not do.

use crate::consent::ConsentSql;
use crate::{Batch, MultiRow};

macro_rules! consent_sql {
    ($insert:literal) => {
        ConsentSql {
            // Every head: sixteen rows, and the write lock is held anyway.
            heads: Batch::Whole("SELECT chain, seq, hash FROM ledger_heads"),
            events: Batch::Rows(MultiRow::new(
                concat!($insert, " consent_events (id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash) VALUES "),
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                "",
            )),
            state: Batch::Rows(MultiRow::new(
                concat!($insert, " consent_state (subject_ref, purpose, given, event_id, source, policy_version, notice_hash, updated_at) VALUES "),
                "(?, ?, ?, ?, ?, ?, ?, ?)",
                // The newest choice stands: an event dated before the one in place (an import
                // of old opt-ins, say) joins the ledger but does not change the current choice.
                " ON CONFLICT (subject_ref, purpose) DO UPDATE SET given = excluded.given, event_id = excluded.event_id, source = excluded.source, policy_version = excluded.policy_version, notice_hash = excluded.notice_hash, updated_at = excluded.updated_at WHERE excluded.updated_at >= consent_state.updated_at",
            )),
            set_heads: Batch::Rows(MultiRow::new(
                concat!($insert, " ledger_heads (chain, seq, hash) VALUES "),
                "(?, ?, ?)",
                " ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            )),
        }
    };
}

pub(crate) static SQL: ConsentSql = consent_sql!("INSERT INTO");

/// For a group-commit writer's own connection (see the module's note).
pub(crate) static SOLE_WRITER_SQL: ConsentSql = consent_sql!("INSERT OR ROLLBACK INTO");
