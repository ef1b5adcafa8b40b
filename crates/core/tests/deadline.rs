//! Request deadlines with the example policy's Europe/London calendar: weekends, bank
//! holidays, daylight-saving changes, month ends, CCPA's business days and UK GDPR's
//! stop-the-clock, plus properties of the business-hours clock.

use custodian_core::deadline::{
    due, rule_for, urgency, Acknowledge, BusinessCalendar, Due, Pause, Rule, Urgency,
};
use std::sync::LazyLock;

use jiff::{SignedDuration, Span, Timestamp, Zoned};
use proptest::prelude::*;

/// Parsed once: the property tests ask for it thousands of times.
static POLICY: LazyLock<custodian_policy::Policy> = LazyLock::new(custodian_policy::example);

fn cal() -> BusinessCalendar {
    BusinessCalendar::from_policy(&POLICY.calendar).expect("example calendar")
}

fn rule(country: &str) -> Rule {
    rule_for(&POLICY, Some(country))
}

/// A London wall-clock time, `YYYY-MM-DDTHH:MM[:SS[.f]]`.
fn london(s: &str) -> Timestamp {
    format!("{s}[Europe/London]")
        .parse::<Zoned>()
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .timestamp()
}

fn end_of(day: &str) -> Timestamp {
    london(&format!("{day}T23:59:59.999999"))
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

fn due_simple(received: Timestamp, rule: &Rule) -> Due {
    due(received, rule, &cal(), &[], None, received)
}

// ── Rules ────────────────────────────────────────────────────────────────────────────────

#[test]
fn countries_pick_their_jurisdiction() {
    let gdpr = rule("de");
    assert_eq!(gdpr.jurisdiction, "gdpr");
    assert_eq!(gdpr.acknowledge, Acknowledge::BusinessHours(72));
    assert_eq!(gdpr.answer_within.fieldwise(), Span::new().months(1));
    assert_eq!(gdpr.extension_max.fieldwise(), Span::new().months(2));
    assert!(!gdpr.stop_clock_for_identity);

    let uk = rule("GB");
    assert_eq!(uk.jurisdiction, "uk_gdpr");
    assert!(uk.stop_clock_for_identity);

    let ccpa = rule("US");
    assert_eq!(ccpa.jurisdiction, "ccpa");
    assert_eq!(ccpa.acknowledge, Acknowledge::BusinessDays(10));
    assert_eq!(ccpa.answer_within.fieldwise(), Span::new().days(45));
    assert_eq!(ccpa.extension_max.fieldwise(), Span::new().days(45));

    let policy = custodian_policy::example();
    for other in [rule_for(&policy, Some("JP")), rule_for(&policy, None)] {
        assert_eq!(other.jurisdiction, "default");
        assert_eq!(other.acknowledge, Acknowledge::BusinessHours(72));
        assert_eq!(other.answer_within.fieldwise(), Span::new().months(1));
        assert!(!other.stop_clock_for_identity);
    }
}

#[test]
fn serialises_for_the_api() {
    let json = serde_json::to_value(rule("US")).unwrap();
    assert_eq!(json["jurisdiction"], "ccpa");
    assert_eq!(
        json["acknowledge"],
        serde_json::json!({"business_days": 10})
    );
    assert_eq!(json["answer_within"], "P45D");
    assert_eq!(
        serde_json::to_value(Urgency::DueSoon).unwrap(),
        serde_json::json!("due_soon")
    );
}

// ── The business-hours clock ─────────────────────────────────────────────────────────────

#[test]
fn a_request_on_friday_evening_starts_counting_on_monday() {
    let cal = cal();
    let friday = london("2026-03-06T18:00");
    assert_eq!(
        cal.add_business_hours(friday, 1),
        london("2026-03-09T10:00")
    );
    // 72 hours = 8 days of 8.5 hours (Mon 9 – Wed 18 March) and 4 more on Thursday.
    assert_eq!(
        cal.add_business_hours(friday, 72),
        london("2026-03-19T13:00")
    );
    assert_eq!(
        due_simple(friday, &rule("DE")).acknowledge_by,
        london("2026-03-19T13:00")
    );
}

#[test]
fn christmas_and_new_year_do_not_count() {
    let cal = cal();
    let received = london("2026-12-24T16:00");
    // 1.5 hours on Christmas Eve; 25 Dec, the weekend and 28 Dec are skipped.
    assert_eq!(
        cal.add_business_hours(received, 1),
        london("2026-12-24T17:00")
    );
    assert_eq!(
        cal.add_business_hours(received, 2),
        london("2026-12-29T09:30")
    );
    // 29–31 Dec (25.5 h), 1 Jan skipped, 4–8 Jan (42.5 h), then 2.5 h on Monday 11 Jan.
    assert_eq!(
        cal.add_business_hours(received, 72),
        london("2027-01-11T11:30")
    );
    assert_eq!(
        cal.business_time_between(received, london("2027-01-11T11:30")),
        hours(72)
    );
}

#[test]
fn closing_time_is_a_deadline_not_the_next_morning() {
    let cal = cal();
    let monday = london("2026-03-02T09:00");
    let friday_close = london("2026-03-06T17:30");
    assert_eq!(
        cal.add_business_time(monday, hours(34) + hours(8) + SignedDuration::from_mins(30)),
        friday_close
    );
    assert!(!cal.is_open(friday_close));
    // Carrying on from closing time continues on Monday.
    assert_eq!(
        cal.add_business_hours(friday_close, 1),
        london("2026-03-09T10:00")
    );
}

#[test]
fn daylight_saving_changes_keep_wall_clock_hours() {
    let cal = cal();
    // Spring forward on Sunday 29 March 2026.
    let friday = london("2026-03-27T17:00");
    assert_eq!(
        cal.add_business_hours(friday, 1),
        london("2026-03-30T09:30")
    );
    assert_eq!(
        london("2026-03-30T09:30").to_string(),
        "2026-03-30T08:30:00Z"
    );
    assert_eq!(
        cal.business_time_between(london("2026-03-27T09:00"), london("2026-03-30T17:30")),
        hours(17)
    );
    // Fall back on Sunday 25 October 2026.
    let friday = london("2026-10-23T17:00");
    assert_eq!(
        cal.add_business_hours(friday, 1),
        london("2026-10-26T09:30")
    );
    assert_eq!(
        london("2026-10-26T09:30").to_string(),
        "2026-10-26T09:30:00Z"
    );
}

#[test]
fn open_hours_across_a_clock_change_count_by_the_wall_clock() {
    // A Sunday shift 00:30–09:00 spans the 01:00 spring-forward gap: 8.5 wall-clock hours,
    // though only 7.5 hours pass.
    let mut c = custodian_policy::example().calendar;
    c.working_days = vec!["sunday".into()];
    c.opens = "00:30".into();
    c.closes = "09:00".into();
    let cal = BusinessCalendar::from_policy(&c).unwrap();
    let (open, close) = (london("2026-03-29T00:30"), london("2026-03-29T09:00"));
    assert_eq!(close.duration_since(open), SignedDuration::from_mins(450));
    assert_eq!(
        cal.business_time_between(open, close),
        SignedDuration::from_mins(510)
    );
    assert_eq!(
        cal.add_business_time(open, SignedDuration::from_mins(510)),
        close
    );
}

// ── Answer deadlines ─────────────────────────────────────────────────────────────────────

#[test]
fn one_month_ends_on_the_same_day_number_or_the_month_end() {
    let gdpr = rule("FR");
    for (received, answer) in [
        ("2026-01-31T10:00", "2026-02-28"),
        ("2028-01-31T10:00", "2028-02-29"),
        ("2026-03-31T10:00", "2026-04-30"),
        ("2026-09-03T10:00", "2026-10-03"),
        ("2026-12-31T23:30", "2027-01-31"),
    ] {
        assert_eq!(
            due_simple(london(received), &gdpr).answer_by,
            end_of(answer),
            "{received}"
        );
    }
    // 30 April is in summer time: the end of the day is 22:59:59.999999 UTC.
    assert_eq!(
        due_simple(london("2026-03-31T10:00"), &gdpr)
            .answer_by
            .to_string(),
        "2026-04-30T22:59:59.999999Z"
    );
}

#[test]
fn a_deadline_on_a_weekend_stays_there() {
    // 28 February 2026 is a Saturday; GDPR does not move it to Monday.
    let d = due_simple(london("2026-01-31T10:00"), &rule("IE"));
    assert_eq!(d.answer_by, end_of("2026-02-28"));
    assert!(!cal().is_business_day(jiff::civil::date(2026, 2, 28)));
}

#[test]
fn extensions_count_months_from_the_answer_day_and_are_clamped() {
    let gdpr = rule("NL");
    let cal = cal();
    let received = london("2026-01-31T10:00");
    let with = |ext: Span| due(received, &gdpr, &cal, &[], Some(&ext), received);
    assert_eq!(with(Span::new().months(1)).answer_by, end_of("2026-03-28"));
    assert_eq!(with(Span::new().months(2)).answer_by, end_of("2026-04-28"));
    assert_eq!(
        with(Span::new().months(5)).answer_by,
        end_of("2026-04-28"),
        "clamped"
    );
    assert_eq!(
        with(Span::new().months(1)).latest_extended,
        end_of("2026-04-28")
    );
    assert_eq!(
        due_simple(received, &gdpr).latest_extended,
        end_of("2026-04-28")
    );
}

#[test]
fn ccpa_counts_ten_business_days_and_forty_five_days() {
    let ccpa = rule("US");
    // Received during Monday: Tuesday is the first full business day.
    let d = due_simple(london("2026-03-02T10:00"), &ccpa);
    assert_eq!(d.acknowledge_by, london("2026-03-16T17:30"));
    assert_eq!(d.answer_by, end_of("2026-04-16"));
    assert_eq!(d.latest_extended, end_of("2026-05-31"));
    // Received before Monday opens: Monday counts.
    let early = due_simple(london("2026-03-02T08:00"), &ccpa);
    assert_eq!(early.acknowledge_by, london("2026-03-13T17:30"));
    // Over Easter (3 and 6 April 2026): 10 days run from 1 April to 16 April.
    let easter = due_simple(london("2026-03-31T12:00"), &ccpa);
    assert_eq!(easter.acknowledge_by, london("2026-04-16T17:30"));
}

// ── Stop-the-clock ───────────────────────────────────────────────────────────────────────

#[test]
fn uk_gdpr_stops_the_clock_while_waiting_for_identity() {
    let uk = rule("GB");
    assert!(uk.stop_clock_for_identity);
    let cal = cal();
    let received = london("2026-03-02T10:00");
    let asked = london("2026-03-02T12:00");
    let proved = london("2026-03-09T12:00");
    let later = london("2026-03-20T12:00");

    let plain = due(received, &uk, &cal, &[], None, later);
    assert_eq!(plain.acknowledge_by, london("2026-03-12T14:00"));
    assert_eq!(plain.answer_by, end_of("2026-04-02"));

    let closed = [Pause {
        from: asked,
        to: Some(proved),
    }];
    let paused = due(received, &uk, &cal, &closed, None, later);
    // Seven days stopped: the answer moves by exactly seven days.
    assert_eq!(paused.answer_by, end_of("2026-04-09"));
    assert_eq!(paused.latest_extended, end_of("2026-06-09"));
    // 42.5 business hours stopped: 72 + 42.5 from receipt.
    assert_eq!(paused.acknowledge_by, london("2026-03-19T14:00"));

    // Still waiting: the pause counts until now.
    let open = [Pause {
        from: asked,
        to: None,
    }];
    assert_eq!(due(received, &uk, &cal, &open, None, proved), paused);
}

#[test]
fn overlapping_pauses_count_once() {
    let uk = rule("GB");
    let cal = cal();
    let received = london("2026-03-02T10:00");
    let a = Pause {
        from: london("2026-03-02T12:00"),
        to: Some(london("2026-03-06T12:00")),
    };
    let b = Pause {
        from: london("2026-03-04T12:00"),
        to: Some(london("2026-03-09T12:00")),
    };
    let whole = Pause {
        from: a.from,
        to: b.to,
    };
    let now = london("2026-03-20T12:00");
    assert_eq!(
        due(received, &uk, &cal, &[a, b], None, now),
        due(received, &uk, &cal, &[whole], None, now)
    );
}

// ── Urgency ──────────────────────────────────────────────────────────────────────────────

#[test]
fn due_soon_within_one_business_day() {
    let cal = cal();
    let sunday = end_of("2026-03-08");
    // Friday 10:00: 7.5 business hours left.
    assert_eq!(
        urgency(london("2026-03-06T10:00"), sunday, &cal),
        Urgency::DueSoon
    );
    // Thursday 10:00: 16 business hours left.
    assert_eq!(
        urgency(london("2026-03-05T10:00"), sunday, &cal),
        Urgency::OnTime
    );
    assert_eq!(urgency(sunday, sunday, &cal), Urgency::DueSoon);
    assert_eq!(
        urgency(london("2026-03-09T00:00"), sunday, &cal),
        Urgency::Overdue
    );
}

// ── Properties ───────────────────────────────────────────────────────────────────────────

/// Any instant from 2026 to 2027, which the example's holidays cover.
fn instant() -> impl Strategy<Value = Timestamp> {
    let from = london("2026-01-01T00:00").as_second();
    let to = london("2028-01-01T00:00").as_second();
    (from..to, 0..1_000_000i32).prop_map(|(s, us)| Timestamp::new(s, us * 1000).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn deadlines_fall_in_open_hours_or_at_closing(t in instant(), h in 1u32..400) {
        let cal = cal();
        let d = cal.add_business_hours(t, h);
        let local = cal.time_zone().to_datetime(d);
        prop_assert!(
            cal.is_open(d)
                || (cal.is_business_day(local.date()) && local.time() == jiff::civil::time(17, 30, 0, 0)),
            "{t} + {h}h = {local}"
        );
    }

    #[test]
    fn adding_is_monotonic(a in instant(), b in instant(), h in 0u32..200, k in 0u32..200) {
        let cal = cal();
        let (early, late) = (a.min(b), a.max(b));
        prop_assert!(cal.add_business_hours(early, h) <= cal.add_business_hours(late, h));
        prop_assert!(cal.add_business_hours(a, h.min(k)) <= cal.add_business_hours(a, h.max(k)));
    }

    #[test]
    fn adding_composes(t in instant(), a in 0u32..200, b in 0u32..200) {
        let cal = cal();
        prop_assert_eq!(
            cal.add_business_hours(cal.add_business_hours(t, a), b),
            cal.add_business_hours(t, a + b)
        );
    }

    #[test]
    fn between_measures_what_was_added(t in instant(), h in 0u32..400) {
        let cal = cal();
        let d = cal.add_business_hours(t, h);
        prop_assert_eq!(cal.business_time_between(t, d), hours(h.into()));
        prop_assert_eq!(cal.business_time_between(d, t), -hours(h.into()));
    }

    #[test]
    fn pausing_shifts_by_exactly_the_paused_time(
        received in instant(),
        start_after in 0i64..(20 * 86_400),
        length in 0i64..(20 * 86_400),
    ) {
        let cal = cal();
        let uk = rule("GB");
        let from = received.checked_add(SignedDuration::from_secs(start_after)).unwrap();
        let to = from.checked_add(SignedDuration::from_secs(length)).unwrap();
        let now = to.checked_add(hours(1)).unwrap();
        let plain = due(received, &uk, &cal, &[], None, now);
        let paused = due(received, &uk, &cal, &[Pause { from, to: Some(to) }], None, now);
        prop_assert_eq!(
            cal.business_time_between(received, paused.acknowledge_by),
            hours(72) + cal.business_time_between(from, to)
        );
        prop_assert_eq!(paused.answer_by.duration_since(plain.answer_by), to.duration_since(from));
        prop_assert_eq!(
            paused.latest_extended.duration_since(plain.latest_extended),
            to.duration_since(from)
        );
    }
}
