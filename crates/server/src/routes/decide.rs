//! `POST /v1/decide`: may this processing happen? The hot path — memory only, no I/O.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use std::sync::Arc;

use axum::response::IntoResponse;
use custodian_core::decide::{DecisionError, DecisionInput, Obligation};
use custodian_core::subject::{IdKind, SubjectId};
use custodian_core::token::Role;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::extract::{self, Text};
use crate::state::{AppState, SharedState};

/// One identifier of the subject. Exactly one must be given.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectInput {
    pub email: Option<String>,
    pub user_id: Option<String>,
    pub device_id: Option<String>,
}

impl SubjectInput {
    /// Parses the one identifier given, refusing none or several.
    pub fn parse(&self) -> Result<SubjectId, ApiError> {
        parse_subject(
            self.email.as_deref(),
            self.user_id.as_deref(),
            self.device_id.as_deref(),
        )
    }
}

fn parse_subject(
    email: Option<&str>,
    user_id: Option<&str>,
    device_id: Option<&str>,
) -> Result<SubjectId, ApiError> {
    let mut given = [
        (IdKind::Email, email),
        (IdKind::UserId, user_id),
        (IdKind::DeviceId, device_id),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)));
    match (given.next(), given.next()) {
        (Some((kind, value)), None) => SubjectId::parse(kind, value)
            .map_err(|e| ApiError::unprocessable("invalid_subject", e.to_string())),
        (None, _) => Err(ApiError::unprocessable(
            "invalid_subject",
            "`subject` needs one of `email`, `user_id` or `device_id`",
        )),
        (Some(_), Some(_)) => Err(ApiError::unprocessable(
            "invalid_subject",
            "`subject` must carry exactly one of `email`, `user_id` or `device_id`",
        )),
    }
}

/// [`SubjectInput`] borrowing from the request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectRefs<'a> {
    #[serde(borrow)]
    email: Option<Text<'a>>,
    #[serde(borrow)]
    user_id: Option<Text<'a>>,
    #[serde(borrow)]
    device_id: Option<Text<'a>>,
}

impl SubjectRefs<'_> {
    /// Parses the one identifier given, refusing none or several.
    pub fn parse(&self) -> Result<SubjectId, ApiError> {
        parse_subject(
            self.email.as_deref(),
            self.user_id.as_deref(),
            self.device_id.as_deref(),
        )
    }
}

/// The question. Its strings borrow from the body (no copy per field: this is the hot path).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"subject": {"email": "ada@example.com"}, "purpose": "analytics", "categories": ["analytics_events"], "country": "DE"}))]
pub struct DecideRequest<'a> {
    #[serde(borrow)]
    #[schema(value_type = SubjectInput)]
    pub subject: SubjectRefs<'a>,
    /// A purpose id of the active policy (or a prohibited one, which is always refused).
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub purpose: Text<'a>,
    /// Data categories to process; empty or absent means the purpose's own categories.
    #[serde(default, borrow)]
    #[schema(value_type = Vec<String>)]
    pub categories: Vec<Text<'a>>,
    /// ISO 3166-1 alpha-2 code of the subject's country.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub country: Text<'a>,
    /// The recipient the data would go to, if any.
    #[serde(borrow)]
    #[schema(value_type = Option<String>)]
    pub recipient: Option<Text<'a>>,
    /// For purposes with a `min_group` (aggregates): how many people the figure describes.
    #[serde(default)]
    pub group_size: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ObligationOut {
    /// `truncate_ip`, `drop_categories` or `keep_in_region`.
    pub id: String,
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// The answer, serialised straight from the engine's decision (borrowed, nothing copied: this
/// is the hot path).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DecideResponse<'a> {
    pub allowed: bool,
    /// `consent`, `contract`, `legal_obligation`, `vital_interest`, `public_task`,
    /// `legitimate_interest`, or null for prohibited processing.
    #[schema(value_type = Option<String>)]
    pub legal_basis: Option<&'a str>,
    /// The W3C DPV term of the legal basis.
    #[schema(value_type = Option<String>)]
    pub legal_basis_dpv: Option<&'a str>,
    #[schema(value_type = String)]
    pub reason: &'a str,
    /// The element of the policy that decided, as a path into the policy file.
    #[schema(value_type = String)]
    pub rule: &'a str,
    #[schema(value_type = Vec<ObligationOut>)]
    #[serde(serialize_with = "obligations")]
    pub obligations: &'a [Arc<Obligation>],
    #[schema(value_type = String)]
    pub policy_version: &'a str,
}

fn obligations<S: serde::Serializer>(o: &&[Arc<Obligation>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(o.iter().map(|o| &**o))
}

/// Decide one processing step for one subject.
#[utoipa::path(post, path = "/v1/decide", tag = "decisions",
    request_body = DecideRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = DecideResponse),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn decide(
    State(state): State<SharedState>,
    request: Request,
) -> Result<axum::response::Response, ApiError> {
    answer(&state, request).await
}

/// The decision for one request (the fast path in `app` calls this directly). The request is
/// taken whole rather than through the `HeaderMap` extractor, which would copy every header.
pub async fn answer(
    state: &AppState,
    request: Request,
) -> Result<axum::response::Response, ApiError> {
    crate::auth::authorize(state, request.headers(), &[Role::Service]).await?;
    let gpc = crate::routes::consent::gpc_signal(request.headers());
    let body = extract::json_body(request).await?;
    let req: DecideRequest = extract::parse(&body)?;
    let id = req.subject.parse()?;
    let subject = state.hasher.reference(&id);
    let input = DecisionInput {
        subject,
        purpose: &req.purpose,
        categories: &req.categories,
        country: &req.country,
        recipient: req.recipient.as_deref(),
        gpc,
        group_size: req.group_size,
    };
    let d = state
        .engine
        .decide(&input, &*state.app)
        .map_err(decision_error)?;
    let answer = DecideResponse {
        allowed: d.allowed,
        legal_basis: d.legal_basis.map(|b| b.id()),
        legal_basis_dpv: d.legal_basis.map(|b| b.dpv()),
        reason: &d.reason,
        rule: &d.rule,
        obligations: &d.obligations,
        policy_version: &d.policy_version,
    };
    // Sized for a typical answer, so it is written without growing the buffer.
    let mut body = Vec::with_capacity(512);
    serde_json::to_writer(&mut body, &answer).expect("plain data serialises");
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

fn decision_error(e: DecisionError) -> ApiError {
    let detail = e.to_string();
    let (code, extra) = match e {
        DecisionError::UnknownPurpose { known, .. } => {
            ("unknown_purpose", json!({ "known": known }))
        }
        DecisionError::UnknownCategory { known, .. } => {
            ("unknown_category", json!({ "known": known }))
        }
        DecisionError::UnknownRecipient { mut known, .. } => {
            known.sort();
            ("unknown_recipient", json!({ "known": known }))
        }
        DecisionError::UnknownCountry { .. } => ("unknown_country", json!({})),
    };
    let detail = match extra.get("known").and_then(|k| k.as_array()) {
        Some(k) => format!(
            "{detail}; known: {}",
            k.iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => detail,
    };
    ApiError::Unprocessable {
        code,
        detail,
        extra: Some(extra),
    }
}
