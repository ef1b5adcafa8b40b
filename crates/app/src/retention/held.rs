//! The held-rows pass: rows an erasure kept under a hold (recorded by the connectors in
//! `held_rows`) whose hold has ended. Each goes by key, one transaction per record, and the
//! purge is recorded with the record marked done in one transaction of Custodian's store. A
//! standing legal hold over the rule's categories keeps them; a datastore that fails leaves
//! them due for the next run.

use super::paged::{Pass, Run};
use super::{data_json, note, Data, JobError};
use custodian_store::retention::{Purge, PurgeAction};
use custodian_store::StoreError;

pub(super) struct HeldRows;

impl Pass for HeldRows {
    type Item = custodian_store::runs::HeldRowsRecord;
    const SUBJECTS: bool = false;
    const PROGRESS: bool = false;

    async fn page(&self, run: &Run<'_>, after: &str) -> Result<Vec<Self::Item>, StoreError> {
        run.store
            .held_rows_due(run.opts.as_of, after, super::PAGE)
            .await
    }

    fn key(item: &Self::Item) -> &str {
        &item.id
    }

    async fn evaluate(
        &self,
        run: &mut Run<'_>,
        page: &[Self::Item],
    ) -> Result<Vec<Purge>, JobError> {
        let mut purges = Vec::new();
        for held in page {
            let categories = run.rules.categories(&held.rule);
            let kept: Vec<(String, String)> = categories
                .iter()
                .filter_map(|c| {
                    run.holds
                        .iter()
                        .find(|h| h.covers(&held.subject_ref, c))
                        .map(|h| (c.clone(), h.id.clone()))
                })
                .collect();
            let due_since = held.due_at.unwrap_or(run.opts.as_of);
            let mut data = Data {
                categories: if kept.is_empty() {
                    categories.to_vec()
                } else {
                    Vec::new()
                },
                records: vec![format!("company datastore {}: held rows", held.datastore)],
            };
            if kept.is_empty() {
                match &run.opened {
                    Some(Ok(c)) => match c.expirer.expire_held(&c.purge.run_keys, held).await {
                        Ok(r) => {
                            let n = r.rows_changed();
                            run.report.company_rows_changed += n;
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
                            run.report.company_failures += 1;
                        }
                    },
                    Some(Err(_)) => run.report.company_failures += 1,
                    None => {}
                }
            }
            note(
                &mut run.report,
                run.opts,
                &held.subject_ref,
                &held.rule,
                data,
                due_since,
                &kept,
            );
        }
        Ok(purges)
    }
}
