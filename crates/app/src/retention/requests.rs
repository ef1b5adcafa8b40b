//! The request pass: the address and details of final requests (and the mail about them),
//! after the built-in period of `custodian.request_records`, unless a hold keeps them.

use custodian_core::retention::REQUEST_RECORDS_RULE;
use custodian_store::retention::{Purge, PurgeAction};
use custodian_store::StoreError;

use super::paged::{Pass, Run};
use super::REQUEST_CATEGORY;
use super::{data_json, note, Data, JobError};

pub(super) struct Requests {
    /// Final requests at or before this time have their fields due.
    pub cutoff: i64,
}

impl Pass for Requests {
    type Item = (String, String, i64);
    const SUBJECTS: bool = false;
    const PROGRESS: bool = true;

    async fn page(&self, run: &Run<'_>, after: &str) -> Result<Vec<Self::Item>, StoreError> {
        run.store
            .request_fields_due(self.cutoff, after, super::PAGE)
            .await
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
        for (id, subject, final_at) in page {
            let due_since = run.rules.request_fields_due(*final_at);
            let held: Vec<(String, String)> = run
                .holds
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
                &mut run.report,
                run.opts,
                subject,
                REQUEST_RECORDS_RULE,
                data,
                due_since,
                &held,
            );
        }
        Ok(purges)
    }
}
