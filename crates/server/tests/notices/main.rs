//! Notices before changes and the records of processing through the real router, with the
//! real SMTP sink: a material change refused without its notice, then scheduled, mailed to
//! everyone with an e-mail on record in their language, shown on the banner, the notice and
//! the privacy centre, and governing decisions at its date without a restart (consent asked
//! again); other notices honour people's opt-out, mandatory ones do not.

#[path = "../common/mod.rs"]
mod common;

mod records;
mod versions;

use common::TestApp;
use custodian_mail::testing::SmtpSink;
use custodian_mail::{deliver_due, MailConfig, Mailer, WorkerSettings};
use serde_json::json;

pub(crate) struct Env {
    pub(crate) app: TestApp,
    pub(crate) sink: SmtpSink,
    pub(crate) mailer: Mailer,
}

impl Env {
    pub(crate) async fn on(url: &str) -> Env {
        let app = TestApp::on(url).await;
        let sink = SmtpSink::start().await;
        let mailer =
            Mailer::new(&MailConfig::new(&sink.url(), "Privacy <privacy@custodian.test>").unwrap())
                .unwrap();
        Env { app, sink, mailer }
    }

    /// Queues every notice's mail and delivers everything queued.
    /// Lets the notice fan-out finish and delivers what it queued; answers how many mails were
    /// delivered. Recording a notice starts a fan-out of its own in the background
    /// (`announce::publish::after_recording`), so this waits for that one (up to two seconds)
    /// rather than racing it, then runs a pass itself for anything still due.
    pub(crate) async fn fan_out_and_deliver(&self) -> u64 {
        let before = self.sink.received().len();
        for _ in 0..200 {
            if self
                .app
                .state
                .store
                .notices_to_fan_out()
                .await
                .unwrap()
                .is_empty()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        custodian_app::announce::fanout::all(&self.app.state)
            .await
            .unwrap();
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
        (self.sink.received().len() - before) as u64
    }

    /// Subject and text of every mail delivered to `to`.
    pub(crate) fn mails_to(&self, to: &str) -> Vec<String> {
        self.sink
            .received()
            .iter()
            .filter(|m| m.rcpt_to.iter().any(|r| r.contains(to)))
            .map(|m| {
                format!(
                    "{}\n{}",
                    m.subject().unwrap_or_default(),
                    m.text().unwrap_or_default()
                )
            })
            .collect()
    }

    /// A customer the company declared with their e-mail (a lifecycle event): a person with an
    /// e-mail on record. Answers their subject reference.
    pub(crate) async fn customer(&self, email: &str) -> String {
        let a = self
            .app
            .post(
                "/v1/subjects/events",
                Some(&self.app.service),
                &json!({ "subject": { "email": email }, "event": "account_opened", "at": "2025-06-01T10:00:00Z" }),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.text);
        a.body["subject_ref"].as_str().unwrap().to_owned()
    }

    /// Sets a person's notice choices as the privacy centre does.
    pub(crate) async fn prefer(&self, subject_ref: &str, email: bool, lang: &str) {
        let s = custodian_core::subject::SubjectRef::from_hex(subject_ref).unwrap();
        custodian_app::announce::set_preferences(
            &self.app.state,
            &s,
            &custodian_store::notices::NoticePreferences {
                optional_email: email,
                optional_site: true,
                lang: Some(lang.into()),
            },
        )
        .await
        .unwrap();
    }

    /// Posts a policy file as `application/toml`.
    pub(crate) async fn publish(&self, text: &str, effective: &str, token: &str) -> common::Answer {
        let req =
            axum::http::Request::post(format!("/v1/admin/policy-versions?effective={effective}"))
                .header("content-type", "application/toml")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::from(text.to_owned()))
                .unwrap();
        self.app.call(req).await
    }
}

/// The example with `edits` applied (each `from` must occur exactly once).
pub(crate) fn example_with(edits: &[(&str, &str)]) -> String {
    let mut text = custodian_policy::EXAMPLE_POLICY.to_string();
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once");
        text = text.replacen(from, to, 1);
    }
    text
}
