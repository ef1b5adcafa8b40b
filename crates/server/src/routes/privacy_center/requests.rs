//! Starting a data-subject request from a form, and confirming it with the e-mailed code.
//!
//! The form goes through `requests::intake` (which mails a code and a link to
//! `/privacy-center/verify?request=…&code=…`), the confirmation through `requests::verify`,
//! as the JSON API does. The link only fills the form in: a GET never changes anything, so a
//! mail scanner that follows it confirms nothing. Answers never say whether the address is
//! known.

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use custodian_core::request::Kind;

use super::guard;
use super::page::{self, Page, Tab};
use super::templates;
use super::text::texts;
use super::{field, Fields};
use crate::routes::consent::ClientIp;
use crate::state::{AppState, SharedState};
use custodian_app::requests::{self, Intake};

fn form_page(
    state: &AppState,
    headers: &HeaderMap,
    lang: &str,
    status: StatusCode,
    error: Option<&str>,
    f: &templates::Filled,
) -> Response {
    let t = texts(lang);
    let (seed, new_seed) = guard::csrf_seed(headers);
    let token = guard::csrf_token(state, &seed);
    let body = templates::with_lead(
        t.requests_intro,
        error.map(|e| page::notice(false, e)),
        templates::request_form(state, t, lang, &token, f),
    );
    let html = page::render(
        state,
        &Page {
            lang,
            title: t.requests,
            tab: Tab::Requests,
            here: "/privacy-center/requests",
            body,
        },
    );
    page::respond(
        status,
        lang,
        html,
        guard::csrf_cookies(state, &seed, new_seed),
    )
}

/// The form to start a request.
#[utoipa::path(get, path = "/privacy-center/requests", tag = "privacy centre",
    params(("lang" = Option<String>, Query)),
    responses((status = 200, description = "The request form", content_type = "text/html")))]
pub async fn form(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let lang = guard::language(&state, &headers, field(&q, "lang"));
    form_page(
        &state,
        &headers,
        &lang,
        StatusCode::OK,
        None,
        &templates::Filled::default(),
    )
}

/// Takes the form in through `requests::intake`, then on to the code page.
#[utoipa::path(post, path = "/privacy-center/requests", tag = "privacy centre",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`csrf`, `lang`, `type`, `email`, `details`, `country`, `customer`"),
    responses((status = 303, description = "Taken in; a code was mailed"),
        (status = 403, description = "The CSRF check failed", content_type = "text/html"),
        (status = 422, description = "Something to correct; the form again", content_type = "text/html"),
        (status = 429, description = "Rate limited", content_type = "text/html")))]
pub async fn submit(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    form: Result<Form<Fields>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (fields, lang) = match guard::posted(&state, &headers, form) {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let t = texts(&lang);
    let opt = |name: &str| {
        field(&fields, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let filled = templates::Filled {
        kind: field(&fields, "type").unwrap_or(""),
        email: field(&fields, "email").unwrap_or(""),
        details: field(&fields, "details").unwrap_or(""),
        country: field(&fields, "country").unwrap_or(""),
        customer: field(&fields, "customer").unwrap_or(""),
    };
    let Some(kind) = Kind::parse(filled.kind) else {
        return form_page(
            &state,
            &headers,
            &lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(t.invalid_form),
            &filled,
        );
    };
    let taken = requests::intake(
        &state,
        Intake {
            kind,
            email: filled.email.to_owned(),
            details: opt("details").map(str::to_owned),
            country: opt("country").map(str::to_owned),
            language: Some(lang.clone()),
            customer: opt("customer").map(str::to_owned),
            purposes: Vec::new(),
        },
        ip,
    )
    .await;
    match taken {
        Ok(row) => page::see_other(
            &page::with_lang(&format!("/privacy-center/verify?request={}", row.id), &lang),
            Vec::new(),
        ),
        Err(e) => {
            let (status, msg) = page::explain(t, &e);
            form_page(&state, &headers, &lang, status, Some(&msg), &filled)
        }
    }
}

/// Request ids are ours (`req_` and hex); anything else is not worth a look-up.
fn request_id(raw: Option<&str>) -> Option<&str> {
    raw.filter(|r| {
        r.len() <= 64
            && r.strip_prefix("req_")
                .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

fn verify_page(
    state: &AppState,
    headers: &HeaderMap,
    lang: &str,
    status: StatusCode,
    error: Option<&str>,
    id: &str,
    code: &str,
) -> Response {
    let t = texts(lang);
    let (seed, new_seed) = guard::csrf_seed(headers);
    let token = guard::csrf_token(state, &seed);
    let body = templates::with_lead(
        t.verify_intro,
        error.map(|e| page::notice(false, e)),
        templates::verify_form(t, lang, &token, id, code),
    );
    let here = format!("/privacy-center/verify?request={id}");
    let html = page::render(
        state,
        &Page {
            lang,
            title: t.verify_title,
            tab: Tab::Requests,
            here: &here,
            body,
        },
    );
    page::respond(
        status,
        lang,
        html,
        guard::csrf_cookies(state, &seed, new_seed),
    )
}

/// The page the e-mailed link opens: the code filled in and a button. Changes nothing.
#[utoipa::path(get, path = "/privacy-center/verify", tag = "privacy centre",
    params(("request" = String, Query), ("code" = Option<String>, Query), ("lang" = Option<String>, Query)),
    responses((status = 200, description = "The confirmation form", content_type = "text/html"),
        (status = 400, description = "The link is incomplete", content_type = "text/html")))]
pub async fn verify_form(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let lang = guard::language(&state, &headers, field(&q, "lang"));
    let t = texts(&lang);
    let Some(id) = request_id(field(&q, "request")) else {
        return page::error_page(
            &state,
            &lang,
            StatusCode::BAD_REQUEST,
            t.verify_title,
            t.unknown_request,
        );
    };
    let code: String = field(&q, "code")
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    verify_page(&state, &headers, &lang, StatusCode::OK, None, id, &code)
}

/// Confirms the request with its code through `requests::verify`, then on to its signed
/// status page.
#[utoipa::path(post, path = "/privacy-center/verify", tag = "privacy centre",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `lang`, `request`, `code`"),
    responses((status = 303, description = "Confirmed; on to the signed status page"),
        (status = 403, description = "The CSRF check failed", content_type = "text/html"),
        (status = 404, description = "No such request", content_type = "text/html"),
        (status = 409, description = "Already confirmed", content_type = "text/html"),
        (status = 410, description = "The code expired", content_type = "text/html"),
        (status = 422, description = "A wrong code, with the attempts left", content_type = "text/html"),
        (status = 429, description = "Too many wrong codes", content_type = "text/html")))]
pub async fn verify(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: Result<Form<Fields>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (fields, lang) = match guard::posted(&state, &headers, form) {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    let t = texts(&lang);
    let Some(id) = request_id(field(&fields, "request")) else {
        return page::error_page(
            &state,
            &lang,
            StatusCode::NOT_FOUND,
            t.verify_title,
            t.unknown_request,
        );
    };
    let code = field(&fields, "code").unwrap_or("");
    match requests::verify(&state, id, code).await {
        Ok(row) => {
            // The status link is absolute for e-mails; here it stays on this origin so that
            // `form-action 'self'` holds whatever the public URL says.
            let link = requests::status_link(&state, &row.id);
            let local = link
                .strip_prefix(&state.public_url)
                .unwrap_or(&link)
                .to_owned();
            page::see_other(&local, Vec::new())
        }
        Err(e) => {
            let (status, msg) = page::explain(t, &e);
            if status == StatusCode::UNPROCESSABLE_ENTITY {
                verify_page(&state, &headers, &lang, status, Some(&msg), id, "")
            } else {
                page::error_page(&state, &lang, status, t.verify_title, &msg)
            }
        }
    }
}
