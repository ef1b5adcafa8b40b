//! `custodian datastore ...`: register the company's datastores, run access, erasure and
//! rectification on them, and inspect, resume or retry those runs.
//!
//! Identifiers given on the command line go into the run sealed and are never printed or
//! logged; connection URLs are read from the named variable or file whenever a run executes.

use custodian_core::run::RunStatus;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use custodian_connectors::access::JsonLines;
use custodian_connectors::erase::{HoldDates, PolicyHolds};
use custodian_connectors::run::{
    self, ExecuteOptions, RetryPolicy, RunKeys, RunKind, RunOutcome, RunSpec,
};
use custodian_store::Store;

use crate::commands::audit::note;
use crate::config::GlobalArgs;
use custodian_app::audit::Action;

#[derive(Subcommand)]
pub enum Command {
    /// Register a datastore: its dataset (Custodian TOML or Fides YAML) and where its URL is.
    /// The dataset is checked against the live database first (as `dataset check`), and the
    /// registration refused, listing every problem, when an erasure would fail.
    Add {
        name: String,
        #[arg(long)]
        dataset: PathBuf,
        /// A Fides request policy (JSON or YAML) whose erasure rules give the Fides dataset's
        /// fields their masking strategies.
        #[arg(long)]
        fides_policy: Option<PathBuf>,
        /// Register even when the check finds problems (they are listed as warnings).
        #[arg(long)]
        force: bool,
        /// Environment variable holding the connection URL, read whenever a run executes.
        #[arg(long)]
        url_env: Option<String>,
        /// File holding the connection URL (a mounted secret).
        #[arg(long, conflicts_with = "url_env")]
        url_file: Option<PathBuf>,
    },
    /// List registered datastores.
    List,
    /// Remove a registration.
    Remove { name: String },
    /// Export a subject's personal data as JSON lines (to --out, or standard output).
    Access {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Erase a subject: apply each field's strategy; held fields are kept and reported.
    Erase {
        #[command(flatten)]
        target: Target,
        /// Show exactly what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// The day legal holds are counted from (e.g. the account's closing), YYYY-MM-DD; default today.
        #[arg(long)]
        hold_anchor: Option<String>,
    },
    /// Correct a subject's data: --set table.field=value, repeatable.
    Rectify {
        #[command(flatten)]
        target: Target,
        #[arg(long = "set", value_name = "TABLE.FIELD=VALUE", required = true)]
        set: Vec<String>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Inspect, resume and retry runs.
    #[command(subcommand)]
    Runs(RunsCommand),
}

#[derive(Args)]
pub struct Target {
    /// Datastores to run on (default: every registered one).
    names: Vec<String>,
    #[arg(long)]
    email: Vec<String>,
    #[arg(long)]
    user_id: Vec<String>,
    #[arg(long)]
    phone: Vec<String>,
    /// Any other identity, as KIND=VALUE.
    #[arg(long, value_name = "KIND=VALUE")]
    identity: Vec<String>,
    /// The policy whose retention rules give hold dates (default: the configured one).
    #[arg(long)]
    policy: Option<PathBuf>,
    #[command(flatten)]
    exec: Exec,
}

#[derive(Args, Clone)]
pub struct Exec {
    /// Attempts per failing step before it is marked failed.
    #[arg(long, default_value_t = 5)]
    max_attempts: u32,
    /// First retry delay in milliseconds (doubling after each failure).
    #[arg(long, default_value_t = 2000)]
    backoff_ms: u64,
    /// Take a run whose lease another process still holds (when you know it is dead).
    #[arg(long)]
    take_over: bool,
}

#[derive(Subcommand)]
pub enum RunsCommand {
    /// Recent runs, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// A run with its steps, results and errors, as JSON.
    Show { id: String },
    /// Execute a run again from its first unfinished step (after a crash).
    Resume {
        id: String,
        #[command(flatten)]
        exec: Exec,
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Reset failed steps (or one step, even a done one) and execute the run again. Refused
    /// for a run that completed: its identifiers are deleted, so plan a new run instead.
    Retry {
        id: String,
        #[arg(long)]
        step: Option<i64>,
        #[command(flatten)]
        exec: Exec,
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

fn identities(t: &Target) -> anyhow::Result<custodian_connectors::Identities> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    pairs.extend(t.email.iter().map(|v| ("email".to_owned(), v.clone())));
    pairs.extend(t.user_id.iter().map(|v| ("user_id".to_owned(), v.clone())));
    pairs.extend(t.phone.iter().map(|v| ("phone".to_owned(), v.clone())));
    for kv in &t.identity {
        let (k, v) = kv.split_once('=').context("--identity takes KIND=VALUE")?;
        pairs.push((k.to_owned(), v.to_owned()));
    }
    anyhow::ensure!(
        !pairs.is_empty(),
        "name the subject with --email, --user-id, --phone or --identity"
    );
    Ok(run::identities(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ))
}

/// `configured`: the config file's `[[datastores]]`, which count as registered ones.
fn options<'a>(
    exec: &Exec,
    holds: &'a dyn HoldDates,
    configured: &[custodian_store::runs::DatastoreRecord],
) -> ExecuteOptions<'a> {
    let mut o = ExecuteOptions::new(holds);
    o.configured = configured.to_vec();
    o.take_over = exec.take_over;
    o.retry = RetryPolicy {
        max_attempts: exec.max_attempts.max(1),
        base_delay: Duration::from_millis(exec.backoff_ms),
        max_delay: Duration::from_secs(300),
    };
    o
}

fn print_outcome(outcome: &RunOutcome) -> anyhow::Result<ExitCode> {
    let results = outcome.results();
    let steps: Vec<_> = outcome
        .steps
        .iter()
        .zip(results)
        .map(|(s, r)| {
            serde_json::json!({
                "seq": s.seq, "datastore": s.datastore, "status": s.status,
                "attempts": s.attempts, "error": s.last_error, "result": r,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "run": outcome.run.id, "kind": outcome.run.kind, "status": outcome.run.status,
        "dry_run": outcome.run.dry_run, "steps": steps,
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(if outcome.run.status == RunStatus::Done {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// What every datastore command shares: the store, the datastores the config file names, the
/// config file itself (for the secret and the policy) and today's date (the default anchor of
/// legal holds).
struct Env {
    store: Store,
    configured: Vec<custodian_store::runs::DatastoreRecord>,
    file: crate::config::FileConfig,
    today: jiff::civil::Date,
}

impl Env {
    fn keys(&self) -> anyhow::Result<RunKeys> {
        Ok(RunKeys::from_secret(&crate::config::secret(
            None, &self.file,
        )?))
    }

    fn policy(&self, p: &Option<PathBuf>) -> anyhow::Result<custodian_policy::Policy> {
        crate::config::policy(p.as_deref(), &self.file)
    }
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<ExitCode> {
    let file = global.file_config()?;
    let url = global.database_url(&file);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let env = Env {
            store: Store::open(&url).await?,
            configured: file.datastore_records(),
            today: custodian_core::clock::timestamp(crate::config::clock().now_micros())
                .to_zoned(jiff::tz::TimeZone::system())
                .date(),
            file,
        };
        match cmd {
            Command::Runs(runs) => runs_command(&env, runs).await,
            Command::Access { target, out } => access(&env, target, out).await,
            cmd @ (Command::Erase { .. } | Command::Rectify { .. }) => change(&env, cmd).await,
            registry => registry_command(&env, registry).await,
        }
    })
}

/// `add`, `list` and `remove`: the datastores Custodian knows.
async fn registry_command(env: &Env, cmd: Command) -> anyhow::Result<ExitCode> {
    let (store, configured) = (&env.store, &env.configured);
    match cmd {
        Command::Add {
            name,
            dataset,
            fides_policy,
            force,
            url_env,
            url_file,
        } => {
            let code = add(
                store,
                &name,
                dataset,
                fides_policy,
                force,
                url_env,
                url_file,
            )
            .await?;
            note(store, Action::DatastoreAdded, &name, None).await?;
            Ok(code)
        }
        Command::List => {
            println!(
                "{}",
                serde_json::to_string_pretty(&run::datastores(store, configured).await?)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Remove { name } => {
            anyhow::ensure!(store.remove_datastore(&name).await?, "no datastore {name}");
            store.forget_dataset_check(&name).await?;
            note(store, Action::DatastoreRemoved, &name, None).await?;
            Ok(ExitCode::SUCCESS)
        }
        _ => unreachable!("run() dispatches the other commands"),
    }
}

/// `add`: check the dataset against its live database, then register it (or refuse).
async fn add(
    store: &Store,
    name: &str,
    dataset: PathBuf,
    fides_policy: Option<PathBuf>,
    force: bool,
    url_env: Option<String>,
    url_file: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    use custodian_connectors::registration::{self, Live};
    anyhow::ensure!(
        custodian_connectors::dataset::valid_name(name),
        "a datastore name is 1 to 64 printable characters"
    );
    let absolute = |p: &PathBuf| -> anyhow::Result<String> {
        Ok(std::fs::canonicalize(p)
            .with_context(|| format!("cannot read {}", p.display()))?
            .display()
            .to_string())
    };
    let reg = custodian_store::runs::DatastoreRecord {
        name: name.to_owned(),
        dataset_path: absolute(&dataset)?,
        url_env,
        url_file: url_file.as_ref().map(|p| p.display().to_string()),
        fides_policy: fides_policy.as_ref().map(absolute).transpose()?,
        created_at: 0,
    };
    let checked = registration::register(store, &reg, force).await?;
    match &checked.live {
        Live::Checked(r) => {
            for c in &r.choices {
                eprintln!("  {c}");
            }
            for p in &r.problems {
                eprintln!("warning: {name}: {p} (registered with --force)");
            }
            for p in &r.slow {
                eprintln!("warning: {name}: {p}");
            }
        }
        Live::Unreachable(why) => eprintln!(
            "warning: {name}: the dataset could not be checked against its database ({why}); it is registered, and checked again when `custodian serve` starts"
        ),
        Live::Http => {}
    }
    eprintln!(
        "registered datastore {name} ({:?} dataset {}, {} tables)",
        checked.format, checked.dataset_name, checked.tables
    );
    Ok(ExitCode::SUCCESS)
}

/// `access`: what the datastores hold about a subject, as JSON lines.
async fn access(env: &Env, target: Target, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let (store, configured, today) = (&env.store, &env.configured, env.today);
    let spec = spec(RunKind::Access, &target, BTreeMap::new(), false)?;
    let policy = env.policy(&target.policy)?;
    let holds = PolicyHolds {
        policy: &policy,
        anchor: today,
    };
    let mut writer: Box<dyn Write + Send> = match &out {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut sink = JsonLines(&mut writer);
    let mut o = options(&target.exec, &holds, configured);
    o.sink = Some(&mut sink);
    let outcome = run::run_now(store, &env.keys()?, &spec, o).await?;
    noted(store, Action::DatastoreAccess, &outcome).await?;
    writer.flush()?;
    drop(writer);
    let code = if outcome.run.status == RunStatus::Done {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    };
    eprintln!("run {} {}", outcome.run.id, outcome.run.status.as_str());
    Ok(code)
}

/// `erase` and `rectify`: a change in the datastores, run now.
async fn change(env: &Env, cmd: Command) -> anyhow::Result<ExitCode> {
    let (store, configured, today) = (&env.store, &env.configured, env.today);
    match cmd {
        Command::Erase {
            target,
            dry_run,
            hold_anchor,
        } => {
            let spec = spec(RunKind::Erasure, &target, BTreeMap::new(), dry_run)?;
            let policy = env.policy(&target.policy)?;
            let anchor = match hold_anchor {
                Some(d) => d.parse().context("--hold-anchor takes YYYY-MM-DD")?,
                None => today,
            };
            let holds = PolicyHolds {
                policy: &policy,
                anchor,
            };
            let outcome = run::run_now(
                store,
                &env.keys()?,
                &spec,
                options(&target.exec, &holds, configured),
            )
            .await?;
            noted(store, Action::DatastoreErasure, &outcome).await?;
            print_outcome(&outcome)
        }
        Command::Rectify {
            target,
            set,
            dry_run,
        } => {
            let mut corrections = BTreeMap::new();
            for kv in &set {
                let (k, v) = kv
                    .split_once('=')
                    .context("--set takes TABLE.FIELD=VALUE")?;
                corrections.insert(k.to_owned(), v.to_owned());
            }
            let spec = spec(RunKind::Rectification, &target, corrections, dry_run)?;
            let policy = env.policy(&target.policy)?;
            let holds = PolicyHolds {
                policy: &policy,
                anchor: today,
            };
            let outcome = run::run_now(
                store,
                &env.keys()?,
                &spec,
                options(&target.exec, &holds, configured),
            )
            .await?;
            noted(store, Action::DatastoreRectification, &outcome).await?;
            print_outcome(&outcome)
        }
        _ => unreachable!("run() dispatches the other commands"),
    }
}

/// Records a run started from the command line: its id, and its status (and whether it was
/// a dry run) as the detail — never the identities it ran for.
async fn noted(store: &Store, action: Action, outcome: &RunOutcome) -> anyhow::Result<()> {
    let detail = format!(
        "{}{}",
        outcome.run.status.as_str(),
        if outcome.run.dry_run { " dry_run" } else { "" }
    );
    note(store, action, &outcome.run.id, Some(&detail)).await
}

/// `runs list|show|resume|retry`: runs already planned.
async fn runs_command(env: &Env, cmd: RunsCommand) -> anyhow::Result<ExitCode> {
    let (store, configured, today) = (&env.store, &env.configured, env.today);
    match cmd {
        RunsCommand::List { status, limit } => {
            // A status no run can have lists nothing, as before.
            let runs = match status.as_deref().map(RunStatus::parse) {
                Some(None) => Vec::new(),
                wanted => store.runs(wanted.flatten(), limit).await?,
            };
            for r in runs {
                println!(
                    "{}\t{}\t{}\t{}",
                    r.id,
                    r.kind.as_str(),
                    r.status.as_str(),
                    if r.dry_run { "dry-run" } else { "" }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        RunsCommand::Show { id } => {
            let run = store
                .run(&id)
                .await?
                .with_context(|| format!("no run {id}"))?;
            let steps = store.run_steps(&id).await?;
            print_outcome(&RunOutcome { run, steps })?;
            Ok(ExitCode::SUCCESS)
        }
        RunsCommand::Resume { id, exec, policy } => {
            let policy = env.policy(&policy)?;
            let holds = PolicyHolds {
                policy: &policy,
                anchor: today,
            };
            let outcome =
                run::execute_run(store, &env.keys()?, &id, options(&exec, &holds, configured))
                    .await?;
            noted(store, Action::RunResumed, &outcome).await?;
            print_outcome(&outcome)
        }
        RunsCommand::Retry {
            id,
            step,
            exec,
            policy,
        } => {
            // Refused, changing nothing, when the run no longer holds the identifiers.
            run::retry(store, &id, step).await?;
            let policy = env.policy(&policy)?;
            let holds = PolicyHolds {
                policy: &policy,
                anchor: today,
            };
            let outcome =
                run::execute_run(store, &env.keys()?, &id, options(&exec, &holds, configured))
                    .await?;
            noted(store, Action::RunRetried, &outcome).await?;
            print_outcome(&outcome)
        }
    }
}

fn spec(
    kind: RunKind,
    t: &Target,
    corrections: BTreeMap<String, String>,
    dry_run: bool,
) -> anyhow::Result<RunSpec> {
    Ok(RunSpec {
        kind,
        identities: identities(t)?,
        corrections,
        datastores: (!t.names.is_empty()).then(|| t.names.clone()),
        dry_run,
        request_id: None,
    })
}
