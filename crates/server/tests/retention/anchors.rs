//! Every retention anchor acts (GDPR Art. 5(1)(e): kept no longer than the rule says), through
//! the lifecycle API, the consent API and the daily job, against real company databases:
//! `collected` (job applications by their own date, whoever sent them), `consent_withdrawn`
//! (the consent state 30 days after withdrawal), `purchase` (a warranty rule added to the
//! example), `last_activity` (support tickets three years on) and `account_closed` (due, but
//! with nothing held under it in any datastore: listed, and no purge record). A purge is
//! recorded only when something went.

use super::common::{self, TestApp, START};
use super::{event, run, DAY, YEAR};
use custodian_app::retention::Report;
use serde_json::json;

/// The example with one more rule, anchored on purchases.
fn policy() -> custodian_policy::Policy {
    let text = custodian_policy::EXAMPLE_POLICY.replacen(
        "# ── Deadlines for requests",
        "[[retention]]\nid = \"warranty\"\ndescription = \"Warranty registrations are kept for 2 years after your last purchase.\"\ncategories = [\"product_registration\"]\nanchor = \"purchase\"\nkeep_for = \"P2Y\"\n\n# ── Deadlines for requests",
        1,
    );
    custodian_policy::load("policy.toml", &text).expect("the example with a purchase rule")
}

/// A helpdesk database whose ticket bodies are held under `support_tickets` and warranty
/// serials under `warranty`, registered as a datastore.
async fn helpdesk(app: &TestApp) -> custodian_connectors::sql::Db {
    use custodian_connectors::sql::Db;
    let dir = std::env::temp_dir().join(format!("custodian-anchors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("helpdesk.db").display());
    let db = Db::connect(&url).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    for sql in [
        "CREATE TABLE tickets (id INTEGER PRIMARY KEY, email TEXT, body TEXT)",
        "CREATE TABLE warranties (id INTEGER PRIMARY KEY, email TEXT, serial TEXT)",
        "INSERT INTO tickets VALUES (1, 'ada@example.com', 'No sound'), (2, 'bob@example.com', 'Hum')",
        "INSERT INTO warranties VALUES (1, 'ada@example.com', 'SN1'), (2, 'bob@example.com', 'SN2')",
    ] {
        let mut s = db.sql();
        s.push(sql);
        tx.execute(&s).await.unwrap();
    }
    tx.commit().await.unwrap();
    let dataset = dir.join("helpdesk.toml");
    std::fs::write(
        &dataset,
        r#"
name = "helpdesk"
[[tables]]
name = "tickets"
primary_key = "id"
fields = [
  { name = "id" },
  { name = "email", identity = "email" },
  { name = "body", category = "support_contact", erase = "hold", hold = "support_tickets" },
]
[[tables]]
name = "warranties"
primary_key = "id"
fields = [
  { name = "id" },
  { name = "email", identity = "email" },
  { name = "serial", category = "product_registration", erase = "hold", hold = "warranty" },
]
"#,
    )
    .unwrap();
    std::env::set_var("CUSTODIAN_TEST_HELPDESK_URL_ANCHORS", &url);
    app.store
        .put_datastore(
            "helpdesk",
            dataset.to_str().unwrap(),
            Some("CUSTODIAN_TEST_HELPDESK_URL_ANCHORS"),
            None,
        )
        .await
        .unwrap();
    db
}

async fn text(db: &custodian_connectors::sql::Db, sql: &str) -> Option<String> {
    let mut s = db.sql();
    s.push(sql);
    db.text_rows(&s).await.unwrap()[0][0].clone()
}

fn rules_recorded(r: &Report) -> Vec<&str> {
    r.entries.iter().map(|e| e.rule.as_str()).collect()
}

#[tokio::test]
async fn every_anchor_acts_and_records_only_what_went() {
    let app = TestApp::with_policy(&custodian_store::testing::fresh_sqlite_url(), policy()).await;
    let company = common::company_datastore(
        &app,
        "anchors-company",
        "CUSTODIAN_TEST_COMPANY_URL_ANCHORS",
    )
    .await;
    let desk = helpdesk(&app).await;
    // Customer 10's job application (id 1) came in on 2 January 2025.
    let mut tx = company.begin().await.unwrap();
    let mut s = company.sql();
    s.push("UPDATE job_applications SET applied_on = '2025-01-02' WHERE id = 1");
    tx.execute(&s).await.unwrap();
    tx.commit().await.unwrap();

    let ada = event(
        &app,
        "ada@example.com",
        "account_opened",
        START - 2 * YEAR,
        json!({}),
    )
    .await;
    assert_eq!(ada.status, 201, "{}", ada.text);
    let ada = ada.body["subject_ref"].as_str().unwrap().to_owned();
    for kind in ["purchase", "last_activity"] {
        let a = event(&app, "ada@example.com", kind, START, json!({})).await;
        assert_eq!(a.status, 201, "{}", a.text);
    }
    let consent = json!({ "subject": { "email": "bob@example.com" }, "choices": { "marketing": false },
        "policy_version": "2018-05-25", "source": "api" });
    assert_eq!(
        app.post("/v1/consent", Some(&app.service), &consent)
            .await
            .status,
        201
    );

    // `collected`: a day later the application is more than six months old. A dry run says
    // so and changes nothing; the run deletes it (its `erase = "delete_row"`) and records it.
    let dry = run(&app, START + DAY, true).await;
    let listed = dry
        .entries
        .iter()
        .find(|e| e.rule == "applications")
        .unwrap_or_else(|| panic!("{dry:?}"));
    assert_eq!(listed.subject_ref, "*");
    assert!(
        listed
            .data
            .records
            .contains(&"company datastore company: 1 rows".to_owned()),
        "{listed:?}"
    );
    assert_eq!(
        rules_recorded(&dry),
        ["applications"],
        "nothing else is due yet"
    );
    assert!(
        dry.collected_unreached
            .contains(&"analytics_events".to_owned())
            && dry.collected_unreached.contains(&"server_logs".to_owned()),
        "no table records when analytics events or logs were collected: {:?}",
        dry.collected_unreached
    );
    let applications = "SELECT CAST(COUNT(*) AS TEXT) FROM job_applications";
    assert_eq!(text(&company, applications).await.as_deref(), Some("1"));
    let r = run(&app, START + DAY, false).await;
    assert_eq!(
        (r.company_rows_changed, r.company_failures),
        (1, 0),
        "{r:?}"
    );
    assert_eq!(text(&company, applications).await.as_deref(), Some("0"));
    let purges = app.store.purges(Some("*"), 10).await.unwrap();
    assert_eq!(purges.len(), 1);
    assert_eq!(purges[0].rule, "applications");
    assert!(purges[0].data.contains("1 rows") && !purges[0].data.contains("customer-10"));
    assert!(app.store.purges(Some(&ada), 10).await.unwrap().is_empty());
    // Nothing more went, so nothing more is recorded.
    let r = run(&app, START + 2 * DAY, false).await;
    assert_eq!(r.company_rows_changed, 0);
    assert_eq!(app.store.purges(Some("*"), 10).await.unwrap().len(), 1);

    // `consent_withdrawn`: Bob's marketing consent state, 30 days after he withdrew it.
    let r = run(&app, START + 31 * DAY, false).await;
    assert_eq!(rules_recorded(&r), ["marketing_preferences"], "{r:?}");
    assert!(app
        .store
        .purges(None, 20)
        .await
        .unwrap()
        .iter()
        .any(|p| p.rule == "marketing_preferences" && p.records == 1));

    // `purchase`: two years after Ada's purchase her warranty serial goes; Bob's stays.
    let serial = |who: &'static str| {
        let desk = &desk;
        async move {
            text(
                desk,
                &format!("SELECT serial FROM warranties WHERE email = '{who}'"),
            )
            .await
        }
    };
    let r = run(&app, START + 2 * YEAR - DAY, false).await;
    assert!(!rules_recorded(&r).contains(&"warranty"), "{r:?}");
    assert_eq!(serial("ada@example.com").await.as_deref(), Some("SN1"));
    let r = run(&app, START + 2 * YEAR + DAY, false).await;
    assert!(rules_recorded(&r).contains(&"warranty"), "{r:?}");
    assert_eq!(serial("ada@example.com").await, None);
    assert_eq!(serial("bob@example.com").await.as_deref(), Some("SN2"));

    // `last_activity`: three years after her last activity her ticket's body goes.
    let body = "SELECT body FROM tickets WHERE email = 'ada@example.com'";
    run(&app, START + 3 * YEAR - 2 * DAY, false).await;
    assert_eq!(text(&desk, body).await.as_deref(), Some("No sound"));
    run(&app, START + 3 * YEAR + 2 * DAY, false).await;
    assert_eq!(text(&desk, body).await, None);
    let recorded: Vec<String> = app
        .store
        .purges(Some(&ada), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.rule)
        .collect();
    assert_eq!(recorded, ["support_tickets", "warranty"], "newest first");

    // `account_closed`: `while_customer` falls due 30 days after closure, but nothing is held
    // under it in any datastore: it is listed as due, and no purge is recorded.
    app.clock.set(START + 3 * YEAR + 3 * DAY);
    let closed = event(
        &app,
        "ada@example.com",
        "account_closed",
        START + 3 * YEAR + 3 * DAY,
        json!({}),
    )
    .await;
    assert_eq!(closed.status, 201, "{}", closed.text);
    let r = run(&app, START + 3 * YEAR + 40 * DAY, false).await;
    assert!(rules_recorded(&r).contains(&"while_customer"), "{r:?}");
    assert!(!app
        .store
        .purges(Some(&ada), 10)
        .await
        .unwrap()
        .iter()
        .any(|p| p.rule == "while_customer"));
    company.close().await;
    desk.close().await;
}
