//! Custodian's domain rules, free of I/O.
//!
//! A tour: [`decide`] compiles a policy into an [`decide::Engine`] that answers "may this
//! processing happen?" in well under a microsecond; [`subject`] turns the identifiers people
//! are known by into keyed references, so nothing downstream holds the raw identifier;
//! [`token`] makes and hashes the bearer tokens of the service and admin APIs; [`country`]
//! knows the ISO 3166-1 codes. Storage and HTTP live in other crates and call in here.

pub mod country;
pub mod decide;
pub mod subject;
pub mod token;
