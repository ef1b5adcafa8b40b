//! `POST /v1/decide`: may this processing happen? The hot path — memory only, no I/O.

use axum::extract::State;
use axum::http::HeaderMap;
use custodian_core::decide::{DecisionError, DecisionInput};
use custodian_core::subject::{IdKind, SubjectId};
use custodian_core::token::Role;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::extract::Json;
use crate::state::SharedState;

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
        let given: Vec<(IdKind, &String)> = [
            (IdKind::Email, self.email.as_ref()),
            (IdKind::UserId, self.user_id.as_ref()),
            (IdKind::DeviceId, self.device_id.as_ref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        match given.as_slice() {
            [(kind, value)] => SubjectId::parse(*kind, value)
                .map_err(|e| ApiError::unprocessable("invalid_subject", e.to_string())),
            [] => Err(ApiError::unprocessable(
                "invalid_subject",
                "`subject` needs one of `email`, `user_id` or `device_id`",
            )),
            _ => Err(ApiError::unprocessable(
                "invalid_subject",
                "`subject` must carry exactly one of `email`, `user_id` or `device_id`",
            )),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    pub subject: SubjectInput,
    /// A purpose id of the active policy (or a prohibited one, which is always refused).
    pub purpose: String,
    /// Data categories to process; empty or absent means the purpose's own categories.
    #[serde(default)]
    pub categories: Vec<String>,
    /// ISO 3166-1 alpha-2 code of the subject's country.
    pub country: String,
    /// The recipient the data would go to, if any.
    pub recipient: Option<String>,
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DecideResponse {
    pub allowed: bool,
    /// `consent`, `contract`, `legal_obligation`, `vital_interest`, `public_task`,
    /// `legitimate_interest`, or null for prohibited processing.
    pub legal_basis: Option<String>,
    /// The W3C DPV term of the legal basis.
    pub legal_basis_dpv: Option<String>,
    pub reason: String,
    /// The element of the policy that decided, as a path into the policy file.
    pub rule: String,
    pub obligations: Vec<ObligationOut>,
    pub policy_version: String,
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
    headers: HeaderMap,
    Json(req): Json<DecideRequest>,
) -> Result<axum::Json<DecideResponse>, ApiError> {
    state
        .tokens
        .authorize(&state.store, &headers, &[Role::Service])
        .await?;
    let id = req.subject.parse()?;
    let subject = state.hasher.reference(&id);
    let gpc = crate::routes::consent::gpc_signal(&headers);
    let input = DecisionInput {
        subject,
        purpose: &req.purpose,
        categories: &req.categories,
        country: &req.country,
        recipient: req.recipient.as_deref(),
        gpc,
    };
    let d = state
        .engine
        .decide(&input, &crate::retention_job::Lookup(&state))
        .map_err(decision_error)?;
    Ok(axum::Json(DecideResponse {
        allowed: d.allowed,
        legal_basis: d.legal_basis.map(|b| b.id().to_owned()),
        legal_basis_dpv: d.legal_basis.map(|b| b.dpv().to_owned()),
        reason: d.reason.to_string(),
        rule: d.rule.to_string(),
        obligations: d
            .obligations
            .iter()
            .map(|o| ObligationOut {
                id: o.id.to_owned(),
                description: o.description.clone(),
                categories: o.categories.clone(),
                region: o.region.clone(),
            })
            .collect(),
        policy_version: d.policy_version.to_string(),
    }))
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
