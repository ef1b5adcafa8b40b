//! Notices before changes and the records of processing over HTTP: scheduling a policy
//! version (admin), other notices (DPO), the next version and the notices shown now (public),
//! and the Art. 30 records (DPO). The use cases are `custodian_app::announce` and
//! `custodian_policy::records`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use custodian_app::acts::{self, Act, Actor};
use custodian_app::announce::{self, publish, Kind, Shown};
use custodian_core::clock::rfc3339;
use custodian_core::token::Role;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Json, LateQuery, Query};
use crate::state::{AppState, SharedState};

/// The largest policy file taken (the example is ~40 KiB).
const POLICY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EffectiveQuery {
    /// When the version takes effect, RFC 3339 (`2026-07-01T00:00:00Z`). A material change
    /// needs `notices.material_change_days` of notice; other changes may take effect at once.
    pub effective: String,
}

fn time(s: &str, name: &str) -> Result<i64, ApiError> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_microsecond())
        .map_err(|_| {
            ApiError::unprocessable(
                "invalid_time",
                format!("`{name}` is not an RFC 3339 time such as 2026-07-01T00:00:00Z"),
            )
        })
}

fn actor(caller: &custodian_app::tokens::Caller) -> Actor {
    Actor::Token(caller.token_id.to_string())
}

/// Schedules a policy version: the body is the policy file (`application/toml`).
#[utoipa::path(post, path = "/v1/admin/policy-versions", tag = "notices", security(("bearer" = [])), params(EffectiveQuery),
    request_body(content = String, content_type = "application/toml", description = "The policy file"),
    responses((status = 201, body = publish::Scheduled), (status = 400, description = "The policy is not UTF-8", body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 413, description = "The policy is larger than 1 MiB", body = crate::error::Problem),
        (status = 415, body = crate::error::Problem), (status = 422, description = "Invalid policy, or a material change with too little notice", body = crate::error::Problem)))]
pub async fn publish_version(
    State(state): State<SharedState>,
    headers: HeaderMap,
    query: LateQuery,
    // Read here, up to the policy's own limit: the router's 64 KiB is for JSON bodies.
    body: axum::body::Body,
) -> Result<(StatusCode, axum::Json<publish::Scheduled>), ApiError> {
    let caller = crate::auth::authorize(&state, &headers, &[Role::Admin]).await?;
    let q: EffectiveQuery = query.parse()?;
    let toml = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/toml"));
    if !toml {
        return Err(ApiError::UnsupportedMediaTypeOf("application/toml"));
    }
    let body = crate::extract::limited(body, POLICY_LIMIT).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("unreadable_body", "the policy is not UTF-8"))?;
    let effective = time(&q.effective, "effective")?;
    let s = publish::publish(&state.app, &actor(&caller), text, effective).await?;
    Ok((StatusCode::CREATED, axum::Json(s)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionOut {
    pub version: String,
    pub effective_at: String,
    pub material: bool,
    pub notice_id: Option<String>,
    pub published_at: String,
    /// Whether it is the version in force on this node.
    pub in_force: bool,
}

/// Every scheduled version, earliest date first.
#[utoipa::path(get, path = "/v1/admin/policy-versions", tag = "notices", security(("bearer" = [])),
    responses((status = 200, body = Vec<VersionOut>), (status = 401, body = crate::error::Problem)))]
pub async fn list_versions(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<axum::Json<Vec<VersionOut>>, ApiError> {
    crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let rows = announce::scheduled(&state).await?;
    let current = state.policy.policy.version.clone();
    Ok(axum::Json(
        rows.into_iter()
            .map(|v| VersionOut {
                in_force: v.version == current,
                version: v.version,
                effective_at: rfc3339(v.effective_at),
                material: v.material,
                notice_id: v.notice_id,
                published_at: rfc3339(v.published_at),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNotice {
    /// `change_of_control` or `general`.
    pub kind: String,
    /// Per language tag of the policy (`{"en": "…", "de": "…"}`).
    pub title: BTreeMap<String, String>,
    pub body: BTreeMap<String, String>,
    /// Mail it to everyone with an e-mail on record (who did not turn optional notices off).
    #[serde(default)]
    pub email: bool,
    /// Show it on the banner, the notice and the privacy centre.
    #[serde(default)]
    pub site: bool,
    /// When what it announces happens (RFC 3339); the sites show it until then, else 30 days.
    pub effective: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NoticeCreated {
    pub id: String,
}

/// Records a notice (a change of control, general news) and starts telling people.
#[utoipa::path(post, path = "/v1/admin/notices", tag = "notices", security(("bearer" = [])), request_body = NewNotice,
    responses((status = 201, body = NoticeCreated), (status = 422, body = crate::error::Problem)))]
pub async fn post_notice(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Json(n): Json<NewNotice>,
) -> Result<(StatusCode, axum::Json<NoticeCreated>), ApiError> {
    let caller = crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let kind = Kind::parse_posted(&n.kind).ok_or_else(|| {
        ApiError::unprocessable("invalid_kind", "`kind` is change_of_control or general")
    })?;
    let effective_at = n
        .effective
        .as_deref()
        .map(|e| time(e, "effective"))
        .transpose()?;
    let id = publish::notice(
        &state.app,
        &actor(&caller),
        publish::NewNotice {
            kind,
            title: n.title,
            body: n.body,
            email: n.email,
            site: n.site,
            effective_at,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(NoticeCreated { id })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LangQuery {
    /// A language of the policy; else `Accept-Language`, else the policy's first.
    pub lang: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Upcoming {
    pub version: String,
    pub effective_at: String,
    pub material: bool,
    /// What changes, one line each, material changes first.
    pub changes: Vec<String>,
    pub notice: Option<Shown>,
}

/// The next policy version and when it takes effect; 404 when none is scheduled.
#[utoipa::path(get, path = "/v1/policy/upcoming", tag = "notices", params(LangQuery),
    responses((status = 200, body = Upcoming), (status = 404, body = crate::error::Problem)))]
pub async fn upcoming(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Result<axum::Json<Upcoming>, ApiError> {
    let lang = crate::routes::privacy_center::guard::language(&state, &headers, q.lang.as_deref());
    let (v, notice) = announce::upcoming(&state, &lang).await?;
    let mut changes: Vec<custodian_policy::diff::Change> =
        serde_json::from_str(&v.changes).unwrap_or_default();
    changes.sort_by_key(|c| !c.material);
    Ok(axum::Json(Upcoming {
        version: v.version,
        effective_at: rfc3339(v.effective_at),
        material: v.material,
        changes: changes.into_iter().map(|c| c.summary).collect(),
        notice,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteNotices {
    pub notices: Vec<Shown>,
}

/// The notices the sites show now (the banner shows them above its choices).
#[utoipa::path(get, path = "/v1/notices", tag = "notices", params(LangQuery),
    responses((status = 200, body = SiteNotices)))]
pub async fn site_notices(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> axum::Json<SiteNotices> {
    let lang = crate::routes::privacy_center::guard::language(&state, &headers, q.lang.as_deref());
    axum::Json(SiteNotices {
        notices: announce::on_site(&state, &lang, true),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordsQuery {
    /// `json` (default), `csv` or `html`.
    pub format: Option<String>,
}

/// The records of processing activities (GDPR Art. 30(1)) of the policy in force.
#[utoipa::path(get, path = "/v1/admin/records-of-processing", tag = "notices", security(("bearer" = [])), params(RecordsQuery),
    responses((status = 200, description = "The records, as JSON with DPV identifiers, CSV or HTML"), (status = 422, body = crate::error::Problem)))]
pub async fn records(
    State(state): State<SharedState>,
    headers: HeaderMap,
    query: LateQuery,
) -> Result<Response, ApiError> {
    let caller = crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let q: RecordsQuery = query.parse()?;
    let name = q.format.unwrap_or_else(|| "json".into());
    let format = custodian_policy::records::Format::parse(&name).ok_or_else(|| {
        ApiError::unprocessable("invalid_format", "`format` is json, csv or html")
    })?;
    let policy = state.policy.clone();
    let body = custodian_policy::records::records(&policy, format);
    acts::done_here(
        &state,
        actor(&caller),
        Act::RecordsExported {
            format: name,
            version: policy.policy.version.clone(),
        },
    )
    .await;
    Ok(([(header::CONTENT_TYPE, format.media_type())], body).into_response())
}

/// The notice page with the notices shown now at its top.
pub fn with_notices(state: &AppState, lang: &str, page: String) -> String {
    let shown = announce::on_site(state, lang, true);
    if shown.is_empty() {
        return page;
    }
    let strip: String = shown
        .iter()
        .map(|n| {
            format!(
                "<aside class=\"notice-announcement\" role=\"note\"><strong>{}</strong> {}{}</aside>",
                crate::html::escape(&n.title),
                crate::html::escape(&n.body),
                n.effective_at
                    .as_deref()
                    .map(|e| format!(" <time datetime=\"{0}\">{0}</time>", crate::html::escape(e)))
                    .unwrap_or_default()
            )
        })
        .collect();
    match page.find("<body>") {
        Some(i) => format!("{}{strip}{}", &page[..i + 6], &page[i + 6..]),
        None => strip + &page,
    }
}
