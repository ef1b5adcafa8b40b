//! PostgreSQL's side of the statements that differ between the backends: group-commit batches
//! as arrays through one fixed `UNNEST` statement (prepared and planned once whatever the
//! batch size), row locks, `FOR UPDATE SKIP LOCKED`.

pub(crate) mod consent;
pub(crate) mod jobs;
pub(crate) mod keys;
pub(crate) mod outbox;
pub(crate) mod requests;

use crate::audit::AuditSql;
use crate::dialect::Dialect;

/// The audit head, locked until the append commits: appends from every node queue on it.
static AUDIT: AuditSql = AuditSql {
    head: "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
};

pub(crate) static DIALECT: Dialect = Dialect {
    name: "postgres",
    parallel_writers: true,
    audit: &AUDIT,
    consent: &consent::SQL,
    keys: &keys::SQL,
    jobs: &jobs::SQL,
    outbox: &outbox::SQL,
    requests: &requests::SQL,
};
