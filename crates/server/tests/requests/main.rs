//! Data-subject requests end to end, in process, with mail delivered through a real SMTP
//! server on loopback: intake, the e-mailed code, deadlines, the DPO's queue, routing, the
//! effects of each type — in Custodian and in the company's own systems — and bad input
//! that reveals nothing.

#[path = "../common/mod.rs"]
mod common;
/// Fresh company databases on PostgreSQL and MariaDB, as the connector tests make them.
#[path = "../../../connectors/tests/support/mod.rs"]
#[allow(unused_imports)]
mod company_support;

mod archive;
mod clock;
mod company;
mod dpo_queue;
mod env;
mod erasure;
mod intake;
mod lift;
mod nodes;
mod reach;
mod rights;
mod types;
