//! Data-subject requests: the request rows, their history (the audit trail of every step),
//! and the queries of the DPO's queue.
//!
//! A status change is written together with its history entry in one transaction, and only
//! if the request is still in the status the caller saw (optimistic concurrency): two DPOs
//! acting at once cannot both move the same request.

use std::collections::HashMap;

use sqlx::Row;

use crate::keys::KeyRow;
use crate::Pool;

use crate::numbered as pg;
use crate::outbox::{bind_mail, NewMail, ENQUEUE_HEAD, ENQUEUE_ROW, ENQUEUE_TAIL};
use crate::{multi_row, Result, Store, ROWS_PER_STATEMENT};

/// One request as stored. Personal fields are sealed by the caller before they get here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub subject_ref: String,
    pub email_sealed: String,
    pub details_sealed: Option<String>,
    pub language: String,
    pub country: Option<String>,
    pub jurisdiction: String,
    pub customer_id: Option<String>,
    pub received_at: i64,
    pub verified_at: Option<i64>,
    pub code_hash: Option<String>,
    pub code_expires_at: Option<i64>,
    pub attempts: i64,
    pub acknowledge_due: i64,
    pub answer_due: i64,
    pub extended_months: i64,
    pub assignee: Option<String>,
    pub completed_at: Option<i64>,
    pub updated_at: i64,
}

/// One step in a request's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub at: i64,
    /// `requester`, `system`, or the id of the DPO's token.
    pub actor: String,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub detail_sealed: Option<String>,
}

/// A request to store with its first history entry and first mail.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub row: RequestRow,
    pub first: HistoryEntry,
    pub mail: Option<NewMail>,
    /// The requester's new key, stored in the same transaction when the keys live in this
    /// database (see `Keyring::unstored_key`). If the subject already has another key, the
    /// write fails with [`KEY_CONFLICT`] and nothing of it is stored.
    pub key: Option<crate::keys::KeyRow>,
}

/// The error of a [`NewRequest`] whose subject already had a key other than the one it
/// brought: seal again under the standing key and retry.
pub const KEY_CONFLICT: &str = "the subject already has a key";

/// Group commit for request intake, as `writer::ConsentWriter` does for consent: one task
/// takes every queued request, stores them in one transaction, and answers each caller only
/// after the commit. A batch that fails is retried request by request, so one bad request
/// fails alone.
#[derive(Clone, Debug)]
pub struct IntakeWriter {
    batcher: crate::batch::Batcher<NewRequest, ()>,
}

/// Intake writers on PostgreSQL, whose commits overlap (SQLite has one writer at a time).
/// Eight: overlapping commits win over bigger batches here (two writers measured 1,174
/// requests/s against 1,535–1,634 with four; with the requester's key in the same
/// transaction, four measured ~1,200/s and eight 1,611–1,715/s).
pub const POSTGRES_INTAKE_WRITERS: usize = 8;

impl IntakeWriter {
    pub fn spawn(store: Store) -> IntakeWriter {
        let n = store.writer_tasks(POSTGRES_INTAKE_WRITERS);
        let store = store.for_one_writer();
        let write = move |batch: Vec<NewRequest>| {
            let store = store.clone();
            async move {
                match store.insert_requests(&batch).await {
                    Ok(()) => batch.iter().map(|_| Ok(())).collect(),
                    Err(_) if batch.len() > 1 => {
                        let mut out = Vec::with_capacity(batch.len());
                        for r in &batch {
                            let one = store.insert_requests(std::slice::from_ref(r)).await;
                            out.push(one.map_err(|e| e.to_string()));
                        }
                        out
                    }
                    Err(e) => vec![Err(e.to_string())],
                }
            }
        };
        IntakeWriter {
            batcher: crate::batch::Batcher::spawn(n, 512, "intake writer", write),
        }
    }

    /// Stores one request durably; returns after its transaction committed.
    pub async fn insert(&self, request: NewRequest) -> std::result::Result<(), String> {
        self.batcher.submit(request).await
    }
}

/// Filters of the DPO's queue.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    /// Only open requests whose answer is due before this time.
    pub due_before: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

const COLUMNS: &str = "id, kind, status, subject_ref, email_sealed, details_sealed, language, country, jurisdiction, customer_id, received_at, verified_at, code_hash, code_expires_at, attempts, acknowledge_due, answer_due, extended_months, assignee, completed_at, updated_at";

/// Statuses in which the answer clock runs (see `custodian_core::request::Status::is_open`).
const OPEN: &str = "('verified', 'approved', 'in_progress')";

fn row<R: Row>(r: &R) -> RequestRow
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    RequestRow {
        id: r.get("id"),
        kind: r.get("kind"),
        status: r.get("status"),
        subject_ref: r.get("subject_ref"),
        email_sealed: r.get("email_sealed"),
        details_sealed: r.get("details_sealed"),
        language: r.get("language"),
        country: r.get("country"),
        jurisdiction: r.get("jurisdiction"),
        customer_id: r.get("customer_id"),
        received_at: r.get("received_at"),
        verified_at: r.get("verified_at"),
        code_hash: r.get("code_hash"),
        code_expires_at: r.get("code_expires_at"),
        attempts: r.get("attempts"),
        acknowledge_due: r.get("acknowledge_due"),
        answer_due: r.get("answer_due"),
        extended_months: r.get("extended_months"),
        assignee: r.get("assignee"),
        completed_at: r.get("completed_at"),
        updated_at: r.get("updated_at"),
    }
}

macro_rules! bind_request {
    ($q:expr, $r:expr) => {
        $q.bind(&$r.id)
            .bind(&$r.kind)
            .bind(&$r.status)
            .bind(&$r.subject_ref)
            .bind(&$r.email_sealed)
            .bind(&$r.details_sealed)
            .bind(&$r.language)
            .bind(&$r.country)
            .bind(&$r.jurisdiction)
            .bind(&$r.customer_id)
            .bind($r.received_at)
            .bind($r.verified_at)
            .bind(&$r.code_hash)
            .bind($r.code_expires_at)
            .bind($r.attempts)
            .bind($r.acknowledge_due)
            .bind($r.answer_due)
            .bind($r.extended_months)
            .bind(&$r.assignee)
            .bind($r.completed_at)
            .bind($r.updated_at)
    };
}

macro_rules! bind_history {
    ($q:expr, $id:expr, $h:expr) => {
        $q.bind($id)
            .bind($h.at)
            .bind(&$h.actor)
            .bind(&$h.action)
            .bind(&$h.from_status)
            .bind(&$h.to_status)
            .bind(&$h.detail_sealed)
    };
}

const KEYS_HEAD: &str =
    "INSERT INTO subject_keys (subject_ref, wrapped, master_id, created_at) VALUES ";

/// Every key a batch brought must be the one that stands after the insert; otherwise a
/// subject already had another, and the batch (all or nothing) fails with [`KEY_CONFLICT`].
fn check_keys_stand<'a>(
    keys: &[&KeyRow],
    standing: impl Fn(&str) -> Option<&'a str>,
) -> Result<()> {
    if keys
        .iter()
        .all(|k| standing(&k.subject_ref) == Some(k.wrapped.as_str()))
    {
        Ok(())
    } else {
        Err(crate::StoreError::KeyConflict)
    }
}

const INSERT_HEAD: &str = "INSERT INTO requests (id, kind, status, subject_ref, email_sealed, details_sealed, language, country, jurisdiction, customer_id, received_at, verified_at, code_hash, code_expires_at, attempts, acknowledge_due, answer_due, extended_months, assignee, completed_at, updated_at) VALUES ";
const REQUEST_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const UPDATE: &str = "UPDATE requests SET id = ?, kind = ?, status = ?, subject_ref = ?, email_sealed = ?, details_sealed = ?, language = ?, country = ?, jurisdiction = ?, customer_id = ?, received_at = ?, verified_at = ?, code_hash = ?, code_expires_at = ?, attempts = ?, acknowledge_due = ?, answer_due = ?, extended_months = ?, assignee = ?, completed_at = ?, updated_at = ? WHERE id = ? AND status = ? AND updated_at = ?";
const HISTORY_HEAD: &str = "INSERT INTO request_history (request_id, at, actor, action, from_status, to_status, detail_sealed) VALUES ";
const HISTORY_ROW: &str = "(?, ?, ?, ?, ?, ?, ?)";
const HISTORY: &str = "INSERT INTO request_history (request_id, at, actor, action, from_status, to_status, detail_sealed) VALUES (?, ?, ?, ?, ?, ?, ?)";

impl Store {
    /// Stores a new request with its first history entry and, in the same transaction, its
    /// first mail: a request never exists without the code that lets it go on.
    pub async fn insert_request(
        &self,
        r: &RequestRow,
        first: &HistoryEntry,
        mail: Option<&NewMail>,
    ) -> Result<()> {
        self.insert_requests(&[NewRequest {
            row: r.clone(),
            first: first.clone(),
            mail: mail.cloned(),
            key: None,
        }])
        .await
    }

    /// Stores several new requests in one transaction (see [`IntakeWriter`]): all or none.
    /// Each table gets one statement for many requests, not one per request: under load a
    /// batch holds dozens, and every statement is a round trip. On PostgreSQL the rows go as
    /// arrays through one fixed statement (`UNNEST`), prepared and planned once whatever the
    /// batch size; on SQLite as multi-row `VALUES` of [`ROWS_PER_STATEMENT`] rows at most.
    pub async fn insert_requests(&self, batch: &[NewRequest]) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(p) => {
                let mut tx = p.begin().await?;
                let keys: Vec<&KeyRow> = batch.iter().filter_map(|n| n.key.as_ref()).collect();
                if !keys.is_empty() {
                    let standing = sqlite_put_keys(&mut tx, &keys).await?;
                    check_keys_stand(&keys, |r| standing.get(r).map(|k| k.wrapped.as_str()))?;
                }
                for chunk in batch.chunks(ROWS_PER_STATEMENT) {
                    let sql = multi_row(INSERT_HEAD, REQUEST_ROW, chunk.len(), "", false);
                    let mut q = sqlx::query(&sql);
                    for n in chunk {
                        q = bind_request!(q, n.row);
                    }
                    q.execute(&mut *tx).await?;
                    let sql = multi_row(HISTORY_HEAD, HISTORY_ROW, chunk.len(), "", false);
                    let mut q = sqlx::query(&sql);
                    for n in chunk {
                        q = bind_history!(q, &n.row.id, n.first);
                    }
                    q.execute(&mut *tx).await?;
                    let mails: Vec<&NewMail> =
                        chunk.iter().filter_map(|n| n.mail.as_ref()).collect();
                    if !mails.is_empty() {
                        let sql =
                            multi_row(ENQUEUE_HEAD, ENQUEUE_ROW, mails.len(), ENQUEUE_TAIL, false);
                        let mut q = sqlx::query(&sql);
                        for m in mails {
                            q = bind_mail!(q, m);
                        }
                        q.execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
            }
            Pool::Postgres(p) => {
                macro_rules! col {
                    ($items:expr, $f:expr) => {
                        $items.iter().map($f).collect::<Vec<_>>()
                    };
                }
                let rows: Vec<&RequestRow> = batch.iter().map(|n| &n.row).collect();
                let mut tx = p.begin().await?;
                let keys: Vec<&KeyRow> = batch.iter().filter_map(|n| n.key.as_ref()).collect();
                if !keys.is_empty() {
                    let refs = col!(keys, |k| k.subject_ref.as_str());
                    sqlx::query(&(KEYS_HEAD.replace(" VALUES ", " ") + "SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[]) ON CONFLICT DO NOTHING"))
                        .bind(&refs)
                        .bind(col!(keys, |k| k.wrapped.as_str()))
                        .bind(col!(keys, |k| k.master_id.as_str()))
                        .bind(col!(keys, |k| k.created_at))
                        .execute(&mut *tx)
                        .await?;
                    let standing: HashMap<String, String> = sqlx::query_as::<_, (String, String)>(
                        "SELECT subject_ref, wrapped FROM subject_keys WHERE subject_ref = ANY($1)",
                    )
                    .bind(&refs)
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
                    check_keys_stand(&keys, |r| standing.get(r).map(String::as_str))?;
                }
                sqlx::query(&(INSERT_HEAD.replace(" VALUES ", " ")
                    + "SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::int8[], $12::int8[], $13::text[], $14::int8[], $15::int8[], $16::int8[], $17::int8[], $18::int8[], $19::text[], $20::int8[], $21::int8[])"))
                    .bind(col!(rows, |r| r.id.as_str())).bind(col!(rows, |r| r.kind.as_str()))
                    .bind(col!(rows, |r| r.status.as_str())).bind(col!(rows, |r| r.subject_ref.as_str()))
                    .bind(col!(rows, |r| r.email_sealed.as_str())).bind(col!(rows, |r| r.details_sealed.as_deref()))
                    .bind(col!(rows, |r| r.language.as_str())).bind(col!(rows, |r| r.country.as_deref()))
                    .bind(col!(rows, |r| r.jurisdiction.as_str())).bind(col!(rows, |r| r.customer_id.as_deref()))
                    .bind(col!(rows, |r| r.received_at)).bind(col!(rows, |r| r.verified_at))
                    .bind(col!(rows, |r| r.code_hash.as_deref())).bind(col!(rows, |r| r.code_expires_at))
                    .bind(col!(rows, |r| r.attempts)).bind(col!(rows, |r| r.acknowledge_due))
                    .bind(col!(rows, |r| r.answer_due)).bind(col!(rows, |r| r.extended_months))
                    .bind(col!(rows, |r| r.assignee.as_deref())).bind(col!(rows, |r| r.completed_at))
                    .bind(col!(rows, |r| r.updated_at))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(&(HISTORY_HEAD.replace(" VALUES ", " ")
                    + "SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])"))
                    .bind(col!(batch, |n| n.row.id.as_str())).bind(col!(batch, |n| n.first.at))
                    .bind(col!(batch, |n| n.first.actor.as_str())).bind(col!(batch, |n| n.first.action.as_str()))
                    .bind(col!(batch, |n| n.first.from_status.as_deref())).bind(col!(batch, |n| n.first.to_status.as_str()))
                    .bind(col!(batch, |n| n.first.detail_sealed.as_deref()))
                    .execute(&mut *tx)
                    .await?;
                let mails: Vec<&NewMail> = batch.iter().filter_map(|n| n.mail.as_ref()).collect();
                if !mails.is_empty() {
                    sqlx::query(&(ENQUEUE_HEAD.replace(" VALUES ", " ")
                        + "SELECT id, k, t, l, ts, ps, r, 'queued', 0, n, c FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[], $9::int8[]) AS u(id, k, t, l, ts, ps, r, n, c)"
                        + ENQUEUE_TAIL))
                        .bind(col!(mails, |m| m.id.as_str())).bind(col!(mails, |m| m.idempotency_key.as_str()))
                        .bind(col!(mails, |m| m.template.as_str())).bind(col!(mails, |m| m.lang.as_str()))
                        .bind(col!(mails, |m| m.to_sealed.as_str())).bind(col!(mails, |m| m.params_sealed.as_str()))
                        .bind(col!(mails, |m| m.request_id.as_deref())).bind(col!(mails, |m| m.send_after))
                        .bind(col!(mails, |m| m.created_at))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Writes `new` over the stored request if it is unchanged since `seen` was read, with a
    /// history entry. Answers `false` (and writes nothing) when someone else changed it first.
    /// `mails` (the messages that tell the requester about the change) are queued in the same
    /// transaction: a change is never written without its mail, nor mail sent for a change
    /// that was refused. A repeated idempotency key queues nothing.
    pub async fn update_request(
        &self,
        seen: &RequestRow,
        new: &RequestRow,
        entry: Option<&HistoryEntry>,
        mails: &[NewMail],
    ) -> Result<bool> {
        let changed = match &self.pool {
            Pool::Sqlite(p) => {
                let mut tx = p.begin().await?;
                let n = bind_request!(sqlx::query(UPDATE), new)
                    .bind(&seen.id)
                    .bind(&seen.status)
                    .bind(seen.updated_at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 1 {
                    if let Some(h) = entry {
                        bind_history!(sqlx::query(HISTORY), &new.id, h)
                            .execute(&mut *tx)
                            .await?;
                    }
                    for m in mails {
                        let sql = multi_row(ENQUEUE_HEAD, ENQUEUE_ROW, 1, ENQUEUE_TAIL, false);
                        bind_mail!(sqlx::query(&sql), m).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                }
                n == 1
            }
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                let n = bind_request!(sqlx::query(&pg(UPDATE)), new)
                    .bind(&seen.id)
                    .bind(&seen.status)
                    .bind(seen.updated_at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 1 {
                    if let Some(h) = entry {
                        bind_history!(sqlx::query(&pg(HISTORY)), &new.id, h)
                            .execute(&mut *tx)
                            .await?;
                    }
                    for m in mails {
                        let sql = multi_row(ENQUEUE_HEAD, ENQUEUE_ROW, 1, ENQUEUE_TAIL, true);
                        bind_mail!(sqlx::query(&sql), m).execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                }
                n == 1
            }
        };
        Ok(changed)
    }

    pub async fn request(&self, id: &str) -> Result<Option<RequestRow>> {
        let sql = format!("SELECT {COLUMNS} FROM requests WHERE id = ?");
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query(&sql)
                .bind(id)
                .fetch_optional(p)
                .await?
                .map(|r| row(&r)),
            Pool::Postgres(p) => sqlx::query(&pg(&sql))
                .bind(id)
                .fetch_optional(p)
                .await?
                .map(|r| row(&r)),
        })
    }

    /// The DPO's queue, most urgent first.
    pub async fn list_requests(&self, f: &RequestFilter) -> Result<Vec<RequestRow>> {
        let mut sql = format!("SELECT {COLUMNS} FROM requests WHERE 1 = 1");
        if f.status.is_some() {
            sql.push_str(" AND status = ?");
        }
        if f.kind.is_some() {
            sql.push_str(" AND kind = ?");
        }
        if f.due_before.is_some() {
            sql.push_str(&format!(" AND status IN {OPEN} AND answer_due < ?"));
        }
        sql.push_str(" ORDER BY answer_due, received_at, id LIMIT ? OFFSET ?");
        macro_rules! run {
            ($p:expr, $sql:expr) => {{
                let mut q = sqlx::query($sql);
                if let Some(s) = &f.status {
                    q = q.bind(s);
                }
                if let Some(k) = &f.kind {
                    q = q.bind(k);
                }
                if let Some(d) = f.due_before {
                    q = q.bind(d);
                }
                q.bind(f.limit.clamp(1, 1000))
                    .bind(f.offset.max(0))
                    .fetch_all($p)
                    .await?
                    .iter()
                    .map(|r| row(r))
                    .collect()
            }};
        }
        let pg_sql = pg(&sql);
        Ok(match &self.pool {
            Pool::Sqlite(p) => run!(p, &sql),
            Pool::Postgres(p) => run!(p, &pg_sql),
        })
    }

    pub async fn request_history(&self, id: &str) -> Result<Vec<HistoryEntry>> {
        const Q: &str = "SELECT at, actor, action, from_status, to_status, detail_sealed FROM request_history WHERE request_id = ? ORDER BY id";
        type Row = (i64, String, String, Option<String>, String, Option<String>);
        let rows: Vec<Row> = match &self.pool {
            Pool::Sqlite(p) => sqlx::query_as(Q).bind(id).fetch_all(p).await?,
            Pool::Postgres(p) => sqlx::query_as(&pg(Q)).bind(id).fetch_all(p).await?,
        };
        Ok(rows
            .into_iter()
            .map(
                |(at, actor, action, from_status, to_status, detail_sealed)| HistoryEntry {
                    at,
                    actor,
                    action,
                    from_status,
                    to_status,
                    detail_sealed,
                },
            )
            .collect())
    }

    /// Erasure requests completed at or after `since` (microseconds), oldest first.
    pub async fn completed_erasures_since(&self, since: i64) -> Result<Vec<RequestRow>> {
        self.requests_where(
            "kind = 'erasure' AND status = 'completed' AND completed_at >= ? ORDER BY completed_at, id",
            since,
        )
        .await
    }

    /// Every request a subject made, oldest first (access exports, erasure).
    pub async fn requests_of_subject(&self, subject_ref: &str) -> Result<Vec<RequestRow>> {
        self.requests_where(
            "subject_ref = ? ORDER BY received_at, id",
            subject_ref.to_owned(),
        )
        .await
    }

    /// Requests matching `condition` (one `?`, bound to `value`, then the order).
    async fn requests_where<T>(&self, condition: &str, value: T) -> Result<Vec<RequestRow>>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + for<'q> sqlx::Encode<'q, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>
            + Send,
    {
        let sql = format!("SELECT {COLUMNS} FROM requests WHERE {condition}");
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query(&sql)
                .bind(value)
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| row(r))
                .collect(),
            Pool::Postgres(p) => sqlx::query(&pg(&sql))
                .bind(value)
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| row(r))
                .collect(),
        })
    }

    /// How many requests are in each status.
    pub async fn request_counts(&self) -> Result<Vec<(String, i64)>> {
        const Q: &str = "SELECT status, COUNT(*) FROM requests GROUP BY status ORDER BY status";
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await?,
            Pool::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await?,
        })
    }

    /// Open requests answered by `by` at the latest (due soon and overdue lists).
    pub async fn open_requests_due_before(&self, by: i64) -> Result<Vec<RequestRow>> {
        self.list_requests(&RequestFilter {
            due_before: Some(by),
            limit: 1000,
            ..Default::default()
        })
        .await
    }

    /// Requests that were never verified and whose code expired before `cutoff`.
    pub async fn stale_unverified(&self, cutoff: i64) -> Result<Vec<RequestRow>> {
        let sql = format!("SELECT {COLUMNS} FROM requests WHERE status = 'awaiting_verification' AND code_expires_at < ? ORDER BY received_at LIMIT 500");
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query(&sql)
                .bind(cutoff)
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| row(r))
                .collect(),
            Pool::Postgres(p) => sqlx::query(&pg(&sql))
                .bind(cutoff)
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| row(r))
                .collect(),
        })
    }

    /// Removes a subject's current consent state (erasure). The ledger's events stay: they
    /// hold only the keyed reference and are the proof of what was consented to.
    pub async fn delete_consent_state(&self, subject_ref: &str) -> Result<u64> {
        const Q: &str = "DELETE FROM consent_state WHERE subject_ref = ?";
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query(Q)
                .bind(subject_ref)
                .execute(p)
                .await?
                .rows_affected(),
            Pool::Postgres(p) => sqlx::query(&pg(Q))
                .bind(subject_ref)
                .execute(p)
                .await?
                .rows_affected(),
        })
    }

    /// Removes links of a subject (erasure).
    pub async fn delete_links(&self, subject_ref: &str) -> Result<u64> {
        const Q: &str = "DELETE FROM subject_links WHERE device_ref = ? OR account_ref = ?";
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query(Q)
                .bind(subject_ref)
                .bind(subject_ref)
                .execute(p)
                .await?
                .rows_affected(),
            Pool::Postgres(p) => sqlx::query(&pg(Q))
                .bind(subject_ref)
                .bind(subject_ref)
                .execute(p)
                .await?
                .rows_affected(),
        })
    }
}

/// Stores each key unless its subject has one, inside the caller's SQLite transaction, and
/// answers the key that stands for each subject. One insert and one read per chunk of keys,
/// not per key: each statement is a round trip to SQLite's worker thread. Shared by the key
/// writer and request intake.
pub(crate) async fn sqlite_put_keys(
    conn: &mut sqlx::SqliteConnection,
    keys: &[&KeyRow],
) -> Result<HashMap<String, KeyRow>> {
    const HEAD: &str =
        "INSERT INTO subject_keys (subject_ref, wrapped, master_id, created_at) VALUES ";
    const STANDING: &str =
        "SELECT subject_ref, wrapped, master_id, created_at FROM subject_keys WHERE subject_ref IN (";
    let mut standing = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(crate::ROWS_PER_STATEMENT) {
        let sql = multi_row(
            HEAD,
            "(?, ?, ?, ?)",
            chunk.len(),
            " ON CONFLICT DO NOTHING",
            false,
        );
        let mut q = sqlx::query(&sql);
        for k in chunk {
            q = q
                .bind(&k.subject_ref)
                .bind(&k.wrapped)
                .bind(&k.master_id)
                .bind(k.created_at);
        }
        q.execute(&mut *conn).await?;
        let sql = multi_row(STANDING, "?", chunk.len(), ")", false);
        let mut q = sqlx::query_as::<_, (String, String, String, i64)>(&sql);
        for k in chunk {
            q = q.bind(&k.subject_ref);
        }
        for (subject_ref, wrapped, master_id, created_at) in q.fetch_all(&mut *conn).await? {
            let row = KeyRow {
                subject_ref: subject_ref.clone(),
                wrapped,
                master_id,
                created_at,
            };
            standing.insert(subject_ref, row);
        }
    }
    Ok(standing)
}
