//! PostgreSQL's side of the statements that differ between the backends: group-commit batches
//! as arrays through one fixed `UNNEST` statement (prepared and planned once whatever the
//! batch size), row locks, `FOR UPDATE SKIP LOCKED`.

pub(crate) mod consent;
pub(crate) mod jobs;
pub(crate) mod keys;
pub(crate) mod outbox;
pub(crate) mod requests;

use crate::dialect::Dialect;

pub(crate) static DIALECT: Dialect = Dialect {
    name: "postgres",
    parallel_writers: true,
    consent: &consent::SQL,
    keys: &keys::SQL,
    jobs: &jobs::SQL,
    outbox: &outbox::SQL,
    requests: &requests::SQL,
};
