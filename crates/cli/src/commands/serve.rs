//! `custodian serve`: the HTTP service.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use custodian_server::Settings;

use crate::config::{GlobalArgs, DEFAULT_LISTEN};

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "CUSTODIAN_LISTEN")]
    pub listen: Option<String>,
    /// Policy file to enforce; the bundled example policy when absent.
    #[arg(long, env = "CUSTODIAN_POLICY")]
    pub policy: Option<PathBuf>,
    /// File holding the secret that keys subject references; created if missing.
    #[arg(long, env = "CUSTODIAN_SECRET_FILE")]
    pub secret_file: Option<PathBuf>,
    /// File holding the master key that wraps each subject's key (`CUSTODIAN_MASTER_KEY` gives
    /// the key itself); ./custodian.master-key, created if missing, when neither is given.
    #[arg(long, env = "CUSTODIAN_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// The URL people reach this service at, used in links sent by e-mail.
    #[arg(long, env = "CUSTODIAN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Data-subject requests one client (IP address) may submit per minute.
    #[arg(long, env = "CUSTODIAN_INTAKE_LIMIT_PER_CLIENT", default_value_t = 60)]
    pub intake_limit_per_client: u32,
    /// Data-subject requests one e-mail address may submit per hour.
    #[arg(long, env = "CUSTODIAN_INTAKE_LIMIT_PER_ADDRESS", default_value_t = 5)]
    pub intake_limit_per_address: u32,
    /// Anonymous consent writes (by device id) one client may make per second; 0 turns the
    /// limit off (benchmarks). See docs/configuration.md for the default's reasoning.
    #[arg(long, env = "CUSTODIAN_CONSENT_LIMIT_PER_CLIENT", default_value_t = custodian_app::limits::CONSENT_PER_CLIENT)]
    pub consent_limit_per_client: u32,
    /// Comma-separated origins allowed to call the banner endpoints; any when unset.
    #[arg(long, env = "CUSTODIAN_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Option<Vec<String>>,
    /// Minutes without activity after which a console session ends (docs/console.md).
    #[arg(long, env = "CUSTODIAN_CONSOLE_IDLE_MINUTES", default_value_t = 30)]
    pub console_idle_minutes: i64,
    /// File for an image of consent memory, read at start instead of every current choice
    /// (docs/consent.md); `off` for none. Default: beside the SQLite database, none on
    /// PostgreSQL.
    #[arg(long, env = "CUSTODIAN_CONSENT_IMAGE")]
    pub consent_image: Option<String>,
    /// TLS and the connection limits.
    #[command(flatten)]
    pub connections: crate::listen::ListenArgs,
}

// One reading of the settings (flags over environment over config file), then the runtime,
// the store, the policy and the listener in the order a failure should be reported in; kept
// in one piece so the start-up sequence reads top to bottom.
pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<ExitCode> {
    let file = global.file_config()?;
    let listen = args
        .listen
        .or(file.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let policy = crate::config::policy(args.policy.as_deref(), &file)?;
    let secret = crate::config::secret(args.secret_file.as_deref(), &file)?;
    let master_key = crate::config::master_key(args.master_key_file.as_deref(), &file, true)?;
    let public_url = args.public_url.or(file.public_url.clone());
    let options = args.connections.options(&file)?;
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    // Cookies are marked `Secure` and HSTS is sent when the public URL is https; serving TLS
    // under an http public URL would leave them off (and e-mail links that do not work).
    anyhow::ensure!(
        options.tls.is_none()
            || public_url
                .as_deref()
                .is_none_or(|u| u.starts_with("https://")),
        "with a TLS certificate the public URL must start with https://"
    );
    let allowed_origins = args
        .allowed_origins
        .or(file.allowed_origins.clone())
        .filter(|o| !o.is_empty());

    let smtp = custodian_mail::MailConfig::from_env()?;
    let datastores = file.datastore_records();
    let limit = |max, window_micros| custodian_app::limits::Limit { max, window_micros };
    let intake_limits = custodian_app::limits::IntakeLimits {
        per_client: limit(args.intake_limit_per_client, 60_000_000),
        per_address: limit(args.intake_limit_per_address, 3_600_000_000),
        consent_per_client: args.consent_limit_per_client,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (store, key_store) = global.stores(&file).await?;
        check_changed_datasets(&store, &file).await?;
        let version = policy.policy.version.clone();
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        let public_url = public_url.unwrap_or_else(|| format!("{scheme}://{addr}"));
        let clock = crate::config::clock();
        let state = custodian_server::build(Settings {
            app: custodian_app::Settings {
                policy,
                store: store.clone(),
                secret,
                public_url,
                clock,
                smtp,
                intake_limits,
                datastores,
                master_key,
                key_store,
                consent_image: args
                    .consent_image
                    .as_deref()
                    .map(custodian_app::consent_image::ImagePlace::parse)
                    .unwrap_or_default(),
            },
            allowed_origins,
            console: custodian_server::console::Options {
                idle_minutes: args.console_idle_minutes,
            },
        })
        .await?;
        tracing::info!(%addr, store = store.backend(), policy_version = %version, "ready");
        if let Some(tls) = &options.tls {
            crate::listen::reload_on_sighup(tls.clone())?;
        }
        println!("custodian listening on {scheme}://{addr}");
        custodian_server::serve_with(listener, state, options, shutdown_signal()).await?;
        store.close().await;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Checks again, against their databases, the datastores whose dataset or Fides policy changed
/// since they were last checked: problems refuse the start (unless accepted with `force`); an
/// unreachable database is a warning.
async fn check_changed_datasets(
    store: &custodian_store::Store,
    file: &crate::config::FileConfig,
) -> anyhow::Result<()> {
    let mut all: Vec<_> = store
        .datastores()
        .await?
        .into_iter()
        .map(|r| (r, false))
        .collect();
    for (reg, d) in file.datastore_records().into_iter().zip(&file.datastores) {
        if !all.iter().any(|(r, _)| r.name == reg.name) {
            all.push((reg, d.force));
        }
    }
    for w in custodian_connectors::registration::check_changed(store, &all).await? {
        tracing::warn!("{w}");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
