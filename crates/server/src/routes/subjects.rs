//! `POST /v1/subjects/events`: what happened to a subject that retention rules are anchored
//! on (account opened or closed, activity, purchases, a declared age). Contradictory events
//! are refused with the reason. A subject declared under the minimum age gets an erasure
//! request approved and carried out at once, due within the policy's `children.erase_within`,
//! and every decision about them is refused from then on. A device (an anonymous visit's
//! age gate) may only declare an age; only the flag is kept.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use custodian_app::lifecycle;
use custodian_core::clock::rfc3339;
use custodian_core::retention::{LifecycleEvent, LifecycleKind};
use custodian_core::token::Role;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::Json;
use crate::routes::decide::SubjectInput;
use crate::state::SharedState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"subject": {"user_id": "u-42"}, "event": "purchase", "at": "2026-01-05T09:00:00Z"}))]
pub struct NewEvent {
    /// `{"email"}` or `{"user_id"}`: a person the company knows; `{"device_id"}` only for
    /// `age_declared` (a site's age gate on an anonymous visit).
    pub subject: SubjectInput,
    /// `account_opened`, `account_closed`, `last_activity`, `purchase` or `age_declared`.
    pub event: String,
    /// When it happened (RFC 3339); not in the future.
    pub at: String,
    /// For `age_declared`: the date of birth (`YYYY-MM-DD`). Used to decide, never stored.
    pub birth_date: Option<String>,
    /// For `age_declared`: the company already knows whether the subject is under age.
    pub under_minimum_age: Option<bool>,
    /// For `age_declared`: ISO 3166-1 alpha-2; chooses the minimum age (`children.by_country`).
    pub country: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordedLifecycleEvent {
    /// The keyed reference the subject is known by in Custodian (use it for holds).
    pub subject_ref: String,
    pub event: String,
    pub at: String,
    /// For `age_declared`: whether the subject is under the minimum age.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub under_minimum_age: Option<bool>,
    /// For a child: the erasure request created for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erasure_request: Option<ErasureCreated>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErasureCreated {
    pub id: String,
    pub answer_due: String,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::unprocessable("invalid_event", detail)
}

/// Record a lifecycle event of a subject.
#[utoipa::path(post, path = "/v1/subjects/events", tag = "retention", request_body = NewEvent,
    security(("bearer" = [])),
    responses((status = 201, body = RecordedLifecycleEvent),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn record_event(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Json(req): Json<NewEvent>,
) -> Result<(StatusCode, axum::Json<RecordedLifecycleEvent>), ApiError> {
    crate::auth::authorize(&state, &headers, &[Role::Service]).await?;
    let id = req.subject.parse()?;
    let kind = LifecycleKind::parse(&req.event).ok_or_else(|| {
        invalid("`event` must be account_opened, account_closed, last_activity, purchase or age_declared")
    })?;
    let at: jiff::Timestamp = req
        .at
        .parse()
        .map_err(|_| invalid("`at` must be an RFC 3339 time such as 2026-01-31T12:00:00Z"))?;
    let birth_date = req
        .birth_date
        .as_deref()
        .map(|d| d.parse::<jiff::civil::Date>())
        .transpose()
        .map_err(|_| invalid("`birth_date` must be a date such as 2012-05-31"))?;
    let country = match req.country.as_deref().map(str::trim) {
        Some(c) if custodian_core::country::is_country(&c.to_ascii_uppercase()) => {
            Some(c.to_ascii_uppercase())
        }
        Some(_) => {
            return Err(ApiError::unprocessable(
                "unknown_country",
                "`country` must be an ISO 3166-1 alpha-2 code",
            ))
        }
        None => None,
    };
    let event = LifecycleEvent {
        kind,
        at: at.as_microsecond(),
        birth_date,
        under_minimum_age: req.under_minimum_age,
        country,
    };
    let out = lifecycle::record(&state, &id, event).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(RecordedLifecycleEvent {
            subject_ref: out.subject.to_hex(),
            event: kind.as_str().to_owned(),
            at: rfc3339(at.as_microsecond()),
            under_minimum_age: out.under_minimum_age,
            erasure_request: out.erasure_request.map(|r| ErasureCreated {
                id: r.id,
                answer_due: rfc3339(r.answer_due),
            }),
        }),
    ))
}
