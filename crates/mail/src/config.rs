//! Where mail goes and whom it comes from: `CUSTODIAN_SMTP_URL` and `CUSTODIAN_SMTP_FROM`.
//!
//! URL forms: `smtp://host:port` (plain, for a relay on the same host or private network),
//! `smtp://host:port?tls=required` (STARTTLS), `smtps://host:port` (TLS from the first byte).
//! User and password may sit in the URL (`smtps://user:pass@host`); the password is never
//! printed (`Debug` hides it).

use lettre::message::Mailbox;

use crate::MailError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No encryption: only for loopback or a trusted network.
    Plain,
    /// STARTTLS after the greeting; refuse a server that does not offer it.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Clone)]
pub struct MailConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub credentials: Option<(String, String)>,
    pub from: Mailbox,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl MailConfig {
    /// Reads `CUSTODIAN_SMTP_URL` and `CUSTODIAN_SMTP_FROM`; `Ok(None)` when no URL is set
    /// (mail stays queued until one is).
    pub fn from_env() -> Result<Option<MailConfig>, MailError> {
        let Ok(url) = std::env::var("CUSTODIAN_SMTP_URL") else {
            return Ok(None);
        };
        let from = std::env::var("CUSTODIAN_SMTP_FROM").map_err(|_| {
            MailError::Config("CUSTODIAN_SMTP_URL is set but CUSTODIAN_SMTP_FROM is not".into())
        })?;
        MailConfig::new(&url, &from).map(Some)
    }

    /// Parses an SMTP URL and a sender (`privacy@example.com` or `Privacy <privacy@example.com>`).
    pub fn new(url: &str, from: &str) -> Result<MailConfig, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|_| MailError::Config("CUSTODIAN_SMTP_FROM is not a valid address".into()))?;
        let parsed = url::Url::parse(url)
            .map_err(|e| MailError::Config(format!("CUSTODIAN_SMTP_URL does not parse: {e}")))?;
        let tls_param = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let (security, default_port) = match (parsed.scheme(), tls_param.as_deref()) {
            ("smtp", None | Some("none")) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::StartTls, 587),
            ("smtps", None) => (Security::Tls, 465),
            (scheme, tls) => {
                return Err(MailError::Config(format!(
                    "CUSTODIAN_SMTP_URL must be smtp://host:port, smtp://host:port?tls=required or smtps://host:port (got scheme `{scheme}`, tls={})",
                    tls.unwrap_or("-")
                )))
            }
        };
        if security != Security::Plain && !cfg!(feature = "tls") {
            return Err(MailError::Config(
                "this build has no TLS (custodian-mail without the `tls` feature): use smtp://"
                    .into(),
            ));
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| MailError::Config("CUSTODIAN_SMTP_URL has no host".into()))?
            .trim_matches(|c| c == '[' || c == ']')
            .to_owned();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = (!parsed.username().is_empty()).then(|| {
            (
                decode(parsed.username()),
                decode(parsed.password().unwrap_or_default()),
            )
        });
        Ok(MailConfig {
            host,
            port: parsed.port().unwrap_or(default_port),
            security,
            credentials,
            from,
        })
    }

    /// The domain of the sender, which names our Message-IDs.
    pub fn domain(&self) -> &str {
        self.from.email.domain()
    }
}
