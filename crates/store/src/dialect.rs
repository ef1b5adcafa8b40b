//! The statements whose text differs between SQLite and PostgreSQL, gathered in one struct
//! per backend ([`crate::sqlite::DIALECT`], [`crate::postgres::DIALECT`]) that the store picks
//! once when it connects. Family code takes its statement from here and never asks which
//! backend it runs on.

/// Every dialect-specific statement, by family.
#[derive(Debug)]
pub(crate) struct Dialect {
    /// `sqlite` or `postgres`, for logs and metrics.
    pub name: &'static str,
    /// How many group-commit writer tasks a writer gets: SQLite takes one writer at a time,
    /// PostgreSQL overlaps commits.
    pub parallel_writers: bool,
    pub audit: &'static crate::audit::AuditSql,
    pub consent: &'static crate::consent::ConsentSql,
    pub keys: &'static crate::keys::KeySql,
    pub jobs: &'static crate::jobs::JobSql,
    pub outbox: &'static crate::outbox::OutboxSql,
    pub requests: &'static crate::requests::RequestSql,
}
