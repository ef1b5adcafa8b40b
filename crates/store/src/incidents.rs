//! Personal-data breaches: one row per incident, changed only by the DPO's steps
//! (`custodian_app::incidents`), each change refused when someone else changed the incident
//! first. How many people were told is a count; who they were is nowhere here.

use custodian_core::incident::{Risk, Status};

use crate::{Arg, Result, Store, StoreError};

/// One incident as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    pub id: String,
    pub title: String,
    pub description: String,
    /// The policy's category ids.
    pub categories: Vec<String>,
    /// The policy's kinds of data subject (customers, employees …).
    pub subject_kinds: Vec<String>,
    pub subjects_estimate: i64,
    pub records_estimate: Option<i64>,
    pub risk: Risk,
    pub status: Status,
    pub became_aware_at: i64,
    pub authority_due: i64,
    /// The token id that reported it.
    pub reported_by: String,
    pub created_at: i64,
    pub consequences: Option<String>,
    pub measures: Option<String>,
    pub assessed_at: Option<i64>,
    /// The supervisory authority told, and its reference for the case.
    pub authority: Option<String>,
    pub authority_reference: Option<String>,
    pub authority_notified_at: Option<i64>,
    /// Why the authority was told after 72 hours (Art. 33(1)).
    pub late_reason: Option<String>,
    pub subjects_notified: i64,
    /// People named for notification whom no address reached (no e-mail on record).
    pub subjects_unreachable: i64,
    pub subjects_notified_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub closing_note: Option<String>,
    /// The row's version: every change moves it.
    pub updated_at: i64,
}

const COLUMNS: &str = "id, title, description, categories, subject_kinds, subjects_estimate, records_estimate, risk, status, became_aware_at, authority_due, reported_by, created_at, consequences, measures, assessed_at, authority, authority_reference, authority_notified_at, late_reason, subjects_notified, subjects_unreachable, subjects_notified_at, closed_at, closing_note, updated_at";

/// The row as read, before its enums and categories are checked.
struct Raw(IncidentRow, String, String, String, String);

// By hand rather than derived: sqlx's derive macros stay out of the build, and tuples stop at
// sixteen columns (see `requests/mod.rs`).
impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for Raw
where
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(r: &'r R) -> std::result::Result<Self, sqlx::Error> {
        let row = IncidentRow {
            id: r.try_get(0)?,
            title: r.try_get(1)?,
            description: r.try_get(2)?,
            categories: Vec::new(),
            subject_kinds: Vec::new(),
            subjects_estimate: r.try_get(5)?,
            records_estimate: r.try_get(6)?,
            risk: Risk::Unlikely,
            status: Status::Open,
            became_aware_at: r.try_get(9)?,
            authority_due: r.try_get(10)?,
            reported_by: r.try_get(11)?,
            created_at: r.try_get(12)?,
            consequences: r.try_get(13)?,
            measures: r.try_get(14)?,
            assessed_at: r.try_get(15)?,
            authority: r.try_get(16)?,
            authority_reference: r.try_get(17)?,
            authority_notified_at: r.try_get(18)?,
            late_reason: r.try_get(19)?,
            subjects_notified: r.try_get(20)?,
            subjects_unreachable: r.try_get(21)?,
            subjects_notified_at: r.try_get(22)?,
            closed_at: r.try_get(23)?,
            closing_note: r.try_get(24)?,
            updated_at: r.try_get(25)?,
        };
        Ok(Raw(
            row,
            r.try_get(3)?,
            r.try_get(4)?,
            r.try_get(7)?,
            r.try_get(8)?,
        ))
    }
}

fn checked(Raw(mut row, categories, kinds, risk, status): Raw) -> Result<IncidentRow> {
    let corrupt =
        |what: &str, v: &str| StoreError::Corrupt(format!("incident {} has {what} `{v}`", row.id));
    row.risk = Risk::parse(&risk).ok_or_else(|| corrupt("risk", &risk))?;
    row.status = Status::parse(&status).ok_or_else(|| corrupt("status", &status))?;
    row.categories =
        serde_json::from_str(&categories).map_err(|_| corrupt("categories", &categories))?;
    row.subject_kinds =
        serde_json::from_str(&kinds).map_err(|_| corrupt("subject kinds", &kinds))?;
    Ok(row)
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

impl Store {
    pub async fn insert_incident(&self, row: &IncidentRow) -> Result<()> {
        let (categories, kinds) = (json(&row.categories), json(&row.subject_kinds));
        self.execute(
            &format!("INSERT INTO incidents ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)"),
            &[
                (&row.id).into(), (&row.title).into(), (&row.description).into(), (&categories).into(), (&kinds).into(),
                row.subjects_estimate.into(), row.records_estimate.into(), row.risk.as_str().into(),
                row.status.as_str().into(), row.became_aware_at.into(), row.authority_due.into(),
                (&row.reported_by).into(), row.created_at.into(), (&row.consequences).into(),
                (&row.measures).into(), row.assessed_at.into(), (&row.authority).into(),
                (&row.authority_reference).into(), row.authority_notified_at.into(),
                (&row.late_reason).into(), row.subjects_notified.into(), row.subjects_unreachable.into(),
                row.subjects_notified_at.into(), row.closed_at.into(), (&row.closing_note).into(),
                row.updated_at.into(),
            ],
        )
        .await?;
        Ok(())
    }

    pub async fn incident(&self, id: &str) -> Result<Option<IncidentRow>> {
        self.fetch_optional::<Raw>(
            &format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"),
            &[id.into()],
        )
        .await?
        .map(checked)
        .transpose()
    }

    /// Every incident (only those not closed with `open_only`), the earliest due first.
    pub async fn incidents(&self, open_only: bool) -> Result<Vec<IncidentRow>> {
        let filter = if open_only {
            "WHERE status <> 'closed' "
        } else {
            ""
        };
        self.fetch_all::<Raw>(
            &format!("SELECT {COLUMNS} FROM incidents {filter}ORDER BY authority_due, id"),
            &[],
        )
        .await?
        .into_iter()
        .map(checked)
        .collect()
    }

    /// Writes `new` over the incident as last `seen`; answers `false` (writing nothing) when
    /// someone else changed it first.
    pub async fn update_incident(&self, seen: &IncidentRow, new: &IncidentRow) -> Result<bool> {
        let (categories, kinds) = (json(&new.categories), json(&new.subject_kinds));
        let n = self
            .execute(
                "UPDATE incidents SET title = $1, description = $2, categories = $3, subjects_estimate = $4, records_estimate = $5, risk = $6, status = $7, consequences = $8, measures = $9, assessed_at = $10, authority = $11, authority_reference = $12, authority_notified_at = $13, late_reason = $14, closed_at = $15, closing_note = $16, updated_at = $17, subject_kinds = $20 WHERE id = $18 AND updated_at = $19",
                &[
                    (&new.title).into(), (&new.description).into(), (&categories).into(),
                    new.subjects_estimate.into(), new.records_estimate.into(), new.risk.as_str().into(),
                    new.status.as_str().into(), (&new.consequences).into(), (&new.measures).into(),
                    new.assessed_at.into(), (&new.authority).into(), (&new.authority_reference).into(),
                    new.authority_notified_at.into(), (&new.late_reason).into(), new.closed_at.into(),
                    (&new.closing_note).into(), new.updated_at.into(), (&seen.id).into(), seen.updated_at.into(),
                    (&kinds).into(),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Adds to the counts of people told (and of people no address reached), stamped `at`.
    pub async fn count_incident_notices(
        &self,
        id: &str,
        notified: i64,
        unreachable: i64,
        at: i64,
    ) -> Result<()> {
        self.execute(
            "UPDATE incidents SET subjects_notified = subjects_notified + $1, subjects_unreachable = subjects_unreachable + $2, subjects_notified_at = $3, updated_at = CASE WHEN updated_at >= $3 THEN updated_at + 1 ELSE $3 END WHERE id = $4",
            &[notified.into(), unreachable.into(), at.into(), Arg::Text(id)],
        )
        .await?;
        Ok(())
    }

    /// The incidents overdue at `now`: past their due time, neither notified nor closed (custodian-core's `incident::overdue`).
    pub async fn overdue_incidents(&self, now: i64) -> Result<Vec<IncidentRow>> {
        self.fetch_all::<Raw>(
            &format!("SELECT {COLUMNS} FROM incidents WHERE status IN ('open', 'assessed') AND authority_due < $1 ORDER BY authority_due, id"),
            &[now.into()],
        )
        .await?
        .into_iter()
        .map(checked)
        .collect()
    }
}
