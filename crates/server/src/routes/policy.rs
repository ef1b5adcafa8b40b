//! The active policy, as JSON for programs and as the notice for people.

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use custodian_policy::Policy;
use serde_json::{json, Value};

use crate::state::SharedState;

/// The active policy as JSON: the file's content, plus `version`, `effective_date` and, for
/// each consent purpose, the notice texts and their hashes (what the banner shows and records).
#[utoipa::path(get, path = "/v1/policy", tag = "policy",
    responses((status = 200, description = "The active policy", content_type = "application/json")))]
pub async fn get_policy(State(state): State<SharedState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.rendered().policy_json.clone(),
    )
}

/// `?lang=` on the notice.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct NoticeQuery {
    /// `en` or `de`; else the `Accept-Language` header, else the policy's first language.
    pub lang: Option<String>,
}

/// The notice for people, rendered from the policy file, in the language asked for
/// (`?lang=`, else `Accept-Language`) among the policy's.
#[utoipa::path(get, path = "/privacy", tag = "policy", params(NoticeQuery),
    responses((status = 200, description = "The privacy notice", content_type = "text/html")))]
pub async fn notice(
    State(state): State<SharedState>,
    headers: axum::http::HeaderMap,
    crate::extract::Query(q): crate::extract::Query<NoticeQuery>,
) -> impl IntoResponse {
    let lang = crate::routes::privacy_center::guard::language(&state, &headers, q.lang.as_deref());
    let rendered = state.rendered();
    let page = rendered
        .notice_html
        .get(&lang)
        .or_else(|| rendered.notice_html.values().next())
        .cloned()
        .unwrap_or_default();
    let page = crate::routes::notices::with_notices(&state, &lang, page);
    ([(header::VARY, "accept-language")], Html(page))
}

/// The notice's stylesheet (a file of its own so a strict Content-Security-Policy holds).
#[utoipa::path(get, path = "/assets/notice.css", tag = "policy",
    responses((status = 200, description = "Stylesheet of the notice", content_type = "text/css")))]
pub async fn notice_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../../web/notice.css"),
    )
}

/// Builds the JSON document served at `/v1/policy`.
pub fn policy_document(policy: &Policy) -> Value {
    let consent_purposes: Vec<Value> = policy
        .consent_purposes()
        .map(|p| {
            let spec = p.consent.as_ref();
            let notices: serde_json::Map<String, Value> = policy
                .policy
                .languages
                .iter()
                .filter_map(|lang| {
                    let text = policy.notice_text(&p.id, lang)?;
                    Some((
                        lang.clone(),
                        json!({ "text": text, "hash": custodian_policy::notice_hash(text) }),
                    ))
                })
                .collect();
            json!({
                "id": p.id,
                "name": p.name,
                "label": spec.map(|s| &s.label),
                "banner": spec.is_some_and(|s| s.banner),
                "cookies": spec.map(|s| &s.cookies),
                "gpc_opt_out": p.gpc_opt_out,
                "notice": notices,
            })
        })
        .collect();
    let mut doc = serde_json::to_value(policy).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut doc {
        map.insert("version".into(), json!(policy.policy.version));
        map.insert("effective_date".into(), json!(policy.policy.effective_date));
        map.insert("consent_purposes".into(), Value::Array(consent_purposes));
    }
    doc
}
