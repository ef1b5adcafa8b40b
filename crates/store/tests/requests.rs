//! The requests tables on both backends: insert, optimistic updates with history, the DPO
//! queue's filters, and job marks.

use custodian_core::request::{Kind, Status};
use custodian_store::requests::{HistoryEntry, RequestFilter, RequestRow};
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

fn request(id: &str, kind: &str, status: &str, due: i64) -> RequestRow {
    RequestRow {
        id: id.into(),
        kind: Kind::parse(kind).unwrap(),
        status: Status::parse(status).unwrap(),
        subject_ref: "ab".repeat(32),
        email_sealed: "x1:sealed".into(),
        details_sealed: None,
        language: "en".into(),
        country: Some("GB".into()),
        jurisdiction: "uk_gdpr".into(),
        customer_id: None,
        received_at: 10,
        verified_at: None,
        code_hash: Some("h".into()),
        code_expires_at: Some(100),
        attempts: 0,
        acknowledge_due: due - 5,
        answer_due: due,
        extended_months: 0,
        assignee: None,
        completed_at: None,
        updated_at: 10,
        extended_days: 0,
        paused_since: None,
        pause_reason: None,
        paused_days: 0,
    }
}

fn mail_for(request: &str, step: &str) -> custodian_store::outbox::NewMail {
    custodian_store::outbox::NewMail {
        id: format!("mail_{request}_{step}"),
        idempotency_key: format!("{request}/{step}"),
        template: step.into(),
        lang: "en".into(),
        to_sealed: "to".into(),
        params_sealed: "params".into(),
        request_id: Some(request.into()),
        created_at: 10,
        send_after: 10,
    }
}

fn entry(action: &str, from: Option<&str>, to: &str) -> HistoryEntry {
    HistoryEntry {
        at: 11,
        actor: "system".into(),
        action: action.into(),
        from_status: from.map(|s| Status::parse(s).unwrap()),
        to_status: Status::parse(to).unwrap(),
        detail_sealed: None,
    }
}

on_both!(
    a_request_moves_once_and_keeps_its_history,
    |store: Store| async move {
        let r = request("req_1", "access", "awaiting_verification", 1_000);
        store
            .insert_request(&r, &entry("receive", None, "awaiting_verification"), None)
            .await
            .unwrap();
        assert_eq!(store.request("req_1").await.unwrap().unwrap(), r);
        let mut verified = r.clone();
        verified.status = Status::Verified;
        verified.updated_at = 20;
        assert!(store
            .update_request(
                &r,
                &verified,
                Some(&entry("verify", Some("awaiting_verification"), "verified")),
                &[mail_for("req_1", "received")]
            )
            .await
            .unwrap());
        // A second writer that saw the old row loses and writes nothing.
        let mut other = r.clone();
        other.status = Status::Abandoned;
        assert!(!store
            .update_request(
                &r,
                &other,
                Some(&entry(
                    "abandon",
                    Some("awaiting_verification"),
                    "abandoned"
                )),
                &[mail_for("req_1", "abandoned")]
            )
            .await
            .unwrap());
        // The winner's mail is queued with its change; the loser's is not.
        assert_eq!(store.outbox_counts().await.unwrap().queued, 1);
        assert_eq!(
            store.request("req_1").await.unwrap().unwrap().status,
            Status::Verified
        );
        let h = store.request_history("req_1").await.unwrap();
        assert_eq!(
            h.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["receive", "verify"]
        );
        assert_eq!(
            store
                .requests_of_subject(&"ab".repeat(32))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(store.request("nope").await.unwrap().is_none());
    }
);

on_both!(
    the_queue_filters_and_orders_by_due_time,
    |store: Store| async move {
        for (id, kind, status, due) in [
            ("a", "access", "verified", 300),
            ("b", "erasure", "approved", 100),
            ("c", "access", "completed", 50),
            ("d", "access", "awaiting_verification", 10),
        ] {
            store
                .insert_request(
                    &request(id, kind, status, due),
                    &entry("receive", None, status),
                    None,
                )
                .await
                .unwrap();
        }
        let all = store
            .list_requests(&RequestFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["d", "c", "b", "a"]
        );
        let access = store
            .list_requests(&RequestFilter {
                kind: Some(Kind::Access),
                status: Some(Status::Verified),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(access.len(), 1);
        let overdue = store.open_requests_due_before(200).await.unwrap();
        assert_eq!(
            overdue.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["b"],
            "only open requests count"
        );
        let counts = store.request_counts().await.unwrap();
        assert_eq!(counts.len(), 4);
        assert_eq!(store.stale_unverified(101).await.unwrap().len(), 1);
    }
);

on_both!(
    intake_shares_commits_and_a_bad_request_fails_alone,
    |store: Store| async move {
        use custodian_store::requests::{IntakeWriter, NewRequest};
        let writer = IntakeWriter::spawn(store.clone());
        let mut tasks = Vec::new();
        for i in 0..100 {
            let w = writer.clone();
            let row = request(
                &format!("req_{i}"),
                "access",
                "awaiting_verification",
                1_000,
            );
            let first = entry("receive", None, "awaiting_verification");
            tasks.push(tokio::spawn(async move {
                w.insert(NewRequest {
                    row,
                    first,
                    mail: None,
                    key: None,
                })
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let dup = writer
            .insert(NewRequest {
                row: request("req_7", "access", "verified", 1),
                first: entry("receive", None, "verified"),
                mail: None,
                key: None,
            })
            .await;
        assert!(dup.is_err(), "a duplicate id is refused");
        let all = store
            .list_requests(&RequestFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 100);
        assert_eq!(store.request_history("req_42").await.unwrap().len(), 1);
    }
);

on_both!(
    a_batch_spans_several_statements_and_is_all_or_nothing,
    |store: Store| async move {
        use custodian_store::outbox::NewMail;
        use custodian_store::requests::NewRequest;
        // More than one multi-row statement's worth, each request with its first mail.
        let new = |i: usize| NewRequest {
            row: request(
                &format!("req_{i:03}"),
                "erasure",
                "awaiting_verification",
                1_000 + i as i64,
            ),
            first: entry("receive", None, "awaiting_verification"),
            mail: Some(NewMail {
                id: format!("mail_{i:03}"),
                idempotency_key: format!("req_{i:03}/verification_code"),
                template: "verification_code".into(),
                lang: "de".into(),
                to_sealed: format!("to-{i}"),
                params_sealed: format!("params-{i}"),
                request_id: Some(format!("req_{i:03}")),
                created_at: 10,
                send_after: 10,
            }),
            key: None,
        };
        let batch: Vec<_> = (0..150).map(new).collect();
        store.insert_requests(&batch).await.unwrap();
        let all = store
            .list_requests(&RequestFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 150);
        assert_eq!(
            store.request("req_149").await.unwrap().unwrap(),
            batch[149].row
        );
        assert_eq!(store.request_history("req_100").await.unwrap().len(), 1);
        assert_eq!(store.outbox_counts().await.unwrap().queued, 150);

        // A batch whose 70th request repeats an id (in the second statement) writes nothing.
        let mut bad: Vec<_> = (150..220).map(new).collect();
        bad[69].row.id = "req_003".into();
        assert!(store.insert_requests(&bad).await.is_err());
        assert!(store.request("req_150").await.unwrap().is_none());
        assert_eq!(store.outbox_counts().await.unwrap().queued, 150);
    }
);

on_both!(
    a_request_can_bring_its_subjects_new_key_but_never_a_second_one,
    |store: Store| async move {
        use custodian_store::keys::KeyRow;
        use custodian_store::requests::{NewRequest, KEY_CONFLICT};
        let key = |w: &str| KeyRow {
            subject_ref: "ab".repeat(32),
            wrapped: w.into(),
            master_id: "m1".into(),
            created_at: 1,
        };
        let new = |id: &str, k: Option<KeyRow>| NewRequest {
            row: request(id, "access", "awaiting_verification", 1_000),
            first: entry("receive", None, "awaiting_verification"),
            mail: None,
            key: k,
        };
        store
            .insert_requests(&[new("req_a", Some(key("first")))])
            .await
            .unwrap();
        assert_eq!(
            store
                .subject_key(&"ab".repeat(32))
                .await
                .unwrap()
                .unwrap()
                .wrapped,
            "first"
        );
        // Another new key for the same subject: refused whole, with the text callers compare.
        let err = store
            .insert_requests(&[new("req_b", Some(key("second")))])
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), KEY_CONFLICT);
        assert!(store.request("req_b").await.unwrap().is_none());
        assert_eq!(
            store
                .subject_key(&"ab".repeat(32))
                .await
                .unwrap()
                .unwrap()
                .wrapped,
            "first"
        );
        // The same key again (a retry) is fine.
        store
            .insert_requests(&[new("req_c", Some(key("first")))])
            .await
            .unwrap();
        assert!(store.request("req_c").await.unwrap().is_some());
    }
);

on_both!(the_request_clock_round_trips, |store: Store| async move {
    // Migration 0010: the extension in days and the DPO's pause, written with the change.
    let r = request("req_clock", "access", "verified", 1_000);
    store
        .insert_request(&r, &entry("receive", None, "verified"), None)
        .await
        .unwrap();
    let mut paused = r.clone();
    paused.paused_since = Some(15);
    paused.pause_reason = Some("awaiting_identity".into());
    paused.updated_at = 20;
    assert!(store
        .update_request(
            &r,
            &paused,
            Some(&entry("pause", Some("verified"), "verified")),
            &[]
        )
        .await
        .unwrap());
    assert_eq!(store.request("req_clock").await.unwrap().unwrap(), paused);
    let mut resumed = paused.clone();
    resumed.paused_since = None;
    resumed.pause_reason = None;
    resumed.paused_days = 3;
    resumed.extended_days = 45;
    resumed.answer_due = 9_000;
    resumed.updated_at = 30;
    assert!(store
        .update_request(
            &paused,
            &resumed,
            Some(&entry("resume", Some("verified"), "verified")),
            &[]
        )
        .await
        .unwrap());
    assert_eq!(store.request("req_clock").await.unwrap().unwrap(), resumed);
});

/// SQLite rolls a whole transaction back by itself on a full disk or an I/O error; sqlx then
/// still counts its connection as inside it, and its next "transaction" is a savepoint. A
/// later failure that SQLite does not roll back whole (a broken constraint) was then undone
/// to that savepoint only, leaving a transaction open on the writer's connection: the requests
/// after it were answered as stored while nothing was committed. The intake writer's
/// connection must not go on with that past (the pool closes it, `sqlite/pool.rs`). A trigger
/// stands in for the full disk.
#[tokio::test]
async fn intake_stays_durable_after_the_database_rolled_its_transaction_back() {
    use custodian_store::requests::{IntakeWriter, NewRequest};
    let url = testing::fresh_sqlite_url();
    let store = Store::open(&url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER roll_back_in_test BEFORE INSERT ON requests \
         WHEN NEW.id LIKE 'rollback_%' BEGIN SELECT RAISE(ROLLBACK, 'rolled back by the test'); END",
    )
    .execute(store.sqlite_pool().unwrap())
    .await
    .unwrap();
    let writer = IntakeWriter::spawn(store.clone());
    let new = |id: &str| NewRequest {
        row: request(id, "access", "awaiting_verification", 1_000),
        first: entry("receive", None, "awaiting_verification"),
        mail: None,
        key: None,
    };
    assert!(writer.insert(new("rollback_1")).await.is_err());
    writer.insert(new("req_1")).await.unwrap();
    assert!(writer.insert(new("req_1")).await.is_err(), "a duplicate id");
    writer.insert(new("req_2")).await.unwrap();
    writer.insert(new("req_3")).await.unwrap();
    // Committed: another connection sees them.
    let other = Store::connect(&url).await.unwrap();
    let mut ids: Vec<String> = other
        .list_requests(&RequestFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["req_1", "req_2", "req_3"]);
}
