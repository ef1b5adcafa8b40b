//! Seeing and changing consent: for this browser (the banner's device id) and, once the
//! visitor has confirmed an e-mail address with a code, for that address.
//!
//! Changes are recorded through `recording::record` with source `privacy_center`, exactly as
//! `POST /v1/consent` records them, `Sec-GPC: 1` included; a device's choices are also
//! written back into the banner's cookie, so the banner on this origin agrees with the ledger.

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use custodian_core::subject::SubjectRef;

use super::guard::{self, Device};
use super::page::{self, Page, Tab};
use super::templates;
use super::text::texts;
use super::{field, Fields};
use crate::routes::consent::{gpc_signal, ClientIp};
use crate::state::{AppState, SharedState};
use custodian_app::consent;

/// Every consent purpose, with this browser's and the confirmed address's choices.
#[utoipa::path(get, path = "/privacy-center/consents", tag = "privacy centre",
    params(("lang" = Option<String>, Query)),
    responses((status = 200, description = "The visitor's consents, with forms to change them", content_type = "text/html")))]
pub async fn show(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let lang = guard::language(&state, &headers, field(&q, "lang"));
    let t = texts(&lang);
    let (seed, new_seed) = guard::csrf_seed(&headers);
    let token = guard::csrf_token(&state, &seed);
    let mut body = format!(r#"<p class="lead">{}</p>"#, t.consents_intro);
    match field(&q, "saved") {
        Some("1") => body.push_str(&page::notice(true, t.saved)),
        Some("none") => body.push_str(&page::notice(true, t.nothing_changed)),
        _ => {}
    }
    if field(&q, "signed_out") == Some("1") {
        body.push_str(&page::notice(true, t.signed_out));
    }
    if gpc_signal(&headers) {
        let names: Vec<String> = state
            .engine
            .gpc_purposes()
            .map(|p| templates::label(&state, p, &lang))
            .collect();
        body.push_str(&templates::gpc_note(t, &names));
    }

    let device = guard::device(&headers);
    let device_view = match &device {
        Some(d) => consent::view(&state, &state.hasher.reference(&d.id)).await,
        None => Ok(consent::view_of_nobody(&state)),
    };
    let device_view = match device_view {
        Ok(v) => v,
        Err(e) => return failure(&state, &lang, &e),
    };
    let account_form = match guard::session(&state, &headers).await {
        Some(s) => match consent::view(&state, &s).await {
            Ok(view) => Some(templates::choice_form(
                &state, t, &lang, &token, "account", &view,
            )),
            Err(e) => return failure(&state, &lang, &e),
        },
        None => None,
    };
    let device_form = templates::choice_form(&state, t, &lang, &token, "device", &device_view);
    body.push_str(&templates::device_section(
        t,
        device.is_some(),
        &device_form,
    ));
    body.push_str(&templates::account_section(
        t,
        &lang,
        &token,
        account_form.as_deref(),
    ));
    let html = page::render(
        &state,
        &Page {
            lang: &lang,
            title: t.consents,
            tab: Tab::Consents,
            here: "/privacy-center/consents",
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

pub(super) fn failure(state: &AppState, lang: &str, e: &custodian_app::AppError) -> Response {
    let t = texts(lang);
    let (status, msg) = page::explain(t, e);
    page::error_page(state, lang, status, t.error_title, &msg)
}

/// Saves the choices of one form (this browser's or the confirmed address's).
#[utoipa::path(post, path = "/privacy-center/consents", tag = "privacy centre",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`csrf`, `lang`, `for` (`device` or `account`) and `choice.{purpose}` = `yes` | `no`"),
    responses((status = 303, description = "Saved; back to the consents page"),
        (status = 403, description = "The CSRF check failed", content_type = "text/html"),
        (status = 422, description = "An unknown purpose or value", content_type = "text/html"),
        (status = 429, description = "Too many writes from this client", content_type = "text/html")))]
pub async fn save(
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
    let (subject, device): (SubjectRef, Option<Device>) = match field(&fields, "for") {
        Some("account") => match guard::session(&state, &headers).await {
            Some(s) => (s, None),
            None => {
                return page::error_page(
                    &state,
                    &lang,
                    StatusCode::UNAUTHORIZED,
                    t.sign_in_title,
                    t.session_expired,
                )
            }
        },
        Some("device") => {
            let d = guard::device(&headers).unwrap_or_else(|| guard::new_device(&state));
            (state.hasher.reference(&d.id), Some(d))
        }
        _ => {
            return page::error_page(
                &state,
                &lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                t.error_title,
                t.invalid_form,
            )
        }
    };
    let Some(chosen) = chosen_of(&fields) else {
        return page::error_page(
            &state,
            &lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.error_title,
            t.invalid_form,
        );
    };
    let anchor = if device.is_some() {
        "device"
    } else {
        "account"
    };
    let recorded =
        consent::record_privacy_centre(&state, subject, chosen, gpc_signal(&headers), &lang, ip)
            .await;
    let (choices, outcome) = match recorded {
        Ok((choices, Some(outcome))) => (choices, outcome),
        Ok((_, None)) => return back(&lang, "none", anchor, Vec::new()),
        Err(e) => return failure(&state, &lang, &e),
    };
    let mut cookies = Vec::new();
    if let Some(d) = &device {
        let chosen: Vec<(String, bool)> = choices
            .iter()
            .map(|c| (c.purpose.clone(), c.given))
            .collect();
        cookies.push(guard::device_cookie(&state, d, &chosen));
    }
    let saved = if outcome.events.is_empty() {
        "none"
    } else {
        "1"
    };
    back(&lang, saved, anchor, cookies)
}

/// Back to the consents page, at the form just saved, saying whether anything changed.
fn back(lang: &str, saved: &str, anchor: &str, cookies: Vec<String>) -> Response {
    page::see_other(
        &format!(
            "{}&saved={saved}#{anchor}",
            page::with_lang("/privacy-center/consents", lang)
        ),
        cookies,
    )
}

/// The form's `choice.{purpose}` = `yes` | `no` fields, the last one of a purpose winning;
/// `None` for any other value. Whether the policy offers each purpose is the use case's to
/// check (it answers with the same page).
fn chosen_of(fields: &Fields) -> Option<Vec<(String, bool)>> {
    let mut chosen: Vec<(String, bool)> = Vec::new();
    for (k, v) in fields {
        let Some(purpose) = k.strip_prefix("choice.") else {
            continue;
        };
        let given = match v.as_str() {
            "yes" => true,
            "no" => false,
            _ => return None,
        };
        chosen.retain(|(p, _)| p != purpose);
        chosen.push((purpose.to_owned(), given));
    }
    Some(chosen)
}
