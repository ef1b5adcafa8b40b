//! Retention's tables: lifecycle events, legal holds, the record of every purge, and subjects
//! under the minimum age.
//!
//! The retention job walks subjects in pages ordered by reference ([`Store::lifecycle_page`],
//! [`Store::consent_page`]) and purges each page in one short transaction
//! ([`Store::apply_purges`]), so a run over millions of rows never holds a lock for long and
//! memory stays bounded by the page size.

use crate::{Result, Store, Tx};

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

const HOLD_COLUMNS: &str = "id, matter, subject_ref, category, reason, placed_by, placed_at, lifted_at, lifted_by, lift_reason";

type HoldTuple = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
);

fn hold(r: HoldTuple) -> HoldRow {
    HoldRow {
        id: r.0,
        matter: r.1,
        subject_ref: r.2,
        category: r.3,
        reason: r.4,
        placed_by: r.5,
        placed_at: r.6,
        lifted_at: r.7,
        lifted_by: r.8,
        lift_reason: r.9,
    }
}

const LIFECYCLE_COLUMNS: &str = "subject_ref, kind, at, under_minimum_age, country, recorded_at";

type LifecycleTuple = (String, String, i64, Option<bool>, Option<String>, i64);

fn lifecycle(r: LifecycleTuple) -> LifecycleRow {
    LifecycleRow {
        subject_ref: r.0,
        kind: r.1,
        at: r.2,
        under_minimum_age: r.3,
        country: r.4,
        recorded_at: r.5,
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

impl Store {
    /// Records a lifecycle event; an account opened or closed is noted for the other nodes
    /// (`standing_changes`) in the same transaction.
    pub async fn insert_lifecycle_event(&self, e: &LifecycleRow) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.execute(
            "INSERT INTO lifecycle_events (subject_ref, kind, at, under_minimum_age, country, recorded_at) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                (&e.subject_ref).into(),
                (&e.kind).into(),
                e.at.into(),
                e.under_minimum_age.into(),
                (&e.country).into(),
                e.recorded_at.into(),
            ],
        )
        .await?;
        if e.kind == "account_opened" || e.kind == "account_closed" {
            crate::standing::note_change(&mut tx, &e.subject_ref, self.now()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A subject's lifecycle events, oldest first.
    pub async fn lifecycle_events(&self, subject_ref: &str) -> Result<Vec<LifecycleRow>> {
        let sql = format!(
            "SELECT {LIFECYCLE_COLUMNS} FROM lifecycle_events WHERE subject_ref = $1 ORDER BY at, id"
        );
        let rows: Vec<LifecycleTuple> = self.fetch_all(&sql, &[subject_ref.into()]).await?;
        Ok(rows.into_iter().map(lifecycle).collect())
    }

    /// The last subject of the next page of at most `limit` subjects after `after` in
    /// `table`, or `None` when no subject is left.
    async fn page_end(&self, table: &str, after: &str, limit: i64) -> Result<Option<String>> {
        // The subquery walks the index on subject_ref; OFFSET finds the page's end cheaply.
        let sql = format!(
            "SELECT subject_ref FROM (SELECT DISTINCT subject_ref FROM {table} WHERE subject_ref > $1 ORDER BY subject_ref LIMIT $2) AS page ORDER BY subject_ref DESC LIMIT 1"
        );
        let end: Option<(String,)> = self
            .fetch_optional(&sql, &[after.into(), limit.into()])
            .await?;
        Ok(end.map(|(s,)| s))
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
        let sql = format!("SELECT {LIFECYCLE_COLUMNS} FROM lifecycle_events WHERE subject_ref > $1 AND subject_ref <= $2 ORDER BY subject_ref, at, id");
        let rows: Vec<LifecycleTuple> =
            self.fetch_all(&sql, &[after.into(), (&end).into()]).await?;
        let rows: Vec<LifecycleRow> = rows.into_iter().map(lifecycle).collect();
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
        self.settle_consent_state().await?;
        let Some(end) = self.page_end("consent_state", after, limit).await? else {
            return Ok(Vec::new());
        };
        let rows: Vec<(String, String, bool, i64)> = self
            .fetch_all(
                "SELECT subject_ref, purpose, given, updated_at FROM consent_state WHERE subject_ref > $1 AND subject_ref <= $2 ORDER BY subject_ref, purpose",
                &[after.into(), (&end).into()],
            )
            .await?;
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
        self.fetch_all(
            "SELECT id, subject_ref, COALESCE(completed_at, updated_at) FROM requests WHERE id > $1 AND status IN ('completed', 'denied', 'forwarded', 'abandoned') AND (email_sealed <> '' OR details_sealed IS NOT NULL) AND COALESCE(completed_at, updated_at) <= $2 ORDER BY id LIMIT $3",
            &[after.into(), cutoff.into(), limit.into()],
        )
        .await
    }

    /// Applies a page of purges in one transaction, each recorded with its rule. Answers the
    /// number of records removed or blanked.
    pub async fn apply_purges(&self, purges: &[Purge], now: i64) -> Result<u64> {
        // Immediate: a purge of consent folds the ledger's tail before it deletes.
        let mut tx = self.begin_immediate().await?;
        let mut total = 0u64;
        for purge in purges {
            let n = apply_purge(&mut tx, purge, now).await?;
            // A purge of the same subject, rule and due date is recorded once, however many
            // daily runs see it (data due in the company's datastores stays due until they
            // are purged).
            tx.execute(
                "INSERT INTO retention_purges (subject_ref, rule, data, due_since, purged_at, records) SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM retention_purges WHERE subject_ref = $1 AND rule = $2 AND due_since = $4)",
                &[
                    (&purge.subject_ref).into(),
                    (&purge.rule).into(),
                    (&purge.data).into(),
                    purge.due_since.into(),
                    now.into(),
                    (n as i64).into(),
                ],
            )
            .await?;
            total += n;
        }
        tx.commit().await?;
        Ok(total)
    }

    /// Whether the purge of this subject, rule and due date is already recorded (done).
    pub async fn purge_recorded(
        &self,
        subject_ref: &str,
        rule: &str,
        due_since: i64,
    ) -> Result<bool> {
        let (n,): (i64,) = self
            .fetch_one(
                "SELECT COUNT(*) FROM retention_purges WHERE subject_ref = $1 AND rule = $2 AND due_since = $3",
                &[subject_ref.into(), rule.into(), due_since.into()],
            )
            .await?;
        Ok(n > 0)
    }

    /// Recorded purges, newest first; of one subject when given.
    pub async fn purges(&self, subject_ref: Option<&str>, limit: i64) -> Result<Vec<PurgeRecord>> {
        const Q: &str = "SELECT subject_ref, rule, data, due_since, purged_at, records FROM retention_purges WHERE ($1 IS NULL OR subject_ref = $1) ORDER BY id DESC LIMIT $2";
        let rows: Vec<(String, String, String, i64, i64, i64)> = self
            .fetch_all(Q, &[subject_ref.into(), limit.into()])
            .await?;
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
            "INSERT INTO legal_holds ({HOLD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        self.execute(
            &sql,
            &[
                (&h.id).into(),
                (&h.matter).into(),
                (&h.subject_ref).into(),
                (&h.category).into(),
                (&h.reason).into(),
                (&h.placed_by).into(),
                h.placed_at.into(),
                h.lifted_at.into(),
                (&h.lifted_by).into(),
                (&h.lift_reason).into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Holds, oldest first: only those standing unless `include_lifted`.
    pub async fn holds(&self, include_lifted: bool) -> Result<Vec<HoldRow>> {
        let sql = format!(
            "SELECT {HOLD_COLUMNS} FROM legal_holds WHERE $1 OR lifted_at IS NULL ORDER BY placed_at, id"
        );
        let rows: Vec<HoldTuple> = self.fetch_all(&sql, &[include_lifted.into()]).await?;
        Ok(rows.into_iter().map(hold).collect())
    }

    /// Lifts a standing hold. Answers `false` when there is no such standing hold.
    pub async fn lift_hold(
        &self,
        id: &str,
        by: &str,
        reason: Option<&str>,
        at: i64,
    ) -> Result<bool> {
        let n = self
            .execute(
                "UPDATE legal_holds SET lifted_at = $1, lifted_by = $2, lift_reason = $3 WHERE id = $4 AND lifted_at IS NULL",
                &[at.into(), by.into(), reason.into(), id.into()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Records a subject under the minimum age; answers `false` if it already was.
    /// Records a subject under the minimum age (once; `false` when already recorded), noted
    /// for the other nodes in the same transaction.
    pub async fn insert_minor(&self, m: &MinorRow) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = tx
            .execute(
                "INSERT INTO minors (subject_ref, declared_at, country, request_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[
                    (&m.subject_ref).into(),
                    m.declared_at.into(),
                    (&m.country).into(),
                    (&m.request_id).into(),
                ],
            )
            .await?;
        if n == 1 {
            crate::standing::note_change(&mut tx, &m.subject_ref, self.now()).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn set_minor_request(&self, subject_ref: &str, request_id: &str) -> Result<()> {
        self.execute(
            "UPDATE minors SET request_id = $1 WHERE subject_ref = $2",
            &[request_id.into(), subject_ref.into()],
        )
        .await?;
        Ok(())
    }

    pub async fn minors(&self) -> Result<Vec<MinorRow>> {
        let rows: Vec<(String, i64, Option<String>, Option<String>)> = self
            .fetch_all(
                "SELECT subject_ref, declared_at, country, request_id FROM minors ORDER BY subject_ref",
                &[],
            )
            .await?;
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

    /// How many subjects the retention job walks (for its progress bar): lifecycle subjects,
    /// consent subjects and requests still holding fields.
    pub async fn retention_work(&self) -> Result<i64> {
        self.settle_consent_state().await?;
        let (n,): (i64,) = self
            .fetch_one(
                "SELECT (SELECT COUNT(DISTINCT subject_ref) FROM lifecycle_events) + (SELECT COUNT(DISTINCT subject_ref) FROM consent_state) + (SELECT COUNT(*) FROM requests WHERE email_sealed <> '' OR details_sealed IS NOT NULL)",
                &[],
            )
            .await?;
        Ok(n)
    }
}

/// Removes or blanks what one purge covers, inside the caller's transaction; answers how
/// many records.
async fn apply_purge(tx: &mut Tx, purge: &Purge, now: i64) -> Result<u64> {
    let mut n = 0u64;
    match &purge.action {
        PurgeAction::ConsentState { purposes } => {
            // The tail first: a choice past the mark, folded after the delete, would undo it.
            crate::consent::fold::fold_in(tx).await?;
            for purpose in purposes {
                n += tx
                    .execute(
                        "DELETE FROM consent_state WHERE subject_ref = $1 AND purpose = $2",
                        &[(&purge.subject_ref).into(), purpose.into()],
                    )
                    .await?;
            }
            // So memory (every node's, and images of it) lets the purged choices go.
            tx.execute(
                crate::consent::read::FORGOTTEN,
                &[(&purge.subject_ref).into(), now.into()],
            )
            .await?;
            tx.announce(crate::changes::Topic::Consent).await?;
        }
        PurgeAction::RequestFields { request_ids } => {
            for id in request_ids {
                n += tx
                    .execute(
                        "UPDATE requests SET email_sealed = '', details_sealed = NULL WHERE id = $1",
                        &[id.into()],
                    )
                    .await?;
                tx.execute(
                    "UPDATE request_history SET detail_sealed = NULL WHERE request_id = $1",
                    &[id.into()],
                )
                .await?;
                n += tx
                    .execute(
                        "UPDATE outbox SET to_sealed = NULL, params_sealed = NULL WHERE request_id = $1 AND status IN ('sent', 'failed') AND to_sealed IS NOT NULL",
                        &[id.into()],
                    )
                    .await?;
            }
        }
        PurgeAction::Lifecycle => {
            n += tx
                .execute(
                    "DELETE FROM lifecycle_events WHERE subject_ref = $1",
                    &[(&purge.subject_ref).into()],
                )
                .await?;
        }
        PurgeAction::RecordOnly => {}
        PurgeAction::HeldRows { ids } => {
            for id in ids {
                tx.execute(
                    "UPDATE held_rows SET done_at = $1, sealed_keys = NULL WHERE id = $2 AND done_at IS NULL",
                    &[now.into(), id.into()],
                )
                .await?;
            }
        }
    }
    Ok(n)
}
