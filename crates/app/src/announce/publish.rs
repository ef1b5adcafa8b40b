//! Scheduling a policy version (`custodian policy publish`, `POST /v1/admin/policy-versions`)
//! and recording other notices (`POST /v1/admin/notices`).
//!
//! A version follows the newest one scheduled (or, before any, the policy the service runs);
//! `policy diff` classes the changes, and a material one is refused unless it takes effect at
//! least `notices.material_change_days` after now — the longer of what the version in force
//! and the new one promise. A version with no material change may take effect at once. The
//! version and its notice are written in one transaction; the notice's mail is queued by
//! [`super::fanout`] and the version takes effect through [`super::govern`].

use std::collections::BTreeMap;

use custodian_core::clock::rfc3339;
use custodian_policy::diff::{diff, Change};
use custodian_policy::Policy;
use custodian_store::notices::{NoticeRow, ScheduledVersion};
use custodian_store::Store;
use serde::Serialize;
use serde_json::json;

use super::{Kind, DAY};
use crate::acts::{self, Act, Actor};
use crate::context::Shared;
use crate::error::AppError;

/// How long a notice of a change that takes effect at once stays on the sites.
const SHOWN_AFTER_IMMEDIATE: i64 = 14 * DAY;
/// How long a notice with no date stays on the sites.
const SHOWN_WITHOUT_DATE: i64 = 30 * DAY;

/// A scheduled version, as the caller is told.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Scheduled {
    pub version: String,
    /// The version it follows.
    pub follows: String,
    pub effective_at: String,
    pub material: bool,
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<Change>,
    pub notice_id: Option<String>,
}

/// The policy a new version follows: the newest scheduled one, whatever its date, else
/// `running` (the policy in force before anything was published).
pub async fn latest(store: &Store, running: &Policy) -> Result<Policy, AppError> {
    match store.scheduled_versions().await?.pop() {
        Some(v) => custodian_policy::load("scheduled", &v.toml).map_err(|e| {
            AppError::internal(format!(
                "scheduled version {} no longer loads: {e}",
                v.version
            ))
        }),
        None => Ok(running.clone()),
    }
}

/// Validates `text` and schedules it for `effective_at` (clamped to `now` when earlier and
/// the change is not material). The store's clock makes the notice's id.
///
/// Kept whole: the checks in the order their refusals are read (valid, new version, after any
/// pending one, enough notice), then the version and its notice as they are stored together.
pub async fn schedule(
    store: &Store,
    running: &Policy,
    file: &str,
    text: &str,
    effective_at: i64,
    now: i64,
) -> Result<Scheduled, AppError> {
    let new = custodian_policy::load(file, text).map_err(|problems| AppError::Invalid {
        code: "invalid_policy",
        detail: format!("the policy is not valid:\n{problems}"),
        extra: Some(json!({ "problems": problems.0 })),
    })?;
    let old = latest(store, running).await?;
    if new.policy.version == old.policy.version {
        return Err(AppError::conflict(
            "version_unchanged",
            format!(
                "version {} is the one in force or scheduled; give the new text a new `policy.version`",
                new.policy.version
            ),
        ));
    }
    if let Some(pending) = store.upcoming_version(now).await? {
        if effective_at < pending.effective_at {
            return Err(AppError::conflict(
                "before_pending",
                format!(
                    "version {} takes effect {}; a later version cannot take effect before it",
                    pending.version,
                    rfc3339(pending.effective_at)
                ),
            ));
        }
    }
    let changes = diff(&old, &new);
    let material: Vec<&Change> = changes.iter().filter(|c| c.material).collect();
    let days = old
        .notices
        .material_change_days
        .max(new.notices.material_change_days);
    let earliest = now + i64::from(days) * DAY;
    if !material.is_empty() && effective_at < earliest {
        return Err(AppError::Invalid {
            code: "notice_too_short",
            detail: format!(
                "--effective {}: the change is material ({}), so people must have {days} days of notice: it may take effect on {} at the earliest (notices.material_change_days)",
                rfc3339(effective_at),
                material.iter().map(|c| c.path.as_str()).collect::<Vec<_>>().join(", "),
                rfc3339(earliest),
            ),
            extra: Some(json!({
                "earliest_effective": rfc3339(earliest),
                "material_change_days": days,
                "material_changes": material.iter().map(|c| &c.path).collect::<Vec<_>>(),
            })),
        });
    }
    let effective_at = effective_at.max(now);
    let is_material = !material.is_empty();
    let notice = NoticeRow {
        id: store.ids().next("ntc"),
        kind: Kind::PolicyChange.as_str().into(),
        mandatory: is_material,
        title: json!({ "en": "Changes to our privacy policy", "de": "Änderungen unserer Datenschutzerklärung" }).to_string(),
        body: json!({
            "en": format!("We are updating our privacy policy to version {}. Below is what changes and what you can do about it.", new.policy.version),
            "de": format!("Wir aktualisieren unsere Datenschutzerklärung auf Version {}. Unten steht, was sich ändert und was Sie tun können.", new.policy.version),
        })
        .to_string(),
        policy_version: Some(new.policy.version.clone()),
        effective_at: Some(effective_at),
        shown_until: if effective_at > now { effective_at } else { now + SHOWN_AFTER_IMMEDIATE },
        email: true,
        site: true,
        created_at: now,
        fanout_after: None,
        queued: 0,
        fanned_out_at: None,
    };
    let row = ScheduledVersion {
        version: new.policy.version.clone(),
        toml: text.to_owned(),
        effective_at,
        material: is_material,
        changes: serde_json::to_string(&changes).unwrap_or_default(),
        notice_id: Some(notice.id.clone()),
        published_at: now,
    };
    if !store.schedule_policy_version(&row, Some(&notice)).await? {
        return Err(AppError::conflict(
            "version_scheduled",
            format!("version {} is already scheduled", row.version),
        ));
    }
    Ok(Scheduled {
        version: row.version,
        follows: old.policy.version,
        effective_at: rfc3339(effective_at),
        material: is_material,
        changes,
        notice_id: Some(notice.id),
    })
}

/// The acts a scheduled version is recorded as.
pub fn acts_of(s: &Scheduled) -> Vec<Act> {
    let mut acts = vec![Act::PolicyPublished {
        version: s.version.clone(),
        effective_at: s.effective_at.clone(),
        material: s.material,
        notice_id: s.notice_id.clone(),
    }];
    if let Some(id) = &s.notice_id {
        acts.push(Act::NoticeScheduled {
            notice_id: id.clone(),
            kind: Kind::PolicyChange.as_str().into(),
            email: true,
            site: true,
        });
    }
    acts
}

/// Schedules a version through the service: records the acts, shows the notice at once on
/// this node and starts queueing its mail (other nodes follow within [`super::EVERY`]).
pub async fn publish(
    ctx: &Shared,
    actor: &Actor,
    text: &str,
    effective_at: i64,
) -> Result<Scheduled, AppError> {
    let now = ctx.clock.now_micros();
    let s = schedule(
        &ctx.store,
        &ctx.policy,
        "policy.toml",
        text,
        effective_at,
        now,
    )
    .await?;
    for act in acts_of(&s) {
        acts::done(Some(&ctx.store), actor.clone(), act).await;
    }
    after_recording(ctx).await;
    Ok(s)
}

/// A notice that announces no policy version (`POST /v1/admin/notices`).
#[derive(Debug, Clone)]
pub struct NewNotice {
    pub kind: Kind,
    /// Per language tag.
    pub title: BTreeMap<String, String>,
    pub body: BTreeMap<String, String>,
    pub email: bool,
    pub site: bool,
    /// When what it announces happens; the sites show it until then (30 days without one).
    pub effective_at: Option<i64>,
}

/// Records a notice and starts telling people. Optional: people who turned optional notices
/// off are left out (only a material policy change and a breach are mandatory).
pub async fn notice(ctx: &Shared, actor: &Actor, n: NewNotice) -> Result<String, AppError> {
    let langs = &ctx.policy.policy.languages;
    for (name, texts) in [("title", &n.title), ("body", &n.body)] {
        if let Some(first) = langs.first() {
            if texts.get(first).is_none_or(|t| t.trim().is_empty()) {
                return Err(AppError::invalid(
                    "missing_text",
                    format!("`{name}` needs a text in `{first}`, the policy's first language"),
                ));
            }
        }
        if let Some(other) = texts.keys().find(|l| !langs.contains(l)) {
            return Err(AppError::invalid(
                "unknown_language",
                format!(
                    "`{name}.{other}`: the policy's languages are {}",
                    langs.join(", ")
                ),
            ));
        }
    }
    if !n.email && !n.site {
        return Err(AppError::invalid(
            "no_channel",
            "a notice goes by e-mail, on the sites, or both: set `email` or `site`",
        ));
    }
    let now = ctx.clock.now_micros();
    let row = NoticeRow {
        id: ctx.ids.next("ntc"),
        kind: n.kind.as_str().into(),
        mandatory: false,
        title: serde_json::to_string(&n.title).unwrap_or_default(),
        body: serde_json::to_string(&n.body).unwrap_or_default(),
        policy_version: None,
        effective_at: n.effective_at,
        shown_until: n
            .effective_at
            .filter(|e| *e > now)
            .unwrap_or(now + SHOWN_WITHOUT_DATE),
        email: n.email,
        site: n.site,
        created_at: now,
        fanout_after: None,
        queued: 0,
        fanned_out_at: None,
    };
    ctx.store.insert_notice(&row).await?;
    acts::done(
        Some(&ctx.store),
        actor.clone(),
        Act::NoticeScheduled {
            notice_id: row.id.clone(),
            kind: row.kind.clone(),
            email: n.email,
            site: n.site,
        },
    )
    .await;
    after_recording(ctx).await;
    Ok(row.id)
}

/// After a notice is recorded: show it on this node now, and queue its mail in the
/// background (the pass on every node would find it within [`super::EVERY`] too).
async fn after_recording(ctx: &Shared) {
    // Due now, whenever the last pass finished, so the mail does not wait for the next round.
    let now = ctx.clock.now_micros();
    if let Err(e) = ctx
        .store
        .schedule_job(super::FANOUT_JOB, super::FANOUT_JOB, now)
        .await
    {
        tracing::warn!(error = %e, "scheduling the notice fan-out failed");
    }
    if let Err(e) = super::refresh_site_notices(ctx).await {
        tracing::warn!(error = %e, "reading the notices to show failed");
    }
    let ctx = ctx.clone();
    tokio::spawn(async move {
        if let Err(e) = super::govern::govern_due(&ctx).await {
            tracing::warn!(error = %e, "taking a policy version into effect failed");
        }
        if let Err(e) = super::fanout::leased(&ctx).await {
            tracing::warn!(error = %e, "queueing notice mail failed");
        }
    });
}
