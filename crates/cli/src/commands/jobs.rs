//! `custodian jobs list|release`: the leased jobs every node shares — the outbox's delivery
//! passes, connector runs, housekeeping, retention, checkpoints, the DPO's digest — with who
//! holds each and when it runs next, and freeing one whose node is known to be dead.

use std::process::ExitCode;

use clap::Subcommand;
use custodian_core::clock::rfc3339;
use custodian_store::jobs::Job;
use custodian_store::Store;

use crate::config::GlobalArgs;

#[derive(Subcommand)]
pub enum Command {
    /// List every job: name, state (idle, running, failed), next run, lease owner and expiry,
    /// attempts since it last went well, last error.
    List {
        /// One JSON array instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Free a job whose lease a dead node still holds, so a live node takes it at once (the
    /// outbox resends only the messages that were in flight, with the same Message-IDs).
    Release { name: String },
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<ExitCode> {
    let url = global.database_url(&global.file_config()?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = Store::open(&url).await?;
        let now = crate::config::clock().now_micros();
        let code = match cmd {
            Command::List { json } => {
                let all = store.jobs().await?;
                if json {
                    let rows: Vec<serde_json::Value> =
                        all.iter().map(|j| as_json(j, now)).collect();
                    println!("{}", serde_json::to_string(&rows)?);
                } else {
                    print!("{}", table(&all, now));
                }
                ExitCode::SUCCESS
            }
            Command::Release { name } => {
                if store.release_job(&name).await? {
                    crate::commands::audit::note(
                        &store,
                        custodian_app::audit::Action::JobReleased,
                        &name,
                        None,
                    )
                    .await?;
                    eprintln!("released {name}; the next node to look takes it");
                    ExitCode::SUCCESS
                } else {
                    eprintln!("no job named {name}");
                    ExitCode::from(1)
                }
            }
        };
        store.close().await;
        Ok(code)
    })
}

fn as_json(j: &Job, now: i64) -> serde_json::Value {
    serde_json::json!({
        "name": j.name,
        "kind": j.kind,
        "state": j.state(now),
        "next_run": rfc3339(j.run_at),
        "lease_owner": j.lease_owner,
        "lease_until": j.lease_until.map(rfc3339),
        "attempts": j.attempts,
        "last_error": j.last_error,
        "last_started": j.last_started_at.map(rfc3339),
        "last_finished": j.last_finished_at.map(rfc3339),
    })
}

/// A plain table, columns padded to their widest cell.
fn table(all: &[Job], now: i64) -> String {
    let mut rows = vec![[
        "NAME",
        "STATE",
        "NEXT RUN",
        "LEASE OWNER",
        "LEASE UNTIL",
        "ATTEMPTS",
        "LAST ERROR",
    ]
    .map(String::from)];
    for j in all {
        let leased = j.lease_until.is_some_and(|u| u > now);
        rows.push([
            j.name.clone(),
            j.state(now).as_str().into(),
            rfc3339(j.run_at),
            if leased {
                j.lease_owner.clone().unwrap_or_default()
            } else {
                "-".into()
            },
            if leased {
                j.lease_until.map(rfc3339).unwrap_or_default()
            } else {
                "-".into()
            },
            j.attempts.to_string(),
            j.last_error.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
