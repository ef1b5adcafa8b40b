//! Executes data-subject requests on the company's own datastores.
//!
//! A tour: a [`dataset`] describes one datastore (Custodian's TOML, or Fides YAML read by
//! [`fides`], the file told apart and loaded by [`dataset_file`]); [`graph`] turns it and the subject's identities into the SQL predicates that
//! select the subject's rows and the order tables change in; [`access`] streams personal
//! fields, grouped by data category, into a caller's [`access::AccessSink`]; [`erase`] applies
//! each field's strategy (delete, null, mask, keyed hash, legal hold) or corrections in one
//! transaction per datastore; [`http`] does the same through a company service with signed
//! requests; [`redis`] does it on Redis keys described by pattern; [`reach`] says which other
//! request types reach a datastore (a restriction column, an HTTP service's declared
//! endpoints) and [`restrict`] marks and clears restricted rows; [`check`] compares a
//! dataset with a live schema and drafts one from it, and [`registration`] runs those checks
//! before a datastore is registered or a changed one served; [`report`] reads a policy's
//! aggregate report in a read-only transaction; [`fides_policy`] reads a Fides
//! request policy's erasure rules; [`collected`] lets records go by their own collection time
//! (retention rules anchored on `collected`); [`audience`] finds whom a notice must reach (a
//! DPO's read-only query, the e-mail addresses of user ids); [`run`]
//! is the durable job around all of it — plan, execute, resume, retry — recorded in
//! Custodian's store through `custodian_store::runs`. [`sql`] is the only place SQL text is
//! assembled, always with quoted identifiers and bound values.
//!
//! This crate runs SQL on the company's databases only; Custodian's own tables are reached
//! through `custodian-store` and nowhere else.

pub mod access;
pub mod audience;
pub mod check;
pub mod collected;
pub mod company;
pub mod dataset;
pub mod dataset_file;
pub mod erase;
pub mod fides;
pub mod fides_policy;
pub mod graph;
pub mod http;
pub mod reach;
pub mod redis;
pub mod registration;
pub mod report;
pub mod restrict;
pub mod run;
pub mod sql;

pub use graph::Identities;

/// Failures of a connector. Messages carry no identifier values, no row values and no
/// connection URL, so they can be recorded and shown to the DPO as they are.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("dataset problems:\n  - {}", problems.join("\n  - "))]
    Dataset { problems: Vec<String> },
    #[error("datastore {datastore} refused: {} problem(s) against its database ({hint}):\n  - {}", problems.len(), problems.join("\n  - "))]
    Refused {
        datastore: String,
        problems: Vec<String>,
        hint: String,
    },
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("HTTP service: {0}")]
    Http(String),
    #[error("the datastore `{0}` is not registered")]
    UnknownDatastore(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("run: {0}")]
    Run(String),
    #[error("the export writer failed: {0}")]
    Sink(String),
    #[error("Custodian's store: {0}")]
    Store(#[from] custodian_store::StoreError),
}

impl From<sqlx::Error> for ConnectorError {
    fn from(e: sqlx::Error) -> Self {
        // Only the server's message: PostgreSQL's DETAIL lines can quote row values.
        match &e {
            sqlx::Error::Database(db) => ConnectorError::Database(db.message().to_owned()),
            other => ConnectorError::Database(other.to_string()),
        }
    }
}
