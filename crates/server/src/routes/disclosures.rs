//! Disclosures to public authorities over HTTP: recording one and listing them (DPO), and the
//! public transparency report (`/transparency`, HTML or JSON) — `custodian_app::disclosures`.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use custodian_app::disclosures::{self, NewDisclosure, Transparency};
use custodian_app::people::Named;
use custodian_core::clock::rfc3339;
use custodian_core::token::Role;
use custodian_store::disclosures::DisclosureRow;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Json, LateQuery, Query};
use crate::html::escape;
use crate::state::SharedState;

/// The authority or court, by name alone or with its kind.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum RecipientInput {
    Name(String),
    Described {
        name: String,
        /// `court`, `law_enforcement`, `regulator`, `tax_authority` or `other`.
        kind: Option<String>,
    },
}

/// One person, by e-mail address or user id.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonInput {
    pub email: Option<String>,
    pub user_id: Option<String>,
}

/// The people concerned: a list of `{email}` / `{user_id}`, or `{emails, user_ids}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SubjectsInput {
    Listed(Vec<PersonInput>),
    Grouped {
        #[serde(default)]
        emails: Vec<String>,
        #[serde(default)]
        user_ids: Vec<String>,
    },
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDisclosureBody {
    pub recipient: RecipientInput,
    /// The kind of authority, when `recipient` is a bare name (default `other`).
    pub authority_kind: Option<String>,
    /// The law that required the disclosure.
    pub legal_basis: String,
    /// The authority's reference (an order's number).
    pub reference: String,
    /// The policy's data categories disclosed.
    pub categories: Vec<String>,
    pub subjects: SubjectsInput,
    /// When the data was disclosed (RFC 3339).
    pub disclosed_at: String,
    /// Whether the people concerned may be told; `false` needs a `reason`.
    pub notify_subject: bool,
    pub reason: Option<String>,
    /// The language for people whose own is not on record.
    pub language: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DisclosureOut {
    pub id: String,
    pub recipient: String,
    pub authority_kind: String,
    pub legal_basis: String,
    pub reference: String,
    pub categories: Vec<String>,
    pub disclosed_at: String,
    pub notify_subject: bool,
    pub reason: Option<String>,
    /// How many people it concerned (never who).
    pub subjects: i64,
    pub recorded_by: String,
    pub recorded_at: String,
}

fn out(d: DisclosureRow) -> DisclosureOut {
    DisclosureOut {
        authority_kind: d.authority_kind.as_str().to_owned(),
        disclosed_at: rfc3339(d.disclosed_at),
        recorded_at: rfc3339(d.created_at),
        id: d.id,
        recipient: d.recipient,
        legal_basis: d.legal_basis,
        reference: d.reference,
        categories: d.categories,
        notify_subject: d.notify_subject,
        reason: d.withheld_reason,
        subjects: d.subjects,
        recorded_by: d.recorded_by,
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordedOut {
    #[serde(flatten)]
    pub disclosure: DisclosureOut,
    /// People told by mail now.
    pub notified: u64,
    /// People to be told without an address on record.
    pub unreachable: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DisclosureList {
    pub disclosures: Vec<DisclosureOut>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TransparencyQuery {
    /// `json` or `html` (default: by `Accept`).
    pub format: Option<String>,
}

/// Record a disclosure to an authority; the people concerned are told unless withheld.
#[utoipa::path(post, path = "/v1/admin/disclosures", tag = "accountability", request_body = NewDisclosureBody,
    security(("bearer" = [])),
    responses((status = 201, body = RecordedOut), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Json(b): Json<NewDisclosureBody>,
) -> Result<(StatusCode, axum::Json<RecordedOut>), ApiError> {
    let caller = crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let (recipient, kind) = match b.recipient {
        RecipientInput::Name(n) => (n, b.authority_kind),
        RecipientInput::Described { name, kind } => (name, kind.or(b.authority_kind)),
    };
    let subjects = match b.subjects {
        SubjectsInput::Grouped { emails, user_ids } => Named {
            emails,
            user_ids,
            query: None,
        },
        SubjectsInput::Listed(list) => {
            let mut named = Named::default();
            for (i, p) in list.into_iter().enumerate() {
                match (p.email, p.user_id) {
                    (Some(e), None) => named.emails.push(e),
                    (None, Some(u)) => named.user_ids.push(u),
                    _ => {
                        return Err(ApiError::unprocessable(
                            "invalid_people",
                            format!(
                                "subject {} gives neither or both of `email` and `user_id`",
                                i + 1
                            ),
                        ))
                    }
                }
            }
            named
        }
    };
    let disclosed_at = b
        .disclosed_at
        .trim()
        .parse::<jiff::Timestamp>()
        .map_err(|_| {
            ApiError::unprocessable(
                "invalid_time",
                "`disclosed_at` must be an RFC 3339 time such as 2026-01-31T12:00:00Z",
            )
        })?
        .as_microsecond();
    let new = NewDisclosure {
        recipient,
        authority_kind: kind,
        legal_basis: b.legal_basis,
        reference: b.reference,
        categories: b.categories,
        subjects,
        disclosed_at,
        notify_subject: b.notify_subject,
        reason: b.reason,
        language: b.language,
    };
    let r = disclosures::record(&state, new, &caller.token_id).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(RecordedOut {
            disclosure: out(r.row),
            notified: r.notified,
            unreachable: r.unreachable,
        }),
    ))
}

/// The disclosures on record, the newest first.
#[utoipa::path(get, path = "/v1/admin/disclosures", tag = "accountability", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = DisclosureList), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    query: LateQuery,
) -> Result<axum::Json<DisclosureList>, ApiError> {
    crate::auth::authorize(&state, &headers, &[Role::Dpo]).await?;
    let q: ListQuery = query.parse()?;
    let all = disclosures::list(&state, q.limit.unwrap_or(100)).await?;
    Ok(axum::Json(DisclosureList {
        disclosures: all.into_iter().map(out).collect(),
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransparencyRow {
    pub year: i32,
    /// `court`, `law_enforcement`, `regulator`, `tax_authority` or `other`.
    pub authority_kind: String,
    /// `null` when below `min_group` (suppressed).
    pub disclosures: Option<u64>,
    /// People concerned; `null` when below `min_group` (suppressed).
    pub people: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransparencyOut {
    pub organisation: String,
    /// No count below this is published (the policy's `aggregates.min_group`).
    pub min_group: u64,
    pub generated_at: String,
    pub rows: Vec<TransparencyRow>,
}

fn transparency_json(t: &Transparency) -> TransparencyOut {
    TransparencyOut {
        organisation: t.organisation.clone(),
        min_group: t.min_group,
        generated_at: rfc3339(t.generated_at),
        rows: t
            .rows
            .iter()
            .map(|r| TransparencyRow {
                year: r.year,
                authority_kind: r.kind.as_str().to_owned(),
                disclosures: r.disclosures,
                people: r.people,
            })
            .collect(),
    }
}

fn transparency_html(t: &Transparency) -> String {
    let cell = |n: Option<u64>| match n {
        Some(n) => n.to_string(),
        None => format!("fewer than {}", t.min_group),
    };
    let rows: String = t
        .rows
        .iter()
        .map(|r| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                r.year,
                escape(r.kind.label()),
                cell(r.disclosures),
                cell(r.people)
            )
        })
        .collect();
    let body = if t.rows.is_empty() {
        "<p>No disclosures to public authorities are on record.</p>".to_owned()
    } else {
        format!("<table><thead><tr><th>Year</th><th>Authority</th><th>Disclosures</th><th>People concerned</th></tr></thead><tbody>{rows}</tbody></table>")
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Transparency report: {org}</title><link rel=\"stylesheet\" href=\"/assets/notice.css\"></head><body><main><h1>Transparency report</h1><p>How often {org} disclosed personal data to public authorities because the law required it, per year and kind of authority. To protect the people concerned, no figure below {min} is shown.</p>{body}<p><small>Generated {gen}. Machine-readable: <a href=\"/transparency?format=json\">JSON</a>.</small></p></main></body></html>",
        org = escape(&t.organisation),
        min = t.min_group,
        gen = rfc3339(t.generated_at),
    )
}

/// The public transparency report: disclosures per year and kind of authority, no count below
/// the policy's minimum group size.
#[utoipa::path(get, path = "/transparency", tag = "accountability", params(TransparencyQuery),
    responses((status = 200, description = "JSON with `?format=json` or `Accept: application/json`, else the page",
        content((TransparencyOut = "application/json"), (String = "text/html"))),
        (status = 422, description = "An unknown `format`", body = crate::error::Problem)))]
pub async fn transparency(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<TransparencyQuery>,
) -> Result<Response, ApiError> {
    let json = match q.format.as_deref().map(str::trim) {
        Some("json") => true,
        Some("html") => false,
        Some("") | None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json") && !v.contains("text/html")),
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_format",
                "`format` is `json` or `html`",
            ))
        }
    };
    let t = disclosures::transparency(&state).await?;
    let vary = [(header::VARY, "accept")];
    Ok(if json {
        (vary, axum::Json(transparency_json(&t))).into_response()
    } else {
        (vary, Html(transparency_html(&t))).into_response()
    })
}
