//! Measurements for bench/connectors.sh on a database filled by `custodian-company-gen`:
//!
//! - `erase-one URL_ENV FIRST N`: erase customers FIRST..FIRST+N one at a time through the
//!   connector, then the next N with the same statements written by hand; prints the median
//!   and p95 of each.
//! - `erase-batch URL_ENV FIRST N WORKERS`: erase N customers from FIRST with WORKERS
//!   concurrent connections; prints subjects per second.
//! - `access URL_ENV CUSTOMER`: stream one customer's export to a null writer; prints rows,
//!   time and the process's peak resident memory.
//! - `erase-policy URL_ENV DATASET POLICY FIRST N`: erase subjects `person-{i}@example.com`,
//!   i = FIRST..FIRST+N, one at a time, with a Fides dataset and the strategies of a Fides
//!   policy (bench/masking.sh: masking strategies against `null_rewrite`); prints the median
//!   and p95.

use std::time::{Duration, Instant};

use custodian_connectors::access::{access, JsonLines};
use custodian_connectors::erase::{self, Operation};
use custodian_connectors::sql::{Bind, Db};
use custodian_connectors::{company, run};

fn none(_: &str) -> Option<jiff::civil::Date> {
    None
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "median {:.1} ms, p95 {:.1} ms, max {:.1} ms (n={})",
        ms(v[v.len() / 2]),
        ms(v[(v.len() * 95 / 100).min(v.len() - 1)]),
        ms(*v.last().unwrap()),
        v.len()
    )
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// The statements a person would write for one customer of the sample schema.
async fn by_hand(db: &Db, i: u64) -> Result<(), custodian_connectors::ConnectorError> {
    let id = Bind::Int(i as i64);
    let email = Bind::Text(company::email(i));
    let mut tx = db.begin().await?;
    let stmts: [(&str, Vec<Bind>); 7] = [
        ("DELETE FROM support_tickets WHERE customer_id = ? OR email = ?", vec![id.clone(), email.clone()]),
        ("DELETE FROM newsletter_subscriptions WHERE email = ?", vec![email.clone()]),
        ("DELETE FROM survey_answers WHERE customer_id = ? OR email = ?", vec![id.clone(), email.clone()]),
        ("DELETE FROM product_registrations WHERE customer_id = ?", vec![id.clone()]),
        ("UPDATE orders SET shipping_name = NULL, shipping_address = NULL WHERE account_id IN (SELECT id FROM accounts WHERE customer_id = ?)", vec![id.clone()]),
        ("UPDATE accounts SET username = '[erased]' WHERE customer_id = ?", vec![id.clone()]),
        ("UPDATE customers SET email = ?, full_name = NULL, phone = NULL WHERE id = ?", vec![Bind::Text(erase::keyed_hash(b"k", &company::email(i))), id.clone()]),
    ];
    for (text, binds) in stmts {
        let mut s = db.sql();
        for (n, part) in text.split('?').enumerate() {
            if n > 0 {
                s.bind(binds[n - 1].clone());
            }
            s.push(part);
        }
        tx.execute(&s).await?;
    }
    tx.commit().await
}

// One straight script per measurement, as a benchmark should read: each arm sets up, times its loop
// and prints; splitting it would scatter one measurement over several functions.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = std::env::var(&args[1]).expect("URL variable set");
    let num = |i: usize| -> u64 { args[i].parse().expect("a number") };
    let db = Db::connect(&url).await.expect("connect");
    let (ds, _) = custodian_connectors::dataset_file::parse(company::DATASET).expect("dataset");
    match args[0].as_str() {
        "erase-one" => {
            let (first, n) = (num(2), num(3));
            let mut tool = Vec::new();
            for i in first..first + n {
                let ids = run::identities([("email", company::email(i).as_str())]);
                let t = Instant::now();
                erase::apply(
                    &db,
                    &ds,
                    &ids,
                    Operation::Erase {
                        hash_key: b"k",
                        holds: &none,
                    },
                    false,
                )
                .await
                .expect("erase");
                tool.push(t.elapsed());
            }
            let mut hand = Vec::new();
            for i in first + n..first + 2 * n {
                let t = Instant::now();
                by_hand(&db, i).await.expect("by hand");
                hand.push(t.elapsed());
            }
            println!("connector: {}", stats(tool));
            println!("by hand:   {}", stats(hand));
        }
        "erase-batch" => {
            let (first, n, workers) = (num(2), num(3), num(4));
            let t = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..workers {
                let (db, ds) = (db.clone(), ds.clone());
                tasks.push(tokio::spawn(async move {
                    let mut i = first + w;
                    while i < first + n {
                        let ids = run::identities([("email", company::email(i).as_str())]);
                        erase::apply(
                            &db,
                            &ds,
                            &ids,
                            Operation::Erase {
                                hash_key: b"k",
                                holds: &none,
                            },
                            false,
                        )
                        .await
                        .expect("erase");
                        i += workers;
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            let secs = t.elapsed().as_secs_f64();
            println!(
                "{n} subjects in {secs:.1} s with {workers} workers: {:.0} subjects/s",
                n as f64 / secs
            );
        }
        "access" => {
            let i = num(2);
            let before = peak_rss_kib();
            let ids = run::identities([("email", company::email(i).as_str())]);
            let t = Instant::now();
            let mut sink = JsonLines(std::io::sink());
            let summary = access(&db, &ds, &ids, &mut sink).await.expect("access");
            println!(
                "customer {i}: {} records in {:.1} ms; peak RSS {} KiB (before {} KiB)",
                summary.records,
                t.elapsed().as_secs_f64() * 1000.0,
                peak_rss_kib(),
                before
            );
        }
        "erase-policy" => {
            let (dataset, policy) = (
                std::path::Path::new(&args[2]),
                std::path::Path::new(&args[3]),
            );
            let (ds, _) = custodian_connectors::dataset_file::load_with(dataset, Some(policy))
                .expect("dataset and policy");
            let (first, n) = (num(4), num(5));
            let mut times = Vec::new();
            let mut changed = 0;
            for i in first..first + n {
                let email = format!("person-{i}@example.com");
                let ids = run::identities([("email", email.as_str())]);
                let t = Instant::now();
                let report = erase::apply(
                    &db,
                    &ds,
                    &ids,
                    Operation::Erase {
                        hash_key: b"k",
                        holds: &none,
                    },
                    false,
                )
                .await
                .expect("erase");
                times.push(t.elapsed());
                changed += report.rows_changed();
            }
            println!("{} ({changed} values changed)", stats(times));
        }
        other => panic!("unknown mode {other}"),
    }
    db.close().await;
}
