//! The DPO's actions on a request's clock: extending it (GDPR Art. 12(3), CCPA §1798.130(a)(2)
//! and Cal. Code Regs. tit. 11 §7021(b): within the first period, with reasons told to the
//! requester, counted from receipt) and stopping and restarting it (UK GDPR Art. 12A: while
//! waiting for proof of identity or for the requester to clarify the request).

use custodian_core::clock::timestamp as ts;
use custodian_core::deadline::paused_days;
use custodian_core::request::Action;
use custodian_mail::MailContent;
use custodian_store::requests::RequestRow;

use super::actions::required;
use super::{
    calendar_of, compute_due, due_day, due_of, extension_left, plan, requester_mail, rule_of,
    transition, ActionBody, Sealing,
};
use crate::context::Context;
use crate::error::AppError;

/// The reasons the clock may stop for, with what the rule must allow.
pub const PAUSE_REASONS: [&str; 2] = ["awaiting_identity", "awaiting_clarification"];

/// Extends the answer period, refused once the first period has ended; the requester is told
/// the new date and the reason, in their language, in the same transaction.
pub async fn extend(
    state: &Context,
    row: &RequestRow,
    body: &ActionBody,
    actor: &str,
) -> Result<RequestRow, AppError> {
    if super::fixed_deadline(state, row) {
        return Err(super::fixed_deadline_error());
    }
    let reason = required(&body.reason, "reason")?;
    let now = state.clock.now_micros();
    let rule = rule_of(state, row);
    let cal = calendar_of(state, &rule);
    let first = due_of(state, row, now).first_period_due;
    if ts(now) > first {
        return Err(AppError::invalid(
            "extension_too_late",
            format!(
                "the first period ended with {} ({}); an extension must be given before then \
                 (GDPR Art. 12(3), Cal. Code Regs. tit. 11 §7021(b))",
                cal.local_date(first),
                cal.time_zone().iana_name().unwrap_or("UTC"),
            ),
        ));
    }
    let (months_left, days_left) = extension_left(state, row);
    let (months, days) = match (body.months, body.days) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                "invalid_extension",
                "give `months` or `days`, not both",
            ))
        }
        (Some(m), None) if m >= 1 && m <= months_left => (m, 0),
        (None, Some(d)) if d >= 1 && d <= days_left => (0, d),
        (None, None) if months_left + days_left > 0 => (months_left, days_left),
        _ => {
            return Err(AppError::invalid(
                "invalid_extension",
                match (months_left, days_left) {
                    (0, 0) => format!(
                        "the request has no extension left under `{}`",
                        rule.jurisdiction
                    ),
                    (m, 0) => format!("the request may be extended by 1 to {m} more month(s)"),
                    (0, d) => format!("the request may be extended by 1 to {d} more day(s)"),
                    (m, d) => {
                        format!("the request may be extended by up to {m} month(s) and {d} day(s)")
                    }
                },
            ))
        }
    };
    let what = match (months, days) {
        (m, 0) => format!("+{m} month(s)"),
        (0, d) => format!("+{d} day(s)"),
        (m, d) => format!("+{m} month(s) {d} day(s)"),
    };
    let p = plan(
        state,
        row,
        Action::Extend,
        actor,
        Some(&format!("{what}: {reason}")),
        Sealing::SubjectKey,
        |r| {
            r.extended_months += months;
            r.extended_days += days;
            compute_due(state, r, now);
        },
    )
    .await?;
    let step = format!(
        "extended/{}m{}d",
        p.new.extended_months, p.new.extended_days
    );
    let content = MailContent::RequestExtended {
        request_id: p.new.id.clone(),
        reason,
        new_due_date: due_day(state, &p.new),
    };
    let mail = requester_mail(state, &p.new, &step, content, Sealing::SubjectKey).await?;
    p.commit(state, mail.into_iter().collect()).await
}

/// Stops the clock while the DPO waits for the requester, where the jurisdiction's law does.
pub async fn pause(
    state: &Context,
    row: &RequestRow,
    body: &ActionBody,
    actor: &str,
) -> Result<RequestRow, AppError> {
    if super::fixed_deadline(state, row) {
        return Err(super::fixed_deadline_error());
    }
    let reason = required(&body.pause_reason, "pause_reason")?;
    let rule = rule_of(state, row);
    let allowed = match reason.as_str() {
        "awaiting_identity" => rule.stop_clock_for_identity,
        "awaiting_clarification" => rule.stop_clock_for_clarification,
        _ => {
            return Err(AppError::invalid(
                "unknown_pause_reason",
                format!("`pause_reason` is one of: {}", PAUSE_REASONS.join(", ")),
            ))
        }
    };
    if !allowed {
        return Err(AppError::conflict(
            "clock_does_not_stop",
            format!(
                "under `{}` the clock does not stop for `{reason}`: the deadline keeps running",
                rule.jurisdiction
            ),
        ));
    }
    if row.paused_since.is_some() {
        return Err(AppError::conflict(
            "already_paused",
            "the clock is already stopped; resume it first",
        ));
    }
    let now = state.clock.now_micros();
    transition(state, row, Action::Pause, actor, Some(&reason), |r| {
        r.paused_since = Some(now);
        r.pause_reason = Some(reason.clone());
        compute_due(state, r, now);
    })
    .await
}

/// Starts the clock again: the whole local days it stood still move the answer's due day.
pub async fn resume(
    state: &Context,
    row: &RequestRow,
    actor: &str,
) -> Result<RequestRow, AppError> {
    let Some(since) = row.paused_since else {
        return Err(AppError::conflict("not_paused", "the clock is running"));
    };
    let now = state.clock.now_micros();
    let cal = calendar_of(state, &rule_of(state, row));
    let days = paused_days(cal, ts(since), ts(now));
    let note = format!("resumed after {days} day(s)");
    transition(state, row, Action::Resume, actor, Some(&note), |r| {
        r.paused_since = None;
        r.pause_reason = None;
        r.paused_days += days;
        compute_due(state, r, now);
    })
    .await
}
