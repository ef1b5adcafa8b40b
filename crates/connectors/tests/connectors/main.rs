//! Connectors against real PostgreSQL, MariaDB and SQLite: the sample company, the Fides
//! sample, erasure order and holds, dry runs, idempotence, resumed runs, injection attempts,
//! read-only access, the HTTP connector against a local stand-in service, Redis, Fides request
//! policies, registration checked against the live database (the shop of issue 16), and records
//! that go by their own collection time.

#[path = "../support/mod.rs"]
mod support;

mod audience;
mod collected;
mod fides;
mod fides_policy;
mod helpers;
mod http;
mod leases;
mod reach;
mod redis;
mod report;
mod runs;
mod safety;
mod sample_company;
mod shop;
