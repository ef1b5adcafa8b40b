//! The calendar a jurisdiction's deadlines are counted on: its time zone, working week,
//! opening hours and public holidays (a built-in rule set of `custodian_policy::holidays`,
//! computed for any year, plus the policy's own dates), and the counting the law needs from
//! it — local dates, ends of local days, working days, business hours.
//!
//! Business hours are local wall-clock hours: a 09:00–17:30 day is 8.5 hours even on the days
//! the clocks change. A local time that does not exist (in a spring-forward gap) becomes a
//! timestamp by jiff's "compatible" rule, which moves it forward by the gap.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

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
    #[error("unknown holiday set `{0}`")]
    UnknownHolidaySet(String),
    #[error("calendar `{id}`: {error}")]
    In {
        id: String,
        error: Box<CalendarError>,
    },
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

/// The years whose built-in holidays are worked out once, when the calendar is built; other
/// years are worked out when asked (the rules have no end).
const CACHED_YEARS: std::ops::RangeInclusive<i16> = 1990..=2100;

/// The working week of a policy calendar, ready to count with.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    id: String,
    tz: TimeZone,
    /// Indexed by days from Monday.
    working: [bool; 7],
    opens: Time,
    closes: Time,
    /// The built-in rule set, if any.
    set: Option<String>,
    /// The set's days off in [`CACHED_YEARS`], and the policy's extra dates.
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
        let mut holidays: BTreeSet<Date> = c
            .extra_holidays
            .iter()
            .map(|h| {
                h.parse::<Date>()
                    .ok()
                    .filter(|_| h.len() == 10)
                    .ok_or_else(|| CalendarError::BadHoliday(h.clone()))
            })
            .collect::<Result<_, _>>()?;
        if let Some(set) = &c.holidays {
            for year in CACHED_YEARS {
                let days = custodian_policy::holidays::holidays(set, year)
                    .ok_or_else(|| CalendarError::UnknownHolidaySet(set.clone()))?;
                holidays.extend(days.iter().map(|h| h.date));
            }
        }
        Ok(BusinessCalendar {
            id: c.id.clone(),
            tz,
            working,
            opens,
            closes,
            set: c.holidays.clone(),
            holidays,
        })
    }

    /// The calendar's id in the policy.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The open hours of one business day (closes − opens), by the wall clock.
    pub fn day_length(&self) -> SignedDuration {
        self.closes.duration_since(self.opens)
    }

    /// Whether `date` is a public holiday of the calendar (its rule set or its extra dates).
    pub fn is_holiday(&self, date: Date) -> bool {
        if self.holidays.contains(&date) {
            return true;
        }
        match &self.set {
            Some(set) if !CACHED_YEARS.contains(&date.year()) => {
                custodian_policy::holidays::holidays(set, date.year())
                    .is_some_and(|days| days.iter().any(|h| h.date == date))
            }
            _ => false,
        }
    }

    /// Whether `date` (local) is a working day that is not a holiday.
    pub fn is_business_day(&self, date: Date) -> bool {
        let weekday = date.weekday().to_monday_zero_offset() as usize;
        self.working[weekday] && !self.is_holiday(date)
    }

    /// `date` itself when it is a working day, otherwise the next working day: where a period's
    /// last day falls on a weekend or holiday, the law moves it there (Regulation 1182/71
    /// Art. 3(4), Cal. Code Civ. Proc. §12a). Saturates at the last representable day.
    pub fn roll_forward(&self, date: Date) -> Date {
        let mut d = date;
        while !self.is_business_day(d) {
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => return d,
            }
        }
        d
    }

    /// The local date of an instant in the calendar's zone: the day of receipt, the day a
    /// pause began or ended.
    pub fn local_date(&self, t: Timestamp) -> Date {
        self.tz.to_datetime(t).date()
    }

    /// The last instant of a local day, 23:59:59.999999, which is when a period expressed in
    /// days, weeks, months or years ends (Regulation 1182/71 Art. 3(2)(b)–(c): "the expiry of
    /// the last hour of the last day"). The end of the last day jiff can represent saturates.
    pub fn end_of_day(&self, date: Date) -> Timestamp {
        self.instant(date.to_datetime(Time::constant(23, 59, 59, 999_999_000)))
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

    /// The start of the first whole local hour after `t`: the hour during which something
    /// happens does not count towards a period in hours (Regulation 1182/71 Art. 3(1)).
    pub fn next_whole_hour(&self, t: Timestamp) -> Timestamp {
        let local = self.tz.to_datetime(t);
        let floor = local
            .date()
            .to_datetime(Time::constant(local.hour(), 0, 0, 0));
        match floor.checked_add(SignedDuration::from_hours(1)) {
            Ok(next) => self.instant(next).max(t),
            Err(_) => Timestamp::MAX,
        }
    }

    /// The end of the Nth working day *after* the local day of `start` (the day of receipt does
    /// not count: Regulation 1182/71 Art. 3(1), Cal. Code Civ. Proc. §12). `days = 0` is the
    /// end of the day of receipt.
    pub fn add_business_days(&self, start: Timestamp, days: u32) -> Timestamp {
        let mut date = self.local_date(start);
        let mut counted = 0;
        while counted < days {
            date = match date.tomorrow() {
                Ok(d) => d,
                Err(_) => return Timestamp::MAX,
            };
            if self.is_business_day(date) {
                counted += 1;
            }
        }
        self.end_of_day(date)
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

/// Every calendar of a policy by id, and which one the default rules count on.
#[derive(Debug, Clone)]
pub struct Calendars {
    by_id: BTreeMap<String, BusinessCalendar>,
    default: BusinessCalendar,
}

impl Calendars {
    /// Builds every `[[calendars]]` entry; a policy with none (built by hand; a loaded policy
    /// always has one) gets [`custodian_policy::Calendar::default`].
    pub fn from_policy(p: &custodian_policy::Policy) -> Result<Self, CalendarError> {
        let build = |c: &custodian_policy::Calendar| {
            BusinessCalendar::from_policy(c).map_err(|e| CalendarError::In {
                id: c.id.clone(),
                error: Box::new(e),
            })
        };
        let by_id = p
            .calendars
            .iter()
            .map(|c| Ok((c.id.clone(), build(c)?)))
            .collect::<Result<BTreeMap<_, _>, CalendarError>>()?;
        let default = build(p.default_calendar())?;
        Ok(Calendars { by_id, default })
    }

    /// The calendar with this id, or the default rules' one when there is none such.
    pub fn get(&self, id: &str) -> &BusinessCalendar {
        self.by_id.get(id).unwrap_or(&self.default)
    }

    /// The calendar the default rules count on (the DPO's office hours for "due soon").
    pub fn default_calendar(&self) -> &BusinessCalendar {
        &self.default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> BusinessCalendar {
        BusinessCalendar::from_policy(&custodian_policy::Calendar::default()).unwrap()
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
            with(|c| c.extra_holidays = vec!["2026-02-30".into()]),
            CalendarError::BadHoliday("2026-02-30".into())
        );
        assert_eq!(
            with(|c| c.holidays = Some("gb".into())),
            CalendarError::UnknownHolidaySet("gb".into())
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
    fn holidays_outside_the_cached_years_come_from_the_rules() {
        let cal = cal();
        // Christmas 2298 is a Sunday: Boxing Day Monday 26, Christmas moves to Tuesday 27.
        assert!(cal.is_holiday(jiff::civil::date(2298, 12, 27)));
        assert!(!cal.is_business_day(jiff::civil::date(2298, 12, 26)));
        assert!(cal.is_business_day(jiff::civil::date(2298, 12, 28)));
    }

    #[test]
    fn zero_is_the_start_and_closing_time_is_a_valid_deadline() {
        let cal = cal();
        let saturday = london("2026-03-07T12:00");
        assert_eq!(cal.add_business_hours(saturday, 0), saturday);
        assert_eq!(
            cal.add_business_days(saturday, 0),
            london("2026-03-07T23:59:59.999999")
        );
        let monday = london("2026-03-02T09:00");
        assert_eq!(
            cal.add_business_time(monday, SignedDuration::from_mins(510)),
            london("2026-03-02T17:30")
        );
        assert_eq!(cal.next_whole_hour(monday), london("2026-03-02T10:00"));
        assert_eq!(
            cal.next_whole_hour(london("2026-03-02T09:59:59.9")),
            london("2026-03-02T10:00")
        );
    }
}
