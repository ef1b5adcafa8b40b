//! What sealing under per-subject keys costs request writes and reads, against the same
//! writes and reads in plain text, in one run on one database.
//!
//! A write is what request intake stores: the request row, its first history entry and the
//! verification mail, group-committed by the store's `IntakeWriter`. `plain` stores the
//! address, details and mail as they are; `sealed` does what intake does — makes the subject's
//! key and stores it through the key writer's group commit (every request here is a new
//! subject, the worst case), and seals address, details, recipient and mail parameters under
//! it. Rounds
//! alternate plain and sealed. A read is one request fetched by id and its address opened
//! (`sealed`: key lookup, unwrap, decrypt) or taken as is (`plain`).
//!
//! Usage:
//!   sealed-writes sqlite   DIR                         [--clients N] [--seconds S] [--rounds R]
//!   sealed-writes postgres postgres://USER@HOST/DB     [--clients N] [--seconds S] [--rounds R]
//!
//! SQLite keeps its keys in a second file, as `serve` does; PostgreSQL in the same database.
//! Prints one JSON line per round and a summary line.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use custodian_core::clock::{Clock, SystemClock};
use custodian_core::keys::MasterKey;
use custodian_core::subject::SubjectRef;
use custodian_store::keyring::Keyring;
use custodian_store::outbox::NewMail;
use custodian_store::requests::{HistoryEntry, IntakeWriter, NewRequest, RequestRow};
use custodian_store::Store;
use rand::RngCore;

const DETAILS: &str = "I would like a copy of everything you hold about me, including order history, support tickets and any marketing profile. My customer number is on the invoices you sent.";
const PARAMS: &str = r#"{"VerificationCode":{"code":"123456","link":"https://privacy.shop.example/privacy-center/verify?request=req_x&code=123456","request_type":"access"}}"#;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// One intake write; `keyring` seals it, `None` stores it in plain text.
async fn write_one(
    writer: &IntakeWriter,
    keyring: Option<&Keyring>,
    n: u64,
) -> Result<String, String> {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let subject = SubjectRef(raw);
    let id = format!("req_{}", random_hex(12));
    let email = format!("person-{n}@example.org");
    let now = SystemClock.now_micros();
    let (email_v, details_v, to_v, params_v) = match keyring {
        Some(k) => {
            let s = k.fresh_sealer(&subject).await.map_err(|e| e.to_string())?;
            (
                s.seal(&subject, &format!("requests/{id}/email"), &email),
                s.seal(&subject, &format!("requests/{id}/details"), DETAILS),
                s.seal(&subject, &format!("outbox/m_{id}/to"), &email),
                s.seal(&subject, &format!("outbox/m_{id}/params"), PARAMS),
            )
        }
        None => (email.clone(), DETAILS.to_owned(), email, PARAMS.to_owned()),
    };
    let row = RequestRow {
        id: id.clone(),
        kind: custodian_core::request::Kind::Access,
        status: custodian_core::request::Status::AwaitingVerification,
        subject_ref: subject.to_hex(),
        email_sealed: email_v,
        details_sealed: Some(details_v),
        language: "en".into(),
        country: Some("DE".into()),
        jurisdiction: "gdpr".into(),
        customer_id: None,
        received_at: now,
        verified_at: None,
        code_hash: Some(random_hex(32)),
        code_expires_at: Some(now + 900_000_000),
        attempts: 0,
        acknowledge_due: now,
        answer_due: now,
        extended_months: 0,
        assignee: None,
        completed_at: None,
        updated_at: now,
        extended_days: 0,
        paused_since: None,
        pause_reason: None,
        paused_days: 0,
    };
    let mail = NewMail {
        id: format!("m_{id}"),
        idempotency_key: format!("{id}/verification_code"),
        template: "verification_code".into(),
        lang: "en".into(),
        to_sealed: to_v,
        params_sealed: params_v,
        request_id: Some(id.clone()),
        created_at: now,
        send_after: now,
    };
    writer
        .insert(NewRequest {
            first: HistoryEntry {
                at: now,
                actor: "requester".into(),
                action: "receive".into(),
                from_status: None,
                to_status: row.status.clone(),
                detail_sealed: None,
            },
            row,
            mail: Some(mail),
            key: None,
        })
        .await?;
    Ok(id)
}

struct Round {
    writes: u64,
    ids: Vec<String>,
}

async fn round(
    writer: &IntakeWriter,
    keyring: Option<&Keyring>,
    clients: u64,
    seconds: u64,
) -> Round {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (writer, keyring) = (writer.clone(), keyring.cloned());
        let (stop, count) = (stop.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut n = c * 1_000_000_000;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let id = write_one(&writer, keyring.as_ref(), n)
                    .await
                    .expect("bench write");
                count.fetch_add(1, Ordering::Relaxed);
                if ids.len() < 100 {
                    ids.push(id);
                }
            }
            ids
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.expect("client"));
    }
    Round {
        writes: count.load(Ordering::Relaxed),
        ids,
    }
}

/// Mean µs to fetch a request and have its address in hand.
async fn reads(store: &Store, keyring: Option<&Keyring>, ids: &[String]) -> f64 {
    let start = Instant::now();
    for id in ids {
        let row = store.request(id).await.expect("read").expect("row");
        let email = match keyring {
            Some(k) => k
                .open(&format!("requests/{id}/email"), &row.email_sealed)
                .await
                .expect("opens"),
            None => row.email_sealed,
        };
        assert!(email.starts_with("person-"));
    }
    start.elapsed().as_secs_f64() * 1e6 / ids.len() as f64
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (kind, target) = match (args.get(1), args.get(2)) {
        (Some(k), Some(t)) => (k.as_str(), t.as_str()),
        _ => return Err("usage: sealed-writes sqlite DIR | postgres URL [--clients N] [--seconds S] [--rounds R]".into()),
    };
    let clients = arg(&args, "--clients", 32);
    let seconds = arg(&args, "--seconds", 8);
    let rounds = arg(&args, "--rounds", 2);
    let (store, key_store) = match kind {
        "sqlite" => {
            std::fs::create_dir_all(target)?;
            let store = Store::open(&format!("sqlite://{target}/custodian.db")).await?;
            let keys = Store::open(&format!("sqlite://{target}/custodian-keys.db")).await?;
            (store, keys)
        }
        "postgres" => {
            let store = Store::open(target).await?;
            (store.clone(), store)
        }
        _ => return Err("the first argument is sqlite or postgres".into()),
    };
    let keyring = Keyring::new(key_store, MasterKey::from_bytes([42; 32]));
    let writer = IntakeWriter::spawn(store.clone());
    // Warm-up: first connections, first pages.
    round(&writer, Some(&keyring), clients, 1).await;
    let (mut plain, mut sealed) = (Vec::new(), Vec::new());
    let (mut plain_ids, mut sealed_ids) = (Vec::new(), Vec::new());
    for r in 1..=rounds {
        for (mode, k) in [("plain", None), ("sealed", Some(&keyring))] {
            let res = round(&writer, k, clients, seconds).await;
            let rate = res.writes as f64 / seconds as f64;
            println!(
                "{}",
                serde_json::json!({ "db": kind, "round": r, "mode": mode, "clients": clients, "writes_per_s": rate.round() })
            );
            if k.is_some() {
                sealed.push(rate);
                sealed_ids.extend(res.ids);
            } else {
                plain.push(rate);
                plain_ids.extend(res.ids);
            }
        }
    }
    plain_ids.truncate(2000);
    sealed_ids.truncate(2000);
    let read_plain = reads(&store, None, &plain_ids).await;
    let read_sealed = reads(&store, Some(&keyring), &sealed_ids).await;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "{}",
        serde_json::json!({
            "db": kind,
            "summary": true,
            "plain_writes_per_s": mean(&plain).round(),
            "sealed_writes_per_s": mean(&sealed).round(),
            "write_ratio_sealed_over_plain": (mean(&sealed) / mean(&plain) * 1000.0).round() / 1000.0,
            "read_plain_us": (read_plain * 10.0).round() / 10.0,
            "read_sealed_us": (read_sealed * 10.0).round() / 10.0,
        })
    );
    Ok(())
}
