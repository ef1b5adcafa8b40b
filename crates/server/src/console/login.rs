//! Signing in and out, the second factor, and the user's own account page (TOTP enrolment).

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use custodian_app::sessions::{self, Found};
use custodian_app::AppError;
use custodian_core::staff::StaffRole;
use minijinja::context;

use super::audit::console_audit;
use super::auth::{self, LANG_COOKIE, LOGIN_COOKIE, SESSION_COOKIE};
use super::render::{self, Lang};
use super::text::texts;
use super::{field, Fields};
use crate::routes::consent::ClientIp;
use crate::routes::privacy_center::guard::cookie;
use crate::state::{AppState, SharedState};

type FormResult = Result<Form<Fields>, axum::extract::rejection::FormRejection>;

fn lang_cookie(state: &AppState, lang: Lang) -> String {
    auth::set_cookie(state, LANG_COOKIE, Some(lang), 365 * 86_400)
}

/// The sign-in page: the address-and-password form, or the code form while a second factor
/// is owed.
fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    status: StatusCode,
    message: Option<(&str, bool)>,
    totp_csrf: Option<String>,
) -> Response {
    let t = texts(lang);
    let mut cookies = vec![lang_cookie(state, lang)];
    let (csrf, set) = match &totp_csrf {
        Some(token) => (token.clone(), None),
        None => auth::login_csrf(state, headers),
    };
    cookies.extend(set);
    let title = if totp_csrf.is_some() {
        t.totp_title
    } else {
        t.sign_in
    };
    let html = render::page(
        None,
        lang,
        "login.html",
        "/console/login",
        title,
        context! {
            csrf => csrf,
            totp => totp_csrf.is_some(),
            message => message.map(|(m, ok)| context! { text => m, ok => ok }),
        },
    );
    render::respond(status, html, cookies)
}

/// `/console`: on to the overview, or to sign-in.
#[utoipa::path(get, path = "/console", tag = "console",
    responses((status = 303, description = "To the overview, or to sign-in")))]
pub async fn home() -> Response {
    render::see_other("/console/overview", Vec::new())
}

/// The sign-in page.
#[utoipa::path(get, path = "/console/login", tag = "console",
    params(("lang" = Option<String>, Query), ("expired" = Option<String>, Query), ("signed_out" = Option<String>, Query)),
    responses((status = 200, description = "The sign-in form (or the second factor's)", content_type = "text/html")))]
pub async fn login_form(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let lang = render::language(&headers, field(&q, "lang"));
    let t = texts(lang);
    match auth::session(&state, &headers).await {
        Err(r) => r,
        Ok(Found::Active(s)) if s.stage == sessions::STAGE_FULL => {
            render::see_other("/console/overview", vec![lang_cookie(&state, lang)])
        }
        Ok(Found::Active(s)) => {
            let csrf = auth::session_csrf(&state, &s);
            login_page(&state, &headers, lang, StatusCode::OK, None, Some(csrf))
        }
        Ok(_) => {
            let message = if field(&q, "expired").is_some() {
                Some((t.expired, false))
            } else if field(&q, "signed_out").is_some() {
                Some((t.signed_out, true))
            } else {
                None
            };
            login_page(&state, &headers, lang, StatusCode::OK, message, None)
        }
    }
}

/// Checks the address and password; on to the second factor or the overview.
#[utoipa::path(post, path = "/console/login", tag = "console",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `lang`, `email`, `password`"),
    responses((status = 303, description = "Signed in (or a code is owed)"),
        (status = 401, description = "Wrong address or password, the same for both", content_type = "text/html"),
        (status = 403, description = "The CSRF or origin check failed", content_type = "text/html"),
        (status = 429, description = "Locked after failed sign-ins, or too many from this client", content_type = "text/html")))]
pub async fn login(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    form: FormResult,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let lang = render::language(&headers, field(&fields, "lang"));
    let t = texts(lang);
    if !auth::login_csrf_ok(&state, &headers, field(&fields, "csrf")) {
        console_audit(&state, "-", "signin_csrf_refused", "-");
        return login_page(
            &state,
            &headers,
            lang,
            StatusCode::FORBIDDEN,
            Some((t.csrf_refused, false)),
            None,
        );
    }
    let email = field(&fields, "email").unwrap_or("");
    let password = fields
        .iter()
        .find(|(k, _)| k == "password")
        .map_or("", |(_, v)| v.as_str());
    match sessions::sign_in(&state, email, password, ip).await {
        Ok(started) => {
            console_audit(
                &state,
                &started.user_id,
                if started.needs_totp {
                    "signin_password"
                } else {
                    "signin"
                },
                &started.user_id,
            );
            let next = if started.needs_totp {
                "/console/login"
            } else {
                "/console/overview"
            };
            render::see_other(
                next,
                vec![
                    auth::session_cookie(&state, &started.token),
                    auth::set_cookie(&state, LOGIN_COOKIE, None, 0),
                    lang_cookie(&state, lang),
                ],
            )
        }
        Err(AppError::Unauthenticated) => {
            console_audit(&state, "-", "signin_failed", "-");
            login_page(
                &state,
                &headers,
                lang,
                StatusCode::UNAUTHORIZED,
                Some((t.wrong_credentials, false)),
                None,
            )
        }
        Err(AppError::RateLimited { .. }) => {
            console_audit(&state, "-", "signin_locked", "-");
            login_page(
                &state,
                &headers,
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                Some((t.locked, false)),
                None,
            )
        }
        Err(e) => render::failure(&state, lang, &e.into()),
    }
}

/// Checks the second factor's code; a right one makes the session full, under a new cookie.
#[utoipa::path(post, path = "/console/login/totp", tag = "console",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `lang`, `code`"),
    responses((status = 303, description = "Signed in"),
        (status = 401, description = "A wrong or reused code", content_type = "text/html"),
        (status = 403, description = "The CSRF or origin check failed", content_type = "text/html"),
        (status = 429, description = "Locked after failed sign-ins", content_type = "text/html")))]
pub async fn login_totp(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: FormResult,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let lang = render::language(&headers, field(&fields, "lang"));
    let t = texts(lang);
    let s = match auth::session(&state, &headers).await {
        Err(r) => return r,
        Ok(Found::Active(s)) if s.stage == sessions::STAGE_TOTP => s,
        Ok(Found::Expired) => return render::see_other("/console/login?expired=1", Vec::new()),
        Ok(_) => return render::see_other("/console/login", Vec::new()),
    };
    let csrf = auth::session_csrf(&state, &s);
    let token_ok = field(&fields, "csrf") == Some(csrf.as_str());
    if !token_ok || !auth::same_origin(&state, &headers) {
        console_audit(&state, &s.user.id, "csrf_refused", "-");
        return login_page(
            &state,
            &headers,
            lang,
            StatusCode::FORBIDDEN,
            Some((t.csrf_refused, false)),
            Some(csrf),
        );
    }
    match sessions::second_factor(&state, &s, field(&fields, "code").unwrap_or("")).await {
        Ok(token) => {
            console_audit(&state, &s.user.id, "signin", &s.user.id);
            render::see_other(
                "/console/overview",
                vec![auth::session_cookie(&state, &token)],
            )
        }
        Err(AppError::Unauthenticated) => {
            console_audit(&state, &s.user.id, "signin_totp_failed", &s.user.id);
            login_page(
                &state,
                &headers,
                lang,
                StatusCode::UNAUTHORIZED,
                Some((t.wrong_code, false)),
                Some(csrf),
            )
        }
        Err(AppError::RateLimited { .. }) => {
            console_audit(&state, &s.user.id, "signin_locked", &s.user.id);
            login_page(
                &state,
                &headers,
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                Some((t.locked, false)),
                Some(csrf),
            )
        }
        Err(e) => render::failure(&state, lang, &e.into()),
    }
}

/// Ends the session.
#[utoipa::path(post, path = "/console/logout", tag = "console",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    responses((status = 303, description = "Signed out"), (status = 403, description = "The CSRF or origin check failed", content_type = "text/html")))]
pub async fn logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: FormResult,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let staff = match auth::posted(&state, &headers, &fields, StaffRole::Viewer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = sessions::sign_out(&state, token).await {
            return render::failure(&state, staff.lang, &e.into());
        }
    }
    console_audit(&state, staff.id(), "signout", staff.id());
    render::see_other(
        "/console/login?signed_out=1",
        vec![auth::set_cookie(&state, SESSION_COOKIE, None, 0)],
    )
}

/// The user's own account: their role and second factor, and its enrolment.
#[utoipa::path(get, path = "/console/account", tag = "console",
    responses((status = 200, description = "The account page", content_type = "text/html"), (status = 303, description = "Not signed in")))]
pub async fn account(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<Fields>,
) -> Response {
    let staff = match auth::staff(&state, &headers, field(&q, "lang"), StaffRole::Viewer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let t = texts(staff.lang);
    let u = &staff.session.user;
    let pending = match sessions::pending_totp(&state, u) {
        Ok(p) => p,
        Err(e) => return render::failure(&state, staff.lang, &e.into()),
    };
    let enrol = pending.map(|secret| {
        let account = staff.email.clone().unwrap_or_else(|| u.id.clone());
        let uri = custodian_core::totp::uri(&state.policy.policy.organisation, &account, &secret);
        context! {
            qr => super::qr::svg(&uri, t.totp_qr),
            key => custodian_core::totp::base32(&secret),
        }
    });
    let html = render::page(
        Some(&staff),
        staff.lang,
        "account.html",
        "/console/account",
        t.account,
        context! {
            totp => u.totp_sealed.is_some(),
            enrol => enrol,
            done => field(&q, "done").is_some(),
            wrong => field(&q, "wrong").is_some(),
        },
    );
    render::respond(StatusCode::OK, html, vec![lang_cookie(&state, staff.lang)])
}

/// Starts enrolling an authenticator app: a new secret, shown on the account page.
#[utoipa::path(post, path = "/console/account/totp", tag = "console",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`"),
    responses((status = 303, description = "On to the account page with the QR code"), (status = 403, description = "The CSRF or origin check failed", content_type = "text/html")))]
pub async fn totp_begin(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: FormResult,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let staff = match auth::posted(&state, &headers, &fields, StaffRole::Viewer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(e) = sessions::begin_totp(&state, &staff.session.user).await {
        return render::failure(&state, staff.lang, &e.into());
    }
    console_audit(&state, staff.id(), "totp_enrolment_started", staff.id());
    render::see_other("/console/account#enrol", Vec::new())
}

/// Confirms the enrolment with a code from the app.
#[utoipa::path(post, path = "/console/account/totp/confirm", tag = "console",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `code`"),
    responses((status = 303, description = "The second factor is on (or the code was wrong)"), (status = 403, description = "The CSRF or origin check failed", content_type = "text/html")))]
pub async fn totp_confirm(
    State(state): State<SharedState>,
    headers: HeaderMap,
    form: FormResult,
) -> Response {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let staff = match auth::posted(&state, &headers, &fields, StaffRole::Viewer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let code = field(&fields, "code").unwrap_or("");
    match sessions::confirm_totp(&state, &staff.session.user, code).await {
        Ok(()) => {
            console_audit(&state, staff.id(), "totp_enabled", staff.id());
            render::see_other("/console/account?done=1", Vec::new())
        }
        Err(AppError::Invalid { .. }) => {
            render::see_other("/console/account?wrong=1#enrol", Vec::new())
        }
        Err(e) => render::failure(&state, staff.lang, &e.into()),
    }
}
