//! The request clock through the API, as the law counts it: a Californian request at 23:30
//! local time counted on California's days and shown exactly as `custodian deadline` computes
//! it; the DPO stopping and restarting the clock where the law lets them (whole local days
//! move the due day, then it rolls) and refused where it does not; extensions counted from
//! receipt, told to the requester in their language, and refused after the first period.

use crate::common::{assert_problem, START};
use crate::env::Env;
use custodian_core::deadline::{due, rule_by_id, Calendars};
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

fn micros(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_microsecond()
}

async fn received(env: &Env, email: &str, extra: Value) -> String {
    env.verified("rectification", email, extra).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_californian_request_at_half_past_eleven_is_counted_on_californian_days() {
    let env = Env::new().await;
    // Monday 2 March 2026, 23:30 in Los Angeles: already Tuesday in London and in UTC.
    env.app.clock.set(micros("2026-03-03T07:30:00Z"));
    let id = received(&env, "cal@example.com", json!({ "country": "US" })).await;
    let r = env.admin(&id).await;
    assert_eq!(r["jurisdiction"], "ccpa");
    assert_eq!(r["received_date"], "2026-03-02");
    assert_eq!(r["acknowledge_due_date"], "2026-03-16");
    assert_eq!(r["answer_due_date"], "2026-04-16");
    assert_eq!(r["answer_due"], "2026-04-17T06:59:59.999999Z");
    assert_eq!(r["latest_answer_due_date"], "2026-06-01");

    // The same values as the one function behind `custodian deadline --json`.
    let policy = custodian_policy::example();
    let rule = rule_by_id(&policy, "ccpa").unwrap();
    let calendars = Calendars::from_policy(&policy).unwrap();
    let at = jiff::Timestamp::from_microsecond(micros("2026-03-03T07:30:00Z")).unwrap();
    let expected =
        serde_json::to_value(due(at, &rule, calendars.get(&rule.calendar), &[], None, at)).unwrap();
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&r[key], value, "{key}");
    }
}

#[tokio::test]
async fn the_dpo_stops_the_clock_where_the_law_does_and_whole_days_move_the_due_day() {
    let env = Env::new().await;
    let app = &env.app;
    // Thursday 1 January 2026, 10:00 London: one month is Sunday 1 February, rolled to Monday.
    app.clock.set(START + 10 * HOUR);
    let uk = received(&env, "uk@example.com", json!({ "country": "GB" })).await;
    assert_eq!(env.admin(&uk).await["answer_due_date"], "2026-02-02");

    assert_problem(
        &env.act(&uk, "pause", json!({})).await,
        422,
        "missing_field",
    );
    assert_problem(
        &env.act(&uk, "pause", json!({ "pause_reason": "lunch" }))
            .await,
        422,
        "unknown_pause_reason",
    );
    assert_problem(&env.act(&uk, "resume", json!({})).await, 409, "not_paused");

    // Monday 5 January, noon: waiting for proof of identity.
    app.clock.set(START + 4 * DAY + 12 * HOUR);
    let p = env
        .act(&uk, "pause", json!({ "pause_reason": "awaiting_identity" }))
        .await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.body["pause_reason"], "awaiting_identity");
    assert_eq!(p.body["paused_since"], "2026-01-05T12:00:00Z");
    assert_problem(
        &env.act(
            &uk,
            "pause",
            json!({ "pause_reason": "awaiting_clarification" }),
        )
        .await,
        409,
        "already_paused",
    );
    // Two days later, still waiting: the last day (Sunday 1 February) has moved by two days
    // so far, to Tuesday 3 February.
    app.clock.set(START + 6 * DAY + 18 * HOUR);
    assert_eq!(env.admin(&uk).await["answer_due_date"], "2026-02-03");
    // Resumed on Thursday 8 January at 09:00: three whole days, 1 + 3 = Wednesday 4 February.
    app.clock.set(START + 7 * DAY + 9 * HOUR);
    let r = env.act(&uk, "resume", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["answer_due_date"], "2026-02-04");
    assert_eq!(r.body["answer_due"], "2026-02-04T23:59:59.999999Z");
    assert_eq!(r.body["paused_since"], Value::Null);
    // A pause begun and ended the same day moves nothing.
    app.clock.advance(HOUR);
    env.act(
        &uk,
        "pause",
        json!({ "pause_reason": "awaiting_clarification" }),
    )
    .await;
    app.clock.advance(HOUR);
    let r = env.act(&uk, "resume", json!({})).await;
    assert_eq!(r.body["answer_due_date"], "2026-02-04");
    let actions: Vec<&str> = r.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["receive", "verify", "pause", "resume", "pause", "resume"]
    );

    // EU GDPR does not stop the clock: the DPO is told so, and nothing changes.
    let eu = received(&env, "eu@example.com", json!({ "country": "DE" })).await;
    assert_problem(
        &env.act(&eu, "pause", json!({ "pause_reason": "awaiting_identity" }))
            .await,
        409,
        "clock_does_not_stop",
    );
}

#[tokio::test]
async fn extensions_count_from_receipt_are_told_in_the_requesters_language_and_come_in_time() {
    let env = Env::new().await;
    let app = &env.app;
    app.clock.set(START + 10 * HOUR);
    let de = received(
        &env,
        "de@example.com",
        json!({ "country": "DE", "language": "de" }),
    )
    .await;
    // Counted in Dublin: 1 February is a Sunday and Monday 2 February St Brigid's Day.
    assert_eq!(env.admin(&de).await["answer_due_date"], "2026-02-03");
    assert_problem(
        &env.act(&de, "extend", json!({})).await,
        422,
        "missing_field",
    );
    assert_problem(
        &env.act(&de, "extend", json!({ "reason": "x", "days": 10 }))
            .await,
        422,
        "invalid_extension",
    );
    // The two further months: three months from receipt, 1 April.
    let e = env
        .act(
            &de,
            "extend",
            json!({ "reason": "Drei Archive sind zu prüfen." }),
        )
        .await;
    assert_eq!(e.status, 200, "{}", e.text);
    assert_eq!(e.body["answer_due_date"], "2026-04-01");
    assert_eq!(e.body["extended_months"], 2);
    let mail = env.mail_to_with("de@example.com", "Drei Archive").await;
    assert!(mail.contains("Fristverlängerung"), "{mail}");
    assert!(mail.contains("2026-04-01 (Europe/Dublin)"), "{mail}");

    // CCPA: in days, at most 45 more; 10 now, the rest later.
    let us = received(&env, "us@example.com", json!({ "country": "US" })).await;
    let e = env
        .act(&us, "extend", json!({ "reason": "Backups", "days": 10 }))
        .await;
    assert_eq!(e.status, 200, "{}", e.text);
    assert_eq!(e.body["extended_days"], 10);
    assert_problem(
        &env.act(&us, "extend", json!({ "reason": "More", "days": 36 }))
            .await,
        422,
        "invalid_extension",
    );

    // After the first period has run out, an extension is refused.
    let late = received(&env, "late@example.com", json!({ "country": "GB" })).await;
    app.clock.set(micros("2026-02-03T00:00:00Z"));
    let a = env
        .act(&late, "extend", json!({ "reason": "Too late" }))
        .await;
    assert_problem(&a, 422, "extension_too_late");
    assert!(a.text.contains("2026-02-02"), "{}", a.text);
}
