//! The retention job: applies every retention rule of the policy to Custodian's own store,
//! holds respected, each purge recorded with its rule. `serve` runs it daily
//! ([`daily_once`]); `custodian retention run` runs it on demand, with `--dry-run` to list
//! what would go by a date and why.
//!
//! It walks one table family at a time — one pass each: `lifecycle.rs`, `consent.rs`,
//! `requests.rs`, `held.rs` — through the one paged loop of `paged.rs`, then the rules
//! anchored on `collected` (`collected.rs`, by each record's own time, in the company's
//! datastores): pages of subjects
//! ordered by reference, each evaluated with `custodian_core::retention` and purged in one
//! short transaction, so memory stays bounded and no lock is held for long (decisions never
//! touch the store). `company.rs` reaches the company's datastores.
//!
//! What goes from Custodian's own tables: consent state under `consent_withdrawn` rules, the
//! address and details of final requests (built-in rule `custodian.request_records`, mail
//! about them included), and a closed account's lifecycle events once its longest rule is
//! due. In the company's datastores, the fields a due rule held go by their `after_hold`
//! strategy ([`CompanyPurge`], through the connectors), found by the identifiers the subject's
//! lifecycle events came with — or, for rows an erasure kept under a hold, by the primary
//! keys the erasure recorded (`held_rows`), since the erased subject's identifiers are gone.

mod collected;
mod company;
mod consent;
mod held;
mod lifecycle;
mod paged;
mod requests;

use custodian_core::clock::rfc3339;
use custodian_core::retention::{
    Hold, LifecycleEvent, LifecycleKind, MinimumAge, Minors, Retention, RetentionError,
};
use custodian_core::subject::SubjectRef;
use custodian_policy::Policy;
use custodian_store::retention::{HoldRow, LifecycleRow};
use custodian_store::{Store, StoreError};
use serde::Serialize;

pub use company::CompanyPurge;
use paged::{paged, Run};

use crate::context::Context;

/// Subjects per page: one transaction each.
pub const PAGE: i64 = 500;
/// The hold category that request records count as.
pub const REQUEST_CATEGORY: &str = "requests";
/// The leased job of the daily run (one node runs it per day; see `background::run_leased`).
pub const JOB: &str = "retention";
const DAY: i64 = 86_400_000_000;

/// Retention's part of the shared state.
pub struct RetentionState {
    /// The rules and ages of the policy in force (replaced with it: `announce::govern`).
    pub rules: crate::live::Live<Retention>,
    pub ages: crate::live::Live<MinimumAge>,
    /// Subjects under the minimum age, for `decide` (memory only).
    pub minors: Minors,
}

impl RetentionState {
    pub async fn load(policy: &Policy, store: &Store) -> Result<RetentionState, JobError> {
        let minors = Minors::default();
        for m in store.minors().await? {
            if let Some(s) = SubjectRef::from_hex(&m.subject_ref) {
                minors.insert(s);
            }
        }
        Ok(RetentionState {
            rules: crate::live::Live::new(Retention::compile(policy)?),
            ages: crate::live::Live::new(MinimumAge::from_policy(policy)),
            minors,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rules(#[from] RetentionError),
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The date rules are evaluated at (microseconds).
    pub as_of: i64,
    /// List what is due; change nothing.
    pub dry_run: bool,
    /// Keep every entry in the report (the CLI's listing); the daily job only counts.
    pub list: bool,
    /// After each page, pause this many times as long as the page took: the daily run inside
    /// `serve` shares the CPU with the requests it serves (1.0 there: at most half a core).
    pub pause_ratio: f64,
    /// When the purges are recorded as made (the caller's clock; `as_of` may be another day).
    pub now: i64,
}

/// What goes, in an entry of the report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Data {
    pub categories: Vec<String>,
    /// What goes from where: `consent state: marketing`, `request req_… address and details`,
    /// `lifecycle events`, `company datastores`.
    pub records: Vec<String>,
}

/// One subject and rule that is due.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub subject_ref: String,
    pub rule: String,
    pub data: Data,
    pub due_since: String,
    /// Categories a hold keeps, with the hold's id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<HeldBy>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HeldBy {
    pub category: String,
    pub hold: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub as_of: String,
    pub dry_run: bool,
    pub subjects: u64,
    /// Subject-and-rule pairs due.
    pub due: u64,
    /// Of those, kept (in part or whole) by a hold.
    pub held: u64,
    /// Records removed or blanked in Custodian's own store.
    pub records_purged: u64,
    /// Rows changed in the company's datastores (fields whose rule fell due).
    pub company_rows_changed: u64,
    /// Subject-and-rule pairs whose company data could not be purged this run (a datastore
    /// failed); they stay due and are tried again on the next run.
    pub company_failures: u64,
    /// Rules anchored on `collected` that no company datastore's table reaches (none records
    /// when its rows were collected, `collected_at`): nothing goes by them until one does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub collected_unreached: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<Entry>,
}

pub fn hold_of(h: &HoldRow) -> Hold {
    Hold {
        id: h.id.clone(),
        matter: h.matter.clone(),
        subject_ref: h.subject_ref.clone(),
        category: h.category.clone(),
        reason: h.reason.clone(),
    }
}

pub fn event_of(r: &LifecycleRow) -> Option<LifecycleEvent> {
    Some(LifecycleEvent {
        kind: LifecycleKind::parse(&r.kind)?,
        at: r.at,
        birth_date: None,
        under_minimum_age: r.under_minimum_age,
        country: r.country.clone(),
    })
}

pub(super) fn data_json(d: &Data) -> String {
    serde_json::to_string(d).unwrap_or_default()
}

/// Runs every rule once, pass after pass (see the module's notes). `progress` is told how
/// many subjects or requests each page covered.
pub async fn run(
    store: &Store,
    rules: &Retention,
    opts: &RunOptions,
    company: Option<&CompanyPurge>,
    mut progress: impl FnMut(u64),
) -> Result<Report, JobError> {
    let holds: Vec<Hold> = store.holds(false).await?.iter().map(hold_of).collect();
    // The company's datastores, opened once for a real run. If one cannot be opened, every
    // purge with data there stays due and is tried again on the next run.
    let opened = match company.filter(|_| !opts.dry_run) {
        Some(c) => Some(c.open(store).await.map_err(|e| {
            tracing::warn!(error = %e, "retention: the company's datastores cannot be opened; their purges stay due");
            e
        })),
        None => None,
    };
    let mut run = Run {
        store,
        rules,
        opts,
        holds,
        opened,
        company,
        report: Report {
            as_of: rfc3339(opts.as_of),
            dry_run: opts.dry_run,
            ..Default::default()
        },
    };
    paged(&mut run, &lifecycle::Lifecycle, &mut progress).await?;
    paged(&mut run, &consent::Consent, &mut progress).await?;
    let cutoff = request_cutoff(rules, opts.as_of);
    paged(&mut run, &requests::Requests { cutoff }, &mut progress).await?;
    paged(&mut run, &held::HeldRows, &mut progress).await?;
    collected::pass(&mut run).await?;
    if let Some(Ok(c)) = run.opened {
        c.expirer.close().await;
    }
    Ok(run.report)
}

/// Final requests at or before this time have their fields due by `as_of`.
fn request_cutoff(rules: &Retention, as_of: i64) -> i64 {
    // Calendar spans do not subtract exactly; step back a day at a time from a safe bound.
    let mut t = as_of - 3 * 366 * 86_400_000_000;
    while rules.request_fields_due(t + 86_400_000_000) <= as_of {
        t += 86_400_000_000;
    }
    while rules.request_fields_due(t + 1_000_000) <= as_of {
        t += 1_000_000;
    }
    t
}

pub(super) fn note(
    report: &mut Report,
    opts: &RunOptions,
    subject: &str,
    rule: &str,
    data: Data,
    due_since: i64,
    held: &[(String, String)],
) {
    report.due += 1;
    if !held.is_empty() {
        report.held += 1;
    }
    if opts.list {
        report.entries.push(Entry {
            subject_ref: subject.to_owned(),
            rule: rule.to_owned(),
            data,
            due_since: rfc3339(due_since),
            held: held
                .iter()
                .map(|(c, h)| HeldBy {
                    category: c.clone(),
                    hold: h.clone(),
                })
                .collect(),
        });
    }
}

/// Once a day (UTC), by one node: the scheduled run inside `serve`, the leased job `retention`,
/// next due at the start of the next UTC day.
pub async fn daily_once(state: &Context) -> Result<Option<Report>, JobError> {
    state
        .store
        .ensure_job(JOB, JOB, state.clock.now_micros())
        .await?;
    crate::background::run_leased(state, JOB, |now| async move {
        let report = daily_run(state, now).await?;
        Ok((report, (now / DAY + 1) * DAY))
    })
    .await
}

async fn daily_run(state: &Context, now: i64) -> Result<Report, JobError> {
    let company = company_purge(state);
    let report = run(
        &state.store,
        &state.retention.rules,
        &RunOptions {
            as_of: now,
            now,
            dry_run: false,
            list: false,
            pause_ratio: 1.0,
        },
        Some(&company),
        |_| {},
    )
    .await?;
    state.telemetry.add_counter(
        "custodian_retention_records_purged_total",
        report.records_purged,
    );
    tracing::info!(
        due = report.due,
        held = report.held,
        purged = report.records_purged,
        "retention run"
    );
    if !report.collected_unreached.is_empty() {
        tracing::warn!(rules = ?report.collected_unreached, "retention: rules anchored on `collected` that no datastore table reaches (add `collected_at` to the tables that hold their data)");
    }
    Ok(report)
}

/// The company datastores as `serve` reaches them.
pub fn company_purge(state: &Context) -> CompanyPurge {
    CompanyPurge {
        keyring: state.keyring.clone(),
        run_keys: state.run_keys.clone(),
        configured: state.datastores.clone(),
    }
}

/// How often `serve` checks whether today's run is done.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The scheduled round, errors logged (the loop in `background` only repeats it).
pub async fn scheduled(state: &Context) {
    if let Err(e) = daily_once(state).await {
        tracing::warn!(error = %e, "retention run failed");
    }
}
