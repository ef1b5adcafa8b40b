//! Retention's tables: lifecycle events, legal holds, the record of every purge, and subjects
//! under the minimum age.
//!
//! The retention job walks subjects in pages ordered by reference ([`Store::lifecycle_page`],
//! [`Store::consent_page`]) and purges each page in one short transaction
//! ([`Store::apply_purges`]), so a run over millions of rows never holds a lock for long and
//! memory stays bounded by the page size.

use sqlx::Row;

use crate::Pool;
use crate::numbered as pg;
use crate::{Result, Store};

/// One lifecycle event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRow {
    pub subject_ref: String,
    pub kind: String,
    pub at: i64,
    pub under_minimum_age: Option<bool>,
    pub country: Option<String>,
    pub recorded_at: i64,
}

/// A legal hold as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRow {
    pub id: String,
    pub matter: Option<String>,
    pub subject_ref: Option<String>,
    pub category: Option<String>,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: i64,
    pub lifted_at: Option<i64>,
    pub lifted_by: Option<String>,
    pub lift_reason: Option<String>,
}

/// What one purge removes from Custodian's own tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeAction {
    /// The subject's current consent state for these purposes (the ledger's events stay).
    ConsentState { purposes: Vec<String> },
    /// The sealed address and details of these (final) requests, their history notes, and
    /// the mail sent about them.
    RequestFields { request_ids: Vec<String> },
    /// The subject's lifecycle events.
    Lifecycle,
    /// Nothing in Custodian's own tables (the data lives in the company's datastores);
    /// recorded so the purge has a trace.
    RecordOnly,
    /// Rows an erasure kept under a hold have gone from the company's datastores: their
    /// `held_rows` records are marked done and forget the rows' keys.
    HeldRows { ids: Vec<String> },
}

/// A purge to apply, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purge {
    pub subject_ref: String,
    pub rule: String,
    /// What goes, as JSON (categories and records), for the record.
    pub data: String,
    pub due_since: i64,
    pub action: PurgeAction,
}

/// A recorded purge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeRecord {
    pub subject_ref: String,
    pub rule: String,
    pub data: String,
    pub due_since: i64,
    pub purged_at: i64,
    pub records: i64,
}

/// A subject known to be under the minimum age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinorRow {
    pub subject_ref: String,
    pub declared_at: i64,
    pub country: Option<String>,
    pub request_id: Option<String>,
}

/// Executes one statement on either backend and answers the rows it affected:
/// `on_backend!(self, SQL, |q| q.bind(..), execute)`.
macro_rules! on_backend {
    ($store:expr, $sql:expr, |$q:ident| $bind:expr, execute) => {
        match &$store.pool {
            Pool::Sqlite(p) => {
                let $q = sqlx::query($sql);
                $bind.execute(p).await?.rows_affected()
            }
            Pool::Postgres(p) => {
                let sql = pg($sql);
                let $q = sqlx::query(&sql);
                $bind.execute(p).await?.rows_affected()
            }
        }
    };
}

const HOLD_COLUMNS: &str = "id, matter, subject_ref, category, reason, placed_by, placed_at, lifted_at, lifted_by, lift_reason";

fn hold<R: Row>(r: &R) -> HoldRow
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    HoldRow {
        id: r.get("id"),
        matter: r.get("matter"),
        subject_ref: r.get("subject_ref"),
        category: r.get("category"),
        reason: r.get("reason"),
        placed_by: r.get("placed_by"),
        placed_at: r.get("placed_at"),
        lifted_at: r.get("lifted_at"),
        lifted_by: r.get("lifted_by"),
        lift_reason: r.get("lift_reason"),
    }
}

fn lifecycle<R: Row>(r: &R) -> LifecycleRow
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<bool>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    LifecycleRow {
        subject_ref: r.get("subject_ref"),
        kind: r.get("kind"),
        at: r.get("at"),
        under_minimum_age: r.get("under_minimum_age"),
        country: r.get("country"),
        recorded_at: r.get("recorded_at"),
    }
}

/// Groups rows sorted by subject into `(subject, rows)`.
fn group<T>(rows: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<(String, Vec<T>)> {
    let mut out: Vec<(String, Vec<T>)> = Vec::new();
    for r in rows {
        match out.last_mut() {
            Some((s, list)) if s == key(&r) => list.push(r),
            _ => out.push((key(&r).to_owned(), vec![r])),
        }
    }
    out
}

const LIFECYCLE_COLUMNS: &str = "subject_ref, kind, at, under_minimum_age, country, recorded_at";

impl Store {
    pub async fn insert_lifecycle_event(&self, e: &LifecycleRow) -> Result<()> {
        const Q: &str = "INSERT INTO lifecycle_events (subject_ref, kind, at, under_minimum_age, country, recorded_at) VALUES (?, ?, ?, ?, ?, ?)";
        on_backend!(
            self,
            Q,
            |q| q
                .bind(&e.subject_ref)
                .bind(&e.kind)
                .bind(e.at)
                .bind(e.under_minimum_age)
                .bind(&e.country)
                .bind(e.recorded_at),
            execute
        );
        Ok(())
    }

    /// A subject's lifecycle events, oldest first.
    pub async fn lifecycle_events(&self, subject_ref: &str) -> Result<Vec<LifecycleRow>> {
        let sql = format!(
            "SELECT {LIFECYCLE_COLUMNS} FROM lifecycle_events WHERE subject_ref = ? ORDER BY at, id"
        );
        let rows = match &self.pool {
            Pool::Sqlite(p) => sqlx::query(&sql)
                .bind(subject_ref)
                .fetch_all(p)
                .await?
                .iter()
                .map(lifecycle)
                .collect(),
            Pool::Postgres(p) => sqlx::query(&pg(&sql))
                .bind(subject_ref)
                .fetch_all(p)
                .await?
                .iter()
                .map(lifecycle)
                .collect(),
        };
        Ok(rows)
    }

    /// The last subject of the next page of at most `limit` subjects after `after` in
    /// `table`, or `None` when no subject is left.
    async fn page_end(&self, table: &str, after: &str, limit: i64) -> Result<Option<String>> {
        // The subquery walks the index on subject_ref; OFFSET finds the page's end cheaply.
        let sql = format!(
            "SELECT subject_ref FROM (SELECT DISTINCT subject_ref FROM {table} WHERE subject_ref > ? ORDER BY subject_ref LIMIT ?) AS page ORDER BY subject_ref DESC LIMIT 1"
        );
        Ok(match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_scalar(&sql)
                    .bind(after)
                    .bind(limit)
                    .fetch_optional(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar(&pg(&sql))
                    .bind(after)
                    .bind(limit)
                    .fetch_optional(p)
                    .await?
            }
        })
    }

    /// The lifecycle events of the next `limit` subjects after `after` (`""` to start),
    /// grouped by subject in reference order.
    pub async fn lifecycle_page(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Vec<LifecycleRow>)>> {
        let Some(end) = self.page_end("lifecycle_events", after, limit).await? else {
            return Ok(Vec::new());
        };
        let sql = format!("SELECT {LIFECYCLE_COLUMNS} FROM lifecycle_events WHERE subject_ref > ? AND subject_ref <= ? ORDER BY subject_ref, at, id");
        let rows: Vec<LifecycleRow> = match &self.pool {
            Pool::Sqlite(p) => sqlx::query(&sql)
                .bind(after)
                .bind(&end)
                .fetch_all(p)
                .await?
                .iter()
                .map(lifecycle)
                .collect(),
            Pool::Postgres(p) => sqlx::query(&pg(&sql))
                .bind(after)
                .bind(&end)
                .fetch_all(p)
                .await?
                .iter()
                .map(lifecycle)
                .collect(),
        };
        Ok(group(rows, |r| &r.subject_ref))
    }

    /// The current consent of the next `limit` subjects after `after`, as
    /// `(subject, [(purpose, given, updated_at)])`.
    #[allow(clippy::type_complexity)]
    pub async fn consent_page(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Vec<(String, bool, i64)>)>> {
        let Some(end) = self.page_end("consent_state", after, limit).await? else {
            return Ok(Vec::new());
        };
        const Q: &str = "SELECT subject_ref, purpose, given, updated_at FROM consent_state WHERE subject_ref > ? AND subject_ref <= ? ORDER BY subject_ref, purpose";
        let rows: Vec<(String, String, bool, i64)> = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_as(Q)
                    .bind(after)
                    .bind(&end)
                    .fetch_all(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_as(&pg(Q))
                    .bind(after)
                    .bind(&end)
                    .fetch_all(p)
                    .await?
            }
        };
        Ok(group(rows, |r| &r.0)
            .into_iter()
            .map(|(s, list)| (s, list.into_iter().map(|(_, p, g, t)| (p, g, t)).collect()))
            .collect())
    }

    /// Final requests that still hold an address or details and became final at or before
    /// `cutoff`, after request id `after`: `(id, subject_ref, final_at)`.
    pub async fn request_fields_due(
        &self,
        cutoff: i64,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, i64)>> {
        const Q: &str = "SELECT id, subject_ref, COALESCE(completed_at, updated_at) FROM requests WHERE id > ? AND status IN ('completed', 'denied', 'forwarded', 'abandoned') AND (email_sealed <> '' OR details_sealed IS NOT NULL) AND COALESCE(completed_at, updated_at) <= ? ORDER BY id LIMIT ?";
        Ok(match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_as(Q)
                    .bind(after)
                    .bind(cutoff)
                    .bind(limit)
                    .fetch_all(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_as(&pg(Q))
                    .bind(after)
                    .bind(cutoff)
                    .bind(limit)
                    .fetch_all(p)
                    .await?
            }
        })
    }

    /// Applies a page of purges in one transaction, each recorded with its rule. Answers the
    /// number of records removed or blanked.
    pub async fn apply_purges(&self, purges: &[Purge], now: i64) -> Result<u64> {
        macro_rules! run {
            ($p:expr, $sql:expr) => {{
                let mut tx = $p.begin().await?;
                let mut total = 0u64;
                for purge in purges {
                    let mut n = 0u64;
                    match &purge.action {
                        PurgeAction::ConsentState { purposes } => {
                            for purpose in purposes {
                                n += sqlx::query(&$sql(
                                    "DELETE FROM consent_state WHERE subject_ref = ? AND purpose = ?",
                                ))
                                .bind(&purge.subject_ref)
                                .bind(purpose)
                                .execute(&mut *tx)
                                .await?
                                .rows_affected();
                            }
                        }
                        PurgeAction::RequestFields { request_ids } => {
                            for id in request_ids {
                                n += sqlx::query(&$sql(
                                    "UPDATE requests SET email_sealed = '', details_sealed = NULL WHERE id = ?",
                                ))
                                .bind(id)
                                .execute(&mut *tx)
                                .await?
                                .rows_affected();
                                sqlx::query(&$sql(
                                    "UPDATE request_history SET detail_sealed = NULL WHERE request_id = ?",
                                ))
                                .bind(id)
                                .execute(&mut *tx)
                                .await?;
                                n += sqlx::query(&$sql(
                                    "UPDATE outbox SET to_sealed = NULL, params_sealed = NULL WHERE request_id = ? AND status IN ('sent', 'failed') AND to_sealed IS NOT NULL",
                                ))
                                .bind(id)
                                .execute(&mut *tx)
                                .await?
                                .rows_affected();
                            }
                        }
                        PurgeAction::Lifecycle => {
                            n += sqlx::query(&$sql(
                                "DELETE FROM lifecycle_events WHERE subject_ref = ?",
                            ))
                            .bind(&purge.subject_ref)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        }
                        PurgeAction::RecordOnly => {}
                        PurgeAction::HeldRows { ids } => {
                            for id in ids {
                                sqlx::query(&$sql(
                                    "UPDATE held_rows SET done_at = ?, sealed_keys = NULL WHERE id = ? AND done_at IS NULL",
                                ))
                                .bind(now)
                                .bind(id)
                                .execute(&mut *tx)
                                .await?;
                            }
                        }
                    }
                    // A purge of the same subject, rule and due date is recorded once, however many
                    // daily runs see it (data due in the company's datastores stays due until
                    // they are purged).
                    sqlx::query(&$sql("INSERT INTO retention_purges (subject_ref, rule, data, due_since, purged_at, records) SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM retention_purges WHERE subject_ref = ? AND rule = ? AND due_since = ?)"))
                        .bind(&purge.subject_ref)
                        .bind(&purge.rule)
                        .bind(&purge.data)
                        .bind(purge.due_since)
                        .bind(now)
                        .bind(n as i64)
                        .bind(&purge.subject_ref)
                        .bind(&purge.rule)
                        .bind(purge.due_since)
                        .execute(&mut *tx)
                        .await?;
                    total += n;
                }
                tx.commit().await?;
                total
            }};
        }
        let same = |s: &str| s.to_owned();
        Ok(match &self.pool {
            Pool::Sqlite(p) => run!(p, same),
            Pool::Postgres(p) => run!(p, pg),
        })
    }

    /// Whether the purge of this subject, rule and due date is already recorded (done).
    pub async fn purge_recorded(
        &self,
        subject_ref: &str,
        rule: &str,
        due_since: i64,
    ) -> Result<bool> {
        const Q: &str =
            "SELECT COUNT(*) FROM retention_purges WHERE subject_ref = ? AND rule = ? AND due_since = ?";
        let n: i64 = match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_scalar(Q)
                    .bind(subject_ref)
                    .bind(rule)
                    .bind(due_since)
                    .fetch_one(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar(&pg(Q))
                    .bind(subject_ref)
                    .bind(rule)
                    .bind(due_since)
                    .fetch_one(p)
                    .await?
            }
        };
        Ok(n > 0)
    }

    /// Recorded purges, newest first; of one subject when given.
    pub async fn purges(&self, subject_ref: Option<&str>, limit: i64) -> Result<Vec<PurgeRecord>> {
        let sql = format!(
            "SELECT subject_ref, rule, data, due_since, purged_at, records FROM retention_purges {} ORDER BY id DESC LIMIT ?",
            if subject_ref.is_some() { "WHERE subject_ref = ?" } else { "" }
        );
        type R = (String, String, String, i64, i64, i64);
        macro_rules! run {
            ($p:expr, $sql:expr) => {{
                let mut q = sqlx::query_as::<_, R>($sql);
                if let Some(s) = subject_ref {
                    q = q.bind(s);
                }
                q.bind(limit).fetch_all($p).await?
            }};
        }
        let pg_sql = pg(&sql);
        let rows = match &self.pool {
            Pool::Sqlite(p) => run!(p, &sql),
            Pool::Postgres(p) => run!(p, &pg_sql),
        };
        Ok(rows
            .into_iter()
            .map(
                |(subject_ref, rule, data, due_since, purged_at, records)| PurgeRecord {
                    subject_ref,
                    rule,
                    data,
                    due_since,
                    purged_at,
                    records,
                },
            )
            .collect())
    }

    pub async fn insert_hold(&self, h: &HoldRow) -> Result<()> {
        let sql = format!(
            "INSERT INTO legal_holds ({HOLD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        on_backend!(
            self,
            &sql,
            |q| q
                .bind(&h.id)
                .bind(&h.matter)
                .bind(&h.subject_ref)
                .bind(&h.category)
                .bind(&h.reason)
                .bind(&h.placed_by)
                .bind(h.placed_at)
                .bind(h.lifted_at)
                .bind(&h.lifted_by)
                .bind(&h.lift_reason),
            execute
        );
        Ok(())
    }

    /// Holds, oldest first: only those standing unless `include_lifted`.
    pub async fn holds(&self, include_lifted: bool) -> Result<Vec<HoldRow>> {
        let sql = format!(
            "SELECT {HOLD_COLUMNS} FROM legal_holds {} ORDER BY placed_at, id",
            if include_lifted {
                ""
            } else {
                "WHERE lifted_at IS NULL"
            }
        );
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query(&sql)
                .fetch_all(p)
                .await?
                .iter()
                .map(hold)
                .collect(),
            Pool::Postgres(p) => sqlx::query(&sql)
                .fetch_all(p)
                .await?
                .iter()
                .map(hold)
                .collect(),
        })
    }

    /// Lifts a standing hold. Answers `false` when there is no such standing hold.
    pub async fn lift_hold(
        &self,
        id: &str,
        by: &str,
        reason: Option<&str>,
        at: i64,
    ) -> Result<bool> {
        const Q: &str = "UPDATE legal_holds SET lifted_at = ?, lifted_by = ?, lift_reason = ? WHERE id = ? AND lifted_at IS NULL";
        let r = on_backend!(
            self,
            Q,
            |q| q.bind(at).bind(by).bind(reason).bind(id),
            execute
        );
        Ok(r == 1)
    }

    /// Records a subject under the minimum age; answers `false` if it already was.
    pub async fn insert_minor(&self, m: &MinorRow) -> Result<bool> {
        const Q: &str = "INSERT INTO minors (subject_ref, declared_at, country, request_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING";
        let r = on_backend!(
            self,
            Q,
            |q| q
                .bind(&m.subject_ref)
                .bind(m.declared_at)
                .bind(&m.country)
                .bind(&m.request_id),
            execute
        );
        Ok(r == 1)
    }

    pub async fn set_minor_request(&self, subject_ref: &str, request_id: &str) -> Result<()> {
        const Q: &str = "UPDATE minors SET request_id = ? WHERE subject_ref = ?";
        on_backend!(self, Q, |q| q.bind(request_id).bind(subject_ref), execute);
        Ok(())
    }

    pub async fn minors(&self) -> Result<Vec<MinorRow>> {
        const Q: &str =
            "SELECT subject_ref, declared_at, country, request_id FROM minors ORDER BY subject_ref";
        let rows: Vec<(String, i64, Option<String>, Option<String>)> = match &self.pool {
            Pool::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await?,
            Pool::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await?,
        };
        Ok(rows
            .into_iter()
            .map(|(subject_ref, declared_at, country, request_id)| MinorRow {
                subject_ref,
                declared_at,
                country,
                request_id,
            })
            .collect())
    }
}

impl Store {
    /// How many subjects the retention job walks (for its progress bar): lifecycle subjects,
    /// consent subjects and requests still holding fields.
    pub async fn retention_work(&self) -> Result<i64> {
        const Q: &str = "SELECT (SELECT COUNT(DISTINCT subject_ref) FROM lifecycle_events) + (SELECT COUNT(DISTINCT subject_ref) FROM consent_state) + (SELECT COUNT(*) FROM requests WHERE email_sealed <> '' OR details_sealed IS NOT NULL)";
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query_scalar(Q).fetch_one(p).await?,
            Pool::Postgres(p) => sqlx::query_scalar(Q).fetch_one(p).await?,
        })
    }
}
