//! Deadlines, the business calendar and children's ages: the durations and times the
//! request clocks are computed from.

use super::*;

// ── Deadlines, calendar, children ─────────────────────────────────────────────────────────

pub(super) fn deadlines(d: &Deadlines, r: &mut Report) {
    if d.acknowledge_business_hours == 0 {
        r.at(
            "deadlines.acknowledge_business_hours",
            "the acknowledgement deadline is zero",
            "give the number of business hours, e.g. 72",
        );
    }
    check_positive_duration(r, "deadlines.answer_within", &d.answer_within);
    check_duration(r, "deadlines.extension_max", &d.extension_max);
    let mut jurisdiction_of: HashMap<&str, &str> = HashMap::new();
    for (i, j) in d.jurisdictions.iter().enumerate() {
        let path = format!("deadlines.jurisdictions[{i}]");
        check_positive_duration(r, &format!("{path}.answer_within"), &j.answer_within);
        check_duration(r, &format!("{path}.extension_max"), &j.extension_max);
        countries(r, &format!("{path}.countries"), &j.countries);
        if let Some(within) = &j.acknowledge_within {
            check_positive_duration(r, &format!("{path}.acknowledge_within"), within);
            if j.acknowledge_business_days.is_some() {
                r.at(
                    format!("{path}.acknowledge_within"),
                    "both `acknowledge_within` and `acknowledge_business_days` are given",
                    "keep one: business days, or a span such as PT72H (elapsed hours)",
                );
            }
        }
        if j.acknowledge_business_days == Some(0) {
            r.at(
                format!("{path}.acknowledge_business_days"),
                "the acknowledgement deadline is zero",
                "give the number of business days, or remove the key to use the default hours",
            );
        }
        for (k, c) in j.countries.iter().enumerate() {
            match jurisdiction_of.get(c.as_str()) {
                Some(other) => r.at(
                    format!("{path}.countries[{k}]"),
                    format!("`{c}` is already in jurisdiction `{other}`"),
                    "a country's deadlines come from one jurisdiction only; remove it from one of them",
                ),
                None => {
                    jurisdiction_of.insert(c, &j.id);
                }
            }
        }
    }
}

pub(super) const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

pub(super) fn calendars(cs: &[Calendar], r: &mut Report) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, c) in cs.iter().enumerate() {
        let at = format!("calendars[{i}]");
        if let Some(j) = first.insert(&c.id, i) {
            first.insert(&c.id, j);
            r.at(
                format!("{at}.id"),
                format!("duplicate id `{}` in calendars", c.id),
                format!("calendars[{j}] already has this id; rename one of them"),
            );
        }
        calendar(c, &at, r);
    }
}

fn calendar(c: &Calendar, at: &str, r: &mut Report) {
    let db = jiff::tz::TimeZoneDatabase::bundled();
    if db.get(&c.time_zone).is_err() {
        let names: Vec<String> = db.available().map(|n| n.to_string()).collect();
        let help = match closest(&c.time_zone, names.iter().map(String::as_str)) {
            Some(near) => format!("did you mean `{near}`?"),
            None => "use an IANA time zone name such as `Europe/London`".to_string(),
        };
        r.at(
            format!("{at}.time_zone"),
            format!("unknown time zone `{}`", c.time_zone),
            help,
        );
    }
    if c.working_days.is_empty() {
        r.at(
            format!("{at}.working_days"),
            "no working day is listed",
            "list the days business hours count on, e.g. [\"monday\", ..., \"friday\"]",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, day) in c.working_days.iter().enumerate() {
        let path = format!("{at}.working_days[{i}]");
        if !WEEKDAYS.contains(&day.as_str()) {
            let help = match closest(day, WEEKDAYS.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("use lower-case English names: {}", WEEKDAYS.join(", ")),
            };
            r.at(&path, format!("`{day}` is not a day of the week"), help);
        } else if !seen.insert(day.as_str()) {
            r.at(
                &path,
                format!("`{day}` is listed twice"),
                "remove the repeat",
            );
        }
    }
    let opens = check_time(r, &format!("{at}.opens"), &c.opens);
    let closes = check_time(r, &format!("{at}.closes"), &c.closes);
    if let (Some(o), Some(cl)) = (opens, closes) {
        if o >= cl {
            r.at(
                format!("{at}.closes"),
                format!(
                    "business hours close ({}) before they open ({})",
                    c.closes, c.opens
                ),
                "closes must be later than opens on the same day",
            );
        }
    }
    if let Some(set) = &c.holidays {
        if !crate::holidays::known(set) {
            let help = match closest(set, crate::holidays::SETS.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!(
                    "the built-in sets are {}; list other days in `extra_holidays`",
                    crate::holidays::SETS.join(", ")
                ),
            };
            r.at(
                format!("{at}.holidays"),
                format!("unknown holiday set `{set}`"),
                help,
            );
        }
    }
    for (i, day) in c.extra_holidays.iter().enumerate() {
        check_date(r, &format!("{at}.extra_holidays[{i}]"), day);
    }
}

/// Every set of rules names a calendar that exists: the law's days are counted there.
pub(super) fn calendar_references(p: &Policy, r: &mut Report) {
    let known: Vec<&str> = p.calendars.iter().map(|c| c.id.as_str()).collect();
    let mut check = |path: String, named: Option<&str>, whose: &str| {
        match named {
        None => r.at(
            format!("{path}.calendar"),
            whose.to_string(),
            if known.is_empty() {
                "add a `[[calendars]]` entry (id, time_zone, working_days, opens, closes, holidays) \
                 and name its id here"
                    .to_string()
            } else {
                format!("add `calendar = \"…\"` naming one of: {}", known.join(", "))
            },
        ),
        Some(id) if !known.contains(&id) => r.at(
            format!("{path}.calendar"),
            format!("unknown calendar `{id}`"),
            match closest(id, known.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("the calendars are: {}", known.join(", ")),
            },
        ),
        Some(_) => {}
    }
    };
    check(
        "deadlines".into(),
        p.deadlines.calendar.as_deref(),
        "the default deadlines name no calendar",
    );
    for (i, j) in p.deadlines.jurisdictions.iter().enumerate() {
        check(
            format!("deadlines.jurisdictions[{i}]"),
            j.calendar.as_deref(),
            &format!("jurisdiction `{}` has no calendar", j.id),
        );
    }
}

pub(super) fn children(c: &Children, r: &mut Report) {
    if c.minimum_age == 0 {
        r.at(
            "children.minimum_age",
            "the minimum age is 0",
            "set the age below which you do not collect data, e.g. 13",
        );
    }
    for (country, age) in &c.by_country {
        let path = format!("children.by_country.{country}");
        check_country(r, &path, country, Target::Key);
        if !(13..=16).contains(age) {
            r.at(
                &path,
                format!("{age} is outside 13 to 16"),
                "GDPR Art. 8 lets a member state set the age of digital consent between 13 and 16",
            );
        }
    }
    check_duration(r, "children.erase_within", &c.erase_within);
}
