//! `custodian keys generate|status|rotate`: the master key that wraps every subject's key.
//!
//! Rotation re-wraps the subject keys under a new master key; the sealed fields never change,
//! so it takes one small write per subject and can be interrupted and run again.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use custodian_core::keys::MasterKey;
use custodian_store::keyring::Keyring;
use custodian_store::Store;

use crate::config::GlobalArgs;

#[derive(Subcommand)]
pub enum Command {
    /// Print a new random master key (64 hex digits) for a key file or secret store.
    Generate,
    /// How many subject keys exist, and whether all are wrapped by the current master key.
    Status {
        /// The current master key file (or CUSTODIAN_MASTER_KEY / the config file / the default).
        #[arg(long, env = "CUSTODIAN_MASTER_KEY_FILE")]
        master_key_file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Re-wrap every subject key under a new master key; then start `serve` with the new one.
    Rotate {
        /// The current master key file (or CUSTODIAN_MASTER_KEY / the config file / the default).
        #[arg(long, env = "CUSTODIAN_MASTER_KEY_FILE")]
        master_key_file: Option<PathBuf>,
        /// The file holding the new master key (`custodian keys generate > FILE`).
        #[arg(long)]
        to: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

// One arm per subcommand, each a few lines: the dispatcher reads as the list of commands.
pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<ExitCode> {
    if let Command::Generate = cmd {
        println!("{}", MasterKey::generate());
        return Ok(ExitCode::SUCCESS);
    }
    let file = global.file_config()?;
    let url = global.database_url(&file);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let main = Store::open(&url).await?;
        let store = global.key_store(&file, &main).await?;
        let code = match cmd {
            Command::Generate => unreachable!("answered above"),
            Command::Status {
                master_key_file,
                json,
            } => {
                let master = crate::config::master_key(master_key_file.as_deref(), &file, false)?;
                let keyring = Keyring::new(store.clone(), master);
                let keys = store.subject_key_count().await?;
                let unfinished = keyring.rotation_unfinished().await?;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({ "subject_keys": keys, "master_key_id": keyring.master_id(), "all_wrapped_by_this_key": !unfinished })
                    );
                } else {
                    println!(
                        "{keys} subject keys; master key {}; {}",
                        keyring.master_id(),
                        if unfinished {
                            "some keys are wrapped by another master key (rotation not finished?)"
                        } else {
                            "all wrapped by it"
                        }
                    );
                }
                if unfinished {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Command::Rotate {
                master_key_file,
                to,
                json,
            } => {
                let old = crate::config::master_key(master_key_file.as_deref(), &file, false)?;
                let new = crate::config::read_master_key_file(&to, false)?;
                anyhow::ensure!(
                    old.id() != new.id(),
                    "the new master key is the current one"
                );
                let total = store.subject_key_count().await?;
                let keyring = Keyring::new(store.clone(), old);
                let bar = crate::progress::bar(total as u64, "subject keys", json);
                let done = keyring.rotate(&new, |n| bar.set_position(n)).await?;
                bar.finish_and_clear();
                let detail = format!("rewrapped={done}");
                crate::commands::audit::note(&main, custodian_app::audit::Action::KeysRotated, &new.id(), Some(&detail)).await?;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({ "rewrapped": done, "master_key_id": new.id() })
                    );
                } else {
                    println!(
                        "re-wrapped {done} subject keys under master key {}; start serve with {}",
                        new.id(),
                        to.display()
                    );
                }
                ExitCode::SUCCESS
            }
        };
        store.close().await;
        main.close().await;
        Ok(code)
    })
}
