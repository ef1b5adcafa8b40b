//! Intake and verification: the same answer for anyone, clear problems for bad input, codes
//! that expire and allow few attempts, rate limits, UK stop-the-clock, and repeated asking.

use crate::common::{assert_problem, START};
use crate::env::{code_in, Env};
use serde_json::{json, Value};

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

// One scenario followed end to end: wrong codes until the request locks, an expired code, then
// intake from the same address until the hourly limit answers 429, and an hour later again.
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
    // UK GDPR stops the clock while identity is confirmed, by whole local days: twenty
    // minutes on the same day move nothing (they once moved it by twenty minutes, past the
    // end of the day).
    assert_eq!(uk0, uk1, "UK GDPR: a same-day wait moves nothing");
    assert!(uk1.ends_with("T23:59:59.999999Z"), "{uk1}");

    // Received at 23:50 on Tuesday 6 January, the code entered at 00:10: the wait spans one
    // local day, so Friday 6 February moves to Saturday 7, which rolls to Monday 9.
    app.clock
        .set(START + (5 * 24 * 60 + 23 * 60 + 50) * 60_000_000);
    let (late, late_code) = submit("GB", "late@example.com").await;
    let late0 = env.admin(&late).await;
    app.clock.advance(20 * 60_000_000);
    app.post(
        &format!("/v1/requests/{late}/verify"),
        None,
        &json!({ "code": late_code }),
    )
    .await;
    let late1 = env.admin(&late).await;
    assert_eq!(late1["status"], "verified", "{late1}");
    assert_eq!(
        (
            late0["answer_due_date"].as_str(),
            late1["answer_due_date"].as_str()
        ),
        (Some("2026-02-06"), Some("2026-02-09")),
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
