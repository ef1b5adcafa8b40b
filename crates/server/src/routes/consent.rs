//! Consent: record choices (banner, privacy centre, API), read them back, link a device to an
//! account, rebuild receipts, and the Global Privacy Control statement.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use custodian_app::consent;
pub use custodian_app::consent::{ConsentView, PurposeState};
use custodian_app::recording::RecordedEvent;
use custodian_core::json_out::JsonOut;
use custodian_core::subject::IdKind;
use custodian_core::token::Role;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::routes::decide::SubjectInput;
use crate::state::SharedState;

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
#[schema(example = json!({"subject": {"device_id": "demo-device-0001"}, "choices": {"analytics": true, "advertising": false}, "policy_version": "2018-05-25", "source": "banner"}))]
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
    security((), ("bearer" = [])),
    responses((status = 201, body = ConsentAnswer, description = "Choices recorded"),
        (status = 200, body = ConsentAnswer, description = "Nothing changed"),
        (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem, description = "Too many anonymous writes from this client; see `Retry-After`")))]
pub async fn write(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Json(req): Json<ConsentRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let id = req.subject.parse()?;
    if id.kind() != IdKind::DeviceId {
        crate::auth::authorize(&state, &headers, &[Role::Service, Role::Dpo]).await?;
    }
    let recorded = consent::record(
        &state,
        consent::CallerChoices {
            subject: state.hasher.reference(&id),
            choices: &req.choices,
            policy_version: &req.policy_version,
            source: &req.source,
            language: req.language.as_deref(),
            gpc: gpc_signal(&headers),
            client: ip,
            identity: Some(&id),
        },
    )
    .await?;
    let status = if recorded.outcome.events.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let answer = ConsentAnswer {
        receipt: recorded.outcome.receipt,
        events: recorded.outcome.events,
        gpc_honoured: recorded.gpc_honoured,
    };
    Ok((status, answer.into_json()))
}

/// A consent answer's usual size: its buffer is made this large once, instead of growing
/// from axum's 128 bytes through five reallocations and copies (issue 17).
const ANSWER_SIZE: usize = 4096;
/// The headers of a consent answer: its type, `Vary`, `Access-Control-Allow-Origin`, five
/// security headers, its length, and room for `Strict-Transport-Security` and an outage mark.
const ANSWER_HEADERS: usize = 12;

impl ConsentAnswer {
    /// The answer as a JSON response: the same bytes as its `Serialize` gives, written by hand
    /// (`custodian_core::json_out`: a tenth of a write's instructions went to serde here).
    fn into_json(self) -> axum::response::Response {
        let mut body = Vec::with_capacity(ANSWER_SIZE);
        self.write_json(&mut JsonOut(&mut body));
        let mut res = axum::response::Response::new(axum::body::Body::from(body));
        // Room for the headers added on the way out (CORS, the security headers, the length):
        // one table, not one grown and copied on the seventh.
        *res.headers_mut() = HeaderMap::with_capacity(ANSWER_HEADERS);
        res.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
        res
    }

    fn write_json(&self, o: &mut JsonOut<'_>) {
        o.raw("{\"receipt\":");
        self.receipt.write_json(o);
        o.raw(",\"events\":[");
        for (i, e) in self.events.iter().enumerate() {
            if i > 0 {
                o.raw(",");
            }
            e.write_json(o);
        }
        o.raw("],\"gpc_honoured\":");
        o.bool(self.gpc_honoured);
        o.raw("}");
    }
}

/// `value` as a JSON response, written into a buffer of `capacity` bytes to begin with.
fn json_sized<T: Serialize>(value: &T, capacity: usize) -> axum::response::Response {
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        // As axum's `Json` does: a value that cannot be written is the server's fault.
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    pub device_id: Option<String>,
    pub email: Option<String>,
    pub user_id: Option<String>,
}

/// The current choice per consent purpose. Public for device ids; by e-mail or user id with
/// a service or DPO token.
#[utoipa::path(get, path = "/v1/consent", tag = "consent", params(ReadQuery),
    security((), ("bearer" = [])),
    responses((status = 200, body = ConsentView), (status = 401, body = crate::error::Problem),
        (status = 422, description = "No identifier, several, or an invalid one", body = crate::error::Problem)))]
pub async fn read(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<ReadQuery>,
) -> Result<axum::response::Response, ApiError> {
    let input = SubjectInput {
        email: q.email,
        user_id: q.user_id,
        device_id: q.device_id,
    };
    let id = input.parse()?;
    if id.kind() != IdKind::DeviceId {
        crate::auth::authorize(&state, &headers, &[Role::Service, Role::Dpo]).await?;
    }
    let subject = state.hasher.reference(&id);
    let view = consent::view(&state, &subject).await?;
    Ok(json_sized(&view, VIEW_SIZE))
}

/// A consent view's usual size (911 bytes for the example policy's six purposes): axum's
/// `Json` starts at 128 bytes and grew four times (issue 17).
const VIEW_SIZE: usize = 1024;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"device_id": "demo-device-0001", "account": {"email": "ada@example.com"}}))]
pub struct DeviceLinkRequest {
    pub device_id: String,
    /// The account: `{"email": …}` or `{"user_id": …}`.
    pub account: SubjectInput,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceLinkAnswer {
    /// Events written to carry the newer choices over.
    pub events: Vec<RecordedEvent>,
}

/// Joins a device to an account when the visitor signs in: for each purpose the newer choice
/// of the two wins and is recorded on the other; later choices on either apply to both.
#[utoipa::path(post, path = "/v1/consent/link", tag = "consent", request_body = DeviceLinkRequest,
    security(("bearer" = [])),
    responses((status = 200, body = DeviceLinkAnswer), (status = 401, body = crate::error::Problem)))]
pub async fn link(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Json(req): Json<DeviceLinkRequest>,
) -> Result<axum::Json<DeviceLinkAnswer>, ApiError> {
    crate::auth::authorize(&state, &headers, &[Role::Service]).await?;
    let device = custodian_core::subject::SubjectId::parse(IdKind::DeviceId, &req.device_id)
        .map_err(|e| ApiError::unprocessable("invalid_subject", e.to_string()))?;
    let account = req.account.parse()?;
    if account.kind() == IdKind::DeviceId {
        return Err(ApiError::unprocessable(
            "invalid_subject",
            "`account` must be an e-mail or a user id",
        ));
    }
    let events = consent::link(
        &state,
        state.hasher.reference(&device),
        state.hasher.reference(&account),
    )
    .await?;
    Ok(axum::Json(DeviceLinkAnswer { events }))
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
    crate::auth::authorize(&state, &headers, &[Role::Service, Role::Dpo]).await?;
    let r = consent::receipt(&state, &id).await?;
    Ok(axum::Json(serde_json::to_value(r).unwrap_or_default()))
}

/// The Global Privacy Control support statement (GPC spec, §5).
#[utoipa::path(get, path = "/.well-known/gpc.json", tag = "consent",
    responses((status = 200, description = "GPC support", content_type = "application/json")))]
pub async fn gpc_json(State(state): State<SharedState>) -> impl IntoResponse {
    axum::Json(json!({ "gpc": true, "lastUpdate": state.policy.policy.effective_date }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use custodian_core::receipt::{build, Choice, ReceiptInput};

    fn event(i: i64, purpose: &str, given: bool) -> RecordedEvent {
        RecordedEvent {
            id: format!("evt_{i}"),
            subject_ref: "ab".repeat(32),
            purpose: purpose.into(),
            given,
            source: "banner".into(),
            chain: 15,
            seq: i * 1_000_003,
            hash: "cd".repeat(32),
        }
    }

    /// The answer written by hand is the one serde writes, byte for byte: with no event, one,
    /// several, and texts that need escaping.
    #[test]
    fn the_answer_written_by_hand_is_the_bytes_serde_writes() {
        let policy = custodian_policy::example();
        let choices = vec![
            Choice {
                purpose: "analytics",
                given: true,
                notice_hash: Some("sha256:00"),
                event_id: "evt_1",
                event_hash: "h",
            },
            Choice {
                purpose: "not \"in\" the policy\n",
                given: false,
                notice_hash: None,
                event_id: "evt_2",
                event_hash: "h2",
            },
        ];
        let receipt = build(
            &policy,
            ReceiptInput {
                receipt_id: "rcpt_1",
                at_micros: 1_700_000_000_123_456,
                source: "banner",
                subject_ref: "ab",
                language: "en",
                jurisdiction: "EU GDPR / UK GDPR",
                choices,
            },
        );
        let answers = [
            (vec![], false),
            (vec![event(1, "analytics", true)], true),
            (
                vec![
                    event(1, "analytics", true),
                    event(2, "tab\there \\ and \u{7}", false),
                    event(-3, "ünï", true),
                ],
                false,
            ),
        ];
        for (events, gpc_honoured) in answers {
            let answer = ConsentAnswer {
                receipt: receipt.clone(),
                events,
                gpc_honoured,
            };
            let mut by_hand = Vec::new();
            answer.write_json(&mut JsonOut(&mut by_hand));
            assert_eq!(
                String::from_utf8(by_hand).unwrap(),
                serde_json::to_string(&answer).unwrap()
            );
        }
    }
}
