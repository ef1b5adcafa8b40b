//! `custodian ledger verify|checkpoint`: prove the consent ledger is intact.

use std::process::ExitCode;

use clap::Subcommand;
use custodian_store::Store;

use crate::config::GlobalArgs;

#[derive(Subcommand)]
pub enum Command {
    /// Walk every chain and checkpoint; exit 1 naming the first broken event.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Record a checkpoint of all chain heads now (`serve` does this every minute).
    Checkpoint {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<ExitCode> {
    let url = global.database_url(&global.file_config()?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = Store::connect(&url).await?;
        let code = match cmd {
            Command::Verify { json } => {
                let bar = crate::progress::bar(custodian_core::ledger::CHAINS as u64, "chains", json);
                let report = store.verify_ledger(|_, _| bar.inc(1)).await?;
                bar.finish_and_clear();
                if json {
                    println!("{}", serde_json::json!({ "ok": report.ok(), "report": report }));
                } else if let Some(b) = &report.first_break {
                    eprintln!("ledger BROKEN: {b}");
                } else {
                    eprintln!(
                        "ledger intact: {} events in {} chains, {} checkpoints",
                        report.events_checked, report.chains, report.checkpoints_checked
                    );
                }
                if report.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) }
            }
            Command::Checkpoint { json } => {
                let now = crate::config::clock().now_micros();
                let cp = store.checkpoint(now).await?;
                match (&cp, json) {
                    (_, true) => println!("{}", serde_json::json!({ "written": cp.is_some(), "digest": cp.as_ref().map(|c| &c.digest) })),
                    (Some(c), false) => eprintln!("checkpoint {} written: {}", c.id, c.digest),
                    (None, false) => eprintln!("nothing changed since the last checkpoint"),
                }
                ExitCode::SUCCESS
            }
        };
        store.close().await;
        Ok(code)
    })
}
