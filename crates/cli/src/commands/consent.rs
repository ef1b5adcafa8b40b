//! `custodian consent import|export|unsubscribe-link`.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use custodian_core::clock::rfc3339;
use custodian_core::subject::{IdKind, SubjectHasher, SubjectId, SubjectRef};
use custodian_core::unsubscribe::{Signer, Unsubscribe};
use custodian_policy::Policy;
use custodian_store::consent::NewEvent;
use custodian_store::Store;
use futures_util::TryStreamExt;

use crate::config::GlobalArgs;

#[derive(Subcommand)]
pub enum Command {
    /// Import opt-ins and opt-outs from a CSV file (e.g. a mailing tool's export).
    ///
    /// Columns (header row required): one of `email`, `user_id`, `device_id`; `purpose`;
    /// `given` (true/false, yes/no, 1/0); optional `at` (RFC 3339, when the choice was made),
    /// `source` (default `import`) and `policy_version` (default: the active version).
    /// Every bad row is reported with its line number and nothing of it is written; rows that
    /// repeat the current choice are skipped, so importing a file twice changes nothing.
    Import {
        file: PathBuf,
        #[arg(long, env = "CUSTODIAN_POLICY")]
        policy: Option<PathBuf>,
        #[arg(long, env = "CUSTODIAN_SECRET_FILE")]
        secret_file: Option<PathBuf>,
        /// Check the file and report, but write nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Export every consent event, oldest first (subjects appear as keyed references).
    Export {
        #[arg(long, value_parser = ["csv", "jsonl"], default_value = "jsonl")]
        format: String,
        /// Write to a file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Print a signed one-click unsubscribe link (RFC 8058) for one subject and purpose.
    UnsubscribeLink {
        #[arg(long, group = "who", required = true)]
        email: Option<String>,
        #[arg(long, group = "who")]
        user_id: Option<String>,
        #[arg(long, default_value = "marketing")]
        purpose: String,
        #[arg(long, default_value_t = 365)]
        ttl_days: u32,
        /// Base URL of the service, as people reach it.
        #[arg(
            long,
            env = "CUSTODIAN_PUBLIC_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        public_url: String,
        #[arg(long, env = "CUSTODIAN_POLICY")]
        policy: Option<PathBuf>,
        #[arg(long, env = "CUSTODIAN_SECRET_FILE")]
        secret_file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<ExitCode> {
    let file = global.file_config()?;
    let url = global.database_url(&file);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match cmd {
        Command::Import {
            file: path,
            policy,
            secret_file,
            dry_run,
            json,
        } => {
            let policy = crate::config::policy(policy.as_deref(), &file)?;
            let secret = crate::config::secret(secret_file.as_deref(), &file)?;
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            rt.block_on(import(
                &url,
                &policy,
                &SubjectHasher::new(&secret),
                &text,
                &path.display().to_string(),
                dry_run,
                json,
            ))
        }
        Command::Export { format, output } => rt.block_on(export(&url, &format, output)),
        Command::UnsubscribeLink {
            email,
            user_id,
            purpose,
            ttl_days,
            public_url,
            policy,
            secret_file,
            json,
        } => {
            let policy = crate::config::policy(policy.as_deref(), &file)?;
            anyhow::ensure!(
                policy.purpose(&purpose).is_some_and(|p| p.is_consent()),
                "`{purpose}` is not a consent purpose of the policy"
            );
            let secret = crate::config::secret(secret_file.as_deref(), &file)?;
            let id = match (email, user_id) {
                (Some(e), _) => SubjectId::parse(IdKind::Email, &e)?,
                (_, Some(u)) => SubjectId::parse(IdKind::UserId, &u)?,
                _ => unreachable!("clap requires one"),
            };
            let subject = SubjectHasher::new(&secret).reference(&id);
            let expires_at =
                crate::config::clock().now_micros() / 1_000_000 + i64::from(ttl_days) * 86_400;
            let token = Signer::new(&secret).sign(&Unsubscribe {
                subject,
                purpose,
                expires_at,
            });
            let link = format!("{}/u/{token}", public_url.trim_end_matches('/'));
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "url": link, "expires_at": rfc3339(expires_at * 1_000_000),
                    "headers": { "List-Unsubscribe": format!("<{link}>"), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" } })
                );
            } else {
                println!("{link}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

// Read, check, skip what the ledger already says, append, report: one import in the order a
// reader checks it, which is why it is not cut into pieces.
async fn import(
    url: &str,
    policy: &Policy,
    hasher: &SubjectHasher,
    text: &str,
    name: &str,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store = Store::open(url).await?;
    store
        .remember_policy_version(
            &policy.policy.version,
            &serde_json::to_string(policy)?,
            crate::config::clock().now_micros(),
        )
        .await?;
    // The one id generator, on the CLI's clock: event ids are time-ordered like every other,
    // so imported events land at the end of the ledger's indexes too.
    let ids = custodian_core::ids::Ids::new(crate::config::clock());
    let (rows, bad) = custodian_app::consent_import::parse_rows(
        policy,
        hasher,
        text,
        crate::config::clock().now_micros(),
        &ids,
    )?;
    for b in &bad {
        eprintln!("{name}: {b}");
    }
    // Skip rows that repeat the current choice, so a second import is a no-op.
    let mut current: HashMap<(SubjectRef, String), bool> = HashMap::new();
    let mut state = store.all_consent_state();
    while let Some((s, p, g)) = state.try_next().await? {
        if let Some(r) = SubjectRef::from_hex(&s) {
            current.insert((r, p), g);
        }
    }
    drop(state);
    let receipt = format!("rcpt_import_{}", &ids.next("evt")[4..]);
    let mut fresh = Vec::new();
    let mut skipped = 0usize;
    for mut row in rows {
        let key = (row.event.subject, row.event.purpose.clone());
        if current.get(&key) == Some(&row.event.given) {
            skipped += 1;
            continue;
        }
        current.insert(key, row.event.given);
        row.event.receipt_id = receipt.clone();
        fresh.push(row);
    }
    let bar = crate::progress::bar(fresh.len() as u64, "rows", json);
    let mut written = 0usize;
    if !dry_run {
        // Batches are atomic: a row is written whole or not at all.
        for chunk in fresh.chunks(500) {
            let events: Vec<NewEvent> = chunk.iter().map(|r| r.event.clone()).collect();
            store
                .append_consent(&events)
                .await
                .with_context(|| format!("writing rows from line {}", chunk[0].line))?;
            written += chunk.len();
            bar.inc(chunk.len() as u64);
        }
    }
    bar.finish_and_clear();
    if written > 0 {
        let detail = format!("written={written} skipped={skipped}");
        crate::commands::audit::note(
            &store,
            custodian_app::audit::Action::ConsentImported,
            &receipt,
            Some(&detail),
        )
        .await?;
    }
    store.close().await;
    if json {
        println!(
            "{}",
            serde_json::json!({ "written": written, "skipped_unchanged": skipped, "bad_rows": bad, "dry_run": dry_run })
        );
    } else {
        eprintln!(
            "{written} event(s) written, {skipped} unchanged row(s) skipped, {} bad row(s){}",
            bad.len(),
            if dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            }
        );
        if written > 0 {
            eprintln!("a running `custodian serve` applies them to its decisions within a second");
        }
    }
    Ok(if bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn export(url: &str, format: &str, output: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let store = Store::connect(url).await?;
    let out: Box<dyn Write> = match &output {
        Some(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    // Both writers buffer and stream: memory stays flat however large the ledger.
    let mut csv_out = None;
    let mut jsonl_out = None;
    if format == "csv" {
        let mut w = csv::Writer::from_writer(out);
        w.write_record([
            "id",
            "subject_ref",
            "purpose",
            "given",
            "source",
            "policy_version",
            "notice_hash",
            "ip_truncated",
            "receipt_id",
            "at",
            "chain",
            "seq",
            "prev_hash",
            "hash",
        ])?;
        csv_out = Some(w);
    } else {
        jsonl_out = Some(std::io::BufWriter::new(out));
    }
    let mut events = store.all_consent_events();
    let mut n = 0u64;
    while let Some(e) = events.try_next().await? {
        n += 1;
        if let Some(w) = csv_out.as_mut() {
            w.write_record([
                e.id.as_str(),
                &e.subject.to_hex(),
                &e.purpose,
                if e.given { "true" } else { "false" },
                e.source.as_str(),
                &e.policy_version,
                e.notice_hash.as_deref().unwrap_or(""),
                e.ip_truncated.as_deref().unwrap_or(""),
                &e.receipt_id,
                &rfc3339(e.created_at),
                &e.link.chain.to_string(),
                &e.link.seq.to_string(),
                &e.link.prev_hash,
                &e.link.hash,
            ])?;
        } else if let Some(w) = jsonl_out.as_mut() {
            let line = serde_json::json!({
                "id": e.id, "subject_ref": e.subject.to_hex(), "purpose": e.purpose, "given": e.given, "source": e.source,
                "policy_version": e.policy_version, "notice_hash": e.notice_hash, "ip_truncated": e.ip_truncated,
                "receipt_id": e.receipt_id, "at": rfc3339(e.created_at), "chain": e.link.chain, "seq": e.link.seq,
                "prev_hash": e.link.prev_hash, "hash": e.link.hash,
            });
            writeln!(w, "{line}")?;
        }
    }
    if let Some(mut w) = csv_out {
        w.flush()?;
    }
    if let Some(mut w) = jsonl_out {
        w.flush()?;
    }
    drop(events);
    store.close().await;
    if output.is_some() {
        eprintln!("exported {n} event(s)");
    }
    Ok(ExitCode::SUCCESS)
}
