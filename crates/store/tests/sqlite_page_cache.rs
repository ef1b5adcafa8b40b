//! The layer over SQLite's page cache (`sqlite/page_cache.rs`) answers the commits' truncations
//! it can, forwards the ones that drop pages, and never changes what SQLite reads or writes.
//!
//! A test binary of its own: the layer goes in only before SQLite is first initialised in the
//! process, which each test here makes sure of by installing it first. The tests share
//! process-wide counters, so they run one at a time.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use custodian_store::sqlite_page_cache::{install, truncations};
use rusqlite::{params, Connection, OptionalExtension};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A new database file in a temporary folder of its own.
fn fresh_file() -> PathBuf {
    let url = custodian_store::testing::fresh_sqlite_url();
    PathBuf::from(url.strip_prefix("sqlite://").expect("a file URL"))
}

/// A file database in WAL mode with a small cache, so that pages come and go.
fn open(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("open the test database");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = 64;",
    )
    .expect("set the test database up");
    conn
}

/// A key that lands on a random leaf of the index, the same for the same `n`.
fn key(n: u64) -> String {
    let mut x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xd1b5_4a32_d192_ed03;
    x ^= x >> 29;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 32;
    format!("{x:016x}{n:08}")
}

/// The start of every test here: its turn, the layer in place, and a new database holding
/// the table `schema` creates.
fn start(schema: &str) -> (MutexGuard<'static, ()>, PathBuf, Connection) {
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    assert!(install(), "the layer goes in before SQLite is first used");
    let path = fresh_file();
    let conn = open(&path);
    conn.execute_batch(schema).expect("create the table");
    (turn, path, conn)
}

fn integrity(conn: &Connection) -> String {
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check")
}

#[test]
fn random_keyed_commits_skip_the_walk_and_read_back_whole() {
    let (_turn, path, writer) = start("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
    let reader = open(&path);
    let (skipped_before, forwarded_before) = truncations();
    let (transactions, per) = (200u64, 50u64);
    for t in 0..transactions {
        writer.execute_batch("BEGIN").expect("begin");
        {
            let mut insert = writer
                .prepare_cached("INSERT INTO t (k, v) VALUES (?1, ?2)")
                .expect("prepare the insert");
            for i in 0..per {
                let n = t * per + i;
                insert.execute(params![key(n), n as i64]).expect("insert");
            }
        }
        writer.execute_batch("COMMIT").expect("commit");
        // Another connection's read after the commit resets its own cache: a truncation
        // that drops pages, which must be forwarded.
        if t % 20 == 19 {
            let seen: i64 = reader
                .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .expect("count from the reader");
            assert_eq!(seen, ((t + 1) * per) as i64);
        }
    }
    let (skipped, forwarded) = truncations();
    // Random keys split leaves in nearly every transaction; each commit's truncation finds
    // nothing above the database's end and is answered by the layer.
    assert!(
        skipped - skipped_before >= transactions,
        "{} of {transactions} commits answered by the layer",
        skipped - skipped_before
    );
    assert!(
        forwarded > forwarded_before,
        "the reader's resets went through"
    );
    assert_eq!(integrity(&writer), "ok");
    let total: i64 = writer
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .expect("count");
    assert_eq!(total, (transactions * per) as i64);
    let mut get = writer
        .prepare("SELECT v FROM t WHERE k = ?1")
        .expect("prepare the lookup");
    for n in (0..transactions * per).step_by(7) {
        let v: i64 = get
            .query_row([key(n)], |r| r.get(0))
            .expect("every key reads back");
        assert_eq!(v, n as i64, "key {n}");
    }
}

#[test]
fn a_rolled_back_growth_leaves_no_page_behind() {
    let (_turn, path, conn) = start("CREATE TABLE t (k TEXT PRIMARY KEY, body BLOB NOT NULL)");
    let insert = |range: std::ops::Range<u64>, fill: u8| {
        let mut stmt = conn
            .prepare_cached("INSERT INTO t (k, body) VALUES (?1, ?2)")
            .expect("prepare the insert");
        for n in range {
            stmt.execute(params![key(n), vec![fill; 600]])
                .expect("insert");
        }
    };
    conn.execute_batch("BEGIN").expect("begin");
    insert(0..200, 1);
    conn.execute_batch("COMMIT").expect("commit");
    let pages_before: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .expect("page count");

    // The database grows by hundreds of pages, then the transaction is rolled back: the
    // cache holds pages past the restored end, and the truncation must drop them.
    let (_, forwarded_before) = truncations();
    conn.execute_batch("BEGIN").expect("begin");
    insert(1_000..3_000, 2);
    conn.execute_batch("ROLLBACK").expect("roll back");
    let (_, forwarded) = truncations();
    assert!(
        forwarded > forwarded_before,
        "the rollback's truncation went through"
    );
    let pages_after: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .expect("page count");
    assert_eq!(pages_after, pages_before, "the growth is undone");

    // The same page numbers are allocated again for other rows.
    conn.execute_batch("BEGIN").expect("begin");
    insert(5_000..7_000, 3);
    conn.execute_batch("COMMIT").expect("commit");
    assert_eq!(integrity(&conn), "ok");
    let rolled_back: Option<i64> = conn
        .query_row("SELECT 1 FROM t WHERE k = ?1", [key(1_500)], |r| r.get(0))
        .optional()
        .expect("look a rolled-back key up");
    assert_eq!(rolled_back, None);
    let (rows, wrong): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE substr(body, 1, 1) NOT IN (x'01', x'03')) \
             FROM t",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    assert_eq!(
        (rows, wrong),
        (2_200, 0),
        "no row of the rolled-back growth is read"
    );
    drop(conn);
    assert_eq!(integrity(&open(&path)), "ok", "after reopening");
}
