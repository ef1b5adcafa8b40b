//! Rendering the console's pages: the templates (minijinja, compiled into the binary and
//! parsed once, HTML auto-escaped), the frame every page shares, the language, and the
//! headers — a strict Content-Security-Policy with no script and no inline style, no caching
//! and no referrer beyond the console's own origin.

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::{context, Environment, Value};

use super::auth::{Staff, LANG_COOKIE};
use super::text::{texts, LANGUAGES};
use crate::error::ApiError;
use crate::routes::privacy_center::guard::cookie;
use crate::state::AppState;

/// A language tag of the console: `en` or `de`.
pub type Lang = &'static str;

pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The templates, parsed once.
fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("macros.html", include_str!("templates/macros.html")),
            ("login.html", include_str!("templates/login.html")),
            ("message.html", include_str!("templates/message.html")),
            ("account.html", include_str!("templates/account.html")),
            ("overview.html", include_str!("templates/overview.html")),
            ("requests.html", include_str!("templates/requests.html")),
            ("request.html", include_str!("templates/request.html")),
            ("consent.html", include_str!("templates/consent.html")),
            ("policy.html", include_str!("templates/policy.html")),
            ("datastores.html", include_str!("templates/datastores.html")),
            ("retention.html", include_str!("templates/retention.html")),
            ("users.html", include_str!("templates/users.html")),
        ] {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("console template {name}: {e}"));
        }
        env
    })
}

/// The language: `?lang=` when given, else the console's cookie, else `Accept-Language`.
pub fn language(headers: &HeaderMap, asked: Option<&str>) -> Lang {
    let pick = |tag: &str| {
        let primary = tag
            .split(['-', '_', ';'])
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        LANGUAGES.into_iter().find(|l| *l == primary)
    };
    asked
        .and_then(pick)
        .or_else(|| cookie(headers, LANG_COOKIE).and_then(pick))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').find_map(pick))
        })
        .unwrap_or("en")
}

/// The navigation: `(path, text key)`; the last is for admins only.
const NAV: [(&str, &str); 7] = [
    ("/console/overview", "overview"),
    ("/console/requests", "requests"),
    ("/console/consent", "consent"),
    ("/console/policy", "policy"),
    ("/console/datastores", "datastores"),
    ("/console/retention", "retention"),
    ("/console/users", "users"),
];

/// Renders `template` inside the frame. `here` is the page's path, for the navigation and
/// the language switch; `staff` is absent on the sign-in pages.
pub fn page(
    staff: Option<&Staff>,
    lang: Lang,
    template: &str,
    here: &str,
    title: &str,
    vars: Value,
) -> Result<String, minijinja::Error> {
    let admin = staff.is_some_and(|s| s.role() == custodian_core::staff::StaffRole::Admin);
    let nav: Vec<Value> = NAV
        .iter()
        .filter(|(path, _)| admin || *path != "/console/users")
        .map(|(path, key)| {
            context! { href => path, key => key, current => here.starts_with(path) }
        })
        .collect();
    let langs: Vec<Value> = LANGUAGES
        .iter()
        .map(|l| context! { code => l, name => texts(l).lang_name, current => *l == lang })
        .collect();
    let me = staff.map(|s| {
        context! {
            email => s.email.clone().unwrap_or_default(),
            role => s.role().as_str(),
            csrf => s.csrf.clone(),
        }
    });
    env().get_template(template)?.render(context! {
        lang => lang,
        t => Value::from_serialize(texts(lang)),
        nav => nav,
        langs => langs,
        here => here,
        title => title,
        me => me,
        ..vars
    })
}

/// The headers every console answer carries.
pub fn headers(res: &mut Response, cookies: Vec<String>) {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null`
    // with every form post (Fetch, "serializing a request origin"), so the origin check would
    // refuse the console's own forms. Other sites still get no referrer, so no request id
    // leaves through a link.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
}

/// A rendered page as an answer; a template failure is logged and answered as a bare 500.
pub fn respond(
    status: StatusCode,
    html: Result<String, minijinja::Error>,
    cookies: Vec<String>,
) -> Response {
    let mut res = match html {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("console template: {e:#}")).into_response(),
    };
    headers(&mut res, cookies);
    res
}

/// 303 See Other to `to` (POST-redirect-GET).
pub fn see_other(to: &str, cookies: Vec<String>) -> Response {
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
    headers(&mut res, cookies);
    res
}

/// A page with one message (a refusal, a failure) for a signed-in user.
pub fn refused(_state: &AppState, staff: &Staff, status: StatusCode, key: &str) -> Response {
    let t = Value::from_serialize(texts(staff.lang));
    let text = t
        .get_attr(key)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let html = page(
        Some(staff),
        staff.lang,
        "message.html",
        "/console",
        texts(staff.lang).error,
        context! { message => text, status => status.as_u16() },
    );
    respond(status, html, Vec::new())
}

/// A use case's failure as a page: its status, and its detail unless it is internal.
pub fn failure(_state: &AppState, lang: Lang, e: &ApiError) -> Response {
    let (status, message) = match e {
        ApiError::Internal(inner) => {
            tracing::error!(error = %inner, "internal error");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                texts(lang).error.to_owned(),
            )
        }
        other => {
            let status = other.status();
            (status, other.to_string())
        }
    };
    let html = page(
        None,
        lang,
        "message.html",
        "/console",
        texts(lang).error,
        context! { message => message, status => status.as_u16() },
    );
    respond(status, html, Vec::new())
}
