//! `custodian init`: a starting point for a company's own policy and config.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Folder to write into.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

pub const CONFIG_TEMPLATE: &str = include_str!("../../../../examples/custodian.toml");

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let files = [
        ("policy.toml", custodian_policy::EXAMPLE_POLICY),
        ("custodian.toml", CONFIG_TEMPLATE),
    ];
    // Check every target first so that a refusal writes nothing at all.
    let existing: Vec<_> = files
        .iter()
        .map(|(name, _)| args.dir.join(name))
        .filter(|p| p.exists())
        .collect();
    if !existing.is_empty() {
        let names: Vec<_> = existing.iter().map(|p| p.display().to_string()).collect();
        anyhow::bail!(
            "refusing to overwrite {}; move it away or use another --dir",
            names.join(", ")
        );
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    for (name, content) in files {
        let path = args.dir.join(name);
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    eprintln!("next: edit policy.toml, check it with `custodian policy check policy.toml`, then `custodian serve`");
    Ok(ExitCode::SUCCESS)
}
