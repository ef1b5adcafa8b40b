//! The frame every privacy-centre page shares — landmarks, skip link, language switch,
//! navigation — and the headers that go with it: a strict Content-Security-Policy (no script
//! at all, styles only from our stylesheet), no caching of personal pages, no referrer to
//! other sites (the verification links carry codes), and no framing.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::text::{texts, Texts};
use crate::html::escape;
use crate::state::AppState;
use custodian_app::AppError;

pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Which tab of the navigation a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Home,
    Consents,
    Requests,
    Unsubscribe,
    None,
}

/// A page about to be rendered.
pub struct Page<'a> {
    pub lang: &'a str,
    pub title: &'a str,
    pub tab: Tab,
    /// This page's path and query without `lang`, for the language switch.
    pub here: &'a str,
    pub body: String,
}

/// `path` with `lang=` added to its query.
pub fn with_lang(path: &str, lang: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}lang={lang}")
}

/// The whole page around `page.body`.
///
/// Kept whole: it is the page's template — head, navigation, body, footer — in document order.
pub fn render(state: &AppState, page: &Page) -> String {
    let t = texts(page.lang);
    let org = escape(&state.policy.policy.organisation);
    let switch: String = super::text::LANGUAGES
        .iter()
        .filter(|l| state.policy.policy.languages.iter().any(|p| p == *l))
        .map(|l| {
            let name = texts(l).lang_name;
            if *l == page.lang {
                format!(r#"<li><a href="{}" hreflang="{l}" lang="{l}" aria-current="true">{name}</a></li>"#, escape(&with_lang(page.here, l)))
            } else {
                format!(r#"<li><a href="{}" hreflang="{l}" lang="{l}">{name}</a></li>"#, escape(&with_lang(page.here, l)))
            }
        })
        .collect();
    let tabs: String = [
        (Tab::Home, "/privacy-center", t.home),
        (Tab::Consents, "/privacy-center/consents", t.consents),
        (Tab::Requests, "/privacy-center/requests", t.requests),
        (
            Tab::Unsubscribe,
            "/privacy-center/unsubscribe",
            t.unsubscribe,
        ),
    ]
    .iter()
    .map(|(tab, path, name)| {
        let current = if *tab == page.tab {
            r#" aria-current="page""#
        } else {
            ""
        };
        format!(
            r#"<li><a href="{}"{current}>{name}</a></li>"#,
            escape(&with_lang(path, page.lang))
        )
    })
    .collect();
    format!(
        r##"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{title} · {centre} · {org}</title>
<link rel="stylesheet" href="/assets/privacy-center.css">
</head>
<body>
<a class="skip" href="#main">{skip}</a>
<header class="top">
<div class="wrap">
<p class="brand"><a href="{home}">{org} <span>{centre}</span></a></p>
<nav aria-label="{languages}" class="langs"><ul>{switch}</ul></nav>
</div>
<nav aria-label="{sections}" class="tabs"><div class="wrap"><ul>{tabs}</ul></div></nav>
</header>
<main id="main" tabindex="-1">
<div class="wrap">
<h1>{title}</h1>
{body}
</div>
</main>
<footer>
<div class="wrap"><p><a href="/privacy">{notice}</a> · {version_label} {version}</p></div>
</footer>
</body>
</html>
"##,
        lang = escape(page.lang),
        title = escape(page.title),
        centre = t.centre,
        skip = t.skip,
        home = escape(&with_lang("/privacy-center", page.lang)),
        languages = t.languages,
        sections = t.sections,
        body = page.body,
        notice = t.notice,
        version_label = t.policy_version,
        version = escape(&state.policy.policy.version),
    )
}

/// An HTML answer with the privacy centre's headers and any cookies to set.
pub fn respond(status: StatusCode, lang: &str, html: String, cookies: Vec<String>) -> Response {
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(h);
    if let Ok(v) = HeaderValue::from_str(lang) {
        h.insert(header::CONTENT_LANGUAGE, v);
    }
    add_cookies(h, cookies);
    res
}

fn secure_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null`
    // with every form post (Fetch, "serializing a request origin"), which the origin check
    // (`crate::origin`) refuses. Other sites still get no referrer, so no code leaves.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::VARY,
        HeaderValue::from_static("accept-language, cookie"),
    );
}

fn add_cookies(h: &mut axum::http::HeaderMap, cookies: Vec<String>) {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
}

/// The "303 See Other" after a form: the browser shows the page with a GET, so reloading
/// it never sends the form again.
pub fn see_other(to: &str, cookies: Vec<String>) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(to) {
        h.insert(header::LOCATION, v);
    }
    secure_headers(h);
    add_cookies(h, cookies);
    res
}

/// A friendly page for a failure, with the status the failure deserves.
pub fn error_page(
    state: &AppState,
    lang: &str,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    let t = texts(lang);
    let body = format!(
        r#"<div class="notice error" role="alert"><p>{}</p></div><p><a href="{}">{}</a></p>"#,
        escape(message),
        escape(&with_lang("/privacy-center", lang)),
        t.back_home
    );
    let html = render(
        state,
        &Page {
            lang,
            title,
            tab: Tab::None,
            here: "/privacy-center",
            body,
        },
    );
    respond(status, lang, html, Vec::new())
}

pub fn csrf_refused(state: &AppState, lang: &str) -> Response {
    let t = texts(lang);
    error_page(state, lang, StatusCode::FORBIDDEN, t.csrf_title, t.csrf)
}

/// What a use case's failure means to a person, and the page's status. Internal detail is logged, never shown.
pub fn explain(t: &Texts, err: &AppError) -> (StatusCode, String) {
    match err {
        AppError::Invalid {
            code: "invalid_code",
            extra,
            ..
        } => {
            let left = extra
                .as_ref()
                .and_then(|e| e["attempts_left"].as_i64())
                .unwrap_or(0);
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                t.attempts_left.replace("{n}", &left.to_string()),
            )
        }
        AppError::Invalid { code, .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            match *code {
                "invalid_email" => t.invalid_email,
                "details_too_long" => t.details_too_long,
                _ => t.invalid_form,
            }
            .to_owned(),
        ),
        AppError::Gone { .. } => (StatusCode::GONE, t.request_closed.to_owned()),
        AppError::RateLimited {
            code: "too_many_attempts",
            ..
        } => (
            StatusCode::TOO_MANY_REQUESTS,
            t.too_many_attempts.to_owned(),
        ),
        AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, t.rate_limited.to_owned()),
        AppError::Conflict {
            code: "already_verified",
            ..
        } => (StatusCode::CONFLICT, t.already_verified.to_owned()),
        // Two submissions of one form at once: one wins, the other finds the request changed
        // (the JSON routes answer the same 409). Logged by its class only — no personal data.
        AppError::Conflict { code, .. } => {
            tracing::info!(code, "privacy centre: a conflicting submission");
            (StatusCode::CONFLICT, t.changed_meanwhile.to_owned())
        }
        AppError::NotFound => (StatusCode::NOT_FOUND, t.unknown_request.to_owned()),
        AppError::Malformed { .. } => (StatusCode::BAD_REQUEST, t.invalid_form.to_owned()),
        AppError::Internal(inner) => {
            tracing::error!(error = %inner, "internal error in the privacy centre");
            (StatusCode::INTERNAL_SERVER_ERROR, t.internal.to_owned())
        }
        other => {
            tracing::error!(
                code = other.code(),
                kind = ?other.kind(),
                "privacy centre: a failure without a page of its own"
            );
            (StatusCode::INTERNAL_SERVER_ERROR, t.internal.to_owned())
        }
    }
}

/// A notice box: `role="status"` for good news, `role="alert"` for problems.
pub fn notice(ok: bool, message: &str) -> String {
    if ok {
        format!(
            r#"<div class="notice ok" role="status"><p>{}</p></div>"#,
            escape(message)
        )
    } else {
        format!(
            r#"<div class="notice error" role="alert"><p>{}</p></div>"#,
            escape(message)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_of_any_kind_is_a_409_page_not_a_failure() {
        let t = texts("en");
        let lost = AppError::conflict("changed_meanwhile", "changed meanwhile");
        assert_eq!(
            explain(t, &lost),
            (StatusCode::CONFLICT, t.changed_meanwhile.to_owned())
        );
        let again = AppError::conflict("already_verified", "already");
        assert_eq!(explain(t, &again).0, StatusCode::CONFLICT);
        assert_eq!(
            explain(t, &AppError::internal("x")).0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
