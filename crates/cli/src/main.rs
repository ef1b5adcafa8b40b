//! The `custodian` binary: parses the command line and runs one command.
//!
//! Each subcommand lives in `commands/`; [`config`] resolves settings from flags, `CUSTODIAN_*`
//! environment variables and the config file, in that order of precedence.

/// mimalloc instead of the system allocator: the request path allocates many small, short-lived
/// values, and glibc's malloc/free showed as ~8% of a loaded server's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod commands;
mod config;
mod listen;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "custodian",
    version,
    about = "Self-hosted privacy operations: your privacy policy, enforced in code."
)]
struct Cli {
    #[command(flatten)]
    global: config::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (SQLite in the current folder and the example policy by default).
    Serve(commands::serve::Args),
    /// Write the example policy.toml and a commented custodian.toml into a folder.
    Init(commands::init::Args),
    /// Check, render, compare and publish policy files; the records of processing.
    #[command(subcommand)]
    Policy(commands::policy::Command),
    /// Run the policy's aggregate reports, small groups suppressed.
    #[command(subcommand)]
    Report(commands::report::Command),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(commands::token::Command),
    /// The privacy team's console users: add, list, disable, enable, reset, role.
    #[command(subcommand)]
    User(commands::user::Command),
    /// Verify and checkpoint the consent ledger.
    #[command(subcommand)]
    Ledger(commands::ledger::Command),
    /// Import and export consent, and issue one-click unsubscribe links.
    #[command(subcommand)]
    Consent(commands::consent::Command),
    /// Register the company's datastores; run access, erasure and rectification on them.
    #[command(subcommand)]
    Datastore(commands::datastore::Command),
    /// Check a dataset against its database, or draft one from a live schema.
    #[command(subcommand)]
    Dataset(commands::dataset::Command),
    /// Apply the retention rules now, or list what is due by a date.
    #[command(subcommand)]
    Retention(commands::retention::Command),
    /// The master key that wraps every subject's key: generate, check, rotate.
    #[command(subcommand)]
    Keys(commands::keys::Command),
    /// The leased jobs nodes share: list them, or free one a dead node holds.
    #[command(subcommand)]
    Jobs(commands::jobs::Command),
    /// Verify and read the audit trail of administrative acts.
    #[command(subcommand)]
    Audit(commands::audit::Command),
    /// When a request received at a given time is due under a jurisdiction (docs/deadlines.md).
    Deadline(commands::deadline::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    config::init_logging(&cli.global);
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(&cli.global, args),
        Command::Init(args) => commands::init::run(args),
        Command::Policy(cmd) => commands::policy::run(&cli.global, cmd),
        Command::Report(cmd) => commands::report::run(&cli.global, cmd),
        Command::Token(cmd) => commands::token::run(&cli.global, cmd),
        Command::User(cmd) => commands::user::run(&cli.global, cmd),
        Command::Ledger(cmd) => commands::ledger::run(&cli.global, cmd),
        Command::Consent(cmd) => commands::consent::run(&cli.global, cmd),
        Command::Datastore(cmd) => commands::datastore::run(&cli.global, cmd),
        Command::Dataset(cmd) => commands::dataset::run(&cli.global, cmd),
        Command::Retention(cmd) => commands::retention::run(&cli.global, cmd),
        Command::Keys(cmd) => commands::keys::run(&cli.global, cmd),
        Command::Jobs(cmd) => commands::jobs::run(&cli.global, cmd),
        Command::Audit(cmd) => commands::audit::run(&cli.global, cmd),
        Command::Deadline(args) => commands::deadline::run(&cli.global, args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
