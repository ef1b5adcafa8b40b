//! Values checked one by one: dates, durations, countries and regions, transfer mechanisms, time
//! zones, working days and hours, children's ages, languages and DPV terms.

use super::one;
use crate::{mutate, position, problems};

#[test]
fn bad_dates() {
    let text = mutate(
        "effective_date = \"2018-05-25\"",
        "effective_date = \"2018-02-30\"",
    );
    one(
        &text,
        "\"2018-02-30\"",
        "policy.effective_date",
        "not a date",
    );
    let text = mutate(
        "holidays = \"gb-eng\"",
        "holidays = \"gb-eng\"\nextra_holidays = [\"2027-01-04\", \"2027-1-1\"]",
    );
    one(
        &text,
        "\"2027-1-1\"",
        "calendars[0].extra_holidays[1]",
        "not a date",
    );
}

#[test]
fn bad_durations() {
    let text = mutate("keep_for = \"P7Y\"", "keep_for = \"7 years\"");
    let p = one(
        &text,
        "\"7 years\"",
        "retention[1].keep_for",
        "not a duration",
    );
    assert!(p.help.contains("P7Y"));
    let text = mutate("erase_within = \"PT24H\"", "erase_within = \"P24H\"");
    let p = one(&text, "\"P24H\"", "children.erase_within", "not a duration");
    assert!(p.help.contains("after `T`"), "{}", p.help);
    let text = mutate("answer_within = \"P45D\"", "answer_within = \"P45X\"");
    one(
        &text,
        "\"P45X\"",
        "deadlines.jurisdictions[2].answer_within",
        "not a duration",
    );
}

#[test]
fn bad_country_codes() {
    let text = mutate(
        "country = \"GB\"\nwebsite = \"https://novationmusic.com\"",
        "country = \"UK\"\nwebsite = \"https://novationmusic.com\"",
    );
    let p = one(
        &text,
        "\"UK\"",
        "controllers[1].country",
        "not a country code",
    );
    assert!(p.help.contains("`GB`"), "{}", p.help);
    let text = mutate(
        "countries = [\"IE\", \"US\"]",
        "countries = [\"IE\", \"usa\"]",
    );
    one(
        &text,
        "\"usa\"",
        "recipients[6].countries[1]",
        "not a country code",
    );
    let text = mutate("DE = 16", "de = 16");
    let p = one(
        &text,
        "de = 16",
        "children.by_country.de",
        "not a country code",
    );
    assert!(p.help.contains("`DE`"), "{}", p.help);
}

#[test]
fn country_in_two_regions() {
    let text = mutate(
        "[regions.rules]",
        "[[regions]]\nid = \"germany\"\nname = \"Germany\"\ncountries = [\"DE\"]\n\n[regions.rules]",
    );
    // The inserted region takes the `[regions.rules]` table that followed, which is fine:
    // what matters is the overlap.
    one(
        &text,
        "\"DE\"]",
        "regions[1].countries[0]",
        "already in region `europe`",
    );
}

#[test]
fn bad_transfer_mechanism() {
    let text = mutate(
        "countries = [\"US\"]\ntransfer_mechanism = \"dpf\"\n\n[[recipients]]\nid = \"email_service\"",
        "countries = [\"US\"]\ntransfer_mechanism = \"privacy_shield\"\n\n[[recipients]]\nid = \"email_service\"",
    );
    one(
        &text,
        "\"privacy_shield\"",
        "recipients[3].transfer_mechanism",
        "unknown transfer mechanism",
    );
}

#[test]
fn bad_time_zone() {
    let text = mutate(
        "time_zone = \"Europe/London\"",
        "time_zone = \"Europe/Londn\"",
    );
    let p = one(
        &text,
        "\"Europe/Londn\"",
        "calendars[0].time_zone",
        "unknown time zone",
    );
    assert_eq!(p.help, "did you mean `Europe/London`?");
}

#[test]
fn bad_working_day() {
    let text = mutate(
        "\"thursday\", \"friday\"]\nopens = \"09:00\"\ncloses = \"17:30\"\nholidays = \"ie\"",
        "\"thursday\", \"fryday\"]\nopens = \"09:00\"\ncloses = \"17:30\"\nholidays = \"ie\"",
    );
    let p = one(
        &text,
        "\"fryday\"",
        "calendars[1].working_days[4]",
        "not a day of the week",
    );
    assert_eq!(p.help, "did you mean `friday`?");
}

#[test]
fn opening_after_closing() {
    let london = "opens = \"09:00\"\ncloses = \"17:30\"\nholidays = \"gb-eng\"";
    let text = mutate(
        london,
        "opens = \"18:00\"\ncloses = \"17:30\"\nholidays = \"gb-eng\"",
    );
    one(
        &text,
        "\"17:30\"\nholidays = \"gb-eng\"",
        "calendars[0].closes",
        "close (17:30) before they open (18:00)",
    );
    let text = mutate(
        london,
        "opens = \"9am\"\ncloses = \"17:30\"\nholidays = \"gb-eng\"",
    );
    one(&text, "\"9am\"", "calendars[0].opens", "not a time of day");
}

#[test]
fn children_ages() {
    let text = mutate("DE = 16", "DE = 18");
    one(
        &text,
        "18, NL",
        "children.by_country.DE",
        "outside 13 to 16",
    );
    let text = mutate("minimum_age = 13", "minimum_age = 0");
    one(
        &text,
        "0\nerase_within",
        "children.minimum_age",
        "minimum age is 0",
    );
}

#[test]
fn non_personal_recipient_of_personal_data() {
    let text = mutate(
        "recipients = [\"email_service\"]\ndpv = \"dpv:DirectMarketing\"",
        "recipients = [\"email_service\", \"industry_partners\"]\ndpv = \"dpv:DirectMarketing\"",
    );
    one(
        &text,
        "\"industry_partners\"]\ndpv = \"dpv:DirectMarketing\"",
        "purposes[0].recipients[1]",
        "only receives non-personal data",
    );
}

#[test]
fn texts_for_every_language_and_only_those() {
    let text = mutate("[texts.de]", "[texts.fr]");
    let found = problems(&text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].path, "policy.languages[1]");
    assert_eq!((found[0].line, found[0].column), position(&text, "\"de\"]"));
    assert!(found[0].message.contains("`de` has no banner texts"));
    assert_eq!(found[1].path, "texts.fr");
    assert_eq!((found[1].line, found[1].column), position(&text, "fr]"));
}

#[test]
fn bad_dpv_term() {
    let text = mutate("dpv = \"dpv:DirectMarketing\"", "dpv = \"DirectMarketing\"");
    one(
        &text,
        "\"DirectMarketing\"",
        "purposes[0].dpv",
        "not a DPV term",
    );
}
