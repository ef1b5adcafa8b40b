//! The retention job: applies every retention rule of the policy to Custodian's own store,
//! holds respected, each purge recorded with its rule. `serve` runs it daily
//! ([`daily_once`]); `custodian retention run` runs it on demand, with `--dry-run` to list
//! what would go by a date and why.
//!
//! It walks one table family at a time in pages of subjects ordered by reference, evaluates
//! each page with `custodian_core::retention`, and purges the page in one short transaction,
//! so memory stays bounded and no lock is held for long (decisions never touch the store).
//!
//! What goes from Custodian's own tables: consent state under `consent_withdrawn` rules, the
//! address and details of final requests (built-in rule `custodian.request_records`, mail
//! about them included), and a closed account's lifecycle events once its longest rule is
//! due. In the company's datastores, the fields a due rule held go by their `after_hold`
//! strategy ([`CompanyPurge`], through the connectors), found by the identifiers the subject's
//! lifecycle events came with — or, for rows an erasure kept under a hold, by the primary
//! keys the erasure recorded (`held_rows`), since the erased subject's identifiers are gone.

use std::collections::HashMap;

use custodian_core::clock::rfc3339;
use custodian_core::decide::{ConsentLookup, ConsentStatus};
use custodian_core::retention::{
    Hold, LifecycleEvent, LifecycleKind, MinimumAge, Minors, Retention, RetentionError,
    SubjectFacts, REQUEST_RECORDS_RULE,
};
use custodian_core::subject::SubjectRef;
use custodian_policy::Policy;
use custodian_store::keyring::{Keyring, KeyringError};
use custodian_store::retention::{HoldRow, LifecycleRow, Purge, PurgeAction};
use custodian_store::runs::DatastoreRecord;
use custodian_store::{Store, StoreError};
use serde::Serialize;

use crate::state::AppState;

/// Subjects per page: one transaction each.
pub const PAGE: i64 = 500;
/// The hold category that request records count as.
pub const REQUEST_CATEGORY: &str = "requests";
/// The leased job of the daily run (one node runs it per day; see `background::run_leased`).
pub const JOB: &str = "retention";
const DAY: i64 = 86_400_000_000;

/// Retention's part of the shared state.
pub struct RetentionState {
    pub rules: Retention,
    pub ages: MinimumAge,
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
            rules: Retention::compile(policy)?,
            ages: MinimumAge::from_policy(policy),
            minors,
        })
    }
}

/// Consent from memory plus the children flag, as `decide` needs them.
pub struct Lookup<'a>(pub &'a AppState);

impl ConsentLookup for Lookup<'_> {
    fn status(&self, subject: &SubjectRef, slot: usize) -> ConsentStatus {
        self.0.consents.status(subject, slot)
    }
    fn under_minimum_age(&self, subject: &SubjectRef) -> bool {
        self.0.retention.minors.contains(subject)
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
}

/// The pause after a page that took since `started` (see [`RunOptions::pause_ratio`]).
async fn pace(opts: &RunOptions, started: std::time::Instant) {
    if opts.pause_ratio > 0.0 {
        tokio::time::sleep(started.elapsed().mul_f64(opts.pause_ratio)).await;
    }
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<Entry>,
}

/// The company's datastores as the retention job reaches them: through the connectors, with
/// the subject's identifiers (kept sealed under its key by `POST /v1/subjects/events`).
pub struct CompanyPurge {
    pub keyring: Keyring,
    /// The connectors' run keys: the keyed hashes `hash` erasure writes, and the seal of the
    /// held rows' keys.
    pub run_keys: custodian_connectors::run::RunKeys,
    /// Datastores from the config file, besides the registered ones.
    pub configured: Vec<DatastoreRecord>,
}

/// What purging one subject's data under one rule did in the company's datastores.
enum CompanyOutcome {
    Changed(u64),
    /// No identifier is on record (events came before identifiers were kept, or the subject
    /// was erased): nothing can be matched.
    NoIdentifier,
}

/// [`CompanyPurge`] for one run: the datastores opened once.
struct OpenCompany<'a> {
    purge: &'a CompanyPurge,
    expirer: custodian_connectors::run::Expirer,
}

impl CompanyPurge {
    async fn open(&self, store: &Store) -> Result<OpenCompany<'_>, String> {
        Ok(OpenCompany {
            purge: self,
            expirer: custodian_connectors::run::Expirer::open(store, &self.configured)
                .await
                .map_err(|e| e.to_string())?,
        })
    }
}

impl OpenCompany<'_> {
    async fn expire(
        &self,
        store: &Store,
        subject_ref: &str,
        rule: &str,
    ) -> Result<CompanyOutcome, String> {
        let mut pairs = Vec::new();
        for (kind, sealed) in store
            .subject_identities(subject_ref)
            .await
            .map_err(|e| e.to_string())?
        {
            match self
                .purge
                .keyring
                .open(&format!("identities/{kind}"), &sealed)
                .await
            {
                Ok(value) => pairs.push((kind, value)),
                Err(KeyringError::Erased) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        if pairs.is_empty() {
            return Ok(CompanyOutcome::NoIdentifier);
        }
        let identities = custodian_connectors::run::identities(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let reports = self
            .expirer
            .expire(&identities, rule, self.purge.run_keys.hash_key())
            .await
            .map_err(|e| e.to_string())?;
        Ok(CompanyOutcome::Changed(
            reports.iter().map(|r| r.rows_changed()).sum(),
        ))
    }
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

fn data_json(d: &Data) -> String {
    serde_json::to_string(d).unwrap_or_default()
}

/// Runs every rule once. `progress` is told how many subjects each page covered.
pub async fn run(
    store: &Store,
    rules: &Retention,
    opts: &RunOptions,
    company: Option<&CompanyPurge>,
    mut progress: impl FnMut(u64),
) -> Result<Report, JobError> {
    let holds: Vec<Hold> = store.holds(false).await?.iter().map(hold_of).collect();
    let mut report = Report {
        as_of: rfc3339(opts.as_of),
        dry_run: opts.dry_run,
        ..Default::default()
    };
    let now = store.clock().now_micros();
    // The company's datastores, opened once for a real run. If one cannot be opened, every
    // purge with data there stays due and is tried again on the next run.
    let opened = match company.filter(|_| !opts.dry_run) {
        Some(c) => Some(c.open(store).await.map_err(|e| {
            tracing::warn!(error = %e, "retention: the company's datastores cannot be opened; their purges stay due");
            e
        })),
        None => None,
    };

    // Lifecycle: rules anchored on the account, activity and purchases.
    let mut after = String::new();
    loop {
        let started = std::time::Instant::now();
        let page = store.lifecycle_page(&after, PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        after = last.clone();
        let mut purges = Vec::new();
        for (subject, rows) in &page {
            let facts = SubjectFacts {
                subject_ref: subject.clone(),
                lifecycle: rows.iter().filter_map(event_of).collect(),
                consent: HashMap::new(),
            };
            let lifecycle_goes = rules.lifecycle_due(&facts).filter(|(rule, at)| {
                *at <= opts.as_of
                    && !holds
                        .iter()
                        .any(|h| h.covers(subject, rule) || h.covers(subject, "lifecycle"))
            });
            for due in rules.due(&facts, &holds, opts.as_of) {
                let goes_here = lifecycle_goes
                    .as_ref()
                    .is_some_and(|(rule, _)| *rule == due.rule)
                    && due.held.is_empty();
                let mut records = Vec::new();
                let mut company_failed = false;
                if !due.categories.is_empty() {
                    match &opened {
                        Some(Err(_)) => {
                            report.company_failures += 1;
                            company_failed = true;
                        }
                        Some(Ok(c))
                            if c.expirer.holds(&due.rule)
                                && due.held.is_empty()
                                && !store
                                    .purge_recorded(subject, &due.rule, due.due_since)
                                    .await? =>
                        {
                            match c.expire(store, subject, &due.rule).await {
                                Ok(CompanyOutcome::Changed(n)) => {
                                    report.company_rows_changed += n;
                                    records.push(format!("company datastores: {n} rows"));
                                }
                                Ok(CompanyOutcome::NoIdentifier) => records
                                    .push("company datastores: no identifier on record".to_owned()),
                                Err(e) => {
                                    // The message names datastores and tables, never people.
                                    tracing::warn!(rule = %due.rule, error = %e, "retention: a company datastore failed; the purge stays due");
                                    report.company_failures += 1;
                                    company_failed = true;
                                }
                            }
                        }
                        _ => records.push("company datastores".to_owned()),
                    }
                }
                if goes_here {
                    records.push("lifecycle events".to_owned());
                }
                let data = Data {
                    categories: due.categories.clone(),
                    records,
                };
                if !due.categories.is_empty() && !company_failed {
                    purges.push(Purge {
                        subject_ref: subject.clone(),
                        rule: due.rule.clone(),
                        data: data_json(&data),
                        due_since: due.due_since,
                        action: if goes_here {
                            PurgeAction::Lifecycle
                        } else {
                            PurgeAction::RecordOnly
                        },
                    });
                }
                note(
                    &mut report,
                    opts,
                    subject,
                    &due.rule,
                    data,
                    due.due_since,
                    &due.held,
                );
            }
        }
        report.subjects += page.len() as u64;
        progress(page.len() as u64);
        if !opts.dry_run && !purges.is_empty() {
            report.records_purged += store.apply_purges(&purges, now).await?;
        }
        pace(opts, started).await;
    }

    // Consent: state of withdrawn purposes under `consent_withdrawn` rules.
    let mut after = String::new();
    loop {
        let started = std::time::Instant::now();
        let page = store.consent_page(&after, PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        after = last.clone();
        let mut purges = Vec::new();
        for (subject, rows) in &page {
            if !rows.iter().any(|(_, given, _)| !given) {
                continue;
            }
            let facts = SubjectFacts {
                subject_ref: subject.clone(),
                lifecycle: Vec::new(),
                consent: rows
                    .iter()
                    .map(|(p, g, at)| (p.clone(), (*g, *at)))
                    .collect(),
            };
            for due in rules.due(&facts, &holds, opts.as_of) {
                let data = Data {
                    categories: due.categories.clone(),
                    records: due
                        .consent_purposes
                        .iter()
                        .map(|p| format!("consent state: {p}"))
                        .collect(),
                };
                if !due.consent_purposes.is_empty() {
                    purges.push(Purge {
                        subject_ref: subject.clone(),
                        rule: due.rule.clone(),
                        data: data_json(&data),
                        due_since: due.due_since,
                        action: PurgeAction::ConsentState {
                            purposes: due.consent_purposes.clone(),
                        },
                    });
                }
                note(
                    &mut report,
                    opts,
                    subject,
                    &due.rule,
                    data,
                    due.due_since,
                    &due.held,
                );
            }
        }
        report.subjects += page.len() as u64;
        progress(page.len() as u64);
        if !opts.dry_run && !purges.is_empty() {
            report.records_purged += store.apply_purges(&purges, now).await?;
        }
        pace(opts, started).await;
    }

    // Requests: the address and details of final requests, after the built-in period.
    let cutoff = request_cutoff(rules, opts.as_of);
    let mut after = String::new();
    loop {
        let started = std::time::Instant::now();
        let page = store.request_fields_due(cutoff, &after, PAGE).await?;
        let Some((last, ..)) = page.last() else { break };
        after = last.clone();
        let mut purges = Vec::new();
        for (id, subject, final_at) in &page {
            let due_since = rules.request_fields_due(*final_at);
            let held: Vec<(String, String)> = holds
                .iter()
                .find(|h| h.covers(subject, REQUEST_CATEGORY))
                .map(|h| vec![(REQUEST_CATEGORY.to_owned(), h.id.clone())])
                .unwrap_or_default();
            let data = Data {
                categories: if held.is_empty() {
                    vec![REQUEST_CATEGORY.to_owned()]
                } else {
                    Vec::new()
                },
                records: vec![format!("request {id}: address, details and mail")],
            };
            if held.is_empty() {
                purges.push(Purge {
                    subject_ref: subject.clone(),
                    rule: REQUEST_RECORDS_RULE.to_owned(),
                    data: data_json(&data),
                    due_since,
                    action: PurgeAction::RequestFields {
                        request_ids: vec![id.clone()],
                    },
                });
            }
            note(
                &mut report,
                opts,
                subject,
                REQUEST_RECORDS_RULE,
                data,
                due_since,
                &held,
            );
        }
        progress(page.len() as u64);
        if !opts.dry_run && !purges.is_empty() {
            report.records_purged += store.apply_purges(&purges, now).await?;
        }
        pace(opts, started).await;
    }
    held_rows(
        store,
        rules,
        opts,
        &holds,
        opened.as_ref(),
        now,
        &mut report,
    )
    .await?;
    if let Some(Ok(c)) = opened {
        c.expirer.close().await;
    }
    Ok(report)
}

/// Rows an erasure kept under a hold (recorded by the connectors in `held_rows`) whose hold
/// has ended: each goes by key, one transaction per record, and the purge is recorded with
/// the record marked done in one transaction of Custodian's store. A standing legal hold
/// over the rule's categories keeps them; a datastore that fails leaves them due for the
/// next run.
#[allow(clippy::too_many_arguments)]
async fn held_rows(
    store: &Store,
    rules: &Retention,
    opts: &RunOptions,
    holds: &[Hold],
    opened: Option<&Result<OpenCompany<'_>, String>>,
    now: i64,
    report: &mut Report,
) -> Result<(), JobError> {
    let mut after = String::new();
    loop {
        let started = std::time::Instant::now();
        let page = store.held_rows_due(opts.as_of, &after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        let mut purges = Vec::new();
        for held in &page {
            let categories = rules.categories(&held.rule);
            let kept: Vec<(String, String)> = categories
                .iter()
                .filter_map(|c| {
                    holds
                        .iter()
                        .find(|h| h.covers(&held.subject_ref, c))
                        .map(|h| (c.clone(), h.id.clone()))
                })
                .collect();
            let due_since = held.due_at.unwrap_or(opts.as_of);
            let mut data = Data {
                categories: if kept.is_empty() {
                    categories.to_vec()
                } else {
                    Vec::new()
                },
                records: vec![format!("company datastore {}: held rows", held.datastore)],
            };
            if kept.is_empty() {
                match opened {
                    Some(Ok(c)) => match c.expirer.expire_held(&c.purge.run_keys, held).await {
                        Ok(r) => {
                            let n = r.rows_changed();
                            report.company_rows_changed += n;
                            data.records = vec![format!(
                                "company datastore {}: {n} changes to held rows",
                                held.datastore
                            )];
                            purges.push(Purge {
                                subject_ref: held.subject_ref.clone(),
                                rule: held.rule.clone(),
                                data: data_json(&data),
                                due_since,
                                action: PurgeAction::HeldRows {
                                    ids: vec![held.id.clone()],
                                },
                            });
                        }
                        Err(e) => {
                            // The message names datastores and tables, never people.
                            tracing::warn!(rule = %held.rule, error = %e, "retention: held rows could not go; they stay due");
                            report.company_failures += 1;
                        }
                    },
                    Some(Err(_)) => report.company_failures += 1,
                    None => {}
                }
            }
            note(
                report,
                opts,
                &held.subject_ref,
                &held.rule,
                data,
                due_since,
                &kept,
            );
        }
        if !opts.dry_run && !purges.is_empty() {
            report.records_purged += store.apply_purges(&purges, now).await?;
        }
        pace(opts, started).await;
    }
    Ok(())
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

fn note(
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
pub async fn daily_once(state: &AppState) -> Result<Option<Report>, JobError> {
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

async fn daily_run(state: &AppState, now: i64) -> Result<Report, JobError> {
    let company = company_purge(state);
    let report = run(
        &state.store,
        &state.retention.rules,
        &RunOptions {
            as_of: now,
            dry_run: false,
            list: false,
            pause_ratio: 1.0,
        },
        Some(&company),
        |_| {},
    )
    .await?;
    state.metrics.add_counter(
        "custodian_retention_records_purged_total",
        report.records_purged,
    );
    tracing::info!(
        due = report.due,
        held = report.held,
        purged = report.records_purged,
        "retention run"
    );
    Ok(report)
}

/// The company datastores as `serve` reaches them.
pub fn company_purge(state: &AppState) -> CompanyPurge {
    CompanyPurge {
        keyring: state.keyring.clone(),
        run_keys: state.run_keys.clone(),
        configured: state.datastores.clone(),
    }
}

/// How often `serve` checks whether today's run is done.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The scheduled round, errors logged (the loop in `background` only repeats it).
pub async fn scheduled(state: &AppState) {
    if let Err(e) = daily_once(state).await {
        tracing::warn!(error = %e, "retention run failed");
    }
}
