//! The fault suite: three `custodian serve` processes on one private PostgreSQL cluster under a
//! mixed load — decisions, consent writes, request intake and verification, access requests
//! that run on a company datastore — while one node is killed with SIGKILL every few seconds
//! and started again, and PostgreSQL itself is restarted once. Then: no acknowledged consent
//! is missing on any node, `ledger verify` and `audit verify` pass, every verified request
//! completed with exactly one connector run, done, every mail was sent exactly once or is
//! still queued (a message in flight when its node was killed goes again, with the same
//! Message-ID: the only second sending), and no node answered 5xx except 503 with `Retry-After` while PostgreSQL was
//! down — and none hung. Bounded (about two minutes), loopback only.

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

mod http;
mod load;
mod nodes;
mod pg;

use std::time::{Duration, Instant};

use custodian_connectors::{company, sql::Db};
use custodian_mail::testing::SmtpSink;

use load::{Load, Log};
use nodes::{Setup, Urls};

/// How long the load runs with nodes being killed.
const LOAD_FOR: Duration = Duration::from_secs(40);
/// A node is killed this often (and started again a moment later).
const KILL_EVERY: Duration = Duration::from_secs(5);
/// When PostgreSQL is restarted, from the start of the load.
const PG_RESTART_AT: Duration = Duration::from_secs(18);
/// How long after PostgreSQL answers again a 503 still counts as its outage: a call that was
/// waiting for a connection when it came back, and the pool's acquire timeout.
const OUTAGE_TAIL: Duration = Duration::from_secs(5);
/// How long the work left behind may take to finish once the load stops: a killed node's
/// leases run out after a minute, and housekeeping resumes what it left after another.
const SETTLE_WITHIN: Duration = Duration::from_secs(150);

fn cli(setup: &Setup, args: &[&str]) -> String {
    let out = setup.command().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "custodian {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// One scenario end to end: setup, the load under faults, the settling, then every check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_survive_kills_and_a_database_restart() {
    let Some(pg) = pg::Pg::start() else {
        return;
    };
    let root = support::temp_dir("cluster");
    let sink = SmtpSink::start().await;
    let company_url = format!("sqlite://{}?mode=rwc", root.join("company.db").display());
    let db = Db::connect(&company_url).await.unwrap();
    company::create_schema(&db).await.unwrap();
    company::generate(&db, 50, 0).await.unwrap();
    let setup = Setup {
        root: root.clone(),
        database_url: pg.url(),
        smtp_url: sink.url(),
        company_url,
    };
    let dataset = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/company/company.toml");
    cli(
        &setup,
        &[
            "datastore",
            "add",
            "company",
            "--dataset",
            dataset.to_str().unwrap(),
            "--url-env",
            "COMPANY_DATABASE_URL",
        ],
    );
    let service = cli(
        &setup,
        &["token", "create", "--role", "service", "--name", "load"],
    )
    .trim()
    .to_owned();
    let dpo = cli(
        &setup,
        &["token", "create", "--role", "dpo", "--name", "checks"],
    )
    .trim()
    .to_owned();

    let urls = Urls::default();
    let mut nodes: Vec<Option<nodes::Node>> = (0..3)
        .map(|i| {
            let n = nodes::start(&setup, i);
            urls.set(i, Some(n.url.clone()));
            Some(n)
        })
        .collect();

    let log = Log::default();
    let load = Load::start(urls.clone(), service.clone(), log.clone(), &sink);
    let started = Instant::now();
    let (mut kills, mut next_kill, mut victim) = (0, KILL_EVERY, 0usize);
    let mut outage = None;
    // How many messages the sink had received at each kill, once the node was dead.
    let mut kill_marks = Vec::new();
    while started.elapsed() < LOAD_FOR {
        if outage.is_none() && started.elapsed() >= PG_RESTART_AT {
            outage = Some(pg.restart());
            eprintln!("PostgreSQL restarted");
        }
        if started.elapsed() >= next_kill {
            // Nodes 0 and 1 in turn: node 2 lives through PostgreSQL's restart, so the checks
            // see that its listener came back.
            let i = victim % 2;
            victim += 1;
            urls.set(i, None);
            nodes[i].take().unwrap().kill();
            kills += 1;
            // Counted once the node is dead and the sink has read what it wrote: a message
            // whose last bytes left the node just before the kill arrives just after it.
            tokio::time::sleep(Duration::from_millis(100)).await;
            kill_marks.push(sink.count());
            tokio::time::sleep(Duration::from_millis(600)).await;
            let n = nodes::start(&setup, i);
            urls.set(i, Some(n.url.clone()));
            nodes[i] = Some(n);
            next_kill += KILL_EVERY;
        }
        load.verify_from_mail(&sink);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let outage = outage.expect("PostgreSQL was restarted");
    load.stop();
    eprintln!(
        "load stopped after {:?}: {kills} nodes killed",
        started.elapsed()
    );

    // Settling: verification mail still queued goes out, left work is taken over.
    let settle = Instant::now();
    loop {
        load.verify_from_mail(&sink);
        let pending = load::unfinished(&urls, &dpo, &log);
        if pending == 0 || settle.elapsed() > SETTLE_WITHIN {
            eprintln!(
                "settled in {:?} ({pending} requests unfinished)",
                settle.elapsed()
            );
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    checks::run(
        &setup,
        &urls,
        &service,
        &dpo,
        &log,
        &sink,
        outage,
        &kill_marks,
    )
    .await;
    for n in nodes.into_iter().flatten() {
        n.kill();
    }
    let _ = std::fs::remove_dir_all(&root);
    drop(pg);
}

mod checks;
