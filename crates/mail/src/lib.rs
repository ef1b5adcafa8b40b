//! Outgoing mail: what Custodian tells requesters and the DPO, and the outbox that makes sure
//! it arrives.
//!
//! A tour: [`templates`] renders each message ([`MailContent`]) in English or German;
//! [`config`] reads where mail goes (`CUSTODIAN_SMTP_URL`, `CUSTODIAN_SMTP_FROM`); [`mailer`]
//! sends one message over SMTP with lettre; [`outbox`] queues mail as sealed rows in the
//! store and runs the worker that claims, sends, and retries them. [`testing`] is a real SMTP
//! server on loopback that records what it receives, for tests here and in other crates.
//!
//! Invariants: addresses and message contents are personal data — they are stored sealed,
//! opened only to send, and never logged; errors name templates and ids, not people.

pub mod config;
pub mod mailer;
pub mod outbox;
pub mod templates;
pub mod testing;

pub use config::MailConfig;
pub use mailer::{Mailer, SendError};
pub use outbox::{deliver_due, run_outbox_worker, Outbox, OutgoingMail, Pass, WorkerSettings};
pub use templates::{render, DigestIncident, DigestItem, Lang, MailContent, Rendered};

/// Failures of configuration and of the outbox's storage (delivery failures are
/// [`SendError`]s, recorded on the message).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] custodian_store::StoreError),
    #[error("mail parameters do not serialize: {0}")]
    Params(serde_json::Error),
    #[error("sealing mail under the subject's key: {0}")]
    Key(#[from] custodian_store::keyring::KeyringError),
    /// Another node took the `outbox` job over during a pass (this node's lease ran out).
    #[error("another node took the outbox job over; this pass stopped")]
    LeaseLost,
}
