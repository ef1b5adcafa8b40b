//! Data-subject requests: the request rows, their history (the audit trail of every step),
//! and the queries of the DPO's queue.
//!
//! A status change is written together with its history entry in one transaction, and only
//! if the request is still in the status the caller saw (optimistic concurrency): two DPOs
//! acting at once cannot both move the same request (`write.rs`). The queue's queries are in
//! `queries.rs`. (Daily jobs that one node of several runs are leased jobs, `crate::jobs`.)

mod lifts;
mod queries;
mod write;

pub use lifts::LiftRow;

use custodian_core::request::{Kind, Status};

use crate::keys::KeyRow;
use crate::outbox::NewMail;
use crate::{Batch, Result, Store, StoreError};

/// One request as stored. Personal fields are sealed by the caller before they get here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    pub id: String,
    pub kind: Kind,
    pub status: Status,
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
    /// An extension granted in days (CCPA), besides `extended_months`.
    pub extended_days: i64,
    /// When the DPO stopped the clock, while it stands still.
    pub paused_since: Option<i64>,
    /// Why it stands still: `awaiting_identity` or `awaiting_clarification`.
    pub pause_reason: Option<String>,
    /// Whole local days of the pauses that have ended.
    pub paused_days: i64,
}

/// One step in a request's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub at: i64,
    /// `requester`, `system`, or the id of the DPO's token.
    pub actor: String,
    pub action: String,
    pub from_status: Option<Status>,
    pub to_status: Status,
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
    pub key: Option<KeyRow>,
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
    pub status: Option<Status>,
    pub kind: Option<Kind>,
    /// Only open requests whose answer is due before this time.
    pub due_before: Option<i64>,
    /// Only requests counted by this jurisdiction's rule (`gdpr`, `uk_gdpr`, `ccpa` …).
    pub jurisdiction: Option<String>,
    /// Only requests assigned to this person; `Some("")` for those assigned to nobody.
    pub assignee: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// The dialect's statements for request intake (see `sqlite/requests.rs`,
/// `postgres/requests.rs`).
#[derive(Debug)]
pub(crate) struct RequestSql {
    /// Inserts requests, every column in [`COLUMNS`] order.
    pub insert: Batch,
    /// Inserts history entries `(request_id, at, actor, action, from_status, to_status,
    /// detail_sealed)`.
    pub history: Batch,
}

const COLUMNS: &str = "id, kind, status, subject_ref, email_sealed, details_sealed, language, country, jurisdiction, customer_id, received_at, verified_at, code_hash, code_expires_at, attempts, acknowledge_due, answer_due, extended_months, assignee, completed_at, updated_at, extended_days, paused_since, pause_reason, paused_days";

/// A request row as stored, before its kind and status are checked.
struct RawRequest {
    id: String,
    kind: String,
    status: String,
    subject_ref: String,
    email_sealed: String,
    details_sealed: Option<String>,
    language: String,
    country: Option<String>,
    jurisdiction: String,
    customer_id: Option<String>,
    received_at: i64,
    verified_at: Option<i64>,
    code_hash: Option<String>,
    code_expires_at: Option<i64>,
    attempts: i64,
    acknowledge_due: i64,
    answer_due: i64,
    extended_months: i64,
    assignee: Option<String>,
    completed_at: Option<i64>,
    updated_at: i64,
    extended_days: i64,
    paused_since: Option<i64>,
    pause_reason: Option<String>,
    paused_days: i64,
}

// By hand rather than derived: sqlx's derive macros stay out of the build (see `migrate.rs`),
// and tuples stop at sixteen columns.
impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for RawRequest
where
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(r: &'r R) -> std::result::Result<Self, sqlx::Error> {
        Ok(RawRequest {
            id: r.try_get(0)?,
            kind: r.try_get(1)?,
            status: r.try_get(2)?,
            subject_ref: r.try_get(3)?,
            email_sealed: r.try_get(4)?,
            details_sealed: r.try_get(5)?,
            language: r.try_get(6)?,
            country: r.try_get(7)?,
            jurisdiction: r.try_get(8)?,
            customer_id: r.try_get(9)?,
            received_at: r.try_get(10)?,
            verified_at: r.try_get(11)?,
            code_hash: r.try_get(12)?,
            code_expires_at: r.try_get(13)?,
            attempts: r.try_get(14)?,
            acknowledge_due: r.try_get(15)?,
            answer_due: r.try_get(16)?,
            extended_months: r.try_get(17)?,
            assignee: r.try_get(18)?,
            completed_at: r.try_get(19)?,
            updated_at: r.try_get(20)?,
            extended_days: r.try_get(21)?,
            paused_since: r.try_get(22)?,
            pause_reason: r.try_get(23)?,
            paused_days: r.try_get(24)?,
        })
    }
}

/// A stored status, which must be one Custodian writes.
fn status(s: &str, row: &str) -> Result<Status> {
    Status::parse(s).ok_or_else(|| StoreError::Corrupt(format!("{row} has status `{s}`")))
}

impl TryFrom<RawRequest> for RequestRow {
    type Error = StoreError;

    fn try_from(r: RawRequest) -> Result<RequestRow> {
        let kind = Kind::parse(&r.kind).ok_or_else(|| {
            StoreError::Corrupt(format!("request {} has kind `{}`", r.id, r.kind))
        })?;
        Ok(RequestRow {
            kind,
            status: status(&r.status, &format!("request {}", r.id))?,
            id: r.id,
            subject_ref: r.subject_ref,
            email_sealed: r.email_sealed,
            details_sealed: r.details_sealed,
            language: r.language,
            country: r.country,
            jurisdiction: r.jurisdiction,
            customer_id: r.customer_id,
            received_at: r.received_at,
            verified_at: r.verified_at,
            code_hash: r.code_hash,
            code_expires_at: r.code_expires_at,
            attempts: r.attempts,
            acknowledge_due: r.acknowledge_due,
            answer_due: r.answer_due,
            extended_months: r.extended_months,
            assignee: r.assignee,
            completed_at: r.completed_at,
            updated_at: r.updated_at,
            extended_days: r.extended_days,
            paused_since: r.paused_since,
            pause_reason: r.pause_reason,
            paused_days: r.paused_days,
        })
    }
}
