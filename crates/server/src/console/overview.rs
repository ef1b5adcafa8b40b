//! The overview: open requests by status and urgency, what is due this week and overdue,
//! consent per purpose, and three charts — requests received and completed per week, consent
//! given, refused and withdrawn per purpose per week, and how many days open requests have
//! left (all drawn by `charts.rs`, each with its table).

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use custodian_core::clock::timestamp;
use custodian_core::deadline::Urgency;
use custodian_core::request::Status;
use custodian_core::run::RunStatus;
use custodian_core::staff::StaffRole;
use minijinja::context;

use super::charts::{Chart, Series};
use super::text::{texts, Texts};
use super::{auth, field, render, Fields};
use crate::error::ApiError;
use crate::state::{AppState, SharedState};

const WEEK: i64 = 7 * 86_400_000_000;
const DAY: i64 = 86_400_000_000;
/// Weeks the charts look back over.
pub const WEEKS: i64 = 12;
/// Open requests the overview reads at most (the queue pages through the rest).
const MOST_OPEN: i64 = 5_000;
/// The margin chart's buckets: `(label, lowest days left, highest)`.
const MARGINS: [(&str, i64, i64); 6] = [
    ("< 0", i64::MIN, -1),
    ("0–2", 0, 2),
    ("3–7", 3, 7),
    ("8–14", 8, 14),
    ("15–30", 15, 30),
    ("> 30", 31, i64::MAX),
];

/// The Monday (00:00 UTC) of the week `now` is in, `WEEKS - 1` weeks back.
fn first_week(now: i64) -> i64 {
    let days = now.div_euclid(DAY);
    // 1970-01-01 was a Thursday: Monday is three days later in the cycle.
    let monday = days - (days + 3).rem_euclid(7);
    monday * DAY - (WEEKS - 1) * WEEK
}

fn day_label(micros: i64) -> String {
    timestamp(micros)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

fn week_labels(origin: i64) -> Vec<String> {
    (0..WEEKS).map(|w| day_label(origin + w * WEEK)).collect()
}

async fn charts(state: &AppState, t: &Texts, now: i64) -> Result<Vec<String>, ApiError> {
    let origin = first_week(now);
    let labels = week_labels(origin);
    let mut received = vec![0; WEEKS as usize];
    let mut completed = vec![0; WEEKS as usize];
    for (w, r, c) in state.store.requests_per_week(origin).await? {
        if let Some(i) = usize::try_from(w).ok().filter(|i| *i < WEEKS as usize) {
            received[i] = r;
            completed[i] = c;
        }
    }
    let mut out = vec![Chart {
        id: "chart-requests",
        title: t.chart_requests,
        category_header: t.week_of,
        figures_label: t.figures,
        categories: labels.clone(),
        series: vec![
            Series {
                name: t.received.into(),
                values: received,
            },
            Series {
                name: t.completed.into(),
                values: completed,
            },
        ],
    }
    .render()];
    let mut per_purpose: BTreeMap<String, [Vec<i64>; 3]> = BTreeMap::new();
    for p in state.engine.consent_purposes() {
        per_purpose.insert(p.clone(), std::array::from_fn(|_| vec![0; WEEKS as usize]));
    }
    for c in state.store.consent_per_week(origin).await? {
        let (Some(v), Some(i)) = (
            per_purpose.get_mut(&c.purpose),
            usize::try_from(c.week).ok().filter(|i| *i < WEEKS as usize),
        ) else {
            continue;
        };
        v[0][i] += c.given;
        v[1][i] += c.refused;
        v[2][i] += c.withdrawn;
    }
    for (n, (purpose, [given, refused, withdrawn])) in per_purpose.into_iter().enumerate() {
        let id = format!("chart-consent-{n}");
        let title = format!("{} — {purpose}", t.chart_consent);
        out.push(
            Chart {
                id: &id,
                title: &title,
                category_header: t.week_of,
                figures_label: t.figures,
                categories: labels.clone(),
                series: vec![
                    Series {
                        name: t.given.into(),
                        values: given,
                    },
                    Series {
                        name: t.refused.into(),
                        values: refused,
                    },
                    Series {
                        name: t.withdrawn.into(),
                        values: withdrawn,
                    },
                ],
            }
            .render(),
        );
    }
    Ok(out)
}

/// The overview page.
#[utoipa::path(get, path = "/console/overview", tag = "console",
    responses((status = 200, description = "The overview with its charts", content_type = "text/html"), (status = 303, description = "Not signed in")))]
pub async fn show(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let staff = match auth::staff(&state, &headers, field(&q, "lang"), StaffRole::Viewer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match build(&state, texts(staff.lang)).await {
        Ok(vars) => {
            let html = render::page(
                Some(&staff),
                staff.lang,
                "overview.html",
                "/console/overview",
                texts(staff.lang).overview,
                vars,
            );
            render::respond(StatusCode::OK, html, Vec::new())
        }
        Err(e) => render::failure(&state, staff.lang, &e),
    }
}

/// Everything the overview shows.
async fn build(state: &AppState, t: &Texts) -> Result<minijinja::Value, ApiError> {
    let now = state.clock.now_micros();
    let open = state.store.open_requests(MOST_OPEN).await?;
    let mut by_status: BTreeMap<&str, i64> = BTreeMap::new();
    let (mut overdue, mut due_soon, mut on_time, mut this_week) = (0, 0, 0, 0);
    let mut margins = vec![0i64; MARGINS.len()];
    for r in &open {
        *by_status.entry(r.status.as_str()).or_default() += 1;
        match custodian_app::requests::views::urgency_at(state, r, now) {
            Some(Urgency::Overdue) => overdue += 1,
            Some(Urgency::DueSoon) => due_soon += 1,
            _ => on_time += 1,
        }
        let due = custodian_app::requests::due_of(state, r, now)
            .answer_due
            .as_microsecond();
        let left = (due - now).div_euclid(DAY);
        if (0..7).contains(&left) {
            this_week += 1;
        }
        if let Some(i) = MARGINS
            .iter()
            .position(|(_, lo, hi)| (*lo..=*hi).contains(&left))
        {
            margins[i] += 1;
        }
    }
    let statuses: Vec<_> = Status::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| context! { status => s.as_str(), count => by_status.get(s.as_str()).copied().unwrap_or(0) })
        .collect();
    let mut rates: BTreeMap<String, (i64, i64)> = state
        .engine
        .consent_purposes()
        .iter()
        .map(|p| (p.clone(), (0, 0)))
        .collect();
    for (purpose, given, n) in state.store.consent_state_counts().await? {
        if let Some(r) = rates.get_mut(&purpose) {
            if given {
                r.0 += n;
            } else {
                r.1 += n;
            }
        }
    }
    let rates: Vec<_> = rates
        .into_iter()
        .map(|(purpose, (g, r))| {
            let rate = if g + r > 0 {
                format!("{:.0} %", 100.0 * g as f64 / (g + r) as f64)
            } else {
                "–".into()
            };
            context! { purpose => purpose, given => g, refused => r, rate => rate }
        })
        .collect();
    let mut charts = charts(state, t, now).await?;
    charts.push(
        Chart {
            id: "chart-margin",
            title: t.chart_margin,
            category_header: t.days_left,
            figures_label: t.figures,
            categories: MARGINS.iter().map(|(l, _, _)| (*l).to_owned()).collect(),
            series: vec![Series {
                name: t.open_requests.into(),
                values: margins,
            }],
        }
        .render(),
    );
    let failed_runs = state.store.runs(Some(RunStatus::Failed), 100).await?.len();
    Ok(context! {
        open => open.len(),
        overdue => overdue,
        due_soon => due_soon,
        on_time => on_time,
        this_week => this_week,
        statuses => statuses,
        rates => rates,
        charts => charts,
        failed_runs => failed_runs,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn weeks_start_on_monday() {
        // 2026-01-01 is a Thursday; its week began on Monday 2025-12-29.
        let thursday = 1_767_225_600_000_000;
        let origin = super::first_week(thursday);
        assert_eq!(
            super::day_label(origin + (super::WEEKS - 1) * super::WEEK),
            "2025-12-29"
        );
    }
}
