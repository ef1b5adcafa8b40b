//! `custodian deadline`: when a request received at a given instant must be acknowledged and
//! answered under one jurisdiction of the policy, with pauses — the same function the server
//! uses for every request (`custodian_core::deadline::due`), so a DPO can check a date, or a
//! lawyer a rule, without a running service.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use custodian_core::deadline::{due, rule_by_id, Calendars, Pause};
use jiff::Timestamp;

#[derive(clap::Args)]
pub struct Args {
    /// The jurisdiction's id in the policy (e.g. `gdpr`, `uk_gdpr`, `ccpa`), or `default`.
    #[arg(long, value_name = "ID")]
    jurisdiction: String,
    /// When the request was received, RFC 3339 (e.g. `2026-03-02T23:30:00-08:00`).
    #[arg(long, value_name = "RFC3339")]
    received: String,
    /// A time the clock stood still, `FROM/TO`, both RFC 3339; may be repeated.
    #[arg(long = "pause", value_name = "FROM/TO")]
    pauses: Vec<String>,
    /// The policy file; the configured one (or the bundled example) when absent.
    #[arg(long, env = "CUSTODIAN_POLICY")]
    policy: Option<PathBuf>,
    /// Print `{jurisdiction, received_date, acknowledge_due, acknowledge_due_date, answer_due,
    /// answer_due_date, latest_answer_due_date}` as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(global: &crate::config::GlobalArgs, args: Args) -> anyhow::Result<ExitCode> {
    let file = global.file_config()?;
    let policy = crate::config::policy(args.policy.as_deref(), &file)?;
    let Some(rule) = rule_by_id(&policy, &args.jurisdiction) else {
        let known: Vec<&str> = std::iter::once("default")
            .chain(policy.deadlines.jurisdictions.iter().map(|j| j.id.as_str()))
            .collect();
        bail!(
            "--jurisdiction: unknown jurisdiction `{}`; the policy has {}",
            args.jurisdiction,
            known.join(", ")
        );
    };
    let received = instant("--received", &args.received)?;
    let mut pauses = Vec::with_capacity(args.pauses.len());
    for (i, p) in args.pauses.iter().enumerate() {
        let at = format!("--pause #{} `{p}`", i + 1);
        let (from, to) = p
            .split_once('/')
            .with_context(|| format!("{at}: write FROM/TO, two RFC 3339 times"))?;
        let pause = Pause::closed(instant(&at, from)?, instant(&at, to)?)
            .map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
        pauses.push(pause);
    }
    let calendars = Calendars::from_policy(&policy)?;
    // Every pause is closed, so "now" only needs to be after all of them: the answer does not
    // depend on the wall clock.
    let now = pauses
        .iter()
        .filter_map(|p| p.to)
        .chain([received])
        .max()
        .unwrap_or(received);
    let d = due(
        received,
        &rule,
        calendars.get(&rule.calendar),
        &pauses,
        None,
        now,
    );
    if args.json {
        println!("{}", serde_json::to_string(&d)?);
    } else {
        let zone = calendars
            .get(&rule.calendar)
            .time_zone()
            .iana_name()
            .unwrap_or("UTC")
            .to_owned();
        println!(
            "jurisdiction      {} (calendar `{}`, {zone})",
            d.jurisdiction, rule.calendar
        );
        println!("received          {}", d.received_date);
        println!(
            "acknowledge by    {} ({})",
            d.acknowledge_due_date, d.acknowledge_due
        );
        println!(
            "answer by         end of {} ({})",
            d.answer_due_date, d.answer_due
        );
        println!("latest, extended  end of {}", d.latest_answer_due_date);
    }
    Ok(ExitCode::SUCCESS)
}

fn instant(at: &str, s: &str) -> anyhow::Result<Timestamp> {
    s.trim().parse::<Timestamp>().map_err(|e| {
        anyhow::anyhow!("{at}: `{s}` is not an RFC 3339 time such as 2026-03-02T10:00:00Z ({e})")
    })
}
