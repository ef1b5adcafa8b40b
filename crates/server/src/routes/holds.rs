//! Legal holds over HTTP, for the DPO: the bodies and answers of `custodian_app::holds`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use custodian_app::holds::{self, HoldSubject};
use custodian_core::clock::rfc3339;
use custodian_core::token::Role;
use custodian_store::retention::HoldRow;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Json, LateQuery};
use crate::routes::decide::SubjectInput;
use crate::state::SharedState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"matter": "case-2026-01", "category": "payment", "reason": "Litigation hold"}))]
pub struct NewHold {
    /// The subject held, by identifier (`{"email"}` or `{"user_id"}`)…
    pub subject: Option<SubjectInput>,
    /// …or by the reference Custodian answered with.
    pub subject_ref: Option<String>,
    /// A data category of the policy, or `requests` / `lifecycle` for Custodian's own records.
    pub category: Option<String>,
    /// The matter the hold belongs to; alone, it freezes every purge.
    pub matter: Option<String>,
    /// Why the data must be kept (shown to the DPO; required).
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoldOut {
    pub id: String,
    /// `subject`, `category` or `matter`.
    pub scope: String,
    pub matter: Option<String>,
    pub subject_ref: Option<String>,
    pub category: Option<String>,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lift_reason: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoldList {
    pub holds: Vec<HoldOut>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `true`: lifted holds too.
    pub all: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LiftQuery {
    /// Why the hold ends (kept with it).
    pub reason: Option<String>,
}

fn out(h: &HoldRow) -> HoldOut {
    HoldOut {
        scope: custodian_app::retention::hold_of(h).scope().to_owned(),
        id: h.id.clone(),
        matter: h.matter.clone(),
        subject_ref: h.subject_ref.clone(),
        category: h.category.clone(),
        reason: h.reason.clone(),
        placed_by: h.placed_by.clone(),
        placed_at: rfc3339(h.placed_at),
        lifted_at: h.lifted_at.map(rfc3339),
        lift_reason: h.lift_reason.clone(),
    }
}

/// Place a legal hold.
#[utoipa::path(post, path = "/v1/admin/holds", tag = "retention", request_body = NewHold,
    security(("bearer" = [])),
    responses((status = 201, body = HoldOut), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn place(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Json(req): Json<NewHold>,
) -> Result<(StatusCode, axum::Json<HoldOut>), ApiError> {
    let caller = crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let given_ref = req.subject_ref.as_deref().filter(|r| !r.trim().is_empty());
    let subject = match (&req.subject, given_ref) {
        (Some(_), Some(_)) => HoldSubject::Both,
        (Some(s), None) => HoldSubject::Identified(state.hasher.reference(&s.parse()?)),
        (None, Some(r)) => HoldSubject::Reference(r),
        (None, None) => HoldSubject::None,
    };
    let new = holds::NewHold {
        subject,
        category: req.category.as_deref(),
        matter: req.matter.as_deref(),
        reason: &req.reason,
    };
    let row = holds::place(&state, new, &caller.token_id).await?;
    Ok((StatusCode::CREATED, axum::Json(out(&row))))
}

/// The standing holds (all with `?all=true`), oldest first, with their reasons.
#[utoipa::path(get, path = "/v1/admin/holds", tag = "retention", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = HoldList), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    query: LateQuery,
) -> Result<axum::Json<HoldList>, ApiError> {
    crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let q: ListQuery = query.parse()?;
    let all = holds::list(&state, q.all.unwrap_or(false)).await?;
    Ok(axum::Json(HoldList {
        holds: all.iter().map(out).collect(),
    }))
}

/// Lift a hold: what it kept is due again at the next retention run.
#[utoipa::path(delete, path = "/v1/admin/holds/{id}", tag = "retention", params(LiftQuery),
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn lift(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: LateQuery,
) -> Result<StatusCode, ApiError> {
    let caller = crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let q: LiftQuery = query.parse()?;
    holds::lift(&state, &id, &caller.token_id, q.reason.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
