//! The lifecycle pass: rules anchored on the account, activity and purchases. What a due rule
//! held goes from the company's datastores (by the subject's identifiers) and, once the
//! account's longest rule is due, its lifecycle events from Custodian's store.

use std::collections::HashMap;

use custodian_core::retention::{Due, SubjectFacts};
use custodian_store::retention::{LifecycleRow, Purge, PurgeAction};
use custodian_store::StoreError;

use super::company::CompanyOutcome;
use super::event_of;
use super::paged::{Pass, Run};
use super::{data_json, note, Data, JobError};

pub(super) struct Lifecycle;

impl Pass for Lifecycle {
    type Item = (String, Vec<LifecycleRow>);
    const SUBJECTS: bool = true;
    const PROGRESS: bool = true;

    async fn page(&self, run: &Run<'_>, after: &str) -> Result<Vec<Self::Item>, StoreError> {
        run.store.lifecycle_page(after, super::PAGE).await
    }

    fn key(item: &Self::Item) -> &str {
        &item.0
    }

    async fn evaluate(
        &self,
        run: &mut Run<'_>,
        page: &[Self::Item],
    ) -> Result<Vec<Purge>, JobError> {
        let mut purges = Vec::new();
        for (subject, rows) in page {
            let facts = SubjectFacts {
                subject_ref: subject.clone(),
                lifecycle: rows.iter().filter_map(event_of).collect(),
                consent: HashMap::new(),
            };
            let lifecycle_goes = run.rules.lifecycle_due(&facts).filter(|(rule, at)| {
                *at <= run.opts.as_of
                    && !run
                        .holds
                        .iter()
                        .any(|h| h.covers(subject, rule) || h.covers(subject, "lifecycle"))
            });
            for due in run.rules.due(&facts, &run.holds, run.opts.as_of) {
                let goes_here = lifecycle_goes
                    .as_ref()
                    .is_some_and(|(rule, _)| *rule == due.rule)
                    && due.held.is_empty();
                let (mut records, company_failed, changed) = if due.categories.is_empty() {
                    (Vec::new(), false, 0)
                } else {
                    company_part(run, subject, &due).await?
                };
                if goes_here {
                    records.push("lifecycle events".to_owned());
                }
                let data = Data {
                    categories: due.categories.clone(),
                    records,
                };
                // A purge is recorded only when something went: rows in the company's
                // datastores, or the lifecycle events here. A rule with nothing to act on
                // (no datastore holds its fields) is listed as due, and records nothing.
                if !due.categories.is_empty() && !company_failed && (goes_here || changed > 0) {
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
                    &mut run.report,
                    run.opts,
                    subject,
                    &due.rule,
                    data,
                    due.due_since,
                    &due.held,
                );
            }
        }
        Ok(purges)
    }
}

/// What a due rule's purge does in the company's datastores: the records it names, whether
/// a datastore failed (the purge then stays due for the next run), and how many rows changed.
async fn company_part(
    run: &mut Run<'_>,
    subject: &str,
    due: &Due,
) -> Result<(Vec<String>, bool, u64), JobError> {
    let mut records = Vec::new();
    let mut company_failed = false;
    let mut changed = 0;
    match &run.opened {
        Some(Err(_)) => {
            run.report.company_failures += 1;
            company_failed = true;
        }
        Some(Ok(c))
            if c.expirer.holds(&due.rule)
                && due.held.is_empty()
                && !run
                    .store
                    .purge_recorded(subject, &due.rule, due.due_since)
                    .await? =>
        {
            match c.expire(run.store, subject, &due.rule).await {
                Ok(CompanyOutcome::Changed(n)) => {
                    run.report.company_rows_changed += n;
                    changed = n;
                    records.push(format!("company datastores: {n} rows"));
                }
                Ok(CompanyOutcome::NoIdentifier) => {
                    records.push("company datastores: no identifier on record".to_owned())
                }
                Err(e) => {
                    // The message names datastores and tables, never people.
                    tracing::warn!(rule = %due.rule, error = %e, "retention: a company datastore failed; the purge stays due");
                    run.report.company_failures += 1;
                    company_failed = true;
                }
            }
        }
        _ => records.push("company datastores".to_owned()),
    }
    Ok((records, company_failed, changed))
}
