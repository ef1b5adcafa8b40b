//! Measurements for bench/redis.sh: the Redis connector's erase rate next to raw deletes of
//! the same keys, on the machine's Redis.
//!
//! Every subject `i` has ten keys under `PREFIX`: an index `user_by_email:{email}` naming its
//! user id, and nine keys named by that id (a profile, a cart, sessions, preferences …) with
//! every strategy among them (delete, null, mask, keyed hash).
//!
//! - `fill URL_ENV PREFIX SUBJECTS`: writes the keys of subjects 1..=SUBJECTS (pipelined).
//! - `erase URL_ENV PREFIX FIRST N WORKERS`: erases subjects FIRST..FIRST+N through the
//!   connector (walk, reads, one MULTI/EXEC per subject), WORKERS connections at once.
//! - `raw-subject URL_ENV PREFIX FIRST N WORKERS`: the floor a person would write, knowing every
//!   key: one `DEL` of a subject's ten keys per round trip.
//! - `raw-pipelined URL_ENV PREFIX FIRST N`: `DEL` of the same keys, a thousand per pipeline.
//! - `erase-scan URL_ENV PREFIX FIRST N`: the sessions found by a hash field instead (one SCAN
//!   of the keyspace per subject): what `dataset check` warns about.
//! - `clean URL_ENV PREFIX`: deletes every key under PREFIX (SCAN, UNLINK).
//!
//! Each measuring mode prints keys per second.

use std::time::Instant;

use custodian_connectors::dataset::Dataset;
use custodian_connectors::erase::Operation;
use custodian_connectors::redis::resp::{Conn, Pipeline};
use custodian_connectors::redis::{ops, walk::Scan};
use custodian_connectors::run;

const KEYS_PER_SUBJECT: u64 = 10;
const SPACES: [&str; 9] = [
    "profile", "cart", "wishlist", "prefs", "session", "recent", "address", "consent", "loyalty",
];

fn email(i: u64) -> String {
    format!("customer-{i}@example.com")
}

fn dataset(prefix: &str, scan_sessions: bool) -> Dataset {
    let session = if scan_sessions {
        format!("[[keys]]\npattern = \"{prefix}:websession:*\"\nfields = [{{ name = \"user_email\", identity = \"email\", category = \"website_user\", erase = \"delete_row\" }}]\n")
    } else {
        String::new()
    };
    let text = format!(
        r#"
name = "bench"
[[keys]]
pattern = "{prefix}:user_by_email:{{email}}"
type = "string"
fields = [{{ name = "value", identity = "user_id", erase = "delete_row" }}]
[[keys]]
pattern = "{prefix}:profile:{{user_id}}"
fields = [
  {{ name = "email", category = "website_user", erase = "hash" }},
  {{ name = "name", category = "website_user", erase = "null" }},
  {{ name = "address", category = "payment", erase = "mask" }},
  {{ name = "theme" }},
]
[[keys]]
pattern = "{prefix}:cart:{{user_id}}"
type = "string"
fields = [{{ name = "value", category = "payment", erase = "null" }}]
[[keys]]
pattern = "{prefix}:wishlist:{{user_id}}"
type = "string"
fields = [{{ name = "value", category = "marketing", erase = "delete_row" }}]
[[keys]]
pattern = "{prefix}:prefs:{{user_id}}"
fields = [{{ name = "language", category = "website_user", erase = "mask" }}, {{ name = "newsletter" }}]
[[keys]]
pattern = "{prefix}:session:{{user_id}}"
fields = [{{ name = "ip", category = "website_user", erase = "delete_row" }}]
[[keys]]
pattern = "{prefix}:recent:{{user_id}}"
type = "string"
fields = [{{ name = "value", category = "marketing", erase = "null" }}]
[[keys]]
pattern = "{prefix}:address:{{user_id}}"
fields = [{{ name = "street", category = "payment", erase = "null" }}, {{ name = "city", category = "payment", erase = "hash" }}]
[[keys]]
pattern = "{prefix}:consent:{{user_id}}"
type = "string"
fields = [{{ name = "value", category = "website_user", erase = "mask" }}]
[[keys]]
pattern = "{prefix}:loyalty:{{user_id}}"
fields = [{{ name = "points" }}, {{ name = "card_name", category = "payment", erase = "null" }}]
{session}"#
    );
    custodian_connectors::dataset_file::parse(&text)
        .expect("the bench dataset")
        .0
}

/// The ten keys of subject `i`.
fn keys_of(prefix: &str, i: u64) -> Vec<String> {
    let mut k = vec![format!("{prefix}:user_by_email:{}", email(i))];
    k.extend(SPACES.iter().map(|s| format!("{prefix}:{s}:{i}")));
    k
}

fn fill_one(p: &mut Pipeline, prefix: &str, i: u64) {
    let id = i.to_string();
    let e = email(i);
    p.cmd(&["SET", &format!("{prefix}:user_by_email:{e}"), &id]);
    p.cmd(&[
        "HSET",
        &format!("{prefix}:profile:{i}"),
        "email",
        &e,
        "name",
        &format!("Customer {i}"),
        "address",
        &format!("{i} High Street"),
        "theme",
        "dark",
    ]);
    p.cmd(&["SET", &format!("{prefix}:cart:{i}"), r#"{"items":[1,2,3]}"#]);
    p.cmd(&["SET", &format!("{prefix}:wishlist:{i}"), "[4,5]"]);
    p.cmd(&[
        "HSET",
        &format!("{prefix}:prefs:{i}"),
        "language",
        "en",
        "newsletter",
        "1",
    ]);
    p.cmd(&["HSET", &format!("{prefix}:session:{i}"), "ip", "192.0.2.0"]);
    p.cmd(&["SET", &format!("{prefix}:recent:{i}"), "[7,8,9]"]);
    p.cmd(&[
        "HSET",
        &format!("{prefix}:address:{i}"),
        "street",
        "High Street",
        "city",
        "Leeds",
    ]);
    p.cmd(&["SET", &format!("{prefix}:consent:{i}"), "analytics=1"]);
    p.cmd(&[
        "HSET",
        &format!("{prefix}:loyalty:{i}"),
        "points",
        "12",
        "card_name",
        "C",
    ]);
    p.cmd(&[
        "HSET",
        &format!("{prefix}:websession:{i}"),
        "user_email",
        &e,
    ]);
}

fn none(_: &str) -> Option<jiff::civil::Date> {
    None
}

fn rate(what: &str, keys: u64, t: Instant) {
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{what}: {keys} keys in {secs:.2} s: {:.0} keys/s",
        keys as f64 / secs
    );
}

async fn erase_range(url: String, ds: Dataset, range: Vec<u64>) -> u64 {
    let mut c = Conn::connect(&url).await.expect("connect");
    let op = Operation::Erase {
        hash_key: b"k",
        holds: &none,
    };
    let mut changed = 0;
    for i in range {
        let ids = run::identities([("email", email(i).as_str())]);
        let r = ops::apply(&mut c, &ds, &ids, &op, false)
            .await
            .expect("erase");
        changed += r.rows_changed();
    }
    changed
}

// One straight script per measurement, as a benchmark should read (see the module's notes).
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = std::env::var(&args[1]).expect("URL variable set");
    let prefix = args[2].clone();
    let num = |i: usize| -> u64 { args[i].parse().expect("a number") };
    let mut c = Conn::connect(&url).await.expect("connect");
    match args[0].as_str() {
        "fill" => {
            let n = num(3);
            let mut p = Pipeline::new();
            for i in 1..=n {
                fill_one(&mut p, &prefix, i);
                if p.len() >= 1000 {
                    c.run(&std::mem::take(&mut p)).await.expect("fill");
                }
            }
            c.run(&p).await.expect("fill");
            let size = c.call(&["DBSIZE"]).await.expect("dbsize");
            println!("filled {n} subjects; the database holds {size:?} keys");
        }
        "erase" | "erase-scan" => {
            let (first, n) = (num(3), num(4));
            let workers = if args[0] == "erase" { num(5) } else { 1 };
            let ds = dataset(&prefix, args[0] == "erase-scan");
            let t = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..workers {
                let range: Vec<u64> = (first + w..first + n).step_by(workers as usize).collect();
                tasks.push(tokio::spawn(erase_range(url.clone(), ds.clone(), range)));
            }
            let mut changed = 0;
            for task in tasks {
                changed += task.await.unwrap();
            }
            let keys = n * (KEYS_PER_SUBJECT + u64::from(args[0] == "erase-scan"));
            rate(
                &format!("connector, {n} subjects, {workers} workers ({changed} changes)"),
                keys,
                t,
            );
        }
        "raw-subject" => {
            let (first, n, workers) = (num(3), num(4), num(5));
            let t = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..workers {
                let (url, prefix) = (url.clone(), prefix.clone());
                tasks.push(tokio::spawn(async move {
                    let mut c = Conn::connect(&url).await.expect("connect");
                    for i in (first + w..first + n).step_by(workers as usize) {
                        let mut args = vec!["DEL".to_owned()];
                        args.extend(keys_of(&prefix, i));
                        c.call(&args).await.expect("del");
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            rate(
                &format!("raw DEL, one round trip per subject, {workers} workers"),
                n * KEYS_PER_SUBJECT,
                t,
            );
        }
        "raw-pipelined" => {
            let (first, n) = (num(3), num(4));
            let t = Instant::now();
            let mut p = Pipeline::new();
            for i in first..first + n {
                for k in keys_of(&prefix, i) {
                    p.cmd(&["DEL", &k]);
                }
                if p.len() >= 1000 {
                    c.run(&std::mem::take(&mut p)).await.expect("del");
                }
            }
            c.run(&p).await.expect("del");
            rate("raw DEL, 1,000 per pipeline", n * KEYS_PER_SUBJECT, t);
        }
        "clean" => {
            let mut scan = Scan::new(format!("{prefix}:*").into_bytes(), None);
            while let Some(keys) = scan.next(&mut c).await.expect("scan") {
                let mut p = Pipeline::new();
                for k in keys {
                    p.cmd(&[&b"UNLINK"[..], &k]);
                }
                c.run(&p).await.expect("unlink");
            }
        }
        other => panic!("unknown mode {other}"),
    }
}
