//! The DPO's actions on a request: approve, deny, extend, assign, note and complete, each
//! written to the request's history and told to the requester where they are owed it.

use custodian_core::request::{Action, Kind};
use custodian_mail::MailContent;
use custodian_store::requests::RequestRow;

use super::{
    compute_due, execute, human_time, load, max_extension_months, plan, requester_mail, transition,
    Sealing,
};
use crate::context::Context;
use crate::error::AppError;

/// What a DPO sends with an action.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// Required for `deny` and `extend`; told to the requester.
    pub reason: Option<String>,
    /// For `extend`: how many months (1 up to the jurisdiction's maximum left).
    pub months: Option<i64>,
    /// For `assign`: who handles it.
    pub to: Option<String>,
    /// For `note`.
    pub text: Option<String>,
    /// For `approve` or `complete` of a rectification: `table.field` → the corrected value,
    /// applied to the subject's rows in the company's datastores (GDPR Art. 16).
    pub corrections: Option<std::collections::BTreeMap<String, String>>,
}

fn required(v: &Option<String>, name: &str) -> Result<String, AppError> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(2000).collect())
        .ok_or_else(|| AppError::invalid("missing_field", format!("this action needs `{name}`")))
}

/// A DPO's action on a request.
///
/// Kept whole: one arm per action, so what each of the DPO's actions does reads as one table.
pub async fn act(
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
        Action::Extend => {
            if super::fixed_deadline(state, &row) {
                return Err(super::fixed_deadline_error());
            }
            let reason = required(&body.reason, "reason")?;
            let left = max_extension_months(state, &row) - row.extended_months;
            let months = body.months.unwrap_or(1);
            if months < 1 || months > left {
                return Err(AppError::invalid(
                    "invalid_extension",
                    format!("the request may be extended by 1 to {left} more month(s)"),
                ));
            }
            let now = state.clock.now_micros();
            let p = plan(
                state,
                &row,
                Action::Extend,
                actor,
                Some(&format!("+{months} month(s): {reason}")),
                Sealing::SubjectKey,
                |r| {
                    r.extended_months += months;
                    compute_due(state, r, now);
                },
            )
            .await?;
            let step = format!("extended/{}", p.new.extended_months);
            let content = MailContent::RequestExtended {
                request_id: p.new.id.clone(),
                reason,
                new_due_date: human_time(state, p.new.answer_due),
            };
            let mail = requester_mail(state, &p.new, &step, content, Sealing::SubjectKey).await?;
            p.commit(state, mail.into_iter().collect()).await
        }
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
