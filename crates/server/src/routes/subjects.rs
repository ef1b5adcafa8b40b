//! `POST /v1/subjects/events`: what happened to a subject that retention rules are anchored
//! on (account opened or closed, activity, purchases, a declared age). Contradictory events
//! are refused with the reason. A subject declared under the minimum age gets an erasure
//! request at once, due within the policy's `children.erase_within`, and every decision about
//! them is refused from then on.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use custodian_core::clock::rfc3339;
use custodian_core::request::{Kind, Status};
use custodian_core::retention::{check_event, EventError, LifecycleEvent, LifecycleKind};
use custodian_core::subject::{IdKind, SubjectId, SubjectRef};
use custodian_core::token::Role;
use custodian_store::requests::{HistoryEntry, RequestRow};
use custodian_store::retention::{LifecycleRow, MinorRow};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::Json;
use crate::recording::random_id;
use crate::retention_job::event_of;
use crate::routes::decide::SubjectInput;
use crate::state::{AppState, SharedState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// `{"email"}` or `{"user_id"}`: a person the company knows, not a device.
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
pub struct RecordedEvent {
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
    responses((status = 201, body = RecordedEvent),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn record_event(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Json(req): Json<NewEvent>,
) -> Result<(StatusCode, axum::Json<RecordedEvent>), ApiError> {
    state
        .tokens
        .authorize(&state.store, &headers, &[Role::Service])
        .await?;
    let id = req.subject.parse()?;
    if id.kind() == IdKind::DeviceId {
        return Err(ApiError::unprocessable(
            "invalid_subject",
            "lifecycle events are about people: give `email` or `user_id`",
        ));
    }
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
        country: country.clone(),
    };
    let subject = state.hasher.reference(&id);
    let hex = subject.to_hex();
    let history: Vec<LifecycleEvent> = state
        .store
        .lifecycle_events(&hex)
        .await?
        .iter()
        .filter_map(event_of)
        .collect();
    let now = state.clock.now_micros();
    check_event(&history, &event, now, &state.retention.ages).map_err(|e| match e {
        EventError::AlreadyClosed | EventError::AlreadyOpen | EventError::CloseNeverOpened => {
            ApiError::Conflict {
                code: "contradictory_event",
                detail: e.to_string(),
            }
        }
        other => invalid(other.to_string()),
    })?;
    let child =
        (kind == LifecycleKind::AgeDeclared).then(|| state.retention.ages.declares_child(&event));
    // Only the conclusion is kept: a birth date is more than retention needs.
    state
        .store
        .insert_lifecycle_event(&LifecycleRow {
            subject_ref: hex.clone(),
            kind: kind.as_str().to_owned(),
            at: event.at,
            under_minimum_age: child,
            country,
            recorded_at: now,
        })
        .await?;
    // The identifier, sealed under the subject's key: the retention job needs it to find the
    // subject in the company's datastores when a rule falls due, years from now.
    let kind_name = id.kind().as_str();
    let sealed = state
        .keyring
        .seal(&subject, &format!("identities/{kind_name}"), id.expose())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    state
        .store
        .put_subject_identity(&hex, kind_name, &sealed, now)
        .await?;
    let erasure_request = match child {
        Some(true) => protect_child(&state, subject, &id, &event).await?,
        _ => None,
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(RecordedEvent {
            subject_ref: hex,
            event: kind.as_str().to_owned(),
            at: rfc3339(event.at),
            under_minimum_age: child,
            erasure_request,
        }),
    ))
}

/// A child: refuse every decision from now on, and open a priority erasure request (once).
async fn protect_child(
    state: &AppState,
    subject: SubjectRef,
    id: &SubjectId,
    event: &LifecycleEvent,
) -> Result<Option<ErasureCreated>, ApiError> {
    state.retention.minors.insert(subject);
    let hex = subject.to_hex();
    let fresh = state
        .store
        .insert_minor(&MinorRow {
            subject_ref: hex.clone(),
            declared_at: event.at,
            country: event.country.clone(),
            request_id: None,
        })
        .await?;
    if !fresh {
        return Ok(None);
    }
    let row = create_system_erasure(
        state,
        subject,
        id,
        event.country.as_deref(),
        "the subject was declared under the minimum age",
    )
    .await?;
    state.store.set_minor_request(&hex, &row.id).await?;
    tracing::info!(request = %row.id, "erasure request opened for a subject under the minimum age");
    Ok(Some(ErasureCreated {
        id: row.id,
        answer_due: rfc3339(row.answer_due),
    }))
}

/// An erasure request opened by Custodian itself: the company's service vouched for the
/// subject, so it starts verified, in the DPO's queue, due within `children.erase_within`.
pub async fn create_system_erasure(
    state: &AppState,
    subject: SubjectRef,
    id: &SubjectId,
    country: Option<&str>,
    reason: &str,
) -> Result<RequestRow, ApiError> {
    let now = state.clock.now_micros();
    let within = custodian_policy::parse_duration(&state.policy.children.erase_within)
        .map_err(ApiError::Internal)?;
    let due = custodian_core::retention::add_span(now, within);
    let rid = random_id("req");
    let rule = custodian_core::deadline::rule_for(&state.policy, country);
    let email_sealed = match id.kind() {
        IdKind::Email => state
            .sealer
            .seal(id.expose(), &format!("requests/{rid}/email")),
        _ => String::new(),
    };
    let row = RequestRow {
        id: rid.clone(),
        kind: Kind::Erasure,
        status: Status::Verified,
        subject_ref: subject.to_hex(),
        email_sealed,
        details_sealed: None,
        language: crate::routes::consent::pick_language(state, None),
        country: country.map(str::to_owned),
        jurisdiction: rule.jurisdiction.clone(),
        customer_id: None,
        received_at: now,
        verified_at: Some(now),
        code_hash: None,
        code_expires_at: None,
        attempts: 0,
        acknowledge_due: now,
        answer_due: due,
        extended_months: 0,
        assignee: None,
        completed_at: None,
        updated_at: now,
    };
    let first = HistoryEntry {
        at: now,
        actor: "system".into(),
        action: "receive".into(),
        from_status: None,
        to_status: row.status,
        detail_sealed: Some(
            state
                .sealer
                .seal(reason, &format!("requests/{rid}/history")),
        ),
    };
    state.store.insert_request(&row, &first, None).await?;
    Ok(row)
}
