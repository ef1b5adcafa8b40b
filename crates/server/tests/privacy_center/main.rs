//! The privacy centre, in process: its pages and headers, the CSRF check, consent changed
//! through the form (seen by the ledger and by decisions), signing in with a code read from a
//! real SMTP delivery, a request started from the form and confirmed through the verify page,
//! German, and hostile input that comes back escaped.

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod choices;
mod pages;
mod requests;
mod sign_in;
