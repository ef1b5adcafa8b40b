//! Consent: record choices (banner, privacy centre, API), read them back, link a device to an
//! account, rebuild receipts, and the Global Privacy Control statement.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use custodian_core::clock::rfc3339;
use custodian_core::consent::{truncate_ip, Source};
use custodian_core::decide::{ConsentLookup, ConsentStatus};
use custodian_core::receipt::{self, Choice, ReceiptInput};
use custodian_core::subject::{IdKind, SubjectRef};
use custodian_core::token::Role;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::recording::{self, RecordedEvent, Wanted};
use crate::routes::decide::SubjectInput;
use crate::state::{AppState, SharedState};

/// The client's address, when the server knows it (not in in-process tests).
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

pub fn gpc_signal(headers: &HeaderMap) -> bool {
    headers
        .get("sec-gpc")
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"1")
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    pub subject: SubjectInput,
    /// `purpose id → given?`, for consent purposes of the policy.
    #[schema(value_type = Object)]
    pub choices: BTreeMap<String, bool>,
    /// The policy version whose texts were shown.
    pub policy_version: String,
    /// `banner`, `privacy_center`, `api`, `import`, `widget`, `signup`, `survey`.
    pub source: String,
    /// The language of the texts shown; the policy's first language when absent.
    pub language: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentAnswer {
    /// The consent receipt (Kantara CR v1.1 / ISO/IEC TS 27560 fields).
    #[schema(value_type = Object)]
    pub receipt: custodian_core::receipt::Receipt,
    /// The ledger events written, one per changed choice (of the subject and linked subjects).
    pub events: Vec<RecordedEvent>,
    /// Whether a `Sec-GPC: 1` signal turned purposes off.
    pub gpc_honoured: bool,
}

/// Record a person's choices. Public for device ids (the banner); e-mails and user ids need
/// a service or DPO token, so nobody can set consent for someone else's address.
#[utoipa::path(post, path = "/v1/consent", tag = "consent", request_body = ConsentRequest,
    responses((status = 201, body = ConsentAnswer, description = "Choices recorded"),
        (status = 200, body = ConsentAnswer, description = "Nothing changed"),
        (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn write(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Json(req): Json<ConsentRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let id = req.subject.parse()?;
    if id.kind() != IdKind::DeviceId {
        state
            .tokens
            .authorize(&state.store, &headers, &[Role::Service, Role::Dpo])
            .await?;
    }
    let source = Source::parse(&req.source)
        .filter(|s| !matches!(s, Source::Gpc | Source::Link | Source::Unsubscribe | Source::Request))
        .ok_or_else(|| {
            ApiError::unprocessable(
                "unknown_source",
                format!("unknown source `{}`; use banner, privacy_center, api, import, widget, signup or survey", req.source.chars().take(40).collect::<String>()),
            )
        })?;
    if req.choices.is_empty() {
        return Err(ApiError::unprocessable(
            "no_choices",
            "`choices` names no purpose",
        ));
    }
    if state.policy_of(&req.policy_version).is_none() {
        return Err(ApiError::unprocessable(
            "unknown_policy_version",
            format!(
                "unknown policy version `{}`; the active version is `{}`",
                req.policy_version.chars().take(40).collect::<String>(),
                state.policy.policy.version
            ),
        ));
    }
    check_purposes(&state, req.choices.keys())?;
    let language = pick_language(&state, req.language.as_deref());
    let gpc = gpc_signal(&headers);
    let gpc_purposes: Vec<&str> = state
        .engine
        .gpc_slots()
        .map(|s| state.engine.consent_purposes()[s].as_str())
        .collect();
    let mut gpc_honoured = false;
    let mut choices: Vec<Wanted> = req
        .choices
        .iter()
        .map(|(p, g)| Wanted {
            purpose: p.clone(),
            given: *g,
            source,
        })
        .collect();
    if gpc {
        // The signal wins over the body for sale, sharing and targeted advertising, and is
        // recorded as its own source.
        for p in &gpc_purposes {
            match choices.iter_mut().find(|c| c.purpose == *p) {
                Some(c) => {
                    c.given = false;
                    c.source = Source::Gpc;
                }
                None => choices.push(Wanted {
                    purpose: (*p).to_owned(),
                    given: false,
                    source: Source::Gpc,
                }),
            }
            gpc_honoured = true;
        }
    }
    let subject = state.hasher.reference(&id);
    let outcome = recording::record(
        &state,
        recording::Request {
            subject,
            choices,
            policy_version: &req.policy_version,
            language: &language,
            ip_truncated: ip.map(truncate_ip),
            method: source,
        },
    )
    .await?;
    let status = if outcome.events.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        axum::Json(ConsentAnswer {
            receipt: outcome.receipt,
            events: outcome.events,
            gpc_honoured,
        }),
    ))
}

fn check_purposes<'a>(
    state: &AppState,
    ids: impl Iterator<Item = &'a String>,
) -> Result<(), ApiError> {
    let known: Vec<&String> = state.engine.consent_purposes().iter().collect();
    for id in ids {
        if state.engine.consent_slot(id).is_some() {
            continue;
        }
        let (code, why) = match state.policy.purpose(id) {
            Some(p) => (
                "not_consent_purpose",
                format!(
                    "`{id}` rests on {}, not consent; it cannot be chosen",
                    p.legal_basis.label().to_lowercase()
                ),
            ),
            None => (
                "unknown_purpose",
                format!(
                    "unknown purpose `{}`",
                    id.chars().take(40).collect::<String>()
                ),
            ),
        };
        let names: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
        return Err(ApiError::Unprocessable {
            code,
            detail: format!("{why}; consent purposes: {}", names.join(", ")),
            extra: Some(json!({ "known": names })),
        });
    }
    Ok(())
}

pub fn pick_language(state: &AppState, asked: Option<&str>) -> String {
    let langs = &state.policy.policy.languages;
    asked
        .map(|a| a.split(['-', '_']).next().unwrap_or(a).to_ascii_lowercase())
        .filter(|a| langs.contains(a))
        .or_else(|| langs.first().cloned())
        .unwrap_or_else(|| "en".into())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    pub device_id: Option<String>,
    pub email: Option<String>,
    pub user_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PurposeState {
    pub purpose: String,
    /// `true` given, `false` refused or withdrawn, `null` never asked.
    pub given: Option<bool>,
    pub at: Option<String>,
    pub policy_version: Option<String>,
    pub source: Option<String>,
    pub notice_hash: Option<String>,
    /// The purpose changed since the choice was made: ask again.
    pub must_reask: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    pub policy_version: String,
    pub must_reask: bool,
    pub purposes: Vec<PurposeState>,
}

/// The current choice per consent purpose. Public for device ids; by e-mail or user id with
/// a service or DPO token.
#[utoipa::path(get, path = "/v1/consent", tag = "consent", params(ReadQuery),
    responses((status = 200, body = ConsentView), (status = 401, body = crate::error::Problem)))]
pub async fn read(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<ReadQuery>,
) -> Result<axum::Json<ConsentView>, ApiError> {
    let input = SubjectInput {
        email: q.email,
        user_id: q.user_id,
        device_id: q.device_id,
    };
    let id = input.parse()?;
    if id.kind() != IdKind::DeviceId {
        state
            .tokens
            .authorize(&state.store, &headers, &[Role::Service, Role::Dpo])
            .await?;
    }
    let subject = state.hasher.reference(&id);
    Ok(axum::Json(view_of(&state, &subject).await?))
}

/// Current consent of one subject as the API shows it.
pub async fn view_of(state: &AppState, subject: &SubjectRef) -> Result<ConsentView, ApiError> {
    let rows = state.store.consent_state_of(subject).await?;
    let active = &state.policy.policy.version;
    let purposes: Vec<PurposeState> = state
        .engine
        .consent_purposes()
        .iter()
        .map(|p| match rows.iter().find(|r| &r.purpose == p) {
            Some(r) => PurposeState {
                purpose: p.clone(),
                given: Some(r.given),
                at: Some(rfc3339(r.updated_at)),
                must_reask: &r.policy_version != active
                    && state
                        .reask
                        .get(&r.policy_version)
                        .is_some_and(|s| s.contains(p)),
                policy_version: Some(r.policy_version.clone()),
                source: Some(r.source.as_str().to_owned()),
                notice_hash: r.notice_hash.clone(),
            },
            None => PurposeState {
                purpose: p.clone(),
                given: None,
                at: None,
                policy_version: None,
                source: None,
                notice_hash: None,
                must_reask: false,
            },
        })
        .collect();
    Ok(ConsentView {
        policy_version: active.clone(),
        must_reask: purposes.iter().any(|p| p.must_reask),
        purposes,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub device_id: String,
    /// The account: `{"email": …}` or `{"user_id": …}`.
    pub account: SubjectInput,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkAnswer {
    /// Events written to carry the newer choices over.
    pub events: Vec<RecordedEvent>,
}

/// Joins a device to an account when the visitor signs in: for each purpose the newer choice
/// of the two wins and is recorded on the other; later choices on either apply to both.
#[utoipa::path(post, path = "/v1/consent/link", tag = "consent", request_body = LinkRequest,
    security(("bearer" = [])),
    responses((status = 200, body = LinkAnswer), (status = 401, body = crate::error::Problem)))]
pub async fn link(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Json(req): Json<LinkRequest>,
) -> Result<axum::Json<LinkAnswer>, ApiError> {
    state
        .tokens
        .authorize(&state.store, &headers, &[Role::Service])
        .await?;
    let device = custodian_core::subject::SubjectId::parse(IdKind::DeviceId, &req.device_id)
        .map_err(|e| ApiError::unprocessable("invalid_subject", e.to_string()))?;
    let account = req.account.parse()?;
    if account.kind() == IdKind::DeviceId {
        return Err(ApiError::unprocessable(
            "invalid_subject",
            "`account` must be an e-mail or a user id",
        ));
    }
    let (d, a) = (
        state.hasher.reference(&device),
        state.hasher.reference(&account),
    );
    let now = state.clock.now_micros();
    let (dev_rows, acc_rows) = (
        state.store.consent_state_of(&d).await?,
        state.store.consent_state_of(&a).await?,
    );
    // For each purpose, the side whose choice is newer wins; write it to the other side.
    let mut carry: Vec<(SubjectRef, Wanted, String)> = Vec::new();
    for p in state.engine.consent_purposes() {
        let dv = dev_rows.iter().find(|r| &r.purpose == p);
        let av = acc_rows.iter().find(|r| &r.purpose == p);
        let (target, winner) = match (dv, av) {
            (Some(x), Some(y)) if x.given == y.given => continue,
            (Some(x), Some(y)) if x.updated_at >= y.updated_at => (a, x),
            (Some(_), Some(y)) => (d, y),
            (Some(x), None) => (a, x),
            (None, Some(y)) => (d, y),
            (None, None) => continue,
        };
        carry.push((
            target,
            Wanted {
                purpose: p.clone(),
                given: winner.given,
                source: Source::Link,
            },
            winner.policy_version.clone(),
        ));
    }
    state.store.link_subjects(&d, &a, now).await?;
    let mut events = Vec::new();
    for (target, want, version) in carry {
        let version = if state.policy_of(&version).is_some() {
            version
        } else {
            state.policy.policy.version.clone()
        };
        // Recorded before the link is live in memory, so it is written to `target` alone.
        let lang = pick_language(&state, None);
        let out = recording::record(
            &state,
            recording::Request {
                subject: target,
                choices: vec![want],
                policy_version: &version,
                language: &lang,
                ip_truncated: None,
                method: Source::Link,
            },
        )
        .await?;
        events.extend(out.events);
    }
    state.add_link(d, a);
    Ok(axum::Json(LinkAnswer { events }))
}

/// Rebuilds a consent receipt from the ledger (service or DPO token).
#[utoipa::path(get, path = "/v1/receipts/{id}", tag = "consent", security(("bearer" = [])),
    params(("id" = String, Path, description = "Receipt id")),
    responses((status = 200, description = "The receipt", content_type = "application/json"), (status = 404, body = crate::error::Problem)))]
pub async fn receipt(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    state
        .tokens
        .authorize(&state.store, &headers, &[Role::Service, Role::Dpo])
        .await?;
    let events = state.store.receipt_events(&id).await?;
    let first = events.first().ok_or(ApiError::NotFound)?;
    let policy = state
        .policy_of(&first.policy_version)
        .unwrap_or(&state.policy);
    let r = receipt::build(
        policy,
        ReceiptInput {
            receipt_id: &id,
            at_micros: first.created_at,
            source: first.source.as_str(),
            subject_ref: &first.subject.to_hex(),
            language: policy
                .policy
                .languages
                .first()
                .map(String::as_str)
                .unwrap_or("en"),
            jurisdiction: "EU GDPR / UK GDPR",
            choices: events
                .iter()
                .filter(|e| e.subject == first.subject)
                .map(|e| Choice {
                    purpose: &e.purpose,
                    given: e.given,
                    notice_hash: e.notice_hash.as_deref(),
                    event_id: &e.id,
                    event_hash: &e.link.hash,
                })
                .collect(),
        },
    );
    Ok(axum::Json(serde_json::to_value(r).unwrap_or_default()))
}

/// The Global Privacy Control support statement (GPC spec, §5).
#[utoipa::path(get, path = "/.well-known/gpc.json", tag = "consent",
    responses((status = 200, description = "GPC support", content_type = "application/json")))]
pub async fn gpc_json(State(state): State<SharedState>) -> impl IntoResponse {
    axum::Json(json!({ "gpc": true, "lastUpdate": state.policy.policy.effective_date }))
}

/// Whether a subject's consent for `purpose` is currently given (for pages rendered here).
pub fn is_given(state: &AppState, subject: &SubjectRef, purpose: &str) -> Option<bool> {
    let slot = state.engine.consent_slot(purpose)?;
    match state.consents.status(subject, slot) {
        ConsentStatus::Given => Some(true),
        ConsentStatus::Withdrawn => Some(false),
        ConsentStatus::Unknown => None,
    }
}
