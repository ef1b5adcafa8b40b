//! The store's contract, run on both backends: every test body runs once on a fresh SQLite
//! file and once on a fresh PostgreSQL database.

use custodian_core::token::{self, Role};
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

on_both!(
    tokens_are_found_by_hash_until_revoked,
    |store: Store| async move {
        let secret = token::generate();
        let rec = store
            .insert_token("ci", Role::Service, &token::hash(&secret))
            .await
            .unwrap();
        let found = store
            .find_token(&token::hash(&secret))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, rec);
        assert_eq!(
            store.find_token(&token::hash("cst_other")).await.unwrap(),
            None
        );
        assert!(store.revoke_token(&rec.id).await.unwrap());
        assert!(
            !store.revoke_token(&rec.id).await.unwrap(),
            "second revoke is a no-op"
        );
        assert_eq!(store.find_token(&token::hash(&secret)).await.unwrap(), None);
        let all = store.list_tokens().await.unwrap();
        assert_eq!(all.len(), 1);
        assert!(all[0].revoked_at.is_some());
    }
);

on_both!(
    times_and_ids_come_from_the_injected_clock,
    |store: Store| async move {
        use custodian_core::clock::ManualClock;
        use custodian_core::ids::Ids;
        use std::sync::Arc;
        let clock = ManualClock::at(1_700_000_000_000_000);
        let store = store.with_ids(Ids::sequential(Arc::new(clock.clone())));
        let rec = store.insert_token("ci", Role::Service, "h1").await.unwrap();
        assert_eq!(rec.created_at, 1_700_000_000_000_000);
        assert_eq!(rec.id, "tok_060a24181e40000000000000000001");
        clock.advance(7);
        assert!(store.revoke_token(&rec.id).await.unwrap());
        let all = store.list_tokens().await.unwrap();
        assert_eq!(all[0].revoked_at, Some(1_700_000_000_000_007));
        // `with_clock` moves the ids too.
        let later = ManualClock::at(1_800_000_000_000_000);
        let store = store.with_clock(Arc::new(later));
        let second = store.insert_token("ci", Role::Dpo, "h2").await.unwrap();
        assert_eq!(second.created_at, 1_800_000_000_000_000);
        assert!(second.id.starts_with("tok_") && second.id > rec.id);
    }
);

on_both!(
    corrupt_stored_values_name_their_row,
    |store: Store| async move {
        use custodian_core::subject::SubjectRef;
        let subject = SubjectRef([9; 32]);
        let event = custodian_store::consent::NewEvent {
            id: "evt_odd".into(),
            subject,
            purpose: "marketing".into(),
            given: true,
            source: custodian_core::consent::Source::Api,
            policy_version: "v1".into(),
            notice_hash: None,
            ip_truncated: None,
            receipt_id: "rcpt_odd".into(),
            created_at: 1,
            link: custodian_store::consent::Unlinked,
        };
        store.append_consent(&[event]).await.unwrap();
        let sql = "UPDATE consent_state SET source = 'carrier_pigeon'";
        match (store.sqlite_pool(), store.postgres_pool()) {
            (Some(p), _) => sqlx::query(sql).execute(p).await.map(drop).unwrap(),
            (_, Some(p)) => sqlx::query(sql).execute(p).await.map(drop).unwrap(),
            (None, None) => unreachable!("a store is on one backend"),
        }
        let err = store.consent_state_of(&subject).await.unwrap_err();
        assert!(matches!(err, custodian_store::StoreError::Corrupt(_)));
        let err = err.to_string();
        assert!(
            err.contains("evt_odd") && err.contains("carrier_pigeon"),
            "{err}"
        );
    }
);

on_both!(
    duplicate_token_hashes_are_refused,
    |store: Store| async move {
        store.insert_token("a", Role::Admin, "h").await.unwrap();
        assert!(store.insert_token("b", Role::Dpo, "h").await.is_err());
    }
);

on_both!(
    migrations_are_idempotent_and_ping_works,
    |store: Store| async move {
        store.ping().await.unwrap();
        // Migrating a current schema again applies nothing and fails nothing.
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
    }
);

#[tokio::test]
async fn unsupported_urls_are_named() {
    let err = Store::open("mysql://x").await.unwrap_err();
    assert!(
        err.to_string().contains("sqlite:// or postgres://"),
        "{err}"
    );
}

/// SQLite rolls a whole transaction back by itself on a full disk or an I/O error (a trigger
/// stands in for them here), and the driver then still counts its connection as inside that
/// transaction. Given back to the pool like that, the connection's next transaction became a
/// savepoint; a broken constraint in it rolled back to the savepoint only, leaving a write
/// transaction open — every later write through that connection was answered as done and never
/// committed, and held SQLite's write lock. The pool must not hand such a connection out again.
#[tokio::test]
async fn a_pooled_connection_is_not_reused_after_the_database_rolled_its_transaction_back() {
    let url = testing::fresh_sqlite_url();
    let store = Store::open(&url).await.unwrap();
    let pool = store.sqlite_pool().unwrap();
    sqlx::query("CREATE TABLE scratch (id TEXT PRIMARY KEY)")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "CREATE TRIGGER roll_back_in_test BEFORE INSERT ON scratch \
         WHEN NEW.id LIKE 'rollback_%' BEGIN SELECT RAISE(ROLLBACK, 'rolled back by the test'); END",
    )
    .execute(pool)
    .await
    .unwrap();
    // Every connection the pool may open goes through the rollback, so that whichever one the
    // store takes next has that past.
    let mut held = Vec::new();
    for i in 0..pool.options().get_max_connections() {
        let mut conn = pool.acquire().await.unwrap();
        let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
        let refused = sqlx::query("INSERT INTO scratch (id) VALUES (?)")
            .bind(format!("rollback_{i}"))
            .execute(&mut *tx)
            .await;
        assert!(refused.is_err(), "the trigger rolls back");
        drop(tx);
        held.push(conn);
    }
    drop(held);
    let insert = |id: &'static str| {
        let store = store.clone();
        async move {
            let mut tx = store.begin().await?;
            tx.execute("INSERT INTO scratch (id) VALUES ($1)", &[id.into()])
                .await?;
            tx.commit().await
        }
    };
    insert("row_1").await.unwrap();
    assert!(insert("row_1").await.is_err(), "a duplicate id");
    insert("row_2").await.unwrap();
    insert("row_3").await.unwrap();
    // Committed: another connection sees them (and is not kept waiting for a write lock).
    let other = Store::connect(&url).await.unwrap();
    let ids: Vec<(String,)> = other
        .fetch_all("SELECT id FROM scratch ORDER BY id", &[])
        .await
        .unwrap();
    let ids: Vec<&str> = ids.iter().map(|(id,)| id.as_str()).collect();
    assert_eq!(ids, ["row_1", "row_2", "row_3"]);
}

mod consent {
    use super::*;
    use custodian_core::ledger::{ChainVerifier, CHAINS};
    use custodian_core::subject::SubjectRef;
    use custodian_store::consent::NewEvent;
    use custodian_store::writer::ConsentWriter;
    use futures_util::TryStreamExt;

    fn ev(i: u32, subject: u8, purpose: &str, given: bool) -> NewEvent {
        NewEvent {
            id: format!("evt_{i}"),
            subject: SubjectRef([subject; 32]),
            purpose: purpose.into(),
            given,
            source: custodian_core::consent::Source::Api,
            policy_version: "v1".into(),
            notice_hash: Some("sha256:ab".into()),
            ip_truncated: None,
            receipt_id: format!("rcpt_{i}"),
            created_at: 1_000 + i as i64,
            link: custodian_store::consent::Unlinked,
        }
    }

    /// A store on a fresh PostgreSQL database, changed by `statements` (a test's triggers);
    /// `None` where PostgreSQL is not running (outside CI).
    async fn postgres_with(statements: &[&str]) -> Option<Store> {
        let store = Store::open(&testing::fresh_postgres_url().await?)
            .await
            .unwrap();
        for sql in statements {
            sqlx::query(sql)
                .execute(store.postgres_pool().unwrap())
                .await
                .unwrap();
        }
        Some(store)
    }

    async fn verify_all(store: &Store) -> u64 {
        let mut total = 0;
        for chain in 0..CHAINS {
            let mut v = ChainVerifier::new(chain);
            let mut s = store.chain_events(chain);
            while let Some(e) = s.try_next().await.unwrap() {
                v.push(&e).unwrap();
            }
            total += v.checked;
        }
        total
    }

    on_both!(
        appends_link_chains_and_derive_state,
        |store: Store| async move {
            let a = store
                .append_consent(&[ev(1, 1, "marketing", true), ev(2, 1, "analytics", true)])
                .await
                .unwrap();
            assert_eq!(a.len(), 2);
            assert_eq!(
                (a[0].link.seq, a[1].link.seq),
                (1, 2),
                "same subject, same chain, in order"
            );
            store
                .append_consent(&[ev(3, 1, "marketing", false), ev(4, 2, "marketing", true)])
                .await
                .unwrap();
            let state = store.consent_state_of(&SubjectRef([1; 32])).await.unwrap();
            let m = state.iter().find(|s| s.purpose == "marketing").unwrap();
            assert!(!m.given, "the newest event wins");
            assert_eq!(m.event_id, "evt_3");
            assert_eq!(verify_all(&store).await, 4);
            let all: Vec<_> = store.all_consent_state().try_collect().await.unwrap();
            assert_eq!(all.len(), 3);
            assert_eq!(
                store
                    .subject_events(&SubjectRef([1; 32]))
                    .await
                    .unwrap()
                    .len(),
                3
            );
            assert_eq!(store.receipt_events("rcpt_4").await.unwrap().len(), 1);
        }
    );

    on_both!(
        within_one_batch_the_newest_then_the_later_choice_stands,
        |store: Store| async move {
            let s = 9u8;
            // Older than the one before it in the batch: joins the ledger, does not stand.
            let (a, b) = (ev(8, s, "marketing", true), ev(7, s, "marketing", false));
            // Made at the same time: the later in the batch stands.
            let (c, mut d) = (ev(20, s, "analytics", false), ev(21, s, "analytics", true));
            d.created_at = c.created_at;
            store.append_consent(&[a, b, c, d]).await.unwrap();
            let state = store.consent_state_of(&SubjectRef([s; 32])).await.unwrap();
            let given = |p: &str| state.iter().find(|r| r.purpose == p).unwrap().given;
            assert!(
                given("marketing"),
                "the newer event stands, wherever it is in the batch"
            );
            assert!(
                given("analytics"),
                "of two at the same time, the later in the batch"
            );
            assert_eq!(state.len(), 2);
        }
    );

    /// Each event's `prior_given`, in the order written.
    async fn priors(store: &Store) -> Vec<(String, Option<bool>)> {
        store
            .fetch_all(
                "SELECT id, prior_given FROM consent_events ORDER BY gseq",
                &[],
            )
            .await
            .unwrap()
    }

    /// Each event records the choice in force for its subject and purpose just before it
    /// (`prior_given`, from which the overview counts withdrawals): the stored state as the
    /// batch's earlier events changed it by the rule that the newest choice stands, nothing
    /// after an erasure. `append` is one of the paths events are written by.
    async fn records_the_choice_in_force<F, Fut>(store: &Store, append: F)
    where
        F: Fn(Vec<NewEvent>) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let s = 5u8;
        let at = |mut e: NewEvent, t: i64| {
            e.created_at = t;
            e
        };
        // Nothing before the first choice.
        append(vec![at(ev(1, s, "marketing", true), 100)]).await;
        // The stored state, then the batch's own earlier events; of two at the same time, the
        // later in the batch is in force.
        append(vec![
            at(ev(2, s, "marketing", false), 200),
            at(ev(3, s, "marketing", true), 300),
            at(ev(4, s, "marketing", false), 300),
            at(ev(5, s, "marketing", true), 300),
        ])
        .await;
        // An old choice (an import) joins the ledger without standing: the next finds the
        // newer stored choice in force, not it — across batches and within one.
        append(vec![at(ev(6, s, "marketing", false), 50)]).await;
        append(vec![
            at(ev(7, s, "marketing", false), 60),
            at(ev(8, s, "marketing", false), 400),
        ])
        .await;
        // A batch's event made at the time of the stored choice stands over it, and is the
        // one in force for the next.
        append(vec![
            at(ev(9, s, "marketing", true), 400),
            at(ev(10, s, "marketing", false), 450),
        ])
        .await;
        // Another purpose, another subject: their own history.
        append(vec![
            at(ev(11, s, "analytics", false), 400),
            at(ev(12, 6, "marketing", true), 400),
        ])
        .await;
        // After an erasure nothing is in force: a refusal then is not a withdrawal.
        store
            .delete_consent_state(&SubjectRef([s; 32]).to_hex())
            .await
            .unwrap();
        append(vec![at(ev(13, s, "marketing", false), 500)]).await;
        let want: Vec<(String, Option<bool>)> = [
            None,
            Some(true),
            Some(false),
            Some(true),
            Some(false),
            Some(true),
            Some(true),
            Some(true),
            Some(false),
            Some(true),
            None,
            None,
            None,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("evt_{}", i + 1), p))
        .collect();
        assert_eq!(priors(store).await, want);
        // The overview counts from it: a refusal while consent was in force is a withdrawal
        // (evt_2, 4, 6, 7, 8, 10 — evt_8 too, as the old refusal before it never stood), the
        // others are refusals (evt_11; evt_13, after the erasure).
        let weeks = store.consent_per_week(0).await.unwrap();
        let sum = |f: fn(&custodian_store::overview::ConsentWeek) -> i64| -> i64 {
            weeks.iter().map(f).sum()
        };
        assert_eq!(
            (sum(|w| w.given), sum(|w| w.withdrawn), sum(|w| w.refused)),
            (5, 6, 2)
        );
        // The ledger keeps the erased subject's events, and finds them on its chain.
        assert_eq!(
            store
                .subject_events(&SubjectRef([s; 32]))
                .await
                .unwrap()
                .len(),
            12
        );
        assert_eq!(verify_all(store).await, 13);
    }

    /// The scenario appended by `Store::append_consent` itself.
    async fn directly(store: Store) {
        records_the_choice_in_force(&store, |batch| {
            let store = store.clone();
            async move {
                store.append_consent(&batch).await.unwrap();
            }
        })
        .await;
    }

    /// The scenario appended through a `ConsentWriter` on `store`.
    async fn through_a_writer(store: Store) {
        let writer = ConsentWriter::spawn(store.clone());
        records_the_choice_in_force(&store, |batch| {
            let writer = writer.clone();
            async move {
                writer.append(batch).await.unwrap();
            }
        })
        .await;
    }

    on_both!(each_appended_event_records_the_choice_in_force, directly);

    // Through the writer: SQLite's own thread (a file) and PostgreSQL's task.
    on_both!(
        each_event_through_the_writer_records_the_choice_in_force,
        through_a_writer
    );

    /// The task on an in-memory SQLite database.
    #[tokio::test]
    async fn each_event_through_the_in_memory_writer_records_the_choice_in_force() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        assert!(store.sqlite_file().is_none());
        through_a_writer(store).await;
    }

    /// PostgreSQL's append under row locks, which a writer takes after its one-statement
    /// append found the heads moved three times: a statement trigger says so for the first
    /// three tries of every append here, so each lands by the locked path.
    #[tokio::test]
    async fn each_event_through_postgres_locked_append_records_the_choice_in_force() {
        let Some(store) = postgres_with(&[
            "CREATE SEQUENCE stale_in_test",
            "CREATE FUNCTION stale_in_test() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF nextval('stale_in_test') % 4 <> 0 THEN RAISE EXCEPTION 'stale chain heads (in test)'; END IF; \
             RETURN NULL; END $$",
            "CREATE TRIGGER stale_in_test BEFORE INSERT ON consent_events \
             FOR EACH STATEMENT EXECUTE FUNCTION stale_in_test()",
        ])
        .await
        else {
            return;
        };
        directly(store.clone()).await;
        let (tries,): (i64,) = store
            .fetch_one("SELECT last_value FROM stale_in_test", &[])
            .await
            .unwrap();
        assert_eq!(tries, 4 * 7, "seven appends, each on its fourth try");
    }

    on_both!(
        duplicate_event_ids_fail_and_write_nothing,
        |store: Store| async move {
            store
                .append_consent(&[ev(1, 1, "marketing", true)])
                .await
                .unwrap();
            assert!(store
                .append_consent(&[ev(2, 1, "analytics", true), ev(1, 1, "marketing", false)])
                .await
                .is_err());
            let all: Vec<_> = store.all_consent_events().try_collect().await.unwrap();
            assert_eq!(all.len(), 1, "the failed batch left nothing behind");
            assert_eq!(verify_all(&store).await, 1);
        }
    );

    on_both!(
        concurrent_writers_share_commits_and_keep_chains_valid,
        |store: Store| async move {
            let writer = ConsentWriter::spawn(store.clone());
            let mut tasks = Vec::new();
            for i in 0..200u32 {
                let w = writer.clone();
                tasks.push(tokio::spawn(async move {
                    w.append(vec![ev(i, (i % 7) as u8, "marketing", i % 2 == 0)])
                        .await
                }));
            }
            for t in tasks {
                assert_eq!(t.await.unwrap().unwrap().len(), 1);
            }
            // A bad submission fails alone.
            let bad = writer.append(vec![ev(5, 1, "marketing", true)]).await;
            assert!(bad.is_err());
            assert_eq!(verify_all(&store).await, 200);
        }
    );

    /// SQLite rolls a whole transaction back by itself on a full disk or an I/O error, and
    /// the writer's `OR ROLLBACK` does for a broken constraint. The writer must go on with
    /// the next batch rather than fail every write after (sqlx's connection, which the
    /// writer once used, counted itself still inside the transaction and refused every later
    /// `BEGIN`). A trigger stands in for the full disk: it rolls back any append of one
    /// purpose.
    #[tokio::test]
    async fn a_writer_goes_on_after_the_database_rolled_its_transaction_back() {
        let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER refuse_in_test BEFORE INSERT ON consent_events \
             WHEN NEW.purpose = 'refused_in_test' BEGIN SELECT RAISE(ROLLBACK, 'refused by the test'); END",
        )
        .execute(store.sqlite_pool().unwrap())
        .await
        .unwrap();
        let writer = ConsentWriter::spawn(store.clone());
        let refused = writer.append(vec![ev(1, 1, "refused_in_test", true)]).await;
        assert!(refused.is_err(), "{refused:?}");
        for i in 2..6u32 {
            let landed = writer.append(vec![ev(i, 1, "marketing", true)]).await;
            assert_eq!(
                landed.map(|e| e.len()).map_err(|e| e.to_string()),
                Ok(1),
                "append {i}"
            );
        }
        // A batch with one refused submission: the others still land, one by one.
        let mut tasks = Vec::new();
        for i in 6..12u32 {
            let (w, purpose) = (
                writer.clone(),
                if i == 8 {
                    "refused_in_test"
                } else {
                    "analytics"
                },
            );
            tasks.push(tokio::spawn(async move {
                w.append(vec![ev(i, 2, purpose, true)]).await
            }));
        }
        let landed = futures_util::future::join_all(tasks)
            .await
            .into_iter()
            .filter(|r| r.as_ref().unwrap().is_ok())
            .count();
        assert_eq!(landed, 5);
        assert_eq!(verify_all(&store).await, 4 + 5);
    }

    /// One submission to the writer is one transaction, whichever chains its events land on —
    /// a choice that reaches a subject's linked devices lands on all of them or on none — and
    /// a submission that fails takes no other submission of its batch down with it. Run on
    /// each of the writer's three paths: SQLite's own thread (a file), the task on an
    /// in-memory SQLite database, and the task on PostgreSQL.
    async fn a_submission_lands_whole_or_not_at_all(store: Store) {
        let writer = ConsentWriter::spawn(store.clone());
        // Subjects 1 and 3 are on different chains; the second event is refused.
        let (a, b) = (SubjectRef([1; 32]), SubjectRef([3; 32]));
        assert_ne!(
            custodian_core::ledger::chain_of(&a),
            custodian_core::ledger::chain_of(&b)
        );
        let whole = writer.clone();
        let refused = tokio::spawn(async move {
            whole
                .append(vec![
                    ev(1, 1, "analytics", true),
                    ev(2, 3, "refused_in_test", true),
                ])
                .await
        });
        let beside = writer.clone();
        let landed = tokio::spawn(async move {
            beside
                .append(vec![
                    ev(3, 5, "analytics", true),
                    ev(4, 7, "analytics", true),
                ])
                .await
        });
        assert!(
            refused.await.unwrap().is_err(),
            "the refused event fails its submission"
        );
        assert_eq!(
            landed.await.unwrap().unwrap().len(),
            2,
            "the other submission lands"
        );
        for subject in [&a, &b] {
            assert_eq!(store.subject_events(subject).await.unwrap(), Vec::new());
            assert_eq!(store.consent_state_of(subject).await.unwrap(), Vec::new());
        }
        // Both subjects' chains are still whole and move on from where they were.
        let next = writer
            .append(vec![
                ev(5, 1, "analytics", true),
                ev(6, 3, "analytics", true),
            ])
            .await
            .unwrap();
        assert_eq!((next[0].link.seq, next[1].link.seq), (1, 1));
        assert_eq!(verify_all(&store).await, 4);
    }

    /// SQLite's writer gathers a commit's WAL frames into writes of at most 120 KiB
    /// (`sqlite/wal_buffer.rs`; the default VFS takes less than 128 KiB per write and answers a
    /// longer one as a full disk). One submission of 1,500 events is some 2 MB of frames, spilt
    /// from the page cache before the commit as well: it lands whole, another connection
    /// reads it, and so does a new store on the same file after the writer is gone.
    #[tokio::test]
    async fn a_commit_of_many_frames_lands_and_reads_back() {
        let url = testing::fresh_sqlite_url();
        let store = Store::open(&url).await.unwrap();
        let writer = ConsentWriter::spawn(store.clone());
        let batch: Vec<NewEvent> = (0..1_500u32)
            .map(|i| {
                // A subject of its own for each, spread over the chains.
                let mut subject = [0u8; 32];
                subject[0] = (i % 251) as u8;
                subject[2..6].copy_from_slice(&i.to_be_bytes());
                NewEvent {
                    subject: SubjectRef(subject),
                    ..ev(
                        i,
                        0,
                        if i % 2 == 0 { "analytics" } else { "marketing" },
                        true,
                    )
                }
            })
            .collect();
        assert_eq!(writer.append(batch).await.unwrap().len(), 1_500);
        let more = writer.append(vec![ev(2_000, 1, "analytics", false)]).await;
        assert_eq!(more.unwrap().len(), 1);
        drop(writer);
        let other = Store::connect(&url).await.unwrap();
        assert_eq!(verify_all(&other).await, 1_501);
        // The writer leaves the state to folds (`consent/fold.rs`): a raw read settles first.
        other.settle_consent_state().await.unwrap();
        let (states,): (i64,) = other
            .fetch_one("SELECT COUNT(*) FROM consent_state", &[])
            .await
            .unwrap();
        assert_eq!(states, 1_501);
        store.close().await;
        other.close().await;
        let reopened = Store::open(&url).await.unwrap();
        assert_eq!(verify_all(&reopened).await, 1_501);
    }

    /// A SQLite store at `url` whose appends of the purpose `refused_in_test` fail.
    async fn sqlite_refusing(url: &str) -> Store {
        let store = Store::open(url).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER refuse_in_test BEFORE INSERT ON consent_events \
             WHEN NEW.purpose = 'refused_in_test' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
        .execute(store.sqlite_pool().unwrap())
        .await
        .unwrap();
        store
    }

    #[tokio::test]
    async fn a_submission_lands_whole_or_not_at_all_sqlite_file() {
        let store = sqlite_refusing(&testing::fresh_sqlite_url()).await;
        assert!(store.sqlite_file().is_some(), "the writer's own thread");
        a_submission_lands_whole_or_not_at_all(store).await;
    }

    #[tokio::test]
    async fn a_submission_lands_whole_or_not_at_all_sqlite_in_memory() {
        let store = sqlite_refusing("sqlite::memory:").await;
        assert!(store.sqlite_file().is_none(), "the writer's task");
        a_submission_lands_whole_or_not_at_all(store).await;
    }

    #[tokio::test]
    async fn a_submission_lands_whole_or_not_at_all_postgres() {
        let Some(store) = postgres_with(&[
            "CREATE FUNCTION refuse_in_test() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.purpose = 'refused_in_test' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER refuse_in_test BEFORE INSERT ON consent_events \
             FOR EACH ROW EXECUTE FUNCTION refuse_in_test()",
        ])
        .await
        else {
            return;
        };
        a_submission_lands_whole_or_not_at_all(store).await;
    }

    /// Two handles on one database — two nodes — append to the same chain in turn: each
    /// starts from the heads it saw last, which the other has moved, so on PostgreSQL every
    /// append after the first finds its heads stale, reads them again and still links after
    /// the other's events. No fork, no gap.
    async fn two_nodes_appending_to_one_chain_keep_it_whole(url: String) {
        let store = Store::open(&url).await.unwrap();
        let other = Store::connect(&url).await.unwrap();
        for i in 0..10u32 {
            let node = if i % 2 == 0 { &store } else { &other };
            let a = node
                .append_consent(&[ev(i, 1, "marketing", i % 3 == 0)])
                .await
                .unwrap();
            assert_eq!(
                a[0].link.seq,
                i64::from(i) + 1,
                "append {i} follows the last"
            );
        }
        assert_eq!(verify_all(&store).await, 10);
        // Both at once, many times: every append lands, in one unbroken chain.
        let mut tasks = Vec::new();
        for i in 10..60u32 {
            let node = if i % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            tasks.push(tokio::spawn(async move {
                node.append_consent(&[ev(i, 1, "analytics", true)]).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(verify_all(&store).await, 60);
    }

    #[tokio::test]
    async fn two_nodes_on_sqlite() {
        two_nodes_appending_to_one_chain_keep_it_whole(testing::fresh_sqlite_url()).await;
    }

    #[tokio::test]
    async fn two_nodes_on_postgres() {
        let Some(url) = testing::fresh_postgres_url().await else {
            return;
        };
        two_nodes_appending_to_one_chain_keep_it_whole(url).await;
    }

    /// The PostgreSQL writers' own connections are opened beside the pool: with every writer
    /// holding one, requests can still take all of the pool's connections at once (taken from
    /// the pool, four held connections left it twelve, and a node ran out after a restart).
    #[tokio::test]
    async fn writers_on_postgres_leave_the_pool_whole() {
        let Some(url) = testing::fresh_postgres_url().await else {
            return;
        };
        let store = Store::open(&url).await.unwrap();
        let writers: Vec<Store> = (0..4).map(|_| store.for_one_writer()).collect();
        for (i, w) in writers.iter().enumerate() {
            w.append_consent(&[ev(i as u32, 1, "marketing", true)])
                .await
                .unwrap();
        }
        let pool = store.postgres_pool().unwrap();
        let mut taken = Vec::new();
        for n in 0..pool.options().get_max_connections() {
            let c = tokio::time::timeout(std::time::Duration::from_secs(5), pool.acquire())
                .await
                .unwrap_or_else(|_| panic!("connection {n} of the pool was not to be had"))
                .unwrap();
            taken.push(c);
        }
        drop(taken);
        // And the writers still write on the connections they hold.
        for (i, w) in writers.iter().enumerate() {
            w.append_consent(&[ev(10 + i as u32, 1, "analytics", true)])
                .await
                .unwrap();
        }
        assert_eq!(verify_all(&store).await, 8);
    }

    on_both!(
        checkpoints_record_heads_once_per_change,
        |store: Store| async move {
            store
                .append_consent(&[ev(1, 1, "marketing", true)])
                .await
                .unwrap();
            let c = store.checkpoint(10).await.unwrap().unwrap();
            assert_eq!(c.heads.len(), CHAINS as usize);
            assert!(
                store.checkpoint(11).await.unwrap().is_none(),
                "nothing changed"
            );
            store
                .append_consent(&[ev(2, 9, "marketing", true)])
                .await
                .unwrap();
            assert!(store.checkpoint(12).await.unwrap().is_some());
            assert_eq!(store.checkpoints().await.unwrap().len(), 2);
        }
    );

    on_both!(
        links_and_policy_versions_are_idempotent,
        |store: Store| async move {
            let (d, a) = (SubjectRef([1; 32]), SubjectRef([2; 32]));
            store.link_subjects(&d, &a, 1).await.unwrap();
            store.link_subjects(&d, &a, 2).await.unwrap();
            assert_eq!(
                store.all_links().await.unwrap(),
                vec![(d.to_hex(), a.to_hex())]
            );
            assert!(store.remember_policy_version("v1", "doc", 1).await.unwrap());
            assert!(!store.remember_policy_version("v1", "doc", 2).await.unwrap());
            assert_eq!(
                store.policy_versions().await.unwrap(),
                vec![("v1".to_string(), "doc".to_string())]
            );
        }
    );
}

mod ledger_verification {
    use super::*;
    use custodian_core::subject::SubjectRef;
    use custodian_store::consent::NewEvent;

    fn ev(i: u32, subject: u8) -> NewEvent {
        NewEvent {
            id: format!("evt_{i}"),
            subject: SubjectRef([subject; 32]),
            purpose: "marketing".into(),
            given: true,
            source: custodian_core::consent::Source::Api,
            policy_version: "v1".into(),
            notice_hash: None,
            ip_truncated: None,
            receipt_id: format!("rcpt_{i}"),
            created_at: i as i64,
            link: custodian_store::consent::Unlinked,
        }
    }

    async fn exec(store: &Store, sqlite: &str, pg: &str) {
        match (store.sqlite_pool(), store.postgres_pool()) {
            (Some(p), _) => assert!(
                sqlx::query(sqlite)
                    .execute(p)
                    .await
                    .unwrap()
                    .rows_affected()
                    > 0
            ),
            (_, Some(p)) => {
                assert!(sqlx::query(pg).execute(p).await.unwrap().rows_affected() > 0)
            }
            (None, None) => unreachable!("a store is on one backend"),
        }
    }

    async fn filled(store: &Store) {
        for i in 0..20 {
            store.append_consent(&[ev(i, (i % 3) as u8)]).await.unwrap();
        }
        store.checkpoint(100).await.unwrap();
        let r = store.verify_ledger(|_, _| {}).await.unwrap();
        assert!(r.ok(), "{r:?}");
        assert_eq!(r.events_checked, 20);
        assert_eq!(r.checkpoints_checked, 1);
    }

    on_both!(an_edited_row_is_named, |store: Store| async move {
        filled(&store).await;
        exec(
            &store,
            "UPDATE consent_events SET given = 0 WHERE id = 'evt_7'",
            "UPDATE consent_events SET given = false WHERE id = 'evt_7'",
        )
        .await;
        let r = store.verify_ledger(|_, _| {}).await.unwrap();
        let b = r.first_break.unwrap();
        assert!(b.contains("evt_7") && b.contains("edited"), "{b}");
    });

    on_both!(a_deleted_row_is_caught, |store: Store| async move {
        filled(&store).await;
        exec(
            &store,
            "DELETE FROM consent_events WHERE id = 'evt_9'",
            "DELETE FROM consent_events WHERE id = 'evt_9'",
        )
        .await;
        let b = store
            .verify_ledger(|_, _| {})
            .await
            .unwrap()
            .first_break
            .unwrap();
        assert!(b.contains("gap") || b.contains("link"), "{b}");
    });

    on_both!(
        a_cut_tail_is_caught_by_heads_and_checkpoints,
        |store: Store| async move {
            filled(&store).await;
            // Remove the newest event of a chain and rewind its head, as a careful forger would.
            exec(
                &store,
                "DELETE FROM consent_events WHERE id = 'evt_19'",
                "DELETE FROM consent_events WHERE id = 'evt_19'",
            )
            .await;
            let b = store
                .verify_ledger(|_, _| {})
                .await
                .unwrap()
                .first_break
                .unwrap();
            assert!(b.contains("stored head"), "{b}");
            let heads_fix_sqlite = "UPDATE ledger_heads SET seq = (SELECT MAX(seq) FROM consent_events e WHERE e.chain = ledger_heads.chain), hash = (SELECT hash FROM consent_events e WHERE e.chain = ledger_heads.chain ORDER BY seq DESC LIMIT 1) WHERE chain IN (SELECT DISTINCT chain FROM consent_events)";
            exec(&store, heads_fix_sqlite, heads_fix_sqlite).await;
            let b = store
                .verify_ledger(|_, _| {})
                .await
                .unwrap()
                .first_break
                .unwrap();
            assert!(b.contains("checkpoint"), "{b}");
        }
    );
}

on_both!(
    datastores_keep_their_fides_policy_and_their_last_check,
    |store: Store| async move {
        store
            .put_datastore_with(
                "shop",
                "/d/shop.yml",
                Some("SHOP_URL"),
                None,
                Some("/d/p.json"),
            )
            .await
            .unwrap();
        let listed = store.datastores().await.unwrap();
        assert_eq!(listed[0].fides_policy.as_deref(), Some("/d/p.json"));
        // Re-registered without a policy: the policy goes too.
        store
            .put_datastore("shop", "/d/shop.yml", Some("SHOP_URL"), None)
            .await
            .unwrap();
        assert_eq!(store.datastores().await.unwrap()[0].fides_policy, None);
        assert_eq!(store.dataset_check("shop").await.unwrap(), None);
        store.put_dataset_check("shop", "abc", true).await.unwrap();
        assert_eq!(
            store.dataset_check("shop").await.unwrap(),
            Some(("abc".to_owned(), true))
        );
        store.put_dataset_check("shop", "def", false).await.unwrap();
        assert_eq!(
            store.dataset_check("shop").await.unwrap(),
            Some(("def".to_owned(), false))
        );
        store.forget_dataset_check("shop").await.unwrap();
        assert_eq!(store.dataset_check("shop").await.unwrap(), None);
    }
);
