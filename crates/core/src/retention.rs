//! Retention as rules that act: which of a subject's data is due to go, under which rule and
//! since when, given what happened to the subject (lifecycle events), the legal holds that
//! stand, and a date. Also the checks that refuse contradictory lifecycle events, and the
//! policy's minimum age (children).
//!
//! Pure: the store gathers the facts, the server's retention job purges what this says.
//! Every rule has one anchor; a subject whose anchor never happened has nothing due under it.
//! `collected`-anchored rules apply to each record by its own collection time, so they are
//! evaluated per record ([`Retention::record_due`]), not per subject.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;

use custodian_policy::{Policy, RetentionAnchor};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde::{Deserialize, Serialize};

use crate::clock::Micros;
use crate::subject::SubjectRef;

/// The built-in rule for Custodian's own records of data-subject requests: the requester's
/// address and free-text details go this long after the request is final; the fact, type and
/// dates of the request stay as proof of compliance. (The policy has no rule for them: they
/// are Custodian's records, not the company's.)
pub const REQUEST_RECORDS_RULE: &str = "custodian.request_records";
pub const REQUEST_RECORDS_KEEP: &str = "P3Y";

/// What happened to a subject that retention rules are anchored on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleKind {
    AccountOpened,
    AccountClosed,
    LastActivity,
    Purchase,
    AgeDeclared,
}

impl LifecycleKind {
    pub const ALL: [LifecycleKind; 5] = [
        LifecycleKind::AccountOpened,
        LifecycleKind::AccountClosed,
        LifecycleKind::LastActivity,
        LifecycleKind::Purchase,
        LifecycleKind::AgeDeclared,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleKind::AccountOpened => "account_opened",
            LifecycleKind::AccountClosed => "account_closed",
            LifecycleKind::LastActivity => "last_activity",
            LifecycleKind::Purchase => "purchase",
            LifecycleKind::AgeDeclared => "age_declared",
        }
    }

    pub fn parse(s: &str) -> Option<LifecycleKind> {
        LifecycleKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One lifecycle event of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleEvent {
    pub kind: LifecycleKind,
    pub at: Micros,
    pub birth_date: Option<Date>,
    pub under_minimum_age: Option<bool>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
}

/// Why a lifecycle event is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("`at` is in the future; record events when they have happened")]
    InFuture,
    #[error("the account cannot be closed: it was never opened")]
    CloseNeverOpened,
    #[error("the account is already closed")]
    AlreadyClosed,
    #[error("the account is already open")]
    AlreadyOpen,
    #[error("`{0}` is earlier than the account's latest opening or closing; events of an account must come in order")]
    OutOfOrder(&'static str),
    #[error("`age_declared` needs `birth_date` or `under_minimum_age`")]
    AgeWithoutEvidence,
    #[error("`birth_date` is in the future")]
    BirthDateInFuture,
    #[error("`birth_date` and `under_minimum_age` contradict each other")]
    AgeContradiction,
    #[error("`birth_date`, `under_minimum_age` and `country` belong to `age_declared` only")]
    AgeFieldsOnOtherEvent,
}

/// Refuses an event that cannot be true given the subject's earlier events and `now`.
pub fn check_event(
    history: &[LifecycleEvent],
    new: &LifecycleEvent,
    now: Micros,
    children: &MinimumAge,
) -> Result<(), EventError> {
    if new.at > now {
        return Err(EventError::InFuture);
    }
    let account = history
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                LifecycleKind::AccountOpened | LifecycleKind::AccountClosed
            )
        })
        .max_by_key(|e| e.at);
    match new.kind {
        LifecycleKind::AccountClosed => match account {
            None => return Err(EventError::CloseNeverOpened),
            Some(e) if e.kind == LifecycleKind::AccountClosed => {
                return Err(EventError::AlreadyClosed)
            }
            Some(e) if new.at < e.at => return Err(EventError::OutOfOrder("account_closed")),
            Some(_) => {}
        },
        LifecycleKind::AccountOpened => match account {
            Some(e) if e.kind == LifecycleKind::AccountOpened => {
                return Err(EventError::AlreadyOpen)
            }
            // Reopening a closed account is fine, but not before it was closed.
            Some(e) if new.at < e.at => return Err(EventError::OutOfOrder("account_opened")),
            _ => {}
        },
        _ => {}
    }
    if new.kind == LifecycleKind::AgeDeclared {
        if new.birth_date.is_none() && new.under_minimum_age.is_none() {
            return Err(EventError::AgeWithoutEvidence);
        }
        if let Some(b) = new.birth_date {
            if b > date_of(now) {
                return Err(EventError::BirthDateInFuture);
            }
            if let Some(flag) = new.under_minimum_age {
                let computed = children.is_under(b, date_of(new.at), new.country.as_deref());
                if computed != flag {
                    return Err(EventError::AgeContradiction);
                }
            }
        }
    } else if new.birth_date.is_some() || new.under_minimum_age.is_some() {
        return Err(EventError::AgeFieldsOnOtherEvent);
    }
    Ok(())
}

/// The policy's minimum age, per country where it says so (GDPR Art. 8: 13 to 16).
#[derive(Debug, Clone)]
pub struct MinimumAge {
    pub default: u8,
    pub by_country: HashMap<String, u8>,
}

impl MinimumAge {
    pub fn from_policy(policy: &Policy) -> MinimumAge {
        MinimumAge {
            default: policy.children.minimum_age,
            by_country: policy
                .children
                .by_country
                .iter()
                .map(|(c, a)| (c.to_ascii_uppercase(), *a))
                .collect(),
        }
    }

    pub fn for_country(&self, country: Option<&str>) -> u8 {
        country
            .and_then(|c| self.by_country.get(&c.to_ascii_uppercase()))
            .copied()
            .unwrap_or(self.default)
    }

    /// Whether someone born on `birth` is under the minimum age on `on`.
    pub fn is_under(&self, birth: Date, on: Date, country: Option<&str>) -> bool {
        age_on(birth, on) < i32::from(self.for_country(country))
    }

    /// Whether an `age_declared` event makes the subject a child under the policy.
    pub fn declares_child(&self, e: &LifecycleEvent) -> bool {
        e.kind == LifecycleKind::AgeDeclared
            && match (e.under_minimum_age, e.birth_date) {
                (Some(flag), _) => flag,
                (None, Some(b)) => self.is_under(b, date_of(e.at), e.country.as_deref()),
                (None, None) => false,
            }
    }
}

/// Whole years between `birth` and `on` (someone born on 29 February turns a year older on
/// 1 March in common years).
pub fn age_on(birth: Date, on: Date) -> i32 {
    let mut years = i32::from(on.year()) - i32::from(birth.year());
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

/// The UTC calendar date of a time.
pub fn date_of(at: Micros) -> Date {
    ts(at).to_zoned(TimeZone::UTC).date()
}

/// Midnight UTC at the start of `date`, in microseconds.
pub fn start_of(date: Date) -> Micros {
    date.to_zoned(TimeZone::UTC)
        .map(|z| z.timestamp().as_microsecond())
        .unwrap_or(0)
}

fn ts(at: Micros) -> Timestamp {
    Timestamp::from_microsecond(at).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// `at` plus a calendar span (years and months counted on the UTC calendar).
pub fn add_span(at: Micros, span: Span) -> Micros {
    ts(at)
        .to_zoned(TimeZone::UTC)
        .checked_add(span)
        .map(|z| z.timestamp().as_microsecond())
        .unwrap_or(i64::MAX)
}

/// A legal hold: while it stands, nothing it covers is purged. Empty `subject` and
/// `category` together cover everything (a matter-wide freeze).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub id: String,
    pub matter: Option<String>,
    pub subject_ref: Option<String>,
    pub category: Option<String>,
    pub reason: String,
}

impl Hold {
    pub fn covers(&self, subject_ref: &str, category: &str) -> bool {
        self.subject_ref.as_deref().is_none_or(|s| s == subject_ref)
            && self.category.as_deref().is_none_or(|c| c == category)
    }

    /// `subject`, `category` or `matter`: what the hold is placed on.
    pub fn scope(&self) -> &'static str {
        match (&self.subject_ref, &self.category) {
            (Some(_), _) => "subject",
            (None, Some(_)) => "category",
            (None, None) => "matter",
        }
    }
}

/// What is known about one subject. The retention job fills what its source table knows.
#[derive(Debug, Clone, Default)]
pub struct SubjectFacts {
    pub subject_ref: String,
    pub lifecycle: Vec<LifecycleEvent>,
    /// The current consent choice per purpose: `(given, when it was made)`.
    pub consent: HashMap<String, (bool, Micros)>,
}

impl SubjectFacts {
    /// When the anchor happened for this subject, or `None` if it has not (yet).
    fn anchor(&self, rule: &CRule) -> Option<Micros> {
        let latest = |kinds: &[LifecycleKind]| {
            self.lifecycle
                .iter()
                .filter(|e| kinds.contains(&e.kind))
                .map(|e| e.at)
                .max()
        };
        match rule.anchor {
            RetentionAnchor::AccountClosed => {
                // Only while the account stays closed: a reopened account is a customer again.
                let last = self
                    .lifecycle
                    .iter()
                    .filter(|e| {
                        matches!(
                            e.kind,
                            LifecycleKind::AccountOpened | LifecycleKind::AccountClosed
                        )
                    })
                    .max_by_key(|e| (e.at, e.kind == LifecycleKind::AccountClosed))?;
                (last.kind == LifecycleKind::AccountClosed).then_some(last.at)
            }
            RetentionAnchor::LastActivity => latest(&[
                LifecycleKind::AccountOpened,
                LifecycleKind::AccountClosed,
                LifecycleKind::LastActivity,
                LifecycleKind::Purchase,
            ]),
            RetentionAnchor::Purchase => latest(&[LifecycleKind::Purchase]),
            RetentionAnchor::ConsentWithdrawn => {
                // Due once every consent purpose over the rule's data is withdrawn: from the
                // last withdrawal. A purpose still given keeps the data.
                let mut last = None;
                for p in &rule.consent_purposes {
                    match self.consent.get(p) {
                        Some((true, _)) => return None,
                        Some((false, at)) => last = last.max(Some(*at)),
                        None => {}
                    }
                }
                last
            }
            RetentionAnchor::Collected => None,
        }
    }
}

/// One purge that is due (or would be, but for a hold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Due {
    pub subject_ref: String,
    pub rule: String,
    /// The data categories that go.
    pub categories: Vec<String>,
    /// For `consent_withdrawn` rules: the purposes whose consent records go.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consent_purposes: Vec<String>,
    pub due_since: Micros,
    /// Categories kept because a hold covers them, with the holds' ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct CRule {
    id: String,
    categories: Vec<String>,
    anchor: RetentionAnchor,
    keep_for: Span,
    consent_purposes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("retention rule `{rule}`: {message}")]
    Duration { rule: String, message: String },
}

/// The policy's retention rules, compiled.
#[derive(Debug, Clone)]
pub struct Retention {
    rules: Vec<CRule>,
    request_keep: Span,
}

impl Retention {
    pub fn compile(policy: &Policy) -> Result<Retention, RetentionError> {
        let mut rules = Vec::new();
        for r in &policy.retention {
            let keep_for = custodian_policy::parse_duration(&r.keep_for).map_err(|message| {
                RetentionError::Duration {
                    rule: r.id.clone(),
                    message,
                }
            })?;
            let consent_purposes = policy
                .consent_purposes()
                .filter(|p| p.categories.iter().any(|c| r.categories.contains(c)))
                .map(|p| p.id.clone())
                .collect();
            rules.push(CRule {
                id: r.id.clone(),
                categories: r.categories.clone(),
                anchor: r.anchor,
                keep_for,
                consent_purposes,
            });
        }
        Ok(Retention {
            rules,
            request_keep: custodian_policy::parse_duration(REQUEST_RECORDS_KEEP)
                .expect("a valid built-in duration"),
        })
    }

    /// Ids of the rules with `anchor`.
    pub fn rules_anchored_on(&self, anchor: RetentionAnchor) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .filter(move |r| r.anchor == anchor)
            .map(|r| r.id.as_str())
    }

    /// Everything due for the subject by `as_of`, one entry per rule, holds applied: a held
    /// category is listed under `held` instead of `categories`, and a rule whose every
    /// category is held still appears (with no categories) so the DPO sees what waits.
    pub fn due(&self, facts: &SubjectFacts, holds: &[Hold], as_of: Micros) -> Vec<Due> {
        let mut out = Vec::new();
        for rule in &self.rules {
            let Some(anchor) = facts.anchor(rule) else {
                continue;
            };
            let due_since = add_span(anchor, rule.keep_for);
            if due_since > as_of {
                continue;
            }
            let mut categories = Vec::new();
            let mut held = Vec::new();
            for c in &rule.categories {
                match holds.iter().find(|h| h.covers(&facts.subject_ref, c)) {
                    Some(h) => held.push((c.clone(), h.id.clone())),
                    None => categories.push(c.clone()),
                }
            }
            let consent_purposes =
                if rule.anchor == RetentionAnchor::ConsentWithdrawn && held.is_empty() {
                    rule.consent_purposes
                        .iter()
                        .filter(|p| facts.consent.contains_key(*p))
                        .cloned()
                        .collect()
                } else {
                    Vec::new()
                };
            out.push(Due {
                subject_ref: facts.subject_ref.clone(),
                rule: rule.id.clone(),
                categories,
                consent_purposes,
                due_since,
                held,
            });
        }
        out
    }

    /// When the lifecycle records themselves go: once every rule anchored on the account is
    /// due (the longest of them, e.g. accounting records 7 years after closure). `None` while
    /// the account is open or never existed.
    pub fn lifecycle_due(&self, facts: &SubjectFacts) -> Option<(String, Micros)> {
        self.rules
            .iter()
            .filter(|r| r.anchor == RetentionAnchor::AccountClosed)
            .filter_map(|r| Some((r.id.clone(), add_span(facts.anchor(r)?, r.keep_for))))
            .max_by_key(|(_, at)| *at)
    }

    /// When data kept under `rule` by an erasure stops being held: the rule's period counted
    /// from the subject's anchor when its facts have one (the account's closure for
    /// `account_closed` rules), else from `fallback` (the erasure). `None` for an unknown rule.
    pub fn hold_due(&self, rule: &str, facts: &SubjectFacts, fallback: Micros) -> Option<Micros> {
        let r = self.rules.iter().find(|r| r.id == rule)?;
        Some(add_span(facts.anchor(r).unwrap_or(fallback), r.keep_for))
    }

    /// The data categories of a rule (empty for an unknown one).
    pub fn categories(&self, rule: &str) -> &[String] {
        self.rules
            .iter()
            .find(|r| r.id == rule)
            .map(|r| r.categories.as_slice())
            .unwrap_or_default()
    }

    /// When a final request's address and details go (the built-in rule).
    pub fn request_fields_due(&self, final_at: Micros) -> Micros {
        add_span(final_at, self.request_keep)
    }

    /// When a record of a `collected`-anchored rule goes, by its own collection time.
    pub fn record_due(&self, rule: &str, collected_at: Micros) -> Option<Micros> {
        self.rules
            .iter()
            .find(|r| r.id == rule && r.anchor == RetentionAnchor::Collected)
            .map(|r| add_span(collected_at, r.keep_for))
    }

    /// The `collected`-anchored rules: `(id, categories)`, in policy order.
    pub fn collected_rules(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.rules
            .iter()
            .filter(|r| r.anchor == RetentionAnchor::Collected)
            .map(|r| (r.id.as_str(), r.categories.as_slice()))
    }

    /// The cutoff of the `collected` rule `rule` at `as_of` — every record collected at or
    /// before it is due — or `None` for another rule. Records are never purged early: a
    /// record collected at `t` is due from `record_due(rule, t)`. Month ends make that not
    /// monotone (31 August + P6M is 28 February, the same day as 28 August + P6M, but 00:00 on
    /// 31 August is due before 12:00 on 28 August), so the cutoff is the end of the longest run
    /// of collection times that are all due: a record of 31 August waits until every record of
    /// 28 August is due (at most the rest of that day), and none goes before its time.
    pub fn collected_cutoff(&self, rule: &str, as_of: Micros) -> Option<Micros> {
        let r = self
            .rules
            .iter()
            .find(|r| r.id == rule && r.anchor == RetentionAnchor::Collected)?;
        let due = |t: Micros| add_span(t, r.keep_for);
        // Everything collected up to `t` is due: `t`, and the last instant of the day before
        // (date arithmetic clamps whole days, so that instant is the latest due time of any
        // earlier record). This predicate is true, then false, as `t` grows.
        let all_due = |t: Micros| {
            let day_start = start_of(date_of(t));
            due(t) <= as_of && due(day_start - 1) <= as_of
        };
        // The span is at most its calendar length in days plus a margin: start there.
        let days = i64::from(r.keep_for.get_years()) * 366
            + i64::from(r.keep_for.get_months()) * 31
            + i64::from(r.keep_for.get_weeks()) * 7
            + i64::from(r.keep_for.get_days())
            + 2;
        let hours = i64::from(r.keep_for.get_hours()) + r.keep_for.get_minutes() / 60 + 1;
        let mut lo = as_of
            .saturating_sub(days.saturating_mul(86_400_000_000))
            .saturating_sub(hours.saturating_mul(3_600_000_000));
        if !all_due(lo) {
            return Some(i64::MIN);
        }
        let mut hi = as_of;
        if all_due(hi) {
            return Some(hi);
        }
        // Invariant: all_due(lo) and not all_due(hi).
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if all_due(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }
}

/// Subjects known to be under the minimum age, held in memory for `decide` (no I/O there).
/// An empty set costs one atomic load per decision.
#[derive(Default)]
pub struct Minors {
    count: AtomicUsize,
    set: RwLock<HashSet<SubjectRef>>,
}

impl Minors {
    pub fn insert(&self, s: SubjectRef) {
        let mut set = self.set.write().unwrap_or_else(|e| e.into_inner());
        set.insert(s);
        self.count.store(set.len(), Ordering::Release);
    }

    pub fn remove(&self, s: &SubjectRef) {
        let mut set = self.set.write().unwrap_or_else(|e| e.into_inner());
        set.remove(s);
        self.count.store(set.len(), Ordering::Release);
    }

    pub fn contains(&self, s: &SubjectRef) -> bool {
        self.count.load(Ordering::Acquire) != 0
            && self
                .set
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(s)
    }

    pub fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
