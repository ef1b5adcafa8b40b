//! The console's flows through its forms.

use custodian_core::request::{Kind, Status};

use crate::jar::Jar;
use crate::{app, seed, PASSWORD};

const MINUTE: i64 = 60_000_000;

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_every_page_has_a_strict_policy() {
    let app = app().await;
    let mut b = Jar::new(&app);
    let away = b.get("/console/overview").await;
    assert_eq!(away.status, 303);
    assert_eq!(away.location(), "/console/login");

    let wrong = b
        .sign_in("admin@example.com", "not the password at all")
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert!(wrong.text.contains("The address or the password is wrong."));
    let unknown = b.sign_in("nobody@example.com", PASSWORD).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(
        wrong.text.replace(&wrong.csrf(), ""),
        unknown.text.replace(&unknown.csrf(), ""),
        "the same page whether or not the address is known"
    );

    let ok = b.sign_in("admin@example.com", PASSWORD).await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    assert_eq!(ok.location(), "/console/overview");
    let set = ok
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("cst_console="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http in tests: {set}");
    for path in [
        "/console/overview",
        "/console/requests",
        "/console/consent",
        "/console/policy",
        "/console/datastores",
        "/console/retention",
        "/console/users",
        "/console/account",
    ] {
        let p = b.get(path).await;
        assert_eq!(p.status, 200, "{path}: {}", p.text);
        assert!(
            p.header("content-security-policy")
                .contains("default-src 'none'"),
            "{path}"
        );
        assert!(!p
            .header("content-security-policy")
            .contains("unsafe-inline"));
        assert_eq!(p.header("cache-control"), "no-store");
        // Not `no-referrer`: browsers would then send `Origin: null` with the forms.
        assert_eq!(p.header("referrer-policy"), "same-origin");
        assert!(!p.text.contains("<script"), "{path}: no script");
        assert!(!p.text.contains("style="), "{path}: no inline style");
        assert!(p.text.contains(r#"<html lang="en">"#));
    }
    let de = b.get("/console/overview?lang=de").await;
    assert!(de.text.contains(r#"<html lang="de">"#) && de.text.contains("Übersicht"));
    let overview = b.get("/console/overview?lang=en").await;
    assert!(overview
        .text
        .contains(r#"<svg role="img" aria-labelledby="chart-requests-t chart-requests-d""#));
    assert!(
        overview.text.contains(r#"<table class="figures">"#),
        "figures as a table too"
    );
}

#[tokio::test]
async fn failed_sign_ins_lock_the_address_with_backoff_whatever_the_cookie() {
    let app = app().await;
    for i in 0..5 {
        // A fresh browser each time: a new cookie and form do not reset the count.
        let mut b = Jar::new(&app);
        assert_eq!(
            b.sign_in("dpo@example.com", "wrong password here")
                .await
                .status,
            401,
            "try {i}"
        );
    }
    let mut b = Jar::new(&app);
    let locked = b.sign_in("dpo@example.com", PASSWORD).await;
    assert_eq!(locked.status, 429, "locked even with the right password");
    assert!(locked.text.contains("Too many failed sign-ins"));
    app.clock.advance(31_000_000);
    assert_eq!(
        b.sign_in("dpo@example.com", PASSWORD).await.status,
        303,
        "free again after 30 s"
    );

    // An unknown address locks the same way, so the lock-out tells nothing either.
    for _ in 0..5 {
        b.sign_in("ghost@example.com", "wrong password here").await;
    }
    assert_eq!(
        b.sign_in("ghost@example.com", "wrong password here")
            .await
            .status,
        429
    );
    // The sixth failure doubled the lock: 30 s is not enough any more.
    for _ in 0..5 {
        b.sign_in("viewer@example.com", "wrong password here").await;
    }
    app.clock.advance(31_000_000);
    assert_eq!(
        b.sign_in("viewer@example.com", "wrong password here")
            .await
            .status,
        401
    );
    assert_eq!(b.sign_in("viewer@example.com", PASSWORD).await.status, 429);
    app.clock.advance(61_000_000);
    assert_eq!(b.sign_in("viewer@example.com", PASSWORD).await.status, 303);
}

#[tokio::test]
async fn sessions_end_after_idle_time_and_forms_need_their_token_and_origin() {
    let app = app().await;
    let mut b = Jar::new(&app);
    assert_eq!(b.sign_in("dpo@example.com", PASSWORD).await.status, 303);
    let csrf = b.csrf().await;
    let id = seed(&app, 1, Kind::Access).await.remove(0);
    let path = format!("/console/requests/{id}/note");

    let missing = b.post(&path, &[("text", "hello")]).await;
    assert_eq!(missing.status, 403, "no token");
    let forged = b
        .post(&path, &[("csrf", "1.AAAA"), ("text", "hello")])
        .await;
    assert_eq!(forged.status, 403, "a forged token");
    let elsewhere = b
        .post_from(
            &path,
            &[("csrf", &csrf), ("text", "hello")],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(elsewhere.status, 403, "another origin");
    assert!(elsewhere.text.contains("not sent from the console"));
    let ok = b.post(&path, &[("csrf", &csrf), ("text", "hello")]).await;
    assert_eq!(ok.status, 303, "{}", ok.text);

    app.clock.advance(29 * MINUTE);
    assert_eq!(b.get("/console/overview").await.status, 200, "still active");
    app.clock.advance(31 * MINUTE);
    let gone = b.get("/console/overview").await;
    assert_eq!(gone.status, 303);
    assert_eq!(gone.location(), "/console/login?expired=1");
    let login = b.get(gone.location()).await;
    assert!(login.text.contains("Your session expired"));
    let stale = b.post(&path, &[("csrf", &csrf), ("text", "again")]).await;
    assert_eq!(stale.status, 303);
    assert!(
        stale.location().starts_with("/console/login"),
        "an expired session acts no more"
    );
}

#[tokio::test]
async fn totp_enrolment_then_sign_in_with_a_code_used_once() {
    let app = app().await;
    let mut b = Jar::new(&app);
    b.sign_in("admin@example.com", PASSWORD).await;
    let csrf = b.csrf().await;
    assert_eq!(
        b.post("/console/account/totp", &[("csrf", &csrf)])
            .await
            .status,
        303
    );
    let page = b.get("/console/account").await;
    assert!(
        page.text
            .contains(r#"<svg role="img" aria-labelledby="qr-title" class="qr""#),
        "a QR code drawn as SVG"
    );
    let key_at =
        page.text.find(r#"<code id="totp-key">"#).unwrap() + r#"<code id="totp-key">"#.len();
    let key = &page.text[key_at..key_at + page.text[key_at..].find('<').unwrap()];
    let secret = custodian_core::totp::from_base32(key).unwrap();
    let now_s = || app.state.clock.now_micros() / 1_000_000;
    let wrong = b
        .post(
            "/console/account/totp/confirm",
            &[("csrf", &csrf), ("code", "000000")],
        )
        .await;
    assert!(wrong.location().contains("wrong=1"));
    let code = custodian_core::totp::code_at(&secret, custodian_core::totp::step_of(now_s()));
    let on = b
        .post(
            "/console/account/totp/confirm",
            &[("csrf", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(on.location(), "/console/account?done=1");
    b.post("/console/logout", &[("csrf", &csrf)]).await;

    app.clock.advance(30_000_000);
    let first = b.sign_in("admin@example.com", PASSWORD).await;
    assert_eq!(first.location(), "/console/login", "a code is owed");
    assert_eq!(
        b.get("/console/overview").await.location(),
        "/console/login",
        "nothing before the code"
    );
    let form = b.get("/console/login").await;
    assert!(form.text.contains(r#"autocomplete="one-time-code""#));
    let code = custodian_core::totp::code_at(&secret, custodian_core::totp::step_of(now_s()));
    let in_ = b
        .post(
            "/console/login/totp",
            &[("csrf", &form.csrf()), ("code", &code)],
        )
        .await;
    assert_eq!(in_.location(), "/console/overview", "{}", in_.text);
    assert_eq!(b.get("/console/overview").await.status, 200);

    // The same code again, from another browser: refused (RFC 6238 §5.2).
    let mut other = Jar::new(&app);
    other.sign_in("admin@example.com", PASSWORD).await;
    let form = other.get("/console/login").await;
    let again = other
        .post(
            "/console/login/totp",
            &[("csrf", &form.csrf()), ("code", &code)],
        )
        .await;
    assert_eq!(again.status, 401);
}

#[tokio::test]
async fn a_viewer_reads_but_is_refused_an_action() {
    let app = app().await;
    let id = seed(&app, 1, Kind::Access).await.remove(0);
    let mut b = Jar::new(&app);
    b.sign_in("viewer@example.com", PASSWORD).await;
    let page = b.get(&format!("/console/requests/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(
        !page.text.contains("/approve\""),
        "no action forms for a viewer"
    );
    let csrf = b.csrf().await;
    let refused = b
        .post(
            &format!("/console/requests/{id}/approve"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(refused.text.contains("Your role may not do this."));
    assert_eq!(
        app.store.request(&id).await.unwrap().unwrap().status,
        Status::Verified
    );
    assert_eq!(
        b.get("/console/users").await.status,
        403,
        "users are for admins"
    );
}

#[tokio::test]
async fn a_request_is_worked_from_the_queue_to_completed_through_the_forms() {
    let app = app().await;
    // UK GDPR: the clock may stop for clarification, and the answer may be extended.
    let ids = crate::seed_in(&app, 3, Kind::Access, "uk_gdpr", "GB").await;
    let mut b = Jar::new(&app);
    b.sign_in("dpo@example.com", PASSWORD).await;
    let queue = b
        .get("/console/requests?type=access&status=verified&jurisdiction=uk_gdpr")
        .await;
    assert!(queue.text.contains("Requests 1–3 of 3"), "{}", queue.text);
    let id = &ids[0];
    assert!(queue.text.contains(&format!("/console/requests/{id}")));
    let csrf = b.csrf().await;
    let act = |a: &'static str| format!("/console/requests/{id}/{a}");
    for (action, fields) in [
        ("assign", vec![("to", "dpo@example.com")]),
        ("note", vec![("text", "called the customer")]),
        ("pause", vec![("pause_reason", "awaiting_clarification")]),
        ("resume", vec![]),
        (
            "extend",
            vec![("reason", "many systems to search"), ("months", "1")],
        ),
        ("approve", vec![]),
    ] {
        let mut pairs = vec![("csrf", csrf.as_str())];
        pairs.extend(fields);
        let r = b.post(&act(action), &pairs).await;
        assert_eq!(r.status, 303, "{action}: {}", r.text);
        assert_eq!(
            r.location(),
            format!("/console/requests/{id}?done={action}")
        );
    }
    let refused = b.post(&act("deny"), &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, 422, "deny needs a reason: {}", refused.text);
    let row = app.store.request(id).await.unwrap().unwrap();
    if row.status != Status::Completed {
        let done = b.post(&act("complete"), &[("csrf", &csrf)]).await;
        assert_eq!(done.status, 303, "{}", done.text);
    }
    let row = app.store.request(id).await.unwrap().unwrap();
    assert_eq!(row.status, Status::Completed);
    assert_eq!(row.assignee.as_deref(), Some("dpo@example.com"));
    assert_eq!(row.extended_months, 1);
    let page = b.get(&format!("/console/requests/{id}")).await;
    assert!(page.text.contains("called the customer") && page.text.contains("/export"));
    let history = app.store.request_history(id).await.unwrap();
    let user = app.state.users.find("dpo@example.com").await.unwrap();
    let by_user = history.iter().filter(|h| h.actor == user.id).count();
    assert!(
        by_user >= 6,
        "every form's step names the user: {history:?}"
    );
    assert!(history
        .iter()
        .all(|h| [user.id.as_str(), "system", "requester"].contains(&h.actor.as_str())));
}

#[tokio::test]
async fn no_page_is_over_100_kb_with_1000_open_requests() {
    let app = app().await;
    let ids = seed(&app, 1000, Kind::Erasure).await;
    let mut b = Jar::new(&app);
    b.sign_in("admin@example.com", PASSWORD).await;
    let first = &ids[0];
    for path in [
        "/console/overview".to_owned(),
        "/console/requests".into(),
        "/console/requests?page=20".into(),
        format!("/console/requests/{first}"),
        "/console/users".into(),
        "/console/retention".into(),
    ] {
        let p = b.get(&path).await;
        assert_eq!(p.status, 200, "{path}");
        assert!(
            p.text.len() < 100 * 1024,
            "{path} is {} bytes",
            p.text.len()
        );
    }
    let overview = b.get("/console/overview").await;
    assert!(
        overview.text.contains(r#"<span class="n">1000</span>"#),
        "every open request counted"
    );
}
