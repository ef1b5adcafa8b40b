//! SQLite's statements for appending consent, in two forms built from the same pieces:
//! multi-row statements for an append through the pool (one round trip to the driver's
//! thread per table), and single-row ones that the group-commit writer steps once per row on
//! its own connection, in process (`consent_writer.rs`). Both run under the database write
//! lock (`BEGIN IMMEDIATE`). The writer writes no state: it leaves it to folds of the ledger's
//! tail (`consent/fold.rs`).

use crate::consent::{fold, ConsentSql};
use crate::{Batch, MultiRow};

// The pieces, as macros so that `concat!` can join them into `&'static str`s.
macro_rules! heads {
    () => {
        // Every head: sixteen rows, and the write lock is held anyway.
        "SELECT chain, seq, hash FROM ledger_heads"
    };
}
macro_rules! events_into {
    () => { " consent_events (id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash, prior_given) VALUES " };
}
macro_rules! event_row {
    () => {
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    };
}
macro_rules! stored_state {
    () => {
        " consent_state s"
    };
}
macro_rules! state_into {
    () => { " consent_state (subject_ref, purpose, given, event_id, source, policy_version, notice_hash, updated_at) VALUES " };
}
macro_rules! state_row {
    () => {
        "(?, ?, ?, ?, ?, ?, ?, ?)"
    };
}
// The newest choice stands: an event dated before the one in place (an import of old
// opt-ins, say) joins the ledger but does not change the current choice.
macro_rules! state_conflict {
    () => { " ON CONFLICT (subject_ref, purpose) DO UPDATE SET given = excluded.given, event_id = excluded.event_id, source = excluded.source, policy_version = excluded.policy_version, notice_hash = excluded.notice_hash, updated_at = excluded.updated_at WHERE excluded.updated_at >= consent_state.updated_at" };
}
macro_rules! heads_into {
    () => {
        " ledger_heads (chain, seq, hash) VALUES "
    };
}
macro_rules! head_row {
    () => {
        "(?, ?, ?)"
    };
}
macro_rules! heads_conflict {
    () => {
        " ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
    };
}

/// The multi-row statements (a broken constraint undoes the statement, SQLite's `ABORT`).
pub(crate) static SQL: ConsentSql = ConsentSql {
    heads: Batch::Whole(heads!()),
    // The keys drive the loop (`CROSS JOIN` keeps SQLite's order): each is one lookup of the
    // state's key. Written as `(subject_ref, purpose) IN (VALUES …)`, SQLite plans a scan of
    // the whole table instead (the test below fails on that form).
    stored_states: Batch::Rows(MultiRow::new(
        "SELECT k.column1, k.column2, s.given, s.updated_at FROM (VALUES ",
        "(?, ?)",
        concat!(
            ") AS k CROSS JOIN",
            stored_state!(),
            " ON s.subject_ref = k.column1 AND s.purpose = k.column2"
        ),
    )),
    events: Batch::Rows(MultiRow::new(
        concat!("INSERT INTO", events_into!()),
        event_row!(),
        "",
    )),
    state: Batch::Rows(MultiRow::new(
        concat!("INSERT INTO", state_into!()),
        state_row!(),
        state_conflict!(),
    )),
    set_heads: Batch::Rows(MultiRow::new(
        concat!("INSERT INTO", heads_into!()),
        head_row!(),
        heads_conflict!(),
    )),
    fold_tail: &[FOLD, fold::MOVE_MARK],
    mark_whole: &[fold::MOVE_MARK],
    // No fold here: a node reads this every second while it writes, and a fold of a second's
    // events would cost a state page per event again. An event past the mark answers its own
    // choice instead: it was written after the last erasure or purge (they fold first), so it
    // is a choice the subject made, and the reader keeps the newest of what it is given by the
    // same rule as the state.
    changes: "SELECT e.seq, s.subject_ref, s.purpose, s.given, s.source, s.policy_version, s.notice_hash, s.updated_at \
         FROM consent_events e \
         JOIN consent_state s ON s.subject_ref = e.subject_ref AND s.purpose = e.purpose \
         WHERE e.chain = $1 AND e.seq > $2 AND e.gseq <= (SELECT gseq FROM consent_state_mark) \
         UNION ALL \
         SELECT seq, subject_ref, purpose, given, source, policy_version, notice_hash, created_at \
         FROM consent_events \
         WHERE chain = $1 AND seq > $2 AND gseq > (SELECT gseq FROM consent_state_mark) \
         ORDER BY 1 LIMIT $3",
};

/// The fold of the ledger's tail (`consent/fold.rs`): upserts every event past the mark in key
/// order, and a key's events from the oldest to the newest (by when made, then when written),
/// each unless the stored choice is newer — the state's own upsert rule (`state_conflict!`), so
/// the newest stands, of two made at once the later written. One sort, no window function:
/// `row_number()` over the tail cost twice the time of the whole upsert (docs/benchmarks.md,
/// eleventh sitting).
pub(crate) const FOLD: &str = concat!(
    "INSERT INTO consent_state (subject_ref, purpose, given, event_id, source, policy_version, notice_hash, updated_at) \
     SELECT subject_ref, purpose, given, id, source, policy_version, notice_hash, created_at \
     FROM consent_events WHERE gseq > (SELECT gseq FROM consent_state_mark) \
     ORDER BY subject_ref, purpose, created_at, gseq",
    state_conflict!()
);

/// The single-row statements of the group-commit writer. `OR ROLLBACK`: a broken constraint
/// fails the whole batch anyway, so SQLite may roll the transaction back at once and keeps no
/// statement journal (a fifth of the appends' own work, issue 17). The writer sees the
/// rollback itself (`Connection::is_autocommit`), which a pooled sqlx connection would not.
pub(crate) mod one_row {
    pub const HEADS: &str = heads!();
    pub const STORED_STATE: &str = concat!(
        "SELECT s.given, s.updated_at FROM",
        stored_state!(),
        " WHERE s.subject_ref = ? AND s.purpose = ?"
    );
    pub const EVENT: &str = concat!("INSERT OR ROLLBACK INTO", events_into!(), event_row!());
    /// The fold's upsert from the writer's memory (`consent_writer.rs`).
    pub const STATE: &str = concat!(
        "INSERT OR ROLLBACK INTO",
        state_into!(),
        state_row!(),
        state_conflict!()
    );
    pub const HEAD: &str = concat!(
        "INSERT OR ROLLBACK INTO",
        heads_into!(),
        head_row!(),
        heads_conflict!()
    );
}

#[cfg(test)]
mod tests {
    use crate::{testing, Batch, Store};

    /// The pool's read of a batch's stored states looks each key up in the state's key: the
    /// form `(subject_ref, purpose) IN (VALUES …)` scanned the whole table.
    #[tokio::test]
    async fn stored_states_are_looked_up_by_key() {
        let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
        let Batch::Rows(rows) = &super::SQL.stored_states else {
            panic!("SQLite reads stored states in rows");
        };
        let sql = format!("EXPLAIN QUERY PLAN {}", rows.statement(2));
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(&sql)
            .bind("a")
            .bind("p")
            .bind("b")
            .bind("p")
            .fetch_all(store.sqlite_pool().unwrap())
            .await
            .unwrap();
        let plan: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
        assert!(
            plan.iter().any(|d| d.starts_with("SEARCH s USING INDEX")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|d| d.starts_with("SCAN s")), "{plan:?}");
    }
}
