//! SQLite's side of the statements that differ between the backends: group-commit batches as
//! multi-row `VALUES` statements (each statement is a round trip to SQLite's worker thread).

pub(crate) mod consent;
pub(crate) mod jobs;
pub(crate) mod keys;
pub(crate) mod outbox;
pub(crate) mod requests;

use crate::dialect::Dialect;

pub(crate) static DIALECT: Dialect = Dialect {
    name: "sqlite",
    parallel_writers: false,
    consent: &consent::SQL,
    keys: &keys::SQL,
    jobs: &jobs::SQL,
    outbox: &outbox::SQL,
    requests: &requests::SQL,
};
