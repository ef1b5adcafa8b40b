//! The application layer of Custodian: what the service *does*, apart from how it is asked.
//!
//! A tour. [`build`] turns [`Settings`] into the shared [`Context`] (the compiled policy and
//! its earlier versions, the store and the consent writer, every subject's consent in memory,
//! device links, the keys, the outbox, the business calendar, the intake limits, the clock
//! and the id generator). Each use case is then one function taking the context and domain
//! values:
//!
//! - [`consent`] records choices from every entry point — a caller's (banner, API, widget,
//!   import, sign-up, survey), the privacy centre's form, one-click unsubscribe, device
//!   links — and reads them back; all go through [`recording::record`], the one write path
//!   to the ledger, and [`receipts`], the one receipt builder; [`consent_import`] reads a
//!   consent import file into ledger events;
//! - [`requests`] takes data-subject requests in, verifies the requester, carries out the
//!   DPO's actions and what an approved request does ([`requests::execute`]), to Custodian's
//!   own data and, through the connectors, to the company's ([`requests::company`] for
//!   access and erasure, [`requests::reach`] for rectification, restriction and objection);
//!   the queue and a request's history are read in [`requests::views`]; [`notices`] tells the
//!   company's services of consent withdrawals and recipients of an erasure (Art. 19) in the
//!   background;
//! - [`lifecycle`] records what happened to a subject (and protects children), [`holds`]
//!   places and lifts legal holds, [`retention`] applies the policy's retention rules;
//! - [`consent_image`] keeps an image of consent memory on disk so a restart reads one file;
//! - [`consent_sync`] catches up on consent other nodes wrote, [`standing_sync`] on the
//!   restrictions, objections, closed accounts, children and device links they recorded,
//!   both woken at once by other nodes' notices ([`wake`]); [`background`] runs them, the
//!   ledger checkpoints, the outbox worker, retention and request housekeeping on a timer;
//! - [`announce`] schedules policy versions and other notices, mails them to everyone with an
//!   e-mail on record, and makes a version govern at its date on every node ([`live`] holds
//!   what it replaces);
//! - [`reports`] runs the policy's aggregate reports with small groups suppressed; [`acts`]
//!   is where every administrative act of notices, records and reports is recorded;
//! - [`limits`] holds the rate limits of the public doors (intake, sign-in codes, anonymous
//!   consent writes), which floods of made-up keys neither grow nor reset;
//! - [`tokens`] authorises bearer tokens; [`signin`] mails the privacy centre's sign-in codes
//!   within their limits, counts the tries of each once and keeps its sessions; [`users`] keeps the console's users and [`sessions`] signs them in
//!   (Argon2id, TOTP, idle expiry, lock-out); [`overview`] counts the console's overview and
//!   [`console`] reads what its other pages show, so its handlers never touch the store;
//! - [`incidents`] carries personal-data breaches (Art. 33/34) from report to the authority's
//!   report, telling the people concerned through [`people`] and the outbox; [`disclosures`]
//!   records disclosures to authorities and publishes their counts (`/transparency`);
//! - [`audit`] records every administrative act in a hash-chained trail (never `decide` or a
//!   consent write).
//!
//! Every failure is an [`AppError`] with a stable code and an [`error::Kind`]; the HTTP edge
//! (`custodian-server`) maps it to a problem document once. This crate knows no HTTP: no
//! axum, no status codes. It reads "now" only from the context's clock and makes every id
//! with its `Ids` (`tests/tidy.rs` checks).

pub mod acts;
pub mod announce;
pub mod audit;
pub mod background;
mod build;
pub mod consent;
pub mod consent_image;
pub mod consent_import;
pub mod consent_sync;
pub mod console;
pub mod context;
pub mod disclosures;
pub mod error;
pub mod holds;
pub mod incidents;
pub mod lifecycle;
pub mod limits;
pub mod live;
pub mod notices;
pub mod overview;
pub mod people;
pub mod receipts;
pub mod recording;
pub mod reports;
pub mod requests;
pub mod retention;
pub mod sessions;
pub mod signin;
pub mod standing;
pub mod standing_sync;
pub mod tokens;
pub mod users;
pub mod wake;

pub use build::{build, BuildError};
pub use context::{Context, NoTelemetry, Settings, Shared, Telemetry};
pub use error::AppError;
