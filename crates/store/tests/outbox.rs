//! The outbox's contract on both backends: idempotent enqueue, a crashed pass's messages
//! resumed by the next, passes kept apart by the `outbox` job's lease, retries, summaries and
//! erasure.

use std::collections::HashSet;

use custodian_store::jobs::Claim;
use custodian_store::outbox::{MailStatus, NewMail};
use custodian_store::{testing, Store};

macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
                ($body)(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

const T0: i64 = 1_700_000_000_000_000;
const LEASE: i64 = 60_000_000;

fn mail(i: u32, request: Option<&str>) -> NewMail {
    NewMail {
        id: format!("mail_{i:04}"),
        idempotency_key: format!("key/{i}"),
        template: "verification_code".into(),
        lang: "en".into(),
        to_sealed: format!("sealed-to-{i}"),
        params_sealed: format!("sealed-params-{i}"),
        request_id: request.map(str::to_owned),
        created_at: T0 + i as i64,
        send_after: T0 + i as i64,
    }
}

on_both!(enqueue_is_idempotent_by_key, |store: Store| async move {
    assert!(store.enqueue_mail(&mail(1, None)).await.unwrap());
    let mut again = mail(1, None);
    again.id = "mail_other".into();
    assert!(
        !store.enqueue_mail(&again).await.unwrap(),
        "same key: nothing queued"
    );
    let c = store.outbox_counts().await.unwrap();
    assert_eq!((c.queued, c.sending, c.sent, c.failed), (1, 0, 0, 0));
    assert_eq!(c.oldest_due_at, Some(T0 + 1));
    let got = store.mail_by_key("key/1").await.unwrap().unwrap();
    assert_eq!(got.id, "mail_0001");
});

on_both!(
    a_crashed_pass_is_resumed_by_the_next,
    |store: Store| async move {
        for i in 0..5 {
            store.enqueue_mail(&mail(i, None)).await.unwrap();
        }
        // Nothing is due before its time.
        assert!(store.claim_due_mail(T0 - 1, 10).await.unwrap().is_empty());
        let first = store.claim_due_mail(T0 + 2, 10).await.unwrap();
        assert_eq!(
            first.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["mail_0000", "mail_0001", "mail_0002"],
            "due ones, oldest first"
        );
        assert!(first.iter().all(|m| m.attempts == 1));
        assert_eq!(first[1].to_sealed, "sealed-to-1");
        assert_eq!(first[1].params_sealed, "sealed-params-1");

        // The pass sends one and its node dies: the next pass (the job's next holder) takes
        // the two left `sending` again, with the rest.
        assert!(store.mark_mail_sent("mail_0000", T0 + 30).await.unwrap());
        let c = store.outbox_counts().await.unwrap();
        assert_eq!((c.queued, c.sending, c.sent), (2, 2, 1));
        let taken = store.claim_due_mail(T0 + 40, 10).await.unwrap();
        assert_eq!(
            taken.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["mail_0001", "mail_0002", "mail_0003", "mail_0004"]
        );
        assert_eq!(
            taken.iter().map(|m| m.attempts).collect::<Vec<_>>(),
            [2, 2, 1, 1]
        );
        let c = store.outbox_counts().await.unwrap();
        assert_eq!((c.queued, c.sending, c.sent), (0, 4, 1));
    }
);

on_both!(
    failures_retry_later_and_give_up,
    |store: Store| async move {
        store.enqueue_mail(&mail(1, Some("req_1"))).await.unwrap();
        let m = store.claim_due_mail(T0 + 5, 10).await.unwrap();
        assert!(store
            .mark_mail_failed(
                &m[0].id,
                "SMTP server refused for now (reply 451)",
                T0 + 100,
                false
            )
            .await
            .unwrap());
        assert!(store.claim_due_mail(T0 + 99, 10).await.unwrap().is_empty());
        let m = store.claim_due_mail(T0 + 100, 10).await.unwrap();
        assert_eq!(m[0].attempts, 2);
        assert_eq!(
            store.mail_last_error(&m[0].id).await.unwrap().as_deref(),
            Some("SMTP server refused for now (reply 451)")
        );
        assert!(store
            .mark_mail_failed(
                &m[0].id,
                "SMTP server refused permanently (reply 550)",
                T0 + 200,
                true
            )
            .await
            .unwrap());
        assert!(store
            .claim_due_mail(T0 + 10_000_000_000, 10)
            .await
            .unwrap()
            .is_empty());
        let s = store.mail_for_request("req_1").await.unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].status, s[0].attempts, s[0].sent_at),
            (MailStatus::Failed, 2, None)
        );
        // A late report from a node that outlived its lease does not undo a terminal state.
        assert!(!store
            .mark_mail_failed(&m[0].id, "late", T0, false)
            .await
            .unwrap());
    }
);

on_both!(sent_mail_stays_sent, |store: Store| async move {
    store.enqueue_mail(&mail(1, None)).await.unwrap();
    let m = store.claim_due_mail(T0 + 5, 10).await.unwrap();
    assert!(store.mark_mail_sent(&m[0].id, T0 + 6).await.unwrap());
    assert!(!store.mark_mail_sent(&m[0].id, T0 + 7).await.unwrap());
    assert!(!store
        .mark_mail_failed(&m[0].id, "x", T0, false)
        .await
        .unwrap());
    let s = store.mail_by_key("key/1").await.unwrap().unwrap();
    assert_eq!((s.status, s.sent_at), (MailStatus::Sent, Some(T0 + 6)));
});

on_both!(
    requests_list_their_mail_and_erasure_forgets_finished_mail,
    |store: Store| async move {
        store.enqueue_mail(&mail(1, Some("req_a"))).await.unwrap();
        store.enqueue_mail(&mail(2, Some("req_a"))).await.unwrap();
        store.enqueue_mail(&mail(3, Some("req_b"))).await.unwrap();
        let claimed = store.claim_due_mail(T0 + 1, 1).await.unwrap();
        store.mark_mail_sent(&claimed[0].id, T0 + 9).await.unwrap();
        let a = store.mail_for_request("req_a").await.unwrap();
        assert_eq!(
            a.iter()
                .map(|s| (s.id.as_str(), s.template.as_str(), s.status))
                .collect::<Vec<_>>(),
            [
                ("mail_0001", "verification_code", MailStatus::Sent),
                ("mail_0002", "verification_code", MailStatus::Queued)
            ]
        );
        assert_eq!(a[0].sent_at, Some(T0 + 9));
        assert_eq!(store.forget_mail_to(&[]).await.unwrap(), 0);
        assert_eq!(
            store
                .forget_mail_to(&["req_a".into(), "req_b".into()])
                .await
                .unwrap(),
            1,
            "only finished mail is forgotten; queued mail can still go"
        );
        // The record that mail went stays.
        assert_eq!(store.mail_for_request("req_a").await.unwrap(), a);
        let left = store.claim_due_mail(T0 + 100, 10).await.unwrap();
        assert_eq!(
            left.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["mail_0002", "mail_0003"]
        );
    }
);

on_both!(
    concurrent_passes_never_share_a_message,
    |store: Store| async move {
        const N: u32 = 400;
        for i in 0..N {
            store.enqueue_mail(&mail(i, None)).await.unwrap();
        }
        // Six nodes run passes as the worker does: claim the `outbox` job, take a batch,
        // mark it sent, finish the job. Only the job's holder takes messages.
        let mut tasks = Vec::new();
        for node in 0..6 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let owner = format!("node-{node}");
                let now = T0 + N as i64;
                let mut mine = Vec::new();
                loop {
                    let claimed = store
                        .claim_job("outbox", "outbox", &owner, now, LEASE, Claim::Now)
                        .await
                        .unwrap();
                    if claimed.is_none() {
                        tokio::task::yield_now().await;
                        continue;
                    }
                    let batch = store.claim_due_mail(now, 7).await.unwrap();
                    let ids: Vec<String> = batch.into_iter().map(|m| m.id).collect();
                    store.mark_mails_sent(&ids, now).await.unwrap();
                    assert!(store.finish_job("outbox", &owner, now, now).await.unwrap());
                    if ids.is_empty() {
                        return mine;
                    }
                    mine.extend(ids);
                }
            }));
        }
        let mut seen = HashSet::new();
        let mut total = 0;
        for t in tasks {
            for id in t.await.unwrap() {
                total += 1;
                assert!(seen.insert(id.clone()), "{id} claimed twice");
            }
        }
        assert_eq!((total, seen.len()), (N as usize, N as usize));
    }
);
