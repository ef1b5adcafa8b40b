//! The request queue (`/console/requests`: filters and paging) and one request's page
//! (`/console/requests/{id}`: timeline, deadlines, runs and their steps, the export, and every
//! action as a form posting to `/console/requests/{id}/{action}`). Actions call
//! `app::requests::act`, the same use case as `POST /v1/admin/requests/{id}/{action}`; `retry`
//! is the admin API's `complete` on a request whose datastore run failed, which runs the
//! failed run again.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use custodian_app::requests::{self, views, ActionBody};
use custodian_core::clock::rfc3339;
use custodian_core::deadline::Urgency;
use custodian_core::request::{Action, Kind, Status};
use custodian_core::run::RunStatus;
use custodian_core::staff::StaffRole;
use custodian_store::requests::RequestRow;
use minijinja::{context, Value};

use super::audit::console_audit;
use super::auth::{self, Staff};
use super::text::texts;
use super::{field, render, Fields};
use crate::error::ApiError;
use crate::state::{AppState, SharedState};

/// Requests per page of the queue.
pub const PAGE: i64 = 50;

fn when(state: &AppState, micros: i64) -> String {
    requests::human_time(state, micros)
}

fn urgency(state: &AppState, r: &RequestRow) -> &'static str {
    match views::urgency_of(state, r) {
        Some(Urgency::Overdue) => "overdue",
        Some(Urgency::DueSoon) => "due_soon",
        Some(Urgency::OnTime) => "on_time",
        None => "",
    }
}

/// One row of the queue, as the template shows it.
pub fn row(state: &AppState, r: &RequestRow) -> Value {
    let due = views::deadlines(state, r);
    context! {
        id => r.id,
        kind => r.kind.as_str(),
        status => r.status.as_str(),
        jurisdiction => r.jurisdiction,
        received => when(state, r.received_at),
        due => due.answer_due_date.to_string(),
        urgency => urgency(state, r),
        assignee => r.assignee,
    }
}

/// The queue's filters as the page's query carries them.
fn query(q: &Fields) -> views::QueueQuery {
    let page = field(q, "page")
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .max(1);
    views::QueueQuery {
        status: field(q, "status").map(str::to_owned),
        kind: field(q, "type").map(str::to_owned),
        overdue: field(q, "overdue").is_some(),
        jurisdiction: field(q, "jurisdiction").map(str::to_owned),
        assignee: field(q, "assignee").map(str::to_owned),
        limit: PAGE,
        offset: (page - 1) * PAGE,
    }
}

/// The query string of the filters without the page, for the paging links.
fn filter_query(q: &Fields) -> String {
    q.iter()
        .filter(|(k, v)| k != "page" && k != "lang" && !v.trim().is_empty())
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Renders the queue (also what the benchmark times: `bench/console.sh`).
pub async fn queue_html(state: &AppState, staff: &Staff, q: &Fields) -> Result<String, ApiError> {
    let qq = query(q);
    let offset = qq.offset;
    let (rows, total) = views::queue_page(state, qq).await?;
    let page = offset / PAGE + 1;
    let filters = filter_query(q);
    let link = |p: i64| {
        if filters.is_empty() {
            format!("/console/requests?page={p}")
        } else {
            format!("/console/requests?{filters}&page={p}")
        }
    };
    let t = texts(staff.lang);
    let range = t
        .page_of
        .replace(
            "{from}",
            &(if total == 0 { 0 } else { offset + 1 }).to_string(),
        )
        .replace("{to}", &(offset + rows.len() as i64).to_string())
        .replace("{total}", &total.to_string());
    let mut jurisdictions = vec!["default".to_owned()];
    jurisdictions.extend(
        state
            .policy
            .deadlines
            .jurisdictions
            .iter()
            .map(|j| j.id.clone()),
    );
    let vars = context! {
        rows => rows.iter().map(|r| row(state, r)).collect::<Vec<_>>(),
        range => range,
        prev => (page > 1).then(|| link(page - 1)),
        next => (offset + PAGE < total).then(|| link(page + 1)),
        f => context! {
            status => field(q, "status"),
            kind => field(q, "type"),
            jurisdiction => field(q, "jurisdiction"),
            assignee => field(q, "assignee"),
            overdue => field(q, "overdue").is_some(),
        },
        statuses => Status::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        kinds => Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        jurisdictions => jurisdictions,
    };
    render::page(
        Some(staff),
        staff.lang,
        "requests.html",
        "/console/requests",
        t.requests,
        vars,
    )
    .map_err(|e| ApiError::Internal(format!("console template: {e:#}")))
}

/// The queue.
#[utoipa::path(get, path = "/console/requests", tag = "console",
    params(("status" = Option<String>, Query), ("type" = Option<String>, Query), ("jurisdiction" = Option<String>, Query),
        ("overdue" = Option<String>, Query), ("assignee" = Option<String>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "The queue", content_type = "text/html"), (status = 303, description = "Not signed in")))]
pub async fn queue(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let staff = match auth::staff(&state, &headers, field(&q, "lang"), StaffRole::Viewer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match queue_html(&state, &staff, &q).await {
        Ok(html) => render::respond(StatusCode::OK, Ok(html), Vec::new()),
        Err(e) => render::failure(&state, staff.lang, &e),
    }
}

/// What the request page shows: the request, its deadlines, history, mail, runs with steps.
async fn detail_vars(state: &AppState, row: RequestRow) -> Result<Value, ApiError> {
    let due = views::deadlines(state, &row);
    let runs = custodian_app::console::request_runs(state, &row.id).await?;
    let mut run_views = Vec::new();
    let mut failed = false;
    for (run, steps) in &runs {
        failed |= run.status == RunStatus::Failed;
        run_views.push(context! {
            id => run.id,
            kind => run.kind.as_str(),
            status => run.status.as_str(),
            created => when(state, run.created_at),
            steps => steps.iter().map(|s| context! {
                seq => s.seq,
                datastore => s.datastore,
                status => s.status.as_str(),
                attempts => s.attempts,
                error => s.last_error,
            }).collect::<Vec<_>>(),
        });
    }
    let (months_left, days_left) = requests::extension_left(state, &row);
    // Only the reasons the request's rule stops the clock for (UK GDPR s.45; GDPR: none).
    let rule = requests::rule_of(state, &row);
    let mut pause_reasons = Vec::new();
    if rule.stop_clock_for_identity {
        pause_reasons.push("awaiting_identity");
    }
    if rule.stop_clock_for_clarification {
        pause_reasons.push("awaiting_clarification");
    }
    let open = row.status.is_open();
    let d = views::detail(state, row).await?;
    let r = &d.row;
    let history: Vec<Value> = d
        .history
        .iter()
        .map(|(h, note)| {
            context! {
                at => when(state, h.at),
                iso => rfc3339(h.at),
                actor => h.actor,
                action => h.action,
                from => h.from_status.map(|s| s.as_str()),
                to => h.to_status.as_str(),
                note => note,
            }
        })
        .collect();
    let mails: Vec<Value> = d
        .mails
        .iter()
        .map(|m| context! { template => m.template, status => m.status, at => when(state, m.created_at) })
        .collect();
    let allowed = |a: Action| custodian_core::request::next(r.status, a).is_ok();
    Ok(context! {
        r => row_vars(state, r),
        email => d.email,
        details => d.details,
        acknowledge => due.acknowledge_due_date.to_string(),
        answer => due.answer_due_date.to_string(),
        latest => due.latest_answer_due_date.to_string(),
        paused => r.paused_since.map(|p| when(state, p)),
        pause_reason => r.pause_reason,
        history => history,
        mails => mails,
        runs => run_views,
        export => r.kind == Kind::Access && r.status == Status::Completed,
        can => context! {
            approve => allowed(Action::Approve),
            deny => allowed(Action::Deny),
            extend => allowed(Action::Extend) && (months_left > 0 || days_left > 0),
            months_left => months_left,
            days_left => days_left,
            pause => open && r.paused_since.is_none() && allowed(Action::Pause) && !pause_reasons.is_empty(),
            pause_reasons => pause_reasons,
            resume => r.paused_since.is_some(),
            assign => allowed(Action::Assign),
            note => allowed(Action::Note),
            complete => allowed(Action::Complete) && !failed,
            retry => failed && allowed(Action::Complete),
        },
    })
}

fn row_vars(state: &AppState, r: &RequestRow) -> Value {
    row(state, r)
}

async fn detail_page(
    state: &AppState,
    staff: &Staff,
    id: &str,
    status: StatusCode,
    problem: Option<String>,
    done: Option<&str>,
) -> Response {
    let row = match requests::load(state, id).await {
        Ok(r) => r,
        Err(e) => return render::failure(state, staff.lang, &e.into()),
    };
    let vars = match detail_vars(state, row).await {
        Ok(v) => v,
        Err(e) => return render::failure(state, staff.lang, &e),
    };
    let title = format!("{} {id}", texts(staff.lang).request);
    let here = format!("/console/requests/{id}");
    let vars = context! { problem => problem, done => done, csrf => staff.csrf.clone(), may_act => staff.role().allows(StaffRole::Dpo), ..vars };
    let html = render::page(Some(staff), staff.lang, "request.html", &here, &title, vars);
    render::respond(status, html, Vec::new())
}

/// One request.
#[utoipa::path(get, path = "/console/requests/{id}", tag = "console", params(("id" = String, Path)),
    responses((status = 200, description = "The request page", content_type = "text/html"), (status = 404, description = "No such request", content_type = "text/html")))]
pub async fn show(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Fields>,
) -> Response {
    let staff = match auth::staff(&state, &headers, field(&q, "lang"), StaffRole::Viewer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    detail_page(&state, &staff, &id, StatusCode::OK, None, field(&q, "done")).await
}

/// The form's fields as the admin API's action body.
fn body_of(fields: &Fields) -> ActionBody {
    let text = |k: &str| field(fields, k).map(str::to_owned);
    let number = |k: &str| field(fields, k).and_then(|v| v.trim().parse::<i64>().ok());
    let corrections: std::collections::BTreeMap<String, String> = fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("correction.")?.to_owned(), v.clone())))
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    ActionBody {
        reason: text("reason"),
        months: number("months"),
        days: number("days"),
        pause_reason: text("pause_reason"),
        to: text("to"),
        text: text("text"),
        at: text("at"),
        corrections: (!corrections.is_empty()).then_some(corrections),
    }
}

/// An action on a request, from its form.
#[utoipa::path(post, path = "/console/requests/{id}/{action}", tag = "console",
    params(("id" = String, Path), ("action" = String, Path, description = "approve, deny, extend, pause, resume, assign, note, complete or retry")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf` and the action's fields: `reason`, `months`, `days`, `pause_reason`, `to`, `text`, `correction.TABLE.FIELD`"),
    responses((status = 303, description = "Done; back to the request"),
        (status = 403, description = "The CSRF or origin check failed, or the role may not act", content_type = "text/html"),
        (status = 409, description = "Not allowed in the request's state", content_type = "text/html"),
        (status = 422, description = "A field is missing or wrong", content_type = "text/html")))]
pub async fn act(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    form: Result<Form<Fields>, axum::extract::rejection::FormRejection>,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let staff = match auth::posted(&state, &headers, &fields, StaffRole::Dpo).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let parsed = if action == "retry" {
        Some(Action::Complete)
    } else {
        Action::parse_admin(&action)
    };
    let Some(parsed) = parsed else {
        return render::failure(&state, staff.lang, &ApiError::NotFound);
    };
    match requests::act(&state, &id, parsed, &body_of(&fields), staff.id()).await {
        Ok(_) => {
            console_audit(&state, staff.id(), &format!("request_{action}"), &id);
            render::see_other(&format!("/console/requests/{id}?done={action}"), Vec::new())
        }
        Err(e) => {
            let e: ApiError = e.into();
            if matches!(e, ApiError::Internal(_) | ApiError::NotFound) {
                return render::failure(&state, staff.lang, &e);
            }
            console_audit(
                &state,
                staff.id(),
                &format!("request_{action}_refused"),
                &id,
            );
            detail_page(&state, &staff, &id, e.status(), Some(e.to_string()), None).await
        }
    }
}

/// The export of an access request, as the requester downloads it.
#[utoipa::path(get, path = "/console/requests/{id}/export", tag = "console", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>), (status = 404, description = "No such request")))]
pub async fn export(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let staff = match auth::staff(&state, &headers, None, StaffRole::Dpo).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Recorded in the audit trail by the use case (`request.exported`, the user as actor).
    match requests::export::archive_for_dpo(&state, &id, staff.id()).await {
        Ok(archive) => crate::routes::requests::zip_response(archive, &id).into_response(),
        Err(e) => render::failure(&state, staff.lang, &e.into()),
    }
}
