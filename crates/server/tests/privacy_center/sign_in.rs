//! Signing in with a code read from a real SMTP delivery, then seeing and changing the
//! address's choices.

use crate::browser::{code_in, decide, link_in, Browser, Mail, Page};
use crate::common::TestApp;
use serde_json::json;

// One scenario followed end to end: asking for a code, reading it from the delivered mail, a wrong
// then the right code, the address's choices shown and changed, signing out, and expiry.
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
    // The address in no readable form: as is, URL-encoded, or base64 (not a bare "ada",
    // which random hex in the cookie contains now and then).
    let encoded = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(email)
    };
    assert!(
        pending.contains("HttpOnly")
            && !pending.contains(email)
            && !pending.contains("ada%40example")
            && !pending.contains("example.com")
            && !pending.contains(&encoded[..12]),
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
    let p = enter_code(&mut b, wrong).await;
    assert_eq!(p.status, 422);
    assert!(p.text.contains("This code is not right"));
    let p = enter_code(&mut b, &code).await;
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
        // The address in readable forms: the value is random hex, which may hold "ada".
        !session.contains("ada@")
            && !session.contains("ada%40")
            && !session.contains("example.com"),
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
    let p = enter_code(&mut late, &code).await;
    assert_eq!(p.status, 410, "{}", p.text);
    assert!(p.text.contains("expired"));
}

/// Starts a sign-in for `email` in `b` and answers the mailed code.
async fn ask_for_code(b: &mut Browser<'_>, mail: &Mail, email: &str) -> String {
    let p = b
        .submit(
            "/privacy-center/consents",
            "/privacy-center/sign-in",
            &[("email", email)],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.text);
    code_in(&mail.last_to(b.app, email).await)
}

/// Types `code` into the sign-in's code form, as the page that asked for it.
async fn enter_code(b: &mut Browser<'_>, code: &str) -> Page {
    b.submit(
        "/privacy-center/sign-in",
        "/privacy-center/sign-in/code",
        &[("code", code)],
    )
    .await
}

fn copy<'a>(b: &Browser<'a>) -> Browser<'a> {
    Browser {
        app: b.app,
        jar: b.jar.clone(),
        headers: b.headers.clone(),
    }
}

// The review's finding (issue 15): the pending cookie of a finished sign-in opened a second
// session, and signing out left the session valid on the server for whoever kept its cookie.
#[tokio::test]
async fn a_sign_in_is_used_once_and_signing_out_ends_the_session_on_the_server() {
    let app = TestApp::sqlite().await;
    let mail = Mail::start().await;
    let mut b = Browser::new(&app);
    let code = ask_for_code(&mut b, &mail, "dora@example.com").await;
    let mut replay = copy(&b);
    let p = enter_code(&mut b, &code).await;
    assert_eq!(p.status, 303, "{}", p.text);

    let p = enter_code(&mut replay, &code).await;
    assert_eq!(p.status, 410, "the pending cookie is spent: {}", p.text);
    assert!(
        !replay.jar.contains_key("cst_pc_session"),
        "no second session"
    );

    let mut kept = copy(&b);
    assert!(kept
        .get("/privacy-center/consents")
        .await
        .text
        .contains("You confirmed your e-mail address"));
    let p = b
        .submit("/privacy-center/consents", "/privacy-center/sign-out", &[])
        .await;
    assert_eq!(p.status, 303);
    let page = kept.get("/privacy-center/consents").await;
    assert!(
        !page.text.contains("You confirmed your e-mail address"),
        "the kept cookie names no session any more"
    );
    let p = kept
        .submit(
            "/privacy-center/consents",
            "/privacy-center/consents",
            &[("for", "account"), ("choice.marketing", "yes")],
        )
        .await;
    assert_eq!(p.status, 401);
}

// Tries are counted per sign-in in the store: a cookie whose nonce is changed names no sign-in
// (no fresh tries), and a locked sign-in stays locked.
#[tokio::test]
async fn wrong_codes_are_counted_per_sign_in_whatever_the_cookie_says() {
    let app = TestApp::sqlite().await;
    let mail = Mail::start().await;
    let mut b = Browser::new(&app);
    let code = ask_for_code(&mut b, &mail, "eve@example.com").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let attempts = app.state.policy.requests.verification_attempts;
    for _ in 0..attempts {
        let p = enter_code(&mut b, wrong).await;
        assert_eq!(p.status, 422, "{}", p.text);
    }
    let mut minted = copy(&b);
    let pending = b.jar["cst_pc_signin"].clone();
    let mut parts: Vec<&str> = pending.splitn(3, '.').collect();
    parts[1] = "signin_made_up";
    minted.jar.insert("cst_pc_signin".into(), parts.join("."));
    let p = enter_code(&mut minted, &code).await;
    assert_eq!(p.status, 410, "a made-up nonce names no sign-in");

    let p = enter_code(&mut b, &code).await;
    assert_eq!(p.status, 429, "locked even with the right code");
    assert!(!b.jar.contains_key("cst_pc_session"));
}
