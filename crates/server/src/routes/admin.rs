//! The DPO's queue of data-subject requests: list with filters, one request with its whole
//! history, actions, and the same export the requester downloads. Every route needs a DPO
//! (or admin) token, and every action is written to the request's history.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use custodian_core::clock::rfc3339;
use custodian_core::deadline::Urgency;
use custodian_core::request::Action;
use custodian_core::token::Role;
use custodian_store::requests::RequestRow;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::LateQuery;
use crate::state::{AppState, SharedState};
use custodian_app::requests::{self, views, ActionBody};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `true`: only open requests past their answer deadline; `false` or empty: no filter.
    pub overdue: Option<String>,
    /// The rule a request is counted by (`gdpr`, `uk_gdpr`, `ccpa` …).
    pub jurisdiction: Option<String>,
    /// Who it is assigned to; empty: no filter.
    pub assignee: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub jurisdiction: String,
    pub country: Option<String>,
    pub customer: Option<String>,
    pub received_at: String,
    pub verified_at: Option<String>,
    /// The deadlines as `custodian deadline` computes them (docs/deadlines.md), as of now:
    /// the local date of receipt in the jurisdiction's zone, each due instant (RFC 3339, the
    /// end of a local day where the period is in days or months) and its local date.
    pub received_date: String,
    pub acknowledge_due: String,
    pub acknowledge_due_date: String,
    pub answer_due: String,
    pub answer_due_date: String,
    /// The answer's due date with the whole extension the jurisdiction allows.
    pub latest_answer_due_date: String,
    /// `on_time`, `due_soon` or `overdue` (open requests only).
    pub urgency: Option<String>,
    pub extended_months: i64,
    pub extended_days: i64,
    /// While the DPO has stopped the clock: since when, and why (`awaiting_identity`,
    /// `awaiting_clarification`).
    pub paused_since: Option<String>,
    pub pause_reason: Option<String>,
    pub assignee: Option<String>,
    pub completed_at: Option<String>,
}

pub fn summary(state: &AppState, r: &RequestRow) -> Summary {
    let due = views::deadlines(state, r);
    Summary {
        urgency: views::urgency_of(&state.app, r).map(|u| {
            match u {
                Urgency::OnTime => "on_time",
                Urgency::DueSoon => "due_soon",
                Urgency::Overdue => "overdue",
            }
            .to_owned()
        }),
        id: r.id.clone(),
        kind: r.kind.as_str().to_owned(),
        status: r.status.as_str().to_owned(),
        jurisdiction: r.jurisdiction.clone(),
        country: r.country.clone(),
        customer: r.customer_id.clone(),
        received_at: rfc3339(r.received_at),
        verified_at: r.verified_at.map(rfc3339),
        received_date: due.received_date.to_string(),
        acknowledge_due: due.acknowledge_due.to_string(),
        acknowledge_due_date: due.acknowledge_due_date.to_string(),
        answer_due: due.answer_due.to_string(),
        answer_due_date: due.answer_due_date.to_string(),
        latest_answer_due_date: due.latest_answer_due_date.to_string(),
        extended_months: r.extended_months,
        extended_days: r.extended_days,
        paused_since: r.paused_since.map(rfc3339),
        pause_reason: r.pause_reason.clone(),
        assignee: r.assignee.clone(),
        completed_at: r.completed_at.map(rfc3339),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Queue {
    pub requests: Vec<Summary>,
}

/// The queue, most urgent first.
#[utoipa::path(get, path = "/v1/admin/requests", tag = "requests", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Queue), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 422, description = "An unknown status, type or jurisdiction", body = crate::error::Problem)))]
pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    query: LateQuery,
) -> Result<axum::Json<Queue>, ApiError> {
    crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let q: ListQuery = query.parse()?;
    // An empty parameter (`?status=&type=&overdue=`, as a form sends it) filters nothing.
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let (status, kind) = (given(q.status), given(q.kind));
    let overdue = match given(q.overdue).as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_overdue",
                "`overdue` is true or false",
            ))
        }
    };
    let rows = views::queue(
        &state,
        views::QueueQuery {
            status,
            kind,
            overdue,
            jurisdiction: given(q.jurisdiction),
            assignee: given(q.assignee),
            limit: q.limit.unwrap_or(100),
            offset: q.offset.unwrap_or(0),
        },
    )
    .await?;
    Ok(axum::Json(Queue {
        requests: rows.iter().map(|r| summary(&state, r)).collect(),
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Detail {
    #[serde(flatten)]
    pub summary: Summary,
    /// The requester's address, for the DPO to write to (absent once erased).
    pub email: Option<String>,
    pub details: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<serde_json::Value>,
    /// Mail sent about this request.
    #[schema(value_type = Vec<Object>)]
    pub notices: Vec<serde_json::Value>,
}

async fn detail(state: &AppState, row: RequestRow) -> Result<Detail, ApiError> {
    let d = views::detail(state, row).await?;
    Ok(Detail {
        summary: summary(state, &d.row),
        email: d.email,
        details: d.details,
        history: d
            .history
            .iter()
            .map(|(h, note)| serde_json::json!({ "at": rfc3339(h.at), "actor": h.actor, "action": h.action, "from": h.from_status, "to": h.to_status,
                "detail": note }))
            .collect(),
        notices: d
            .mails
            .iter()
            .map(|m| serde_json::json!({ "template": m.template, "language": m.lang, "status": m.status, "queued_at": rfc3339(m.created_at), "sent_at": m.sent_at.map(rfc3339) }))
            .collect(),
    })
}

/// One request with its whole history.
#[utoipa::path(get, path = "/v1/admin/requests/{id}", tag = "requests", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Detail), (status = 404, body = crate::error::Problem)))]
pub async fn show(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<axum::Json<Detail>, ApiError> {
    crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let row = requests::load(&state, &id).await?;
    Ok(axum::Json(detail(&state, row).await?))
}

/// `approve`, `deny` (reason), `extend` (reason; months or days, within the first period),
/// `pause` (pause_reason: `awaiting_identity` or `awaiting_clarification`, where the
/// jurisdiction stops the clock), `resume`, `assign` (to), `note` (text), `lift` (reason, at:
/// a restriction's lift, told to the requester first, GDPR Art. 18(3)) or `complete`.
/// Reasons for deny, extend and lift are sent to the requester.
#[utoipa::path(post, path = "/v1/admin/requests/{id}/{action}", tag = "requests", security(("bearer" = [])),
    params(("id" = String, Path), ("action" = String, Path, description = "approve, deny, extend, pause, resume, assign, note, lift or complete")),
    request_body = ActionBody,
    responses((status = 200, body = Detail), (status = 404, description = "No such request, or no such action", body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn act(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    crate::extract::Body(body): crate::extract::Body,
) -> Result<axum::Json<Detail>, ApiError> {
    let caller = crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let action = Action::parse_admin(&action).ok_or_else(|| ApiError::NotFound)?;
    // An empty body is fine for actions that take nothing (approve, complete).
    let body: ActionBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::unprocessable(
                "invalid_body",
                format!("the body does not match the expected shape: {e}"),
            )
        })?
    };
    let row = requests::act(&state, &id, action, &body, &caller.token_id).await?;
    Ok(axum::Json(detail(&state, row).await?))
}

/// The same archive the requester downloads.
#[utoipa::path(get, path = "/v1/admin/requests/{id}/export", tag = "requests", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>), (status = 404, body = crate::error::Problem)))]
pub async fn export(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let caller = crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let archive = requests::export::archive_for_dpo(&state, &id, &caller.token_id).await?;
    Ok(crate::routes::requests::zip_response(archive, &id))
}
