//! A request started from the form and confirmed through the verify page, and an address that
//! asks too often being told to wait without learning anything.

use crate::browser::{code_in, link_in, Browser, Mail};
use crate::common::TestApp;

// One scenario followed end to end: the form, a mistake shown back, the submission, the mailed link
// and the verify page; then confirming again, unknown and abandoned requests.
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

// The review's finding (issue 15): two submissions of the verify form at once answered 500 to
// the one that lost (and logged nothing); the JSON route answers 409. Now the loser gets a
// 409 page that says what happened.
#[tokio::test]
async fn two_confirmations_at_once_answer_one_redirect_and_no_failure() {
    let app = TestApp::sqlite().await;
    let mail = Mail::start().await;
    let mut conflicts = 0;
    for round in 0..6 {
        let email = format!("race{round}@example.com");
        let mut b = Browser::new(&app);
        let p = b
            .submit(
                "/privacy-center/requests",
                "/privacy-center/requests",
                &[("type", "access"), ("email", &email), ("country", "DE")],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.text);
        let location = p.header("location").to_owned();
        let id = location
            .split("request=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned();
        let code = code_in(&mail.last_to(&app, &email).await);
        let csrf = b.get(&location).await.csrf();
        let pairs = [
            ("csrf", csrf.as_str()),
            ("request", id.as_str()),
            ("code", code.as_str()),
        ];
        let mut tabs: Vec<Browser> = (0..3)
            .map(|_| Browser {
                app: &app,
                jar: b.jar.clone(),
                headers: Vec::new(),
            })
            .collect();
        let [t1, t2, t3] = &mut tabs[..] else {
            unreachable!()
        };
        let (a, b2, c) = tokio::join!(
            t1.post("/privacy-center/verify", &pairs),
            t2.post("/privacy-center/verify", &pairs),
            t3.post("/privacy-center/verify", &pairs)
        );
        let statuses: Vec<u16> = [&a, &b2, &c].iter().map(|p| p.status.as_u16()).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 303).count(),
            1,
            "{statuses:?}"
        );
        for p in [&a, &b2, &c] {
            assert!(
                matches!(p.status.as_u16(), 303 | 409),
                "{statuses:?}: {}",
                p.text
            );
            if p.status == 409 {
                conflicts += 1;
                assert!(p.text.contains(r#"role="alert""#));
            }
        }
    }
    assert_eq!(conflicts, 12);
}
