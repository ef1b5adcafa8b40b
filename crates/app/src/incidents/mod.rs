//! Personal-data breaches, for the DPO (GDPR Art. 33 and 34): report one the moment the
//! company becomes aware of it (the 72 hours start then), assess it, record that the
//! supervisory authority was told (with the reasons for any delay past 72 hours), tell the
//! people it concerns (`notify.rs`), close it, and print the authority's report (`report.rs`).
//! The rules — risks, states, the clock — are `custodian_core::incident`; every step is
//! recorded in the audit trail, and an incident overdue shows in the list, in `/metrics`
//! (`custodian_incidents_overdue`) and in the DPO's daily digest.

mod notify;
pub mod report;

use custodian_core::incident::{self, Risk, Status, Step, StepError};
use custodian_store::incidents::IncidentRow;

pub use notify::{notify_subjects, Audience, Notified, Texts};

use crate::audit::{self, Action};
use crate::context::Context;
use crate::error::AppError;

/// A breach as the DPO reports it, not yet checked.
#[derive(Debug, Clone, Default)]
pub struct NewIncident {
    pub title: String,
    /// Microseconds since the Unix epoch.
    pub became_aware_at: i64,
    pub description: String,
    pub categories: Vec<String>,
    pub subject_kinds: Vec<String>,
    pub subjects_estimate: i64,
    pub records_estimate: Option<i64>,
    pub risk: String,
}

/// An assessment: what is given replaces what was on record.
#[derive(Debug, Clone, Default)]
pub struct Assessment {
    pub risk: Option<String>,
    pub consequences: Option<String>,
    pub measures: Option<String>,
    pub description: Option<String>,
    pub categories: Option<Vec<String>>,
    pub subject_kinds: Option<Vec<String>>,
    pub subjects_estimate: Option<i64>,
    pub records_estimate: Option<i64>,
}

/// The authority was told.
#[derive(Debug, Clone, Default)]
pub struct AuthorityNotice {
    /// When (default: now).
    pub notified_at: Option<i64>,
    pub authority: Option<String>,
    pub reference: Option<String>,
    /// Required when told after `authority_due` (Art. 33(1)).
    pub late_reason: Option<String>,
}

fn invalid(detail: impl Into<String>) -> AppError {
    AppError::invalid("invalid_incident", detail)
}

fn text(v: &str, name: &str, max: usize) -> Result<String, AppError> {
    let t = v.trim();
    if t.is_empty() {
        return Err(invalid(format!("`{name}` is required")));
    }
    if t.chars().count() > max {
        return Err(invalid(format!("`{name}` is longer than {max} characters")));
    }
    Ok(t.to_owned())
}

fn optional(v: Option<&str>, name: &str, max: usize) -> Result<Option<String>, AppError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => text(s, name, max).map(Some),
        None => Ok(None),
    }
}

fn risk(v: &str) -> Result<Risk, AppError> {
    Risk::parse(v.trim()).ok_or_else(|| {
        AppError::invalid(
            "unknown_risk",
            "`risk` is `unlikely`, `risk` or `high_risk`",
        )
    })
}

/// The policy's ids `given` must all be among (`categories`, `subject_kinds`).
fn known(given: &[String], ids: Vec<&str>, name: &'static str) -> Result<Vec<String>, AppError> {
    let mut out = Vec::new();
    for g in given.iter().map(|g| g.trim()) {
        if !ids.contains(&g) {
            let code = if name == "categories" {
                "unknown_category"
            } else {
                "unknown_subject_kind"
            };
            return Err(AppError::Invalid {
                code,
                detail: format!(
                    "`{g}` is not among the policy's {name}; known: {}",
                    ids.join(", ")
                ),
                extra: Some(serde_json::json!({ "known": ids })),
            });
        }
        if !out.iter().any(|o: &String| o == g) {
            out.push(g.to_owned());
        }
    }
    Ok(out)
}

fn count(v: i64, name: &str) -> Result<i64, AppError> {
    if v < 0 {
        return Err(invalid(format!("`{name}` cannot be negative")));
    }
    Ok(v)
}

fn step_error(e: StepError) -> AppError {
    let code = match e {
        StepError::Closed => "incident_closed",
        StepError::AlreadyNotified => "already_notified",
        StepError::NotNotified(_) => "authority_not_notified",
    };
    AppError::conflict(code, e.to_string())
}

/// Records a breach; the authority is due 72 hours after `became_aware_at`.
pub async fn report(ctx: &Context, new: NewIncident, actor: &str) -> Result<IncidentRow, AppError> {
    let now = ctx.clock.now_micros();
    if new.became_aware_at > now {
        return Err(invalid("`became_aware_at` is in the future"));
    }
    let categories = known(
        &new.categories,
        ctx.policy
            .categories
            .iter()
            .map(|c| c.id.as_str())
            .collect(),
        "categories",
    )?;
    if categories.is_empty() {
        return Err(invalid(
            "`categories` names at least one of the policy's data categories (GDPR Art. 33(3)(a))",
        ));
    }
    let row = IncidentRow {
        id: ctx.ids.next("inc"),
        title: text(&new.title, "title", 200)?,
        description: text(&new.description, "description", 10_000)?,
        categories,
        subject_kinds: known(
            &new.subject_kinds,
            ctx.policy.subjects.iter().map(|s| s.id.as_str()).collect(),
            "subjects",
        )?,
        subjects_estimate: count(new.subjects_estimate, "subjects_estimate")?,
        records_estimate: new
            .records_estimate
            .map(|r| count(r, "records_estimate"))
            .transpose()?,
        risk: risk(&new.risk)?,
        status: Status::Open,
        became_aware_at: new.became_aware_at,
        authority_due: incident::authority_due(new.became_aware_at),
        reported_by: actor.to_owned(),
        created_at: now,
        consequences: None,
        measures: None,
        assessed_at: None,
        authority: None,
        authority_reference: None,
        authority_notified_at: None,
        late_reason: None,
        subjects_notified: 0,
        subjects_unreachable: 0,
        subjects_notified_at: None,
        closed_at: None,
        closing_note: None,
        updated_at: now,
    };
    ctx.store.insert_incident(&row).await?;
    audit::record_with(
        &ctx.store,
        actor,
        Action::IncidentReported,
        &row.id,
        row.risk.as_str(),
    )
    .await?;
    refresh_overdue(ctx).await;
    Ok(row)
}

pub async fn get(ctx: &Context, id: &str) -> Result<IncidentRow, AppError> {
    ctx.store.incident(id).await?.ok_or(AppError::NotFound)
}

/// Every incident, or only those not closed; the earliest due first.
pub async fn list(ctx: &Context, open_only: bool) -> Result<Vec<IncidentRow>, AppError> {
    Ok(ctx.store.incidents(open_only).await?)
}

/// Whether the incident is overdue now (`custodian_core::incident::overdue`).
pub fn overdue(ctx: &Context, row: &IncidentRow) -> bool {
    incident::overdue(row.status, row.authority_due, ctx.clock.now_micros())
}

/// Writes a step's change unless someone changed the incident first, then records it.
async fn commit(
    ctx: &Context,
    seen: &IncidentRow,
    mut new: IncidentRow,
    actor: &str,
    action: Action,
    detail: Option<&str>,
) -> Result<IncidentRow, AppError> {
    new.updated_at = ctx.clock.now_micros().max(seen.updated_at + 1);
    if !ctx.store.update_incident(seen, &new).await? {
        return Err(AppError::conflict(
            "changed_meanwhile",
            "the incident was changed meanwhile; reload it and try again",
        ));
    }
    match detail {
        Some(d) => audit::record_with(&ctx.store, actor, action, &new.id, d).await?,
        None => audit::record(&ctx.store, actor, action, &new.id).await?,
    };
    refresh_overdue(ctx).await;
    Ok(new)
}

/// Records (or revises) the assessment: the risk, the likely consequences and the measures
/// taken or proposed (Art. 33(3)(c), (d)), and better estimates.
pub async fn assess(
    ctx: &Context,
    id: &str,
    a: Assessment,
    actor: &str,
) -> Result<IncidentRow, AppError> {
    let seen = get(ctx, id).await?;
    let mut new = seen.clone();
    if let Some(r) = &a.risk {
        new.risk = risk(r)?;
    }
    new.status = incident::next(seen.status, Step::Assess, new.risk).map_err(step_error)?;
    if let Some(c) = optional(a.consequences.as_deref(), "consequences", 10_000)? {
        new.consequences = Some(c);
    }
    if let Some(m) = optional(a.measures.as_deref(), "measures", 10_000)? {
        new.measures = Some(m);
    }
    if let Some(d) = optional(a.description.as_deref(), "description", 10_000)? {
        new.description = d;
    }
    if let Some(c) = &a.categories {
        new.categories = known(
            c,
            ctx.policy
                .categories
                .iter()
                .map(|c| c.id.as_str())
                .collect(),
            "categories",
        )?;
        if new.categories.is_empty() {
            return Err(invalid("`categories` cannot be emptied"));
        }
    }
    if let Some(k) = &a.subject_kinds {
        new.subject_kinds = known(
            k,
            ctx.policy.subjects.iter().map(|s| s.id.as_str()).collect(),
            "subjects",
        )?;
    }
    if let Some(n) = a.subjects_estimate {
        new.subjects_estimate = count(n, "subjects_estimate")?;
    }
    if let Some(n) = a.records_estimate {
        new.records_estimate = Some(count(n, "records_estimate")?);
    }
    if new.consequences.is_none() || new.measures.is_none() {
        return Err(invalid(
            "an assessment needs `consequences` and `measures` (GDPR Art. 33(3)(c) and (d))",
        ));
    }
    new.assessed_at = Some(ctx.clock.now_micros());
    let risk = new.risk.as_str();
    commit(ctx, &seen, new, actor, Action::IncidentAssessed, Some(risk)).await
}

/// Records that the supervisory authority was told (Art. 33(1)); after the 72 hours only
/// with the reasons for the delay.
pub async fn authority_notified(
    ctx: &Context,
    id: &str,
    n: AuthorityNotice,
    actor: &str,
) -> Result<IncidentRow, AppError> {
    let seen = get(ctx, id).await?;
    let now = ctx.clock.now_micros();
    let mut new = seen.clone();
    new.status =
        incident::next(seen.status, Step::AuthorityNotified, seen.risk).map_err(step_error)?;
    let at = n.notified_at.unwrap_or(now);
    if at > now {
        return Err(invalid("`notified_at` is in the future"));
    }
    if at < seen.became_aware_at {
        return Err(invalid(
            "`notified_at` is before the company became aware of the breach",
        ));
    }
    let late = incident::late(at, seen.authority_due);
    new.late_reason = optional(n.late_reason.as_deref(), "late_reason", 10_000)?;
    if late && new.late_reason.is_none() {
        return Err(AppError::invalid(
            "late_reason_required",
            format!(
                "the authority was told after {}, 72 hours after the company became aware: give `late_reason`, the reasons for the delay (GDPR Art. 33(1))",
                custodian_core::clock::rfc3339(seen.authority_due)
            ),
        ));
    }
    new.authority_notified_at = Some(at);
    new.authority = optional(n.authority.as_deref(), "authority", 200)?;
    new.authority_reference = optional(n.reference.as_deref(), "reference", 200)?;
    let detail = if late { "late" } else { "in_time" };
    commit(
        ctx,
        &seen,
        new,
        actor,
        Action::IncidentAuthorityNotified,
        Some(detail),
    )
    .await
}

/// Closes an incident: one that had to be notified only once the authority was told.
pub async fn close(
    ctx: &Context,
    id: &str,
    note: Option<&str>,
    actor: &str,
) -> Result<IncidentRow, AppError> {
    let seen = get(ctx, id).await?;
    let mut new = seen.clone();
    new.status = incident::next(seen.status, Step::Close, seen.risk).map_err(step_error)?;
    new.closing_note = optional(note, "note", 10_000)?;
    new.closed_at = Some(ctx.clock.now_micros());
    commit(ctx, &seen, new, actor, Action::IncidentClosed, None).await
}

/// Sets the overdue gauge from the store (housekeeping calls it too); a failure is logged,
/// never the caller's problem.
pub async fn refresh_overdue(ctx: &Context) {
    match ctx.store.overdue_incidents(ctx.clock.now_micros()).await {
        Ok(rows) => ctx
            .telemetry
            .set_gauge("custodian_incidents_overdue", &[], rows.len() as f64),
        Err(e) => tracing::warn!(error = %e, "counting overdue incidents failed"),
    }
}
