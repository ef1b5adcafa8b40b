//! Request deadlines: a business-hours clock for acknowledgements and a calendar clock for
//! answers, per jurisdiction, with stop-the-clock pauses.
//!
//! Two clocks run from the moment a request is received:
//!
//! - **Acknowledgement** counts *business time*: only the open hours of working days that are
//!   not holidays, in the policy calendar's time zone. A request received at 18:00 on a Friday
//!   starts counting at 09:00 on Monday; 72 business hours with 09:00–17:30 days is about eight
//!   and a half business days. Jurisdictions may instead count whole business days (CCPA: 10),
//!   which end at the close of the Nth business day whose open hours lie wholly after receipt.
//! - **Answer** counts *calendar* time in the calendar's time zone. "One month after receipt"
//!   ends at the end (23:59:59.999999 local) of the day with the same number in the next
//!   month, or of that month's last day when it has no such day: 31 January + one month is
//!   28 (or 29) February, as EU Regulation 1182/71 and the ICO's guidance read it. A deadline
//!   that falls on a weekend or holiday stays there; GDPR does not move it. Day spans (CCPA's
//!   45 days) end at the end of the day that many days after the day of receipt. A span with
//!   hours in it (`PT72H`) is added exactly instead.
//!
//! An **extension** granted so far is counted from the original answer day in the same way
//! (28 February + two months is the end of 28 April), clamped to the jurisdiction's maximum.
//!
//! **Pauses** (stop-the-clock, such as UK GDPR's wait for proof of identity) shift the answer
//! deadlines by their elapsed time and the acknowledgement by their business time. `due`
//! applies every pause it is given: whether waiting for identity pauses the clock is the
//! caller's question, answered by [`Rule::stop_clock_for_identity`]. Overlapping pauses count
//! once, a pause counts only from receipt and only until `now`, and an open pause counts
//! until `now`.
//!
//! Business hours are local wall-clock hours: a 09:00–17:30 day is 8.5 hours even on the days
//! the clocks change. A local time that does not exist (in a spring-forward gap) becomes a
//! timestamp by jiff's "compatible" rule, which moves it forward by the gap.
//!
//! Everything here is pure: no I/O and no system clock; `now` is always passed in.

use std::collections::BTreeSet;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};
use serde::Serialize;

/// Why a policy's calendar cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("unknown time zone `{0}`")]
    UnknownTimeZone(String),
    #[error("`{0}` is not a day of the week")]
    UnknownWeekday(String),
    #[error("no working day is listed")]
    NoWorkingDays,
    #[error("`{value}` in `{field}` is not a time of day (HH:MM)")]
    BadTime { field: &'static str, value: String },
    #[error("business hours close ({closes}) before they open ({opens})")]
    ClosesBeforeOpens { opens: String, closes: String },
    #[error("holiday `{0}` is not a date (YYYY-MM-DD)")]
    BadHoliday(String),
}

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The working week of a policy calendar, ready to count with.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz: TimeZone,
    /// Indexed by days from Monday.
    working: [bool; 7],
    opens: Time,
    closes: Time,
    holidays: BTreeSet<Date>,
}

impl BusinessCalendar {
    pub fn from_policy(c: &custodian_policy::Calendar) -> Result<Self, CalendarError> {
        let tz = TimeZone::get(&c.time_zone)
            .map_err(|_| CalendarError::UnknownTimeZone(c.time_zone.clone()))?;
        let mut working = [false; 7];
        for day in &c.working_days {
            let i = WEEKDAYS
                .iter()
                .position(|w| w == day)
                .ok_or_else(|| CalendarError::UnknownWeekday(day.clone()))?;
            working[i] = true;
        }
        if !working.contains(&true) {
            return Err(CalendarError::NoWorkingDays);
        }
        let opens = parse_time("opens", &c.opens)?;
        let closes = parse_time("closes", &c.closes)?;
        if opens >= closes {
            return Err(CalendarError::ClosesBeforeOpens {
                opens: c.opens.clone(),
                closes: c.closes.clone(),
            });
        }
        let holidays = c
            .holidays
            .iter()
            .map(|h| {
                h.parse::<Date>()
                    .ok()
                    .filter(|_| h.len() == 10)
                    .ok_or_else(|| CalendarError::BadHoliday(h.clone()))
            })
            .collect::<Result<_, _>>()?;
        Ok(BusinessCalendar {
            tz,
            working,
            opens,
            closes,
            holidays,
        })
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The open hours of one business day (closes − opens), by the wall clock.
    pub fn day_length(&self) -> SignedDuration {
        self.closes.duration_since(self.opens)
    }

    /// Whether `date` (local) is a working day that is not a holiday.
    pub fn is_business_day(&self, date: Date) -> bool {
        let weekday = date.weekday().to_monday_zero_offset() as usize;
        self.working[weekday] && !self.holidays.contains(&date)
    }

    /// Whether business hours are running at `t`: from opening, inclusive, to closing,
    /// exclusive. A deadline may still fall exactly at closing time.
    pub fn is_open(&self, t: Timestamp) -> bool {
        let local = self.tz.to_datetime(t);
        self.is_business_day(local.date())
            && self.opens <= local.time()
            && local.time() < self.closes
    }

    /// Adds working time: only open hours on working days that are not holidays count.
    ///
    /// The answer is the earliest instant at which `hours` of business time have passed since
    /// `start`, so it may be exactly a closing time, and `hours = 0` gives `start` back.
    pub fn add_business_hours(&self, start: Timestamp, hours: u32) -> Timestamp {
        self.add_business_time(start, SignedDuration::from_hours(i64::from(hours)))
    }

    /// Like [`BusinessCalendar::add_business_hours`] for any amount of business time; a
    /// negative amount counts as zero. Saturates at the last representable instant.
    pub fn add_business_time(&self, start: Timestamp, amount: SignedDuration) -> Timestamp {
        if !amount.is_positive() {
            return start;
        }
        let mut remaining = amount;
        let mut cursor = self.tz.to_datetime(start);
        loop {
            let date = cursor.date();
            if self.is_business_day(date) {
                let from = cursor.max(date.to_datetime(self.opens));
                let close = date.to_datetime(self.closes);
                if from < close {
                    let open_left = close.duration_since(from);
                    if remaining <= open_left {
                        return match from.checked_add(remaining) {
                            Ok(end) => self.instant(end),
                            Err(_) => Timestamp::MAX,
                        };
                    }
                    remaining -= open_left;
                }
            }
            match date.tomorrow() {
                Ok(next) => cursor = next.to_datetime(Time::midnight()),
                Err(_) => return Timestamp::MAX,
            }
        }
    }

    /// The close of the Nth business day whose open hours lie wholly at or after `start`: a
    /// request received on a Monday at 10:00 has Tuesday as its first day, one received at
    /// 08:00 has Monday. `days = 0` gives `start` back.
    pub fn add_business_days(&self, start: Timestamp, days: u32) -> Timestamp {
        if days == 0 {
            return start;
        }
        let local = self.tz.to_datetime(start);
        let mut date = local.date();
        if local > date.to_datetime(self.opens) {
            date = match date.tomorrow() {
                Ok(d) => d,
                Err(_) => return Timestamp::MAX,
            };
        }
        let mut counted = 0;
        loop {
            if self.is_business_day(date) {
                counted += 1;
                if counted == days {
                    return self.instant(date.to_datetime(self.closes));
                }
            }
            date = match date.tomorrow() {
                Ok(d) => d,
                Err(_) => return Timestamp::MAX,
            };
        }
    }

    /// The business time from `a` to `b`; negative when `b` is before `a`.
    pub fn business_time_between(&self, a: Timestamp, b: Timestamp) -> SignedDuration {
        if b < a {
            return -self.business_time_between(b, a);
        }
        let (from, to) = (self.tz.to_datetime(a), self.tz.to_datetime(b));
        let mut total = SignedDuration::ZERO;
        let mut date = from.date();
        while date <= to.date() {
            if self.is_business_day(date) {
                let start = from.max(date.to_datetime(self.opens));
                let end = to.min(date.to_datetime(self.closes));
                if start < end {
                    total += end.duration_since(start);
                }
            }
            date = match date.tomorrow() {
                Ok(d) => d,
                Err(_) => break,
            };
        }
        total
    }

    /// A local wall-clock time as an instant; a time in a gap moves forward by the gap.
    fn instant(&self, local: DateTime) -> Timestamp {
        self.tz.to_timestamp(local).unwrap_or(Timestamp::MAX)
    }
}

fn parse_time(field: &'static str, s: &str) -> Result<Time, CalendarError> {
    let bad = || CalendarError::BadTime {
        field,
        value: s.to_string(),
    };
    let (h, m) = s
        .split_once(':')
        .filter(|(h, m)| h.len() == 2 && m.len() == 2)
        .ok_or_else(bad)?;
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

/// How an acknowledgement deadline is counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Acknowledge {
    BusinessHours(u32),
    BusinessDays(u32),
}

/// The deadlines that apply to one request.
///
/// Compared field by field (jiff's `Span` has no `PartialEq` of its own, since `P1M` and
/// `P30D` are equal only on some dates).
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    /// The jurisdiction's id in the policy, or `default`.
    pub jurisdiction: String,
    pub acknowledge: Acknowledge,
    pub answer_within: Span,
    pub extension_max: Span,
    pub stop_clock_for_identity: bool,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.jurisdiction == other.jurisdiction
            && self.acknowledge == other.acknowledge
            && self.answer_within.fieldwise() == other.answer_within.fieldwise()
            && self.extension_max.fieldwise() == other.extension_max.fieldwise()
            && self.stop_clock_for_identity == other.stop_clock_for_identity
    }
}

/// The rule for a requester in `country` (ISO 3166-1 alpha-2, any case): the jurisdiction
/// listing it, or the policy's defaults (`default`) when none does or the country is unknown.
///
/// Policy validation refuses unparsable durations; should a hand-built policy carry one, the
/// answer falls back to one month (GDPR's) and the extension to none.
pub fn rule_for(policy: &custodian_policy::Policy, country: Option<&str>) -> Rule {
    let d = &policy.deadlines;
    let country = country.map(str::to_ascii_uppercase);
    let jurisdiction = country.as_deref().and_then(|c| {
        d.jurisdictions
            .iter()
            .find(|j| j.countries.iter().any(|x| x == c))
    });
    let default_ack = Acknowledge::BusinessHours(d.acknowledge_business_hours);
    match jurisdiction {
        Some(j) => Rule {
            jurisdiction: j.id.clone(),
            acknowledge: j
                .acknowledge_business_days
                .map_or(default_ack, Acknowledge::BusinessDays),
            answer_within: span_or(&j.answer_within, Span::new().months(1)),
            extension_max: span_or(&j.extension_max, Span::new()),
            stop_clock_for_identity: j.stop_clock_for_identity,
        },
        None => Rule {
            jurisdiction: "default".into(),
            acknowledge: default_ack,
            answer_within: span_or(&d.answer_within, Span::new().months(1)),
            extension_max: span_or(&d.extension_max, Span::new()),
            stop_clock_for_identity: false,
        },
    }
}

fn span_or(iso: &str, fallback: Span) -> Span {
    custodian_policy::parse_duration(iso).unwrap_or(fallback)
}

/// A time the clock stood still.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub from: Timestamp,
    /// `None`: still paused at `now`.
    pub to: Option<Timestamp>,
}

/// When a request must be acknowledged and answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Due {
    pub acknowledge_by: Timestamp,
    /// Including the extension granted so far.
    pub answer_by: Timestamp,
    /// The answer deadline with the whole extension the rule allows.
    pub latest_extended: Timestamp,
}

/// The deadlines of a request received at `received`.
///
/// `extended_by`: the extension granted so far (≤ `rule.extension_max`, clamped).
pub fn due(
    received: Timestamp,
    rule: &Rule,
    cal: &BusinessCalendar,
    pauses: &[Pause],
    extended_by: Option<&Span>,
    now: Timestamp,
) -> Due {
    let paused = merged(pauses, received, now);
    let paused_business = paused
        .iter()
        .map(|&(a, b)| cal.business_time_between(a, b))
        .sum::<SignedDuration>();
    let paused_elapsed = paused
        .iter()
        .map(|&(a, b)| b.duration_since(a))
        .sum::<SignedDuration>();

    let acknowledge = match rule.acknowledge {
        Acknowledge::BusinessHours(h) => cal.add_business_hours(received, h),
        Acknowledge::BusinessDays(d) => cal.add_business_days(received, d),
    };

    let answer = calendar_after(cal.time_zone(), received, &rule.answer_within);
    // `max` keeps a hand-built negative extension from moving the answer earlier.
    let latest = calendar_after(cal.time_zone(), answer, &rule.extension_max).max(answer);
    let extended = extended_by
        .map(|span| calendar_after(cal.time_zone(), answer, span).clamp(answer, latest))
        .unwrap_or(answer);

    Due {
        acknowledge_by: cal.add_business_time(acknowledge, paused_business),
        answer_by: shift(extended, paused_elapsed),
        latest_extended: shift(latest, paused_elapsed),
    }
}

/// The pauses as disjoint intervals within `[received, now]`, sorted.
fn merged(pauses: &[Pause], received: Timestamp, now: Timestamp) -> Vec<(Timestamp, Timestamp)> {
    let mut spans: Vec<(Timestamp, Timestamp)> = pauses
        .iter()
        .map(|p| (p.from.max(received), p.to.unwrap_or(now).min(now)))
        .filter(|(a, b)| a < b)
        .collect();
    spans.sort();
    let mut out: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// `start + span` on the calendar of `tz`. A span of whole years, months, weeks and days lands
/// on a local day (month ends clamped, 31 January + 1 month = 28/29 February) and ends at that
/// day's last microsecond; a span with a time part is added exactly.
fn calendar_after(tz: &TimeZone, start: Timestamp, span: &Span) -> Timestamp {
    let has_time = span.get_hours() != 0
        || span.get_minutes() != 0
        || span.get_seconds() != 0
        || span.get_milliseconds() != 0
        || span.get_microseconds() != 0
        || span.get_nanoseconds() != 0;
    let zoned = start.to_zoned(tz.clone());
    let end = if has_time {
        zoned.checked_add(*span).map(|z| z.timestamp()).ok()
    } else {
        zoned
            .date()
            .checked_add(*span)
            .ok()
            .and_then(|day| tz.to_timestamp(day.to_datetime(last_microsecond())).ok())
    };
    end.unwrap_or(Timestamp::MAX)
}

fn last_microsecond() -> Time {
    Time::constant(23, 59, 59, 999_999_000)
}

fn shift(t: Timestamp, by: SignedDuration) -> Timestamp {
    t.checked_add(by).unwrap_or(Timestamp::MAX)
}

/// How close a deadline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    OnTime,
    DueSoon,
    Overdue,
}

/// `Overdue` once `now` is past `by`; `DueSoon` while at most one business day of open hours
/// ([`BusinessCalendar::day_length`], 8.5 hours for 09:00–17:30) is left before it, so a
/// deadline on a Sunday is due soon from Friday morning; `OnTime` otherwise.
pub fn urgency(now: Timestamp, by: Timestamp, cal: &BusinessCalendar) -> Urgency {
    if now > by {
        Urgency::Overdue
    } else if cal.business_time_between(now, by) <= cal.day_length() {
        Urgency::DueSoon
    } else {
        Urgency::OnTime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> BusinessCalendar {
        BusinessCalendar::from_policy(&custodian_policy::example().calendar).unwrap()
    }

    fn london(s: &str) -> Timestamp {
        format!("{s}[Europe/London]")
            .parse::<jiff::Zoned>()
            .unwrap()
            .timestamp()
    }

    #[test]
    fn refuses_bad_calendars() {
        let good = custodian_policy::Calendar::default();
        let with = |f: fn(&mut custodian_policy::Calendar)| {
            let mut c = good.clone();
            f(&mut c);
            BusinessCalendar::from_policy(&c).unwrap_err()
        };
        assert!(BusinessCalendar::from_policy(&good).is_ok());
        assert_eq!(
            with(|c| c.time_zone = "Europe/Londn".into()),
            CalendarError::UnknownTimeZone("Europe/Londn".into())
        );
        assert_eq!(
            with(|c| c.working_days = vec!["Monday".into()]),
            CalendarError::UnknownWeekday("Monday".into())
        );
        assert_eq!(
            with(|c| c.working_days.clear()),
            CalendarError::NoWorkingDays
        );
        assert!(matches!(
            with(|c| c.opens = "9:00".into()),
            CalendarError::BadTime { field: "opens", .. }
        ));
        assert!(matches!(
            with(|c| c.closes = "24:00".into()),
            CalendarError::BadTime {
                field: "closes",
                ..
            }
        ));
        assert!(matches!(
            with(|c| c.closes = "09:00".into()),
            CalendarError::ClosesBeforeOpens { .. }
        ));
        assert_eq!(
            with(|c| c.holidays = vec!["2026-02-30".into()]),
            CalendarError::BadHoliday("2026-02-30".into())
        );
    }

    #[test]
    fn open_from_opening_until_just_before_closing() {
        let cal = cal();
        assert!(!cal.is_open(london("2026-03-02T08:59:59")));
        assert!(cal.is_open(london("2026-03-02T09:00")));
        assert!(cal.is_open(london("2026-03-02T17:29:59")));
        assert!(!cal.is_open(london("2026-03-02T17:30")));
        assert!(!cal.is_open(london("2026-03-07T12:00")), "Saturday");
        assert!(!cal.is_open(london("2026-12-25T12:00")), "Christmas");
    }

    #[test]
    fn zero_is_the_start_and_closing_time_is_a_valid_deadline() {
        let cal = cal();
        let saturday = london("2026-03-07T12:00");
        assert_eq!(cal.add_business_hours(saturday, 0), saturday);
        assert_eq!(cal.add_business_days(saturday, 0), saturday);
        let monday = london("2026-03-02T09:00");
        assert_eq!(
            cal.add_business_time(monday, SignedDuration::from_mins(510)),
            london("2026-03-02T17:30")
        );
    }

    #[test]
    fn pauses_merge_and_stay_within_receipt_and_now() {
        let (r, now) = (london("2026-03-02T09:00"), london("2026-03-10T09:00"));
        let p = |a: &str, b: Option<&str>| Pause {
            from: london(a),
            to: b.map(london),
        };
        let spans = merged(
            &[
                p("2026-03-03T00:00", Some("2026-03-04T00:00")),
                p("2026-03-01T00:00", Some("2026-03-02T12:00")),
                p("2026-03-03T12:00", Some("2026-03-05T00:00")),
                p("2026-03-09T00:00", None),
            ],
            r,
            now,
        );
        assert_eq!(
            spans,
            vec![
                (r, london("2026-03-02T12:00")),
                (london("2026-03-03T00:00"), london("2026-03-05T00:00")),
                (london("2026-03-09T00:00"), now),
            ]
        );
    }
}
