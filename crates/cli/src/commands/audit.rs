//! `custodian audit verify|list`: prove the audit trail of administrative acts is intact, and
//! read it. Also [`note`], which every command that administers Custodian calls once its act
//! is done, so acts from the command line join the same trail as the API's (actor `cli`).

use std::process::ExitCode;

use clap::Subcommand;
use custodian_app::audit::{self, Action};
use custodian_core::clock::rfc3339;
use custodian_store::Store;

use crate::config::GlobalArgs;

#[derive(Subcommand)]
pub enum Command {
    /// Walk the whole trail; exit 1 naming the first entry changed, removed or moved.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Entries, oldest first, one JSON object per line.
    List {
        /// Entries at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// A token id, or `cli`.
        #[arg(long)]
        actor: Option<String>,
        /// An action such as `token.created` (docs/audit.md lists them).
        #[arg(long)]
        action: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: i64,
    },
}

/// Records an act done from the command line (see `custodian_app::audit::record`).
pub async fn note(
    store: &Store,
    action: Action,
    object: &str,
    detail: Option<&str>,
) -> anyhow::Result<()> {
    let store = store.clone().with_clock(crate::config::clock());
    match detail {
        Some(d) => audit::record_with(&store, audit::CLI, action, object, d).await?,
        None => audit::record(&store, audit::CLI, action, object).await?,
    };
    Ok(())
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<ExitCode> {
    let url = global.database_url(&global.file_config()?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        // `connect`, not `open`: verifying changes nothing, not even the schema.
        let store = Store::connect(&url).await?;
        let code = match cmd {
            Command::Verify { json } => {
                let report = audit::verify(&store).await?;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({ "ok": report.ok(), "report": report })
                    );
                } else if let Some(b) = &report.first_break {
                    eprintln!("audit trail BROKEN: {b}");
                } else {
                    eprintln!(
                        "audit trail intact: {} entries; head {} {}",
                        report.entries_checked, report.head_seq, report.head_hash
                    );
                }
                if report.ok() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Command::List {
                since,
                actor,
                action,
                limit,
            } => {
                let since = since
                    .map(|s| s.parse::<jiff::Timestamp>().map(|t| t.as_microsecond()))
                    .transpose()
                    .map_err(|_| anyhow::anyhow!("--since takes an RFC 3339 time"))?;
                let query = audit::Query {
                    since,
                    actor,
                    action,
                    after: None,
                    limit: Some(limit),
                };
                for e in audit::list(&store, query).await? {
                    let line = serde_json::json!({
                        "seq": e.seq, "id": e.id, "at": rfc3339(e.at), "actor": e.actor,
                        "action": e.action, "object": e.object, "detail": e.detail, "hash": e.hash,
                    });
                    println!("{line}");
                }
                ExitCode::SUCCESS
            }
        };
        store.close().await;
        Ok(code)
    })
}
