//! One-click unsubscribe (RFC 8058): signed links for the company's mailing tool, a
//! confirmation page for people, and the one-click `POST` that mail clients send.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse};
use custodian_core::token::Role;
use custodian_core::unsubscribe::Unsubscribe;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::Json;
use crate::html::escape;
use crate::routes::decide::SubjectInput;
use crate::state::{AppState, SharedState};
use custodian_app::consent;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"subject": {"email": "ada@example.com"}, "purpose": "marketing"}))]
pub struct UnsubscribeLinkRequest {
    pub subject: SubjectInput,
    /// A consent purpose, usually `marketing`.
    pub purpose: String,
    /// How long the link works; 365 days when absent.
    pub ttl_days: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnsubscribeLinkAnswer {
    pub url: String,
    pub token: String,
    pub expires_at: String,
    /// The two headers to put on the message (RFC 2369 and RFC 8058).
    pub headers: LinkHeaders,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkHeaders {
    #[serde(rename = "List-Unsubscribe")]
    pub list_unsubscribe: String,
    #[serde(rename = "List-Unsubscribe-Post")]
    pub list_unsubscribe_post: &'static str,
}

pub const DEFAULT_TTL_DAYS: u32 = 365;

/// Issues a signed unsubscribe link for one subject and purpose.
pub fn issue_link(
    state: &AppState,
    subject: custodian_core::subject::SubjectRef,
    purpose: &str,
    ttl_days: u32,
) -> UnsubscribeLinkAnswer {
    let now_s = state.clock.now_micros() / 1_000_000;
    let expires_at = now_s + i64::from(ttl_days) * 86_400;
    let token = state.signer.sign(&Unsubscribe {
        subject,
        purpose: purpose.to_owned(),
        expires_at,
    });
    let url = format!("{}/u/{token}", state.public_url);
    UnsubscribeLinkAnswer {
        headers: LinkHeaders {
            list_unsubscribe: format!("<{url}>"),
            list_unsubscribe_post: "List-Unsubscribe=One-Click",
        },
        url,
        token,
        expires_at: custodian_core::clock::rfc3339(expires_at * 1_000_000),
    }
}

/// Issue a signed one-click unsubscribe link (service token).
#[utoipa::path(post, path = "/v1/unsubscribe-links", tag = "consent", request_body = UnsubscribeLinkRequest,
    security(("bearer" = [])),
    responses((status = 201, body = UnsubscribeLinkAnswer), (status = 422, body = crate::error::Problem)))]
pub async fn issue(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Json(req): Json<UnsubscribeLinkRequest>,
) -> Result<impl IntoResponse, ApiError> {
    crate::auth::authorize(&state, &headers, &[Role::Service]).await?;
    let id = req.subject.parse()?;
    if state.engine.consent_slot(&req.purpose).is_none() {
        return Err(ApiError::unprocessable(
            "not_consent_purpose",
            format!(
                "`{}` is not a consent purpose",
                req.purpose.chars().take(40).collect::<String>()
            ),
        ));
    }
    let ttl = req.ttl_days.unwrap_or(DEFAULT_TTL_DAYS).clamp(1, 3650);
    let answer = issue_link(&state, state.hasher.reference(&id), &req.purpose, ttl);
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// The page a person sees when they follow the link: a button, so that link scanners that
/// fetch every URL in a message never unsubscribe anyone.
#[utoipa::path(get, path = "/u/{token}", tag = "consent", params(("token" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String), (status = 400, body = crate::error::Problem), (status = 410, body = crate::error::Problem)))]
pub async fn confirm_page(
    State(state): State<SharedState>,
    Path(token): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let u = consent::check_unsubscribe(&state, &token)?;
    let name = state
        .policy
        .purpose(&u.purpose)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let org = &state.policy.policy.organisation;
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Unsubscribe</title></head>
<body><main><h1>Unsubscribe from {name}</h1><p>{org} will stop using your data for <strong>{name}</strong> as soon as you confirm.</p>
<form method="post" action="/u/{token}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>
<p><a href="/privacy-center">Manage all your choices in the privacy centre</a></p></main></body></html>"#,
        name = escape(&name),
        org = escape(org),
        token = escape(&token),
    );
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(body)))
}

/// The one-click `POST` (RFC 8058 §3.2): the body is `List-Unsubscribe=One-Click`. Withdraws
/// consent at once; repeating it changes nothing more.
#[utoipa::path(post, path = "/u/{token}", tag = "consent", params(("token" = String, Path)),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "List-Unsubscribe=One-Click"),
    responses((status = 200, content_type = "text/html", body = String), (status = 400, body = crate::error::Problem), (status = 410, body = crate::error::Problem)))]
pub async fn one_click(
    State(state): State<SharedState>,
    Path(token): Path<String>,
    crate::extract::Body(body): crate::extract::Body,
) -> Result<impl IntoResponse, ApiError> {
    let u = consent::check_unsubscribe(&state, &token)?;
    // Form-encoded or multipart, mail clients send this pair; anything else is not a one-click POST.
    let text = String::from_utf8_lossy(&body);
    if !text.contains("List-Unsubscribe=One-Click")
        && !(text.contains("name=\"List-Unsubscribe\"") && text.contains("One-Click"))
    {
        return Err(ApiError::bad_request(
            "not_one_click",
            "the body must be List-Unsubscribe=One-Click (RFC 8058)",
        ));
    }
    consent::unsubscribe(&state, &u).await?;
    let name = state
        .policy
        .purpose(&u.purpose)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    Ok(Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Unsubscribed</title></head><body><main><h1>You are unsubscribed</h1><p>You will no longer receive {}.</p></main></body></html>"#,
        escape(&name)
    )))
}
