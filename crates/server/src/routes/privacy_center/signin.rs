//! Signing in to the privacy centre with an e-mail address: a 6-digit code is mailed, and
//! the right code gives this browser a 30-minute session for the address (to see and change
//! the choices recorded for it). The same answers whether or not the address is known. A
//! sign-in is used once, and signing out ends the session on the server (`app::signin`).

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use custodian_app::{signin, AppError};
use custodian_core::subject::{IdKind, SubjectId};

use super::consents::failure;
use super::guard;
use super::page::{self, Page, Tab};
use super::templates;
use super::text::texts;
use super::{field, Fields};
use crate::routes::consent::ClientIp;
use crate::state::{AppState, SharedState};

#[allow(clippy::too_many_arguments)]
fn sign_in_page(
    state: &AppState,
    lang: &str,
    status: StatusCode,
    message: Option<(bool, &str)>,
    pending: bool,
    code: &str,
    cookies: Vec<String>,
    headers: &HeaderMap,
) -> Response {
    let t = texts(lang);
    let (seed, new_seed) = guard::csrf_seed(headers);
    let token = guard::csrf_token(state, &seed);
    let mut body = message
        .map(|(ok, m)| page::notice(ok, m))
        .unwrap_or_default();
    if pending {
        let minutes = state.policy.requests.verification_code_minutes;
        body.push_str(&templates::code_form(t, lang, &token, minutes, code));
    } else {
        body.push_str(&templates::sign_in_intro(t, lang, &token));
    }
    let html = page::render(
        state,
        &Page {
            lang,
            title: t.sign_in_title,
            tab: Tab::Consents,
            here: "/privacy-center/sign-in",
            body,
        },
    );
    let mut all = guard::csrf_cookies(state, &seed, new_seed);
    all.extend(cookies);
    page::respond(status, lang, html, all)
}

/// Sends a 6-digit code to the address; the same answer whether or not it is known.
#[utoipa::path(post, path = "/privacy-center/sign-in", tag = "privacy centre",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `lang`, `email`"),
    responses((status = 303, description = "A code was sent; on to the code page"),
        (status = 403, description = "The CSRF check failed", content_type = "text/html"),
        (status = 422, description = "Not an e-mail address", content_type = "text/html"),
        (status = 429, description = "Too many codes asked for", content_type = "text/html")))]
pub async fn start_sign_in(
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
    let Ok(id) = SubjectId::parse(IdKind::Email, field(&fields, "email").unwrap_or("")) else {
        return sign_in_page(
            &state,
            &lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((false, t.invalid_email)),
            false,
            "",
            Vec::new(),
            &headers,
        );
    };
    let minutes = i64::from(state.policy.requests.verification_code_minutes);
    let here = page::with_lang("/privacy-center/sign-in", &lang);
    let started = match signin::start(&state, &id, ip, &lang, &here).await {
        Ok(s) => s,
        Err(AppError::RateLimited { .. }) => {
            return page::error_page(
                &state,
                &lang,
                StatusCode::TOO_MANY_REQUESTS,
                t.error_title,
                t.rate_limited,
            )
        }
        Err(e) => return failure(&state, &lang, &e),
    };
    page::see_other(
        &here,
        vec![guard::pending_cookie(
            &state,
            &started.subject,
            &started.nonce,
            &started.code,
            minutes,
        )],
    )
}

/// The page to enter the code (prefilled from the e-mailed link); a GET changes nothing.
#[utoipa::path(get, path = "/privacy-center/sign-in", tag = "privacy centre",
    params(("code" = Option<String>, Query, description = "Prefills the code"), ("lang" = Option<String>, Query)),
    responses((status = 200, description = "The code form", content_type = "text/html")))]
pub async fn sign_in_form(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let lang = guard::language(&state, &headers, field(&q, "lang"));
    let t = texts(&lang);
    let code: String = field(&q, "code")
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    let pending = guard::pending(&headers).is_some();
    let message = (!pending).then_some((false, t.no_pending));
    sign_in_page(
        &state,
        &lang,
        StatusCode::OK,
        message,
        pending,
        &code,
        Vec::new(),
        &headers,
    )
}

/// Checks the code; a right one gives this browser a 30-minute session for the address.
#[utoipa::path(post, path = "/privacy-center/sign-in/code", tag = "privacy centre",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `lang`, `code`"),
    responses((status = 303, description = "Confirmed; on to the consents"),
        (status = 400, description = "No sign-in waiting on this browser", content_type = "text/html"),
        (status = 403, description = "The CSRF check failed", content_type = "text/html"),
        (status = 410, description = "The code expired or was already used", content_type = "text/html"),
        (status = 422, description = "A wrong code", content_type = "text/html"),
        (status = 429, description = "Too many wrong codes", content_type = "text/html")))]
pub async fn finish_sign_in(
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
    let page = |status, message: &str, pending, cookies| {
        sign_in_page(
            &state,
            &lang,
            status,
            Some((false, message)),
            pending,
            "",
            cookies,
            &headers,
        )
    };
    let Some(pending) = guard::pending(&headers) else {
        return page(StatusCode::BAD_REQUEST, t.no_pending, false, Vec::new());
    };
    let clear = || guard::own_cookie(&state, guard::PENDING_COOKIE, None, 0);
    let subject = match signin::try_code(&state, &pending.nonce, ip).await {
        Ok(subject) => subject,
        Err(AppError::RateLimited { .. }) => {
            return page(
                StatusCode::TOO_MANY_REQUESTS,
                t.rate_limited,
                false,
                vec![clear()],
            )
        }
        Err(AppError::Gone { .. }) => {
            return page(StatusCode::GONE, t.code_expired, false, vec![clear()])
        }
        Err(e) => return failure(&state, &lang, &e),
    };
    let code = field(&fields, "code").unwrap_or("");
    match pending.check(&state, &subject, code) {
        Ok(()) => match signin::finish(&state, &pending.nonce).await {
            Ok(token) => page::see_other(
                &format!(
                    "{}#account",
                    page::with_lang("/privacy-center/consents", &lang)
                ),
                vec![guard::session_cookie(&state, &token), clear()],
            ),
            Err(AppError::Gone { .. }) => {
                page(StatusCode::GONE, t.code_expired, false, vec![clear()])
            }
            Err(e) => failure(&state, &lang, &e),
        },
        Err(custodian_core::signed::LinkError::Expired) => {
            page(StatusCode::GONE, t.code_expired, false, vec![clear()])
        }
        Err(custodian_core::signed::LinkError::Invalid) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            t.wrong_code,
            true,
            Vec::new(),
        ),
    }
}

/// Ends the e-mail session, on the server and on this browser.
#[utoipa::path(post, path = "/privacy-center/sign-out", tag = "privacy centre",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `lang`"),
    responses((status = 303, description = "Signed out"), (status = 403, description = "The CSRF check failed", content_type = "text/html")))]
pub async fn sign_out(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: Result<Form<Fields>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (_, lang) = match guard::posted(&state, &headers, form) {
        Ok(posted) => posted,
        Err(refused) => return refused,
    };
    if let Some(token) = guard::session_token(&headers) {
        if let Err(e) = signin::sign_out(&state, token).await {
            return failure(&state, &lang, &e);
        }
    }
    page::see_other(
        &format!(
            "{}&signed_out=1",
            page::with_lang("/privacy-center/consents", &lang)
        ),
        vec![guard::own_cookie(&state, guard::SESSION_COOKIE, None, 0)],
    )
}
