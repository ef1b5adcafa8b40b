//! Retention rules against plain data: anchors, the 7-year rule, holds, reopened accounts,
//! consent withdrawal, contradictory lifecycle events, and children's minimum ages.

use std::collections::HashMap;

use custodian_core::retention::{
    age_on, check_event, start_of, EventError, Hold, LifecycleEvent, LifecycleKind, MinimumAge,
    Retention, SubjectFacts,
};
use jiff::civil::date;

fn at(y: i16, m: i8, d: i8) -> i64 {
    start_of(date(y, m, d))
}

fn ev(kind: LifecycleKind, when: i64) -> LifecycleEvent {
    LifecycleEvent {
        kind,
        at: when,
        birth_date: None,
        under_minimum_age: None,
        country: None,
    }
}

fn facts(events: Vec<LifecycleEvent>) -> SubjectFacts {
    SubjectFacts {
        subject_ref: "s1".into(),
        lifecycle: events,
        consent: HashMap::new(),
    }
}

fn rules() -> Retention {
    Retention::compile(&custodian_policy::example()).unwrap()
}

#[test]
fn closure_starts_the_30_day_and_7_year_clocks() {
    use LifecycleKind::*;
    let f = facts(vec![
        ev(AccountOpened, at(2020, 3, 1)),
        ev(AccountClosed, at(2026, 1, 1)),
    ]);
    let r = rules();
    assert!(r.due(&f, &[], at(2026, 1, 30)).is_empty());
    let due = r.due(&f, &[], at(2026, 2, 1));
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].rule, "while_customer");
    assert_eq!(due[0].due_since, at(2026, 1, 31));
    assert!(due[0].categories.contains(&"website_user".to_owned()));

    let due = r.due(&f, &[], at(2033, 1, 1));
    let ids: Vec<&str> = due.iter().map(|d| d.rule.as_str()).collect();
    assert_eq!(
        ids,
        ["while_customer", "accounting_records", "support_tickets"]
    );
    assert_eq!(
        due[1].due_since,
        at(2033, 1, 1),
        "exactly seven calendar years"
    );
    assert!(r
        .due(&f, &[], at(2032, 12, 31))
        .iter()
        .all(|d| d.rule != "accounting_records"));
    assert_eq!(
        r.lifecycle_due(&f),
        Some(("accounting_records".to_owned(), at(2033, 1, 1)))
    );
}

#[test]
fn a_reopened_account_is_a_customer_again() {
    use LifecycleKind::*;
    let f = facts(vec![
        ev(AccountOpened, at(2020, 1, 1)),
        ev(AccountClosed, at(2021, 1, 1)),
        ev(AccountOpened, at(2021, 6, 1)),
    ]);
    assert!(rules().due(&f, &[], at(2040, 1, 1)).iter().all(|d| ![
        "while_customer",
        "accounting_records"
    ]
    .contains(&d.rule.as_str())));
    assert_eq!(rules().lifecycle_due(&f), None);
}

#[test]
fn last_activity_counts_purchases_and_opening() {
    use LifecycleKind::*;
    let f = facts(vec![
        ev(AccountOpened, at(2020, 1, 1)),
        ev(LastActivity, at(2021, 1, 1)),
        ev(Purchase, at(2022, 1, 1)),
    ]);
    let due = rules().due(&f, &[], at(2025, 1, 2));
    let support = due.iter().find(|d| d.rule == "support_tickets").unwrap();
    assert_eq!(support.due_since, at(2025, 1, 1));
}

#[test]
fn holds_keep_what_they_cover_until_lifted() {
    use LifecycleKind::*;
    let f = facts(vec![
        ev(AccountOpened, at(2020, 1, 1)),
        ev(AccountClosed, at(2026, 1, 1)),
    ]);
    let by_subject = Hold {
        id: "h1".into(),
        matter: None,
        subject_ref: Some("s1".into()),
        category: None,
        reason: "litigation".into(),
    };
    let due = rules().due(&f, std::slice::from_ref(&by_subject), at(2034, 1, 1));
    assert!(due
        .iter()
        .all(|d| d.categories.is_empty() && !d.held.is_empty()));
    let other_subject = Hold {
        subject_ref: Some("s2".into()),
        ..by_subject.clone()
    };
    let due = rules().due(&f, &[other_subject], at(2034, 1, 1));
    assert!(due.iter().all(|d| d.held.is_empty()));
    let by_category = Hold {
        subject_ref: None,
        category: Some("payment".into()),
        ..by_subject.clone()
    };
    let due = rules().due(&f, std::slice::from_ref(&by_category), at(2034, 1, 1));
    let acc = due.iter().find(|d| d.rule == "accounting_records").unwrap();
    assert!(acc.categories.is_empty());
    assert_eq!(acc.held, vec![("payment".to_owned(), "h1".to_owned())]);
    let wc = due.iter().find(|d| d.rule == "while_customer").unwrap();
    assert_eq!(wc.categories.len(), 3);
    let matter = Hold {
        subject_ref: None,
        category: None,
        matter: Some("regulator order".into()),
        ..by_subject
    };
    assert_eq!(matter.scope(), "matter");
    assert!(matter.covers("anyone", "anything"));
    assert_eq!(by_category.scope(), "category");
}

#[test]
fn consent_rules_wait_until_every_covering_purpose_is_withdrawn() {
    let r = rules();
    let mut f = facts(Vec::new());
    f.consent
        .insert("marketing".into(), (false, at(2026, 1, 1)));
    let due = r.due(&f, &[], at(2026, 2, 1));
    let m = due
        .iter()
        .find(|d| d.rule == "marketing_preferences")
        .unwrap();
    assert_eq!(m.due_since, at(2026, 1, 31));
    assert!(m.consent_purposes.contains(&"marketing".to_owned()));
    // Another purpose over marketing data still given: nothing goes.
    let mut g = f.clone();
    let other = custodian_policy::example()
        .consent_purposes()
        .filter(|p| p.id != "marketing" && p.categories.iter().any(|c| c == "marketing"))
        .map(|p| p.id.clone())
        .next();
    if let Some(other) = other {
        g.consent.insert(other, (true, at(2025, 1, 1)));
        assert!(r
            .due(&g, &[], at(2027, 1, 1))
            .iter()
            .all(|d| d.rule != "marketing_preferences"));
    }
}

#[test]
fn contradictory_events_are_refused_with_a_reason() {
    use LifecycleKind::*;
    let ages = MinimumAge::from_policy(&custodian_policy::example());
    let now = at(2026, 1, 1);
    let check = |h: &[LifecycleEvent], e: &LifecycleEvent| check_event(h, e, now, &ages);
    assert_eq!(
        check(&[], &ev(AccountClosed, now)),
        Err(EventError::CloseNeverOpened)
    );
    let opened = ev(AccountOpened, at(2025, 1, 1));
    let closed = ev(AccountClosed, at(2025, 6, 1));
    assert_eq!(check(&[opened.clone()], &closed), Ok(()));
    assert_eq!(
        check(&[opened.clone(), closed.clone()], &ev(AccountClosed, now)),
        Err(EventError::AlreadyClosed)
    );
    assert_eq!(
        check(&[opened.clone()], &ev(AccountOpened, now)),
        Err(EventError::AlreadyOpen)
    );
    assert_eq!(
        check(&[opened.clone()], &ev(AccountClosed, at(2024, 1, 1))),
        Err(EventError::OutOfOrder("account_closed"))
    );
    assert_eq!(
        check(&[], &ev(Purchase, now + 1)),
        Err(EventError::InFuture)
    );
    assert_eq!(
        check(&[], &ev(AgeDeclared, now)),
        Err(EventError::AgeWithoutEvidence)
    );
    let mut age = ev(AgeDeclared, now);
    age.birth_date = Some(date(2027, 1, 1));
    assert_eq!(check(&[], &age), Err(EventError::BirthDateInFuture));
    age.birth_date = Some(date(2015, 1, 1));
    age.under_minimum_age = Some(false);
    assert_eq!(check(&[], &age), Err(EventError::AgeContradiction));
    let mut p = ev(Purchase, now);
    p.under_minimum_age = Some(true);
    assert_eq!(check(&[], &p), Err(EventError::AgeFieldsOnOtherEvent));
    for e in [EventError::InFuture, EventError::AgeContradiction] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn minimum_age_is_per_country() {
    use LifecycleKind::*;
    let ages = MinimumAge::from_policy(&custodian_policy::example());
    assert_eq!(ages.for_country(None), 13);
    assert_eq!(ages.for_country(Some("de")), 16);
    assert_eq!(ages.for_country(Some("GB")), 13);
    let birth = date(2011, 6, 1);
    let on = date(2026, 1, 1); // 14 years old
    assert!(!ages.is_under(birth, on, Some("GB")));
    assert!(ages.is_under(birth, on, Some("DE")));
    assert!(!ages.is_under(birth, on, Some("IT")));
    assert!(ages.is_under(birth, on, Some("FR")));
    assert_eq!(age_on(date(2012, 2, 29), date(2025, 2, 28)), 12);
    assert_eq!(age_on(date(2012, 2, 29), date(2025, 3, 1)), 13);
    let mut e = ev(AgeDeclared, at(2026, 1, 1));
    e.birth_date = Some(birth);
    e.country = Some("DE".into());
    assert!(ages.declares_child(&e));
    e.country = Some("GB".into());
    assert!(!ages.declares_child(&e));
    e.under_minimum_age = Some(true);
    assert!(ages.declares_child(&e));
}

#[test]
fn collected_rules_apply_per_record() {
    let r = rules();
    assert_eq!(
        r.record_due("analytics_events", at(2025, 1, 1)),
        Some(at(2026, 3, 1))
    );
    assert_eq!(r.record_due("accounting_records", at(2025, 1, 1)), None);
    let collected: Vec<&str> = r.collected_rules().map(|(id, _)| id).collect();
    assert_eq!(
        collected,
        ["analytics_events", "server_logs", "surveys", "applications"]
    );
}

/// The cutoff of a `collected` rule: every record collected at or before it is due, and it is
/// the latest such time. No record goes before its own time; at month ends (31 August + P6M is
/// 28 February) a record of 29–31 August waits until all of 28 August is due.
#[test]
fn the_collected_cutoff_is_the_last_due_collection_time() {
    let r = rules();
    let cutoff = r.collected_cutoff("applications", at(2026, 2, 28)).unwrap();
    assert_eq!(
        cutoff,
        at(2025, 8, 28),
        "28 August 00:00, not a moment later"
    );
    let cutoff = r.collected_cutoff("applications", at(2026, 3, 1)).unwrap();
    assert_eq!(cutoff, at(2025, 9, 1), "then 29-31 August go together");
    let cutoff = r.collected_cutoff("server_logs", at(2026, 4, 1)).unwrap();
    assert_eq!(
        cutoff,
        at(2026, 1, 1),
        "90 days: 1 January 2026 00:00 exactly"
    );
    assert_eq!(
        r.collected_cutoff("accounting_records", at(2026, 1, 1)),
        None
    );
    const DAY: i64 = 86_400_000_000;
    for rule in ["analytics_events", "server_logs", "surveys", "applications"] {
        for day in 0..400 {
            let as_of = at(2025, 1, 1) + day * DAY + (day % 7) * 3_600_000_000;
            let c = r.collected_cutoff(rule, as_of).unwrap();
            let due = |t: i64| r.record_due(rule, t).unwrap();
            // Never early: the cutoff and times before it (each day's last instant too).
            for k in 0..40 {
                assert!(due(c - k * DAY / 4) <= as_of, "{rule} {day} {k}");
            }
            assert!(due(start_of(custodian_core::retention::date_of(c)) - 1) <= as_of);
            // The latest: one microsecond more is not all due.
            let next = c + 1;
            let day_end = start_of(custodian_core::retention::date_of(next)) - 1;
            assert!(due(next) > as_of || due(day_end) > as_of, "{rule} {day}");
        }
    }
}

#[test]
fn decide_refuses_every_purpose_for_a_child() {
    use custodian_core::decide::{ConsentLookup, ConsentStatus, DecisionInput, Engine};
    use custodian_core::retention::Minors;
    use custodian_core::subject::SubjectRef;
    struct Lookup(Minors);
    impl ConsentLookup for Lookup {
        fn status(&self, _: &SubjectRef, _: usize) -> ConsentStatus {
            ConsentStatus::Given
        }
        fn under_minimum_age(&self, s: &SubjectRef) -> bool {
            self.0.contains(s)
        }
    }
    let policy = custodian_policy::example();
    let engine = Engine::compile(&policy).unwrap();
    let child = SubjectRef([7; 32]);
    let adult = SubjectRef([8; 32]);
    let lookup = Lookup(Minors::default());
    lookup.0.insert(child);
    assert_eq!(lookup.0.len(), 1);
    for p in &policy.purposes {
        let input = |subject| DecisionInput {
            subject,
            purpose: &p.id,
            categories: &[] as &[String],
            country: "GB",
            recipient: None,
            gpc: false,
            // Large enough for purposes with a `min_group` (aggregate sharing).
            group_size: Some(1000),
        };
        let d = engine.decide(&input(child), &lookup).unwrap();
        assert!(!d.allowed, "{}", p.id);
        assert_eq!(&*d.rule, "children.minimum_age");
        assert!(
            engine.decide(&input(adult), &lookup).unwrap().allowed,
            "{}",
            p.id
        );
    }
    lookup.0.remove(&child);
    assert!(lookup.0.is_empty());
}

#[test]
fn held_data_counts_from_the_closure_else_from_the_erasure() {
    use LifecycleKind::*;
    let r = rules();
    let erased = at(2026, 6, 1);
    let closed = facts(vec![
        ev(AccountOpened, at(2020, 3, 1)),
        ev(AccountClosed, at(2025, 1, 1)),
    ]);
    assert_eq!(
        r.hold_due("accounting_records", &closed, erased),
        Some(at(2032, 1, 1))
    );
    // Still open (or nothing on record): the erasure is when the account ended.
    let open = facts(vec![ev(AccountOpened, at(2020, 3, 1))]);
    assert_eq!(
        r.hold_due("accounting_records", &open, erased),
        Some(at(2033, 6, 1))
    );
    assert_eq!(
        r.hold_due("accounting_records", &facts(vec![]), erased),
        Some(at(2033, 6, 1))
    );
    assert_eq!(r.hold_due("no_such_rule", &closed, erased), None);
    assert_eq!(r.categories("accounting_records"), ["payment".to_owned()]);
}
