//! `custodian policy check|render|diff|records|publish`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use custodian_policy::Policy;

#[derive(Subcommand)]
pub enum Command {
    /// Validate a policy file; print every problem with its line and column.
    Check {
        file: PathBuf,
        /// Print the problems as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the notice for people from a policy file.
    Render {
        file: PathBuf,
        #[arg(long, value_parser = ["html", "markdown"], default_value = "markdown")]
        format: String,
        /// The language of the notice (`en`, `de`); the policy's first language by default.
        #[arg(long)]
        lang: Option<String>,
    },
    /// Compare two versions and class each change as material or not.
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// Print the changes as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Schedule a new version: it governs from `--effective`; a material change needs
    /// `notices.material_change_days` of notice, and everyone with an e-mail on record is told
    /// (docs/notices.md).
    Publish {
        file: PathBuf,
        /// When it takes effect, RFC 3339 (`2026-07-01T00:00:00Z`).
        #[arg(long)]
        effective: String,
        /// Print the scheduled version as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The records of processing activities (GDPR Art. 30(1)), generated from a policy: the
    /// given file, else the policy in force (docs/records.md).
    Records {
        file: Option<PathBuf>,
        #[arg(long, value_parser = ["json", "csv", "html"], default_value = "json")]
        format: String,
    },
}

// Kept whole: one arm per subcommand, each printing its own human and JSON forms.
pub fn run(global: &crate::config::GlobalArgs, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Publish {
            file,
            effective,
            json,
        } => publish(global, &file, &effective, json),
        Command::Records { file, format } => {
            let policy = match file {
                Some(f) => load(&f)?,
                None => in_force(global, None)?,
            };
            let format = custodian_policy::records::Format::parse(&format)
                .context("--format is json, csv or html")?;
            print!("{}", custodian_policy::records::records(&policy, format));
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { file, json } => {
            let text = read(&file)?;
            match custodian_policy::load(&file.display().to_string(), &text) {
                Ok(p) => {
                    // Promises the text makes that the rules cannot keep: the file is valid,
                    // but the notice would say something untrue.
                    let warnings =
                        custodian_policy::warnings(&file.display().to_string(), &text, &p);
                    if json {
                        println!(
                            "{}",
                            serde_json::json!({ "valid": true, "version": p.policy.version, "problems": [], "warnings": warnings })
                        );
                    } else {
                        for w in &warnings {
                            eprintln!("warning: {w}");
                        }
                        eprintln!(
                            "{}: valid (version {}, {} purposes, {} categories)",
                            file.display(),
                            p.policy.version,
                            p.purposes.len(),
                            p.categories.len()
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::json!({ "valid": false, "problems": problems.0 })
                        );
                    } else {
                        eprint!("{problems}");
                        eprintln!("{} problem(s) found", problems.0.len());
                    }
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Render { file, format, lang } => {
            let policy = load(&file)?;
            let lang = lang
                .or_else(|| policy.policy.languages.first().cloned())
                .unwrap_or_else(|| "en".into());
            let out = match format.as_str() {
                "html" => custodian_policy::render::html_in(&policy, &lang),
                _ => custodian_policy::render::markdown_in(&policy, &lang),
            };
            print!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff { old, new, json } => {
            let (a, b) = (load(&old)?, load(&new)?);
            let changes = custodian_policy::diff::diff(&a, &b);
            let material = changes.iter().filter(|c| c.material).count();
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "material": material > 0, "changes": changes })
                );
            } else if changes.is_empty() {
                eprintln!("no changes");
            } else {
                for c in &changes {
                    println!(
                        "{} {}: {}",
                        if c.material { "MATERIAL " } else { "minor    " },
                        c.path,
                        c.summary
                    );
                }
                eprintln!("{} change(s), {} material", changes.len(), material);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `policy publish`: validates and schedules the file against the newest scheduled version
/// (or the configured policy before any); the running service shows and mails the notice.
fn publish(
    global: &crate::config::GlobalArgs,
    file: &Path,
    effective: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let text = read(file)?;
    let at = effective
        .parse::<jiff::Timestamp>()
        .with_context(|| {
            format!(
                "--effective `{effective}` is not an RFC 3339 time such as 2026-07-01T00:00:00Z"
            )
        })?
        .as_microsecond();
    let config = global.file_config()?;
    let running = crate::config::policy(None, &config)?;
    let url = global.database_url(&config);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = custodian_store::Store::open(&url).await?;
        let now = crate::config::clock().now_micros();
        let scheduled = custodian_app::announce::publish::schedule(
            &store,
            &running,
            &file.display().to_string(),
            &text,
            at,
            now,
        )
        .await;
        let s = match scheduled {
            Ok(s) => s,
            Err(e) => {
                store.close().await;
                eprintln!("error: {e}");
                return Ok(ExitCode::from(1));
            }
        };
        for act in custodian_app::announce::publish::acts_of(&s) {
            custodian_app::acts::done(Some(&store), custodian_app::acts::Actor::Cli, act).await;
        }
        store.close().await;
        if json {
            println!("{}", serde_json::to_string_pretty(&s)?);
        } else {
            for c in &s.changes {
                println!(
                    "{} {}: {}",
                    if c.material { "MATERIAL " } else { "minor    " },
                    c.path,
                    c.summary
                );
            }
            eprintln!(
                "scheduled version {} (after {}) to take effect {}; {} change; the running service shows the notice and mails everyone with an e-mail on record",
                s.version,
                s.follows,
                s.effective_at,
                if s.material { "a material" } else { "no material" }
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The policy in force: the newest published version whose date has come (`policy publish`),
/// else `--policy`, the configured file or the bundled example — as `serve` decides at start.
pub fn in_force(global: &crate::config::GlobalArgs, flag: Option<&Path>) -> anyhow::Result<Policy> {
    let config = global.file_config()?;
    let configured = crate::config::policy(flag, &config)?;
    let url = global.database_url(&config);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = custodian_store::Store::open(&url).await?;
        let now = crate::config::clock().now_micros();
        let p = custodian_app::announce::govern::at_start(&store, configured, now).await;
        store.close().await;
        p.map_err(|e| anyhow::anyhow!("{e}"))
    })
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Reads and validates a policy file; any problem is an error listing them all.
pub fn load(path: &Path) -> anyhow::Result<Policy> {
    let text = read(path)?;
    custodian_policy::load(&path.display().to_string(), &text)
        .map_err(|p| anyhow::anyhow!("{} is not a valid policy:\n{p}", path.display()))
}
