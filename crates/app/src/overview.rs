//! The figures of the console's overview, read from the store and counted here so the HTTP
//! edge only draws them: open requests by status and urgency, what is due this week and
//! overdue, the current consent per purpose, requests received and completed per week, consent
//! given, refused and withdrawn per purpose per week, how many days open requests have left,
//! and failed datastore runs.
//!
//! A refusal counts as *withdrawn* when the subject's previous event for the purpose gave
//! consent (GDPR Art. 7(3): withdrawing must be as easy as giving); other refusals count as
//! *refused*. Weeks start on Monday 00:00 UTC.

use std::collections::BTreeMap;

use custodian_core::deadline::Urgency;
use custodian_core::request::Status;
use custodian_core::run::RunStatus;
use custodian_store::requests::RequestRow;

use crate::context::Context;
use crate::error::AppError;
use crate::requests;

pub const WEEK_MICROS: i64 = 7 * DAY_MICROS;
const DAY_MICROS: i64 = 86_400_000_000;
/// Weeks the weekly figures look back over (the current week is the last).
pub const WEEKS: usize = 12;
/// Open requests the overview reads at most (the queue pages through the rest).
pub const MOST_OPEN: i64 = 5_000;
/// Failed runs counted at most.
const MOST_FAILED_RUNS: i64 = 100;
/// The margin chart's buckets: `(label, fewest whole days left, most)`.
pub const MARGINS: [(&str, i64, i64); 6] = [
    ("< 0", i64::MIN, -1),
    ("0–2", 0, 2),
    ("3–7", 3, 7),
    ("8–14", 8, 14),
    ("15–30", 15, 30),
    ("> 30", 31, i64::MAX),
];

/// One purpose's current choices: subjects whose latest choice gave or refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub purpose: String,
    pub given: i64,
    pub refused: i64,
}

/// One consent purpose's choices per week, oldest week first ([`WEEKS`] values each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurposeWeeks {
    pub purpose: String,
    pub given: Vec<i64>,
    pub refused: Vec<i64>,
    pub withdrawn: Vec<i64>,
}

/// Everything the overview shows.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Open requests read (at most [`MOST_OPEN`]).
    pub open: usize,
    pub overdue: i64,
    pub due_soon: i64,
    pub on_time: i64,
    /// Open requests whose answer is due within the next 7 days.
    pub this_week: i64,
    /// Every open status with its count, in the state machine's order.
    pub by_status: Vec<(Status, i64)>,
    /// Every consent purpose of the policy, by name.
    pub rates: Vec<Rate>,
    /// The Monday (00:00 UTC) each week of the weekly figures begins, oldest first.
    pub weeks: Vec<i64>,
    pub received: Vec<i64>,
    pub completed: Vec<i64>,
    /// Every consent purpose of the policy, by name.
    pub consent: Vec<PurposeWeeks>,
    /// Open requests per bucket of [`MARGINS`].
    pub margins: Vec<i64>,
    /// Datastore runs that failed (at most 100 counted).
    pub failed_runs: usize,
}

/// The Monday (00:00 UTC) of the week `now` is in, `WEEKS - 1` weeks back.
pub fn first_week(now: i64) -> i64 {
    let days = now.div_euclid(DAY_MICROS);
    // 1970-01-01 was a Thursday: Monday is three days later in the cycle.
    let monday = days - (days + 3).rem_euclid(7);
    monday * DAY_MICROS - (WEEKS as i64 - 1) * WEEK_MICROS
}

fn week_index(week: i64) -> Option<usize> {
    usize::try_from(week).ok().filter(|i| *i < WEEKS)
}

/// Reads and counts the overview's figures at the context's "now".
pub async fn overview(ctx: &Context) -> Result<Overview, AppError> {
    let now = ctx.clock.now_micros();
    let origin = first_week(now);
    let open = ctx.store.open_requests(MOST_OPEN).await?;
    let mut o = Overview {
        open: open.len(),
        overdue: 0,
        due_soon: 0,
        on_time: 0,
        this_week: 0,
        by_status: Vec::new(),
        rates: rates(ctx).await?,
        weeks: (0..WEEKS as i64)
            .map(|w| origin + w * WEEK_MICROS)
            .collect(),
        received: vec![0; WEEKS],
        completed: vec![0; WEEKS],
        consent: consent_weeks(ctx, origin).await?,
        margins: vec![0; MARGINS.len()],
        failed_runs: 0,
    };
    count_open(ctx, &open, now, &mut o);
    for (w, received, completed) in ctx.store.requests_per_week(origin).await? {
        if let Some(i) = week_index(w) {
            o.received[i] = received;
            o.completed[i] = completed;
        }
    }
    o.failed_runs = ctx
        .store
        .runs(Some(RunStatus::Failed), MOST_FAILED_RUNS)
        .await?
        .len();
    Ok(o)
}

/// Open requests by status, by urgency, due within 7 days, and by days left.
fn count_open(ctx: &Context, open: &[RequestRow], now: i64, o: &mut Overview) {
    let mut by_status: BTreeMap<&str, i64> = BTreeMap::new();
    for r in open {
        *by_status.entry(r.status.as_str()).or_default() += 1;
        match requests::views::urgency_at(ctx, r, now) {
            Some(Urgency::Overdue) => o.overdue += 1,
            Some(Urgency::DueSoon) => o.due_soon += 1,
            _ => o.on_time += 1,
        }
        let due = requests::due_of(ctx, r, now).answer_due.as_microsecond();
        let left = (due - now).div_euclid(DAY_MICROS);
        if (0..7).contains(&left) {
            o.this_week += 1;
        }
        if let Some(i) = MARGINS
            .iter()
            .position(|(_, lo, hi)| (*lo..=*hi).contains(&left))
        {
            o.margins[i] += 1;
        }
    }
    o.by_status = Status::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| (*s, by_status.get(s.as_str()).copied().unwrap_or(0)))
        .collect();
}

/// Subjects whose current choice gives or refuses each consent purpose of the policy.
async fn rates(ctx: &Context) -> Result<Vec<Rate>, AppError> {
    let mut rates: BTreeMap<String, (i64, i64)> = ctx
        .engine
        .consent_purposes()
        .iter()
        .map(|p| (p.clone(), (0, 0)))
        .collect();
    for (purpose, given, n) in ctx.store.consent_state_counts().await? {
        if let Some(r) = rates.get_mut(&purpose) {
            if given {
                r.0 += n;
            } else {
                r.1 += n;
            }
        }
    }
    Ok(rates
        .into_iter()
        .map(|(purpose, (given, refused))| Rate {
            purpose,
            given,
            refused,
        })
        .collect())
}

/// Each consent purpose of the policy with its choices per week since `origin`.
async fn consent_weeks(ctx: &Context, origin: i64) -> Result<Vec<PurposeWeeks>, AppError> {
    let mut per_purpose: BTreeMap<String, PurposeWeeks> = ctx
        .engine
        .consent_purposes()
        .iter()
        .map(|p| {
            let weeks = PurposeWeeks {
                purpose: p.clone(),
                given: vec![0; WEEKS],
                refused: vec![0; WEEKS],
                withdrawn: vec![0; WEEKS],
            };
            (p.clone(), weeks)
        })
        .collect();
    for c in ctx.store.consent_per_week(origin).await? {
        let (Some(p), Some(i)) = (per_purpose.get_mut(&c.purpose), week_index(c.week)) else {
            continue;
        };
        p.given[i] += c.given;
        p.refused[i] += c.refused;
        p.withdrawn[i] += c.withdrawn;
    }
    Ok(per_purpose.into_values().collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn weeks_start_on_monday() {
        // 2026-01-01 is a Thursday; its week began on Monday 2025-12-29.
        let thursday = 1_767_225_600_000_000;
        let monday = 1_766_966_400_000_000;
        let last = super::first_week(thursday) + (super::WEEKS as i64 - 1) * super::WEEK_MICROS;
        assert_eq!(last, monday);
        assert_eq!(super::first_week(monday), super::first_week(thursday));
    }
}
