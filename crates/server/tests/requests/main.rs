//! Data-subject requests end to end, in process, with mail delivered through a real SMTP
//! server on loopback: intake, the e-mailed code, deadlines, the DPO's queue, routing, the
//! effects of each type, and bad input that reveals nothing.

#[path = "../common/mod.rs"]
mod common;

mod archive;
mod clock;
mod company;
mod dpo_queue;
mod env;
mod erasure;
mod intake;
mod rights;
mod types;
