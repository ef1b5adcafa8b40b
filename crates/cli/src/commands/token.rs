//! `custodian token create|list|revoke`: bearer tokens for the service and admin APIs.

use std::process::ExitCode;

use clap::Subcommand;
use custodian_core::token::{self, Role};
use custodian_store::Store;

use crate::commands::audit::note;
use crate::config::GlobalArgs;
use custodian_app::audit::Action;

#[derive(Subcommand)]
pub enum Command {
    /// Create a token; prints the token alone on standard output, once.
    Create {
        #[arg(long, value_parser = ["admin", "dpo", "service"])]
        role: String,
        /// A name that says who uses it.
        #[arg(long, default_value = "unnamed")]
        name: String,
        /// Print id, role and token as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id.
    Revoke { id: String },
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<ExitCode> {
    let url = global.database_url(&global.file_config()?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = Store::open(&url).await?;
        let code = match cmd {
            Command::Create { role, name, json } => {
                let role = Role::parse(&role).expect("clap restricts the values");
                let secret = token::generate();
                let rec = store.insert_token(&name, role, &token::hash(&secret)).await?;
                note(&store, Action::TokenCreated, &rec.id, Some(role.as_str())).await?;
                if json {
                    println!("{}", serde_json::json!({ "id": rec.id, "name": rec.name, "role": rec.role, "token": secret }));
                } else {
                    println!("{secret}");
                    eprintln!("created {} token {} ({}); it is shown only once", role.as_str(), rec.id, rec.name);
                }
                ExitCode::SUCCESS
            }
            Command::List { json } => {
                let all = store.list_tokens().await?;
                if json {
                    println!("{}", serde_json::to_string(&all)?);
                } else {
                    for t in all {
                        let state = if t.revoked_at.is_some() { "revoked" } else { "active" };
                        println!("{}\t{}\t{}\t{}", t.id, t.role.as_str(), state, t.name);
                    }
                }
                ExitCode::SUCCESS
            }
            Command::Revoke { id } => {
                if store.revoke_token(&id).await? {
                    note(&store, Action::TokenRevoked, &id, None).await?;
                    eprintln!("revoked {id}");
                    ExitCode::SUCCESS
                } else {
                    eprintln!("no active token with id {id}");
                    ExitCode::from(1)
                }
            }
        };
        store.close().await;
        Ok(code)
    })
}
