//! `custodian dataset check|generate`: compare a dataset with the live database, and draft a
//! dataset from a live schema.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use custodian_connectors::{check, dataset, sql::Db};
use custodian_store::Store;

use crate::config::GlobalArgs;

#[derive(Subcommand)]
pub enum Command {
    /// Report every problem: in the dataset itself, and between it and the live database
    /// (missing tables or columns, types that do not suit the strategy, unindexed references;
    /// for Redis, what a sample of each pattern's keys shows).
    Check {
        /// A dataset file; or use --datastore for a registered one.
        file: Option<PathBuf>,
        #[arg(long, conflicts_with = "file")]
        datastore: Option<String>,
        /// Environment variable with the connection URL (default: the dataset's or registration's).
        #[arg(long)]
        url_env: Option<String>,
        /// Check categories and hold rules against this policy (default: the configured one).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// A Fides request policy whose erasure rules give a Fides dataset its strategies
        /// (default: the registered datastore's).
        #[arg(long)]
        fides_policy: Option<PathBuf>,
    },
    /// Print a draft dataset (Custodian TOML) for the database at URL.
    Generate {
        url: String,
        #[arg(long, default_value = "company")]
        name: String,
    },
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<ExitCode> {
    let file = global.file_config()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cmd {
            Command::Check { file: path, datastore, url_env, policy, fides_policy } => {
                let policy = crate::config::policy(policy.as_deref(), &file)?;
                let (path, mut env, mut fides) = match (path, datastore) {
                    (Some(p), _) => (p, None, None),
                    (None, Some(name)) => {
                        let store = Store::open(&global.database_url(&file)).await?;
                        let reg = store
                            .datastores()
                            .await?
                            .into_iter()
                            .find(|r| r.name == name)
                            .with_context(|| format!("no datastore {name}"))?;
                        (PathBuf::from(reg.dataset_path), reg.url_env, reg.fides_policy.map(PathBuf::from))
                    }
                    (None, None) => anyhow::bail!("give a dataset file or --datastore NAME"),
                };
                if url_env.is_some() {
                    env = url_env;
                }
                if fides_policy.is_some() {
                    fides = fides_policy;
                }
                let (ds, _) = match custodian_connectors::dataset_file::load_with(&path, fides.as_deref()) {
                    Ok(d) => d,
                    Err(e) => {
                        println!("{e}");
                        return Ok(ExitCode::from(1));
                    }
                };
                let var = env
                    .or_else(|| ds.connection.url_env.clone())
                    .context("no connection: give --url-env VAR")?;
                let url = std::env::var(&var).with_context(|| format!("the environment variable {var} is not set"))?;
                let report = check::report_at(&url, &ds, Some(&policy)).await?;
                for c in &report.choices {
                    println!("{c}");
                }
                let problems: Vec<String> = report.problems.into_iter().chain(report.slow).collect();
                if problems.is_empty() {
                    println!("{}: the dataset matches the database", ds.name);
                    Ok(ExitCode::SUCCESS)
                } else {
                    println!("{}: {} problem(s)", ds.name, problems.len());
                    for p in &problems {
                        println!("  - {p}");
                    }
                    Ok(ExitCode::from(1))
                }
            }
            Command::Generate { url, name } => {
                let db = Db::connect(&url).await?;
                let ds = check::generate(&db, &name).await?;
                db.close().await;
                println!("# Drafted by `custodian dataset generate`. Give every personal field a `category`");
                println!("# (a policy category id) and an `erase` strategy; see docs/datasets.md.");
                println!("{}", dataset::to_toml(&ds));
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
