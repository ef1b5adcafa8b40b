//! The built-in holiday sets against the lists their governments and courts publish for
//! 2025, 2026 and 2027 (gov.uk/bank-holidays, citizensinformation.ie, the Länder acts,
//! service-public.fr, OPM's federal holidays, the California courts' holiday schedules), and
//! the special cases: substitute days for a weekend Christmas and New Year, a US holiday on a
//! Saturday observed on the Friday before — in the year before, for New Year's Day — and
//! one-off proclaimed days.

use custodian_policy::holidays::{holidays, SETS};

fn dates(set: &str, year: i16) -> Vec<String> {
    holidays(set, year)
        .unwrap_or_else(|| panic!("{set} is a set"))
        .iter()
        .map(|h| h.date.to_string()[5..].to_string())
        .collect()
}

#[track_caller]
fn same(set: &str, year: i16, published: &str) {
    let want: Vec<&str> = published.split_whitespace().collect();
    assert_eq!(dates(set, year), want, "{set} {year}");
}

#[test]
fn england_and_wales() {
    same(
        "gb-eng",
        2025,
        "01-01 04-18 04-21 05-05 05-26 08-25 12-25 12-26",
    );
    // Boxing Day on a Saturday: Monday 28.
    same(
        "gb-eng",
        2026,
        "01-01 04-03 04-06 05-04 05-25 08-31 12-25 12-28",
    );
    // Christmas on a Saturday, Boxing Day on a Sunday: Monday 27 and Tuesday 28.
    same(
        "gb-eng",
        2027,
        "01-01 03-26 03-29 05-03 05-31 08-30 12-27 12-28",
    );
    // New Year's Day on a Saturday, the Platinum Jubilee, the State Funeral, and Christmas
    // on a Sunday (Boxing Day keeps Monday 26, Christmas moves to Tuesday 27).
    same(
        "gb-eng",
        2022,
        "01-03 04-15 04-18 05-02 06-02 06-03 08-29 09-19 12-26 12-27",
    );
}

#[test]
fn scotland() {
    // St Andrew's Day on a Sunday: Monday 1 December.
    same(
        "gb-sct",
        2025,
        "01-01 01-02 04-18 05-05 05-26 08-04 12-01 12-25 12-26",
    );
    same(
        "gb-sct",
        2026,
        "01-01 01-02 04-03 05-04 05-25 08-03 11-30 12-25 12-28",
    );
    // 2 January on a Saturday: Monday 4 January.
    same(
        "gb-sct",
        2027,
        "01-01 01-04 03-26 05-03 05-31 08-02 11-30 12-27 12-28",
    );
    // 1 and 2 January on a weekend: Monday 3 and Tuesday 4.
    assert_eq!(&dates("gb-sct", 2022)[..2], ["01-03", "01-04"]);
}

#[test]
fn ireland() {
    same(
        "ie",
        2025,
        "01-01 02-03 03-17 04-21 05-05 06-02 08-04 10-27 12-25 12-26",
    );
    // St Stephen's Day on a Saturday stays there: Ireland moves no public holiday.
    same(
        "ie",
        2026,
        "01-01 02-02 03-17 04-06 05-04 06-01 08-03 10-26 12-25 12-26",
    );
    same(
        "ie",
        2027,
        "01-01 02-01 03-17 03-29 05-03 06-07 08-02 10-25 12-25 12-26",
    );
    // St Patrick's Day on a Sunday (2024) and Christmas on a Sunday (2022): no substitute day.
    // Citizens Information: "Where a public holiday falls on a weekend, you do not have any
    // automatic legal entitlement to have the next working day off"; banks close on the
    // Monday, but that is no public holiday (Organisation of Working Time Act 1997, s. 21 and
    // Sch. 2).
    same(
        "ie",
        2024,
        "01-01 02-05 03-17 04-01 05-06 06-03 08-05 10-28 12-25 12-26",
    );
    let y2022 = dates("ie", 2022);
    assert!(y2022.contains(&"12-25".to_string()) && y2022.contains(&"12-26".to_string()));
    assert!(!y2022.contains(&"12-27".to_string()), "{y2022:?}");
    assert!(
        y2022.contains(&"03-18".to_string()),
        "the once-off day of 2022"
    );
    // St Brigid's Day is 1 February when that is a Friday.
    assert_eq!(dates("ie", 2030)[1], "02-01");
    assert_eq!(
        dates("ie", 2022)[1],
        "03-17",
        "no St Brigid's Day before 2023"
    );
}

#[test]
fn germany() {
    same(
        "de",
        2025,
        "01-01 04-18 04-21 05-01 05-29 06-09 10-03 12-25 12-26",
    );
    same(
        "de",
        2026,
        "01-01 04-03 04-06 05-01 05-14 05-25 10-03 12-25 12-26",
    );
    same(
        "de",
        2027,
        "01-01 03-26 03-29 05-01 05-06 05-17 10-03 12-25 12-26",
    );
}

#[test]
fn france() {
    same(
        "fr",
        2025,
        "01-01 04-21 05-01 05-08 05-29 06-09 07-14 08-15 11-01 11-11 12-25",
    );
    same(
        "fr",
        2026,
        "01-01 04-06 05-01 05-08 05-14 05-25 07-14 08-15 11-01 11-11 12-25",
    );
    // Ascension (6 May) before Victoire 1945 (8 May).
    same(
        "fr",
        2027,
        "01-01 03-29 05-01 05-06 05-08 05-17 07-14 08-15 11-01 11-11 12-25",
    );
}

#[test]
fn united_states_federal() {
    same(
        "us",
        2025,
        "01-01 01-20 02-17 05-26 06-19 07-04 09-01 10-13 11-11 11-27 12-25",
    );
    // Independence Day on a Saturday: Friday 3 July.
    same(
        "us",
        2026,
        "01-01 01-19 02-16 05-25 06-19 07-03 09-07 10-12 11-11 11-26 12-25",
    );
    // Juneteenth and Christmas on Saturdays, Independence Day on a Sunday, and New Year's
    // Day 2028 (a Saturday) observed on Friday 31 December 2027.
    same(
        "us",
        2027,
        "01-01 01-18 02-15 05-31 06-18 07-05 09-06 10-11 11-11 11-25 12-24 12-31",
    );
    assert_eq!(
        dates("us", 2028)[0],
        "01-17",
        "1 January 2028 was observed in 2027"
    );
}

#[test]
fn california_judicial_holidays() {
    same(
        "us-ca",
        2025,
        "01-01 01-20 02-12 02-17 03-31 05-26 06-19 07-04 09-01 09-26 11-11 11-27 11-28 12-25",
    );
    same(
        "us-ca",
        2026,
        "01-01 01-19 02-12 02-16 03-31 05-25 06-19 07-03 09-07 09-25 11-11 11-26 11-27 12-25",
    );
    same(
        "us-ca",
        2027,
        "01-01 01-18 02-12 02-15 03-31 05-31 06-18 07-05 09-06 09-24 11-11 11-25 11-26 12-24 12-31",
    );
    // Cal. Rules of Court, rule 1.11: New Year's Day 2028, Lincoln Day and Veterans Day fall on
    // Saturdays and are observed on the Fridays before (the first in 2027, above); Juneteenth
    // and Christmas on Mondays stay. (Gov. Code §6701 would move only Veterans Day: the courts'
    // rule is the one Code Civ. Proc. §§12a and 135 count.)
    same(
        "us-ca",
        2028,
        "01-17 02-11 02-21 03-31 05-29 06-19 07-04 09-04 09-22 11-10 11-23 11-24 12-25",
    );
    // Before 2022 Columbus Day was a judicial holiday and Native American Day was not.
    let y2021 = dates("us-ca", 2021);
    assert!(y2021.contains(&"10-11".to_string()) && !y2021.contains(&"09-24".to_string()));
}

#[test]
fn every_set_works_for_any_year() {
    for set in SETS {
        for year in [1950, 2000, 2099, 2400, 3000] {
            let days = holidays(set, year).unwrap();
            assert!(days.len() >= 8, "{set} {year}: {days:?}");
            assert!(
                days.windows(2).all(|w| w[0].date < w[1].date),
                "{set} {year}"
            );
            assert!(days.iter().all(|h| h.date.year() == year));
        }
    }
}
