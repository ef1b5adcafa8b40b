//! Data-subject requests end to end, in process, with mail delivered through a real SMTP
//! server on loopback: intake, the e-mailed code, deadlines, the DPO's queue, routing, the
//! effects of each type, and bad input that reveals nothing.

mod common;

use common::{assert_problem, TestApp};
use custodian_mail::testing::SmtpSink;
use custodian_mail::{deliver_due, MailConfig, Mailer, WorkerSettings};
use serde_json::{json, Value};

struct Env {
    app: TestApp,
    sink: SmtpSink,
    mailer: Mailer,
}

impl Env {
    async fn new() -> Env {
        Self::on(&custodian_store::testing::fresh_sqlite_url()).await
    }

    async fn on(url: &str) -> Env {
        let app = TestApp::on(url).await;
        let sink = SmtpSink::start().await;
        let mailer =
            Mailer::new(&MailConfig::new(&sink.url(), "Privacy <privacy@custodian.test>").unwrap())
                .unwrap();
        Env { app, sink, mailer }
    }

    /// Delivers everything queued, as the outbox worker would.
    async fn drain(&self) {
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
    async fn last_mail_to(&self, to: &str) -> String {
        self.mail_to_with(to, "").await
    }

    /// The subject and text of the newest mail to `to` that contains `marker` (mails queued
    /// together may arrive in any order).
    async fn mail_to_with(&self, to: &str, marker: &str) -> String {
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

    async fn submit(&self, body: Value) -> common::Answer {
        self.app.post("/v1/requests", None, &body).await
    }

    /// Submits a request and verifies it with the code read from the delivered mail.
    async fn verified(&self, kind: &str, email: &str, extra: Value) -> Value {
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

    async fn admin(&self, id: &str) -> Value {
        let a = self
            .app
            .get(&format!("/v1/admin/requests/{id}"), Some(&self.app.dpo))
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.body
    }

    async fn act(&self, id: &str, action: &str, body: Value) -> common::Answer {
        self.app
            .post(
                &format!("/v1/admin/requests/{id}/{action}"),
                Some(&self.app.dpo),
                &body,
            )
            .await
    }
}

/// The six-digit code in a verification mail.
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
        .trim_end_matches(['.', ',', ')'])
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
async fn each_type_of_request_runs_end_to_end_through_real_smtp() {
    let env = Env::new().await;
    let app = &env.app;

    // Access: auto-approved by the example policy, completed with a download link.
    app.post("/v1/consent", Some(&app.service), &json!({ "subject": { "email": "ada@example.com" }, "choices": { "marketing": true }, "policy_version": "2018-05-25", "source": "signup" })).await;
    let access = env
        .verified("access", "ada@example.com", json!({ "country": "DE" }))
        .await;
    assert_eq!(access["status"], "completed", "{access}");
    assert_eq!(access["jurisdiction"], "gdpr");
    let mail = env.mail_to_with("ada@example.com", "/archive?t=").await;
    let download = link_in(&mail, "/archive?t=");
    let path = download.strip_prefix("http://custodian.test").unwrap();
    let zip = app.get(path, None).await;
    assert_eq!(zip.status, 200);
    assert_eq!(zip.content_type, "application/zip");
    let admin_zip = app
        .get(
            &format!(
                "/v1/admin/requests/{}/export",
                access["id"].as_str().unwrap()
            ),
            Some(&app.dpo),
        )
        .await;
    assert_eq!(
        zip.text.as_bytes(),
        admin_zip.text.as_bytes(),
        "the DPO gets the same archive"
    );
    assert!(
        zip.text.contains("manifest.json")
            && zip.text.contains("consents.csv")
            && zip.text.contains("marketing")
    );
    assert!(
        !zip.text.contains("ada@example.com"),
        "the archive names the subject by reference"
    );

    // Objection: auto-approved, withdraws marketing.
    assert_eq!(
        decide(app, json!({ "email": "ada@example.com" }), "marketing").await["allowed"],
        true
    );
    let objection = env
        .verified("objection", "ada@example.com", json!({}))
        .await;
    assert_eq!(objection["status"], "completed");
    let d = decide(app, json!({ "email": "ada@example.com" }), "marketing").await;
    assert_eq!(d["reason"], "consent withdrawn");

    // Rectification and restriction wait for the DPO, then are started and completed.
    for kind in ["rectification", "restriction"] {
        let r = env
            .verified(
                kind,
                "bob@example.com",
                json!({ "details": "my surname is Smith, not Smyth" }),
            )
            .await;
        assert_eq!(r["status"], "verified");
        assert_eq!(
            r["details"], "my surname is Smith, not Smyth",
            "the DPO reads what was asked"
        );
        let id = r["id"].as_str().unwrap();
        assert_eq!(
            env.act(id, "approve", json!({})).await.body["status"],
            "in_progress"
        );
        let done = env.act(id, "complete", json!({})).await;
        assert_eq!(done.body["status"], "completed", "{}", done.text);
        env.mail_to_with("bob@example.com", id).await;
    }

    // Erasure: approved by the DPO; consent state, links and the address go; the ledger stays valid.
    app.post("/v1/consent", Some(&app.service), &json!({ "subject": { "email": "carol@example.com" }, "choices": { "analytics": true }, "policy_version": "2018-05-25", "source": "api" })).await;
    let erasure = env
        .verified("erasure", "carol@example.com", json!({ "country": "GB" }))
        .await;
    assert_eq!(erasure["jurisdiction"], "uk_gdpr");
    let id = erasure["id"].as_str().unwrap();
    let done = env.act(id, "approve", json!({})).await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    assert_eq!(
        done.body["email"],
        Value::Null,
        "the address is gone once the request is closed"
    );
    env.mail_to_with("carol@example.com", "complete").await;
    let d = decide(app, json!({ "email": "carol@example.com" }), "analytics").await;
    assert_eq!(d["reason"], "no consent on record");
    let v = app
        .get("/v1/consent?email=carol@example.com", Some(&app.dpo))
        .await;
    assert!(v.body["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["given"].is_null()));
    let history: Vec<&str> = done.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        ["receive", "verify", "approve", "complete", "erase"]
    );
    app.verify_ledger().await;

    // Every mail went through SMTP, and none carries a raw identifier in its subject line.
    assert!(env.sink.count() >= 12, "{} mails", env.sink.count());
}

/// Erasure by key: the subject's key is destroyed, so a copy of the database taken before the
/// erasure (a backup) no longer reveals the subject, while the ledger stays verifiable.
#[tokio::test]
async fn erasure_destroys_the_subject_key_so_earlier_copies_reveal_nothing() {
    let env = Env::new().await;
    let app = &env.app;
    app.post("/v1/consent", Some(&app.service), &json!({ "subject": { "email": "hank@example.com" }, "choices": { "analytics": true }, "policy_version": "2018-05-25", "source": "api" })).await;
    let req = env
        .verified(
            "erasure",
            "hank@example.com",
            json!({ "details": "please forget my account" }),
        )
        .await;
    let id = req["id"].as_str().unwrap();
    let place = format!("requests/{id}/email");

    // A backup, taken the way SQLite takes one while the database is in use.
    let dir = std::path::Path::new(app.url.strip_prefix("sqlite://").unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let copy = dir.join("backup.db");
    let pool = app.store.sqlite_pool().expect("an SQLite test");
    sqlx::query("VACUUM INTO ?")
        .bind(copy.display().to_string())
        .execute(pool)
        .await
        .unwrap();
    let backup = custodian_store::Store::open(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    let sealed = backup.request(id).await.unwrap().unwrap().email_sealed;
    assert!(sealed.starts_with("k1:") && !sealed.contains("hank"));
    assert_eq!(
        backup.subject_key_count().await.unwrap(),
        0,
        "the data holds no key"
    );
    let raw = std::fs::read(&copy).unwrap();
    assert!(!raw.windows(4).any(|w| w == b"hank"), "nothing in clear");

    // Before the erasure, the backup's fields open with the live keys and the master key.
    let keyring = app.state.keyring.clone();
    assert_eq!(
        keyring.open(&place, &sealed).await.unwrap(),
        "hank@example.com"
    );

    let done = env.act(id, "approve", json!({})).await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    env.mail_to_with("hank@example.com", "complete").await;

    // After it, the same backup reveals nothing, even with the master key.
    assert!(matches!(
        keyring.open(&place, &sealed).await,
        Err(custodian_store::keyring::KeyringError::Erased)
    ));
    let details = backup
        .request(id)
        .await
        .unwrap()
        .unwrap()
        .details_sealed
        .unwrap();
    assert!(keyring
        .open(&format!("requests/{id}/details"), &details)
        .await
        .is_err());
    assert_eq!(app.key_store.subject_key_count().await.unwrap(), 0);
    app.verify_ledger().await;
    backup.close().await;
}

#[tokio::test]
async fn intake_answers_the_same_for_anyone_and_bad_input_gets_clear_problems() {
    let env = Env::new().await;
    // The company knows this address well: consent on record and an earlier, finished request.
    let app = &env.app;
    app.post("/v1/consent", Some(&app.service), &json!({ "subject": { "email": "known@example.com" }, "choices": { "marketing": true }, "policy_version": "2018-05-25", "source": "api" })).await;
    let earlier = env.verified("access", "known@example.com", json!({})).await;
    env.act(earlier["id"].as_str().unwrap(), "approve", json!({}))
        .await;
    let a = env
        .submit(json!({ "type": "access", "email": "known@example.com" }))
        .await;
    let b = env
        .submit(json!({ "type": "access", "email": "nobody-ever@example.org" }))
        .await;
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (202, 202));
    assert_eq!(a.content_type, b.content_type);
    // Everything but the new request's own id is the same, byte for byte.
    let (ida, idb) = (
        a.body["id"].as_str().unwrap(),
        b.body["id"].as_str().unwrap(),
    );
    assert_eq!(a.text.replace(ida, "ID"), b.text.replace(idb, "ID"));
    assert_eq!(a.body["status"], "awaiting_verification");
    assert!(!a.text.contains("known@"), "the address is not echoed");

    for (body, status, code) in [
        (
            json!({ "type": "portability", "email": "a@example.com" }),
            422,
            "unknown_request_type",
        ),
        (
            json!({ "type": "access", "email": "not-an-address" }),
            422,
            "invalid_email",
        ),
        (
            json!({ "type": "access", "email": "a@example.com", "country": "XX" }),
            422,
            "unknown_country",
        ),
        (
            json!({ "type": "access", "email": "a@example.com", "customer": "nobody" }),
            422,
            "unknown_customer",
        ),
        (
            json!({ "type": "access", "email": "a@example.com", "details": "x".repeat(5000) }),
            422,
            "details_too_long",
        ),
        (json!({ "type": "access" }), 422, "invalid_body"),
    ] {
        assert_problem(&env.submit(body).await, status, code);
    }
    // Nothing is shown before verification: the admin view says so, and no status link exists yet.
    let id = a.body["id"].as_str().unwrap();
    assert_eq!(env.admin(id).await["status"], "awaiting_verification");
    assert_problem(
        &env.app
            .get(&format!("/v1/requests/{id}?t=0.AAAA"), None)
            .await,
        400,
        "invalid_link",
    );
}

#[tokio::test]
async fn codes_expire_and_allow_few_attempts_and_intake_is_rate_limited() {
    let env = Env::new().await;
    let app = &env.app;
    let a = env
        .submit(json!({ "type": "erasure", "email": "eve@example.com" }))
        .await;
    let id = a.body["id"].as_str().unwrap().to_owned();
    let code = code_in(&env.last_mail_to("eve@example.com").await);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let w = app
        .post(
            &format!("/v1/requests/{id}/verify"),
            None,
            &json!({ "code": wrong }),
        )
        .await;
    assert_problem(&w, 422, "invalid_code");
    assert_eq!(w.body["attempts_left"], 4);
    for _ in 0..3 {
        app.post(
            &format!("/v1/requests/{id}/verify"),
            None,
            &json!({ "code": wrong }),
        )
        .await;
    }
    assert_problem(
        &app.post(
            &format!("/v1/requests/{id}/verify"),
            None,
            &json!({ "code": wrong }),
        )
        .await,
        429,
        "too_many_attempts",
    );
    // Locked: even the right code no longer works.
    assert_problem(
        &app.post(
            &format!("/v1/requests/{id}/verify"),
            None,
            &json!({ "code": code }),
        )
        .await,
        410,
        "request_abandoned",
    );
    assert_eq!(env.admin(&id).await["status"], "abandoned");

    let b = env
        .submit(json!({ "type": "access", "email": "eve@example.com" }))
        .await;
    let id = b.body["id"].as_str().unwrap().to_owned();
    let code = code_in(&env.last_mail_to("eve@example.com").await);
    app.clock.advance(31 * 60 * 1_000_000);
    assert_problem(
        &app.post(
            &format!("/v1/requests/{id}/verify"),
            None,
            &json!({ "code": code }),
        )
        .await,
        410,
        "code_expired",
    );

    // Five per address per hour (two used above): three more, then 429.
    for _ in 0..3 {
        assert_eq!(
            env.submit(json!({ "type": "access", "email": "eve@example.com" }))
                .await
                .status,
            202
        );
    }
    assert_problem(
        &env.submit(json!({ "type": "access", "email": "Eve@Example.com" }))
            .await,
        429,
        "rate_limited",
    );
    assert_eq!(
        env.submit(json!({ "type": "access", "email": "frank@example.com" }))
            .await
            .status,
        202,
        "other addresses are unaffected"
    );
    app.clock.advance(3_600_000_000);
    assert_eq!(
        env.submit(json!({ "type": "access", "email": "eve@example.com" }))
            .await
            .status,
        202
    );
}

#[tokio::test]
async fn the_dpo_queue_filters_acts_and_keeps_an_audit_trail() {
    let env = Env::new().await;
    let app = &env.app;
    let r = env
        .verified("erasure", "gina@example.com", json!({ "country": "FR" }))
        .await;
    let id = r["id"].as_str().unwrap().to_owned();
    let other = env
        .verified("rectification", "hal@example.com", json!({}))
        .await;

    assert_problem(
        &app.get("/v1/admin/requests", None).await,
        401,
        "unauthorized",
    );
    assert_problem(
        &app.get("/v1/admin/requests", Some(&app.service)).await,
        403,
        "forbidden",
    );
    let q = app
        .get(
            "/v1/admin/requests?type=erasure&status=verified",
            Some(&app.dpo),
        )
        .await;
    let ids: Vec<&str> = q.body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    assert_eq!(q.body["requests"][0]["urgency"], "on_time");
    assert_problem(
        &app.get("/v1/admin/requests?status=lost", Some(&app.dpo))
            .await,
        422,
        "unknown_status",
    );

    // Deny and extend need a reason, told to the requester.
    assert_problem(&env.act(&id, "deny", json!({})).await, 422, "missing_field");
    assert_problem(
        &env.act(&id, "extend", json!({ "reason": "complex", "months": 3 }))
            .await,
        422,
        "invalid_extension",
    );
    let before = r["answer_due"].as_str().unwrap().to_owned();
    let e = env
        .act(
            &id,
            "extend",
            json!({ "reason": "We must check three archives.", "months": 2 }),
        )
        .await;
    assert_eq!(e.status, 200, "{}", e.text);
    assert!(e.body["answer_due"].as_str().unwrap() > before.as_str());
    env.mail_to_with("gina@example.com", "We must check three archives.")
        .await;
    assert_problem(
        &env.act(&id, "extend", json!({ "reason": "more", "months": 1 }))
            .await,
        422,
        "invalid_extension",
    );
    env.act(&id, "assign", json!({ "to": "priya" })).await;
    env.act(&id, "note", json!({ "text": "called the requester" }))
        .await;
    let denied = env
        .act(
            &id,
            "deny",
            json!({ "reason": "We hold records we must keep for tax law." }),
        )
        .await;
    assert_eq!(denied.body["status"], "denied");
    env.mail_to_with("gina@example.com", "tax law").await;
    assert_problem(
        &env.act(&id, "approve", json!({})).await,
        409,
        "invalid_transition",
    );
    assert_problem(&env.act(&id, "teleport", json!({})).await, 404, "not_found");
    let trail: Vec<(String, String)> = denied.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap().to_owned(),
                h["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let actions: Vec<&str> = trail.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["receive", "verify", "extend", "assign", "note", "deny"]
    );
    assert!(
        trail[2].1.starts_with("tok_"),
        "actions name the DPO's token"
    );
    assert_eq!(denied.body["assignee"], "priya");

    // The requester sees the reasons on their status page, not the internal note.
    let status_link = link_in(
        &env.mail_to_with("gina@example.com", "/requests/req_").await,
        "/requests/req_",
    );
    let page = app
        .get(
            status_link.strip_prefix("http://custodian.test").unwrap(),
            None,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("tax law") && !page.text.contains("called the requester"));
    assert!(
        !page.text.contains("<script"),
        "the status page runs no script"
    );

    // Overdue: a month and a bit later the open rectification is overdue and in the digest.
    // 40 days later, at 09:00 London time (after the digest hour).
    app.clock.advance((40 * 86_400 + 9 * 3_600) * 1_000_000);
    let q = app
        .get("/v1/admin/requests?overdue=true", Some(&app.dpo))
        .await;
    let overdue: Vec<&str> = q.body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(overdue, [other["id"].as_str().unwrap()]);
    assert_eq!(q.body["requests"][0]["urgency"], "overdue");
    let round = custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert_eq!(round.overdue, 1);
    assert!(round.digest_sent, "the daily digest goes out after 08:00");
    let again = custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert!(!again.digest_sent, "one digest a day");
    env.mail_to_with("dpo@focusrite.com", other["id"].as_str().unwrap())
        .await;
    let m = app.get("/metrics", None).await;
    assert!(
        m.text.contains("custodian_requests_overdue 1"),
        "{}",
        m.text
    );
    // The digest is a leased job, next due tomorrow at the digest hour; its gauges are
    // refreshed by the next housekeeping round.
    custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    let digest = app.state.store.job("digest").await.unwrap().unwrap();
    assert_eq!((digest.attempts, digest.lease_owner), (0, None));
    let m = app.get("/metrics", None).await;
    for line in [
        format!(
            "custodian_job_next_run_seconds{{job=\"digest\"}} {}",
            digest.run_at / 1_000_000
        ),
        "custodian_job_attempts{job=\"digest\"} 0".into(),
        "custodian_job_running{job=\"digest\"} 0".into(),
        "custodian_job_failed{job=\"digest\"} 0".into(),
    ] {
        assert!(m.text.contains(&line), "{line} in {}", m.text);
    }
}

#[tokio::test]
async fn requests_about_a_customers_data_are_forwarded() {
    let env = Env::new().await;
    let r = env
        .verified(
            "erasure",
            "ivy@example.com",
            json!({ "customer": "studio_one" }),
        )
        .await;
    assert_eq!(r["status"], "forwarded");
    let to_customer = env
        .mail_to_with("privacy@studio-one.example", "ivy@example.com")
        .await;
    assert!(
        to_customer.contains("ivy@example.com") && to_customer.contains(r["id"].as_str().unwrap())
    );
    env.mail_to_with("ivy@example.com", "Studio One Records")
        .await;
    assert_problem(
        &env.act(r["id"].as_str().unwrap(), "approve", json!({}))
            .await,
        409,
        "invalid_transition",
    );
}

#[tokio::test]
async fn uk_requests_stop_the_clock_until_identity_is_verified() {
    let env = Env::new().await;
    let app = &env.app;
    let submit = |country: &'static str, email: &'static str| {
        let env = &env;
        async move {
            let a = env
                .submit(json!({ "type": "rectification", "email": email, "country": country }))
                .await;
            let id = a.body["id"].as_str().unwrap().to_owned();
            (id, code_in(&env.last_mail_to(email).await))
        }
    };
    let (uk, uk_code) = submit("GB", "uk@example.com").await;
    let (de, de_code) = submit("DE", "de@example.com").await;
    let due = |v: &Value| v["answer_due"].as_str().unwrap().to_owned();
    let (uk0, de0) = (due(&env.admin(&uk).await), due(&env.admin(&de).await));
    app.clock.advance(20 * 60 * 1_000_000);
    app.post(
        &format!("/v1/requests/{uk}/verify"),
        None,
        &json!({ "code": uk_code }),
    )
    .await;
    app.post(
        &format!("/v1/requests/{de}/verify"),
        None,
        &json!({ "code": de_code }),
    )
    .await;
    let (uk1, de1) = (due(&env.admin(&uk).await), due(&env.admin(&de).await));
    assert_eq!(de0, de1, "GDPR: the month runs from receipt");
    let shift = uk1
        .parse::<jiff::Timestamp>()
        .unwrap()
        .duration_since(uk0.parse::<jiff::Timestamp>().unwrap());
    assert_eq!(
        shift.as_secs(),
        20 * 60,
        "UK GDPR: the clock stopped for the 20 minutes: {uk0} → {uk1}"
    );
}

#[tokio::test]
async fn download_links_are_signed_and_expire() {
    let env = Env::new().await;
    let app = &env.app;
    let r = env.verified("access", "jo@example.com", json!({})).await;
    let link = link_in(
        &env.mail_to_with("jo@example.com", "/archive?t=").await,
        "/archive?t=",
    );
    let path = link
        .strip_prefix("http://custodian.test")
        .unwrap()
        .to_owned();
    let mut forged = path.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_problem(&app.get(&forged, None).await, 400, "invalid_link");
    let other_id = path.replace(
        r["id"].as_str().unwrap(),
        "req_00000000000000000000000000000000",
    );
    assert_problem(&app.get(&other_id, None).await, 400, "invalid_link");
    app.clock.advance(15 * 86_400 * 1_000_000);
    assert_problem(&app.get(&path, None).await, 410, "link_expired");
}

#[tokio::test]
async fn requests_run_on_postgres_too() {
    let Some(url) = custodian_store::testing::fresh_postgres_url().await else {
        return;
    };
    let env = Env::on(&url).await;
    let r = env.verified("access", "pg@example.com", json!({})).await;
    assert_eq!(r["status"], "completed");
    let q = env
        .app
        .get("/v1/admin/requests?status=completed", Some(&env.app.dpo))
        .await;
    assert_eq!(q.body["requests"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn requests_reach_the_companys_own_datastores() {
    let env = Env::new().await;
    let app = &env.app;
    let db = common::company_datastore(app, "company", "CUSTODIAN_TEST_COMPANY_URL_REQUESTS").await;
    let count = |sql: &'static str| {
        let db = &db;
        async move {
            let mut s = db.sql();
            s.push(&sql.replacen("COUNT(*)", "CAST(COUNT(*) AS TEXT)", 1));
            db.text_rows(&s).await.unwrap()[0][0]
                .clone()
                .unwrap_or_default()
        }
    };

    // Access: the archive carries the company's records, one CSV per data category.
    let access = env
        .verified("access", "customer-3@example.com", json!({}))
        .await;
    assert_eq!(access["status"], "completed");
    let zip = app
        .get(
            &format!(
                "/v1/admin/requests/{}/export",
                access["id"].as_str().unwrap()
            ),
            Some(&app.dpo),
        )
        .await;
    assert_eq!(zip.status, 200, "{}", zip.text);
    assert!(
        zip.text.contains("company_website_user.csv"),
        "company data by category"
    );
    assert!(
        zip.text.contains("customer-3@example.com"),
        "the requester's own record is in their export"
    );
    assert!(
        !zip.text.contains("customer-4@example.com"),
        "nobody else's"
    );

    // Erasure: rows go in the company's database, invoices stay under the 7-year hold, and the
    // requester is told until when.
    assert_eq!(
        count("SELECT COUNT(*) FROM support_tickets WHERE customer_id = 4").await,
        "1"
    );
    let erasure = env
        .verified("erasure", "customer-4@example.com", json!({}))
        .await;
    let done = env
        .act(erasure["id"].as_str().unwrap(), "approve", json!({}))
        .await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    assert_eq!(
        count("SELECT COUNT(*) FROM support_tickets WHERE customer_id = 4").await,
        "0"
    );
    let complete = done.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["action"] == "complete")
        .unwrap()
        .clone();
    assert!(
        complete["detail"].as_str().unwrap().contains("legal hold"),
        "{complete}"
    );
    let runs = app
        .store
        .runs_of_request(erasure["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(runs.len(), 1, "the run is recorded against the request");
}

#[tokio::test]
async fn an_erasure_stopped_after_its_completion_is_finished_by_housekeeping() {
    use custodian_app::requests::{self, execute};
    use custodian_core::request::Action;

    let env = Env::new().await;
    let app = &env.app;
    let ivy = json!({ "email": "ivy@example.com" });
    app.post("/v1/consent", Some(&app.service), &json!({ "subject": ivy.clone(), "choices": { "analytics": true }, "policy_version": "2018-05-25", "source": "api" })).await;
    let req = env.verified("erasure", "ivy@example.com", json!({})).await;
    let id = req["id"].as_str().unwrap();

    // The process stops right after the request was marked completed, before the erasure.
    let row = requests::load(&app.state, id).await.unwrap();
    let approved = requests::transition(&app.state, &row, Action::Approve, "dpo", None, |_| {})
        .await
        .unwrap();
    let done = execute::complete(&app.state, &approved, "system", None)
        .await
        .unwrap();
    let subject = requests::subject_of(&done).unwrap();
    assert!(app.state.keyring.has_key(&subject).await.unwrap());
    assert_eq!(allowed(app, &ivy).await, true);

    // The confirmation went out with the completion, in the same transaction.
    env.mail_to_with("ivy@example.com", id).await;

    let round = custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert_eq!(round.erasures_finished, 1);
    assert!(
        !app.state.keyring.has_key(&subject).await.unwrap(),
        "the key is gone"
    );
    assert_eq!(allowed(app, &ivy).await, false, "the consent went with it");
    assert!(app
        .state
        .store
        .request(id)
        .await
        .unwrap()
        .unwrap()
        .email_sealed
        .is_empty());
    let again = custodian_app::background::housekeeping_once(&app.state)
        .await
        .unwrap();
    assert_eq!(again.erasures_finished, 0, "done once");
}

async fn allowed(app: &common::TestApp, subject: &Value) -> Value {
    let body = json!({ "subject": subject, "purpose": "analytics", "country": "DE" });
    app.post("/v1/decide", Some(&app.service), &body).await.body["allowed"].clone()
}

#[tokio::test]
async fn the_queue_takes_empty_filters_and_answers_bad_ones_with_problems() {
    let env = Env::new().await;
    let app = &env.app;
    env.verified("access", "jo@example.com", json!({})).await;
    env.verified("erasure", "kim@example.com", json!({})).await;
    let all = app
        .get("/v1/admin/requests?status=&type=&overdue=", Some(&app.dpo))
        .await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(all.body["requests"].as_array().unwrap().len(), 2);
    let erasures = app
        .get(
            "/v1/admin/requests?status=&type=erasure&overdue=false",
            Some(&app.dpo),
        )
        .await;
    assert_eq!(erasures.body["requests"].as_array().unwrap().len(), 1);
    assert_problem(
        &app.get("/v1/admin/requests?overdue=maybe", Some(&app.dpo))
            .await,
        422,
        "invalid_overdue",
    );
    assert_problem(
        &app.get("/v1/admin/requests?limit=ten", Some(&app.dpo))
            .await,
        400,
        "invalid_query",
    );
    assert_problem(
        &app.get("/v1/admin/requests?colour=blue", Some(&app.dpo))
            .await,
        400,
        "invalid_query",
    );
}

#[tokio::test]
async fn a_requester_asking_again_and_at_once_keeps_one_key_on_postgres() {
    let Some(url) = custodian_store::testing::fresh_postgres_url().await else {
        return;
    };
    let env = Env::on(&url).await;
    let app = &env.app;
    assert!(
        app.state.keys_beside_data,
        "PostgreSQL keeps keys in the data's database"
    );
    let body = json!({ "type": "access", "email": "lea@example.com" });
    // Once, then again (the second brings a new key that loses to the first), then three at once.
    let mut answers = vec![
        env.submit(body.clone()).await,
        env.submit(body.clone()).await,
    ];
    answers.extend(futures_util::future::join_all((0..3).map(|_| env.submit(body.clone()))).await);
    for a in &answers {
        assert_eq!(a.status, 202, "{}", a.text);
        let id = a.body["id"].as_str().unwrap();
        let row = app.store.request(id).await.unwrap().unwrap();
        assert_eq!(
            app.state
                .keyring
                .open(&format!("requests/{id}/email"), &row.email_sealed)
                .await
                .unwrap(),
            "lea@example.com"
        );
    }
    assert_eq!(app.key_store.subject_key_count().await.unwrap(), 1);
    assert_eq!(app.store.outbox_counts().await.unwrap().queued, 5);
}

/// An access whose company datastore cannot be reached is not completed with an archive
/// missing the company's data: it stays in progress with the run's exact error for the DPO;
/// once the datastore is back, completing it retries the failed run and the archive carries
/// the company's records.
#[tokio::test]
async fn an_access_waits_for_a_failing_datastore() {
    let env = Env::new().await;
    let app = &env.app;
    let var = "CUSTODIAN_TEST_COMPANY_URL_CLOSED";
    // Port 1 on loopback: nothing listens there.
    std::env::set_var(var, "postgres://postgres@127.0.0.1:1/test");
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/company/company.toml");
    app.store
        .put_datastore("company", dataset.to_str().unwrap(), Some(var), None)
        .await
        .unwrap();

    let access = env
        .verified("access", "customer-3@example.com", json!({}))
        .await;
    let id = access["id"].as_str().unwrap();
    assert_eq!(access["status"], "in_progress", "{access}");
    let runs = app.store.runs_of_request(id).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status.as_str(), "failed");
    let step = &app.store.run_steps(&runs[0].id).await.unwrap()[0];
    let error = step.last_error.clone().unwrap();
    assert!(error.starts_with("cannot connect"), "{error}");
    let started = access["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["action"] == "start")
        .unwrap_or_else(|| panic!("{access}"));
    let detail = started["detail"].as_str().unwrap();
    assert!(
        detail.contains("company datastores failed")
            && detail.contains(&runs[0].id)
            && detail.contains(&error),
        "the exact error, for the DPO: {detail}"
    );
    assert!(!detail.contains("customer-3"), "{detail}");

    // Still down: completing is refused the same way, the request stays in progress.
    let again = env.act(id, "complete", json!({})).await;
    assert_eq!(again.body["status"], "in_progress", "{}", again.text);

    // The datastore is back: completing retries the failed run and completes.
    let db = common::company_datastore(app, "access-retry", var).await;
    let done = env.act(id, "complete", json!({})).await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    let runs = app.store.runs_of_request(id).await.unwrap();
    assert_eq!(runs.len(), 1, "the failed run itself was retried");
    assert_eq!(runs[0].status.as_str(), "done");
    let zip = app
        .get(&format!("/v1/admin/requests/{id}/export"), Some(&app.dpo))
        .await;
    assert_eq!(zip.status, 200, "{}", zip.text);
    assert!(zip.text.contains("company_website_user.csv"));
    assert!(zip.text.contains("customer-3@example.com"));
    db.close().await;
}

/// Invoices kept under the 7-year rule by an erasure go when the rule falls due, found by the
/// keys the erasure recorded (the subject's identifiers and key are gone by then). The hold
/// counts from the account's closure when one is on record, else from the erasure; nobody
/// else's rows change.
#[tokio::test]
async fn held_rows_go_by_key_when_the_hold_ends_after_an_erasure() {
    use custodian_app::retention::{self as retention_job, RunOptions};
    const DAY: i64 = 86_400_000_000;
    const YEAR: i64 = 365 * DAY;
    let env = Env::new().await;
    let app = &env.app;
    let start = app.state.clock.now_micros();
    let db = common::company_datastore(app, "held-rows", "CUSTODIAN_TEST_COMPANY_URL_HELD").await;
    let scalar = |sql: String| {
        let db = &db;
        async move {
            let mut s = db.sql();
            s.push(&sql);
            db.text_rows(&s).await.unwrap()[0][0]
                .clone()
                .unwrap_or_default()
        }
    };
    // Each customer's invoice ids, taken before the erasure changes anything.
    let mut invoices = std::collections::BTreeMap::new();
    for c in [4, 5, 6] {
        let ids = scalar(format!(
            "SELECT GROUP_CONCAT(i.id) FROM invoices i JOIN orders o ON o.id = i.order_id JOIN accounts a ON a.id = o.account_id WHERE a.customer_id = {c}"
        ))
        .await;
        assert!(!ids.is_empty(), "customer {c} has invoices");
        invoices.insert(c, ids);
    }
    let billed = |c: i32| {
        let ids = invoices[&c].clone();
        let scalar = &scalar;
        async move {
            scalar(format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM invoices WHERE id IN ({ids}) AND billing_name IS NOT NULL AND amount IS NOT NULL"
            ))
            .await
            .parse::<usize>()
            .unwrap()
        }
    };
    let all_billed = || {
        scalar("SELECT CAST(COUNT(*) AS TEXT) FROM invoices WHERE billing_name IS NOT NULL".into())
    };
    let rows = |c: i32| invoices[&c].split(',').count();
    assert_eq!((billed(4).await, billed(6).await), (rows(4), rows(6)));
    let total = all_billed().await.parse::<usize>().unwrap();

    // Customer 6 closed their account two years before the erasure; customer 4 never did.
    let rfc = custodian_core::clock::rfc3339;
    for (event, at) in [
        ("account_opened", start - 3 * YEAR),
        ("account_closed", start - 2 * YEAR),
    ] {
        let a = app
            .post(
                "/v1/subjects/events",
                Some(&app.service),
                &json!({ "subject": { "email": "customer-6@example.com" }, "event": event, "at": rfc(at) }),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.text);
    }
    let mut subjects = std::collections::BTreeMap::new();
    for c in [4, 6] {
        let r = env
            .verified("erasure", &format!("customer-{c}@example.com"), json!({}))
            .await;
        let id = r["id"].as_str().unwrap().to_owned();
        let done = env.act(&id, "approve", json!({})).await;
        assert_eq!(done.body["status"], "completed", "{}", done.text);
        let runs = app.store.runs_of_request(&id).await.unwrap();
        let held = app.store.held_rows_of(&runs[0].subject_ref).await.unwrap();
        assert_eq!(
            held.len(),
            1,
            "one record: datastore company, rule accounting_records"
        );
        assert_eq!(held[0].rule, "accounting_records");
        assert_eq!(held[0].datastore, "company");
        assert_eq!(held[0].request_id.as_deref(), Some(id.as_str()));
        let sealed = held[0].sealed_keys.clone().unwrap();
        for key in invoices[&c].split(',') {
            assert!(
                !sealed.contains(&format!("[{key}")),
                "keys are sealed: {sealed}"
            );
        }
        subjects.insert(c, (runs[0].subject_ref.clone(), held[0].due_at.unwrap()));
    }
    // Held from the closure for customer 6, from the erasure for customer 4.
    let (due_4, due_6) = (subjects[&4].1, subjects[&6].1);
    assert!(
        due_4 > start + 7 * YEAR - 2 * DAY && due_4 <= start + 7 * YEAR + 2 * DAY,
        "{due_4}"
    );
    assert!(
        due_6 > start + 5 * YEAR - 2 * DAY && due_6 <= start + 5 * YEAR + 2 * DAY,
        "{due_6}"
    );
    // The erasure kept the invoices (and the identifiers and key are gone).
    assert_eq!((billed(4).await, billed(6).await), (rows(4), rows(6)));
    assert!(app
        .store
        .subject_identities(&subjects[&6].0)
        .await
        .unwrap()
        .is_empty());

    let retention = |as_of: i64| async move {
        retention_job::run(
            &app.store,
            &app.state.retention.rules,
            &RunOptions {
                as_of,
                dry_run: false,
                list: true,
                pause_ratio: 0.0,
                now: custodian_core::clock::Clock::now_micros(&app.clock),
            },
            Some(&retention_job::company_purge(&app.state)),
            |_| {},
        )
        .await
        .unwrap()
    };
    // Six years on: customer 4's invoices are still held; customer 6's hold (from the
    // closure) has ended.
    let r = retention(start + 6 * YEAR).await;
    assert_eq!(r.company_failures, 0, "{r:?}");
    assert_eq!(billed(4).await, rows(4), "still held");
    assert_eq!(billed(6).await, 0, "held from the closure: gone");
    assert_eq!(
        all_billed().await.parse::<usize>().unwrap(),
        total - rows(6),
        "nobody else's"
    );

    // Seven years on: customer 4's billing fields go by `after_hold` (NULL); rows stay.
    let r = retention(start + 7 * YEAR + 2 * DAY).await;
    assert_eq!(r.company_failures, 0, "{r:?}");
    assert!(r.company_rows_changed >= rows(4) as u64, "{r:?}");
    assert_eq!(billed(4).await, 0);
    assert_eq!(
        scalar(format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM invoices WHERE id IN ({})",
            invoices[&4]
        ))
        .await,
        rows(4).to_string(),
        "after_hold = null keeps the rows"
    );
    assert_eq!(billed(5).await, rows(5), "customer 5 untouched");
    assert_eq!(
        all_billed().await.parse::<usize>().unwrap(),
        total - rows(4) - rows(6)
    );
    let held = app.store.held_rows_of(&subjects[&4].0).await.unwrap();
    assert!(held[0].done_at.is_some() && held[0].sealed_keys.is_none());
    let purges = app.store.purges(Some(&subjects[&4].0), 20).await.unwrap();
    let purge = purges
        .iter()
        .find(|p| p.rule == "accounting_records")
        .expect("recorded");
    assert!(purge.data.contains("held rows"), "{}", purge.data);

    // Done once.
    let again = retention(start + 7 * YEAR + 3 * DAY).await;
    assert_eq!(again.company_rows_changed, 0);
    db.close().await;
}
