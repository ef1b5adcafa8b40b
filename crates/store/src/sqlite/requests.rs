//! SQLite's statements for request intake: multi-row inserts.

use crate::requests::RequestSql;
use crate::{Batch, MultiRow};

pub(crate) static SQL: RequestSql = RequestSql {
    insert: Batch::Rows(MultiRow::new(
        "INSERT INTO requests (id, kind, status, subject_ref, email_sealed, details_sealed, language, country, jurisdiction, customer_id, received_at, verified_at, code_hash, code_expires_at, attempts, acknowledge_due, answer_due, extended_months, assignee, completed_at, updated_at, extended_days, paused_since, pause_reason, paused_days) VALUES ",
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "",
    )),
    history: Batch::Rows(MultiRow::new(
        "INSERT INTO request_history (request_id, at, actor, action, from_status, to_status, detail_sealed) VALUES ",
        "(?, ?, ?, ?, ?, ?, ?)",
        "",
    )),
};
