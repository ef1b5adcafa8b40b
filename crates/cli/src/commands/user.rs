//! `custodian user add|list|disable|enable|reset|role`: the people who sign in to the console
//! at /console (docs/console.md). Passwords come from `--password-file` or are asked for on
//! the terminal without echo (read as a line from standard input when that is not a terminal).
//! Addresses are found by their keyed hash and shown from their sealed copy, so these commands
//! need the same server secret as `serve`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use custodian_app::users::{Directory, User};
use custodian_core::staff::StaffRole;

use crate::config::GlobalArgs;

#[derive(Subcommand)]
pub enum Command {
    /// Add a user who signs in with this address and a password.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["viewer", "dpo", "admin"])]
        role: String,
        /// A file holding the password (its first line); asked for when absent.
        #[arg(long)]
        password_file: Option<PathBuf>,
        #[command(flatten)]
        secret: SecretArg,
    },
    /// List users (never their passwords).
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        secret: SecretArg,
    },
    /// Disable a user (by id or address): their sessions end, sign-in is refused.
    Disable {
        who: String,
        #[command(flatten)]
        secret: SecretArg,
    },
    /// Enable a disabled user again.
    Enable {
        who: String,
        #[command(flatten)]
        secret: SecretArg,
    },
    /// Set a new password (sessions end, the lock-out is lifted).
    Reset {
        who: String,
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Also remove the second factor (a lost authenticator).
        #[arg(long)]
        remove_totp: bool,
        #[command(flatten)]
        secret: SecretArg,
    },
    /// Change a user's role.
    Role {
        who: String,
        #[arg(value_parser = ["viewer", "dpo", "admin"])]
        role: String,
        #[command(flatten)]
        secret: SecretArg,
    },
}

#[derive(clap::Args)]
pub struct SecretArg {
    /// The server secret's file, as `serve --secret-file` (addresses are keyed by it).
    #[arg(long, env = "CUSTODIAN_SECRET_FILE")]
    secret_file: Option<PathBuf>,
}

fn secret_of(cmd: &Command) -> Option<&Path> {
    match cmd {
        Command::Add { secret, .. }
        | Command::List { secret, .. }
        | Command::Disable { secret, .. }
        | Command::Enable { secret, .. }
        | Command::Reset { secret, .. }
        | Command::Role { secret, .. } => secret.secret_file.as_deref(),
    }
}

/// The password: the first line of `file`, or asked for twice on the terminal.
fn password(file: Option<&Path>) -> anyhow::Result<String> {
    if let Some(f) = file {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        return Ok(text.lines().next().unwrap_or("").to_owned());
    }
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = prompt("Password: ")?;
    let again = prompt("Again: ")?;
    anyhow::ensure!(first == again, "the two passwords differ");
    Ok(first)
}

/// Reads a line from the terminal with echo off (termios), restoring it afterwards.
#[cfg(unix)]
fn prompt(label: &str) -> anyhow::Result<String> {
    eprint!("{label}");
    std::io::stderr().flush()?;
    let fd = libc::STDIN_FILENO;
    // SAFETY: tcgetattr/tcsetattr on standard input with a zeroed termios they fill in.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    let have = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if have {
        let mut quiet = old;
        quiet.c_lflag &= !libc::ECHO;
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if have {
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
    }
    eprintln!();
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

#[cfg(not(unix))]
fn prompt(label: &str) -> anyhow::Result<String> {
    eprint!("{label}");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn line(u: &User) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        u.id,
        u.role.as_str(),
        if u.disabled { "disabled" } else { "active" },
        if u.totp { "totp" } else { "password" },
        u.email
            .as_deref()
            .unwrap_or("(sealed under another secret)")
    )
}

fn role(s: &str) -> StaffRole {
    StaffRole::parse(s).expect("clap restricts the values")
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<ExitCode> {
    let file = global.file_config()?;
    let url = global.database_url(&file);
    let secret = crate::config::secret(secret_of(&cmd), &file)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = custodian_store::Store::open(&url).await?;
        let users = Directory::new(store.clone(), &secret);
        let done = |u: User, what: &str| {
            eprintln!("{what} {} ({})", u.id, u.role.as_str());
            ExitCode::SUCCESS
        };
        let code = match cmd {
            Command::Add {
                email,
                role: r,
                password_file,
                ..
            } => {
                let pw = password(password_file.as_deref())?;
                done(users.add(&email, role(&r), &pw).await?, "added")
            }
            Command::List { json, .. } => {
                let all = users.list().await?;
                if json {
                    println!("{}", serde_json::to_string(&all)?);
                } else {
                    for u in &all {
                        println!("{}", line(u));
                    }
                }
                ExitCode::SUCCESS
            }
            Command::Disable { who, .. } => done(users.set_disabled(&who, true).await?, "disabled"),
            Command::Enable { who, .. } => done(users.set_disabled(&who, false).await?, "enabled"),
            Command::Reset {
                who,
                password_file,
                remove_totp,
                ..
            } => {
                let pw = password(password_file.as_deref())?;
                done(users.reset(&who, &pw, remove_totp).await?, "reset")
            }
            Command::Role { who, role: r, .. } => {
                done(users.set_role(&who, role(&r)).await?, "changed")
            }
        };
        store.close().await;
        Ok(code)
    })
}
