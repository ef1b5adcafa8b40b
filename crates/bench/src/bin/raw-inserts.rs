//! The raw durable-insert rate of a database: plain one-row-per-transaction inserts of rows
//! equal to consent events (same table, columns, indexes and value sizes as `consent_events`),
//! at the durability Custodian uses (SQLite: WAL + synchronous=FULL; PostgreSQL: the server's
//! settings, which are reported), from N concurrent clients for a fixed time.
//!
//! Usage:
//!   raw-inserts sqlite   PATH/TO/FILE.db            [--clients N] [--seconds S] [--warmup S]
//!   raw-inserts postgres postgres://USER@HOST/DB    [--clients N] [--seconds S] [--warmup S]
//!
//! `--minimal` writes to a minimal table instead (an integer key and one 64-hex text column):
//! the plainest one-row-per-commit writer, the reference issue 17 names.
//!
//! Diagnostics (not the reference): `--batch N` writes N rows per transaction, one INSERT
//! statement per row (as Custodian's SQLite writer does), or with `--multirow` one INSERT of
//! N rows; it shows what a commit of a group costs and where the time goes.
//!
//! Prints one JSON object on stdout: {"db":..,"clients":..,"seconds":..,"rows":..,"rows_per_s":..}.
//! The table is created if missing (in a bench-only database: never point it at Custodian's).

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngCore;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Postgres, Sqlite};

const SQLITE_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS consent_events (
        gseq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, chain INTEGER NOT NULL,
        seq INTEGER NOT NULL, subject_ref TEXT NOT NULL, purpose TEXT NOT NULL, given INTEGER NOT NULL,
        source TEXT NOT NULL, policy_version TEXT NOT NULL, notice_hash TEXT, ip_truncated TEXT,
        receipt_id TEXT NOT NULL, created_at INTEGER NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
        prior_given INTEGER, UNIQUE (chain, seq))",
    // No index by subject on SQLite (migration 0022).
    "CREATE INDEX IF NOT EXISTS consent_events_receipt ON consent_events (receipt_id)",
];

const PG_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS consent_events (
        gseq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, chain INTEGER NOT NULL,
        seq BIGINT NOT NULL, subject_ref TEXT NOT NULL, purpose TEXT NOT NULL, given BOOLEAN NOT NULL,
        source TEXT NOT NULL, policy_version TEXT NOT NULL, notice_hash TEXT, ip_truncated TEXT,
        receipt_id TEXT NOT NULL, created_at BIGINT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
        prior_given BOOLEAN, UNIQUE (chain, seq))",
    "CREATE INDEX IF NOT EXISTS consent_events_subject ON consent_events (subject_ref, purpose)",
    "CREATE INDEX IF NOT EXISTS consent_events_receipt ON consent_events (receipt_id)",
];

const MINIMAL_SQLITE: &str =
    "CREATE TABLE IF NOT EXISTS raw_minimal (id INTEGER PRIMARY KEY, v TEXT NOT NULL)";
const MINIMAL_PG: &str =
    "CREATE TABLE IF NOT EXISTS raw_minimal (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL)";

const INSERT_SQLITE: &str = "INSERT INTO consent_events (id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const INSERT_PG: &str = "INSERT INTO consent_events (id, subject_ref, purpose, given, source, policy_version, notice_hash, ip_truncated, receipt_id, created_at, chain, seq, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

/// One row, with the sizes Custodian writes: `evt_`/`rcpt_` + 32 hex ids, 64-hex subject
/// reference and hashes, a truncated IP, the time in microseconds.
struct Row {
    id: String,
    subject_ref: String,
    notice_hash: String,
    receipt_id: String,
    created_at: i64,
    chain: i32,
    seq: i64,
    prev_hash: String,
    hash: String,
}

fn hex_bytes(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Ids shaped as Custodian makes them (`recording::random_id`): the time in microseconds, then
/// 8 random bytes, so new rows append to the id indexes as Custodian's do.
fn time_ordered_id(prefix: &str, micros: i64) -> String {
    format!("{prefix}_{micros:014x}{}", hex_bytes(8))
}

fn row(seq: &AtomicI64) -> Row {
    let seq = seq.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    Row {
        id: time_ordered_id("evt", now),
        subject_ref: hex_bytes(32),
        notice_hash: hex_bytes(32),
        receipt_id: time_ordered_id("rcpt", now),
        created_at: now,
        chain: (seq % 16) as i32,
        seq,
        prev_hash: hex_bytes(32),
        hash: hex_bytes(32),
    }
}

macro_rules! bind_row {
    ($q:expr, $r:expr) => {
        $q.bind(&$r.id)
            .bind(&$r.subject_ref)
            .bind("analytics")
            .bind(true)
            .bind("banner")
            .bind("2018-05-25")
            .bind(&$r.notice_hash)
            .bind("127.0.0.0")
            .bind(&$r.receipt_id)
            .bind($r.created_at)
            .bind($r.chain)
            .bind($r.seq)
            .bind(&$r.prev_hash)
            .bind(&$r.hash)
    };
}

enum Db {
    Sqlite(Pool<Sqlite>),
    Pg(Pool<Postgres>),
}

impl Db {
    /// One transaction of `rows`: one statement per row, or one multi-row statement.
    async fn insert_batch(&self, rows: &[Row], multirow: bool) -> Result<(), sqlx::Error> {
        let (head, _) = INSERT_SQLITE.split_once(" VALUES ").unwrap();
        match self {
            Db::Sqlite(p) => {
                let mut tx = p.begin().await?;
                if multirow {
                    let values =
                        vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; rows.len()].join(", ");
                    let sql = format!("{head} VALUES {values}");
                    let mut q = sqlx::query(&sql);
                    for r in rows {
                        q = bind_row!(q, r);
                    }
                    q.execute(&mut *tx).await?;
                } else {
                    for r in rows {
                        bind_row!(sqlx::query(INSERT_SQLITE), r)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await
            }
            Db::Pg(p) => {
                let mut tx = p.begin().await?;
                if multirow {
                    let values: Vec<String> = (0..rows.len())
                        .map(|i| {
                            let b = i * 14;
                            format!(
                                "({})",
                                (1..=14)
                                    .map(|k| format!("${}", b + k))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        })
                        .collect();
                    let sql = format!("{head} VALUES {}", values.join(", "));
                    let mut q = sqlx::query(&sql);
                    for r in rows {
                        q = bind_row!(q, r);
                    }
                    q.execute(&mut *tx).await?;
                } else {
                    for r in rows {
                        bind_row!(sqlx::query(INSERT_PG), r)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await
            }
        }
    }

    async fn insert_one(&self, r: &Row, minimal: bool) -> Result<(), sqlx::Error> {
        // Autocommit: each INSERT is its own transaction, committed (and synced) on its own.
        if minimal {
            return match self {
                Db::Sqlite(p) => sqlx::query("INSERT INTO raw_minimal (v) VALUES (?)")
                    .bind(&r.hash)
                    .execute(p)
                    .await
                    .map(drop),
                Db::Pg(p) => sqlx::query("INSERT INTO raw_minimal (v) VALUES ($1)")
                    .bind(&r.hash)
                    .execute(p)
                    .await
                    .map(drop),
            };
        }
        match self {
            Db::Sqlite(p) => bind_row!(sqlx::query(INSERT_SQLITE), r)
                .execute(p)
                .await
                .map(drop),
            Db::Pg(p) => bind_row!(sqlx::query(INSERT_PG), r)
                .execute(p)
                .await
                .map(drop),
        }
    }
}

struct Args {
    kind: String,
    target: String,
    clients: u32,
    seconds: f64,
    warmup: f64,
    batch: usize,
    multirow: bool,
    minimal: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let kind = it.next().ok_or("missing backend: sqlite | postgres")?;
    let target = it.next().ok_or("missing file path or database URL")?;
    let (mut clients, mut seconds, mut warmup) = (64u32, 10.0f64, 1.0f64);
    let (mut batch, mut multirow, mut minimal) = (1usize, false, false);
    while let Some(flag) = it.next() {
        if flag == "--multirow" {
            multirow = true;
            continue;
        }
        if flag == "--minimal" {
            minimal = true;
            continue;
        }
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--clients" => clients = v.parse().map_err(|e| format!("--clients: {e}"))?,
            "--seconds" => seconds = v.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--warmup" => warmup = v.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--batch" => batch = v.parse().map_err(|e| format!("--batch: {e}"))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if minimal && batch != 1 {
        return Err("--minimal writes one row per transaction; drop --batch".into());
    }
    if batch == 0 || batch > 1000 {
        return Err("--batch must be 1..=1000".into());
    }
    if clients == 0 || !(seconds > 0.0) || warmup < 0.0 {
        return Err("need --clients >= 1, --seconds > 0, --warmup >= 0".into());
    }
    Ok(Args {
        kind,
        target,
        clients,
        seconds,
        warmup,
        batch,
        multirow,
        minimal,
    })
}

async fn open(args: &Args) -> Result<(Db, serde_json::Value), Box<dyn std::error::Error>> {
    match args.kind.as_str() {
        "sqlite" => {
            let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", args.target))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30));
            let pool = SqlitePoolOptions::new()
                .max_connections(args.clients)
                .min_connections(args.clients)
                .connect_with(opts)
                .await?;
            for s in SQLITE_SCHEMA.iter().chain([&MINIMAL_SQLITE]) {
                sqlx::query(s).execute(&pool).await?;
            }
            let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
                .fetch_one(&pool)
                .await?;
            let (sync,): (i64,) = sqlx::query_as("PRAGMA synchronous")
                .fetch_one(&pool)
                .await?;
            Ok((
                Db::Sqlite(pool),
                serde_json::json!({"journal_mode": mode, "synchronous": sync}),
            ))
        }
        "postgres" | "postgresql" => {
            let opts = PgConnectOptions::from_str(&args.target)?;
            let pool = PgPoolOptions::new()
                .max_connections(args.clients)
                .min_connections(args.clients)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts)
                .await?;
            for s in PG_SCHEMA.iter().chain([&MINIMAL_PG]) {
                sqlx::query(s).execute(&pool).await?;
            }
            let mut settings = serde_json::Map::new();
            for name in [
                "fsync",
                "synchronous_commit",
                "wal_sync_method",
                "commit_delay",
                "server_version",
            ] {
                let (v,): (String,) = sqlx::query_as(&format!("SHOW {name}"))
                    .fetch_one(&pool)
                    .await?;
                settings.insert(name.to_owned(), v.into());
            }
            Ok((Db::Pg(pool), settings.into()))
        }
        other => Err(format!("unknown backend `{other}`: sqlite | postgres").into()),
    }
}

// One straight script: set up, warm up, measure, print one JSON line. Read top to bottom it is
// the whole method of the reference, which is why it is not cut into pieces.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args().map_err(|e| {
        eprintln!("raw-inserts: {e}");
        e
    })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (db, settings) = open(&args).await?;
        let db = Arc::new(db);
        // Sequence numbers unique across runs on the same table (UNIQUE (chain, seq)).
        let start_seq = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_micros() as i64
            * 16;
        let seq = Arc::new(AtomicI64::new(start_seq));
        let counting = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let rows = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let (batch, multirow, minimal) = (args.batch, args.multirow, args.minimal);
        let mut tasks = Vec::new();
        for _ in 0..args.clients {
            let (db, seq, counting, stop, rows, errors) = (
                db.clone(),
                seq.clone(),
                counting.clone(),
                stop.clone(),
                rows.clone(),
                errors.clone(),
            );
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let result = if batch == 1 {
                        db.insert_one(&row(&seq), minimal).await
                    } else {
                        let rs: Vec<Row> = (0..batch).map(|_| row(&seq)).collect();
                        db.insert_batch(&rs, multirow).await
                    };
                    match result {
                        Ok(()) if counting.load(Ordering::Relaxed) => {
                            rows.fetch_add(batch as u64, Ordering::Relaxed);
                        }
                        Ok(()) => {}
                        Err(e) => {
                            if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("raw-inserts: insert failed: {e}");
                            }
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
        counting.store(true, Ordering::Relaxed);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
        counting.store(false, Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        let n = rows.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        let out = serde_json::json!({
            "db": args.kind,
            "clients": args.clients,
            "rows_per_transaction": args.batch,
            "multirow": args.multirow,
            "table": if args.minimal { "raw_minimal" } else { "consent_events" },
            "seconds": (elapsed * 1000.0).round() / 1000.0,
            "rows": n,
            "rows_per_s": (n as f64 / elapsed).round(),
            "errors": errors.load(Ordering::Relaxed),
            "settings": settings,
        });
        println!("{out}");
        match &*db {
            Db::Sqlite(p) => p.close().await,
            Db::Pg(p) => p.close().await,
        }
        Ok(())
    })
}
