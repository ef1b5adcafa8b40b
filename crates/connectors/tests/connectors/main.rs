//! Connectors against real PostgreSQL, MariaDB and SQLite: the sample company, the Fides
//! sample, erasure order and holds, dry runs, idempotence, resumed runs, injection attempts,
//! read-only access, and the HTTP connector against a local stand-in service.

#[path = "../support/mod.rs"]
mod support;

mod fides;
mod helpers;
mod http;
mod leases;
mod reach;
mod runs;
mod safety;
mod sample_company;
