//! The DPO's actions on a request: approve, deny, extend, pause, resume, assign, note, lift
//! and complete, each written to the request's history and told to the requester where they
//! are owed it. What moves the clock (extend, pause, resume) is in `clock.rs`; the announced
//! lift of a restriction (GDPR Art. 18(3)) in `lift.rs`.

use custodian_core::request::{Action, Kind};
use custodian_mail::MailContent;
use custodian_store::requests::RequestRow;

use super::{execute, load, plan, requester_mail, transition, Sealing};
use crate::context::Context;
use crate::error::AppError;

/// What a DPO sends with an action.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// Required for `deny`, `extend` and `lift`; told to the requester.
    pub reason: Option<String>,
    /// For `extend` under a rule whose maximum is in months (GDPR: 1 or 2); absent: all that
    /// is left.
    pub months: Option<i64>,
    /// For `extend` under a rule whose maximum is in days (CCPA: 1 to 45); absent: all that
    /// is left.
    pub days: Option<i64>,
    /// For `pause`: `awaiting_identity` or `awaiting_clarification`.
    pub pause_reason: Option<String>,
    /// For `assign`: who handles it.
    pub to: Option<String>,
    /// For `note`.
    pub text: Option<String>,
    /// For `lift` (with `reason`): when the restriction ends at the earliest, RFC 3339; now
    /// when absent. It ends only once the requester has been told (GDPR Art. 18(3)).
    pub at: Option<String>,
    /// For `approve` or `complete` of a rectification: `table.field` → the corrected value,
    /// applied to the subject's rows in the company's datastores (GDPR Art. 16).
    pub corrections: Option<std::collections::BTreeMap<String, String>>,
}

pub(super) fn required(v: &Option<String>, name: &str) -> Result<String, AppError> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(2000).collect())
        .ok_or_else(|| AppError::invalid("missing_field", format!("this action needs `{name}`")))
}

/// A DPO's action on a request, recorded in the audit trail once it is done.
pub async fn act(
    state: &Context,
    id: &str,
    action: Action,
    body: &ActionBody,
    actor: &str,
) -> Result<RequestRow, AppError> {
    let row = carry_out(state, id, action, body, actor).await?;
    if let Some(entry) = crate::audit::Action::of_request(action) {
        crate::audit::record(&state.store, actor, entry, id).await?;
    }
    Ok(row)
}

/// Kept whole: one arm per action, so what each of the DPO's actions does reads as one table.
async fn carry_out(
    state: &Context,
    id: &str,
    action: Action,
    body: &ActionBody,
    actor: &str,
) -> Result<RequestRow, AppError> {
    let row = load(state, id).await?;
    match action {
        Action::Approve => {
            let corrections = super::reach::corrections(state, &row, body).await?;
            let approved = transition(state, &row, Action::Approve, actor, None, |_| {}).await?;
            execute::run_with(state, approved, corrections.as_ref()).await
        }
        Action::Deny if super::lift::in_force(&row) => Err(AppError::conflict(
            "restriction_in_force",
            "a restriction in force ends by announcing its lift (`lift` with a reason), so that the requester is told first (GDPR Art. 18(3))",
        )),
        Action::Deny => {
            let reason = required(&body.reason, "reason")?;
            let p = plan(
                state,
                &row,
                Action::Deny,
                actor,
                Some(&reason),
                Sealing::SubjectKey,
                |r| r.completed_at = Some(state.clock.now_micros()),
            )
            .await?;
            let content = MailContent::RequestDenied {
                request_id: p.new.id.clone(),
                reason,
            };
            let mail =
                requester_mail(state, &p.new, "denied", content, Sealing::SubjectKey).await?;
            let denied = p.commit(state, mail.into_iter().collect()).await?;
            super::reach::after_deny(state, &row, denied).await
        }
        Action::Extend => super::clock::extend(state, &row, body, actor).await,
        Action::Pause => super::clock::pause(state, &row, body, actor).await,
        Action::Resume => super::clock::resume(state, &row, actor).await,
        Action::Lift => super::lift::announce(state, &row, &body.reason, &body.at, actor).await,
        Action::Assign => {
            let to = required(&body.to, "to")?;
            transition(
                state,
                &row,
                Action::Assign,
                actor,
                Some(&format!("assigned to {to}")),
                |r| r.assignee = Some(to.clone()),
            )
            .await
        }
        Action::Note => {
            let text = required(&body.text, "text")?;
            transition(state, &row, Action::Note, actor, Some(&text), |_| {}).await
        }
        // Access and erasure complete only once the company's datastores have answered.
        Action::Complete if row.kind == Kind::Access || row.kind == Kind::Erasure => {
            super::reach::corrections(state, &row, body).await?;
            execute::finish(state, row, actor).await
        }
        // A restriction ends only after the requester was told (GDPR Art. 18(3)).
        Action::Complete if super::lift::in_force(&row) => {
            super::reach::corrections(state, &row, body).await?;
            super::lift::ready(state, &row).await?;
            super::reach::complete_request(state, row, actor, None).await
        }
        // Rectification, restriction and objection reach the company's systems first.
        Action::Complete if super::reach::completes_through_company(row.kind) => {
            let corrections = super::reach::corrections(state, &row, body).await?;
            super::reach::complete_request(state, row, actor, corrections).await
        }
        Action::Complete => execute::complete(state, &row, actor, None).await,
        other => Err(AppError::invalid(
            "unknown_action",
            format!("`{}` is not an action of the DPO", other.as_str()),
        )),
    }
}
