//! Request deadlines, exactly as the law counts them, in the time zone of the jurisdiction's
//! calendar ([`calendar`]), with extensions and stop-the-clock pauses.
//!
//! - **The day of receipt** is the local date of receipt in the calendar's zone, and it does
//!   not count (Regulation (EEC, Euratom) No 1182/71 Art. 3(1); Cal. Code Civ. Proc. §12).
//! - **Months** end on the same date of the later month, or on that month's last day when it
//!   has no such date (Art. 3(2)(c): 31 January + 1 month = 28/29 February); **days** end on
//!   receipt date + N (Art. 3(2)(b)). The deadline is the *end* of that local day.
//! - **Rolling**: where the rule says `roll_forward`, a last day that is not a working day of
//!   the calendar moves to the next working day (Art. 3(4); the ICO's guidance on the time limit
//!   for UK GDPR Art. 12(3); Cal. Code Civ. Proc. §12a). Periods in hours never roll.
//! - **Business days** (CCPA's 10, Cal. Code Regs. tit. 11 §7021(a)) count whole working days
//!   after the day of receipt; **business hours** count whole working hours from the first whole
//!   hour after receipt (Art. 3(1)); **calendar hours** (`PT72H`) are plain elapsed time.
//! - **Extensions** count from receipt: one month plus two further months is the same date
//!   three months after receipt, then rolled (GDPR Art. 12(3); CCPA §1798.130(a)(2)(B), 45 + 45
//!   days = 90 days from receipt, Regs. §7021(b)).
//! - **Pauses** (stop-the-clock: UK GDPR Art. 12A, DPA 2018 s. 54(3C) for identity and
//!   clarification) move the answer's last day by the whole local days between the day a pause
//!   began and the day it ended — a pause begun and ended on the same day moves nothing — and
//!   then the rolling rule applies, so a due instant is always the end of a local day.
//!
//! Everything here is pure: no I/O and no system clock; `now` is always passed in.

mod calendar;

pub use calendar::{BusinessCalendar, CalendarError, Calendars};

use jiff::civil::Date;
use jiff::{Span, Timestamp};
use serde::Serialize;

/// How an acknowledgement deadline is counted.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Acknowledge {
    BusinessHours(u32),
    BusinessDays(u32),
    /// A span: with hours (`PT72H`) plain elapsed time; in days or months, counted like the
    /// answer (end of the local day, rolled where the rule rolls).
    #[serde(serialize_with = "span_text")]
    Within(Span),
}

impl PartialEq for Acknowledge {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Acknowledge::BusinessHours(a), Acknowledge::BusinessHours(b)) => a == b,
            (Acknowledge::BusinessDays(a), Acknowledge::BusinessDays(b)) => a == b,
            (Acknowledge::Within(a), Acknowledge::Within(b)) => a.fieldwise() == b.fieldwise(),
            _ => false,
        }
    }
}

fn span_text<S: serde::Serializer>(span: &Span, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(span)
}

/// The deadlines that apply to one request.
///
/// Compared field by field (jiff's `Span` has no `PartialEq` of its own, since `P1M` and
/// `P30D` are equal only on some dates).
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    /// The jurisdiction's id in the policy, or `default`.
    pub jurisdiction: String,
    /// The id of the calendar its days are counted on.
    pub calendar: String,
    pub acknowledge: Acknowledge,
    pub answer_within: Span,
    pub extension_max: Span,
    pub stop_clock_for_identity: bool,
    pub stop_clock_for_clarification: bool,
    /// Whether a last day that is not a working day moves to the next working day.
    pub roll_forward: bool,
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.jurisdiction == other.jurisdiction
            && self.calendar == other.calendar
            && self.acknowledge == other.acknowledge
            && self.answer_within.fieldwise() == other.answer_within.fieldwise()
            && self.extension_max.fieldwise() == other.extension_max.fieldwise()
            && self.stop_clock_for_identity == other.stop_clock_for_identity
            && self.stop_clock_for_clarification == other.stop_clock_for_clarification
            && self.roll_forward == other.roll_forward
    }
}

/// The rule for a requester in `country` (ISO 3166-1 alpha-2, any case): the jurisdiction
/// listing it, or the policy's defaults (`default`) when none does or the country is unknown.
///
/// Policy validation refuses unparsable durations; should a hand-built policy carry one, the
/// answer falls back to one month (GDPR's) and the extension to none.
pub fn rule_for(policy: &custodian_policy::Policy, country: Option<&str>) -> Rule {
    let country = country.map(str::to_ascii_uppercase);
    let jurisdiction = country.as_deref().and_then(|c| {
        policy
            .deadlines
            .jurisdictions
            .iter()
            .find(|j| j.countries.iter().any(|x| x == c))
    });
    match jurisdiction {
        Some(j) => jurisdiction_rule(policy, j),
        None => default_rule(policy),
    }
}

/// The rule of the jurisdiction with this id (`default` for the policy's defaults).
pub fn rule_by_id(policy: &custodian_policy::Policy, id: &str) -> Option<Rule> {
    if id == "default" {
        return Some(default_rule(policy));
    }
    policy
        .jurisdiction(id)
        .map(|j| jurisdiction_rule(policy, j))
}

fn default_rule(policy: &custodian_policy::Policy) -> Rule {
    let d = &policy.deadlines;
    Rule {
        jurisdiction: "default".into(),
        calendar: policy.default_calendar().id.clone(),
        acknowledge: Acknowledge::BusinessHours(d.acknowledge_business_hours),
        answer_within: span_or(&d.answer_within, Span::new().months(1)),
        extension_max: span_or(&d.extension_max, Span::new()),
        stop_clock_for_identity: false,
        stop_clock_for_clarification: false,
        roll_forward: d.roll_forward,
    }
}

fn jurisdiction_rule(
    policy: &custodian_policy::Policy,
    j: &custodian_policy::Jurisdiction,
) -> Rule {
    let hours = Acknowledge::BusinessHours(policy.deadlines.acknowledge_business_hours);
    let acknowledge = match (&j.acknowledge_within, j.acknowledge_business_days) {
        (Some(within), _) => custodian_policy::parse_duration(within)
            .map(Acknowledge::Within)
            .unwrap_or(hours),
        (None, Some(days)) => Acknowledge::BusinessDays(days),
        (None, None) => hours,
    };
    Rule {
        jurisdiction: j.id.clone(),
        calendar: policy.calendar_of(j).id.clone(),
        acknowledge,
        answer_within: span_or(&j.answer_within, Span::new().months(1)),
        extension_max: span_or(&j.extension_max, Span::new()),
        stop_clock_for_identity: j.stop_clock_for_identity,
        stop_clock_for_clarification: j.stop_clock_for_clarification,
        roll_forward: j.roll_forward,
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

/// A pause that ends before it begins.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the pause ends ({to}) before it begins ({from})")]
pub struct PauseError {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Pause {
    /// A closed pause, refused when it ends before it begins.
    pub fn closed(from: Timestamp, to: Timestamp) -> Result<Pause, PauseError> {
        if to < from {
            return Err(PauseError { from, to });
        }
        Ok(Pause { from, to: Some(to) })
    }
}

/// When a request must be acknowledged and answered. Serialised, it is exactly what
/// `custodian deadline --json` prints and the API's request views show: instants in RFC 3339
/// (UTC), `*_date` the local date in the calendar's zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Due {
    pub jurisdiction: String,
    pub received_date: Date,
    pub acknowledge_due: Timestamp,
    pub acknowledge_due_date: Date,
    /// Including the extension granted so far.
    pub answer_due: Timestamp,
    pub answer_due_date: Date,
    /// The answer deadline with the whole extension the rule allows.
    #[serde(skip)]
    pub latest_answer_due: Timestamp,
    pub latest_answer_due_date: Date,
    /// The end of the first period (no extension): an extension must be given before it.
    #[serde(skip)]
    pub first_period_due: Timestamp,
}

/// The deadlines of a request received at `received`, counted on `cal` (the rule's calendar).
///
/// `extended_by`: the extension granted so far, counted from receipt together with the first
/// period and clamped to `rule.extension_max`. `pauses` move the answer (not the
/// acknowledgement of receipt); each counts only from receipt and only until `now`, an open one
/// until `now`, and overlapping ones once.
pub fn due(
    received: Timestamp,
    rule: &Rule,
    cal: &BusinessCalendar,
    pauses: &[Pause],
    extended_by: Option<&Span>,
    now: Timestamp,
) -> Due {
    due_with_paused_days(received, rule, cal, pauses, 0, extended_by, now)
}

/// [`due`], with `earlier_days` more paused days: the pauses that ended before and were
/// stored as their whole local days ([`paused_days`]) rather than as intervals.
pub fn due_with_paused_days(
    received: Timestamp,
    rule: &Rule,
    cal: &BusinessCalendar,
    pauses: &[Pause],
    earlier_days: i64,
    extended_by: Option<&Span>,
    now: Timestamp,
) -> Due {
    let paused_days: i64 = earlier_days.max(0)
        + merged(pauses, received, now)
            .iter()
            .map(|&(a, b)| days_between(cal.local_date(a), cal.local_date(b)))
            .sum::<i64>();
    let period =
        |span: &Span, shift: i64| period_end(cal, received, span, shift, rule.roll_forward);

    let acknowledge_due = match &rule.acknowledge {
        Acknowledge::BusinessHours(h) => cal.add_business_hours(cal.next_whole_hour(received), *h),
        Acknowledge::BusinessDays(d) => cal.add_business_days(received, *d),
        Acknowledge::Within(span) => period(span, 0),
    };
    let first = period(&rule.answer_within, paused_days);
    // `max` keeps a hand-built negative extension from moving the answer earlier.
    let latest = period(&plus(&rule.answer_within, &rule.extension_max), paused_days).max(first);
    let answer_due = extended_by
        .map(|e| period(&plus(&rule.answer_within, e), paused_days).clamp(first, latest))
        .unwrap_or(first);
    Due {
        jurisdiction: rule.jurisdiction.clone(),
        received_date: cal.local_date(received),
        acknowledge_due,
        acknowledge_due_date: cal.local_date(acknowledge_due),
        answer_due,
        answer_due_date: cal.local_date(answer_due),
        latest_answer_due: latest,
        latest_answer_due_date: cal.local_date(latest),
        first_period_due: first,
    }
}

/// The end of a period of `span` from `received`, its last day moved by `shift` whole days.
///
/// A span with a time part (`PT72H`) is elapsed time, added exactly (and never rolled: Art.
/// 3(4) concerns periods "other than in hours"). Otherwise the receipt date plus the span (month
/// ends clamped by jiff: 31 January + P1M = 28/29 February), plus `shift` days, rolled to a
/// working day when `roll`, ends at the end of that local day.
fn period_end(
    cal: &BusinessCalendar,
    received: Timestamp,
    span: &Span,
    shift: i64,
    roll: bool,
) -> Timestamp {
    let tz = cal.time_zone();
    if has_time(span) {
        let end = received
            .to_zoned(tz.clone())
            .checked_add(*span)
            .and_then(|z| z.checked_add(Span::new().days(shift)));
        return end.map(|z| z.timestamp()).unwrap_or(Timestamp::MAX);
    }
    let last = cal
        .local_date(received)
        .checked_add(*span)
        .and_then(|d| d.checked_add(Span::new().days(shift)));
    match last {
        Ok(day) => cal.end_of_day(if roll { cal.roll_forward(day) } else { day }),
        Err(_) => Timestamp::MAX,
    }
}

fn has_time(span: &Span) -> bool {
    span.get_hours() != 0
        || span.get_minutes() != 0
        || span.get_seconds() != 0
        || span.get_milliseconds() != 0
        || span.get_microseconds() != 0
        || span.get_nanoseconds() != 0
}

/// `a + b` unit by unit (P1M + P2M = P3M, P45D + P45D = P90D), so that a period and its
/// extension are counted together from receipt.
fn plus(a: &Span, b: &Span) -> Span {
    let sum = || -> Result<Span, jiff::Error> {
        Span::new()
            .try_years(i64::from(a.get_years()) + i64::from(b.get_years()))?
            .try_months(i64::from(a.get_months()) + i64::from(b.get_months()))?
            .try_weeks(i64::from(a.get_weeks()) + i64::from(b.get_weeks()))?
            .try_days(i64::from(a.get_days()) + i64::from(b.get_days()))?
            .try_hours(i64::from(a.get_hours()) + i64::from(b.get_hours()))?
            .try_minutes(a.get_minutes() + b.get_minutes())?
            .try_seconds(a.get_seconds() + b.get_seconds())
    };
    sum().unwrap_or(*a)
}

/// Whole days from one local date to a later one (0 for the same day).
fn days_between(a: Date, b: Date) -> i64 {
    a.until(b).map_or(0, |s| i64::from(s.get_days()).max(0))
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

/// Whole local days paused from `from` to `to` on `cal` (what one pause moves a due day by).
pub fn paused_days(cal: &BusinessCalendar, from: Timestamp, to: Timestamp) -> i64 {
    days_between(cal.local_date(from), cal.local_date(to))
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

    fn london(s: &str) -> Timestamp {
        format!("{s}[Europe/London]")
            .parse::<jiff::Zoned>()
            .unwrap()
            .timestamp()
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

    #[test]
    fn spans_add_unit_by_unit() {
        let s = plus(&Span::new().months(1), &Span::new().months(2));
        assert_eq!(s.fieldwise(), Span::new().months(3));
        let s = plus(&Span::new().days(45), &Span::new().days(45));
        assert_eq!(s.fieldwise(), Span::new().days(90));
        assert!(Pause::closed(london("2026-03-02T10:00"), london("2026-03-02T09:00")).is_err());
    }
}
