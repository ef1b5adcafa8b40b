//! The shared test environment: the app with a real SMTP sink, and helpers that read codes
//! and links out of delivered mail and ask for decisions.

use crate::common;
use crate::common::TestApp;
use custodian_mail::testing::SmtpSink;
use custodian_mail::{deliver_due, MailConfig, Mailer, WorkerSettings};
use serde_json::{json, Value};

pub(crate) struct Env {
    pub(crate) app: TestApp,
    pub(crate) sink: SmtpSink,
    pub(crate) mailer: Mailer,
}

impl Env {
    pub(crate) async fn new() -> Env {
        Self::on(&custodian_store::testing::fresh_sqlite_url()).await
    }

    pub(crate) async fn on(url: &str) -> Env {
        let app = TestApp::on(url).await;
        let sink = SmtpSink::start().await;
        let mailer =
            Mailer::new(&MailConfig::new(&sink.url(), "Privacy <privacy@custodian.test>").unwrap())
                .unwrap();
        Env { app, sink, mailer }
    }

    /// Delivers everything queued, as the outbox worker would.
    pub(crate) async fn drain(&self) {
        loop {
            let pass = deliver_due(
                &self.app.state.outbox,
                &self.mailer,
                self.app.state.clock.as_ref(),
                &WorkerSettings::default(),
            )
            .await
            .unwrap();
            if pass.claimed == 0 {
                break;
            }
        }
    }

    /// The text of the last mail delivered to `to`.
    pub(crate) async fn last_mail_to(&self, to: &str) -> String {
        self.mail_to_with(to, "").await
    }

    /// The subject and text of the newest mail to `to` that contains `marker` (mails queued
    /// together may arrive in any order).
    pub(crate) async fn mail_to_with(&self, to: &str, marker: &str) -> String {
        self.drain().await;
        self.sink
            .received()
            .iter()
            .rev()
            .filter(|m| m.rcpt_to.iter().any(|r| r.contains(to)))
            .map(|m| {
                format!(
                    "{}\n{}",
                    m.subject().unwrap_or_default(),
                    m.text().unwrap_or_default()
                )
            })
            .find(|t| t.contains(marker))
            .unwrap_or_else(|| panic!("no mail to {to} with {marker:?}"))
    }

    pub(crate) async fn submit(&self, body: Value) -> common::Answer {
        self.app.post("/v1/requests", None, &body).await
    }

    /// Submits a request and verifies it with the code read from the delivered mail.
    pub(crate) async fn verified(&self, kind: &str, email: &str, extra: Value) -> Value {
        let mut body = json!({ "type": kind, "email": email });
        if let Value::Object(m) = extra {
            body.as_object_mut().unwrap().extend(m);
        }
        let a = self.submit(body).await;
        assert_eq!(a.status, 202, "{}", a.text);
        let id = a.body["id"].as_str().unwrap().to_owned();
        let code = code_in(&self.last_mail_to(email).await);
        let v = self
            .app
            .post(
                &format!("/v1/requests/{id}/verify"),
                None,
                &json!({ "code": code }),
            )
            .await;
        assert_eq!(v.status, 200, "{}", v.text);
        self.admin(&id).await
    }

    pub(crate) async fn admin(&self, id: &str) -> Value {
        let a = self
            .app
            .get(&format!("/v1/admin/requests/{id}"), Some(&self.app.dpo))
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.body
    }

    pub(crate) async fn act(&self, id: &str, action: &str, body: Value) -> common::Answer {
        self.app
            .post(
                &format!("/v1/admin/requests/{id}/{action}"),
                Some(&self.app.dpo),
                &body,
            )
            .await
    }

    /// Ends a restriction in force as the law wants it (GDPR Art. 18(3)): the lift announced
    /// now, its notice delivered, then the request completed.
    pub(crate) async fn lift_restriction(&self, id: &str) -> common::Answer {
        let a = self
            .act(id, "lift", json!({ "reason": "the data was checked" }))
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        self.drain().await;
        self.act(id, "complete", json!({})).await
    }
}

/// The six-digit code in a verification mail.
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
        .trim_end_matches(['.', ',', ')'])
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

pub(crate) async fn allowed(app: &common::TestApp, subject: &Value) -> Value {
    let body = json!({ "subject": subject, "purpose": "analytics", "country": "DE" });
    app.post("/v1/decide", Some(&app.service), &body).await.body["allowed"].clone()
}
