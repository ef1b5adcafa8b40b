//! Benchmark: how long the outbox takes to deliver N messages to an SMTP sink on loopback.
//!
//! `outbox-bench <database-url> [messages] [enqueue-clients]` queues the messages (timed
//! separately), then runs one worker with default settings until the sink holds all of them,
//! and checks each arrived exactly once. Used by `bench/outbox.sh`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use custodian_core::clock::{Clock, SystemClock};
use custodian_core::seal::Sealer;
use custodian_mail::testing::SmtpSink;
use custodian_mail::{
    run_outbox_worker, Lang, MailConfig, MailContent, Mailer, Outbox, OutgoingMail, WorkerSettings,
};
use custodian_store::Store;
use futures_util::stream::{self, StreamExt};

type Error = Box<dyn std::error::Error + Send + Sync>;

// One straight script, as a benchmark should read: parse the arguments, queue the messages (timed),
// run the worker until the sink holds them all (timed), check each arrived once, print.
#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .ok_or("usage: outbox-bench <database-url> [messages] [enqueue-clients]")?;
    let n: usize = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let clients: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(32);

    let store = Store::open(url).await?;
    let sink = SmtpSink::start().await;
    let mailer = Mailer::new(&MailConfig::new(&sink.url(), "privacy@bench.example")?)?;
    let outbox = Outbox::new(store.clone(), Sealer::derived(b"bench secret", "outbox"));
    let clock = Arc::new(SystemClock);

    let start = Instant::now();
    let queued = stream::iter(0..n)
        .map(|i| {
            let outbox = outbox.clone();
            let now = clock.now_micros();
            async move {
                outbox
                    .enqueue(
                        &OutgoingMail {
                            idempotency_key: format!("bench_{i}/verification_code/1"),
                            to: format!("person{i}@example.org"),
                            lang: if i % 2 == 0 { Lang::En } else { Lang::De },
                            request_id: Some(format!("bench_{i}")),
                            subject: None,
                            content: MailContent::VerificationCode {
                                code: format!("{:06}", i % 1_000_000),
                                link: format!("https://privacy.bench.example/r/bench_{i}/verify"),
                                request_type: "access".into(),
                            },
                        },
                        now,
                    )
                    .await
            }
        })
        .buffer_unordered(clients)
        .collect::<Vec<_>>()
        .await;
    let enqueue_secs = start.elapsed().as_secs_f64();
    for q in queued {
        q?;
    }

    let settings = WorkerSettings::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let start = Instant::now();
    let worker = tokio::spawn(run_outbox_worker(
        outbox.clone(),
        mailer,
        clock,
        settings.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    sink.wait_for_within(n, std::time::Duration::from_secs(3600))
        .await;
    let deliver_secs = start.elapsed().as_secs_f64();
    let _ = stop.send(());
    worker.await?;

    let counts = store.outbox_counts().await?;
    let ids: HashSet<String> = sink
        .received()
        .iter()
        .filter_map(|m| m.message_id())
        .collect();
    let ok = counts.sent as usize == n && sink.count() == n && ids.len() == n;
    println!(
        "{} messages={n} enqueue_s={enqueue_secs:.2} enqueue_per_s={:.0} deliver_s={deliver_secs:.2} deliver_per_s={:.0} batch={} concurrency={} sent={} delivered={} distinct_message_ids={} exactly_once={ok}",
        store.backend(),
        n as f64 / enqueue_secs,
        n as f64 / deliver_secs,
        settings.batch,
        settings.concurrency,
        counts.sent,
        sink.count(),
        ids.len(),
    );
    store.close().await;
    if ok {
        Ok(())
    } else {
        Err("not every message arrived exactly once".into())
    }
}
