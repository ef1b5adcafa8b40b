//! The test browser: the app with a cookie jar and the answers' headers, form encoding, and
//! the mail read back from a real SMTP delivery.

use crate::common::TestApp;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use custodian_mail::testing::SmtpSink;
use custodian_mail::{deliver_due, MailConfig, Mailer, WorkerSettings};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tower::ServiceExt;

pub(crate) const DEVICE: &str = "0123456789abcdef0123456789abcdef";

/// A browser: the app, a cookie jar and the answers' headers.
pub(crate) struct Browser<'a> {
    pub(crate) app: &'a TestApp,
    pub(crate) jar: BTreeMap<String, String>,
    pub(crate) headers: Vec<(String, String)>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) text: String,
}

impl Page {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    pub(crate) fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value of the first hidden `csrf` field.
    pub(crate) fn csrf(&self) -> String {
        let at = self
            .text
            .find(r#"name="csrf" value=""#)
            .unwrap_or_else(|| panic!("no csrf field in: {}", self.text));
        let rest = &self.text[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

pub(crate) fn enc(s: &str) -> String {
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

pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            jar: BTreeMap::new(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn with_device(app: &'a TestApp) -> Self {
        let mut b = Self::new(app);
        let cookie = json!({ "id": DEVICE, "h": "x", "v": "2018-05-25", "c": { "analytics": false }, "u": 0 });
        b.jar.insert(
            "cst_consent".into(),
            enc(&cookie.to_string()).replace("%3A", ":"),
        );
        b
    }

    pub(crate) fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }

    pub(crate) async fn send(&mut self, req: axum::http::request::Builder, body: Body) -> Page {
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

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path), Body::empty()).await
    }

    pub(crate) async fn post(&mut self, path: &str, pairs: &[(&str, &str)]) -> Page {
        self.send(
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
            Body::from(form(pairs)),
        )
        .await
    }

    /// Loads `page` for its CSRF token, then posts `pairs` with it.
    pub(crate) async fn submit(
        &mut self,
        page: &str,
        action: &str,
        pairs: &[(&str, &str)],
    ) -> Page {
        let token = self.get(page).await.csrf();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(pairs);
        self.post(action, &all).await
    }
}

pub(crate) struct Mail {
    pub(crate) sink: SmtpSink,
    pub(crate) mailer: Mailer,
}

impl Mail {
    pub(crate) async fn start() -> Mail {
        let sink = SmtpSink::start().await;
        let mailer =
            Mailer::new(&MailConfig::new(&sink.url(), "Privacy <privacy@custodian.test>").unwrap())
                .unwrap();
        Mail { sink, mailer }
    }

    /// Delivers what is queued; answers how many mails the sink holds.
    pub(crate) async fn delivered(&self, app: &TestApp) -> usize {
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
    pub(crate) async fn last_to(&self, app: &TestApp, to: &str) -> String {
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

pub(crate) fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in: {text}"))
        .to_owned()
}

pub(crate) fn link_in(text: &str, marker: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains(marker))
        .unwrap_or_else(|| panic!("no {marker} link in: {text}"))
        .to_owned()
}

pub(crate) async fn decide(app: &TestApp, subject: Value, purpose: &str) -> Value {
    app.post(
        "/v1/decide",
        Some(&app.service),
        &json!({ "subject": subject, "purpose": purpose, "country": "GB" }),
    )
    .await
    .body
}
