//! Personal-data breaches over HTTP, for the DPO (GDPR Art. 33/34): the bodies and answers of
//! `custodian_app::incidents`. Times are RFC 3339; every step is in the audit trail.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use custodian_app::incidents::{self, Assessment, Audience, AuthorityNotice, NewIncident, Texts};
use custodian_app::people::Named;
use custodian_core::clock::rfc3339;
use custodian_core::token::Role;
use custodian_store::incidents::IncidentRow;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Json, LateQuery};
use crate::state::{AppState, SharedState};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Laptop stolen", "became_aware_at": "2026-01-05T09:00:00Z", "description": "An unencrypted laptop with support tickets.", "categories": ["support_contact"], "subjects_estimate": 40, "risk": "risk"}))]
pub struct NewIncidentBody {
    pub title: String,
    /// When the company became aware of the breach (RFC 3339): the 72 hours start here.
    pub became_aware_at: String,
    pub description: String,
    /// The policy's data categories concerned.
    pub categories: Vec<String>,
    /// The policy's kinds of data subject concerned (optional).
    #[serde(default)]
    pub subject_kinds: Vec<String>,
    /// About how many people.
    pub subjects_estimate: i64,
    /// About how many records (optional).
    pub records_estimate: Option<i64>,
    /// `unlikely`, `risk` or `high_risk`.
    pub risk: String,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessBody {
    pub risk: Option<String>,
    /// The likely consequences (Art. 33(3)(c)).
    pub consequences: Option<String>,
    /// The measures taken or proposed (Art. 33(3)(d)).
    pub measures: Option<String>,
    pub description: Option<String>,
    pub categories: Option<Vec<String>>,
    pub subject_kinds: Option<Vec<String>>,
    pub subjects_estimate: Option<i64>,
    pub records_estimate: Option<i64>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorityNotifiedBody {
    /// When the authority was told (RFC 3339; default now).
    pub notified_at: Option<String>,
    /// Which supervisory authority.
    pub authority: Option<String>,
    /// The authority's reference for the case.
    pub reference: Option<String>,
    /// Required when told more than 72 hours after `became_aware_at` (Art. 33(1)).
    pub late_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    pub note: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeTexts {
    pub nature: Option<String>,
    pub consequences: Option<String>,
    pub measures: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifySubjectsBody {
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub user_ids: Vec<String>,
    /// A registered SQL datastore, with `query`: one read-only select statement returning a column
    /// `email` and/or `user_id`.
    pub datastore: Option<String>,
    pub query: Option<String>,
    /// The language for people whose own is not on record.
    pub language: Option<String>,
    /// The notice's words per language, where they should not be the incident's own.
    #[serde(default)]
    pub texts: BTreeMap<String, NoticeTexts>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IncidentOut {
    pub id: String,
    pub title: String,
    pub description: String,
    pub categories: Vec<String>,
    pub subject_kinds: Vec<String>,
    pub subjects_estimate: i64,
    pub records_estimate: Option<i64>,
    pub risk: String,
    /// `open`, `assessed`, `authority_notified` or `closed`.
    pub status: String,
    pub became_aware_at: String,
    /// `became_aware_at` + 72 hours exactly.
    pub authority_due: String,
    /// Past `authority_due`, neither notified nor closed.
    pub overdue: bool,
    pub reported_by: String,
    pub created_at: String,
    pub consequences: Option<String>,
    pub measures: Option<String>,
    pub assessed_at: Option<String>,
    pub authority: Option<String>,
    pub authority_reference: Option<String>,
    pub authority_notified_at: Option<String>,
    pub late_reason: Option<String>,
    /// How many people were told (never who).
    pub subjects_notified: i64,
    pub subjects_unreachable: i64,
    pub subjects_notified_at: Option<String>,
    pub closed_at: Option<String>,
    pub closing_note: Option<String>,
}

fn out(state: &AppState, r: IncidentRow) -> IncidentOut {
    IncidentOut {
        overdue: incidents::overdue(state, &r),
        status: r.status.as_str().to_owned(),
        risk: r.risk.as_str().to_owned(),
        became_aware_at: rfc3339(r.became_aware_at),
        authority_due: rfc3339(r.authority_due),
        created_at: rfc3339(r.created_at),
        assessed_at: r.assessed_at.map(rfc3339),
        authority_notified_at: r.authority_notified_at.map(rfc3339),
        subjects_notified_at: r.subjects_notified_at.map(rfc3339),
        closed_at: r.closed_at.map(rfc3339),
        id: r.id,
        title: r.title,
        description: r.description,
        categories: r.categories,
        subject_kinds: r.subject_kinds,
        subjects_estimate: r.subjects_estimate,
        records_estimate: r.records_estimate,
        reported_by: r.reported_by,
        consequences: r.consequences,
        measures: r.measures,
        authority: r.authority,
        authority_reference: r.authority_reference,
        late_reason: r.late_reason,
        subjects_notified: r.subjects_notified,
        subjects_unreachable: r.subjects_unreachable,
        closing_note: r.closing_note,
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IncidentList {
    pub incidents: Vec<IncidentOut>,
    /// How many of them are overdue.
    pub overdue: usize,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `true`: only incidents not closed.
    pub open: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `json` (default) or `markdown` (also chosen by `Accept: text/markdown`).
    pub format: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotifiedOut {
    pub incident: IncidentOut,
    /// Mails queued now, one per person.
    pub queued: u64,
    /// People told by an earlier call (nothing queued again).
    pub already_notified: u64,
    /// People named without an e-mail address on record.
    pub unreachable: u64,
}

fn time(v: &str, name: &str) -> Result<i64, ApiError> {
    v.trim()
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_microsecond())
        .map_err(|_| {
            ApiError::unprocessable(
                "invalid_time",
                format!("`{name}` must be an RFC 3339 time such as 2026-01-31T12:00:00Z"),
            )
        })
}

/// A body that may be empty (then every field takes its default).
fn optional_body<T: Default + serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::unprocessable(
            "invalid_body",
            format!("the body does not match the expected shape: {e}"),
        )
    })
}

/// Report a breach: `authority_due` is `became_aware_at` + 72 hours.
#[utoipa::path(post, path = "/v1/admin/incidents", tag = "accountability", request_body = NewIncidentBody,
    security(("bearer" = [])),
    responses((status = 201, body = IncidentOut), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Json(b): Json<NewIncidentBody>,
) -> Result<(StatusCode, axum::Json<IncidentOut>), ApiError> {
    let caller = crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let new = NewIncident {
        became_aware_at: time(&b.became_aware_at, "became_aware_at")?,
        title: b.title,
        description: b.description,
        categories: b.categories,
        subject_kinds: b.subject_kinds,
        subjects_estimate: b.subjects_estimate,
        records_estimate: b.records_estimate,
        risk: b.risk,
    };
    let row = incidents::report(&state, new, &caller.token_id).await?;
    Ok((StatusCode::CREATED, axum::Json(out(&state, row))))
}

/// Incidents, the earliest due first (`?open=true`: those not closed).
#[utoipa::path(get, path = "/v1/admin/incidents", tag = "accountability", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = IncidentList), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    query: LateQuery,
) -> Result<axum::Json<IncidentList>, ApiError> {
    crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let q: ListQuery = query.parse()?;
    let rows = incidents::list(&state, q.open.unwrap_or(false)).await?;
    let all: Vec<IncidentOut> = rows.into_iter().map(|r| out(&state, r)).collect();
    Ok(axum::Json(IncidentList {
        overdue: all.iter().filter(|i| i.overdue).count(),
        incidents: all,
    }))
}

/// One incident.
#[utoipa::path(get, path = "/v1/admin/incidents/{id}", tag = "accountability", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = IncidentOut), (status = 404, body = crate::error::Problem)))]
pub async fn show(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<axum::Json<IncidentOut>, ApiError> {
    crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    Ok(axum::Json(out(&state, incidents::get(&state, &id).await?)))
}

/// Assess (or revise the assessment): risk, likely consequences, measures, estimates.
#[utoipa::path(post, path = "/v1/admin/incidents/{id}/assess", tag = "accountability", params(("id" = String, Path)),
    request_body = AssessBody, security(("bearer" = [])),
    responses((status = 200, body = IncidentOut), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn assess(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    crate::extract::Body(body): crate::extract::Body,
) -> Result<axum::Json<IncidentOut>, ApiError> {
    let caller = crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let b: AssessBody = optional_body(&body)?;
    let a = Assessment {
        risk: b.risk,
        consequences: b.consequences,
        measures: b.measures,
        description: b.description,
        categories: b.categories,
        subject_kinds: b.subject_kinds,
        subjects_estimate: b.subjects_estimate,
        records_estimate: b.records_estimate,
    };
    let row = incidents::assess(&state, &id, a, &caller.token_id).await?;
    Ok(axum::Json(out(&state, row)))
}

/// Record that the supervisory authority was told; after 72 hours `late_reason` is required.
#[utoipa::path(post, path = "/v1/admin/incidents/{id}/authority-notified", tag = "accountability",
    params(("id" = String, Path)), request_body = AuthorityNotifiedBody, security(("bearer" = [])),
    responses((status = 200, body = IncidentOut), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn authority_notified(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    crate::extract::Body(body): crate::extract::Body,
) -> Result<axum::Json<IncidentOut>, ApiError> {
    let caller = crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let b: AuthorityNotifiedBody = optional_body(&body)?;
    let n = AuthorityNotice {
        notified_at: b
            .notified_at
            .as_deref()
            .map(|t| time(t, "notified_at"))
            .transpose()?,
        authority: b.authority,
        reference: b.reference,
        late_reason: b.late_reason,
    };
    let row = incidents::authority_notified(&state, &id, n, &caller.token_id).await?;
    Ok(axum::Json(out(&state, row)))
}

/// Close an incident (a notifiable one only once the authority was told).
#[utoipa::path(post, path = "/v1/admin/incidents/{id}/close", tag = "accountability", params(("id" = String, Path)),
    request_body = CloseBody, security(("bearer" = [])),
    responses((status = 200, body = IncidentOut), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)))]
pub async fn close(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    crate::extract::Body(body): crate::extract::Body,
) -> Result<axum::Json<IncidentOut>, ApiError> {
    let caller = crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let b: CloseBody = optional_body(&body)?;
    let row = incidents::close(&state, &id, b.note.as_deref(), &caller.token_id).await?;
    Ok(axum::Json(out(&state, row)))
}

/// Tell the people concerned (Art. 34): one mail per person, in their language.
#[utoipa::path(post, path = "/v1/admin/incidents/{id}/notify-subjects", tag = "accountability",
    params(("id" = String, Path)), request_body = NotifySubjectsBody, security(("bearer" = [])),
    responses((status = 200, body = NotifiedOut), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn notify_subjects(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(b): Json<NotifySubjectsBody>,
) -> Result<axum::Json<NotifiedOut>, ApiError> {
    let caller = crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let query = match (b.datastore, b.query) {
        (Some(d), Some(q)) => Some((d, q)),
        (None, None) => None,
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_people",
                "`datastore` and `query` go together",
            ))
        }
    };
    let audience = Audience {
        named: Named {
            emails: b.emails,
            user_ids: b.user_ids,
            query,
        },
        language: b.language,
        texts: b
            .texts
            .into_iter()
            .map(|(lang, t)| {
                (
                    lang,
                    Texts {
                        nature: t.nature,
                        consequences: t.consequences,
                        measures: t.measures,
                    },
                )
            })
            .collect(),
    };
    let n = incidents::notify_subjects(&state, &id, audience, &caller.token_id).await?;
    Ok(axum::Json(NotifiedOut {
        incident: out(&state, n.incident),
        queued: n.queued,
        already_notified: n.already,
        unreachable: n.unreachable,
    }))
}

/// The report to the supervisory authority with the Art. 33(3) items, as JSON or Markdown.
#[utoipa::path(get, path = "/v1/admin/incidents/{id}/report", tag = "accountability",
    params(("id" = String, Path), ReportQuery), security(("bearer" = [])),
    responses((status = 200, description = "The report: JSON, or Markdown (`?format=markdown`)",
            content((Object = "application/json"), (String = "text/markdown"))),
        (status = 404, body = crate::error::Problem),
        (status = 422, description = "An unknown `format`", body = crate::error::Problem)))]
pub async fn report(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: LateQuery,
) -> Result<Response, ApiError> {
    crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let q: ReportQuery = query.parse()?;
    let wants_markdown = match q.format.as_deref().map(str::trim) {
        Some("markdown") | Some("md") => true,
        Some("json") => false,
        Some("") | None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/markdown")),
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_format",
                "`format` is `json` or `markdown`",
            ))
        }
    };
    let row = incidents::get(&state, &id).await?;
    let r = incidents::report::build(&state, &row);
    Ok(if wants_markdown {
        (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            incidents::report::markdown(&r),
        )
            .into_response()
    } else {
        axum::Json(r).into_response()
    })
}
