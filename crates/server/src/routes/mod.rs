//! The HTTP routes, one module per area. Each handler parses its input into domain types,
//! calls the core, and maps the result to JSON; none holds business rules.

pub mod admin;
pub mod audit;
pub mod consent;
pub mod decide;
pub mod disclosures;
pub mod holds;
pub mod incidents;
pub mod notices;
pub mod ops;
pub mod policy;
pub mod privacy_center;
pub mod requests;
pub mod subjects;
pub mod unsubscribe;
