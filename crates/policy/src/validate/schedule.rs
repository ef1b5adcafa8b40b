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

pub(super) fn calendar(c: &Calendar, r: &mut Report) {
    let db = jiff::tz::TimeZoneDatabase::bundled();
    if db.get(&c.time_zone).is_err() {
        let names: Vec<String> = db.available().map(|n| n.to_string()).collect();
        let help = match closest(&c.time_zone, names.iter().map(String::as_str)) {
            Some(near) => format!("did you mean `{near}`?"),
            None => "use an IANA time zone name such as `Europe/London`".to_string(),
        };
        r.at(
            "calendar.time_zone",
            format!("unknown time zone `{}`", c.time_zone),
            help,
        );
    }
    if c.working_days.is_empty() {
        r.at(
            "calendar.working_days",
            "no working day is listed",
            "list the days business hours count on, e.g. [\"monday\", ..., \"friday\"]",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, day) in c.working_days.iter().enumerate() {
        let path = format!("calendar.working_days[{i}]");
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
    let opens = check_time(r, "calendar.opens", &c.opens);
    let closes = check_time(r, "calendar.closes", &c.closes);
    if let (Some(o), Some(cl)) = (opens, closes) {
        if o >= cl {
            r.at(
                "calendar.closes",
                format!(
                    "business hours close ({}) before they open ({})",
                    c.closes, c.opens
                ),
                "closes must be later than opens on the same day",
            );
        }
    }
    for (i, day) in c.holidays.iter().enumerate() {
        check_date(r, &format!("calendar.holidays[{i}]"), day);
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
