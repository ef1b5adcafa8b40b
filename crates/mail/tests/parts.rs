//! The pieces on their own: every template in both languages, the SMTP URL forms, and the
//! sink's protocol (dot-unstuffing, RSET, NOOP) spoken by hand.

use custodian_mail::testing::SmtpSink;
use custodian_mail::{render, DigestItem, Lang, MailConfig, MailContent, Mailer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn all_contents() -> Vec<MailContent> {
    let item = |id: &str| DigestItem {
        request_id: id.into(),
        due: "2025-02-28 17:00".into(),
    };
    vec![
        MailContent::VerificationCode {
            code: "123456".into(),
            link: "https://p.example/v?c=123456".into(),
            request_type: "erasure".into(),
        },
        MailContent::RequestReceived {
            request_id: "req_1".into(),
            request_type: "access".into(),
            status_link: "https://p.example/s/1".into(),
            due_date: "2025-02-28".into(),
        },
        MailContent::RequestExtended {
            request_id: "req_1".into(),
            reason: "many systems to search".into(),
            new_due_date: "2025-04-30".into(),
        },
        MailContent::RequestDenied {
            request_id: "req_1".into(),
            reason: "manifestly unfounded".into(),
        },
        MailContent::RequestCompleted {
            request_id: "req_1".into(),
            status_link: "https://p.example/s/1".into(),
            download_link: Some("https://p.example/d/1".into()),
        },
        MailContent::RequestForwarded {
            request_id: "req_1".into(),
            customer_name: "Acme Ltd".into(),
            customer_contact: "privacy@acme.example".into(),
        },
        MailContent::RestrictionLiftNotice {
            request_id: "req_1".into(),
            reason: "your address was checked and is accurate".into(),
            lift_date: "2025-03-10".into(),
            status_link: "https://p.example/s/1".into(),
        },
        MailContent::DpoDigest {
            date: "2025-02-03".into(),
            due_soon: vec![item("req_2")],
            overdue: vec![item("req_3"), item("req_4")],
            admin_link: None,
            overdue_incidents: Vec::new(),
        },
        MailContent::BreachNotice {
            organisation: "Focusrite Group".into(),
            nature: "A copy of the customer database was taken.".into(),
            categories: vec!["Contact details".into(), "Order history".into()],
            consequences: "You may receive convincing phishing mail.".into(),
            measures: "We reset every password. Do not reuse it elsewhere.".into(),
            contact: "dpo@focusrite.com".into(),
        },
        MailContent::DisclosureNotice {
            organisation: "Focusrite Group".into(),
            recipient: "Westminster Magistrates' Court".into(),
            legal_basis: "Criminal Procedure Rules, r. 47".into(),
            reference: "WMC-2026-114".into(),
            categories: vec!["Order history".into()],
            disclosed_on: "2026-02-03".into(),
            contact: "dpo@focusrite.com".into(),
        },
    ]
}

#[test]
fn every_template_renders_in_english_and_german() {
    for content in all_contents() {
        let en = render(&content, Lang::En);
        let de = render(&content, Lang::De);
        for r in [&en, &de] {
            assert!(!r.subject.is_empty() && r.text.ends_with('\n'));
            assert!(
                !r.text.contains('{') && r.html.starts_with("<!doctype html>"),
                "{r:?}"
            );
        }
        assert_ne!(en.subject, de.subject, "{}", content.template());
        assert!(de.html.contains("lang=\"de\""));
        // Parameters survive the outbox's JSON round trip.
        let json = serde_json::to_string(&content).unwrap();
        assert!(json.contains(&format!("\"template\":\"{}\"", content.template())));
        assert_eq!(serde_json::from_str::<MailContent>(&json).unwrap(), content);
    }
    let digest = render(&all_contents()[7], Lang::En);
    assert!(
        digest.subject.contains("2 overdue, 1 due soon"),
        "{}",
        digest.subject
    );
    assert!(digest.text.contains("- req_3 (2025-02-28 17:00)"));
    // A digest queued before incidents existed still reads back.
    let old = r#"{"template":"dpo_digest","date":"2025-02-03","due_soon":[],"overdue":[],"admin_link":null}"#;
    assert!(matches!(
        serde_json::from_str::<MailContent>(old).unwrap(),
        MailContent::DpoDigest { overdue_incidents, .. } if overdue_incidents.is_empty()
    ));
    let breach = render(&all_contents()[8], Lang::De);
    for part in [
        "Was geschehen ist",
        "Was das für Sie bedeuten kann",
        "dpo@focusrite.com",
        "Aufsichtsbehörde",
    ] {
        assert!(
            breach.text.contains(part),
            "Art. 34(2) in German: {part}: {}",
            breach.text
        );
    }
    let denied = render(
        &MailContent::RequestDenied {
            request_id: "r".into(),
            reason: "<b>&".into(),
        },
        Lang::De,
    );
    assert!(denied.html.contains("&lt;b&gt;&amp;") && denied.text.contains("Grund: <b>&"));
    // GDPR Art. 18(3): the notice says when and why, in the requester's language.
    let lift = &all_contents()[6];
    let (en, de) = (render(lift, Lang::En), render(lift, Lang::De));
    assert!(en.text.contains("2025-03-10") && en.text.contains("Art. 18(3)"));
    assert!(de.text.contains("frühestens am 2025-03-10") && de.text.contains("Art. 18 Abs. 3"));
    assert_eq!(Lang::parse_or_en("de-AT"), Lang::De);
    assert_eq!(Lang::parse_or_en("fr"), Lang::En);
}

#[tokio::test]
async fn smtp_urls_name_their_security_and_hide_the_password() {
    use custodian_mail::config::Security;
    let c = MailConfig::new("smtp://127.0.0.1:2525", "privacy@shop.example").unwrap();
    assert_eq!(
        (c.host.as_str(), c.port, c.security, c.credentials.is_none()),
        ("127.0.0.1", 2525, Security::Plain, true)
    );
    assert_eq!(c.domain(), "shop.example");
    let c = MailConfig::new(
        "smtps://mailer:p%40ss@mail.example",
        "Privacy <privacy@shop.example>",
    )
    .unwrap();
    assert_eq!((c.port, c.security), (465, Security::Tls));
    assert_eq!(
        c.credentials.clone().unwrap(),
        ("mailer".to_owned(), "p@ss".to_owned())
    );
    assert!(!format!("{c:?}").contains("p@ss"));
    let c = MailConfig::new("smtp://mail.example?tls=required", "privacy@shop.example").unwrap();
    assert_eq!((c.port, c.security), (587, Security::StartTls));
    Mailer::new(&c).unwrap();
    for bad in ["http://x", "smtp://x?tls=maybe", "not a url"] {
        assert!(
            MailConfig::new(bad, "privacy@shop.example").is_err(),
            "{bad}"
        );
    }
    assert!(MailConfig::new("smtp://x", "not an address").is_err());
}

#[tokio::test]
async fn message_ids_follow_the_idempotency_key() {
    let c = MailConfig::new("smtp://127.0.0.1:25", "privacy@shop.example").unwrap();
    let m = Mailer::new(&c).unwrap();
    assert_eq!(m.message_id("req_1/x"), m.message_id("req_1/x"));
    assert_ne!(m.message_id("req_1/x"), m.message_id("req_1/y"));
    assert!(m.message_id("req_1/x").ends_with("@shop.example>"));
    assert!(
        !m.message_id("req_1/x").contains("req_1"),
        "the key is hashed"
    );
}

/// Reads one (possibly multi-line) reply and checks its code.
async fn expect<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R, code: &str) {
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).await.unwrap();
        assert!(line.starts_with(code), "wanted {code}, got {line}");
        if line.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    }
}

#[tokio::test]
async fn the_sink_speaks_smtp_by_hand() {
    let sink = SmtpSink::start().await;
    let stream = tokio::net::TcpStream::connect(sink.addr()).await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    expect(&mut r, "220").await;
    for (cmd, code) in [
        ("HELO me", "250"),
        ("NOOP", "250"),
        ("DATA", "503"),
        ("MAIL FROM:<a@x>", "250"),
        ("RSET", "250"),
        ("RCPT TO:<b@y>", "503"),
        ("MAIL FROM:<a@x> SIZE=10", "250"),
        ("RCPT TO:<b@y>", "250"),
        ("DATA", "354"),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).await.unwrap();
        expect(&mut r, code).await;
    }
    w.write_all(b"Subject: hi\r\n\r\n..leading dot\r\nplain\r\n.\r\n")
        .await
        .unwrap();
    expect(&mut r, "250").await;
    w.write_all(b"QUIT\r\n").await.unwrap();
    expect(&mut r, "221").await;
    let got = sink.wait_for(1).await;
    assert_eq!(
        (got[0].mail_from.as_str(), got[0].rcpt_to.as_slice()),
        ("a@x", &["b@y".to_owned()][..])
    );
    assert_eq!(got[0].data, "Subject: hi\r\n\r\n.leading dot\r\nplain\r\n");
    assert_eq!(got[0].text().unwrap(), ".leading dot\nplain\n");
}

#[tokio::test]
async fn german_mail_reads_back_through_the_encodings() {
    let sink = SmtpSink::start().await;
    let m =
        Mailer::new(&MailConfig::new(&sink.url(), "Datenschutz <privacy@shop.example>").unwrap())
            .unwrap();
    let content = MailContent::RequestExtended {
        request_id: "req_7".into(),
        reason: "Prüfung über mehrere Systeme ".repeat(8),
        new_due_date: "30.04.2025".into(),
    };
    let r = render(&content, Lang::De);
    m.send("joerg@example.org", &r, "req_7/extended")
        .await
        .unwrap();
    let got = sink.wait_for(1).await;
    assert_eq!(
        got[0].subject().unwrap(),
        "Fristverlängerung für Ihren Antrag req_7"
    );
    assert_eq!(got[0].text().unwrap(), r.text);
}
