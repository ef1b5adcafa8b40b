//! `custodian retention run`: apply the policy's retention rules now (or list, with
//! `--dry-run`, what would go by a date and why). `serve` runs the same job daily.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use custodian_app::retention::{self as retention_job, RunOptions};
use custodian_core::retention::{start_of, Retention};
use custodian_store::Store;

use crate::config::GlobalArgs;

#[derive(Subcommand)]
pub enum Command {
    /// Purge what is due, holds respected; each purge is recorded with its rule.
    Run {
        /// List what is due; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Evaluate at the start of this day (YYYY-MM-DD, UTC) instead of now.
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
        /// The policy file; the configured one (or the bundled example) when absent.
        #[arg(long, env = "CUSTODIAN_POLICY")]
        policy: Option<std::path::PathBuf>,
        /// Print the report as JSON: with `--dry-run`, one entry per subject and rule.
        #[arg(long)]
        json: bool,
    },
}

// Options, the store, the company's datastores, a progress bar, the run and its report: one
// command read top to bottom, every step a call into `custodian_app::retention`.
pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<ExitCode> {
    let Command::Run {
        dry_run,
        as_of,
        policy,
        json,
    } = cmd;
    let file = global.file_config()?;
    let url = global.database_url(&file);
    let policy = crate::config::policy(policy.as_deref(), &file)?;
    let rules = Retention::compile(&policy)?;
    let as_of = match as_of {
        Some(d) => start_of(
            d.parse::<jiff::civil::Date>()
                .with_context(|| format!("--as-of `{d}` is not a date such as 2033-01-01"))?,
        ),
        None => crate::config::clock().now_micros(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = Store::open(&url).await?;
        if !dry_run {
            lower_priority();
        }
        // A real run reaches the company's datastores too. A dry run changes nothing there,
        // but counts what rules anchored on `collected` would let go — when the keys are
        // already there (it never makes a master key or a secret).
        let keys_there = crate::config::master_key(None, &file, false).is_ok()
            && crate::config::secret_exists(&file);
        let company = if dry_run && !keys_there {
            None
        } else {
            let master = crate::config::master_key(None, &file, !dry_run)?;
            let key_store = global.key_store(&file, &store).await?;
            let secret = crate::config::secret(None, &file)?;
            Some(retention_job::CompanyPurge {
                keyring: custodian_store::keyring::Keyring::new(key_store, master),
                run_keys: custodian_connectors::run::RunKeys::from_secret(&secret),
                configured: file.datastore_records(),
            })
        };
        let work = store.retention_work().await?.max(0) as u64;
        let bar = crate::progress::bar(work, "records", json);
        let report = retention_job::run(
            &store,
            &rules,
            &RunOptions {
                as_of,
                dry_run,
                list: dry_run,
                pause_ratio: 0.0,
                now: crate::config::clock().now_micros(),
            },
            company.as_ref(),
            |n| bar.inc(n),
        )
        .await?;
        bar.finish_and_clear();
        if !dry_run {
            let detail = format!(
                "due={} held={} purged={}",
                report.due, report.held, report.records_purged
            );
            crate::commands::audit::note(
                &store,
                custodian_app::audit::Action::RetentionRun,
                &report.as_of.to_string(),
                Some(&detail),
            )
            .await?;
        }
        if json {
            if dry_run {
                println!("{}", serde_json::to_string_pretty(&report.entries)?);
            } else {
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
        } else {
            for e in &report.entries {
                println!(
                    "{:<12}  {:<24} due since {}  {}{}",
                    e.subject_ref.get(..12).unwrap_or(&e.subject_ref),
                    e.rule,
                    e.due_since,
                    e.data.categories.join(", "),
                    if e.held.is_empty() { "" } else { "  [held]" }
                );
            }
            eprintln!(
                "{} {} subject-and-rule pairs due as of {} ({} held); {} records purged",
                if dry_run { "dry run:" } else { "retention:" },
                report.due,
                report.as_of,
                report.held,
                report.records_purged
            );
        }
        store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// A purge is background work: it runs at a lower CPU priority (nice 10), so that the service
/// beside it keeps answering at its usual latency (bench/retention.sh measures it). It goes as
/// fast as the machine allows when nothing else wants the CPU.
fn lower_priority() {
    #[cfg(unix)]
    {
        // SAFETY: nice(2) only changes this process's scheduling priority; a failure (e.g. no
        // permission) leaves it as it was, which is harmless.
        let _ = unsafe { libc::nice(10) };
    }
}
