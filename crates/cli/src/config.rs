//! Settings shared by several commands, resolved from (highest first) command-line flags,
//! `CUSTODIAN_*` environment variables, the config file, and built-in defaults.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use figment::providers::{Format, Toml};
use figment::Figment;
use serde::Deserialize;

/// The clock every command runs on. Commands take "now" from here (or from the store, which
/// `serve` opens on it), so the wall clock is chosen in this one place and tests of the
/// libraries below can run on a clock they move.
pub fn clock() -> Arc<dyn custodian_core::clock::Clock> {
    Arc::new(custodian_core::clock::SystemClock)
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://custodian.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_CONFIG: &str = "custodian.toml";
pub const DEFAULT_SECRET_FILE: &str = "custodian.secret";
pub const DEFAULT_MASTER_KEY_FILE: &str = "custodian.master-key";

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Config file (TOML). Defaults to ./custodian.toml when it exists.
    #[arg(long, global = true, env = "CUSTODIAN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB. Default: sqlite://custodian.db
    #[arg(long, global = true, env = "CUSTODIAN_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where subject keys live, apart from the data so that a copy of the database holds no
    /// key. Default: beside an SQLite database (custodian-keys.db for custodian.db); the same
    /// database for PostgreSQL.
    #[arg(long, global = true, env = "CUSTODIAN_KEY_STORE_URL")]
    pub key_store_url: Option<String>,
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
    pub key_store_url: Option<String>,
    pub policy: Option<PathBuf>,
    pub secret_file: Option<PathBuf>,
    /// The master key that wraps every subject's key (`custodian keys`).
    pub master_key_file: Option<PathBuf>,
    pub allowed_origins: Option<Vec<String>>,
    pub public_url: Option<String>,
    /// HTTPS: the certificate chain and its key (PEM), read again on SIGHUP.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Connection limits (docs/configuration.md, "Connections and TLS").
    pub header_read_timeout_secs: Option<u64>,
    pub body_read_timeout_secs: Option<u64>,
    pub keep_alive_timeout_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_body_bytes: Option<u64>,
    pub max_header_bytes: Option<usize>,
    /// Company datastores, as `custodian datastore add` registers them.
    #[serde(default)]
    pub datastores: Vec<DatastoreConfig>,
}

/// One `[[datastores]]` entry of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatastoreConfig {
    pub name: String,
    /// The dataset file (Custodian's format or Fides YAML).
    pub dataset: PathBuf,
    /// The environment variable holding the connection URL.
    pub url_env: Option<String>,
    /// Or a file holding it.
    pub url_file: Option<PathBuf>,
    /// A Fides request policy (JSON or YAML) whose erasure rules give a Fides dataset's fields
    /// their strategies (`datastore add --fides-policy`).
    pub fides_policy: Option<PathBuf>,
    /// Start even when the dataset's check against its database finds problems (as
    /// `datastore add --force`).
    #[serde(default)]
    pub force: bool,
}

impl FileConfig {
    /// The config file's datastores, as the connectors take them.
    pub fn datastore_records(&self) -> Vec<custodian_store::runs::DatastoreRecord> {
        self.datastores
            .iter()
            .map(|d| custodian_store::runs::DatastoreRecord {
                name: d.name.clone(),
                dataset_path: d.dataset.display().to_string(),
                url_env: d.url_env.clone(),
                url_file: d.url_file.as_ref().map(|p| p.display().to_string()),
                fides_policy: d.fides_policy.as_ref().map(|p| p.display().to_string()),
                created_at: 0,
            })
            .collect()
    }
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

    pub fn key_store_url(&self, file: &FileConfig) -> String {
        self.key_store_url
            .clone()
            .or_else(|| file.key_store_url.clone())
            .unwrap_or_else(|| beside(&self.database_url(file)))
    }

    /// The data store and the store of subject keys, opened (and on a fresh folder, migrated)
    /// side by side rather than one after the other: each mostly waits on its own disk syncs.
    pub async fn stores(
        &self,
        file: &FileConfig,
    ) -> anyhow::Result<(custodian_store::Store, custodian_store::Store)> {
        let (url, key_url) = (self.database_url(file), self.key_store_url(file));
        let main = async {
            custodian_store::Store::open(&url)
                .await
                .with_context(|| format!("opening the {} store", scheme(&url)))
        };
        if url == key_url {
            let store = main.await?;
            return Ok((store.clone(), store));
        }
        let keys = async {
            custodian_store::Store::open(&key_url)
                .await
                .context("opening the key store")
        };
        tokio::try_join!(main, keys)
    }

    /// The store of subject keys: the main store itself when the URLs are the same.
    pub async fn key_store(
        &self,
        file: &FileConfig,
        main: &custodian_store::Store,
    ) -> anyhow::Result<custodian_store::Store> {
        let (url, key_url) = (self.database_url(file), self.key_store_url(file));
        if url == key_url {
            return Ok(main.clone());
        }
        custodian_store::Store::open(&key_url)
            .await
            .context("opening the key store")
    }
}

/// The scheme of a database URL (`sqlite`, `postgres`), for messages that must not show the
/// rest of it (a password may be in it).
pub fn scheme(url: &str) -> &str {
    url.split(':').next().unwrap_or("?")
}

/// The default key store for a database URL: `sqlite://dir/name-keys.db` beside
/// `sqlite://dir/name.db` (query kept); PostgreSQL keeps its keys in the same database.
fn beside(url: &str) -> String {
    let Some(rest) = url.strip_prefix("sqlite://") else {
        return url.to_owned();
    };
    let (path, query) = rest
        .split_once('?')
        .map_or((rest, None), |(p, q)| (p, Some(q)));
    let keys = match path.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') => format!("{stem}-keys.{ext}"),
        _ => format!("{path}-keys"),
    };
    match query {
        Some(q) => format!("sqlite://{keys}?{q}"),
        None => format!("sqlite://{keys}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_live_beside_an_sqlite_database_and_in_postgres_itself() {
        use super::beside;
        assert_eq!(
            beside("sqlite://custodian.db"),
            "sqlite://custodian-keys.db"
        );
        assert_eq!(
            beside("sqlite:///var/lib/c/data.sqlite?mode=rwc"),
            "sqlite:///var/lib/c/data-keys.sqlite?mode=rwc"
        );
        assert_eq!(beside("sqlite://./dir.v2/db"), "sqlite://./dir.v2/db-keys");
        assert_eq!(
            beside("postgres://root@127.0.0.1/test"),
            "postgres://root@127.0.0.1/test"
        );
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

/// The policy to enforce: `--policy`, the config file's `policy`, or the bundled example.
pub fn policy(flag: Option<&Path>, file: &FileConfig) -> anyhow::Result<custodian_policy::Policy> {
    match flag.map(Path::to_path_buf).or_else(|| file.policy.clone()) {
        Some(path) => crate::commands::policy::load(&path),
        None => Ok(custodian_policy::example()),
    }
}

/// The secret that keys subject references: `CUSTODIAN_SECRET`, or the secret file (created
/// on first use).
pub fn secret(flag: Option<&Path>, file: &FileConfig) -> anyhow::Result<Vec<u8>> {
    let path = flag
        .map(Path::to_path_buf)
        .or_else(|| file.secret_file.clone())
        .unwrap_or_else(|| DEFAULT_SECRET_FILE.into());
    load_or_create_secret(&path)
}

/// Whether a server secret is there to read (`CUSTODIAN_SECRET`, or its file), without
/// making one: what a dry run may use.
pub fn secret_exists(file: &FileConfig) -> bool {
    std::env::var("CUSTODIAN_SECRET").is_ok()
        || file
            .secret_file
            .clone()
            .unwrap_or_else(|| DEFAULT_SECRET_FILE.into())
            .exists()
}

/// The secret comes from `CUSTODIAN_SECRET` (hex, for several nodes sharing one database) or
/// from a file created once with 32 random bytes, readable only by its owner.
fn load_or_create_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(hexed) = std::env::var("CUSTODIAN_SECRET") {
        let bytes = hex::decode(hexed.trim()).context("CUSTODIAN_SECRET must be hex")?;
        anyhow::ensure!(
            bytes.len() >= 32,
            "CUSTODIAN_SECRET must be at least 32 bytes (64 hex digits)"
        );
        return Ok(bytes);
    }
    if path.exists() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let bytes = hex::decode(text.trim())
            .with_context(|| format!("{} must hold hex", path.display()))?;
        anyhow::ensure!(
            bytes.len() >= 32,
            "{} holds fewer than 32 bytes",
            path.display()
        );
        return Ok(bytes);
    }
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    write_private(path, &hex::encode(bytes))?;
    tracing::info!(path = %path.display(), "created a new subject-reference secret");
    Ok(bytes.to_vec())
}

/// The master key that wraps every subject's key: `CUSTODIAN_MASTER_KEY` (the key itself, hex
/// or base64), or a file — `--master-key-file`, the config file's `master_key_file`, or
/// `./custodian.master-key`. Only the default file is created when missing, and only when
/// `create_default` (first start of `serve`): a file named explicitly that is missing is an
/// error, since a new key would not open the keys already stored.
pub fn master_key(
    flag: Option<&Path>,
    file: &FileConfig,
    create_default: bool,
) -> anyhow::Result<custodian_core::keys::MasterKey> {
    use custodian_core::keys::MasterKey;
    if let Ok(text) = std::env::var("CUSTODIAN_MASTER_KEY") {
        return MasterKey::parse(&text).context("CUSTODIAN_MASTER_KEY");
    }
    let named = flag
        .map(Path::to_path_buf)
        .or_else(|| file.master_key_file.clone());
    let path = named
        .clone()
        .unwrap_or_else(|| DEFAULT_MASTER_KEY_FILE.into());
    read_master_key_file(&path, create_default && named.is_none())
}

/// Reads a master key file; `create` makes it with a new key when it does not exist.
pub fn read_master_key_file(
    path: &Path,
    create: bool,
) -> anyhow::Result<custodian_core::keys::MasterKey> {
    use custodian_core::keys::MasterKey;
    if !path.exists() {
        anyhow::ensure!(
            create,
            "the master key file {} does not exist (make one with `custodian keys generate > FILE`)",
            path.display()
        );
        write_private(path, &MasterKey::generate())?;
        tracing::warn!(path = %path.display(), "created a new master key; keep it apart from the database and its backups (docs/retention.md)");
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    MasterKey::parse(&text).with_context(|| format!("the master key in {}", path.display()))
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    std::fs::write(path, content).with_context(|| format!("creating {}", path.display()))
}
