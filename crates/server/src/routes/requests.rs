//! The requester's side of data-subject requests: intake, verification, the status behind a
//! signed link, and the access archive behind a signed, expiring link.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use custodian_core::clock::rfc3339;
use custodian_core::request::{Kind, Status};
use custodian_core::signed::LinkError;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::html::escape;
use crate::routes::consent::ClientIp;
use crate::state::{AppState, SharedState};
use custodian_app::requests::{self, Intake};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "erasure", "email": "ada@example.com", "country": "GB"}))]
pub struct NewRequest {
    /// `access`, `rectification`, `erasure`, `restriction` or `objection`.
    #[serde(rename = "type")]
    pub kind: String,
    pub email: String,
    /// What the requester wants corrected, restricted or objected to (≤ 4000 characters).
    pub details: Option<String>,
    /// ISO 3166-1 alpha-2; chooses the deadlines (GDPR, UK GDPR, CCPA...).
    pub country: Option<String>,
    /// `en` or `de`; mails and pages follow it.
    pub language: Option<String>,
    /// The id of the company's customer whose data this is (see the policy's `[[customers]]`).
    pub customer: Option<String>,
    /// For `objection`: the purposes objected to (GDPR Art. 21(1)), among the policy's
    /// `rights.objection.reaches`; refused from approval on.
    #[serde(default)]
    pub purposes: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub id: String,
    pub status: String,
    /// Where to send the code from the e-mail.
    pub verify: String,
}

/// Submit a request. A code is e-mailed to the address; nothing is shown or changed until it
/// is entered. The answer is the same whether or not the address is known.
#[utoipa::path(post, path = "/v1/requests", tag = "requests", request_body = NewRequest,
    responses((status = 202, body = Accepted), (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn submit(
    State(state): State<SharedState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<NewRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let kind = Kind::parse(&req.kind).ok_or_else(|| {
        ApiError::unprocessable(
            "unknown_request_type",
            "`type` must be access, rectification, erasure, restriction or objection",
        )
    })?;
    let row = requests::intake(
        &state,
        Intake {
            kind,
            email: req.email,
            details: req.details,
            country: req.country,
            language: req.language,
            customer: req.customer,
            purposes: req.purposes,
        },
        ip,
    )
    .await?;
    let verify = format!("/v1/requests/{}/verify", row.id);
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Accepted {
            id: row.id,
            status: row.status.as_str().to_owned(),
            verify,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    pub code: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verified {
    pub id: String,
    pub status: String,
    /// The signed link to the request's status page.
    pub status_url: String,
}

/// Enter the e-mailed code.
#[utoipa::path(post, path = "/v1/requests/{id}/verify", tag = "requests", request_body = VerifyBody,
    params(("id" = String, Path)),
    responses((status = 200, body = Verified), (status = 404, description = "No such request", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem), (status = 410, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn verify(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Json(body): Json<VerifyBody>,
) -> Result<axum::Json<Verified>, ApiError> {
    let row = requests::verify(&state, &id, &body.code).await?;
    Ok(axum::Json(Verified {
        status_url: requests::status_link(&state, &row.id),
        id: row.id,
        status: row.status.as_str().to_owned(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LinkQuery {
    /// The signature from the e-mailed link.
    pub t: String,
}

fn check_link(state: &AppState, purpose: &str, id: &str, token: &str) -> Result<(), ApiError> {
    state
        .links
        .verify(purpose, id, token, state.clock.now_micros() / 1_000_000)
        .map_err(|e| match e {
            LinkError::Invalid => ApiError::bad_request("invalid_link", "this link is not valid"),
            LinkError::Expired => ApiError::Gone {
                code: "link_expired",
                detail: "this link has expired; open the privacy centre to get a new one".into(),
            },
        })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicStatus {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub received_at: String,
    pub verified_at: Option<String>,
    pub answer_due: String,
    /// The local date of `answer_due` in the jurisdiction's zone: the answer comes by the
    /// end of that day.
    pub answer_due_date: String,
    pub extended_months: i64,
    pub completed_at: Option<String>,
    /// Steps so far, with the reasons the requester was told.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<serde_json::Value>,
    pub download: Option<String>,
}

async fn public_status(state: &AppState, id: &str) -> Result<PublicStatus, ApiError> {
    let (row, history) = requests::views::for_requester(state, id).await?;
    let due = requests::views::deadlines(state, &row);
    let entries = history
        .iter()
        .map(|(h, reason)| serde_json::json!({ "at": rfc3339(h.at), "action": h.action, "status": h.to_status, "reason": reason }))
        .collect();
    Ok(PublicStatus {
        download: (row.kind == Kind::Access && row.status == Status::Completed)
            .then(|| requests::download_link(state, &row.id)),
        id: row.id.clone(),
        kind: row.kind.as_str().to_owned(),
        status: row.status.as_str().to_owned(),
        received_at: rfc3339(row.received_at),
        verified_at: row.verified_at.map(rfc3339),
        answer_due: due.answer_due.to_string(),
        answer_due_date: due.answer_due_date.to_string(),
        extended_months: row.extended_months,
        completed_at: row.completed_at.map(rfc3339),
        history: entries,
    })
}

/// The request's status, behind the signed link from the e-mails.
#[utoipa::path(get, path = "/v1/requests/{id}", tag = "requests", params(("id" = String, Path), LinkQuery),
    responses((status = 200, body = PublicStatus), (status = 400, body = crate::error::Problem), (status = 410, body = crate::error::Problem)))]
pub async fn status(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Query(q): Query<LinkQuery>,
) -> Result<axum::Json<PublicStatus>, ApiError> {
    check_link(&state, "status", &id, &q.t)?;
    Ok(axum::Json(public_status(&state, &id).await?))
}

/// The status page for people, behind the same signed link.
#[utoipa::path(get, path = "/requests/{id}", tag = "requests", params(("id" = String, Path), LinkQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 400, body = crate::error::Problem)))]
pub async fn status_page(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Query(q): Query<LinkQuery>,
) -> Result<impl IntoResponse, ApiError> {
    check_link(&state, "status", &id, &q.t)?;
    let s = public_status(&state, &id).await?;
    let rows: String = s
        .history
        .iter()
        .map(|h| {
            let reason = h["reason"]
                .as_str()
                .map(|r| format!(" — {}", escape(r)))
                .unwrap_or_default();
            format!(
                "<li><time>{}</time> {}{}</li>",
                escape(h["at"].as_str().unwrap_or("")),
                escape(h["action"].as_str().unwrap_or("")),
                reason
            )
        })
        .collect();
    let download = s
        .download
        .as_ref()
        .map(|d| {
            format!(
                r#"<p><a href="{}">Download your data (ZIP: JSON and CSV)</a></p>"#,
                escape(d)
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Your request</title><link rel="stylesheet" href="/assets/notice.css"></head>
<body><main><h1>Your {kind} request</h1><dl><dt>Status</dt><dd>{status}</dd><dt>Received</dt><dd>{received}</dd><dt>Answer due by</dt><dd>{due}</dd></dl>{download}<h2>History</h2><ol>{rows}</ol>
<p><a href="/privacy-center">Privacy centre</a></p></main></body></html>"#,
        kind = escape(&s.kind),
        status = escape(&s.status.replace('_', " ")),
        received = escape(&s.received_at),
        due = escape(&s.answer_due_date),
    );
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(body),
    ))
}

/// The access archive (ZIP: a manifest, JSON, and a CSV per kind of record), behind a signed
/// link that expires.
#[utoipa::path(get, path = "/v1/requests/{id}/archive", tag = "requests", params(("id" = String, Path), LinkQuery),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>), (status = 400, body = crate::error::Problem), (status = 410, body = crate::error::Problem)))]
pub async fn archive(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Query(q): Query<LinkQuery>,
) -> Result<impl IntoResponse, ApiError> {
    check_link(&state, "archive", &id, &q.t)?;
    let row = requests::load(&state, &id).await?;
    if row.kind != Kind::Access || row.status != Status::Completed {
        return Err(ApiError::Conflict {
            code: "not_ready",
            detail: "there is no archive for this request".into(),
        });
    }
    let archive = requests::export::archive(&state, &row).await?;
    Ok(zip_response(archive, &row.id))
}

/// The archive, streamed from the scratch file the use case wrote it to (memory stays flat
/// however large it is), with its length announced up front.
pub fn zip_response(archive: requests::export::Archive, id: &str) -> impl IntoResponse {
    let file = tokio::fs::File::from_std(archive.file);
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match tokio::io::AsyncReadExt::read(&mut file, &mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(axum::body::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_LENGTH, archive.len.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.zip\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::body::Body::from_stream(chunks),
    )
}
