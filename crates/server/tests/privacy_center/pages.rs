//! The pages themselves: a strict content policy and no caching on every page, German pages
//! and the language switch, and hostile input that comes back escaped.

use crate::browser::Browser;
use crate::common::TestApp;
use axum::body::Body;
use axum::http::{header, Request};

// One piece: the same checks (status, type, CSP, caching, headers, markup) over every page of the
// privacy centre, then what the home, consents, stylesheet and cookie each must carry.
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
        // Not `no-referrer`: under it a browser's form posts carry `Origin: null`.
        assert_eq!(p.header("referrer-policy"), "same-origin");
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
