//! The one paged loop every pass runs: read a page of its table family (ordered by key,
//! after the last key read), evaluate it, purge what is due in one short transaction, and
//! pause so a run inside `serve` leaves the CPU to the requests it serves. Memory stays
//! bounded and no lock is held for long.

use std::time::Instant;

use custodian_core::retention::{Hold, Retention};
use custodian_store::retention::Purge;
use custodian_store::{Store, StoreError};

use super::company::OpenCompany;
use super::{JobError, Report, RunOptions};

/// One run: what every pass reads, and the report they all add to.
pub(super) struct Run<'a> {
    pub store: &'a Store,
    pub rules: &'a Retention,
    pub opts: &'a RunOptions,
    /// The standing holds, read once at the start of the run.
    pub holds: Vec<Hold>,
    /// The company's datastores, opened once for a real run (`Err`: they could not be, and
    /// every purge with data there stays due).
    pub opened: Option<Result<OpenCompany<'a>, String>>,
    /// The company's datastores as given (the collected pass opens them for a dry run).
    pub company: Option<&'a super::CompanyPurge>,
    pub report: Report,
}

/// A pass over one table family.
pub(super) trait Pass {
    type Item;
    /// Whether a page's items are subjects, counted in the report.
    const SUBJECTS: bool;
    /// Whether a page's items count towards the CLI's progress bar.
    const PROGRESS: bool;

    /// Up to [`super::PAGE`] items whose key comes after `after`, in key order.
    async fn page(&self, run: &Run<'_>, after: &str) -> Result<Vec<Self::Item>, StoreError>;
    fn key(item: &Self::Item) -> &str;
    /// Notes what is due in the report; answers the purges to apply.
    async fn evaluate(
        &self,
        run: &mut Run<'_>,
        page: &[Self::Item],
    ) -> Result<Vec<Purge>, JobError>;
}

/// Runs `pass` over its whole table family. `progress` is told how many items each page had.
pub(super) async fn paged<P: Pass>(
    run: &mut Run<'_>,
    pass: &P,
    progress: &mut impl FnMut(u64),
) -> Result<(), JobError> {
    let mut after = String::new();
    loop {
        // A duration measured, not a time of day: `Instant` rather than the clock, since the
        // pause is about CPU, which a test clock does not move.
        let started = Instant::now();
        let page = pass.page(run, &after).await?;
        let Some(last) = page.last() else { break };
        after = P::key(last).to_owned();
        let purges = pass.evaluate(run, &page).await?;
        if P::SUBJECTS {
            run.report.subjects += page.len() as u64;
        }
        if P::PROGRESS {
            progress(page.len() as u64);
        }
        if !run.opts.dry_run && !purges.is_empty() {
            run.report.records_purged += run.store.apply_purges(&purges, run.opts.now).await?;
        }
        pace(run.opts, started).await;
    }
    Ok(())
}

/// The pause after a page that took since `started` (see [`RunOptions::pause_ratio`]).
async fn pace(opts: &RunOptions, started: Instant) {
    if opts.pause_ratio > 0.0 {
        tokio::time::sleep(started.elapsed().mul_f64(opts.pause_ratio)).await;
    }
}
