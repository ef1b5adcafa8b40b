//! The overview: open requests by status and urgency, what is due this week and overdue,
//! consent per purpose, and three charts — requests received and completed per week, consent
//! given, refused and withdrawn per purpose per week, and how many days open requests have
//! left (all drawn by `charts.rs`, each with its table). The figures are counted by
//! `app::overview`; this module only words and draws them.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use custodian_app::overview::{self as figures, Overview, MARGINS};
use custodian_core::clock::timestamp;
use custodian_core::staff::StaffRole;
use minijinja::context;

use super::charts::{Chart, Series};
use super::text::{texts, Texts};
use super::{auth, field, render, Fields};
use crate::error::ApiError;
use crate::state::{AppState, SharedState};

fn day_label(micros: i64) -> String {
    timestamp(micros)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

fn series(name: &str, values: &[i64]) -> Series {
    Series {
        name: name.into(),
        values: values.to_vec(),
    }
}

/// The three kinds of chart, each with its table: requests per week, consent per purpose per
/// week (one chart each), and days left to the answer deadline.
fn charts(o: &Overview, t: &Texts) -> Vec<String> {
    let labels: Vec<String> = o.weeks.iter().map(|w| day_label(*w)).collect();
    let mut out = vec![Chart {
        id: "chart-requests",
        title: t.chart_requests,
        category_header: t.week_of,
        figures_label: t.figures,
        categories: labels.clone(),
        series: vec![
            series(t.received, &o.received),
            series(t.completed, &o.completed),
        ],
    }
    .render()];
    for (n, p) in o.consent.iter().enumerate() {
        let id = format!("chart-consent-{n}");
        let title = format!("{} — {}", t.chart_consent, p.purpose);
        out.push(
            Chart {
                id: &id,
                title: &title,
                category_header: t.week_of,
                figures_label: t.figures,
                categories: labels.clone(),
                series: vec![
                    series(t.given, &p.given),
                    series(t.refused, &p.refused),
                    series(t.withdrawn, &p.withdrawn),
                ],
            }
            .render(),
        );
    }
    out.push(
        Chart {
            id: "chart-margin",
            title: t.chart_margin,
            category_header: t.days_left,
            figures_label: t.figures,
            categories: MARGINS.iter().map(|(l, _, _)| (*l).to_owned()).collect(),
            series: vec![series(t.open_requests, &o.margins)],
        }
        .render(),
    );
    out
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

/// Everything the overview shows, counted by `app::overview`.
async fn build(state: &AppState, t: &Texts) -> Result<minijinja::Value, ApiError> {
    let o = figures::overview(state).await?;
    let statuses: Vec<_> = o
        .by_status
        .iter()
        .map(|(s, n)| context! { status => s.as_str(), count => n })
        .collect();
    let rates: Vec<_> = o
        .rates
        .iter()
        .map(|r| {
            let all = r.given + r.refused;
            let rate = if all > 0 {
                format!("{:.0} %", 100.0 * r.given as f64 / all as f64)
            } else {
                "–".into()
            };
            context! { purpose => r.purpose, given => r.given, refused => r.refused, rate => rate }
        })
        .collect();
    Ok(context! {
        open => o.open,
        overdue => o.overdue,
        due_soon => o.due_soon,
        on_time => o.on_time,
        this_week => o.this_week,
        statuses => statuses,
        rates => rates,
        charts => charts(&o, t),
        failed_runs => o.failed_runs,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn weeks_are_labelled_by_their_monday() {
        // 2026-01-01 is a Thursday; its week began on Monday 2025-12-29.
        let thursday = 1_767_225_600_000_000;
        let origin = custodian_app::overview::first_week(thursday);
        let last = origin + 11 * custodian_app::overview::WEEK_MICROS;
        assert_eq!(super::day_label(last), "2025-12-29");
    }
}
