//! SQLite's current consent state is folded from the ledger's tail rather than written in each
//! commit (`consent/fold.rs`, migration 0023). These tests hold the fold to what the state
//! promised before: every reader sees every committed choice, the newest choice stands, an
//! erasure stays erased, and the writer's memory of the tail never gives a wrong
//! `prior_given` when another process writes beside it.

use std::time::{Duration, Instant};

use custodian_core::consent::Source;
use custodian_core::subject::SubjectRef;
use custodian_store::consent::{NewEvent, Unlinked};
use custodian_store::writer::ConsentWriter;
use custodian_store::{testing, Store};
use futures_util::TryStreamExt;

fn ev(i: u32, subject: u8, purpose: &str, given: bool, at: i64) -> NewEvent {
    NewEvent {
        id: format!("evt_{i:04}"),
        subject: SubjectRef([subject; 32]),
        purpose: purpose.into(),
        given,
        source: Source::Api,
        policy_version: "v1".into(),
        notice_hash: None,
        ip_truncated: None,
        receipt_id: format!("rcpt_{i}"),
        created_at: at,
        link: Unlinked,
    }
}

/// `(mark, last event)`: how far the state is folded, and how far the ledger goes.
async fn mark_and_last(store: &Store) -> (i64, i64) {
    store
        .fetch_one(
            "SELECT gseq, (SELECT COALESCE(MAX(gseq), 0) FROM consent_events) FROM consent_state_mark",
            &[],
        )
        .await
        .unwrap()
}

/// The whole state, sorted: `(subject, purpose, given, event)`.
async fn state(store: &Store) -> Vec<(String, String, bool, String)> {
    store.settle_consent_state().await.unwrap();
    store
        .fetch_all(
            "SELECT subject_ref, purpose, given, event_id FROM consent_state ORDER BY subject_ref, purpose",
            &[],
        )
        .await
        .unwrap()
}

/// Each event's id and `prior_given`, in the order written.
async fn priors(store: &Store) -> Vec<(String, Option<bool>)> {
    store
        .fetch_all(
            "SELECT id, prior_given FROM consent_events ORDER BY gseq",
            &[],
        )
        .await
        .unwrap()
}

async fn append(writer: &ConsentWriter, events: Vec<NewEvent>) {
    writer.append(events).await.unwrap();
}

async fn exec(store: &Store, sql: &str) {
    store.execute(sql, &[]).await.unwrap();
}

fn given_of(rows: &[custodian_store::consent::StateRow], purpose: &str) -> Option<bool> {
    rows.iter().find(|r| r.purpose == purpose).map(|r| r.given)
}

#[tokio::test]
async fn every_reader_sees_what_the_writer_appended_before_any_fold() {
    let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
    let writer = ConsentWriter::spawn(store.clone());
    append(
        &writer,
        vec![
            ev(1, 1, "marketing", true, 100),
            ev(2, 2, "analytics", true, 100),
        ],
    )
    .await;
    append(&writer, vec![ev(3, 1, "marketing", false, 200)]).await;
    // Each reader folds first, whether or not the writer has.
    let one = store.consent_state_of(&SubjectRef([1; 32])).await.unwrap();
    assert_eq!(given_of(&one, "marketing"), Some(false));
    assert_eq!(one[0].event_id, "evt_0003");
    let all: Vec<_> = store.all_consent_state().try_collect().await.unwrap();
    assert_eq!(all.len(), 2);
    let choices: Vec<_> = store.all_consent_choices().try_collect().await.unwrap();
    assert_eq!(choices.len(), 2);
    let counts = store.consent_state_counts().await.unwrap();
    assert_eq!(
        counts,
        vec![
            ("analytics".into(), true, 1),
            ("marketing".into(), false, 1)
        ]
    );
    let (mark, last) = mark_and_last(&store).await;
    assert_eq!((mark, last), (3, 3), "a reader leaves no tail behind");
    // The writer, finding the mark moved by a reader, goes on from the state.
    let more = writer
        .append(vec![ev(4, 1, "marketing", true, 300)])
        .await
        .unwrap();
    assert_eq!(
        more[0].link.seq, 3,
        "subject 1's chain: events 1, 3, then this"
    );
    let (prior,): (Option<bool>,) = store
        .fetch_one(
            "SELECT prior_given FROM consent_events WHERE id = 'evt_0004'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(prior, Some(false));
}

#[tokio::test]
async fn a_quiet_writer_folds_its_tail_without_a_reader() {
    let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
    let writer = ConsentWriter::spawn(store.clone());
    for i in 0..5u32 {
        append(&writer, vec![ev(i, i as u8, "marketing", true, 100)]).await;
    }
    // What the writer's memory must fold by the state's rule: an older choice that does not
    // stand, two made at once (the later written stands), a purpose interned late.
    append(&writer, vec![ev(10, 1, "marketing", false, 50)]).await;
    append(
        &writer,
        vec![
            ev(11, 2, "marketing", false, 100),
            ev(12, 3, "analytics", true, 70),
        ],
    )
    .await;
    // `mark_and_last` reads, it does not fold: only the writer can bring the mark up here.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (mark, last) = mark_and_last(&store).await;
        assert_eq!(last, 8);
        if mark == last {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the tail was never folded: mark {mark}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let folded = state(&store).await;
    let given: Vec<(u8, &str, bool, &str)> = folded
        .iter()
        .map(|(s, p, g, e)| {
            (
                u8::from_str_radix(&s[..2], 16).unwrap(),
                p.as_str(),
                *g,
                e.as_str(),
            )
        })
        .collect();
    assert_eq!(
        given,
        vec![
            (0, "marketing", true, "evt_0000"),
            (1, "marketing", true, "evt_0001"),
            (2, "marketing", false, "evt_0011"),
            (3, "analytics", true, "evt_0012"),
            (3, "marketing", true, "evt_0003"),
            (4, "marketing", true, "evt_0004"),
        ]
    );
    // The same as the fold in SQL of the whole ledger.
    exec(&store, "DELETE FROM consent_state").await;
    exec(&store, "UPDATE consent_state_mark SET gseq = 0").await;
    assert_eq!(state(&store).await, folded);
}

#[tokio::test]
async fn an_erasure_stays_erased_when_the_tail_is_folded_after_it() {
    let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
    let writer = ConsentWriter::spawn(store.clone());
    append(
        &writer,
        vec![
            ev(1, 7, "marketing", true, 100),
            ev(2, 8, "marketing", true, 100),
        ],
    )
    .await;
    assert_eq!(
        store
            .delete_consent_state(&SubjectRef([7; 32]).to_hex())
            .await
            .unwrap(),
        1,
        "the erasure found the choice still in the writer's tail"
    );
    append(&writer, vec![ev(3, 8, "analytics", false, 200)]).await;
    drop(writer);
    let rows = state(&store).await;
    let subjects: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert!(
        !subjects.contains(&SubjectRef([7; 32]).to_hex().as_str()),
        "{rows:?}"
    );
    assert_eq!(rows.len(), 2);
    // A retention purge of a purpose likewise, its choice surely in the tail.
    store
        .append_consent(&[ev(4, 9, "marketing", false, 300)])
        .await
        .unwrap();
    unfold_last(&store, &SubjectRef([9; 32])).await;
    let purged = store
        .apply_purges(
            &[custodian_store::retention::Purge {
                subject_ref: SubjectRef([9; 32]).to_hex(),
                rule: "withdrawn".into(),
                data: "consent".into(),
                due_since: 300,
                action: custodian_store::retention::PurgeAction::ConsentState {
                    purposes: vec!["marketing".into()],
                },
            }],
            400,
        )
        .await
        .unwrap();
    assert_eq!(purged, 1, "the purge found the choice in the tail");
    assert_eq!(state(&store).await.len(), 2);
}

/// Puts the last event back into the tail, as a crash before its fold would have left it:
/// the mark before it, and no state for its subject (whose only event it must be).
async fn unfold_last(store: &Store, subject: &SubjectRef) {
    store
        .execute(
            "DELETE FROM consent_state WHERE subject_ref = $1",
            &[subject.to_hex().as_str().into()],
        )
        .await
        .unwrap();
    exec(
        store,
        "UPDATE consent_state_mark SET gseq = (SELECT MAX(gseq) - 1 FROM consent_events)",
    )
    .await;
}

#[tokio::test]
async fn the_state_folded_from_the_whole_ledger_is_the_state_written_event_by_event() {
    let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
    // Through the pool: each append writes its own state, as before the fold.
    store
        .append_consent(&[
            ev(1, 1, "marketing", true, 100),
            // Older than the one before it: joins the ledger, does not stand.
            ev(2, 1, "marketing", false, 50),
            // Made at the same time: the later written stands.
            ev(3, 2, "analytics", false, 100),
            ev(4, 2, "analytics", true, 100),
        ])
        .await
        .unwrap();
    store
        .append_consent(&[
            ev(5, 3, "marketing", true, 10),
            ev(6, 2, "analytics", false, 100),
        ])
        .await
        .unwrap();
    let written = state(&store).await;
    assert_eq!(written.len(), 3);
    // As if nothing had ever been folded (a crash before the first fold): one fold of the
    // whole ledger must give the same state.
    exec(&store, "DELETE FROM consent_state").await;
    exec(&store, "UPDATE consent_state_mark SET gseq = 0").await;
    assert_eq!(state(&store).await, written);
    assert_eq!(mark_and_last(&store).await, (6, 6));
}

#[tokio::test]
async fn the_writer_finds_the_choice_in_force_after_another_process_appended() {
    let url = testing::fresh_sqlite_url();
    let store = Store::open(&url).await.unwrap();
    // Another process on the same file: the CLI's import, say, through its own pool.
    let other = Store::connect(&url).await.unwrap();
    let writer = ConsentWriter::spawn(store.clone());
    append(&writer, vec![ev(1, 4, "marketing", true, 100)]).await;
    other
        .append_consent(&[ev(2, 4, "marketing", false, 200)])
        .await
        .unwrap();
    // An old choice from elsewhere joins the ledger but does not stand.
    other
        .append_consent(&[ev(3, 4, "marketing", true, 150)])
        .await
        .unwrap();
    append(&writer, vec![ev(4, 4, "marketing", true, 300)]).await;
    assert_eq!(
        priors(&store).await,
        vec![
            ("evt_0001".into(), None),
            ("evt_0002".into(), Some(true)),
            ("evt_0003".into(), Some(false)),
            ("evt_0004".into(), Some(false)),
        ]
    );
    let now = store.consent_state_of(&SubjectRef([4; 32])).await.unwrap();
    assert_eq!(given_of(&now, "marketing"), Some(true));
    assert_eq!(now[0].event_id, "evt_0004");
    other.close().await;
}

#[tokio::test]
async fn changes_answer_unfolded_events_with_their_own_choice_and_erased_ones_with_none() {
    let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
    let subject = SubjectRef([3; 32]);
    let chain = custodian_core::ledger::chain_of(&subject);
    store
        .append_consent(&[ev(1, 3, "marketing", true, 100)])
        .await
        .unwrap();
    // Two more past the mark, the second older than the first (an import): each answers its
    // own choice, in the chain's order, and the reader keeps the newest.
    store
        .append_consent(&[ev(2, 3, "marketing", false, 300)])
        .await
        .unwrap();
    store
        .append_consent(&[ev(3, 3, "analytics", true, 200)])
        .await
        .unwrap();
    exec(&store, "UPDATE consent_state_mark SET gseq = 1").await;
    exec(
        &store,
        "DELETE FROM consent_state WHERE purpose = 'analytics' OR updated_at = 300",
    )
    .await;
    exec(&store, "INSERT INTO consent_state (subject_ref, purpose, given, event_id, source, policy_version, notice_hash, updated_at) SELECT subject_ref, purpose, given, id, source, policy_version, notice_hash, created_at FROM consent_events WHERE gseq = 1").await;
    let changes = store.consent_changes(chain, 0, 10).await.unwrap();
    let seen: Vec<(i64, &str, bool, i64)> = changes
        .iter()
        .map(|c| {
            (
                c.seq,
                c.choice.purpose.as_str(),
                c.choice.given,
                c.choice.updated_at,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (1, "marketing", true, 100),
            (2, "marketing", false, 300),
            (3, "analytics", true, 200)
        ]
    );
    // The reader asked for no fold.
    assert_eq!(mark_and_last(&store).await, (1, 3));
    // After an erasure (which folds first), none of the subject's events answers a choice.
    store.delete_consent_state(&subject.to_hex()).await.unwrap();
    assert_eq!(
        store.consent_changes(chain, 0, 10).await.unwrap(),
        Vec::new()
    );
    // A page stops at its limit, in the chain's order, across folded and unfolded events
    // (read from past the erased ones: those answer the subject's new choices now).
    store
        .append_consent(&[
            ev(4, 3, "marketing", true, 400),
            ev(5, 3, "analytics", false, 400),
        ])
        .await
        .unwrap();
    exec(&store, "UPDATE consent_state_mark SET gseq = 4").await;
    let page: Vec<i64> = store
        .consent_changes(chain, 3, 1)
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(page, vec![4]);
    let rest: Vec<i64> = store
        .consent_changes(chain, 4, 10)
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(rest, vec![5]);
}

/// More subjects than one slice of the writer's fold (8,192): the fold goes over several
/// transactions, and the state it leaves is the fold of the whole ledger.
#[tokio::test]
async fn a_fold_in_slices_leaves_the_state_of_the_whole_ledger() {
    let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
    let writer = ConsentWriter::spawn(store.clone());
    const N: u32 = 20_000;
    for chunk in 0..N / 1_000 {
        let events: Vec<NewEvent> = (chunk * 1_000..(chunk + 1) * 1_000)
            .map(|i| {
                let mut subject = [0u8; 32];
                subject[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
                NewEvent {
                    subject: SubjectRef(subject),
                    ..ev(i, 0, "marketing", i % 3 != 0, 100)
                }
            })
            .collect();
        append(&writer, events).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while mark_and_last(&store).await != (N as i64, N as i64) {
        assert!(Instant::now() < deadline, "the tail was never folded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let folded = state(&store).await;
    assert_eq!(folded.len(), N as usize);
    assert_eq!(folded.iter().filter(|r| r.2).count(), 13_333);
    exec(&store, "DELETE FROM consent_state").await;
    exec(&store, "UPDATE consent_state_mark SET gseq = 0").await;
    assert_eq!(state(&store).await, folded);
}

/// The writer skips the state lookup for a subject its filter says the state cannot hold
/// (`known_subjects.rs`). Each subject here reaches the state another way than through this
/// writer's own commits, and each must still find its choice in force.
#[tokio::test]
async fn the_writer_finds_the_choice_in_force_of_subjects_it_never_wrote() {
    let url = testing::fresh_sqlite_url();
    let store = Store::open(&url).await.unwrap();
    let other = Store::connect(&url).await.unwrap();
    // In the state before the writer opens.
    other
        .append_consent(&[ev(1, 5, "marketing", true, 100)])
        .await
        .unwrap();
    // In the ledger past the mark, not in the state, when the writer opens: a tail another
    // writer left unfolded (it stopped before its fold).
    other
        .append_consent(&[ev(2, 7, "marketing", true, 100)])
        .await
        .unwrap();
    exec(&store, "UPDATE consent_state_mark SET gseq = 1").await;
    exec(
        &store,
        "DELETE FROM consent_state WHERE event_id = 'evt_0002'",
    )
    .await;
    let writer = ConsentWriter::spawn(store.clone());
    // The writer is open once it has appended.
    append(&writer, vec![ev(3, 8, "marketing", true, 100)]).await;
    // Appended by another process while the writer runs.
    other
        .append_consent(&[ev(4, 6, "marketing", true, 100)])
        .await
        .unwrap();
    append(
        &writer,
        vec![
            ev(5, 5, "marketing", false, 200),
            ev(6, 6, "marketing", false, 200),
            ev(7, 7, "marketing", false, 200),
            ev(8, 9, "marketing", false, 200),
        ],
    )
    .await;
    assert_eq!(
        priors(&store).await[4..],
        [
            ("evt_0005".into(), Some(true)),
            ("evt_0006".into(), Some(true)),
            ("evt_0007".into(), Some(true)),
            ("evt_0008".into(), None),
        ]
    );
    other.close().await;
}
