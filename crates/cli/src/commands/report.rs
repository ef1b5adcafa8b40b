//! `custodian report run ID`: one of the policy's aggregate reports (`[[reports]]`), read from
//! its registered datastore, every group below `min_group` suppressed and as many more as it
//! takes that none can be worked out from the total (docs/records.md). Says on standard error
//! how many groups were suppressed.

use std::process::ExitCode;

use clap::Subcommand;
use custodian_app::acts::{self, Actor};
use custodian_store::Store;

use crate::config::GlobalArgs;

#[derive(Subcommand)]
pub enum Command {
    /// Run a report and print it.
    Run {
        id: String,
        #[arg(long, value_parser = ["csv", "json"], default_value = "csv")]
        format: String,
        /// The policy file; the configured one (or the bundled example) when absent.
        #[arg(long, env = "CUSTODIAN_POLICY")]
        policy: Option<std::path::PathBuf>,
    },
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<ExitCode> {
    let Command::Run { id, format, policy } = cmd;
    let file = global.file_config()?;
    let url = global.database_url(&file);
    let policy = crate::commands::policy::in_force(global, policy.as_deref())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = Store::open(&url).await?;
        let out =
            custodian_app::reports::run(&store, &file.datastore_records(), &policy, &id).await;
        let out = match out {
            Ok(out) => out,
            Err(custodian_app::AppError::NotFound) => {
                let known: Vec<&str> = policy.reports.iter().map(|r| r.id.as_str()).collect();
                anyhow::bail!(
                    "the policy has no report `{id}` (it has: {})",
                    known.join(", ")
                )
            }
            Err(e) => anyhow::bail!("{e}"),
        };
        acts::done(
            Some(&store),
            Actor::Cli,
            custodian_app::reports::act_of(&out),
        )
        .await;
        store.close().await;
        if format == "json" {
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            print!("{}", out.csv());
        }
        eprintln!(
            "{}: {} group(s), {} suppressed ({} below {} people, {} to protect them){}",
            out.report,
            out.table.cells.len(),
            out.suppressed,
            out.table.primary,
            out.table.min_group,
            out.table.secondary,
            if out.table.total.is_none() {
                "; total withheld"
            } else {
                ""
            }
        );
        Ok(ExitCode::SUCCESS)
    })
}
