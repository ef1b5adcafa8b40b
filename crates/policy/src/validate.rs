//! The rules a policy must keep beyond its TOML shape, each reported with the path it breaks.
//!
//! Findings name a path in the model (`purposes[3].categories[1]`), never a line: `locate`
//! resolves paths against the document, which keeps this module about the rules alone. Every
//! finding says what would fix it, because the reader is a DPO at a terminal, not a parser.

use std::collections::{BTreeSet, HashMap};

use crate::duration::parse_duration;
use crate::locate::Target;
use crate::model::*;

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
    calendar(&p.calendar, &mut r);
    children(&p.children, &mut r);
    texts(p, &mut r);
    dpv_terms(p, &mut r);
    requests(p, &mut r);
    r.out
}

// ── Requests and customers ────────────────────────────────────────────────────────────────

fn requests(p: &Policy, r: &mut Report) {
    for (i, t) in p.requests.auto_approve.iter().enumerate() {
        if !crate::model::REQUEST_TYPES.contains(&t.as_str()) {
            r.at(
                format!("requests.auto_approve[{i}]"),
                format!("unknown request type `{t}`"),
                format!("request types: {}", crate::model::REQUEST_TYPES.join(", ")),
            );
        }
    }
    if p.requests.verification_code_minutes == 0 || p.requests.verification_code_minutes > 24 * 60 {
        r.at(
            "requests.verification_code_minutes",
            "a verification code must work for 1 minute to 24 hours",
            "30 minutes is usual",
        );
    }
    if p.requests.verification_attempts == 0 {
        r.at(
            "requests.verification_attempts",
            "no attempt to enter the code would be allowed",
            "allow a few attempts, e.g. 5",
        );
    }
    for (i, c) in p.customers.iter().enumerate() {
        if !looks_like_email(&c.contact_email) {
            r.at(
                format!("customers[{i}].contact_email"),
                format!("`{}` is not an e-mail address", c.contact_email),
                "requests about this customer's data are forwarded there; give its privacy contact",
            );
        }
    }
}

// ── The document itself ──────────────────────────────────────────────────────────────────

fn meta(p: &Policy, r: &mut Report) {
    let m = &p.policy;
    for (key, value) in [("organisation", &m.organisation), ("version", &m.version)] {
        if value.trim().is_empty() {
            r.at(
                format!("policy.{key}"),
                format!("`{key}` is empty"),
                "write the text people will see",
            );
        }
    }
    check_date(r, "policy.effective_date", &m.effective_date);
    if m.languages.is_empty() {
        r.at(
            "policy.languages",
            "no language is listed",
            "list at least one language tag, e.g. languages = [\"en\"]",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, lang) in m.languages.iter().enumerate() {
        let path = format!("policy.languages[{i}]");
        if !is_language_tag(lang) {
            r.at(
                &path,
                format!("`{lang}` is not a language tag"),
                format!(
                    "use a BCP 47 tag such as `en` or `de-CH`{}",
                    lower_hint(lang)
                ),
            );
        } else if !seen.insert(lang.as_str()) {
            r.at(
                &path,
                format!("language `{lang}` is listed twice"),
                "remove the repeat",
            );
        }
    }
    if p.controllers.is_empty() {
        r.at(
            "",
            "no controller is named",
            "add a [[controllers]] table for each company that decides on the processing (GDPR Art. 13(1)(a))",
        );
    }
    for (i, c) in p.controllers.iter().enumerate() {
        check_country(
            r,
            &format!("controllers[{i}].country"),
            &c.country,
            Target::Value,
        );
    }
    let c = &p.contacts;
    if c.dpo_email.is_none() && c.support_email.is_none() {
        r.at(
            "contacts",
            "no contact address is given",
            "set contacts.dpo_email or contacts.support_email, so people can use their rights",
        );
    }
    for (key, value) in [
        ("dpo_email", &c.dpo_email),
        ("support_email", &c.support_email),
    ] {
        if let Some(v) = value {
            if !looks_like_email(v) {
                r.at(
                    format!("contacts.{key}"),
                    format!("`{v}` is not an e-mail address"),
                    "write an address such as dpo@example.com",
                );
            }
        }
    }
}

fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn lower_hint(s: &str) -> String {
    let lower = s.to_ascii_lowercase().replace('_', "-");
    if lower != s && is_language_tag(&lower) {
        format!("; did you mean `{lower}`?")
    } else {
        String::new()
    }
}

// ── Identifiers ───────────────────────────────────────────────────────────────────────────

fn all_ids(p: &Policy, r: &mut Report) {
    ids(
        r,
        "controllers",
        p.controllers.iter().map(|x| x.id.as_str()),
    );
    ids(r, "categories", p.categories.iter().map(|x| x.id.as_str()));
    ids(r, "subjects", p.subjects.iter().map(|x| x.id.as_str()));
    ids(r, "purposes", p.purposes.iter().map(|x| x.id.as_str()));
    ids(r, "prohibited", p.prohibited.iter().map(|x| x.id.as_str()));
    ids(r, "recipients", p.recipients.iter().map(|x| x.id.as_str()));
    ids(r, "regions", p.regions.iter().map(|x| x.id.as_str()));
    ids(r, "retention", p.retention.iter().map(|x| x.id.as_str()));
    ids(r, "customers", p.customers.iter().map(|x| x.id.as_str()));
    ids(
        r,
        "deadlines.jurisdictions",
        p.deadlines.jurisdictions.iter().map(|x| x.id.as_str()),
    );
}

/// Ids are referenced from other sections, from the API and from stored consent events, so
/// they must be unique and stable-looking: `[a-z][a-z0-9_]*`.
fn ids<'a>(r: &mut Report, section: &str, ids: impl Iterator<Item = &'a str>) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.enumerate() {
        let path = format!("{section}[{i}].id");
        if !is_snake_id(id) {
            let suggestion = snake_case(id);
            let help = if is_snake_id(&suggestion) {
                format!("ids are snake_case ASCII, `[a-z][a-z0-9_]*`: try `{suggestion}`")
            } else {
                "ids are snake_case ASCII, `[a-z][a-z0-9_]*`".to_string()
            };
            r.at(&path, format!("`{id}` is not a valid id"), help);
        }
        if let Some(j) = first.get(id) {
            r.at(
                &path,
                format!("duplicate id `{id}` in {section}"),
                format!("{section}[{j}] already has this id; rename one of them"),
            );
        } else {
            first.insert(id, i);
        }
    }
}

pub(crate) fn is_snake_id(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn snake_case(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            if ch.is_ascii_uppercase() && !out.is_empty() && !out.ends_with('_') {
                let prev_lower = out.chars().last().is_some_and(|c| c.is_ascii_lowercase());
                if prev_lower {
                    out.push('_');
                }
            }
            out.push(ch.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_')
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .to_string()
}

// ── References between sections ───────────────────────────────────────────────────────────

fn references(p: &Policy, r: &mut Report) {
    let categories: Vec<&str> = p.categories.iter().map(|c| c.id.as_str()).collect();
    let subjects: Vec<&str> = p.subjects.iter().map(|c| c.id.as_str()).collect();
    let recipients: Vec<&str> = p.recipients.iter().map(|c| c.id.as_str()).collect();
    let cat = Kind {
        one: "category",
        many: "categories",
        known: &categories,
    };
    let sub = Kind {
        one: "subject kind",
        many: "subjects",
        known: &subjects,
    };
    let rec = Kind {
        one: "recipient",
        many: "recipients",
        known: &recipients,
    };
    for (i, purpose) in p.purposes.iter().enumerate() {
        refs(
            r,
            &format!("purposes[{i}].categories"),
            &purpose.categories,
            &cat,
        );
        refs(
            r,
            &format!("purposes[{i}].subjects"),
            &purpose.subjects,
            &sub,
        );
        refs(
            r,
            &format!("purposes[{i}].recipients"),
            &purpose.recipients,
            &rec,
        );
        if purpose.categories.is_empty() {
            r.at(
                format!("purposes[{i}]"),
                format!("purpose `{}` processes no category", purpose.id),
                "list the categories it processes in `categories`; a decision refuses the others",
            );
        }
    }
    for (i, region) in p.regions.iter().enumerate() {
        let rules = format!("regions[{i}].rules");
        let truncate = &region.rules.truncate_ip_categories;
        refs(
            r,
            &format!("{rules}.truncate_ip_categories"),
            truncate,
            &cat,
        );
        let never = &region.rules.never_store_categories;
        refs(r, &format!("{rules}.never_store_categories"), never, &cat);
    }
    for (i, rule) in p.retention.iter().enumerate() {
        refs(
            r,
            &format!("retention[{i}].categories"),
            &rule.categories,
            &cat,
        );
    }
}

struct Kind<'a> {
    one: &'a str,
    many: &'a str,
    known: &'a [&'a str],
}

fn refs(r: &mut Report, path: &str, list: &[String], kind: &Kind<'_>) {
    let mut seen = BTreeSet::new();
    for (j, id) in list.iter().enumerate() {
        let at = format!("{path}[{j}]");
        if !kind.known.contains(&id.as_str()) {
            r.at(
                &at,
                format!("unknown {} `{id}`", kind.one),
                unknown_help(id, kind.many, kind.known),
            );
        } else if !seen.insert(id.as_str()) {
            r.at(&at, format!("`{id}` is listed twice"), "remove the repeat");
        }
    }
}

fn unknown_help(id: &str, many: &str, known: &[&str]) -> String {
    match closest(id, known.iter().copied()) {
        Some(near) => format!("did you mean `{near}`?"),
        None if known.is_empty() => format!("no {many} are defined; add them first"),
        None => format!("known {many}: {}", known.join(", ")),
    }
}

/// The candidate nearest to `word` by edit distance, when it is near enough to be a typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

// ── Purposes and consent ──────────────────────────────────────────────────────────────────

fn purposes(p: &Policy, r: &mut Report) {
    let languages = &p.policy.languages;
    for (i, purpose) in p.purposes.iter().enumerate() {
        let path = format!("purposes[{i}]");
        match (&purpose.consent, purpose.is_consent()) {
            (None, true) => r.at(
                &path,
                format!("consent purpose `{}` has no notice text", purpose.id),
                format!(
                    "add a [purposes.consent] table with notice.<language> = \"...\" for {}: \
                     the text shown when asking is what the person agrees to",
                    languages.join(", ")
                ),
            ),
            (Some(_), false) => r.at(
                format!("{path}.consent"),
                format!(
                    "purpose `{}` rests on {} but has a consent table",
                    purpose.id,
                    purpose.legal_basis.id()
                ),
                "remove the consent table, or set legal_basis = \"consent\"",
            ),
            (Some(consent), true) => consent_texts(r, &path, &purpose.id, consent, languages),
            (None, false) => {}
        }
        if purpose.legal_basis == LegalBasis::LegitimateInterest
            && purpose
                .interest
                .as_deref()
                .is_none_or(|s| s.trim().is_empty())
        {
            r.at(
                &path,
                format!(
                    "purpose `{}` rests on legitimate interest but does not state it",
                    purpose.id
                ),
                "add interest = \"...\": the notice must say which interest is pursued (GDPR Art. 13(1)(d))",
            );
        }
        let personal: Vec<&str> = purpose
            .categories
            .iter()
            .filter(|c| p.category(c).is_some_and(|c| c.personal))
            .map(String::as_str)
            .collect();
        if let Some(first_personal) = personal.first() {
            for (j, id) in purpose.recipients.iter().enumerate() {
                if p.recipient(id).is_some_and(|rec| rec.non_personal_only) {
                    r.at(
                        format!("{path}.recipients[{j}]"),
                        format!(
                            "recipient `{id}` only receives non-personal data, but purpose `{}` processes personal data (`{first_personal}`)",
                            purpose.id
                        ),
                        "share only non-personal categories with it in a purpose of its own, or remove it here",
                    );
                }
            }
        }
    }
}

fn consent_texts(
    r: &mut Report,
    path: &str,
    id: &str,
    consent: &ConsentSpec,
    languages: &[String],
) {
    let notice_path = format!("{path}.consent.notice");
    for lang in languages {
        match consent.notice.get(lang) {
            None => r.at(
                &notice_path,
                format!("consent purpose `{id}` has no notice text in `{lang}`"),
                format!(
                    "add notice.{lang} = \"...\" (every language of policy.languages needs one)"
                ),
            ),
            Some(text) if text.trim().is_empty() => r.at(
                format!("{notice_path}.{lang}"),
                format!("the `{lang}` notice text of `{id}` is empty"),
                "write what the person is asked to agree to",
            ),
            Some(_) => {}
        }
        if consent.banner && !consent.label.contains_key(lang) {
            r.at(
                format!("{path}.consent.label"),
                format!("banner purpose `{id}` has no label in `{lang}`"),
                format!("add label.{lang} = \"...\", the name of its toggle in the banner"),
            );
        }
    }
    for (field, map) in [("notice", &consent.notice), ("label", &consent.label)] {
        for lang in map.keys() {
            if !languages.contains(lang) {
                r.at_key(
                    format!("{path}.consent.{field}.{lang}"),
                    format!("`{lang}` is not one of policy.languages"),
                    format!("add `{lang}` to policy.languages, or remove this text"),
                );
            }
        }
    }
}

// ── Retention ─────────────────────────────────────────────────────────────────────────────

fn retention(p: &Policy, r: &mut Report) {
    for (i, rule) in p.retention.iter().enumerate() {
        check_duration(r, &format!("retention[{i}].keep_for"), &rule.keep_for);
        if rule.categories.is_empty() {
            r.at(
                format!("retention[{i}].categories"),
                format!("retention rule `{}` covers no category", rule.id),
                "list the categories it applies to",
            );
        }
    }
    for (i, category) in p.categories.iter().enumerate() {
        let covered = p
            .retention
            .iter()
            .any(|rule| rule.categories.contains(&category.id));
        if category.personal && !covered {
            let example = p
                .retention
                .first()
                .map(|rule| format!(", e.g. `{}`", rule.id))
                .unwrap_or_default();
            r.at(
                format!("categories[{i}]"),
                format!("personal category `{}` has no retention rule", category.id),
                format!(
                    "add `{}` to the categories of a [[retention]] rule{example}, or add a rule for it: personal data may not be kept forever",
                    category.id
                ),
            );
        }
    }
}

// ── Countries, recipients, regions ────────────────────────────────────────────────────────

const TRANSFER_MECHANISMS: [&str; 6] = ["adequacy", "scc", "bcr", "dpf", "derogation", "none"];

fn places(p: &Policy, r: &mut Report) {
    for (i, rec) in p.recipients.iter().enumerate() {
        countries(r, &format!("recipients[{i}].countries"), &rec.countries);
        if !TRANSFER_MECHANISMS.contains(&rec.transfer_mechanism.as_str()) {
            let m = &rec.transfer_mechanism;
            let help = match closest(m, TRANSFER_MECHANISMS.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("use one of: {}", TRANSFER_MECHANISMS.join(", ")),
            };
            r.at(
                format!("recipients[{i}].transfer_mechanism"),
                format!("unknown transfer mechanism `{m}`"),
                help,
            );
        }
    }
    let mut region_of: HashMap<&str, &str> = HashMap::new();
    for (i, region) in p.regions.iter().enumerate() {
        let path = format!("regions[{i}].countries");
        countries(r, &path, &region.countries);
        for (j, c) in region.countries.iter().enumerate() {
            match region_of.get(c.as_str()) {
                Some(other) if *other != region.id => r.at(
                    format!("{path}[{j}]"),
                    format!("`{c}` is already in region `{other}`"),
                    "a country belongs to one region only; remove it from one of them",
                ),
                _ => {
                    region_of.insert(c, &region.id);
                }
            }
        }
        if let Some(residency) = &region.rules.residency {
            countries(
                r,
                &format!("regions[{i}].rules.residency.countries"),
                &residency.countries,
            );
            if residency.tag.trim().is_empty() {
                r.at(
                    format!("regions[{i}].rules.residency.tag"),
                    "the residency tag is empty",
                    "name the obligation, e.g. tag = \"EU\"",
                );
            }
        }
    }
}

/// Checks a list of country codes; an empty list is a problem too, since every list of
/// countries in the file says where something applies.
fn countries(r: &mut Report, path: &str, list: &[String]) {
    if list.is_empty() {
        r.at(
            path,
            "no country is listed",
            "list ISO 3166-1 alpha-2 codes such as \"IE\"",
        );
    }
    let mut seen = BTreeSet::new();
    for (j, c) in list.iter().enumerate() {
        let at = format!("{path}[{j}]");
        if check_country(r, &at, c, Target::Value) && !seen.insert(c.as_str()) {
            r.at(&at, format!("`{c}` is listed twice"), "remove the repeat");
        }
    }
}

fn check_country(r: &mut Report, path: &str, code: &str, target: Target) -> bool {
    if is_country_code(code) {
        return true;
    }
    let message = format!("`{code}` is not a country code");
    r.push(path.to_string(), message, country_help(code), target);
    false
}

/// Two upper-case letters, but not the codes ISO keeps reserved that people often write by
/// mistake (`UK`, `EL`, `EU`): a rule keyed on them would never match a real visitor.
fn is_country_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) && !matches!(s, "UK" | "EL" | "EU")
}

fn country_help(code: &str) -> String {
    let upper = code.trim().to_ascii_uppercase();
    let base = "use the ISO 3166-1 alpha-2 code: two upper-case letters";
    match upper.as_str() {
        "UK" => format!("{base}; the United Kingdom is `GB`"),
        "EL" => format!("{base}; Greece is `GR`"),
        "EU" => format!("{base}; list the member states one by one"),
        _ if is_country_code(&upper) => format!("{base}; did you mean `{upper}`?"),
        _ => format!("{base}, such as `DE`"),
    }
}

// ── Deadlines, calendar, children ─────────────────────────────────────────────────────────

fn deadlines(d: &Deadlines, r: &mut Report) {
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

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn calendar(c: &Calendar, r: &mut Report) {
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

fn children(c: &Children, r: &mut Report) {
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

// ── Texts ─────────────────────────────────────────────────────────────────────────────────

fn texts(p: &Policy, r: &mut Report) {
    for (i, lang) in p.policy.languages.iter().enumerate() {
        if !p.texts.contains_key(lang) {
            r.at(
                format!("policy.languages[{i}]"),
                format!("language `{lang}` has no banner texts"),
                format!("add a [texts.{lang}] table (see [texts.<language>] in docs/policy.md)"),
            );
        }
    }
    for lang in p.texts.keys() {
        if !p.policy.languages.contains(lang) {
            r.at_key(
                format!("texts.{lang}"),
                format!("`{lang}` is not one of policy.languages"),
                format!("add `{lang}` to policy.languages, or remove [texts.{lang}]"),
            );
        }
    }
}

fn dpv_terms(p: &Policy, r: &mut Report) {
    let terms = p
        .categories
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("categories[{i}].dpv"), &c.dpv))
        .chain(
            p.purposes
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("purposes[{i}].dpv"), &c.dpv)),
        )
        .chain(
            p.prohibited
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("prohibited[{i}].dpv"), &c.dpv)),
        );
    for (path, term) in terms {
        if let Some(term) = term {
            if !crate::dpv::is_term(term) {
                r.at(
                    path,
                    format!("`{term}` is not a DPV term"),
                    format!(
                        "write prefix:Name with a prefix of {} (e.g. `dpv:DirectMarketing`), or a full https IRI",
                        crate::dpv::PREFIXES.map(|(p, _)| p).join(", ")
                    ),
                );
            }
        }
    }
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
