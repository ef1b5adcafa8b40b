//! Accountability end to end, in process, through the real router, on SQLite and PostgreSQL,
//! with mail delivered through a real SMTP server on loopback: the audit trail of every
//! administrative act, personal-data breaches (Art. 33/34) and disclosures to authorities
//! with their public transparency report.

#[path = "../common/mod.rs"]
mod common;
#[path = "../requests/env.rs"]
#[allow(dead_code)]
mod env;

mod audit;
mod disclosures;
mod incidents;
