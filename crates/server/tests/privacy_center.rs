//! The privacy centre, in process: its pages and headers, the CSRF check, consent changed
//! through the form (seen by the ledger and by decisions), signing in with a code read from a
//! real SMTP delivery, a request started from the form and confirmed through the verify page,
//! German, and hostile input that comes back escaped.

mod common;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::TestApp;
use custodian_mail::testing::SmtpSink;
use custodian_mail::{deliver_due, MailConfig, Mailer, WorkerSettings};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const DEVICE: &str = "0123456789abcdef0123456789abcdef";

/// A browser: the app, a cookie jar and the answers' headers.
struct Browser<'a> {
    app: &'a TestApp,
    jar: BTreeMap<String, String>,
    headers: Vec<(String, String)>,
}

struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self
            .text
            .find(r#"name="csrf" value=""#)
            .unwrap_or_else(|| panic!("no csrf field in: {}", self.text));
        let rest = &self.text[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            jar: BTreeMap::new(),
            headers: Vec::new(),
        }
    }

    fn with_device(app: &'a TestApp) -> Self {
        let mut b = Self::new(app);
        let cookie = json!({ "id": DEVICE, "h": "x", "v": "2018-05-25", "c": { "analytics": false }, "u": 0 });
        b.jar.insert(
            "cst_consent".into(),
            enc(&cookie.to_string()).replace("%3A", ":"),
        );
        b
    }

    fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }

    async fn send(&mut self, req: axum::http::request::Builder, body: Body) -> Page {
        let mut req = req;
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header(header::COOKIE, cookies.join("; "));
        }
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let res = self
            .app
            .router
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes())
            .into_owned();
        let page = Page {
            status,
            headers,
            text,
        };
        for c in page.set_cookies() {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.into(), v.into());
            }
        }
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path), Body::empty()).await
    }

    async fn post(&mut self, path: &str, pairs: &[(&str, &str)]) -> Page {
        self.send(
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            Body::from(form(pairs)),
        )
        .await
    }

    /// Loads `page` for its CSRF token, then posts `pairs` with it.
    async fn submit(&mut self, page: &str, action: &str, pairs: &[(&str, &str)]) -> Page {
        let token = self.get(page).await.csrf();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(pairs);
        self.post(action, &all).await
    }
}

struct Mail {
    sink: SmtpSink,
    mailer: Mailer,
}

impl Mail {
    async fn start() -> Mail {
        let sink = SmtpSink::start().await;
        let mailer =
            Mailer::new(&MailConfig::new(&sink.url(), "Privacy <privacy@custodian.test>").unwrap())
                .unwrap();
        Mail { sink, mailer }
    }

    /// Delivers what is queued; answers how many mails the sink holds.
    async fn delivered(&self, app: &TestApp) -> usize {
        loop {
            let pass = deliver_due(
                &app.state.outbox,
                &self.mailer,
                app.state.clock.as_ref(),
                &WorkerSettings::default(),
            )
            .await
            .unwrap();
            if pass.claimed == 0 {
                break;
            }
        }
        self.sink.count()
    }

    /// Delivers what is queued, then answers the newest text sent to `to`.
    async fn last_to(&self, app: &TestApp, to: &str) -> String {
        self.delivered(app).await;
        let mails = self.sink.received();
        let m = mails
            .iter()
            .rev()
            .find(|m| m.rcpt_to.iter().any(|r| r.contains(to)))
            .unwrap_or_else(|| panic!("no mail to {to}"));
        format!(
            "{}\n{}",
            m.subject().unwrap_or_default(),
            m.text().unwrap_or_default()
        )
    }
}

fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in: {text}"))
        .to_owned()
}

fn link_in(text: &str, marker: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains(marker))
        .unwrap_or_else(|| panic!("no {marker} link in: {text}"))
        .to_owned()
}

async fn decide(app: &TestApp, subject: Value, purpose: &str) -> Value {
    app.post(
        "/v1/decide",
        Some(&app.service),
        &json!({ "subject": subject, "purpose": purpose, "country": "GB" }),
    )
    .await
    .body
}

#[tokio::test]
async fn every_page_renders_under_a_strict_policy_and_is_never_cached() {
    let app = TestApp::sqlite().await;
    let mut b = Browser::new(&app);
    for (path, expect) in [
        ("/privacy-center", "Privacy centre"),
        ("/privacy-center/consents", "Analytics"),
        ("/privacy-center/requests", "Give me a copy of my data"),
        ("/privacy-center/unsubscribe", "one click"),
        ("/privacy-center/sign-in", "ask for a code"),
        (
            "/privacy-center/verify?request=req_00ff&code=123456",
            r#"value="123456""#,
        ),
    ] {
        let p = b.get(path).await;
        assert_eq!(p.status, 200, "{path}: {}", p.text);
        assert_eq!(p.header("content-type"), "text/html; charset=utf-8");
        let csp = p.header("content-security-policy");
        assert!(
            csp.contains("default-src 'none'")
                && csp.contains("style-src 'self'")
                && csp.contains("form-action 'self'")
                && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(p.header("cache-control"), "no-store", "{path}");
        assert_eq!(p.header("referrer-policy"), "no-referrer");
        assert_eq!(p.header("x-content-type-options"), "nosniff");
        assert!(p.text.contains(r#"<html lang="en">"#), "{path}");
        assert!(p.text.contains(expect), "{path} lacks {expect:?}");
        for landmark in [
            "<header",
            "<nav aria-label=",
            "<main id=\"main\"",
            "<footer",
            "href=\"#main\"",
            r#"href="/privacy""#,
            r#"href="/assets/privacy-center.css""#,
        ] {
            assert!(p.text.contains(landmark), "{path} lacks {landmark}");
        }
        assert!(
            !p.text.contains("<script") && !p.text.contains(" style="),
            "{path}: no script, no inline style"
        );
    }
    let home = b.get("/privacy-center").await;
    for link in [
        "/privacy-center/consents?lang=en",
        "/privacy-center/requests?lang=en",
        "/privacy-center/unsubscribe?lang=en",
        "/privacy",
    ] {
        assert!(
            home.text.contains(&format!(r#"href="{link}""#)),
            "home links {link}"
        );
    }
    // Every consent purpose of the policy is on the consents page, with its notice.
    let consents = b.get("/privacy-center/consents").await;
    for p in app.state.policy.consent_purposes() {
        assert!(
            consents
                .text
                .contains(&format!(r#"name="choice.{}""#, p.id)),
            "{}",
            p.id
        );
        let notice = app.state.policy.notice_text(&p.id, "en").unwrap();
        assert!(
            consents
                .text
                .contains(&custodian_server::html::escape(notice)),
            "{}",
            p.id
        );
    }
    // Every input has a label.
    for id in consents
        .text
        .split(r#"<input type="radio" id=""#)
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
    {
        assert!(
            consents.text.contains(&format!(r#"<label for="{id}">"#)),
            "{id} has a label"
        );
    }

    let css = b.get("/assets/privacy-center.css").await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    assert!(css.text.contains(":focus-visible"));

    // The CSRF cookie is HttpOnly and Lax, scoped to the centre; not Secure on plain http.
    let mut fresh = Browser::new(&app);
    let first = fresh.get("/privacy-center/consents").await;
    let csrf = first
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("cst_pc_csrf="))
        .unwrap();
    assert!(
        csrf.contains("HttpOnly")
            && csrf.contains("SameSite=Lax")
            && csrf.contains("Path=/privacy-center")
            && !csrf.contains("Secure"),
        "{csrf}"
    );

    let unknown = b.get("/privacy-center/nothing").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        app.get("/openapi.json", None).await.body["paths"]["/privacy-center/consents"]["post"]
            ["tags"][0],
        "privacy centre"
    );
}

#[tokio::test]
async fn a_form_without_a_valid_token_changes_nothing() {
    let app = TestApp::sqlite().await;
    let mail = Mail::start().await;
    let mut b = Browser::with_device(&app);
    let choice = ("choice.analytics", "yes");

    // No token at all.
    let p = b
        .post("/privacy-center/consents", &[("for", "device"), choice])
        .await;
    assert_eq!(p.status, 403);
    assert!(p.text.contains("could not accept this form") && p.text.contains(r#"role="alert""#));
    assert_eq!(
        p.header("content-security-policy"),
        custodian_server::routes::privacy_center::page::CSP
    );

    // A token minted for another browser's cookie.
    let mut other = Browser::new(&app);
    let foreign = other.get("/privacy-center/consents").await.csrf();
    b.get("/privacy-center/consents").await;
    let p = b
        .post(
            "/privacy-center/consents",
            &[("csrf", &foreign), ("for", "device"), choice],
        )
        .await;
    assert_eq!(p.status, 403);

    // A forged token, and a real one sent from another site.
    let p = b
        .post(
            "/privacy-center/consents",
            &[("csrf", "99999999999.AAAA"), ("for", "device"), choice],
        )
        .await;
    assert_eq!(p.status, 403);
    let token = b.get("/privacy-center/consents").await.csrf();
    let mut cross = Browser {
        app: &app,
        jar: b.jar.clone(),
        headers: vec![("sec-fetch-site".into(), "cross-site".into())],
    };
    let p = cross
        .post(
            "/privacy-center/consents",
            &[("csrf", &token), ("for", "device"), choice],
        )
        .await;
    assert_eq!(p.status, 403);

    // An expired token (a day old).
    app.clock.advance(86_400 * 1_000_000 + 1);
    let p = b
        .post(
            "/privacy-center/consents",
            &[("csrf", &token), ("for", "device"), choice],
        )
        .await;
    assert_eq!(p.status, 403);

    // Every other form is guarded too.
    for action in [
        "/privacy-center/sign-in",
        "/privacy-center/sign-in/code",
        "/privacy-center/sign-out",
        "/privacy-center/requests",
        "/privacy-center/verify",
    ] {
        let p = b
            .post(
                action,
                &[
                    ("email", "ada@example.com"),
                    ("type", "access"),
                    ("code", "123456"),
                    ("request", "req_00"),
                ],
            )
            .await;
        assert_eq!(p.status, 403, "{action}");
    }
    assert!(app.events().await.is_empty(), "nothing was recorded");
    assert_eq!(mail.delivered(&app).await, 0, "nothing was mailed");
}

#[tokio::test]
async fn a_choice_made_in_the_form_is_in_the_ledger_and_decisions_see_it() {
    let app = TestApp::sqlite().await;
    let mut b = Browser::with_device(&app);
    assert_eq!(
        decide(&app, json!({ "device_id": DEVICE }), "analytics").await["allowed"],
        false
    );

    let page = b.get("/privacy-center/consents").await;
    assert!(page.text.contains("stored for this browser"));
    let p = b
        .submit(
            "/privacy-center/consents",
            "/privacy-center/consents",
            &[
                ("lang", "en"),
                ("for", "device"),
                ("choice.analytics", "yes"),
                ("choice.marketing", "no"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.text);
    assert_eq!(
        p.header("location"),
        "/privacy-center/consents?lang=en&saved=1#device"
    );

    // The ledger holds both choices, from the privacy centre, with the notice's hash.
    let events = app.events().await;
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| e.source.as_str() == "privacy_center" && e.notice_hash.is_some()));
    assert_eq!(app.verify_ledger().await, 2);
    let state = app
        .get(&format!("/v1/consent?device_id={DEVICE}"), None)
        .await;
    let analytics = state.body["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["purpose"] == "analytics")
        .unwrap()
        .clone();
    assert_eq!(analytics["given"], true);
    assert_eq!(analytics["source"], "privacy_center");
    assert_eq!(
        decide(&app, json!({ "device_id": DEVICE }), "analytics").await["allowed"],
        true
    );

    // The banner's cookie now agrees, and keeps its id.
    let cookie = p
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("cst_consent="))
        .unwrap();
    assert!(
        cookie.contains("Path=/")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("cst_consent=");
    let decoded: String = {
        let bytes = value.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    let json: Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(json["id"], DEVICE);
    assert_eq!(json["c"]["analytics"], true);
    assert_eq!(json["c"]["marketing"], false);

    // The page shows the state, when and how it was set.
    let after = b.get("/privacy-center/consents?lang=en&saved=1").await;
    assert!(
        after.text.contains("Your choices were saved.") && after.text.contains(r#"role="status""#)
    );
    assert!(
        after.text.contains("agreed on 2026-01-01")
            && after.text.contains("via the privacy centre"),
        "{}",
        after.text
    );
    assert!(after
        .text
        .contains(r#"id="device-analytics-yes" name="choice.analytics" value="yes" checked"#));

    // Saving the same again records nothing.
    let again = b
        .submit(
            "/privacy-center/consents",
            "/privacy-center/consents",
            &[("for", "device"), ("choice.analytics", "yes")],
        )
        .await;
    assert_eq!(
        again.header("location"),
        "/privacy-center/consents?lang=en&saved=none#device"
    );
    assert_eq!(app.events().await.len(), 2);

    // Global Privacy Control wins over the form for advertising, as in `POST /v1/consent`.
    let mut gpc = Browser {
        app: &app,
        jar: b.jar.clone(),
        headers: vec![("sec-gpc".into(), "1".into())],
    };
    let note = gpc.get("/privacy-center/consents").await;
    assert!(note.text.contains("Global Privacy Control"));
    let p = gpc
        .submit(
            "/privacy-center/consents",
            "/privacy-center/consents",
            &[("for", "device"), ("choice.advertising", "yes")],
        )
        .await;
    assert_eq!(p.status, 303);
    let ads: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.purpose == "advertising")
        .collect();
    assert_eq!(ads.len(), 1);
    assert!(!ads[0].given);
    assert_eq!(ads[0].source.as_str(), "gpc");

    // An unknown purpose or value is refused without recording anything.
    let before = app.events().await.len();
    for bad in [
        ("choice.spam", "yes"),
        ("choice.account", "yes"),
        ("choice.analytics", "maybe"),
    ] {
        let p = b
            .submit(
                "/privacy-center/consents",
                "/privacy-center/consents",
                &[("for", "device"), bad],
            )
            .await;
        assert_eq!(p.status, 422, "{bad:?}");
    }
    assert_eq!(app.events().await.len(), before);
}

#[tokio::test]
async fn a_browser_without_the_banner_cookie_gets_one_when_it_chooses() {
    let app = TestApp::sqlite().await;
    let mut b = Browser::new(&app);
    let page = b.get("/privacy-center/consents").await;
    assert!(page
        .text
        .contains("No choices are stored for this browser yet"));
    let p = b
        .submit(
            "/privacy-center/consents",
            "/privacy-center/consents",
            &[("for", "device"), ("choice.analytics", "no")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert!(b.jar.contains_key("cst_consent"));
    let events = app.events().await;
    assert_eq!(events.len(), 1);
    let again = b.get("/privacy-center/consents").await;
    assert!(again
        .text
        .contains("stored for this browser by our cookie banner"));
    assert!(again.text.contains("refused on"));
}

#[tokio::test]
async fn signing_in_with_an_emailed_code_shows_and_changes_the_address_s_choices() {
    let app = TestApp::sqlite().await;
    let mail = Mail::start().await;
    let email = "ada@example.com";
    app.post("/v1/consent", Some(&app.service), &json!({ "subject": { "email": email }, "choices": { "marketing": true }, "policy_version": "2018-05-25", "source": "signup" })).await;

    let mut b = Browser::new(&app);
    let p = b
        .submit(
            "/privacy-center/consents",
            "/privacy-center/sign-in",
            &[("lang", "en"), ("email", email)],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.text);
    assert_eq!(p.header("location"), "/privacy-center/sign-in?lang=en");
    let pending = p
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("cst_pc_signin="))
        .unwrap();
    assert!(
        pending.contains("HttpOnly") && !pending.contains(email) && !pending.contains("ada"),
        "{pending}"
    );

    let text = mail.last_to(&app, email).await;
    let code = code_in(&text);
    let link = link_in(&text, "/privacy-center/sign-in");
    assert!(
        !pending.contains(&code),
        "the cookie does not carry the code"
    );
    let path = link.strip_prefix("http://custodian.test").unwrap();
    let form = b.get(path).await;
    assert_eq!(form.status, 200);
    assert!(
        form.text.contains(&format!(r#"value="{code}""#)),
        "the link fills the code in"
    );
    assert!(
        b.get("/privacy-center/consents")
            .await
            .text
            .contains("Send me a code"),
        "a GET signed nobody in"
    );

    // A wrong code is refused; the right one signs in.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let p = b
        .submit(
            "/privacy-center/sign-in",
            "/privacy-center/sign-in/code",
            &[("code", wrong)],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.text.contains("This code is not right"));
    let p = b
        .submit(
            "/privacy-center/sign-in",
            "/privacy-center/sign-in/code",
            &[("code", &code)],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.text);
    assert_eq!(
        p.header("location"),
        "/privacy-center/consents?lang=en#account"
    );
    let session = p
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("cst_pc_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Max-Age=1800"),
        "{session}"
    );
    assert!(
        !session.contains("ada") && !session.contains("example.com"),
        "no address in the cookie: {session}"
    );
    assert!(
        !b.jar.contains_key("cst_pc_signin"),
        "the pending sign-in is spent"
    );

    let page = b.get("/privacy-center/consents").await;
    assert!(page.text.contains("You confirmed your e-mail address"));
    assert!(
        page.text
            .contains(r#"id="account-marketing-yes" name="choice.marketing" value="yes" checked"#),
        "{}",
        page.text
    );
    assert!(page.text.contains("via sign-up"));

    // Withdraw marketing from the unsubscribe page, in one click.
    let unsub = b.get("/privacy-center/unsubscribe").await;
    assert!(unsub.text.contains("Withdraw: "), "{}", unsub.text);
    assert_eq!(
        decide(&app, json!({ "email": email }), "marketing").await["allowed"],
        true
    );
    let p = b
        .submit(
            "/privacy-center/unsubscribe",
            "/privacy-center/consents",
            &[("for", "account"), ("choice.marketing", "no")],
        )
        .await;
    assert_eq!(p.status, 303);
    let d = decide(&app, json!({ "email": email }), "marketing").await;
    assert_eq!(d["allowed"], false);
    assert_eq!(d["reason"], "consent withdrawn");
    let last = app.events().await.pop().unwrap();
    assert_eq!(
        (last.purpose.as_str(), last.given, last.source.as_str()),
        ("marketing", false, "privacy_center")
    );

    // Signing out ends it; the account form then needs a new code.
    let p = b
        .submit("/privacy-center/consents", "/privacy-center/sign-out", &[])
        .await;
    assert_eq!(p.status, 303);
    let page = b.get("/privacy-center/consents").await;
    assert!(page.text.contains("You are signed out.") || page.text.contains("Send me a code"));
    let p = b
        .submit(
            "/privacy-center/consents",
            "/privacy-center/consents",
            &[("for", "account"), ("choice.marketing", "yes")],
        )
        .await;
    assert_eq!(p.status, 401);

    // A session expires after 30 minutes; a code after the policy's minutes.
    let mut late = Browser::new(&app);
    late.submit(
        "/privacy-center/consents",
        "/privacy-center/sign-in",
        &[("email", "bob@example.com")],
    )
    .await;
    let code = code_in(&mail.last_to(&app, "bob@example.com").await);
    app.clock.advance(31 * 60 * 1_000_000);
    let p = late
        .submit(
            "/privacy-center/sign-in",
            "/privacy-center/sign-in/code",
            &[("code", &code)],
        )
        .await;
    assert_eq!(p.status, 410, "{}", p.text);
    assert!(p.text.contains("expired"));
}

#[tokio::test]
async fn a_request_started_from_the_form_is_confirmed_through_the_verify_page() {
    let app = TestApp::sqlite().await;
    let mail = Mail::start().await;
    let email = "carol@example.com";
    let mut b = Browser::new(&app);

    let form = b.get("/privacy-center/requests").await;
    for kind in [
        "access",
        "rectification",
        "erasure",
        "objection",
        "restriction",
    ] {
        assert!(form.text.contains(&format!(r#"value="{kind}""#)), "{kind}");
    }
    for customer in &app.state.policy.customers {
        assert!(form
            .text
            .contains(&format!(r#"<option value="{}">"#, customer.id)));
    }

    // A mistake shows the form again with what was typed and a friendly message.
    let p = b
        .submit(
            "/privacy-center/requests",
            "/privacy-center/requests",
            &[
                ("type", "access"),
                ("email", "not-an-address"),
                ("country", "DE"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(
        p.text.contains("Please enter a valid e-mail address")
            && p.text.contains(r#"value="not-an-address""#)
    );
    assert!(p.text.contains(r#"<option value="DE" selected>"#));

    let p = b
        .submit(
            "/privacy-center/requests",
            "/privacy-center/requests",
            &[
                ("type", "access"),
                ("email", email),
                ("country", "DE"),
                ("details", ""),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.text);
    let location = p.header("location").to_owned();
    assert!(
        location.starts_with("/privacy-center/verify?request=req_")
            && location.ends_with("&lang=en"),
        "{location}"
    );
    let id = location
        .split("request=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();

    let text = mail.last_to(&app, email).await;
    let code = code_in(&text);
    let link = link_in(&text, "/privacy-center/verify?");
    assert_eq!(
        link,
        format!("http://custodian.test/privacy-center/verify?request={id}&code={code}")
    );
    let page = b
        .get(link.strip_prefix("http://custodian.test").unwrap())
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains(&format!(r#"value="{code}""#))
            && page.text.contains(&format!(r#"value="{id}""#))
    );
    let admin = app
        .get(&format!("/v1/admin/requests/{id}"), Some(&app.dpo))
        .await;
    assert_eq!(
        admin.body["status"], "awaiting_verification",
        "opening the link changed nothing"
    );

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let p = b
        .submit(
            &location,
            "/privacy-center/verify",
            &[("request", &id), ("code", wrong)],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.text.contains("Attempts left: 4"), "{}", p.text);

    let p = b
        .submit(
            &location,
            "/privacy-center/verify",
            &[("request", &id), ("code", &code)],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.text);
    let status = p.header("location").to_owned();
    assert!(
        status.starts_with(&format!("/requests/{id}?t=")),
        "{status}"
    );
    let shown = app.get(&status, None).await;
    assert_eq!(shown.status, 200);
    assert!(shown.text.contains("access"));
    let admin = app
        .get(&format!("/v1/admin/requests/{id}"), Some(&app.dpo))
        .await;
    assert_ne!(admin.body["status"], "awaiting_verification");

    // Confirming again, an unknown request, or a malformed id: friendly pages, right statuses.
    let p = b
        .submit(
            &location,
            "/privacy-center/verify",
            &[("request", &id), ("code", &code)],
        )
        .await;
    assert_eq!(p.status, 409);
    assert!(p.text.contains("already confirmed"));
    let p = b
        .submit(
            &location,
            "/privacy-center/verify",
            &[("request", "req_00ff"), ("code", "123456")],
        )
        .await;
    assert_eq!(p.status, 404);
    assert!(p.text.contains("could not find this request"));
    assert_eq!(
        b.get("/privacy-center/verify?request=nope").await.status,
        400
    );

    // An abandoned request (the code expired) says so.
    let p = b
        .submit(
            "/privacy-center/requests",
            "/privacy-center/requests",
            &[("type", "erasure"), ("email", "dan@example.com")],
        )
        .await;
    let late = p.header("location").to_owned();
    let late_id = late
        .split("request=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let code = code_in(&mail.last_to(&app, "dan@example.com").await);
    app.clock.advance(31 * 60 * 1_000_000);
    let p = b
        .submit(
            &late,
            "/privacy-center/verify",
            &[("request", &late_id), ("code", &code)],
        )
        .await;
    assert_eq!(p.status, 410);
    assert!(p.text.contains("start a new request"));
}

#[tokio::test]
async fn the_same_address_asking_too_often_is_told_to_wait_without_learning_anything() {
    let app = TestApp::sqlite().await;
    let mut b = Browser::new(&app);
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let p = b
            .submit(
                "/privacy-center/requests",
                "/privacy-center/requests",
                &[("type", "access"), ("email", "eve@example.com")],
            )
            .await;
        statuses.push(p.status.as_u16());
        if p.status == 429 {
            assert!(p.text.contains("Too many attempts"));
        }
    }
    assert_eq!(statuses, [303, 303, 303, 303, 303, 429, 429]);
}

#[tokio::test]
async fn german_visitors_get_german_pages_and_can_switch() {
    let app = TestApp::sqlite().await;
    let mut de = Browser::new(&app).header("accept-language", "fr-CH, de-DE;q=0.9, en;q=0.5");
    let p = de.get("/privacy-center/consents").await;
    assert!(p.text.contains(r#"<html lang="de">"#));
    assert_eq!(p.header("content-language"), "de");
    assert!(p.text.contains("Ihre Einwilligungen") && p.text.contains("Ja, ich willige ein"));
    let notice = app.state.policy.notice_text("analytics", "de").unwrap();
    assert!(
        p.text.contains(&custodian_server::html::escape(notice)),
        "the policy's German notice"
    );
    assert!(p.text.contains(
        r#"href="/privacy-center/consents?lang=en" hreflang="en" lang="en">English</a>"#
    ));
    let en = de.get("/privacy-center/consents?lang=en").await;
    assert!(
        en.text.contains(r#"<html lang="en">"#),
        "the switch wins over the header"
    );

    // A choice made in German records the German notice's hash.
    let mut dev = Browser::with_device(&app).header("accept-language", "de");
    dev.submit(
        "/privacy-center/consents",
        "/privacy-center/consents",
        &[
            ("lang", "de"),
            ("for", "device"),
            ("choice.analytics", "yes"),
        ],
    )
    .await;
    let e = app.events().await.pop().unwrap();
    assert_eq!(
        e.notice_hash.as_deref(),
        Some(custodian_policy::notice_hash(notice).as_str())
    );

    let form = de.get("/privacy-center/requests").await;
    assert!(form.text.contains("Meine Daten löschen") && form.text.contains("Deutschland"));
    let p = de
        .submit(
            "/privacy-center/requests",
            "/privacy-center/requests",
            &[("lang", "de"), ("type", "access"), ("email", "kaputt")],
        )
        .await;
    assert!(p
        .text
        .contains("Bitte geben Sie eine gültige E-Mail-Adresse ein"));
    let csrf = de.post("/privacy-center/consents", &[("lang", "de")]).await;
    assert!(csrf.text.contains("Zu Ihrer Sicherheit"));
}

#[tokio::test]
async fn hostile_input_comes_back_escaped() {
    let app = TestApp::sqlite().await;
    let mut b = Browser::new(&app);
    let evil = r#""><script>alert(1)</script>"#;
    let p = b
        .submit(
            "/privacy-center/requests",
            "/privacy-center/requests",
            &[
                ("type", "access"),
                ("email", evil),
                ("details", "<img src=x onerror=alert(1)>"),
                ("country", evil),
                ("customer", evil),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(
        !p.text.contains("<script>alert") && !p.text.contains("<img src=x"),
        "{}",
        p.text
    );
    assert!(
        p.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            && p.text.contains("&lt;img src=x onerror=alert(1)&gt;")
    );

    for path in [
        "/privacy-center?lang=%22%3E%3Cscript%3E",
        "/privacy-center/sign-in?code=%3Cscript%3E12",
        "/privacy-center/verify?request=%3Cscript%3E",
        "/privacy-center/verify?request=req_00&code=%22%3E%3Cscript%3E",
        "/privacy-center/consents?saved=%3Cscript%3E",
    ] {
        let p = b.get(path).await;
        assert!(!p.text.contains("<script"), "{path}: {}", p.text);
    }
    // A mangled banner cookie is ignored, not echoed.
    let mut odd = Browser::new(&app);
    odd.jar.insert(
        "cst_consent".into(),
        "%7B%22id%22%3A%22%3Cscript%3E%22%7D".into(),
    );
    let p = odd.get("/privacy-center/consents").await;
    assert_eq!(p.status, 200);
    assert!(
        !p.text.contains("<script")
            && p.text
                .contains("No choices are stored for this browser yet")
    );
    // A garbage body is a friendly refusal, never a crash.
    let p = b
        .send(
            Request::post("/privacy-center/consents").header(header::CONTENT_TYPE, "text/plain"),
            Body::from("\u{0}\u{1}"),
        )
        .await;
    assert_eq!(p.status, 403);
}
