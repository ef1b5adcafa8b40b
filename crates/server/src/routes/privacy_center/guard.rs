//! Who is asking, and whether a form really comes from our own page.
//!
//! - **CSRF**: a signed double-submit token. A random value lives in an HttpOnly cookie; each
//!   form carries an HMAC of it (`LinkSigner`, purpose `privacy-center csrf`) that expires. A
//!   site elsewhere can neither read the cookie nor forge the signature. As a second line, a
//!   post must come from our own origin by its `Sec-Fetch-Site`, `Origin` or `Referer`
//!   (`crate::origin`, the console's check).
//! - **The device**: the banner's first-party cookie `cst_consent` (`{id, h, v, c, u}`, see
//!   web/banner.js) names a random device id, so a visitor manages this browser's choices with
//!   no sign-in, exactly as the banner does.
//! - **The e-mail session**: after a code sent to the address is entered, a cookie holds a
//!   random value whose hash names a session row (`app::signin`): the keyed subject reference
//!   (never the address), for 30 minutes or until signing out ends it on the server.
//! - **The pending sign-in**: a cookie names the sign-in's nonce and carries a signature over
//!   the code (never the code); the sign-in itself is a row, tried a limited number of times
//!   and used once.

use axum::http::{header, HeaderMap};
use custodian_core::subject::{IdKind, SubjectId, SubjectRef};
use custodian_policy::Policy;
use rand::RngCore;
use serde_json::Value;

use crate::state::AppState;

pub const CSRF_COOKIE: &str = "cst_pc_csrf";
pub const SESSION_COOKIE: &str = "cst_pc_session";
pub const PENDING_COOKIE: &str = "cst_pc_signin";
pub const DEVICE_COOKIE: &str = "cst_consent";
/// The banner keeps its cookie 180 days; so do we when we write it.
const DEVICE_AGE: i64 = 15_552_000;
pub const SESSION_SECONDS: i64 = custodian_app::signin::SESSION_MICROS / 1_000_000;
const CSRF_SECONDS: i64 = 24 * 3600;
const PATH: &str = "/privacy-center";

fn now_s(state: &AppState) -> i64 {
    state.clock.now_micros() / 1_000_000
}

/// 16 random bytes in hex: for secrets (the CSRF seed), never for ids (`Context::ids`).
pub fn random_hex() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| cookie_in(v, name))
}

/// The value of cookie `name` in the text of one `Cookie` header.
pub fn cookie_in<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

fn secure(state: &AppState) -> &'static str {
    if state.public_url.starts_with("https:") {
        "; Secure"
    } else {
        ""
    }
}

/// A `Set-Cookie` value for one of our HttpOnly cookies; `None` deletes it.
pub fn own_cookie(state: &AppState, name: &str, value: Option<&str>, max_age: i64) -> String {
    let (v, age) = match value {
        Some(v) => (v, max_age),
        None => ("", 0),
    };
    format!(
        "{name}={v}; Path={PATH}; Max-Age={age}; HttpOnly; SameSite=Lax{}",
        secure(state)
    )
}

/// The language of the page: `?lang=` when the policy offers it, else the best match of
/// `Accept-Language`, else the policy's first language.
pub fn language(state: &AppState, headers: &HeaderMap, asked: Option<&str>) -> String {
    let offered: Vec<&str> = state
        .policy
        .policy
        .languages
        .iter()
        .map(String::as_str)
        .filter(|l| super::text::LANGUAGES.contains(l))
        .collect();
    let fits = |tag: &str| {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or(tag)
            .to_ascii_lowercase();
        offered
            .iter()
            .find(|l| **l == primary)
            .map(|l| (*l).to_owned())
    };
    if let Some(l) = asked.and_then(fits) {
        return l;
    }
    let mut wanted: Vec<(f32, &str)> = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (!tag.is_empty() && q > 0.0).then_some((q, tag))
        })
        .collect();
    // A stable sort keeps the header's order among equal weights.
    wanted.sort_by(|a, b| b.0.total_cmp(&a.0));
    wanted
        .iter()
        .find_map(|(_, tag)| fits(tag))
        .or_else(|| offered.first().map(|l| (*l).to_owned()))
        .unwrap_or_else(|| "en".into())
}

/// The CSRF cookie's value, and whether it must be set on this answer.
pub fn csrf_seed(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, CSRF_COOKIE)
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Some(v) => (v.to_owned(), false),
        None => (random_hex(), true),
    }
}

pub fn csrf_token(state: &AppState, seed: &str) -> String {
    state
        .links
        .sign("privacy-center csrf", seed, now_s(state) + CSRF_SECONDS)
}

/// Whether a form POST comes from one of our pages in this browser.
/// How every form post starts: its fields (none when the body is not a form), the page's
/// language, and the CSRF check; when the check fails, the refusal page to answer instead.
pub fn posted(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<axum::Form<super::Fields>, axum::extract::rejection::FormRejection>,
) -> Result<(super::Fields, String), axum::response::Response> {
    let fields = form.map(|f| f.0).unwrap_or_default();
    let lang = language(state, headers, super::field(&fields, "lang"));
    if !csrf_ok(state, headers, super::field(&fields, "csrf")) {
        return Err(super::page::csrf_refused(state, &lang));
    }
    Ok((fields, lang))
}

pub fn csrf_ok(state: &AppState, headers: &HeaderMap, token: Option<&str>) -> bool {
    let (Some(seed), Some(token)) = (cookie(headers, CSRF_COOKIE), token) else {
        return false;
    };
    crate::origin::same_origin(state, headers)
        && state
            .links
            .verify("privacy-center csrf", seed, token, now_s(state))
            .is_ok()
}

/// The banner's cookie, decoded, when it names a valid device id.
pub struct Device {
    pub id: SubjectId,
    /// The cookie's JSON, kept so that a change rewrites only its choices.
    pub cookie: Value,
}

pub fn device(headers: &HeaderMap) -> Option<Device> {
    device_of(cookie(headers, DEVICE_COOKIE)?)
}

/// The banner's cookie from its value (`encodeURIComponent` of its JSON), when it names a
/// valid device id. Takes bytes from anyone's browser: fuzzed (`crates/fuzz-targets`).
pub fn device_of(raw: &str) -> Option<Device> {
    let json: Value = serde_json::from_str(&percent_decode(raw)?).ok()?;
    let id = SubjectId::parse(IdKind::DeviceId, json.get("id")?.as_str()?).ok()?;
    Some(Device { id, cookie: json })
}

/// A new device, as the banner would make one, for a visitor who chooses here first.
pub fn new_device(state: &AppState) -> Device {
    let id = state.ids.next("dev");
    let cookie = serde_json::json!({
        "id": id,
        "h": crate::assets::consent_hash(&state.policy),
        "v": state.policy.policy.version,
        "c": {},
        "u": 0,
    });
    Device {
        id: SubjectId::parse(IdKind::DeviceId, &id).expect("an id of `Ids` is a device id"),
        cookie,
    }
}

/// The banner's cookie with `choices` written into it; readable by the banner's script, so
/// not HttpOnly, with the banner's own attributes.
pub fn device_cookie(state: &AppState, device: &Device, choices: &[(String, bool)]) -> String {
    format!(
        "{DEVICE_COOKIE}={}; Path=/; Max-Age={DEVICE_AGE}; SameSite=Lax{}",
        device_cookie_value(&state.policy, device, choices),
        secure(state)
    )
}

/// The banner cookie's value with `choices` written into it, encoded as the banner encodes it.
pub fn device_cookie_value(policy: &Policy, device: &Device, choices: &[(String, bool)]) -> String {
    uri_component(&with_choices(&device.cookie, policy, choices).to_string())
}

/// The banner's cookie JSON with `choices` written into `c`, and for a widget purpose the terms
/// the choice was made under into `w`, as the banner writes them: the banner honours a widget
/// choice only while its terms are unchanged (docs/banner.md).
fn with_choices(cookie: &Value, policy: &Policy, choices: &[(String, bool)]) -> Value {
    let mut json = cookie.clone();
    for key in ["c", "w"] {
        if !json.get(key).is_some_and(Value::is_object) {
            json[key] = serde_json::json!({});
        }
    }
    for (p, g) in choices {
        json["c"][p] = Value::Bool(*g);
        if let Some(w) = crate::assets::widget_purposes(policy).find(|w| &w.id == p) {
            json["w"][p] = Value::String(w.consent_terms());
        }
    }
    json
}

/// What JavaScript's `encodeURIComponent` produces, so the banner reads our cookie.
fn uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The e-mail subject this browser confirmed, while its session lasts. A store that cannot
/// be read is logged and taken as no session (the pages then offer to sign in).
pub async fn session(state: &AppState, headers: &HeaderMap) -> Option<SubjectRef> {
    let token = cookie(headers, SESSION_COOKIE).filter(|t| !t.is_empty())?;
    match custodian_app::signin::session(state, token).await {
        Ok(subject) => subject,
        Err(e) => {
            tracing::warn!(code = e.code(), error = %e, "privacy-centre session could not be read");
            None
        }
    }
}

/// The session cookie's value this browser sends, for signing out.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE).filter(|t| !t.is_empty())
}

pub fn session_cookie(state: &AppState, token: &str) -> String {
    own_cookie(state, SESSION_COOKIE, Some(token), SESSION_SECONDS)
}

/// A sign-in waiting for its code: the subject, a nonce, and a signature over both and the
/// code — so the cookie proves which code was sent without containing it.
pub struct Pending {
    pub subject: SubjectRef,
    pub nonce: String,
    token: String,
}

fn pending_payload(subject: &str, nonce: &str, code: &str) -> String {
    format!("{subject}:{nonce}:{code}")
}

pub fn pending_cookie(
    state: &AppState,
    subject: &SubjectRef,
    nonce: &str,
    code: &str,
    minutes: i64,
) -> String {
    let hex = subject.to_hex();
    let token = state.links.sign(
        "privacy-center sign-in",
        &pending_payload(&hex, nonce, code),
        now_s(state) + minutes * 60,
    );
    own_cookie(
        state,
        PENDING_COOKIE,
        Some(&format!("{hex}.{nonce}.{token}")),
        minutes * 60,
    )
}

pub fn pending(headers: &HeaderMap) -> Option<Pending> {
    let mut parts = cookie(headers, PENDING_COOKIE)?.splitn(3, '.');
    let subject = SubjectRef::from_hex(parts.next()?)?;
    let nonce = parts.next()?.to_owned();
    let token = parts.next()?.to_owned();
    Some(Pending {
        subject,
        nonce,
        token,
    })
}

impl Pending {
    /// Whether `code` is the one mailed for this sign-in of `subject` (the subject the store
    /// holds for the nonce, not the cookie's word for it).
    pub fn check(
        &self,
        state: &AppState,
        subject: &SubjectRef,
        code: &str,
    ) -> Result<(), custodian_core::signed::LinkError> {
        state.links.verify(
            "privacy-center sign-in",
            &pending_payload(&subject.to_hex(), &self.nonce, code.trim()),
            &self.token,
            now_s(state),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_encoding_matches_the_banner() {
        let json = r#"{"id":"ab","c":{"analytics":true}}"#;
        let enc = uri_component(json);
        assert_eq!(
            enc,
            "%7B%22id%22%3A%22ab%22%2C%22c%22%3A%7B%22analytics%22%3Atrue%7D%7D"
        );
        assert_eq!(percent_decode(&enc).as_deref(), Some(json));
        assert_eq!(percent_decode("%zz"), None);
    }

    #[test]
    fn a_widget_choice_carries_its_terms_into_the_banner_cookie() {
        let policy = custodian_policy::example();
        let cookie = serde_json::json!({"id": "ab", "h": "x", "c": {"analytics": true}, "u": 0});
        let json = with_choices(
            &cookie,
            &policy,
            &[("social_widgets".into(), true), ("marketing".into(), false)],
        );
        assert_eq!(json["c"]["analytics"], true, "earlier choices kept");
        assert_eq!(json["c"]["social_widgets"], true);
        assert_eq!(json["c"]["marketing"], false);
        assert_eq!(
            json["w"],
            serde_json::json!({"social_widgets": policy.purpose("social_widgets").unwrap().consent_terms()}),
            "only widget purposes have terms in the cookie"
        );
    }
}

/// The cookie holding the CSRF seed, when a page had to create one.
pub fn csrf_cookies(state: &AppState, seed: &str, new: bool) -> Vec<String> {
    if new {
        vec![own_cookie(state, CSRF_COOKIE, Some(seed), CSRF_SECONDS)]
    } else {
        Vec::new()
    }
}
