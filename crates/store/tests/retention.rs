//! Retention's tables on both backends: lifecycle events and their pages, holds placed and
//! lifted, purges applied in one transaction with their record, minors, subject keys, and the
//! standing changes and announced lifts of issue 12.

use custodian_store::keys::KeyRow;
use custodian_store::requests::{HistoryEntry, RequestRow};
use custodian_store::retention::{HoldRow, LifecycleRow, MinorRow, Purge, PurgeAction};
use custodian_store::{testing, Store};

macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
                ($body)(store).await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some(url) = testing::fresh_postgres_url().await else {
                    return;
                };
                let store = Store::open(&url).await.unwrap();
                ($body)(store).await;
            }
        }
    };
}

fn subject(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

fn event(s: &str, kind: &str, at: i64) -> LifecycleRow {
    LifecycleRow {
        subject_ref: s.into(),
        kind: kind.into(),
        at,
        under_minimum_age: None,
        country: None,
        recorded_at: at,
    }
}

on_both!(
    lifecycle_events_page_by_subject,
    |store: Store| async move {
        for n in 1..=5u8 {
            store
                .insert_lifecycle_event(&event(&subject(n), "account_opened", 10))
                .await
                .unwrap();
            store
                .insert_lifecycle_event(&event(&subject(n), "account_closed", 20))
                .await
                .unwrap();
        }
        let mut minor = event(&subject(9), "age_declared", 5);
        minor.under_minimum_age = Some(true);
        minor.country = Some("DE".into());
        store.insert_lifecycle_event(&minor).await.unwrap();
        assert_eq!(
            store.lifecycle_events(&subject(9)).await.unwrap(),
            vec![minor]
        );

        let mut seen = Vec::new();
        let mut after = String::new();
        loop {
            let page = store.lifecycle_page(&after, 2).await.unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 2);
            for (s, events) in &page {
                assert!(events.iter().all(|e| &e.subject_ref == s));
                seen.push((s.clone(), events.len()));
            }
            after = page.last().unwrap().0.clone();
        }
        assert_eq!(seen.len(), 6, "every subject once: {seen:?}");
        assert_eq!(seen[0], (subject(1), 2));
        assert_eq!(seen[5], (subject(9), 1));
    }
);

on_both!(
    holds_are_listed_until_lifted_and_kept_after,
    |store: Store| async move {
        let h = HoldRow {
            id: "hold_1".into(),
            matter: Some("Smith v. Group".into()),
            subject_ref: Some(subject(1)),
            category: None,
            reason: "litigation".into(),
            placed_by: "tok_dpo".into(),
            placed_at: 100,
            lifted_at: None,
            lifted_by: None,
            lift_reason: None,
        };
        store.insert_hold(&h).await.unwrap();
        assert_eq!(store.holds(false).await.unwrap(), vec![h.clone()]);
        assert!(store
            .lift_hold("hold_1", "tok_dpo", Some("settled"), 200)
            .await
            .unwrap());
        assert!(!store
            .lift_hold("hold_1", "tok_dpo", None, 300)
            .await
            .unwrap());
        assert!(store.holds(false).await.unwrap().is_empty());
        let all = store.holds(true).await.unwrap();
        assert_eq!(all[0].lifted_at, Some(200));
        assert_eq!(all[0].lift_reason.as_deref(), Some("settled"));
    }
);

fn request(id: &str, s: &str) -> RequestRow {
    RequestRow {
        id: id.into(),
        kind: custodian_core::request::Kind::Access,
        status: custodian_core::request::Status::Completed,
        subject_ref: s.into(),
        email_sealed: "x1:sealed".into(),
        details_sealed: Some("x1:details".into()),
        language: "en".into(),
        country: None,
        jurisdiction: "gdpr".into(),
        customer_id: None,
        received_at: 10,
        verified_at: Some(11),
        code_hash: None,
        code_expires_at: None,
        attempts: 0,
        acknowledge_due: 20,
        answer_due: 30,
        extended_months: 0,
        assignee: None,
        completed_at: Some(50),
        updated_at: 50,
        extended_days: 0,
        paused_since: None,
        pause_reason: None,
        paused_days: 0,
    }
}

on_both!(
    purges_apply_in_one_transaction_and_are_recorded,
    |store: Store| async move {
        let s = subject(3);
        store
            .insert_lifecycle_event(&event(&s, "account_opened", 1))
            .await
            .unwrap();
        let first = HistoryEntry {
            at: 10,
            actor: "requester".into(),
            action: "receive".into(),
            from_status: None,
            to_status: custodian_core::request::Status::Completed,
            detail_sealed: Some("x1:note".into()),
        };
        store
            .insert_request(&request("req_a", &s), &first, None)
            .await
            .unwrap();
        store
            .insert_request(&request("req_b", &s), &first, None)
            .await
            .unwrap();
        let due = store.request_fields_due(60, "", 10).await.unwrap();
        assert_eq!(due.len(), 2);
        assert!(store
            .request_fields_due(49, "", 10)
            .await
            .unwrap()
            .is_empty());

        let n = store
            .apply_purges(
                &[
                    Purge {
                        subject_ref: s.clone(),
                        rule: "custodian.request_records".into(),
                        data: "{}".into(),
                        due_since: 60,
                        action: PurgeAction::RequestFields {
                            request_ids: vec!["req_a".into()],
                        },
                    },
                    Purge {
                        subject_ref: s.clone(),
                        rule: "while_customer".into(),
                        data: "{}".into(),
                        due_since: 70,
                        action: PurgeAction::Lifecycle,
                    },
                ],
                100,
            )
            .await
            .unwrap();
        assert_eq!(n, 2);
        let a = store.request("req_a").await.unwrap().unwrap();
        assert_eq!((a.email_sealed.as_str(), a.details_sealed), ("", None));
        assert!(store.request_history("req_a").await.unwrap()[0]
            .detail_sealed
            .is_none());
        assert_eq!(
            store.request("req_b").await.unwrap().unwrap().email_sealed,
            "x1:sealed"
        );
        assert!(store.lifecycle_events(&s).await.unwrap().is_empty());
        let due = store.request_fields_due(60, "", 10).await.unwrap();
        assert_eq!(due, vec![("req_b".into(), s.clone(), 50)]);
        let recorded = store.purges(Some(&s), 10).await.unwrap();
        assert_eq!(recorded.len(), 2);
        assert_eq!(recorded[0].rule, "while_customer");
        assert_eq!(recorded[1].records, 1);
        assert!(store
            .purges(Some(&subject(4)), 10)
            .await
            .unwrap()
            .is_empty());
    }
);

on_both!(minors_are_recorded_once, |store: Store| async move {
    let m = MinorRow {
        subject_ref: subject(7),
        declared_at: 5,
        country: Some("DE".into()),
        request_id: None,
    };
    assert!(store.insert_minor(&m).await.unwrap());
    assert!(!store.insert_minor(&m).await.unwrap());
    store.set_minor_request(&subject(7), "req_x").await.unwrap();
    assert_eq!(
        store.minors().await.unwrap()[0].request_id.as_deref(),
        Some("req_x")
    );
});

on_both!(
    a_batch_of_keys_answers_the_standing_key_of_each_in_order,
    |store: Store| async move {
        let k = |i: u8, w: &str| KeyRow {
            subject_ref: subject(i),
            wrapped: w.into(),
            master_id: "m1".into(),
            created_at: 1,
        };
        store.put_subject_key(&k(5, "old-5")).await.unwrap();
        // 100 keys (two statements' worth); subject 5 already has one, subject 7 comes twice.
        let mut batch: Vec<KeyRow> = (0..99).map(|i| k(i, &format!("new-{i}"))).collect();
        batch.push(k(7, "second-7"));
        let standing = store.put_subject_keys(&batch).await.unwrap();
        assert_eq!(standing.len(), 100);
        assert_eq!(standing[0].wrapped, "new-0");
        assert_eq!(standing[5].wrapped, "old-5", "a stored key stands");
        assert_eq!(standing[7].wrapped, "new-7");
        assert_eq!(standing[99].wrapped, "new-7", "the first of the batch wins");
        assert_eq!(standing[98].subject_ref, subject(98));
        assert_eq!(store.subject_key_count().await.unwrap(), 99);
    }
);

on_both!(
    subject_keys_first_writer_wins_and_rotate,
    |store: Store| async move {
        let k = |w: &str, m: &str| KeyRow {
            subject_ref: subject(1),
            wrapped: w.into(),
            master_id: m.into(),
            created_at: 1,
        };
        assert_eq!(
            store.put_subject_key(&k("w1", "m1")).await.unwrap().wrapped,
            "w1"
        );
        assert_eq!(
            store.put_subject_key(&k("w2", "m1")).await.unwrap().wrapped,
            "w1",
            "a second node's key loses"
        );
        assert_eq!(store.keys_not_wrapped_by("m2", 10).await.unwrap().len(), 1);
        assert!(store
            .rewrap_subject_key(&subject(1), "m1", "w3", "m2")
            .await
            .unwrap());
        assert!(!store
            .rewrap_subject_key(&subject(1), "m1", "w4", "m2")
            .await
            .unwrap());
        assert!(store
            .keys_not_wrapped_by("m2", 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.subject_key_count().await.unwrap(), 1);
        assert!(store.delete_subject_key(&subject(1)).await.unwrap());
        assert!(store.subject_key(&subject(1)).await.unwrap().is_none());
    }
);

on_both!(
    the_keyring_seals_per_subject_rotates_and_forgets,
    |store: Store| async move {
        use custodian_core::keys::MasterKey;
        use custodian_core::subject::SubjectRef;
        use custodian_store::keyring::{Keyring, KeyringError};

        let old = Keyring::new(store.clone(), MasterKey::from_bytes([1; 32]));
        let (ada, bob) = (SubjectRef([0xa; 32]), SubjectRef([0xb; 32]));
        let a = old
            .seal(&ada, "requests/r1/email", "ada@example.com")
            .await
            .unwrap();
        let b = old
            .seal(&bob, "requests/r2/email", "bob@example.com")
            .await
            .unwrap();
        // One key per subject, made on first use and reused after.
        let a2 = old
            .seal(&ada, "requests/r3/email", "ada@example.com")
            .await
            .unwrap();
        assert_eq!(store.subject_key_count().await.unwrap(), 2);
        assert_ne!(a, a2, "a fresh nonce per value");
        assert!(
            old.open("requests/r2/email", &a).await.is_err(),
            "bound to its place"
        );

        let new_master = MasterKey::from_bytes([2; 32]);
        let mut seen = Vec::new();
        assert_eq!(old.rotate(&new_master, |n| seen.push(n)).await.unwrap(), 2);
        assert_eq!(seen, [1, 2]);
        let new = Keyring::new(store.clone(), new_master.clone());
        assert!(!new.rotation_unfinished().await.unwrap());
        assert!(old.rotation_unfinished().await.unwrap());
        assert_eq!(
            new.open("requests/r1/email", &a).await.unwrap(),
            "ada@example.com"
        );
        assert_eq!(
            new.open("requests/r3/email", &a2).await.unwrap(),
            "ada@example.com"
        );
        assert!(
            matches!(
                old.open("requests/r1/email", &a).await,
                Err(KeyringError::Key(_))
            ),
            "the old master key opens nothing any more"
        );
        assert_eq!(
            old.rotate(&new_master, |_| {}).await.unwrap(),
            0,
            "nothing left to do"
        );

        assert!(new.destroy(&ada).await.unwrap());
        assert!(matches!(
            new.open("requests/r1/email", &a).await,
            Err(KeyringError::Erased)
        ));
        assert_eq!(
            new.open("requests/r2/email", &b).await.unwrap(),
            "bob@example.com"
        );
    }
);

// Issue 12: every change to what decisions refuse is noted in the same transaction as the
// fact — a restriction coming into force or ending, an account opened or closed (not mere
// activity), a child declared (once), an objection put in force or erased — and the facts
// read back per subject; an announced lift is written with its request's change.
on_both!(
    standing_changes_are_noted_with_their_facts,
    |store: Store| async move {
        use custodian_core::request::{Kind, Status};
        use custodian_store::requests::LiftRow;
        let s = subject(4);
        let head = store.standing_head().await.unwrap();
        store
            .insert_lifecycle_event(&event(&s, "account_opened", 1))
            .await
            .unwrap();
        store
            .insert_lifecycle_event(&event(&s, "last_activity", 2))
            .await
            .unwrap();
        store
            .insert_lifecycle_event(&event(&s, "account_closed", 3))
            .await
            .unwrap();
        let minor = MinorRow {
            subject_ref: s.clone(),
            declared_at: 0,
            country: None,
            request_id: None,
        };
        assert!(store.insert_minor(&minor).await.unwrap());
        assert!(!store.insert_minor(&minor).await.unwrap(), "once");
        let changes = store.standing_changes(head, 100).await.unwrap();
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert!(changes.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(changes.iter().all(|(_, subject)| *subject == s));

        // A restriction approved: noted with the status change; its lift announced with the
        // next change, in one transaction.
        let mut r = request("req_r", &s);
        r.kind = Kind::Restriction;
        r.status = Status::Verified;
        r.completed_at = None;
        let first = HistoryEntry {
            at: 10,
            actor: "requester".into(),
            action: "verify".into(),
            from_status: None,
            to_status: Status::Verified,
            detail_sealed: None,
        };
        store.insert_request(&r, &first, None).await.unwrap();
        let mut approved = r.clone();
        approved.status = Status::InProgress;
        approved.updated_at += 1;
        assert!(store
            .update_request(&r, &approved, None, &[])
            .await
            .unwrap());
        let facts = store.standing_facts(&s).await.unwrap();
        assert!(facts.account_closed && facts.restricted && facts.minor);
        assert!(facts.objections.is_empty());
        let mut noted = approved.clone();
        noted.updated_at += 1;
        let lift = LiftRow {
            request_id: "req_r".into(),
            announced_at: 60,
            lift_at: Some(70),
            notice_key: Some("req_r/lift_notice".into()),
        };
        let entry = HistoryEntry {
            at: 60,
            actor: "dpo".into(),
            action: "lift".into(),
            from_status: Some(Status::InProgress),
            to_status: Status::InProgress,
            detail_sealed: None,
        };
        assert!(store
            .announce_lift(&approved, &noted, &entry, &[], &lift)
            .await
            .unwrap());
        assert!(
            !store
                .announce_lift(&approved, &noted, &entry, &[], &lift)
                .await
                .unwrap(),
            "changed meanwhile: nothing written"
        );
        assert_eq!(
            store.restriction_lift("req_r").await.unwrap(),
            Some(lift.clone())
        );
        assert!(store.lifts_due(69, 10).await.unwrap().is_empty());
        assert_eq!(store.lifts_due(70, 10).await.unwrap(), [lift]);
        store.unschedule_lift("req_r").await.unwrap();
        assert!(store.lifts_due(70, 10).await.unwrap().is_empty());
        assert_eq!(store.standing_changes(head, 100).await.unwrap().len(), 4);

        // Everything noted before a time goes at once; nothing noted after it.
        let kept = store.prune_standing_changes(0).await.unwrap();
        assert_eq!(kept, 0);
        assert!(store.prune_standing_changes(i64::MAX).await.unwrap() >= 4);
        assert!(store.standing_changes(0, 100).await.unwrap().is_empty());
    }
);
