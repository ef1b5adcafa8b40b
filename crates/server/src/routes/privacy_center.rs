//! The privacy centre at `/privacy-center`: where a person reads the notice, sees and changes
//! every consent, starts a data-subject request and unsubscribes.
//!
//! Server-rendered HTML that needs no JavaScript: plain forms, each answered with a redirect
//! to a page (POST-redirect-GET). Every page goes out under a strict Content-Security-Policy
//! with our own stylesheet only (`page.rs`); every form POST carries a signed CSRF token
//! (`guard.rs`). The words around the policy's texts are in `text.rs`, in English and German.
//! Handlers hold no rules: consent goes through `recording::record`, requests through
//! `requests::intake` and `requests::verify`, exactly as the JSON API does.

pub mod consents;
pub mod guard;
pub mod notices;
pub mod page;
pub mod requests;
pub mod signin;
pub mod templates;
pub mod text;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use self::page::{Page, Tab};
use self::text::texts;
use crate::html::escape;
use crate::state::SharedState;

/// A page's query or a form's fields, in order.
pub type Fields = Vec<(String, String)>;

pub fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The hidden fields every form carries: the CSRF token and the page's language.
pub fn hidden(token: &str, lang: &str) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}"><input type="hidden" name="lang" value="{}">"#,
        escape(token),
        escape(lang)
    )
}

/// The privacy centre's home: what a person can do here.
#[utoipa::path(get, path = "/privacy-center", tag = "privacy centre",
    params(("lang" = Option<String>, Query, description = "`en` or `de`; else from Accept-Language")),
    responses((status = 200, description = "The privacy centre", content_type = "text/html")))]
pub async fn home(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let lang = guard::language(&state, &headers, field(&q, "lang"));
    let t = texts(&lang);
    let mut body = templates::home(t, &lang);
    // Notices before changes come first while they are shown (issue 13): mandatory ones
    // always, optional ones unless the signed-in person turned them off.
    let show_optional = match guard::session(&state, &headers).await {
        Some(s) => custodian_app::announce::preferences(&state, &s)
            .await
            .map(|p| p.optional_site)
            .unwrap_or(true),
        None => true,
    };
    if !custodian_app::announce::on_site(&state, &lang, show_optional).is_empty() {
        let w = notices::words(&lang);
        body = notices::list(&state, &lang, show_optional, &w) + &body;
    }
    let html = page::render(
        &state,
        &Page {
            lang: &lang,
            title: t.centre,
            tab: Tab::Home,
            here: "/privacy-center",
            body,
        },
    );
    page::respond(StatusCode::OK, &lang, html, Vec::new())
}

/// How to stop e-mails: one-click links, and for a confirmed address a button per consent.
#[utoipa::path(get, path = "/privacy-center/unsubscribe", tag = "privacy centre",
    params(("lang" = Option<String>, Query)),
    responses((status = 200, description = "How to unsubscribe", content_type = "text/html")))]
pub async fn unsubscribe(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let lang = guard::language(&state, &headers, field(&q, "lang"));
    let t = texts(&lang);
    let (seed, new_seed) = guard::csrf_seed(&headers);
    let token = guard::csrf_token(&state, &seed);
    let mut body = templates::unsubscribe_intro(t, &lang);
    if let Some(subject) = guard::session(&state, &headers).await {
        let view = match custodian_app::consent::view(&state, &subject).await {
            Ok(v) => v,
            Err(e) => {
                let (status, msg) = page::explain(t, &e);
                return page::error_page(&state, &lang, status, t.error_title, &msg);
            }
        };
        let given: Vec<(String, String)> = view
            .purposes
            .iter()
            .filter(|p| p.given == Some(true))
            .map(|p| {
                let label = templates::label(&state, &p.purpose, &lang);
                (p.purpose.clone(), label)
            })
            .collect();
        body.push_str(&templates::withdraw_buttons(t, &lang, &token, &given));
    }
    let html = page::render(
        &state,
        &Page {
            lang: &lang,
            title: t.unsubscribe,
            tab: Tab::Unsubscribe,
            here: "/privacy-center/unsubscribe",
            body,
        },
    );
    page::respond(
        StatusCode::OK,
        &lang,
        html,
        guard::csrf_cookies(&state, &seed, new_seed),
    )
}

/// The privacy centre's stylesheet (a file of its own, so the pages need no inline style).
#[utoipa::path(get, path = "/assets/privacy-center.css", tag = "privacy centre",
    responses((status = 200, description = "Stylesheet of the privacy centre", content_type = "text/css")))]
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("../../../../web/privacy-center.css"),
    )
}
