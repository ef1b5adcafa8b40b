//! Notices before changes (issue 13 item 2): telling people before a new policy version takes
//! effect, or of a change of control or other news, by e-mail and on the sites.
//!
//! - [`publish`] schedules a policy version: `policy diff` says whether it is material, and a
//!   material change needs `notices.material_change_days` of notice (GDPR Art. 12(1), 13(3);
//!   the example notice promises notice "before the change takes effect"); a notice for it is
//!   recorded with the version, in one transaction. [`publish::notice`] records the other
//!   notices (`POST /v1/admin/notices`).
//! - [`fanout`] queues a notice's mail for every person with an e-mail on record, in their
//!   language, a page at a time under the leased job `notice_fanout` (a pass that dies resumes
//!   where it stopped; the outbox's idempotency keys make a page queued twice one message).
//!   People may turn off optional notices; mandatory ones (a material change) ignore that.
//! - [`govern`] makes the newest version whose date has come govern — decisions, the notice
//!   and the banner — on every node, from the background pass, without a restart; consent
//!   whose terms changed is asked again as after a restart (`Context::reask`).
//!
//! Every administrative act here is recorded through [`crate::acts`].

pub mod fanout;
pub mod govern;
pub mod publish;

use std::collections::BTreeMap;

use custodian_store::notices::NoticeRow;
use serde::Serialize;

use crate::context::Context;

/// The leased job that queues notices' mail.
pub const FANOUT_JOB: &str = "notice_fanout";
/// How often each node looks for a version whose date has come and for mail to queue.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(5);
const DAY: i64 = 86_400_000_000;

/// The kinds of notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A new policy version (mandatory when the change is material).
    PolicyChange,
    /// The company or a business of it changes hands (the example's "change of control").
    ChangeOfControl,
    General,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PolicyChange => "policy_change",
            Kind::ChangeOfControl => "change_of_control",
            Kind::General => "general",
        }
    }

    /// What `POST /v1/admin/notices` may send (policy changes come from publishing).
    pub fn parse_posted(s: &str) -> Option<Kind> {
        match s {
            "change_of_control" => Some(Kind::ChangeOfControl),
            "general" => Some(Kind::General),
            _ => None,
        }
    }
}

/// A notice as the sites and the API show it, in one language.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Shown {
    pub id: String,
    pub kind: String,
    pub mandatory: bool,
    pub title: String,
    pub body: String,
    /// When what it announces takes effect (RFC 3339).
    pub effective_at: Option<String>,
    pub policy_version: Option<String>,
}

/// The text of a per-language JSON map in `lang`, else the policy's first language, else any.
pub fn text_in(json: &str, lang: &str, first: &str) -> String {
    let map: BTreeMap<String, String> = serde_json::from_str(json).unwrap_or_default();
    map.get(lang)
        .or_else(|| map.get(first))
        .or_else(|| map.values().next())
        .cloned()
        .unwrap_or_default()
}

/// A stored notice in `lang`.
pub fn shown(ctx: &Context, n: &NoticeRow, lang: &str) -> Shown {
    let first = ctx
        .policy
        .policy
        .languages
        .first()
        .cloned()
        .unwrap_or_default();
    Shown {
        id: n.id.clone(),
        kind: n.kind.clone(),
        mandatory: n.mandatory,
        title: text_in(&n.title, lang, &first),
        body: text_in(&n.body, lang, &first),
        effective_at: n.effective_at.map(custodian_core::clock::rfc3339),
        policy_version: n.policy_version.clone(),
    }
}

/// The notices the sites show now, in `lang`; optional ones left out for a person who turned
/// them off (`show_optional`).
pub fn on_site(ctx: &Context, lang: &str, show_optional: bool) -> Vec<Shown> {
    let now = ctx.clock.now_micros();
    let all = ctx
        .site_notices
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    all.iter()
        .filter(|n| n.created_at <= now && n.shown_until > now)
        .filter(|n| n.mandatory || show_optional)
        .map(|n| shown(ctx, n, lang))
        .collect()
}

/// Reads the notices the sites show into memory (each background pass, and after one is
/// recorded on this node).
pub async fn refresh_site_notices(ctx: &Context) -> Result<(), crate::AppError> {
    let now = ctx.clock.now_micros();
    let rows = ctx.store.notices_shown(now).await?;
    *ctx.site_notices.write().unwrap_or_else(|e| e.into_inner()) = std::sync::Arc::new(rows);
    Ok(())
}

/// One round of the background pass, on every node: the version in force, the notices the
/// sites show, and (one node at a time) the notices' mail.
pub async fn pass(ctx: &Context) {
    if let Err(e) = govern::govern_due(ctx).await {
        tracing::warn!(error = %e, "taking a scheduled policy version into effect failed");
    }
    if let Err(e) = refresh_site_notices(ctx).await {
        tracing::warn!(error = %e, "reading the notices to show failed");
    }
    if let Err(e) = fanout::leased(ctx).await {
        tracing::warn!(error = %e, "queueing notice mail failed");
    }
}

/// Every scheduled version, earliest date first (`GET /v1/admin/policy-versions`).
pub async fn scheduled(
    ctx: &Context,
) -> Result<Vec<custodian_store::notices::ScheduledVersion>, crate::AppError> {
    Ok(ctx.store.scheduled_versions().await?)
}

/// The next version to take effect, with its notice in `lang`.
pub async fn upcoming(
    ctx: &Context,
    lang: &str,
) -> Result<(custodian_store::notices::ScheduledVersion, Option<Shown>), crate::AppError> {
    let now = ctx.clock.now_micros();
    let v = ctx
        .store
        .upcoming_version(now)
        .await?
        .ok_or(crate::AppError::NotFound)?;
    let notice = match &v.notice_id {
        Some(id) => ctx.store.notice(id).await?.map(|n| shown(ctx, &n, lang)),
        None => None,
    };
    Ok((v, notice))
}

/// A person's choices about optional notices; both on until they choose.
pub async fn preferences(
    ctx: &Context,
    subject: &custodian_core::subject::SubjectRef,
) -> Result<custodian_store::notices::NoticePreferences, crate::AppError> {
    Ok(ctx
        .store
        .notice_preferences(&subject.to_hex())
        .await?
        .unwrap_or(custodian_store::notices::NoticePreferences {
            optional_email: true,
            optional_site: true,
            lang: None,
        }))
}

/// Keeps a person's choices about optional notices (and the language to write to them in).
pub async fn set_preferences(
    ctx: &Context,
    subject: &custodian_core::subject::SubjectRef,
    prefs: &custodian_store::notices::NoticePreferences,
) -> Result<(), crate::AppError> {
    let now = ctx.clock.now_micros();
    Ok(ctx
        .store
        .put_notice_preferences(&subject.to_hex(), prefs, now)
        .await?)
}
