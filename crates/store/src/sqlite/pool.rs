//! The SQLite pool's check of each connection it is given back.
//!
//! SQLite rolls a whole transaction back by itself on a full disk, an I/O error or a trigger's
//! `RAISE(ROLLBACK)`, and the driver (sqlx 0.8) does not notice: its `ROLLBACK` then fails, and
//! it goes on counting the connection as one transaction deep. That connection's next
//! transaction is a `SAVEPOINT`; when a statement in it fails (a duplicate id), the driver
//! rolls back to the savepoint only, and SQLite's write transaction stays open — holding the
//! write lock, so that every other connection's write waits out its busy timeout and fails,
//! while writes through that connection are answered as committed and never are. A
//! connection that comes back in a transaction by either count is closed instead of pooled.

use sqlx::sqlite::SqliteConnection;
use sqlx::Connection;

/// Whether `conn`, given back to the pool, may be handed out again: outside any transaction
/// in SQLite's own view and in the driver's.
///
/// Every such past starts with the driver counting a transaction SQLite no longer has, so a
/// connection the driver counts as outside one goes back at once: an atomic load, no round
/// trip to the connection's thread on every release. Otherwise the driver may only not have
/// run the rollback of a transaction dropped without commit yet: taking the handle goes
/// through the connection's worker thread after whatever it still had queued, so both counts
/// are read after it.
pub(crate) async fn outside_transactions(conn: &mut SqliteConnection) -> sqlx::Result<bool> {
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    let autocommit = {
        let mut handle = conn.lock_handle().await?;
        // SAFETY: the handle is an open connection, locked for this thread while `handle`
        // lives; `sqlite3_get_autocommit` only reads its transaction flag.
        unsafe { rusqlite::ffi::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) != 0 }
    };
    Ok(autocommit && !conn.is_in_transaction())
}
