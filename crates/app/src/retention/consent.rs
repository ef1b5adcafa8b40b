//! The consent pass: the current state of withdrawn purposes under `consent_withdrawn` rules.

use super::paged::{Pass, Run};
use super::{data_json, note, Data, JobError};
use custodian_core::retention::SubjectFacts;
use custodian_store::retention::{Purge, PurgeAction};
use custodian_store::StoreError;

pub(super) struct Consent;

impl Pass for Consent {
    type Item = (String, Vec<(String, bool, i64)>);
    const SUBJECTS: bool = true;
    const PROGRESS: bool = true;

    async fn page(&self, run: &Run<'_>, after: &str) -> Result<Vec<Self::Item>, StoreError> {
        run.store.consent_page(after, super::PAGE).await
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
            for due in run.rules.due(&facts, &run.holds, run.opts.as_of) {
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
