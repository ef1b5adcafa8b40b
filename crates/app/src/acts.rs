//! The administrative acts of notices, records and reports (issue 13 items 2, 4, 5), in one
//! place: every use case that performs one calls [`done`] with an [`Act`] once the act is
//! durable. Today `done` writes one log line (no personal data: ids, versions, counts); the
//! hash-chained audit trail (issue 13 item 6) appends each act here and nowhere else.

use serde::Serialize;

use crate::context::Context;

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

/// Records that `actor` performed `act`. The context is taken so the audit trail can append
/// through its store without changing any caller; the CLI passes `None`.
pub async fn done(_ctx: Option<&Context>, actor: Actor, act: Act) {
    let detail = serde_json::to_string(&act).unwrap_or_default();
    tracing::info!(action = act.action(), actor = ?actor, %detail, "administrative act");
}
