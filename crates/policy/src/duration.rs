//! ISO 8601 durations (`P7Y`, `P1M`, `PT24H`) as the policy file writes them.
//!
//! jiff's own `Span` parser also accepts its "friendly" format, signs and fractions; a policy
//! should say one thing one way, so this parser takes only the plain ISO 8601 designators with
//! whole numbers, and reports what it expected when it refuses.

use jiff::Span;

/// Parses an ISO 8601 duration such as `P7Y`, `P1M`, `P30D`, `PT24H`, `P1Y6M` or `P0D`.
pub fn parse_duration(s: &str) -> Result<Span, String> {
    let expected = "expected an ISO 8601 duration such as P7Y, P1M, P30D or PT24H";
    let Some(rest) = s.strip_prefix('P') else {
        return Err(format!("`{s}` does not start with `P`; {expected}"));
    };
    if rest.is_empty() || rest == "T" {
        return Err(format!("`{s}` has no amount; {expected}"));
    }
    let mut span = Span::new();
    let mut in_time = false;
    // Designators must come in this order; the index of the last one seen enforces it.
    const DATE_UNITS: &str = "YMWD";
    const TIME_UNITS: &str = "HMS";
    let mut last: Option<usize> = None;
    let mut digits = String::new();
    for ch in rest.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        if ch == 'T' {
            if in_time || !digits.is_empty() {
                return Err(format!("`{s}` has a misplaced `T`; {expected}"));
            }
            in_time = true;
            last = None;
            continue;
        }
        let units = if in_time { TIME_UNITS } else { DATE_UNITS };
        let Some(index) = units.find(ch) else {
            let hint = if matches!(ch, 'H' | 'S') {
                " (hours, minutes and seconds go after `T`, as in PT24H)"
            } else {
                ""
            };
            return Err(format!(
                "`{s}` has an unknown unit `{ch}`{hint}; {expected}"
            ));
        };
        if digits.is_empty() {
            return Err(format!("`{s}` has no number before `{ch}`; {expected}"));
        }
        if last.is_some_and(|l| l >= index) {
            return Err(format!("`{s}` repeats or reorders units; {expected}"));
        }
        last = Some(index);
        let n: i64 = digits
            .parse()
            .map_err(|_| format!("`{s}`: the number {digits} is too large"))?;
        digits.clear();
        let set = match (in_time, ch) {
            (false, 'Y') => span.try_years(n),
            (false, 'M') => span.try_months(n),
            (false, 'W') => span.try_weeks(n),
            (false, 'D') => span.try_days(n),
            (true, 'H') => span.try_hours(n),
            (true, 'M') => span.try_minutes(n),
            _ => span.try_seconds(n),
        };
        span = set.map_err(|_| format!("`{s}`: {n}{ch} is too large"))?;
    }
    if !digits.is_empty() {
        return Err(format!(
            "`{s}` ends with a number without a unit; {expected}"
        ));
    }
    if in_time && last.is_none() {
        return Err(format!("`{s}` has `T` but no time amount; {expected}"));
    }
    Ok(span)
}

/// The length of a span in days, approximately (a year is 365.25 days, a month 30.44), which
/// is enough to tell whether one retention period is longer than another.
pub fn approx_days(span: &Span) -> f64 {
    f64::from(span.get_years()) * 365.25
        + f64::from(span.get_months()) * 30.436_875
        + f64::from(span.get_weeks()) * 7.0
        + f64::from(span.get_days())
        + span.get_hours() as f64 / 24.0
        + span.get_minutes() as f64 / 1440.0
        + span.get_seconds() as f64 / 86_400.0
}

/// A span in words for people: `7 years`, `1 month`, `1 year and 6 months`; zero is `0 days`.
pub fn in_words(span: &Span) -> String {
    let parts: Vec<String> = [
        (span.get_years() as i64, "year"),
        (span.get_months() as i64, "month"),
        (span.get_weeks() as i64, "week"),
        (span.get_days() as i64, "day"),
        (span.get_hours() as i64, "hour"),
        (span.get_minutes(), "minute"),
        (span.get_seconds(), "second"),
    ]
    .into_iter()
    .filter(|(n, _)| *n != 0)
    .map(|(n, unit)| match n {
        1 => format!("1 {unit}"),
        _ => format!("{n} {unit}s"),
    })
    .collect();
    match parts.as_slice() {
        [] => "0 days".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// An ISO 8601 duration in words, or the text itself when it does not parse (validation has
/// already reported it).
pub fn words(iso: &str) -> String {
    parse_duration(iso)
        .map(|s| in_words(&s))
        .unwrap_or_else(|_| iso.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_forms_policies_use() {
        for (text, days) in [
            ("P7Y", 7.0 * 365.25),
            ("P1M", 30.436_875),
            ("P30D", 30.0),
            ("PT24H", 1.0),
            ("P0D", 0.0),
            ("P1Y6M", 365.25 + 6.0 * 30.436_875),
            ("P2W", 14.0),
            ("P1DT12H", 1.5),
        ] {
            let span = parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!((approx_days(&span) - days).abs() < 1e-9, "{text}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for text in [
            "",
            "P",
            "PT",
            "7Y",
            "p7y",
            "P7",
            "PY",
            "P1H",
            "P1M1Y",
            "P1Y1Y",
            "-P1D",
            "P1.5D",
            "P 1D",
            "P1DT",
            "PT1D",
            "P99999999999999999999Y",
            "P1000000Y",
            "7 years",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} should be refused");
        }
    }

    #[test]
    fn says_durations_in_words() {
        assert_eq!(words("P7Y"), "7 years");
        assert_eq!(words("P1M"), "1 month");
        assert_eq!(words("P1Y6M"), "1 year and 6 months");
        assert_eq!(words("P1Y2M3D"), "1 year, 2 months and 3 days");
        assert_eq!(words("P0D"), "0 days");
        assert_eq!(words("PT24H"), "24 hours");
    }
}
