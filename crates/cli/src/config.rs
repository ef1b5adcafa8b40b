//! Settings shared by several commands, resolved from (highest first) command-line flags,
//! `CUSTODIAN_*` environment variables, the config file, and built-in defaults.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use figment::providers::{Format, Toml};
use figment::Figment;
use serde::Deserialize;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://custodian.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_CONFIG: &str = "custodian.toml";
pub const DEFAULT_SECRET_FILE: &str = "custodian.secret";

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Config file (TOML). Defaults to ./custodian.toml when it exists.
    #[arg(long, global = true, env = "CUSTODIAN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB. Default: sqlite://custodian.db
    #[arg(long, global = true, env = "CUSTODIAN_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Log format on standard error.
    #[arg(long, global = true, env = "CUSTODIAN_LOG_FORMAT", value_parser = ["text", "json"], default_value = "text")]
    pub log_format: String,
}

/// The config file's keys; every one is optional and documented in docs/configuration.md.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub policy: Option<PathBuf>,
    pub secret_file: Option<PathBuf>,
    pub allowed_origins: Option<Vec<String>>,
    pub public_url: Option<String>,
}

impl GlobalArgs {
    /// Reads the config file named by `--config`, or `./custodian.toml` if present.
    pub fn file_config(&self) -> anyhow::Result<FileConfig> {
        let path = match &self.config {
            Some(p) => {
                anyhow::ensure!(p.exists(), "config file {} does not exist", p.display());
                p.clone()
            }
            None if Path::new(DEFAULT_CONFIG).exists() => PathBuf::from(DEFAULT_CONFIG),
            None => return Ok(FileConfig::default()),
        };
        Figment::new()
            .merge(Toml::file(&path))
            .extract()
            .with_context(|| format!("reading config file {}", path.display()))
    }

    pub fn database_url(&self, file: &FileConfig) -> String {
        self.database_url
            .clone()
            .or_else(|| file.database_url.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
    }
}

pub fn init_logging(args: &GlobalArgs) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("CUSTODIAN_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if args.log_format == "json" {
        builder.json().init();
    } else {
        builder.with_ansi(false).init();
    }
}
