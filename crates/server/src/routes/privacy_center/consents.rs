//! Seeing and changing consent: for this browser (the banner's device id) and, once the
//! visitor has confirmed an e-mail address with a code, for that address.
//!
//! Changes are recorded through `recording::record` with source `privacy_center`, exactly as
//! `POST /v1/consent` records them, `Sec-GPC: 1` included; a device's choices are also
//! written back into the banner's cookie, so the banner on this origin agrees with the ledger.

use std::net::IpAddr;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use custodian_core::subject::{IdKind, SubjectId, SubjectRef};
use custodian_mail::{Lang, MailContent};
use rand::Rng;

use super::guard::{self, Device};
use super::page::{self, Page, Tab};
use super::text::{texts, Texts};
use super::{field, hidden, Fields};
use crate::html::escape;
use crate::routes::consent::{gpc_signal, ClientIp};
use crate::state::{AppState, SharedState};
use custodian_app::consent::{self, ConsentView};
use custodian_app::requests::limits::Limit;

/// The purpose's short label in `lang`, else in the policy's first language, else its name.
pub fn label(state: &AppState, purpose: &str, lang: &str) -> String {
    let Some(p) = state.policy.purpose(purpose) else {
        return purpose.to_owned();
    };
    p.consent
        .as_ref()
        .and_then(|c| {
            c.label.get(lang).or_else(|| {
                state
                    .policy
                    .policy
                    .languages
                    .first()
                    .and_then(|l| c.label.get(l))
            })
        })
        .cloned()
        .unwrap_or_else(|| p.name.clone())
}

fn when(state: &AppState, at: &str) -> String {
    at.parse::<jiff::Timestamp>()
        .map(|t| custodian_app::requests::human_time(state, t.as_microsecond()))
        .unwrap_or_else(|_| at.to_owned())
}

/// One fieldset per consent purpose: its label, notice, current state and a yes/no choice.
fn purpose_fields(
    state: &AppState,
    t: &Texts,
    lang: &str,
    prefix: &str,
    view: &ConsentView,
) -> String {
    let mut out = String::new();
    for p in &view.purposes {
        let id = format!("{prefix}-{}", p.purpose);
        let notice = state.policy.notice_text(&p.purpose, lang).unwrap_or("");
        let status = match (p.given, &p.at) {
            (Some(g), Some(at)) => {
                let at = when(state, at);
                let what = if g { t.given_on } else { t.refused_on }.replace("{at}", &at);
                match &p.source {
                    Some(s) => format!("{what} ({})", t.via.replace("{source}", &t.source(s))),
                    None => what,
                }
            }
            _ => t.not_asked.to_owned(),
        };
        let reask = if p.must_reask {
            format!(
                r#"<p class="reask" id="{}-reask"><strong>{}</strong></p>"#,
                escape(&id),
                t.reask
            )
        } else {
            String::new()
        };
        let described = if p.must_reask {
            format!("{id}-notice {id}-state {id}-reask")
        } else {
            format!("{id}-notice {id}-state")
        };
        let checked = |want: bool| {
            if p.given == Some(want) {
                " checked"
            } else {
                ""
            }
        };
        out.push_str(&format!(
            r#"<fieldset class="purpose" aria-describedby="{described}">
<legend>{label}</legend>
<p id="{id}-notice">{notice}</p>
<p id="{id}-state" class="state">{current}: {status}</p>
{reask}<div class="choices">
<span><input type="radio" id="{id}-yes" name="choice.{name}" value="yes"{yes}><label for="{id}-yes">{t_yes}</label></span>
<span><input type="radio" id="{id}-no" name="choice.{name}" value="no"{no}><label for="{id}-no">{t_no}</label></span>
</div>
</fieldset>
"#,
            described = escape(&described),
            label = escape(&label(state, &p.purpose, lang)),
            id = escape(&id),
            notice = escape(notice),
            current = t.current,
            status = escape(&status),
            name = escape(&p.purpose),
            yes = checked(true),
            no = checked(false),
            t_yes = t.yes,
            t_no = t.no,
        ));
    }
    out
}

fn choice_form(
    state: &AppState,
    t: &Texts,
    lang: &str,
    token: &str,
    target: &str,
    view: &ConsentView,
) -> String {
    format!(
        r#"<form method="post" action="/privacy-center/consents" class="consents">{hidden}<input type="hidden" name="for" value="{target}">{fields}<button type="submit">{save}</button></form>"#,
        hidden = hidden(token, lang),
        fields = purpose_fields(state, t, lang, target, view),
        save = t.save,
    )
}

pub fn email_form(t: &Texts, lang: &str, token: &str, value: &str) -> String {
    format!(
        r#"<form method="post" action="/privacy-center/sign-in" class="inline">{hidden}<label for="signin-email">{email}</label><input id="signin-email" name="email" type="email" autocomplete="email" required value="{value}"><button type="submit">{send}</button></form>"#,
        hidden = hidden(token, lang),
        email = t.email,
        value = escape(value),
        send = t.send_code,
    )
}

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
            .map(|p| label(&state, p, &lang))
            .collect();
        body.push_str(&format!(
            r#"<div class="notice info"><p>{}</p></div>"#,
            escape(&t.gpc_note.replace("{purposes}", &names.join(", ")))
        ));
    }

    let device = guard::device(&headers);
    let device_view = match &device {
        Some(d) => consent::view(&state, &state.hasher.reference(&d.id)).await,
        None => Ok(consent::view_of_nobody(&state)),
    };
    let session = guard::session(&state, &headers);
    let account_view = match &session {
        Some(s) => Some(consent::view(&state, s).await),
        None => None,
    };
    let device_view = match device_view {
        Ok(v) => v,
        Err(e) => return failure(&state, &lang, &e),
    };
    body.push_str(&format!(
        r#"<section aria-labelledby="device-h" id="device"><h2 id="device-h">{}</h2><p>{}</p>{}</section>"#,
        t.this_browser,
        if device.is_some() { t.browser_known } else { t.browser_new },
        choice_form(&state, t, &lang, &token, "device", &device_view),
    ));
    body.push_str(&format!(
        r#"<section aria-labelledby="account-h" id="account"><h2 id="account-h">{}</h2>"#,
        t.your_email
    ));
    match account_view {
        Some(Ok(view)) => body.push_str(&format!(
            r#"<p>{}</p>{}<form method="post" action="/privacy-center/sign-out">{}<button type="submit" class="secondary">{}</button></form>"#,
            t.signed_in,
            choice_form(&state, t, &lang, &token, "account", &view),
            hidden(&token, &lang),
            t.sign_out,
        )),
        Some(Err(e)) => return failure(&state, &lang, &e),
        None => body.push_str(&format!(
            "<p>{}</p>{}",
            t.sign_in_intro,
            email_form(t, &lang, &token, "")
        )),
    }
    body.push_str("</section>");
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

fn failure(state: &AppState, lang: &str, e: &custodian_app::AppError) -> Response {
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
        (status = 422, description = "An unknown purpose or value", content_type = "text/html")))]
pub async fn save(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    form: Result<Form<Fields>, axum::extract::rejection::FormRejection>,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let lang = guard::language(&state, &headers, field(&fields, "lang"));
    let t = texts(&lang);
    if !guard::csrf_ok(&state, &headers, field(&fields, "csrf")) {
        return page::csrf_refused(&state, &lang);
    }
    let (subject, device): (SubjectRef, Option<Device>) = match field(&fields, "for") {
        Some("account") => match guard::session(&state, &headers) {
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
    let mut chosen: Vec<(String, bool)> = Vec::new();
    for (k, v) in &fields {
        let Some(purpose) = k.strip_prefix("choice.") else {
            continue;
        };
        let given = match v.as_str() {
            "yes" => true,
            "no" => false,
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
        // A purpose the policy does not offer is refused by the use case (the same page).
        chosen.retain(|(p, _)| p != purpose);
        chosen.push((purpose.to_owned(), given));
    }
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
        Ok((_, None)) => {
            return page::see_other(
                &format!(
                    "{}&saved=none#{anchor}",
                    page::with_lang("/privacy-center/consents", &lang)
                ),
                Vec::new(),
            )
        }
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
    page::see_other(
        &format!(
            "{}&saved={saved}#{anchor}",
            page::with_lang("/privacy-center/consents", &lang)
        ),
        cookies,
    )
}

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
        let minutes = state.policy.requests.verification_code_minutes.to_string();
        body.push_str(&format!(
            r#"<p>{sent}</p><form method="post" action="/privacy-center/sign-in/code" class="inline">{hidden}<label for="signin-code">{label}</label><input id="signin-code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{{6}}" maxlength="6" required aria-describedby="signin-code-hint" value="{code}"><span id="signin-code-hint" class="hint">{hint}</span><button type="submit">{go}</button></form>"#,
            sent = t.code_sent.replace("{minutes}", &minutes),
            hidden = hidden(&token, lang),
            label = t.code,
            code = escape(code),
            hint = t.code_hint,
            go = t.sign_in,
        ));
    } else {
        body.push_str(&format!(
            "<p>{}</p>{}",
            t.sign_in_intro,
            email_form(t, lang, &token, "")
        ));
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
    let fields = form.map(|f| f.0).unwrap_or_default();
    let lang = guard::language(&state, &headers, field(&fields, "lang"));
    let t = texts(&lang);
    if !guard::csrf_ok(&state, &headers, field(&fields, "csrf")) {
        return page::csrf_refused(&state, &lang);
    }
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
    let subject = state.hasher.reference(&id);
    if !allowed(&state, ip, &subject) {
        return page::error_page(
            &state,
            &lang,
            StatusCode::TOO_MANY_REQUESTS,
            t.error_title,
            t.rate_limited,
        );
    }
    let nonce = state.ids.next("signin");
    let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
    let minutes = i64::from(state.policy.requests.verification_code_minutes);
    let link = format!(
        "{}{}&code={code}",
        state.public_url,
        page::with_lang("/privacy-center/sign-in", &lang)
    );
    let sent = custodian_app::requests::mail_to(
        &state,
        id.expose(),
        Some(state.hasher.reference(&id)),
        Lang::parse_or_en(&lang),
        None,
        &format!("privacy-center/sign-in/{nonce}"),
        MailContent::SignInCode {
            code: code.clone(),
            link,
        },
    )
    .await;
    if let Err(e) = sent {
        return failure(&state, &lang, &e);
    }
    page::see_other(
        &page::with_lang("/privacy-center/sign-in", &lang),
        vec![guard::pending_cookie(
            &state, &subject, &nonce, &code, minutes,
        )],
    )
}

/// Sign-in codes are limited like request intake: per client and per address.
fn allowed(state: &AppState, ip: Option<IpAddr>, subject: &SubjectRef) -> bool {
    let now = state.clock.now_micros();
    let client_ok = ip.is_none_or(|ip| {
        state.limiter.allow(
            &format!("privacy-center ip:{ip}"),
            state.limits.per_client,
            now,
        )
    });
    client_ok
        && state.limiter.allow(
            &format!("privacy-center subject:{}", subject.to_hex()),
            state.limits.per_address,
            now,
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
        (status = 403, description = "The CSRF check failed", content_type = "text/html"),
        (status = 410, description = "The code expired", content_type = "text/html"),
        (status = 422, description = "A wrong code", content_type = "text/html"),
        (status = 429, description = "Too many wrong codes", content_type = "text/html")))]
pub async fn finish_sign_in(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: Result<Form<Fields>, axum::extract::rejection::FormRejection>,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let lang = guard::language(&state, &headers, field(&fields, "lang"));
    let t = texts(&lang);
    if !guard::csrf_ok(&state, &headers, field(&fields, "csrf")) {
        return page::csrf_refused(&state, &lang);
    }
    let Some(pending) = guard::pending(&headers) else {
        return sign_in_page(
            &state,
            &lang,
            StatusCode::BAD_REQUEST,
            Some((false, t.no_pending)),
            false,
            "",
            Vec::new(),
            &headers,
        );
    };
    let clear = || vec![guard::own_cookie(&state, guard::PENDING_COOKIE, None, 0)];
    let minutes = i64::from(state.policy.requests.verification_code_minutes);
    let attempts = Limit {
        max: state.policy.requests.verification_attempts,
        window_micros: minutes * 60_000_000,
    };
    if !state.limiter.allow(
        &format!("privacy-center code:{}", pending.nonce),
        attempts,
        state.clock.now_micros(),
    ) {
        return sign_in_page(
            &state,
            &lang,
            StatusCode::TOO_MANY_REQUESTS,
            Some((false, t.rate_limited)),
            false,
            "",
            clear(),
            &headers,
        );
    }
    let code = field(&fields, "code").unwrap_or("");
    match pending.check(&state, code) {
        Ok(()) => page::see_other(
            &format!(
                "{}#account",
                page::with_lang("/privacy-center/consents", &lang)
            ),
            vec![
                guard::session_cookie(&state, &pending.subject),
                clear().remove(0),
            ],
        ),
        Err(custodian_core::signed::LinkError::Expired) => sign_in_page(
            &state,
            &lang,
            StatusCode::GONE,
            Some((false, t.code_expired)),
            false,
            "",
            clear(),
            &headers,
        ),
        Err(custodian_core::signed::LinkError::Invalid) => sign_in_page(
            &state,
            &lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((false, t.wrong_code)),
            true,
            "",
            Vec::new(),
            &headers,
        ),
    }
}

/// Ends the e-mail session on this browser.
#[utoipa::path(post, path = "/privacy-center/sign-out", tag = "privacy centre",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `lang`"),
    responses((status = 303, description = "Signed out"), (status = 403, description = "The CSRF check failed", content_type = "text/html")))]
pub async fn sign_out(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: Result<Form<Fields>, axum::extract::rejection::FormRejection>,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let lang = guard::language(&state, &headers, field(&fields, "lang"));
    if !guard::csrf_ok(&state, &headers, field(&fields, "csrf")) {
        return page::csrf_refused(&state, &lang);
    }
    page::see_other(
        &format!(
            "{}&signed_out=1",
            page::with_lang("/privacy-center/consents", &lang)
        ),
        vec![guard::own_cookie(&state, guard::SESSION_COOKIE, None, 0)],
    )
}
