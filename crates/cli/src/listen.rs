//! How `serve` listens: TLS and the connection limits, from flags, `CUSTODIAN_*` variables and
//! the config file (docs/configuration.md, "Connections and TLS"), the file-descriptor budget
//! the connection cap must fit in, and the certificate reload on `SIGHUP`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use custodian_server::listen::{tls::Tls, Limits, Options};

use crate::config::FileConfig;

#[derive(clap::Args)]
pub struct ListenArgs {
    /// PEM certificate chain (leaf first): serve HTTPS (with --tls-key). Read again on SIGHUP.
    #[arg(long, env = "CUSTODIAN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "CUSTODIAN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seconds a client has for a request's head (from its first byte, or the connection's
    /// opening). Default 10.
    #[arg(long, env = "CUSTODIAN_HEADER_READ_TIMEOUT_SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a client has for a request's body, from its head. Default 30.
    #[arg(long, env = "CUSTODIAN_BODY_READ_TIMEOUT_SECS")]
    pub body_read_timeout_secs: Option<u64>,
    /// Seconds an idle connection is kept between requests. Default 60.
    #[arg(long, env = "CUSTODIAN_KEEP_ALIVE_TIMEOUT_SECS")]
    pub keep_alive_timeout_secs: Option<u64>,
    /// Connections held at once (lowered to fit the file-descriptor limit). Default 4096.
    #[arg(long, env = "CUSTODIAN_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// The largest request body in bytes. Default 65536.
    #[arg(long, env = "CUSTODIAN_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<u64>,
    /// The largest request head (request line and headers) in bytes, at least 8192. Default 16384.
    #[arg(long, env = "CUSTODIAN_MAX_HEADER_BYTES")]
    pub max_header_bytes: Option<usize>,
}

/// File descriptors kept for what is not a client connection: the database pools, SQLite's
/// files, the SMTP relay, the company's datastores, logs.
const RESERVED_FDS: u64 = 128;

impl ListenArgs {
    /// The listening options: each limit from its flag, variable, config key or default; the
    /// certificate read now, so a bad one stops the start with its file named.
    pub fn options(&self, file: &FileConfig) -> anyhow::Result<Options> {
        let d = Limits::default();
        let secs = |flag: Option<u64>, key: Option<u64>, default: Duration, name: &str| {
            let s = flag.or(key).map_or(default, Duration::from_secs);
            anyhow::ensure!(!s.is_zero(), "{name} must be at least 1 second");
            Ok(s)
        };
        let wanted = self
            .max_connections
            .or(file.max_connections)
            .unwrap_or(d.max_connections);
        anyhow::ensure!(wanted > 0, "max_connections must be at least 1");
        let limits = Limits {
            header_read_timeout: secs(
                self.header_read_timeout_secs,
                file.header_read_timeout_secs,
                d.header_read_timeout,
                "header_read_timeout_secs",
            )?,
            body_read_timeout: secs(
                self.body_read_timeout_secs,
                file.body_read_timeout_secs,
                d.body_read_timeout,
                "body_read_timeout_secs",
            )?,
            keep_alive_timeout: secs(
                self.keep_alive_timeout_secs,
                file.keep_alive_timeout_secs,
                d.keep_alive_timeout,
                "keep_alive_timeout_secs",
            )?,
            max_connections: fit_fd_limit(wanted),
            max_body_bytes: self
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(d.max_body_bytes),
            max_header_bytes: self
                .max_header_bytes
                .or(file.max_header_bytes)
                .unwrap_or(d.max_header_bytes),
        };
        anyhow::ensure!(
            limits.max_header_bytes >= 8192,
            "max_header_bytes must be at least 8192"
        );
        let cert = self.tls_cert.clone().or(file.tls_cert.clone());
        let key = self.tls_key.clone().or(file.tls_key.clone());
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(Tls::load(&cert, &key)?),
            (None, None) => None,
            _ => anyhow::bail!("TLS needs both a certificate (tls_cert) and a key (tls_key)"),
        };
        Ok(Options { limits, tls })
    }
}

/// The connection cap, lowered to what the process's file-descriptor limit leaves once its
/// soft limit is raised to the hard one: past it `accept` fails, and a server out of
/// descriptors cannot even answer `/healthz`.
#[cfg(unix)]
fn fit_fd_limit(wanted: usize) -> usize {
    // SAFETY: getrlimit and setrlimit only read and write the struct given to them.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return wanted;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    let room =
        usize::try_from(lim.rlim_cur.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(usize::MAX);
    if room < wanted {
        tracing::warn!(
            wanted,
            allowed = room,
            fd_limit = lim.rlim_cur,
            "max_connections lowered to fit the file-descriptor limit"
        );
    }
    wanted.min(room)
}

#[cfg(not(unix))]
fn fit_fd_limit(wanted: usize) -> usize {
    wanted
}

/// Reads the certificate again on every `SIGHUP`; a failure is logged and the certificate in
/// use stays. Connections already open keep theirs.
pub fn reload_on_sighup(tls: Tls) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match tls.reload() {
                    Ok(()) => tracing::info!("TLS certificate reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "TLS certificate not reloaded; the previous one stays")
                    }
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = tls;
    Ok(())
}
