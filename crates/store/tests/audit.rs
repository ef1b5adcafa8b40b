//! The audit trail's contract on both backends: appends form one chain, filters select, and
//! verification names the first entry changed, removed or moved behind Custodian's back, or
//! the entries cut from the end. Several handles on one database (nodes) appending at once
//! still make one chain.

use custodian_store::audit::AuditFilter;
use custodian_store::{testing, Store};

macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let url = testing::fresh_sqlite_url();
                ($body)(url).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(url) = testing::fresh_postgres_url().await else {
                    return;
                };
                ($body)(url).await;
            }
        }
    };
}

/// A store with five entries: two tokens, a hold placed and lifted, a request approved.
async fn five(url: &str) -> Store {
    let store = Store::open(url).await.unwrap();
    for (actor, action, object, detail) in [
        ("cli", "token.created", "tok_a", Some("dpo")),
        ("cli", "token.created", "tok_b", Some("admin")),
        ("tok_a", "hold.placed", "hold_1", Some("matter")),
        ("tok_a", "hold.lifted", "hold_1", None),
        ("tok_b", "request.approved", "req_1", None),
    ] {
        store
            .append_audit(actor, action, object, detail)
            .await
            .unwrap();
    }
    store
}

fn filter() -> AuditFilter {
    AuditFilter {
        limit: 100,
        ..Default::default()
    }
}

on_both!(
    appends_form_one_chain_that_filters_read_and_verification_accepts,
    |url: String| async move {
        let store = five(&url).await;
        let all = store.audit_entries(&filter()).await.unwrap();
        assert_eq!(
            all.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(all[0].prev_hash, custodian_core::audit::GENESIS);
        for w in all.windows(2) {
            assert_eq!(
                w[1].prev_hash, w[0].hash,
                "each entry links to the one before"
            );
        }
        assert_eq!(store.audit_head().await.unwrap(), (5, all[4].hash.clone()));

        let by_actor = AuditFilter {
            actor: Some("tok_a".into()),
            ..filter()
        };
        let got = store.audit_entries(&by_actor).await.unwrap();
        assert_eq!(
            got.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["hold.placed", "hold.lifted"]
        );
        let by_action = AuditFilter {
            action: Some("token.created".into()),
            ..filter()
        };
        let got = store.audit_entries(&by_action).await.unwrap();
        assert_eq!(
            got.iter().map(|e| e.object.as_str()).collect::<Vec<_>>(),
            ["tok_a", "tok_b"]
        );
        let since = AuditFilter {
            since: Some(all[3].at),
            after: Some(3),
            ..filter()
        };
        let got = store.audit_entries(&since).await.unwrap();
        assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5]);
        let page = AuditFilter {
            limit: 2,
            after: Some(2),
            ..filter()
        };
        assert_eq!(
            store
                .audit_entries(&page)
                .await
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>(),
            [3, 4]
        );

        let report = store.verify_audit().await.unwrap();
        assert!(report.ok(), "{report:?}");
        assert_eq!((report.entries_checked, report.head_seq), (5, 5));
    }
);

on_both!(a_changed_entry_is_named, |url: String| async move {
    let store = five(&url).await;
    let victim = store.audit_entries(&filter()).await.unwrap()[2].id.clone();
    store
        .execute("UPDATE audit_log SET actor = 'tok_b' WHERE seq = 3", &[])
        .await
        .unwrap();
    let report = store.verify_audit().await.unwrap();
    let b = report.first_break.expect("a break");
    assert!(
        b.contains("entry 3") && b.contains(&victim) && b.contains("changed"),
        "{b}"
    );
    assert_eq!(report.entries_checked, 2);
});

on_both!(a_removed_entry_is_named, |url: String| async move {
    let store = five(&url).await;
    let next = store.audit_entries(&filter()).await.unwrap()[2].id.clone();
    store
        .execute("DELETE FROM audit_log WHERE seq = 2", &[])
        .await
        .unwrap();
    let b = store
        .verify_audit()
        .await
        .unwrap()
        .first_break
        .expect("a break");
    assert!(
        b.contains("entry 3") && b.contains(&next) && b.contains("entries 2 to 2 are missing"),
        "{b}"
    );
});

on_both!(entries_moved_are_named, |url: String| async move {
    let store = five(&url).await;
    // Entries 2 and 3 swap places: their numbers are exchanged through a free one.
    for sql in [
        "UPDATE audit_log SET seq = 100 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 100",
    ] {
        store.execute(sql, &[]).await.unwrap();
    }
    let b = store
        .verify_audit()
        .await
        .unwrap()
        .first_break
        .expect("a break");
    assert!(
        b.starts_with("audit entry 2 "),
        "the first place that is wrong: {b}"
    );
});

on_both!(
    entries_cut_from_the_end_are_caught_by_the_head,
    |url: String| async move {
        let store = five(&url).await;
        store
            .execute("DELETE FROM audit_log WHERE seq >= 4", &[])
            .await
            .unwrap();
        let b = store
            .verify_audit()
            .await
            .unwrap()
            .first_break
            .expect("a break");
        assert!(
            b.contains("head says entry 5") && b.contains("ends at entry 3"),
            "{b}"
        );
        store.execute("DELETE FROM audit_head", &[]).await.unwrap();
        let b = store
            .verify_audit()
            .await
            .unwrap()
            .first_break
            .expect("a break");
        assert!(b.contains("head row is missing"), "{b}");
    }
);

on_both!(
    nodes_appending_at_once_keep_one_chain,
    |url: String| async move {
        Store::open(&url).await.unwrap();
        // Four handles with pools of their own: four nodes on one database.
        let mut nodes = Vec::new();
        for _ in 0..4 {
            nodes.push(Store::connect(&url).await.unwrap());
        }
        let mut tasks = Vec::new();
        for (n, node) in nodes.iter().enumerate() {
            for i in 0..20 {
                let node = node.clone();
                tasks.push(tokio::spawn(async move {
                    node.append_audit(
                        &format!("tok_{n}"),
                        "request.noted",
                        &format!("req_{n}_{i}"),
                        None,
                    )
                    .await
                    .unwrap()
                    .seq
                }));
            }
        }
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap());
        }
        seqs.sort();
        assert_eq!(
            seqs,
            (1..=80).collect::<Vec<i64>>(),
            "every append got its own place"
        );
        let report = nodes[0].verify_audit().await.unwrap();
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.entries_checked, 80);
    }
);
