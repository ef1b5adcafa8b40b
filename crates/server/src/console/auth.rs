//! Who is at the console, and whether a form really comes from its own page.
//!
//! - **Session**: a random value in the cookie `cst_console` (HttpOnly, `SameSite=Strict`,
//!   `Secure` when the public URL is https, path `/console`); only its hash is stored, and it
//!   ends after idle time (`Options::idle_minutes`) or 12 hours (`app::sessions`).
//! - **CSRF**: every form carries a token — bound to the session (an HMAC of its stored hash),
//!   or before sign-in to a random value in a cookie of its own — and every POST must come from
//!   our own origin (`crate::origin`: `Origin`, or else `Referer`, when sent, names this host
//!   or the public URL, and `Sec-Fetch-Site`, when sent, says `same-origin`; OWASP CSRF
//!   Prevention Cheat Sheet).
//! - **Roles**: viewer < dpo < admin (`core::staff::StaffRole`); each handler names the least
//!   role it needs.

use axum::http::HeaderMap;
use axum::response::Response;
use custodian_app::sessions::{self, Found};
use custodian_core::staff::StaffRole;
use custodian_store::users::SessionRow;

use super::render::{self, Lang};
use crate::routes::privacy_center::guard::{cookie, random_hex};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "cst_console";
pub const LOGIN_COOKIE: &str = "cst_console_login";
pub const LANG_COOKIE: &str = "cst_console_lang";
const PATH: &str = "/console";
const LOGIN_CSRF_SECONDS: i64 = 3600;

/// A signed-in user, with what their pages need.
pub struct Staff {
    pub session: SessionRow,
    pub email: Option<String>,
    pub csrf: String,
    pub lang: Lang,
}

impl Staff {
    pub fn role(&self) -> StaffRole {
        self.session.user.role
    }
    pub fn id(&self) -> &str {
        &self.session.user.id
    }
}

fn now_s(state: &AppState) -> i64 {
    state.clock.now_micros() / 1_000_000
}

fn secure(state: &AppState) -> &'static str {
    if state.public_url.starts_with("https:") {
        "; Secure"
    } else {
        ""
    }
}

/// A `Set-Cookie` value for one of the console's cookies; `None` deletes it.
pub fn set_cookie(state: &AppState, name: &str, value: Option<&str>, max_age: i64) -> String {
    let (v, age) = value.map_or(("", 0), |v| (v, max_age));
    format!(
        "{name}={v}; Path={PATH}; Max-Age={age}; HttpOnly; SameSite=Strict{}",
        secure(state)
    )
}

pub fn session_cookie(state: &AppState, token: &str) -> String {
    set_cookie(
        state,
        SESSION_COOKIE,
        Some(token),
        sessions::ABSOLUTE_MICROS / 1_000_000,
    )
}

/// The form token of a session: valid while the session can last.
pub fn session_csrf(state: &AppState, s: &SessionRow) -> String {
    let until = (s.created_at + sessions::ABSOLUTE_MICROS) / 1_000_000;
    state.links.sign("console csrf", &s.id_hash, until)
}

/// The session this browser holds, if any (and whether one just expired).
pub async fn session(state: &AppState, headers: &HeaderMap) -> Result<Found, Response> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(Found::None);
    };
    let idle = state.console.idle_micros();
    sessions::current(state, token, idle)
        .await
        .map_err(|e| render::failure(state, "en", &e.into()))
}

/// The signed-in user with at least `needed`, or the answer to send instead: to sign-in
/// (noting an expired session), or a refusal for a role that may not.
pub async fn staff(
    state: &AppState,
    headers: &HeaderMap,
    lang: Option<&str>,
    needed: StaffRole,
) -> Result<Staff, Response> {
    let lang = render::language(headers, lang);
    let s = match session(state, headers).await? {
        Found::Active(s) if s.stage == sessions::STAGE_FULL => s,
        Found::Expired => return Err(render::see_other("/console/login?expired=1", Vec::new())),
        _ => return Err(render::see_other("/console/login", Vec::new())),
    };
    let staff = Staff {
        email: state.users.view(&s.user).email,
        csrf: session_csrf(state, &s),
        lang,
        session: s,
    };
    if !staff.role().allows(needed) {
        return Err(render::refused(
            state,
            &staff,
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
        ));
    }
    Ok(staff)
}

/// Whether a POST comes from our own origin (`crate::origin`, shared with the privacy
/// centre).
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    crate::origin::same_origin(state, headers)
}

/// The signed-in user with at least `needed`, for a form post: the session, the role, the
/// origin and the form's token all checked.
pub async fn posted(
    state: &AppState,
    headers: &HeaderMap,
    fields: &super::Fields,
    needed: StaffRole,
) -> Result<Staff, Response> {
    let staff = staff(state, headers, None, StaffRole::Viewer).await?;
    let token = super::field(fields, "csrf").unwrap_or("");
    let token_ok = state
        .links
        .verify("console csrf", &staff.session.id_hash, token, now_s(state))
        .is_ok();
    if !token_ok || !same_origin(state, headers) {
        super::audit::console_audit(&state, staff.id(), "csrf_refused", "-");
        return Err(render::refused(
            state,
            &staff,
            axum::http::StatusCode::FORBIDDEN,
            "csrf_refused",
        ));
    }
    if !staff.role().allows(needed) {
        super::audit::console_audit(&state, staff.id(), "refused_by_role", needed.as_str());
        return Err(render::refused(
            state,
            &staff,
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
        ));
    }
    Ok(staff)
}

/// The sign-in form's token: the cookie's random seed (made now when missing), and the token.
pub fn login_csrf(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    let (seed, new) = match cookie(headers, LOGIN_COOKIE)
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Some(v) => (v.to_owned(), false),
        None => (random_hex(), true),
    };
    let token = state.links.sign(
        "console login csrf",
        &seed,
        now_s(state) + LOGIN_CSRF_SECONDS,
    );
    let set = new.then(|| set_cookie(state, LOGIN_COOKIE, Some(&seed), LOGIN_CSRF_SECONDS));
    (token, set)
}

pub fn login_csrf_ok(state: &AppState, headers: &HeaderMap, token: Option<&str>) -> bool {
    let (Some(seed), Some(token)) = (cookie(headers, LOGIN_COOKIE), token) else {
        return false;
    };
    same_origin(state, headers)
        && state
            .links
            .verify("console login csrf", seed, token, now_s(state))
            .is_ok()
}
