//! Mail through the outbox to a real SMTP server on loopback: delivery, retries, crashes
//! that neither lose nor double a message, idempotent queueing, and the worker's wake-up.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use custodian_core::clock::{Clock, ManualClock};
use custodian_core::keys::MasterKey;
use custodian_core::seal::Sealer;
use custodian_core::subject::SubjectRef;
use custodian_mail::testing::SmtpSink;
use custodian_mail::{
    deliver_due, run_outbox_worker, Lang, MailConfig, MailContent, Mailer, Outbox, OutgoingMail,
    Pass, WorkerSettings,
};
use custodian_store::jobs::Claim;
use custodian_store::keyring::Keyring;
use custodian_store::outbox::MailStatus;
use custodian_store::{testing, Store};

const T0: i64 = 1_700_000_000_000_000;
const SEC: i64 = 1_000_000;

macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
                ($body)(Fixture::new(store).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(url) = testing::fresh_postgres_url().await else {
                    return;
                };
                let store = Store::open(&url).await.unwrap();
                ($body)(Fixture::new(store).await).await;
            }
        }
    };
}

struct Fixture {
    sink: SmtpSink,
    outbox: Outbox,
    mailer: Mailer,
    clock: ManualClock,
    settings: WorkerSettings,
}

impl Fixture {
    async fn new(store: Store) -> Fixture {
        let sink = SmtpSink::start().await;
        let config = MailConfig::new(&sink.url(), "Privacy Team <privacy@shop.example>").unwrap();
        Fixture {
            outbox: Outbox::new(store.clone(), Sealer::derived(b"test secret", "outbox"))
                .with_keyring(Keyring::new(store, MasterKey::from_bytes([7; 32]))),
            mailer: Mailer::new(&config).unwrap(),
            clock: ManualClock::at(T0),
            settings: WorkerSettings::default(),
            sink,
        }
    }

    fn store(&self) -> &Store {
        self.outbox.store()
    }

    async fn pass(&self) -> Pass {
        deliver_due(&self.outbox, &self.mailer, &self.clock, &self.settings)
            .await
            .unwrap()
    }

    async fn drain(&self) {
        while self.pass().await.claimed > 0 {}
    }

    async fn enqueue(
        &self,
        key: &str,
        to: &str,
        request: Option<&str>,
        content: MailContent,
    ) -> bool {
        self.outbox
            .enqueue(
                &OutgoingMail {
                    idempotency_key: key.into(),
                    to: to.into(),
                    lang: Lang::En,
                    request_id: request.map(str::to_owned),
                    subject: None,
                    content,
                },
                self.clock.now_micros(),
            )
            .await
            .unwrap()
    }

    async fn enqueue_codes(&self, n: usize) -> Vec<String> {
        let mut keys = Vec::new();
        for i in 0..n {
            let key = format!("req_{i}/verification_code/1");
            assert!(
                self.enqueue(
                    &key,
                    &format!("person{i}@example.org"),
                    Some(&format!("req_{i}")),
                    code(i)
                )
                .await
            );
            keys.push(key);
        }
        keys
    }

    /// Another node starts a pass — claims the `outbox` job and takes up to `n` messages — and
    /// dies before marking any.
    async fn dead_node_takes(&self, n: i64) -> Vec<custodian_store::outbox::ClaimedMail> {
        let (now, lease) = (
            self.clock.now_micros(),
            self.settings.lease.as_micros() as i64,
        );
        assert!(self
            .store()
            .claim_job("outbox", "outbox", "dead-node", now, lease, Claim::Now)
            .await
            .unwrap()
            .is_some());
        self.store().claim_due_mail(now, n).await.unwrap()
    }

    /// How often each Message-ID arrived.
    fn deliveries(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for r in self.sink.received() {
            *m.entry(r.message_id().unwrap()).or_default() += 1;
        }
        m
    }
}

fn code(i: usize) -> MailContent {
    MailContent::VerificationCode {
        code: format!("{:06}", 100_000 + i),
        link: format!(
            "https://privacy.shop.example/requests/req_{i}/verify?code={:06}",
            100_000 + i
        ),
        request_type: "access".into(),
    }
}

on_both!(
    a_code_arrives_by_real_smtp_and_reads_back,
    |f: Fixture| async move {
        assert!(
            f.enqueue(
                "req_1/verification_code/1",
                "ada@example.org",
                Some("req_1"),
                code(42)
            )
            .await
        );
        let pass = f.pass().await;
        assert_eq!((pass.claimed, pass.sent), (1, 1));
        let got = f.sink.wait_for(1).await;
        assert_eq!(got[0].mail_from, "privacy@shop.example");
        assert_eq!(got[0].rcpt_to, ["ada@example.org"]);
        assert_eq!(
            got[0].message_id().unwrap(),
            f.mailer.message_id("req_1/verification_code/1")
        );
        assert_eq!(got[0].subject().unwrap(), "Your verification code: 100042");
        let text = got[0].text().unwrap();
        let read_code = text
            .lines()
            .find(|l| l.len() == 6 && l.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(read_code, Some("100042"), "{text}");
        let html = got[0].html().unwrap();
        assert!(
            html.contains(
                "<a href=\"https://privacy.shop.example/requests/req_42/verify?code=100042\">"
            ),
            "{html}"
        );

        let s = f.store().mail_for_request("req_1").await.unwrap();
        assert_eq!(
            (s[0].status, s[0].template.as_str()),
            (MailStatus::Sent, "verification_code")
        );
        // Nothing personal sits in the row in clear.
        let counts = f.store().outbox_counts().await.unwrap();
        assert_eq!((counts.sent, counts.queued), (1, 0));
        assert!(raw_rows(f.store())
            .await
            .iter()
            .all(|r| !r.contains("ada@") && !r.contains("100042")));
    }
);

on_both!(
    mail_about_a_subject_goes_under_its_key_and_dies_with_it,
    |f: Fixture| async move {
        let subject = SubjectRef([9; 32]);
        let keyring = Keyring::new(f.store().clone(), MasterKey::from_bytes([7; 32]));
        let mail = |key: &str| OutgoingMail {
            idempotency_key: key.into(),
            to: "erin@example.org".into(),
            lang: Lang::En,
            request_id: Some("req_k".into()),
            subject: Some(subject),
            content: code(7),
        };
        assert!(f.outbox.enqueue(&mail("k/one"), T0).await.unwrap());
        assert!(raw_rows(f.store())
            .await
            .iter()
            .all(|r| r.starts_with("k1:") && !r.contains("erin@")));
        assert_eq!(f.pass().await.sent, 1);
        assert_eq!(f.sink.wait_for(1).await[0].rcpt_to, ["erin@example.org"]);

        // Queued, then the subject is erased before the worker gets to it: it never goes.
        assert!(f.outbox.enqueue(&mail("k/two"), T0).await.unwrap());
        assert!(keyring.destroy(&subject).await.unwrap());
        let pass = f.pass().await;
        assert_eq!((pass.claimed, pass.failed, pass.sent), (1, 1, 0));
        let s = f.store().mail_by_key("k/two").await.unwrap().unwrap();
        assert_eq!(s.status, MailStatus::Failed);
        let error = f.store().mail_last_error(&s.id).await.unwrap().unwrap();
        assert!(error.contains("erased"), "{error}");
        assert_eq!(f.sink.count(), 1);
    }
);

async fn raw_rows(store: &Store) -> Vec<String> {
    let q = "SELECT COALESCE(to_sealed, '') || ' ' || COALESCE(params_sealed, '') || ' ' || COALESCE(last_error, '') FROM outbox";
    match (store.sqlite_pool(), store.postgres_pool()) {
        (Some(p), _) => sqlx_rows(sqlx::query_scalar(q).fetch_all(p).await),
        (_, Some(p)) => sqlx_rows(sqlx::query_scalar(q).fetch_all(p).await),
        (None, None) => unreachable!("a store is on one backend"),
    }
}

fn sqlx_rows(r: Result<Vec<String>, sqlx::Error>) -> Vec<String> {
    r.unwrap()
}

on_both!(
    refused_mail_is_retried_with_backoff,
    |f: Fixture| async move {
        f.enqueue("k/1", "bob@example.org", Some("req_9"), code(1))
            .await;
        f.sink.refuse_next(2);
        assert_eq!(f.pass().await.retrying, 1);
        assert_eq!(f.pass().await.claimed, 0, "not due before its backoff");
        f.clock.advance(30 * SEC);
        assert_eq!(f.pass().await.retrying, 1, "second refusal");
        f.clock.advance(59 * SEC);
        assert_eq!(
            f.pass().await.claimed,
            0,
            "the second wait is twice the first"
        );
        f.clock.advance(SEC);
        assert_eq!(f.pass().await.sent, 1);
        assert_eq!(f.sink.count(), 1);
        let s = f.store().mail_by_key("k/1").await.unwrap().unwrap();
        assert_eq!((s.status, s.attempts), (MailStatus::Sent, 3));
        assert_eq!(f.store().mail_last_error(&s.id).await.unwrap(), None);
    }
);

on_both!(
    permanent_refusals_and_exhausted_attempts_fail,
    |mut f: Fixture| async move {
        f.enqueue("k/perm", "carol@example.org", None, code(1))
            .await;
        f.sink.refuse_next_permanently(1);
        assert_eq!(f.pass().await.failed, 1, "a 5xx is not retried");
        let s = f.store().mail_by_key("k/perm").await.unwrap().unwrap();
        assert_eq!(s.status, MailStatus::Failed);
        let error = f.store().mail_last_error(&s.id).await.unwrap().unwrap();
        assert!(error.contains("550") && !error.contains("carol"), "{error}");

        f.settings.max_attempts = 2;
        f.enqueue("k/flaky", "dan@example.org", None, code(2)).await;
        f.sink.refuse_next(5);
        assert_eq!(f.pass().await.retrying, 1);
        f.clock.advance(3600 * SEC);
        assert_eq!(f.pass().await.failed, 1);
        let c = f.store().outbox_counts().await.unwrap();
        assert_eq!((c.failed, c.sent, c.queued), (2, 0, 0));
        assert_eq!(f.sink.count(), 0);
    }
);

on_both!(queueing_twice_sends_once, |f: Fixture| async move {
    assert!(
        f.enqueue(
            "req_5/request_received",
            "eve@example.org",
            Some("req_5"),
            code(5)
        )
        .await
    );
    assert!(
        !f.enqueue(
            "req_5/request_received",
            "eve@example.org",
            Some("req_5"),
            code(5)
        )
        .await
    );
    f.drain().await;
    assert!(
        !f.enqueue(
            "req_5/request_received",
            "eve@example.org",
            Some("req_5"),
            code(5)
        )
        .await,
        "not even after it was sent"
    );
    f.drain().await;
    assert_eq!(f.sink.count(), 1);
});

on_both!(
    a_killed_claimer_loses_nothing_and_doubles_nothing,
    |f: Fixture| async move {
        let keys = f.enqueue_codes(20).await;
        // A node's pass takes ten and the node dies before sending any.
        let dead = f.dead_node_takes(10).await;
        assert_eq!(dead.len(), 10);
        let pass = f.pass().await;
        assert!(pass.held_elsewhere && pass.claimed == 0);
        assert_eq!(
            f.sink.count(),
            0,
            "the dead node's pass holds the outbox until its lease ends"
        );
        let job = f.store().job("outbox").await.unwrap().unwrap();
        assert_eq!(job.lease_owner.as_deref(), Some("dead-node"));
        f.clock.advance(f.settings.lease.as_micros() as i64);
        f.drain().await;
        let d = f.deliveries();
        assert_eq!(d.len(), 20);
        for k in &keys {
            assert_eq!(
                d.get(&f.mailer.message_id(k)),
                Some(&1),
                "{k} delivered exactly once"
            );
        }
        assert_eq!(f.store().outbox_counts().await.unwrap().sent, 20);
    }
);

on_both!(
    a_crash_after_the_relay_accepted_resends_with_the_same_message_id,
    |f: Fixture| async move {
        let keys = f.enqueue_codes(3).await;
        let lease = f.settings.lease.as_micros() as i64;
        let claimed = f.dead_node_takes(10).await;
        // The node sends the first message, the relay accepts, and the node dies before marking it.
        let sealer = Sealer::derived(b"test secret", "outbox");
        let to = sealer
            .open(
                &claimed[0].to_sealed,
                &format!("outbox/{}/to", claimed[0].id),
            )
            .unwrap();
        let rendered = custodian_mail::render(&code(9), Lang::En);
        f.mailer
            .send(&to, &rendered, &claimed[0].idempotency_key)
            .await
            .unwrap();
        f.clock.advance(lease);
        f.drain().await;
        let d = f.deliveries();
        for k in &keys {
            let expected = if *k == claimed[0].idempotency_key {
                2
            } else {
                1
            };
            assert_eq!(
                d[&f.mailer.message_id(k)],
                expected,
                "{k}: the unmarked one goes again, recognisably"
            );
        }
    }
);

on_both!(
    a_worker_dropped_mid_batch_is_taken_over,
    |mut f: Fixture| async move {
        f.settings.concurrency = 1;
        f.settings.batch = 10;
        let keys = f.enqueue_codes(50).await;
        // The worker gets a mailer of its own: a killed node's connections die with it, while an
        // aborted send on a shared pool would leave a half-spoken SMTP session for the next.
        let mailer =
            Mailer::new(&MailConfig::new(&f.sink.url(), "privacy@shop.example").unwrap()).unwrap();
        let (outbox, clock, settings) = (
            f.outbox.clone(),
            Arc::new(f.clock.clone()),
            f.settings.clone(),
        );
        let worker = tokio::spawn(run_outbox_worker(
            outbox,
            mailer,
            clock,
            settings,
            std::future::pending(),
        ));
        f.sink.wait_for(25).await;
        worker.abort();
        let _ = worker.await;
        let before = f.deliveries();
        let mut sent_before = Vec::new();
        for k in &keys {
            if f.store().mail_by_key(k).await.unwrap().unwrap().status == MailStatus::Sent {
                sent_before.push(k.clone());
            }
        }
        assert!(sent_before.len() >= 10, "{} marked sent", sent_before.len());
        f.clock.advance(f.settings.lease.as_micros() as i64);
        f.drain().await;
        let after = f.deliveries();
        for k in &keys {
            let id = f.mailer.message_id(k);
            assert!(after.get(&id).copied().unwrap_or(0) >= 1, "{k} lost");
        }
        for k in &sent_before {
            let id = f.mailer.message_id(k);
            assert_eq!(
                after[&id], before[&id],
                "{k} was marked sent and went again"
            );
        }
        let doubled = after.values().filter(|n| **n > 1).count();
        assert!(
            doubled <= f.settings.concurrency,
            "each message is marked as soon as it is accepted: at most the one in flight goes twice ({doubled})"
        );
        assert_eq!(f.store().outbox_counts().await.unwrap().sent, 50);
    }
);

#[tokio::test]
async fn the_worker_wakes_on_enqueue_and_stops_on_shutdown() {
    let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
    let f = Fixture::new(store).await;
    // A poll interval of an hour: only the wake-up can make this mail go in time.
    let settings = WorkerSettings {
        poll: Duration::from_secs(3600),
        ..WorkerSettings::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(run_outbox_worker(
        f.outbox.clone(),
        f.mailer.clone(),
        Arc::new(f.clock.clone()),
        settings,
        async move {
            let _ = stopped.await;
        },
    ));
    tokio::task::yield_now().await;
    f.enqueue("k/wake", "fay@example.org", None, code(7)).await;
    f.sink.wait_for(1).await;
    f.enqueue("k/wake2", "gus@example.org", None, code(8)).await;
    f.sink.wait_for(2).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .unwrap()
        .unwrap();
}

/// A clock that moves a second on every read, so a pass renews its lease after every message.
struct Ticking(ManualClock);

impl Clock for Ticking {
    fn now_micros(&self) -> i64 {
        self.0.advance(SEC);
        self.0.now_micros()
    }
}

/// A pass whose `outbox` job another node takes over (an operator who thought this node dead)
/// stops at its next renewal instead of sending on beside the new holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_whose_job_is_taken_over_stops() {
    let store = Store::open(&testing::fresh_sqlite_url()).await.unwrap();
    let mut f = Fixture::new(store).await;
    f.settings.concurrency = 1;
    f.settings.batch = 200;
    f.settings.lease = Duration::from_secs(3);
    f.enqueue_codes(200).await;
    let clock = Ticking(f.clock.clone());
    let pass = deliver_due(&f.outbox, &f.mailer, &clock, &f.settings);
    let take_over = async {
        f.sink.wait_for(1).await;
        let now = f.clock.now_micros();
        let taken = f
            .store()
            .claim_job(
                "outbox",
                "outbox",
                "other-node",
                now,
                600 * SEC,
                Claim::TakeOver,
            )
            .await
            .unwrap();
        assert!(taken.is_some());
    };
    let (pass, ()) = tokio::join!(pass, take_over);
    assert!(
        matches!(pass, Err(custodian_mail::MailError::LeaseLost)),
        "{pass:?}"
    );
    assert!(f.sink.count() < 200, "it stopped ({} sent)", f.sink.count());
    let job = f.store().job("outbox").await.unwrap().unwrap();
    assert_eq!(job.lease_owner.as_deref(), Some("other-node"));
}
