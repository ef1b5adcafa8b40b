//! Request deadlines with the example policy's calendars — London (England and Wales bank
//! holidays) for UK GDPR, Dublin (Irish public holidays) for GDPR, Los Angeles (California's
//! judicial holidays) for CCPA — case by case as docs/deadlines.md lists them: month ends, leap
//! years, weekends and holidays rolled forward, business days and hours, elapsed hours,
//! daylight-saving changes, a request at 23:30 local time, extensions from receipt and
//! stop-the-clock pauses; then properties: no rolled deadline lands on a non-working day, no
//! pause makes a deadline earlier, and the business-hours clock adds up.

use custodian_core::deadline::{
    due, paused_days, rule_by_id, rule_for, urgency, Acknowledge, BusinessCalendar, Calendars, Due,
    Pause, Rule, Urgency,
};
use std::sync::LazyLock;

use jiff::{SignedDuration, Span, Timestamp, Zoned};
use proptest::prelude::*;

/// Parsed once: the property tests ask for them thousands of times.
static POLICY: LazyLock<custodian_policy::Policy> = LazyLock::new(custodian_policy::example);
static CALENDARS: LazyLock<Calendars> =
    LazyLock::new(|| Calendars::from_policy(&POLICY).expect("example calendars"));

fn rule(id: &str) -> Rule {
    rule_by_id(&POLICY, id).unwrap_or_else(|| panic!("no jurisdiction {id}"))
}

fn cal(id: &str) -> &'static BusinessCalendar {
    CALENDARS.get(id)
}

fn zone(jurisdiction: &str) -> &'static str {
    match jurisdiction {
        "gdpr" => "Europe/Dublin",
        "ccpa" => "America/Los_Angeles",
        _ => "Europe/London",
    }
}

/// A wall-clock time in `tz`, `YYYY-MM-DDTHH:MM[:SS[.f]]`.
fn at(tz: &str, s: &str) -> Timestamp {
    format!("{s}[{tz}]")
        .parse::<Zoned>()
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .timestamp()
}

fn london(s: &str) -> Timestamp {
    at("Europe/London", s)
}

/// The deadlines of a request received at local time `received` of the jurisdiction's zone.
fn due_of(j: &str, received: &str, pauses: &[Pause], extension: Option<Span>) -> Due {
    let r = rule(j);
    let t = at(zone(j), received);
    let now = t.checked_add(SignedDuration::from_hours(24 * 365)).unwrap();
    due(t, &r, cal(&r.calendar), pauses, extension.as_ref(), now)
}

fn answer(j: &str, received: &str) -> String {
    due_of(j, received, &[], None).answer_due_date.to_string()
}

fn end_of(tz: &str, day: &str) -> Timestamp {
    at(tz, &format!("{day}T23:59:59.999999"))
}

// ── Rules ────────────────────────────────────────────────────────────────────────────────

#[test]
fn countries_pick_their_jurisdiction_and_its_calendar() {
    let gdpr = rule_for(&POLICY, Some("de"));
    assert_eq!(gdpr.jurisdiction, "gdpr");
    assert_eq!(gdpr.calendar, "dublin");
    assert!(gdpr.roll_forward);
    assert_eq!(gdpr.acknowledge, Acknowledge::BusinessHours(72));
    assert_eq!(gdpr.answer_within.fieldwise(), Span::new().months(1));
    assert_eq!(gdpr.extension_max.fieldwise(), Span::new().months(2));
    assert!(!gdpr.stop_clock_for_identity && !gdpr.stop_clock_for_clarification);

    let uk = rule_for(&POLICY, Some("GB"));
    assert_eq!(
        (uk.jurisdiction.as_str(), uk.calendar.as_str()),
        ("uk_gdpr", "london")
    );
    assert!(uk.stop_clock_for_identity && uk.stop_clock_for_clarification);

    let ccpa = rule_for(&POLICY, Some("US"));
    assert_eq!(
        (ccpa.jurisdiction.as_str(), ccpa.calendar.as_str()),
        ("ccpa", "california")
    );
    assert_eq!(ccpa.acknowledge, Acknowledge::BusinessDays(10));
    assert_eq!(ccpa.answer_within.fieldwise(), Span::new().days(45));
    assert_eq!(ccpa.extension_max.fieldwise(), Span::new().days(45));
    assert_eq!(
        cal("california").time_zone().iana_name(),
        Some("America/Los_Angeles")
    );

    for other in [rule_for(&POLICY, Some("JP")), rule_for(&POLICY, None)] {
        assert_eq!(other.jurisdiction, "default");
        assert_eq!(other.calendar, "london");
        assert!(!other.roll_forward, "the example's defaults do not roll");
    }
    assert_eq!(
        rule_by_id(&POLICY, "default").unwrap().jurisdiction,
        "default"
    );
    assert!(rule_by_id(&POLICY, "nowhere").is_none());
}

#[test]
fn serialises_for_the_api_and_the_command_line() {
    let json = serde_json::to_value(rule("ccpa")).unwrap();
    assert_eq!(json["jurisdiction"], "ccpa");
    assert_eq!(json["calendar"], "california");
    assert_eq!(
        json["acknowledge"],
        serde_json::json!({"business_days": 10})
    );
    assert_eq!(json["answer_within"], "P45D");
    let d = serde_json::to_value(due_of("uk_gdpr", "2026-03-02T10:00", &[], None)).unwrap();
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "acknowledge_due",
            "acknowledge_due_date",
            "answer_due",
            "answer_due_date",
            "jurisdiction",
            "latest_answer_due_date",
            "received_date",
        ],
        "exactly these, nothing else"
    );
    assert_eq!(d["answer_due"], "2026-04-02T22:59:59.999999Z");
    assert_eq!(d["answer_due_date"], "2026-04-02");
    assert_eq!(
        serde_json::to_value(Urgency::DueSoon).unwrap(),
        serde_json::json!("due_soon")
    );
}

// ── Months, month ends, leap years (Regulation 1182/71 Art. 3(2)(c)) ──────────────────────

#[test]
fn one_month_ends_on_the_same_date_or_the_month_end() {
    // Ireland: 30 April 2026 a Thursday, 29 February 2028 a Tuesday.
    assert_eq!(answer("gdpr", "2026-03-31T10:00"), "2026-04-30");
    assert_eq!(answer("gdpr", "2028-01-31T10:00"), "2028-02-29");
    assert_eq!(answer("gdpr", "2027-03-15T10:00"), "2027-04-15");
    // The end of the local day: 30 April is in summer time in Dublin.
    assert_eq!(
        due_of("gdpr", "2026-03-31T10:00", &[], None)
            .answer_due
            .to_string(),
        "2026-04-30T22:59:59.999999Z"
    );
}

// ── Rolling forward (Art. 3(4); ICO; Cal. Code Civ. Proc. §12a) ───────────────────────────

#[test]
fn a_last_day_on_a_weekend_moves_to_the_next_working_day() {
    // 3 October 2026 is a Saturday: Monday 5 October.
    assert_eq!(answer("gdpr", "2026-09-03T10:00"), "2026-10-05");
    // 28 February 2026 (from 31 January) is a Saturday: Monday 2 March.
    assert_eq!(answer("gdpr", "2026-01-31T10:00"), "2026-03-02");
    assert_eq!(answer("uk_gdpr", "2026-01-31T10:00"), "2026-03-02");
    // The default rules of the example do not roll.
    assert_eq!(answer("default", "2026-01-31T10:00"), "2026-02-28");
}

#[test]
fn a_last_day_on_a_holiday_moves_past_it() {
    // Ireland: St Patrick's Day, Tuesday 17 March 2026.
    assert_eq!(answer("gdpr", "2026-02-17T10:00"), "2026-03-18");
    // Ireland moves no holiday: Christmas on Friday, St Stephen's on Saturday, Monday works.
    assert_eq!(answer("gdpr", "2026-11-25T10:00"), "2026-12-28");
    // England: Good Friday 3 April 2026, the weekend, Easter Monday 6 April.
    assert_eq!(answer("uk_gdpr", "2026-03-03T10:00"), "2026-04-07");
    // England: 27 and 28 December 2027 are the substitute days of a weekend Christmas.
    assert_eq!(answer("uk_gdpr", "2027-11-27T10:00"), "2027-12-29");
    // California: 45 days from 12 October 2026 is Thanksgiving; the day after, the weekend.
    assert_eq!(answer("ccpa", "2026-10-12T10:00"), "2026-11-30");
    // California: 31 March 2026, Cesar Chavez Day.
    assert_eq!(answer("ccpa", "2026-02-14T10:00"), "2026-04-01");
    // Ireland: St Patrick's Day on Sunday 17 March 2024 rolls to Monday 18 March, which is a
    // working day (Ireland gives no substitute public holiday; holidays.rs cites why).
    assert_eq!(answer("gdpr", "2024-02-17T10:00"), "2024-03-18");
    // Ireland: Christmas on Sunday 2022, St Stephen's Monday; Tuesday 27 December works.
    assert_eq!(answer("gdpr", "2022-11-25T10:00"), "2022-12-27");
    // California: 45 days from 16 November 2027 is Friday 31 December, when the courts observe
    // New Year's Day 2028 (a Saturday; Cal. Rules of Court, rule 1.11): Monday 3 January.
    assert_eq!(answer("ccpa", "2027-11-16T10:00"), "2028-01-03");
    // California: Veterans Day 2028 is a Saturday, observed Friday 10 November.
    assert_eq!(answer("ccpa", "2028-09-26T10:00"), "2028-11-13");
}

// ── Days, the zone's local date, DST ───────────────────────────────────────────────────────

#[test]
fn days_count_from_the_local_date_of_receipt_in_the_jurisdictions_zone() {
    // 23:30 on Monday 2 March 2026 in Los Angeles is already Tuesday in London and in UTC;
    // the day of receipt is still 2 March, 45 days later is Thursday 16 April.
    let d = due_of("ccpa", "2026-03-02T23:30", &[], None);
    assert_eq!(d.received_date.to_string(), "2026-03-02");
    assert_eq!(d.answer_due_date.to_string(), "2026-04-16");
    assert_eq!(d.answer_due, end_of("America/Los_Angeles", "2026-04-16"));
    assert_eq!(d.answer_due.to_string(), "2026-04-17T06:59:59.999999Z");
    // 23:30 in Dublin on 31 May: still 31 May; 30 June.
    assert_eq!(answer("gdpr", "2026-05-31T23:30"), "2026-06-30");
}

#[test]
fn daylight_saving_changes_move_the_end_of_the_day_not_the_day() {
    // Received just before London springs forward (29 March 2026): due 29 April, in BST.
    let d = due_of("uk_gdpr", "2026-03-29T00:30", &[], None);
    assert_eq!(d.answer_due.to_string(), "2026-04-29T22:59:59.999999Z");
    // Received in the repeated hour of 25 October 2026: due 25 November, in GMT.
    let d = due_of("uk_gdpr", "2026-10-25T01:30", &[], None);
    assert_eq!(d.answer_due.to_string(), "2026-11-25T23:59:59.999999Z");
    // Los Angeles springs forward on 8 March 2026: 45 days from 1 March is 15 April, PDT.
    let d = due_of("ccpa", "2026-03-01T12:00", &[], None);
    assert_eq!(d.answer_due.to_string(), "2026-04-16T06:59:59.999999Z");
}

// ── Acknowledgement ──────────────────────────────────────────────────────────────────────

#[test]
fn ccpa_confirms_within_ten_california_business_days_after_receipt() {
    // Received Monday 30 March 2026: Cesar Chavez Day (31st) is skipped, Good Friday and
    // Easter Monday are working days in California: 1–3, 6–10, 13, 14 April.
    let d = due_of("ccpa", "2026-03-30T10:00", &[], None);
    assert_eq!(d.acknowledge_due_date.to_string(), "2026-04-14");
    assert_eq!(
        d.acknowledge_due,
        end_of("America/Los_Angeles", "2026-04-14")
    );
    // Thanksgiving and the day after do not count: from Monday 23 November, 9 December.
    assert_eq!(
        due_of("ccpa", "2026-11-23T08:00", &[], None)
            .acknowledge_due_date
            .to_string(),
        "2026-12-09"
    );
}

#[test]
fn business_hours_count_whole_hours_after_receipt() {
    // Friday 18:00: counting starts on Monday at 09:00; 72 hours of 8.5-hour days is eight
    // days and four hours: Thursday 19 March at 13:00.
    let d = due_of("uk_gdpr", "2026-03-06T18:00", &[], None);
    assert_eq!(d.acknowledge_due, london("2026-03-19T13:00"));
    // Monday 10:17: the hour of receipt does not count, counting starts at 11:00.
    let d = due_of("uk_gdpr", "2026-03-02T10:17", &[], None);
    assert_eq!(d.acknowledge_due, london("2026-03-12T15:00"));
}

#[test]
fn seventy_two_calendar_hours_are_elapsed_time() {
    let mut policy = custodian_policy::example();
    policy.deadlines.jurisdictions[1].acknowledge_business_days = None;
    policy.deadlines.jurisdictions[1].acknowledge_within = Some("PT72H".into());
    let uk = rule_for(&policy, Some("GB"));
    assert_eq!(uk.acknowledge, Acknowledge::Within(Span::new().hours(72)));
    // Saturday noon before the clocks change: 72 hours later is Tuesday 13:00 BST.
    let received = london("2026-03-28T12:00");
    let d = due(received, &uk, cal("london"), &[], None, received);
    assert_eq!(d.acknowledge_due, london("2026-03-31T13:00"));
    assert_eq!(
        d.acknowledge_due.duration_since(received),
        SignedDuration::from_hours(72)
    );
}

// ── Extensions ───────────────────────────────────────────────────────────────────────────

#[test]
fn extensions_count_from_receipt_and_are_clamped() {
    // 31 January + 3 months is 30 April (not 28 April, as counting from the answer day gave).
    let ext = |m: i64| Some(Span::new().months(m));
    assert_eq!(
        due_of("gdpr", "2026-01-31T10:00", &[], ext(2))
            .answer_due_date
            .to_string(),
        "2026-04-30"
    );
    assert_eq!(
        due_of("gdpr", "2026-01-31T10:00", &[], ext(1))
            .answer_due_date
            .to_string(),
        "2026-03-31"
    );
    let clamped = due_of("gdpr", "2026-01-31T10:00", &[], ext(5));
    assert_eq!(clamped.answer_due_date.to_string(), "2026-04-30", "clamped");
    assert_eq!(clamped.latest_answer_due, clamped.answer_due);
    // The first period still ends on the rolled first answer day.
    assert_eq!(
        clamped.first_period_due,
        end_of("Europe/Dublin", "2026-03-02")
    );
    // CCPA: 45 + 45 = 90 days from receipt; 31 May 2026 is a Sunday, so 1 June.
    let d = due_of("ccpa", "2026-03-02T10:00", &[], None);
    assert_eq!(d.latest_answer_due_date.to_string(), "2026-06-01");
    let d = due_of("ccpa", "2026-03-02T10:00", &[], Some(Span::new().days(10)));
    assert_eq!(d.answer_due_date.to_string(), "2026-04-27");
}

// ── Stop-the-clock ───────────────────────────────────────────────────────────────────────

#[test]
fn a_pause_moves_the_due_day_by_whole_local_days() {
    let received = "2026-03-02T10:00";
    let plain = due_of("uk_gdpr", received, &[], None);
    assert_eq!(plain.answer_due_date.to_string(), "2026-04-02");
    let pause = |a: &str, b: &str| Pause::closed(london(a), london(b)).unwrap();

    // A week waiting for identity: 9 April.
    let week = due_of(
        "uk_gdpr",
        received,
        &[pause("2026-03-02T12:00", "2026-03-09T12:00")],
        None,
    );
    assert_eq!(week.answer_due_date.to_string(), "2026-04-09");
    assert_eq!(week.answer_due, end_of("Europe/London", "2026-04-09"));
    assert_eq!(week.latest_answer_due_date.to_string(), "2026-06-09");
    // The acknowledgement of receipt does not wait.
    assert_eq!(week.acknowledge_due, plain.acknowledge_due);

    // Twelve seconds on one day move nothing (they once made it 00:00:12 the next day).
    let short = due_of(
        "uk_gdpr",
        received,
        &[pause("2026-03-02T12:00:00", "2026-03-02T12:00:12")],
        None,
    );
    assert_eq!(short, plain);
    // Ten minutes across midnight is a day: 3 April, Good Friday, rolled to Tuesday 7 April.
    let midnight = due_of(
        "uk_gdpr",
        received,
        &[pause("2026-03-02T23:55", "2026-03-03T00:05")],
        None,
    );
    assert_eq!(midnight.answer_due_date.to_string(), "2026-04-07");
    assert_eq!(
        paused_days(
            cal("london"),
            london("2026-03-02T23:55"),
            london("2026-03-03T00:05")
        ),
        1
    );
}

#[test]
fn a_paused_due_day_is_rolled_after_it_moves() {
    // 27 February + 1 month = Friday 27 March; a week's pause: Good Friday 3 April, the
    // weekend and Easter Monday: Tuesday 7 April.
    let d = due_of(
        "uk_gdpr",
        "2026-02-27T10:00",
        &[Pause::closed(london("2026-03-02T09:00"), london("2026-03-09T09:00")).unwrap()],
        None,
    );
    assert_eq!(d.answer_due_date.to_string(), "2026-04-07");
}

#[test]
fn an_open_pause_counts_until_now_and_overlaps_count_once() {
    let uk = rule("uk_gdpr");
    let cal = cal("london");
    let received = london("2026-03-02T10:00");
    let open = [Pause {
        from: london("2026-03-02T12:00"),
        to: None,
    }];
    let closed = [Pause::closed(london("2026-03-02T12:00"), london("2026-03-09T12:00")).unwrap()];
    let now = london("2026-03-09T12:00");
    assert_eq!(
        due(received, &uk, cal, &open, None, now),
        due(received, &uk, cal, &closed, None, now)
    );
    let a = Pause::closed(london("2026-03-02T12:00"), london("2026-03-06T12:00")).unwrap();
    let b = Pause::closed(london("2026-03-04T12:00"), london("2026-03-09T12:00")).unwrap();
    let later = london("2026-03-20T12:00");
    assert_eq!(
        due(received, &uk, cal, &[a, b], None, later),
        due(received, &uk, cal, &closed, None, later)
    );
}

// ── Urgency ──────────────────────────────────────────────────────────────────────────────

#[test]
fn due_soon_within_one_business_day() {
    let cal = cal("london");
    let sunday = end_of("Europe/London", "2026-03-08");
    assert_eq!(
        urgency(london("2026-03-06T10:00"), sunday, cal),
        Urgency::DueSoon
    );
    assert_eq!(
        urgency(london("2026-03-05T10:00"), sunday, cal),
        Urgency::OnTime
    );
    assert_eq!(urgency(sunday, sunday, cal), Urgency::DueSoon);
    assert_eq!(
        urgency(london("2026-03-09T00:00"), sunday, cal),
        Urgency::Overdue
    );
}

// ── The business-hours clock ─────────────────────────────────────────────────────────────

#[test]
fn christmas_and_new_year_do_not_count() {
    let cal = cal("london");
    let received = london("2026-12-24T16:00");
    assert_eq!(
        cal.add_business_hours(received, 2),
        london("2026-12-29T09:30")
    );
    assert_eq!(
        cal.add_business_hours(received, 72),
        london("2027-01-11T11:30")
    );
}

#[test]
fn daylight_saving_changes_keep_wall_clock_hours() {
    let cal = cal("london");
    let friday = london("2026-03-27T17:00");
    assert_eq!(
        cal.add_business_hours(friday, 1),
        london("2026-03-30T09:30")
    );
    assert_eq!(
        cal.business_time_between(london("2026-03-27T09:00"), london("2026-03-30T17:30")),
        SignedDuration::from_hours(17)
    );
}

// ── Properties ───────────────────────────────────────────────────────────────────────────

/// Any instant from 2025 to 2035: the holiday rules have no end year.
fn instant() -> impl Strategy<Value = Timestamp> {
    let from = london("2025-01-01T00:00").as_second();
    let to = london("2035-01-01T00:00").as_second();
    (from..to, 0..1_000_000i32).prop_map(|(s, us)| Timestamp::new(s, us * 1000).unwrap())
}

fn jurisdiction() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("gdpr"), Just("uk_gdpr"), Just("ccpa")]
}

fn pause_after(received: Timestamp, start: i64, length: i64) -> Pause {
    let from = received
        .checked_add(SignedDuration::from_secs(start))
        .unwrap();
    Pause::closed(
        from,
        from.checked_add(SignedDuration::from_secs(length)).unwrap(),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rolled_deadlines_land_on_working_days_at_the_end_of_the_day(
        j in jurisdiction(),
        received in instant(),
        ext in 0i64..3,
        start in 0i64..(40 * 86_400),
        length in 0i64..(40 * 86_400),
    ) {
        let r = rule(j);
        let cal = cal(&r.calendar);
        let extension = match j {
            "ccpa" => Span::new().days(ext * 20),
            _ => Span::new().months(ext),
        };
        let pauses = [pause_after(received, start, length)];
        let now = received.checked_add(SignedDuration::from_hours(24 * 200)).unwrap();
        let d = due(received, &r, cal, &pauses, Some(&extension), now);
        for (instant, date) in [
            (d.answer_due, d.answer_due_date),
            (d.latest_answer_due, d.latest_answer_due_date),
            (d.first_period_due, cal.local_date(d.first_period_due)),
        ] {
            prop_assert!(cal.is_business_day(date), "{j} {received}: {date} is not a working day");
            prop_assert_eq!(instant, cal.end_of_day(date));
        }
        prop_assert!(d.first_period_due <= d.answer_due && d.answer_due <= d.latest_answer_due);
        if j == "ccpa" {
            prop_assert!(cal.is_business_day(d.acknowledge_due_date));
        }
    }

    #[test]
    fn no_pause_makes_a_deadline_earlier(
        j in jurisdiction(),
        received in instant(),
        start in 0i64..(60 * 86_400),
        length in 0i64..(30 * 86_400),
        start2 in 0i64..(60 * 86_400),
        length2 in 0i64..(30 * 86_400),
    ) {
        let r = rule(j);
        let cal = cal(&r.calendar);
        let now = received.checked_add(SignedDuration::from_hours(24 * 120)).unwrap();
        let one = [pause_after(received, start, length)];
        let two = [one[0], pause_after(received, start2, length2)];
        let plain = due(received, &r, cal, &[], None, now);
        let paused = due(received, &r, cal, &one, None, now);
        let more = due(received, &r, cal, &two, None, now);
        for (a, b) in [(&plain, &paused), (&paused, &more)] {
            prop_assert!(b.answer_due >= a.answer_due);
            prop_assert!(b.latest_answer_due >= a.latest_answer_due);
            prop_assert!(b.first_period_due >= a.first_period_due);
            prop_assert_eq!(b.acknowledge_due, a.acknowledge_due);
        }
    }

    #[test]
    fn a_later_receipt_is_never_due_earlier(j in jurisdiction(), a in instant(), b in instant()) {
        let r = rule(j);
        let cal = cal(&r.calendar);
        let (early, late) = (a.min(b), a.max(b));
        let (x, y) = (
            due(early, &r, cal, &[], None, early),
            due(late, &r, cal, &[], None, late),
        );
        prop_assert!(x.answer_due <= y.answer_due);
        prop_assert!(x.latest_answer_due <= y.latest_answer_due);
        prop_assert!(x.acknowledge_due <= y.acknowledge_due);
    }

    #[test]
    fn business_hours_fall_in_open_hours_or_at_closing(t in instant(), h in 1u32..400) {
        let cal = cal("london");
        let d = cal.add_business_hours(t, h);
        let local = cal.time_zone().to_datetime(d);
        prop_assert!(
            cal.is_open(d)
                || (cal.is_business_day(local.date()) && local.time() == jiff::civil::time(17, 30, 0, 0)),
            "{t} + {h}h = {local}"
        );
    }

    #[test]
    fn business_hours_add_up(t in instant(), a in 0u32..200, b in 0u32..200) {
        let cal = cal("london");
        prop_assert_eq!(
            cal.add_business_hours(cal.add_business_hours(t, a), b),
            cal.add_business_hours(t, a + b)
        );
        let d = cal.add_business_hours(t, a);
        prop_assert_eq!(cal.business_time_between(t, d), SignedDuration::from_hours(a.into()));
    }
}
