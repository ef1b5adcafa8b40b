//! The rules a policy must keep beyond its TOML shape, each reported with the path it breaks.
//!
//! Findings name a path in the model (`purposes[3].categories[1]`), never a line: `locate`
//! resolves paths against the document, which keeps this module about the rules alone. Every
//! finding says what would fix it, because the reader is a DPO at a terminal, not a parser.

use std::collections::{BTreeSet, HashMap};

use crate::duration::parse_duration;
use crate::locate::Target;
use crate::model::*;

mod accountability;
mod disclosures;
mod document;
mod identifiers;
mod places;
mod purposes;
mod references;
mod schedule;
mod translations;

use document::{dpv_terms, meta, requests, texts};
use identifiers::all_ids;
pub(crate) use identifiers::closest;
use places::{check_country, countries, places};
use purposes::{purposes, retention};
use references::references;
use schedule::{calendar_references, calendars, children, deadlines};
pub(crate) use translations::{stale as stale_translations, translatable};

/// A broken rule, addressed by its path in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub path: String,
    pub message: String,
    pub help: String,
    pub target: Target,
}

#[derive(Default)]
struct Report {
    out: Vec<Finding>,
}

impl Report {
    fn at(&mut self, path: impl Into<String>, message: impl Into<String>, help: impl Into<String>) {
        self.push(path.into(), message.into(), help.into(), Target::Value);
    }

    fn at_key(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.push(path.into(), message.into(), help.into(), Target::Key);
    }

    fn push(&mut self, path: String, message: String, help: String, target: Target) {
        self.out.push(Finding {
            path,
            message,
            help,
            target,
        });
    }
}

/// Every rule broken by `p`, in no particular order (`load` sorts them by position).
pub(crate) fn validate(p: &Policy) -> Vec<Finding> {
    let mut r = Report::default();
    meta(p, &mut r);
    all_ids(p, &mut r);
    references(p, &mut r);
    purposes(p, &mut r);
    retention(p, &mut r);
    places(p, &mut r);
    deadlines(&p.deadlines, &mut r);
    calendars(&p.calendars, &mut r);
    calendar_references(p, &mut r);
    children(&p.children, &mut r);
    texts(p, &mut r);
    dpv_terms(p, &mut r);
    requests(p, &mut r);
    disclosures::rights(p, &mut r);
    disclosures::notice(p, &mut r);
    translations::translations(p, &mut r);
    accountability::reports(p, &mut r);
    accountability::measures(p, &mut r);
    r.out
}

// ── Small value checks shared by the sections ─────────────────────────────────────────────

fn check_date(r: &mut Report, path: &str, s: &str) {
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped || s.parse::<jiff::civil::Date>().is_err() {
        r.at(
            path,
            format!("`{s}` is not a date"),
            "write a calendar date as YYYY-MM-DD, e.g. 2018-05-25",
        );
    }
}

fn check_duration(r: &mut Report, path: &str, s: &str) -> Option<jiff::Span> {
    match parse_duration(s) {
        Ok(span) => Some(span),
        Err(e) => {
            r.at(path, format!("`{s}` is not a duration"), e);
            None
        }
    }
}

fn check_positive_duration(r: &mut Report, path: &str, s: &str) {
    if let Some(span) = check_duration(r, path, s) {
        if crate::duration::approx_days(&span) <= 0.0 {
            r.at(
                path,
                "the deadline is zero",
                "give the time allowed, e.g. P1M",
            );
        }
    }
}

fn check_time(r: &mut Report, path: &str, s: &str) -> Option<(u8, u8)> {
    let parsed = s
        .split_once(':')
        .filter(|(h, m)| h.len() == 2 && m.len() == 2)
        .and_then(|(h, m)| Some((h.parse::<u8>().ok()?, m.parse::<u8>().ok()?)))
        .filter(|(h, m)| *h < 24 && *m < 60);
    if parsed.is_none() {
        r.at(
            path,
            format!("`{s}` is not a time of day"),
            "write HH:MM on a 24-hour clock, e.g. 09:00",
        );
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::document::{is_language_tag, looks_like_email};
    use super::identifiers::{is_snake_id, snake_case};
    use super::places::is_country_code;
    use super::*;

    #[test]
    fn ids_and_suggestions() {
        assert!(is_snake_id("website_user2"));
        assert!(!is_snake_id("Website"));
        assert!(!is_snake_id("2fa"));
        assert!(!is_snake_id(""));
        assert_eq!(snake_case("WebsiteUser"), "website_user");
        assert_eq!(snake_case("website-user"), "website_user");
        assert_eq!(
            closest("analytcs", ["marketing", "analytics"].into_iter()),
            Some("analytics")
        );
        assert_eq!(closest("zzz", ["marketing"].into_iter()), None);
    }

    #[test]
    fn small_values() {
        assert!(is_language_tag("en") && is_language_tag("de-CH") && !is_language_tag("EN"));
        assert!(is_country_code("GB") && !is_country_code("gb") && !is_country_code("GBR"));
        assert!(looks_like_email("dpo@example.com") && !looks_like_email("dpo"));
    }
}
