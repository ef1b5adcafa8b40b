//! The administrative acts of notices, records and reports (issue 13 items 2, 4, 5), in one
//! place: every use case that performs one calls [`done`] with an [`Act`] once the act is
//! durable. `done` appends it to the hash-chained audit trail (`audit`, issue 13 item 6) and
//! writes one log line (no personal data: ids, versions, counts).

use serde::Serialize;

use custodian_core::audit::Action;
use custodian_store::Store;

/// Who performed an act: a bearer token's id or the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Actor {
    Token(String),
    Cli,
    /// The service itself (a version taking effect at its date).
    System,
}

/// One administrative act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Act {
    /// A policy version was scheduled (`policy publish`, `POST /v1/admin/policy-versions`).
    PolicyPublished {
        version: String,
        effective_at: String,
        material: bool,
        notice_id: Option<String>,
    },
    /// A scheduled version took effect on this node.
    PolicyInEffect { version: String },
    /// A notice to people was scheduled (a material change's or `POST /v1/admin/notices`).
    NoticeScheduled {
        notice_id: String,
        kind: String,
        email: bool,
        site: bool,
    },
    /// A notice's mail was queued for everyone it reaches.
    NoticeSent { notice_id: String, queued: u64 },
    /// The records of processing were exported.
    RecordsExported { format: String, version: String },
    /// An aggregate report was run.
    ReportRun {
        report: String,
        groups: usize,
        suppressed: usize,
    },
}

impl Act {
    /// The action's name, as the audit trail files it.
    pub fn action(&self) -> &'static str {
        match self {
            Act::PolicyPublished { .. } => "policy_published",
            Act::PolicyInEffect { .. } => "policy_in_effect",
            Act::NoticeScheduled { .. } => "notice_scheduled",
            Act::NoticeSent { .. } => "notice_sent",
            Act::RecordsExported { .. } => "records_exported",
            Act::ReportRun { .. } => "report_run",
        }
    }
}

impl Act {
    /// The audit trail's action and object of this act.
    fn audited(&self) -> (Action, &str) {
        match self {
            Act::PolicyPublished { version, .. } => (Action::PolicyPublished, version),
            Act::PolicyInEffect { version } => (Action::PolicyInEffect, version),
            Act::NoticeScheduled { notice_id, .. } => (Action::NoticeScheduled, notice_id),
            Act::NoticeSent { notice_id, .. } => (Action::NoticeSent, notice_id),
            Act::RecordsExported { version, .. } => (Action::RecordsExported, version),
            Act::ReportRun { report, .. } => (Action::ReportRun, report),
        }
    }
}

impl Actor {
    /// How the audit trail names the actor.
    fn audited(&self) -> String {
        match self {
            Actor::Token(id) => id.clone(),
            Actor::Cli => "cli".into(),
            Actor::System => "system".into(),
        }
    }
}

/// [`done`] in the service's own store.
pub async fn done_here(ctx: &crate::context::Context, actor: Actor, act: Act) {
    done(Some(&ctx.store), actor, act).await
}

/// Records that `actor` performed `act`: appended to the audit trail of `store` (the
/// service's, or the command line's), with the act's facts as its detail. A failure to append
/// is logged; the act itself is already done.
pub async fn done(store: Option<&Store>, actor: Actor, act: Act) {
    let detail = serde_json::to_string(&act).unwrap_or_default();
    tracing::info!(action = act.action(), actor = ?actor, %detail, "administrative act");
    if let Some(store) = store {
        let (action, object) = act.audited();
        if let Err(e) =
            crate::audit::record_with(store, &actor.audited(), action, object, &detail).await
        {
            tracing::error!(error = %e, action = act.action(), "the audit trail could not record an act");
        }
    }
}
