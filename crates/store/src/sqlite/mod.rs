//! SQLite's side of the statements that differ between the backends: group-commit batches as
//! multi-row `VALUES` statements (each statement is a round trip to SQLite's worker thread).

pub(crate) mod consent;
pub(crate) mod consent_writer;
pub(crate) mod jobs;
pub(crate) mod keys;
pub(crate) mod known_subjects;
pub(crate) mod outbox;
pub mod page_cache;
pub(crate) mod pool;
pub(crate) mod requests;
pub(crate) mod state_tail;
pub(crate) mod wal_buffer;

use crate::audit::AuditSql;
use crate::dialect::Dialect;

/// The audit head, read under the write lock the append's `BEGIN IMMEDIATE` took.
static AUDIT: AuditSql = AuditSql {
    head: "SELECT seq, hash FROM audit_head WHERE id = 1",
};

pub(crate) static DIALECT: Dialect = Dialect {
    name: "sqlite",
    parallel_writers: false,
    audit: &AUDIT,
    consent: &consent::SQL,
    keys: &keys::SQL,
    jobs: &jobs::SQL,
    outbox: &outbox::SQL,
    requests: &requests::SQL,
};
