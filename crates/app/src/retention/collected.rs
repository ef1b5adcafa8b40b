//! The collected pass: retention rules anchored on `collected` ("analytics events are kept for
//! 14 months") apply to each record by its own collection time, whoever it belongs to. For
//! each such rule the cutoff is computed once (`Retention::collected_cutoff`: nothing goes
//! before its time), and every company datastore with a table that records when its rows were
//! collected (`collected_at`, docs/datasets.md) lets the due rows go, page by page
//! (`custodian_connectors::collected`). Custodian's own store holds no data of these
//! categories.
//!
//! Holds: a matter-wide hold, or one on a category, keeps that category everywhere; a hold on
//! a subject keeps that subject's rows (found by the identifiers its lifecycle events came
//! with) — and, when none is on record, the whole rule waits, since those rows cannot be told
//! apart. A rule is listed in the report only when rows went (or, in a dry run, would go) or
//! a datastore failed, and a purge is recorded (under the subject `*`, every subject) only
//! when rows went; a rule no datastore's table can reach is named in `collected_unreached`.

use custodian_connectors::collected::DueRule;
use custodian_store::retention::{Purge, PurgeAction};

use super::paged::Run;
use super::{data_json, note, Data, JobError};

/// The subject a `collected` purge is recorded under: the records of every subject.
pub const EVERY_SUBJECT: &str = "*";

fn until(cutoff: i64) -> String {
    format!(
        "records collected on or before {}",
        custodian_core::clock::rfc3339(cutoff)
    )
}

pub(super) async fn pass(run: &mut Run<'_>) -> Result<(), JobError> {
    let rules: Vec<(String, Vec<String>)> = run
        .rules
        .collected_rules()
        .map(|(id, cats)| (id.to_owned(), cats.to_vec()))
        .collect();
    // A dry run opens the datastores for itself (the other passes never open them then).
    let dry_opened = match (&run.opened, run.company) {
        (None, Some(company)) if run.opts.dry_run && !rules.is_empty() => {
            Some(company.open(run.store).await)
        }
        _ => None,
    };
    for (rule, categories) in rules {
        let Some(cutoff) = run.rules.collected_cutoff(&rule, run.opts.as_of) else {
            continue;
        };
        // Holds without a subject keep a category everywhere.
        let mut held: Vec<(String, String)> = Vec::new();
        let mut kept = Vec::new();
        for c in &categories {
            match run
                .holds
                .iter()
                .find(|h| h.subject_ref.is_none() && h.category.as_deref().is_none_or(|hc| hc == c))
            {
                Some(h) => held.push((c.clone(), h.id.clone())),
                None => kept.push(c.clone()),
            }
        }
        let subject_holds: Vec<(String, String)> = run
            .holds
            .iter()
            .filter_map(|h| {
                let s = h.subject_ref.as_ref()?;
                kept.iter()
                    .any(|c| h.covers(s, c))
                    .then(|| (s.clone(), h.id.clone()))
            })
            .collect();
        let mut data = Data {
            categories: kept.clone(),
            records: Vec::new(),
        };
        if kept.is_empty() {
            // Held whole: listed, so the DPO sees what waits.
            data.records = vec![until(cutoff)];
            note(
                &mut run.report,
                run.opts,
                EVERY_SUBJECT,
                &rule,
                data,
                cutoff,
                &held,
            );
            continue;
        }
        let c = match run.opened.as_ref().or(dry_opened.as_ref()) {
            Some(Ok(c)) => c,
            Some(Err(_)) => {
                run.report.company_failures += 1;
                continue;
            }
            None => continue,
        };
        if c.expirer.collected_by(&rule, &kept).is_empty() {
            // No table records when these were collected: nothing can go by this rule.
            run.report.collected_unreached.push(rule.clone());
            continue;
        }
        // The rows of subjects under a hold stay; a held subject without identifiers holds
        // the whole rule (its rows cannot be told apart).
        let mut exclude = Vec::new();
        let mut unplaced = None;
        for (subject, hold) in &subject_holds {
            match c.identities(run.store, subject).await {
                Ok(Some(ids)) => exclude.push(ids),
                Ok(None) => unplaced = Some(hold.clone()),
                Err(e) => {
                    tracing::warn!(rule = %rule, error = %e, "retention: a held subject's identifiers cannot be read; the rule waits");
                    unplaced = Some(hold.clone());
                }
            }
        }
        if let Some(hold) = unplaced {
            held.extend(kept.iter().map(|c| (c.clone(), hold.clone())));
            data.categories.clear();
            data.records = vec![until(cutoff)];
            note(
                &mut run.report,
                run.opts,
                EVERY_SUBJECT,
                &rule,
                data,
                cutoff,
                &held,
            );
            continue;
        }
        let due = DueRule {
            rule: &rule,
            categories: &kept,
            cutoff,
        };
        let results = c
            .expirer
            .expire_collected(due, &exclude, c.purge.run_keys.hash_key(), run.opts.dry_run)
            .await;
        let mut total = 0;
        let mut failed = false;
        for (datastore, result) in results {
            match result {
                Ok(r) => {
                    let n = r.rows_changed();
                    total += n;
                    if n > 0 {
                        data.records
                            .push(format!("company datastore {datastore}: {n} rows"));
                    }
                }
                Err(e) => {
                    // The message names datastores and tables, never people.
                    tracing::warn!(rule = %rule, datastore = %datastore, error = %e, "retention: a company datastore failed; its records stay due");
                    run.report.company_failures += 1;
                    failed = true;
                    data.records.push(format!(
                        "company datastore {datastore}: failed, tried again on the next run"
                    ));
                }
            }
        }
        if total == 0 && !failed {
            // Nothing was (or would be) due: no entry, and no purge record.
            continue;
        }
        data.records.push(until(cutoff));
        if !run.opts.dry_run {
            run.report.company_rows_changed += total;
        }
        // Recorded only when something went.
        if total > 0 && !run.opts.dry_run {
            run.store
                .apply_purges(
                    &[Purge {
                        subject_ref: EVERY_SUBJECT.into(),
                        rule: rule.clone(),
                        data: data_json(&data),
                        due_since: cutoff,
                        action: PurgeAction::RecordOnly,
                    }],
                    run.opts.now,
                )
                .await?;
        }
        note(
            &mut run.report,
            run.opts,
            EVERY_SUBJECT,
            &rule,
            data,
            cutoff,
            &held,
        );
    }
    if let Some(Ok(c)) = dry_opened {
        c.expirer.close().await;
    }
    Ok(())
}
