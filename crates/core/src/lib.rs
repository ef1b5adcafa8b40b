//! Custodian's domain rules, free of I/O.
//!
//! A tour: [`decide`] compiles a policy into an [`decide::Engine`] that answers "may this
//! processing happen?" in well under a microsecond; [`consent`] holds every subject's current
//! choices in memory for it; [`ledger`] hashes and verifies the consent ledger's chains;
//! [`receipt`] builds consent receipts; [`request`] is the state machine of data-subject
//! requests and [`deadline`] their clocks on a business-hours calendar; [`archive`] writes the
//! portability export; [`subject`] turns the identifiers people are known by into keyed
//! references, so nothing downstream holds the raw identifier; [`seal`] encrypts personal
//! fields and [`keys`] gives each subject its own key, so erasure is a key deletion;
//! [`retention`] says what is due to go and why, holds and children's ages applied;
//! [`signed`] and [`unsubscribe`] sign links; [`token`] makes and hashes API tokens;
//! [`staff`] holds the console's roles and Argon2id passwords, [`totp`] its one-time codes;
//! [`clock`] lets tests move time and [`ids`] makes every new row's id from it; [`country`]
//! knows ISO 3166-1; [`audit`] hashes and verifies the audit trail of administrative acts,
//! [`incident`] holds the rules of personal-data breaches (Art. 33/34), [`disclosure`]
//! those of disclosures to authorities and their public report, and [`aggregate`] suppresses
//! the small groups of a shared report; [`limit`] counts rate limits that hold under floods
//! of made-up keys. Storage and HTTP live in
//! other crates and call in here.

pub mod aggregate;
pub mod archive;
pub mod audit;
pub mod clock;
pub mod consent;
pub mod country;
pub mod deadline;
pub mod decide;
pub mod disclosure;
pub mod hex;
pub mod ids;
pub mod incident;
pub mod json_out;
pub mod keys;
pub mod ledger;
pub mod limit;
pub mod receipt;
pub mod request;
pub mod retention;
pub mod run;
pub mod seal;
pub mod signed;
pub mod staff;
pub mod standing;
pub mod subject;
pub mod token;
pub mod totp;
pub mod unsubscribe;
