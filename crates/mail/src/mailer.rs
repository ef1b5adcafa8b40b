//! Sending one rendered message over SMTP with lettre, on a small pool of connections.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};

use crate::config::{MailConfig, Security};
use crate::templates::Rendered;
use crate::MailError;

/// Connections kept to the relay. lettre writes a message's final `.` in a packet of its own
/// without TCP_NODELAY, so each message waits out the server's delayed ACK (~40 ms on Linux):
/// throughput comes from connections in parallel, not from speed on one.
pub const POOL: u32 = 16;

/// An SMTP client bound to one relay and one sender. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
}

/// Why a message was not accepted. The text names no address and quotes nothing the server
/// said (a reply may echo the recipient), so it can be stored as the outbox's `last_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server refused for good (5xx): retrying will not help.
    #[error("SMTP server refused permanently (reply {0})")]
    Permanent(String),
    /// The server refused for now (4xx), or the connection failed or timed out.
    #[error("{0}")]
    Transient(String),
    /// The stored recipient is not an address (never retried).
    #[error("the recipient is not a valid address")]
    BadRecipient,
    /// The subject was erased before the message went: its key is gone, and so is the
    /// message (never retried).
    #[error("the subject was erased; the message can no longer be read")]
    Erased,
}

impl Mailer {
    /// Must be called inside a Tokio runtime (the connection pool starts a task).
    pub fn new(config: &MailConfig) -> Result<Mailer, MailError> {
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
                .port(config.port)
                .timeout(Some(Duration::from_secs(30)))
                .pool_config(
                    PoolConfig::new()
                        .max_size(POOL)
                        .idle_timeout(Duration::from_secs(60)),
                );
        builder = with_tls(builder, config)?;
        if let Some((user, pass)) = &config.credentials {
            builder =
                builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
                    user.clone(),
                    pass.clone(),
                ));
        }
        Ok(Mailer {
            transport: builder.build(),
            from: config.from.clone(),
            domain: config.domain().to_owned(),
        })
    }

    /// The Message-ID of the message with this idempotency key: the same on every attempt, so
    /// a message sent again after a crash (between the server's accept and our record of it)
    /// is recognisably the same message to the receiving side.
    pub fn message_id(&self, idempotency_key: &str) -> String {
        message_id(idempotency_key, &self.domain)
    }

    /// Builds the message with its deterministic Message-ID and hands it to the relay.
    pub async fn send(
        &self,
        to: &str,
        rendered: &Rendered,
        idempotency_key: &str,
    ) -> Result<(), SendError> {
        let to: Mailbox = to.parse().map_err(|_| SendError::BadRecipient)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject.clone())
            .message_id(Some(self.message_id(idempotency_key)))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text.clone(),
                rendered.html.clone(),
            ))
            .map_err(|_| SendError::BadRecipient)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

pub(crate) fn message_id(idempotency_key: &str, domain: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    format!("<{}@{domain}>", hex::encode(&digest[..16]))
}

fn classify(e: lettre::transport::smtp::Error) -> SendError {
    let code = e.status().map(|c| c.to_string());
    if e.is_permanent() {
        return SendError::Permanent(code.unwrap_or_else(|| "5xx".into()));
    }
    let what = if let Some(code) = code {
        format!("SMTP server refused for now (reply {code})")
    } else if e.is_timeout() {
        "SMTP server timed out".into()
    } else {
        // Connection-level failures carry only an I/O error, never message data.
        format!("SMTP connection failed: {e}")
    };
    SendError::Transient(what)
}

#[cfg(feature = "tls")]
fn with_tls(
    builder: AsyncSmtpTransportBuilder,
    config: &MailConfig,
) -> Result<AsyncSmtpTransportBuilder, MailError> {
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    let params = || {
        TlsParameters::new(config.host.clone())
            .map_err(|e| MailError::Config(format!("TLS for {}: {e}", config.host)))
    };
    Ok(match config.security {
        Security::Plain => builder,
        Security::StartTls => builder.tls(Tls::Required(params()?)),
        Security::Tls => builder.tls(Tls::Wrapper(params()?)),
    })
}

/// Without TLS support only plain SMTP is possible (`MailConfig::new` refuses the rest).
#[cfg(not(feature = "tls"))]
fn with_tls(
    builder: AsyncSmtpTransportBuilder,
    config: &MailConfig,
) -> Result<AsyncSmtpTransportBuilder, MailError> {
    match config.security {
        Security::Plain => Ok(builder),
        _ => Err(MailError::Config(
            "this build has no TLS: use smtp://".into(),
        )),
    }
}
