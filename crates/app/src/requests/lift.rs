//! Lifting a restriction of processing, told to the requester first. GDPR Art. 18(3): "A data
//! subject who has obtained restriction of processing pursuant to paragraph 1 shall be
//! informed by the controller before the restriction of processing is lifted."
//!
//! The DPO announces the lift (`lift {reason, at?}`): the notice — when, and why — is queued to
//! the requester in their language in the same transaction as the announcement, and the
//! restriction stays in force. Housekeeping lifts it (in the company's systems, then in
//! Custodian: the request completes) once `at` has come *and* the notice has gone out; the
//! DPO's `complete` does the same, and is refused before then. A restriction in force is never
//! ended by a denial: its lift is announced instead.

use custodian_core::clock::rfc3339;
use custodian_core::request::{Action, Kind, Status};
use custodian_mail::MailContent;
use custodian_store::outbox::MailStatus;
use custodian_store::requests::{LiftRow, RequestRow};

use super::actions::required;
use super::{human_time, plan, requester_mail, status_link, Sealing};
use crate::context::Context;
use crate::error::AppError;

/// The outbox step of the notice (its key is `<request id>/lift_notice`).
const STEP: &str = "lift_notice";
/// Announced lifts handled per housekeeping round.
const ROUND: i64 = 100;

/// Whether the request is a restriction in force.
pub fn in_force(row: &RequestRow) -> bool {
    row.kind == Kind::Restriction && matches!(row.status, Status::Approved | Status::InProgress)
}

/// The DPO announces that the restriction will be lifted: `reason` (told to the requester)
/// and, optionally, `at` (RFC 3339; not before now, the default) — when it ends at the
/// earliest. The restriction stays in force until then and until the notice has gone out.
pub async fn announce(
    state: &Context,
    row: &RequestRow,
    reason: &Option<String>,
    at: &Option<String>,
    actor: &str,
) -> Result<RequestRow, AppError> {
    if row.kind != Kind::Restriction {
        return Err(AppError::invalid(
            "not_a_restriction",
            "only a restriction of processing is lifted",
        ));
    }
    if let Some(l) = state.store.restriction_lift(&row.id).await? {
        return Err(AppError::conflict(
            "lift_announced",
            format!(
                "the lift was announced on {}; it ends on {} once the notice has gone out",
                rfc3339(l.announced_at),
                l.lift_at.map_or_else(|| "completion".into(), rfc3339)
            ),
        ));
    }
    let reason = required(reason, "reason")?;
    let now = state.clock.now_micros();
    let lift_at = match at.as_deref().map(str::trim) {
        None | Some("") => now,
        Some(t) => {
            let when = t
                .parse::<jiff::Timestamp>()
                .map_err(|_| {
                    AppError::invalid(
                        "invalid_time",
                        format!("`at`: `{t}` is not an RFC 3339 time"),
                    )
                })?
                .as_microsecond();
            if when < now {
                return Err(AppError::invalid(
                    "invalid_time",
                    "`at` is in the past: the requester must be told before the restriction ends",
                ));
            }
            when
        }
    };
    let lift_date = human_time(state, lift_at);
    let detail = format!(
        "restriction to be lifted from {lift_date}, once the requester has been told (GDPR Art. 18(3)): {reason}"
    );
    let p = plan(
        state,
        row,
        Action::Lift,
        actor,
        Some(&detail),
        Sealing::SubjectKey,
        |_| {},
    )
    .await?;
    let content = MailContent::RestrictionLiftNotice {
        request_id: row.id.clone(),
        reason,
        lift_date,
        status_link: status_link(state, &row.id),
    };
    let mail = requester_mail(state, &p.new, STEP, content, Sealing::SubjectKey).await?;
    let lift = LiftRow {
        request_id: row.id.clone(),
        announced_at: now,
        lift_at: Some(lift_at),
        notice_key: mail.as_ref().map(|m| m.idempotency_key.clone()),
    };
    p.commit_lift(state, mail.into_iter().collect(), &lift)
        .await
}

/// Refuses to end the restriction before the requester was told: no lift announced, the
/// notice not sent yet, or its time not come.
pub async fn ready(state: &Context, row: &RequestRow) -> Result<(), AppError> {
    let Some(lift) = state.store.restriction_lift(&row.id).await? else {
        return Err(AppError::conflict(
            "lift_not_announced",
            "announce the lift first (`lift` with a reason): the requester is told before a restriction ends (GDPR Art. 18(3))",
        ));
    };
    if let Some(key) = &lift.notice_key {
        let sent = state
            .store
            .mail_by_key(key)
            .await?
            .is_some_and(|m| m.status == MailStatus::Sent);
        if !sent {
            return Err(AppError::conflict(
                "lift_notice_pending",
                "the notice to the requester has not gone out yet; the restriction ends once it has",
            ));
        }
    }
    if let Some(at) = lift.lift_at.filter(|at| *at > state.clock.now_micros()) {
        return Err(AppError::conflict(
            "lift_not_due",
            format!("the restriction ends on {}, as announced", rfc3339(at)),
        ));
    }
    Ok(())
}

/// Lifts the restrictions whose announced time has come and whose notice has gone out (the
/// housekeeping job). A lift that fails in the company's systems stays in progress with the
/// error in its history and is not tried again on its own: the DPO completes the request once
/// the datastore is fixed. Answers how many were lifted.
pub async fn lift_due(state: &Context, now: i64) -> Result<usize, AppError> {
    let mut lifted = 0;
    for lift in state.store.lifts_due(now, ROUND).await? {
        let row = super::load(state, &lift.request_id).await?;
        if ready(state, &row).await.is_err() {
            continue;
        }
        let id = row.id.clone();
        let done = super::reach::complete_request(state, row, "system", None).await?;
        if done.status == Status::Completed {
            lifted += 1;
        } else {
            tracing::warn!(request = %id, "lifting a restriction failed in a company datastore; the DPO completes it once fixed");
            state.store.unschedule_lift(&id).await?;
        }
    }
    Ok(lifted)
}
