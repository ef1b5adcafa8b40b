//! The consent ledger over HTTP: writes with receipts, reads, GPC, linking, one-click
//! unsubscribe, re-consent after a policy change, and bad input that writes nothing.

#[path = "../common/mod.rs"]
mod common;

mod fast_path;
mod flow;
mod helpers;
mod image;
mod input;
mod limits;
mod linking;
mod nodes;
mod unsubscribe;
mod wake;
