//! Legal holds, for the DPO: place one on a subject, a data category or a whole matter (a
//! litigation, an incident, a regulator's order), list them with their reasons, lift them.
//! While a hold stands the retention job purges nothing it covers; once lifted, what it kept
//! is due again at the next run.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use custodian_core::clock::rfc3339;
use custodian_core::token::Role;
use custodian_store::retention::HoldRow;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::Json;
use crate::recording::random_id;
use crate::routes::decide::SubjectInput;
use crate::state::SharedState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `true`: lifted holds too.
    pub all: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LiftQuery {
    /// Why the hold ends (kept with it).
    pub reason: Option<String>,
}

fn out(h: &HoldRow) -> HoldOut {
    HoldOut {
        scope: crate::retention_job::hold_of(h).scope().to_owned(),
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

fn text(v: Option<&str>, max: usize) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(max).collect())
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
    let caller = state
        .tokens
        .authorize(&state.store, &headers, &[Role::Dpo])
        .await?;
    let invalid = |d: &str| ApiError::unprocessable("invalid_hold", d);
    let reason = text(Some(&req.reason), 2000).ok_or_else(|| invalid("`reason` is required"))?;
    let subject_ref = match (&req.subject, text(req.subject_ref.as_deref(), 64)) {
        (Some(_), Some(_)) => return Err(invalid("give `subject` or `subject_ref`, not both")),
        (Some(s), None) => Some(state.hasher.reference(&s.parse()?).to_hex()),
        (None, Some(r)) => Some(
            custodian_core::subject::SubjectRef::from_hex(&r)
                .ok_or_else(|| invalid("`subject_ref` is 64 hex digits, as Custodian answers it"))?
                .to_hex(),
        ),
        (None, None) => None,
    };
    let category = text(req.category.as_deref(), 100);
    if let Some(c) = &category {
        let known = state.policy.categories.iter().any(|k| &k.id == c)
            || c == crate::retention_job::REQUEST_CATEGORY
            || c == "lifecycle";
        if !known {
            return Err(invalid(&format!(
                "unknown category `{c}`; give a category of the policy, `requests` or `lifecycle`"
            )));
        }
    }
    let matter = text(req.matter.as_deref(), 200);
    if subject_ref.is_none() && category.is_none() && matter.is_none() {
        return Err(invalid(
            "a hold needs a `subject`, a `category` or a `matter` (a matter alone holds everything)",
        ));
    }
    let row = HoldRow {
        id: random_id("hold"),
        matter,
        subject_ref,
        category,
        reason,
        placed_by: caller.token_id.to_string(),
        placed_at: state.clock.now_micros(),
        lifted_at: None,
        lifted_by: None,
        lift_reason: None,
    };
    state.store.insert_hold(&row).await?;
    tracing::info!(hold = %row.id, "legal hold placed");
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
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<HoldList>, ApiError> {
    state
        .tokens
        .authorize(&state.store, &headers, &[Role::Dpo])
        .await?;
    let holds = state.store.holds(q.all.unwrap_or(false)).await?;
    Ok(axum::Json(HoldList {
        holds: holds.iter().map(out).collect(),
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
    Query(q): Query<LiftQuery>,
) -> Result<StatusCode, ApiError> {
    let caller = state
        .tokens
        .authorize(&state.store, &headers, &[Role::Dpo])
        .await?;
    let reason = text(q.reason.as_deref(), 2000);
    if !state
        .store
        .lift_hold(
            &id,
            &caller.token_id,
            reason.as_deref(),
            state.clock.now_micros(),
        )
        .await?
    {
        return Err(ApiError::NotFound);
    }
    tracing::info!(hold = %id, "legal hold lifted");
    Ok(StatusCode::NO_CONTENT)
}
