//! The overview against real data: consent choices recorded through `POST /v1/consent` over
//! three weeks of a moved clock, then counted per purpose and week — given, refused, and
//! withdrawn (a refusal after consent, GDPR Art. 7(3)) — in `app::overview` and in the
//! tables the charts carry. And ended sessions removed by the background job.

use serde_json::{json, Value};

use crate::common::START;
use crate::jar::Jar;
use crate::{app, PASSWORD};

const DAY: i64 = 86_400_000_000;

/// A banner's choices for device `device`.
fn choice(device: &str, choices: Value) -> Value {
    json!({
        "subject": { "device_id": device },
        "choices": choices,
        "policy_version": "2018-05-25",
        "source": "banner",
        "language": "en",
    })
}

/// The rows of the figures table of the chart whose caption ends with `suffix`:
/// `(week, [given, refused, withdrawn])`.
fn table(html: &str, suffix: &str) -> Vec<(String, Vec<i64>)> {
    let caption = format!("{suffix}</caption>");
    let at = html
        .find(&caption)
        .unwrap_or_else(|| panic!("no chart captioned …{suffix}"));
    let body = &html[at..];
    let body = &body[body.find("<tbody>").unwrap() + 7..body.find("</tbody>").unwrap()];
    body.split("</tr>")
        .filter(|r| r.contains("<th"))
        .map(|r| {
            let label_at = r.find(r#"<th scope="row">"#).unwrap() + r#"<th scope="row">"#.len();
            let label = r[label_at..label_at + r[label_at..].find('<').unwrap()].to_owned();
            let cells = r
                .split("<td>")
                .skip(1)
                .map(|c| c[..c.find('<').unwrap()].parse().unwrap())
                .collect();
            (label, cells)
        })
        .collect()
}

fn week<'a>(rows: &'a [(String, Vec<i64>)], label: &str) -> &'a [i64] {
    &rows
        .iter()
        .find(|(l, _)| l == label)
        .unwrap_or_else(|| panic!("no week {label} in {rows:?}"))
        .1
}

#[tokio::test]
async fn consent_is_counted_given_refused_and_withdrawn_per_purpose_per_week() {
    let app = app().await;
    // The test clock's Thursday 2026-01-01 is in the week of Monday 2025-12-29; two weeks back
    // are the weeks of 2025-12-15 and 2025-12-22.
    let weeks = [
        (
            START - 14 * DAY,
            vec![
                (
                    "dev_aaaaaaaaaaaaaaa1",
                    json!({ "analytics": true, "marketing": true }),
                ),
                ("dev_aaaaaaaaaaaaaaa2", json!({ "analytics": false })),
                ("dev_aaaaaaaaaaaaaaa3", json!({ "analytics": true })),
            ],
        ),
        (
            START - 7 * DAY,
            vec![
                // Withdrawn: device 1 had given analytics.
                ("dev_aaaaaaaaaaaaaaa1", json!({ "analytics": false })),
                // Given after a refusal.
                ("dev_aaaaaaaaaaaaaaa2", json!({ "analytics": true })),
                ("dev_aaaaaaaaaaaaaaa4", json!({ "marketing": false })),
            ],
        ),
        (
            START,
            vec![
                ("dev_aaaaaaaaaaaaaaa3", json!({ "analytics": false })),
                ("dev_aaaaaaaaaaaaaaa2", json!({ "analytics": false })),
                ("dev_aaaaaaaaaaaaaaa5", json!({ "advertising": false })),
            ],
        ),
    ];
    for (at, choices) in weeks {
        app.clock.set(at);
        for (device, c) in choices {
            let a = app.post("/v1/consent", None, &choice(device, c)).await;
            assert_eq!(a.status, 201, "{}", a.text);
        }
    }

    let o = custodian_app::overview::overview(&app.state).await.unwrap();
    let of = |purpose: &str| {
        o.consent
            .iter()
            .find(|p| p.purpose == purpose)
            .unwrap_or_else(|| panic!("no purpose {purpose}"))
    };
    let analytics = of("analytics");
    assert_eq!(analytics.given[9..], [2, 1, 0]);
    assert_eq!(analytics.refused[9..], [1, 0, 0]);
    assert_eq!(analytics.withdrawn[9..], [0, 1, 2]);
    assert!(analytics.given[..9].iter().all(|n| *n == 0));
    let marketing = of("marketing");
    assert_eq!(
        (&marketing.given[9..], &marketing.refused[9..]),
        (&[1, 0, 0][..], &[0, 1, 0][..])
    );
    assert_eq!(of("advertising").refused[11], 1);
    let rate = |purpose: &str| {
        let r = o.rates.iter().find(|r| r.purpose == purpose).unwrap();
        (r.given, r.refused)
    };
    assert_eq!(rate("analytics"), (0, 3), "every device's latest choice");
    assert_eq!(rate("marketing"), (1, 1));

    // The same figures in the page's tables, which screen readers get.
    let mut b = Jar::new(&app);
    b.sign_in("viewer@example.com", PASSWORD).await;
    let page = b.get("/console/overview").await;
    assert_eq!(page.status, 200);
    let analytics = table(&page.text, "— analytics");
    assert_eq!(week(&analytics, "2025-12-15"), [2, 1, 0]);
    assert_eq!(week(&analytics, "2025-12-22"), [1, 0, 1]);
    assert_eq!(week(&analytics, "2025-12-29"), [0, 0, 2]);
    assert_eq!(week(&analytics, "2025-12-08"), [0, 0, 0]);
    assert_eq!(analytics.len(), 12, "twelve weeks");
    let marketing = table(&page.text, "— marketing");
    assert_eq!(week(&marketing, "2025-12-22"), [0, 1, 0]);
    assert!(
        page.text
            .contains("<tr><th scope=\"row\">marketing</th><td>1</td><td>1</td><td>50 %</td></tr>"),
        "the rate of the current choices"
    );
}

#[tokio::test]
async fn the_background_job_removes_ended_sessions() {
    let app = app().await;
    let idle = app.state.console.idle_micros();
    let mut stale = Jar::new(&app);
    stale.sign_in("dpo@example.com", PASSWORD).await;
    let hash = |b: &Jar| custodian_app::sessions::token_hash(&b.cookies["cst_console"]);
    let stale_hash = hash(&stale);
    assert!(app.store.session(&stale_hash).await.unwrap().is_some());

    app.clock.advance(idle + 60_000_000);
    let mut fresh = Jar::new(&app);
    fresh.sign_in("admin@example.com", PASSWORD).await;
    custodian_app::background::sessions_once(&app.state, idle).await;
    assert!(
        app.store.session(&stale_hash).await.unwrap().is_none(),
        "the idle session is gone from the store"
    );
    assert!(app.store.session(&hash(&fresh)).await.unwrap().is_some());
    assert_eq!(fresh.get("/console/overview").await.status, 200);
}
