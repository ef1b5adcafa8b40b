//! Changing a request: every change goes through [`plan`] (the state machine of
//! `custodian_core::request` decides whether it is allowed) and [`Planned::commit`], which
//! writes the new row, its history entry and the mail announcing it in one transaction, and
//! refuses when someone else changed the request first.

use custodian_core::request::{self, Action};
use custodian_store::outbox::NewMail;
use custodian_store::requests::{HistoryEntry, RequestRow};

use super::{place, seal_for, Sealing};
use crate::context::Context;
use crate::error::AppError;

/// Applies `action` to the request as last seen, with `change` for the other fields.
pub async fn transition(
    state: &Context,
    seen: &RequestRow,
    action: Action,
    actor: &str,
    detail: Option<&str>,
    change: impl FnOnce(&mut RequestRow),
) -> Result<RequestRow, AppError> {
    transition_sealed(
        state,
        seen,
        action,
        actor,
        detail,
        Sealing::SubjectKey,
        change,
    )
    .await
}

/// [`transition`], with the history note sealed as `sealing` says.
pub async fn transition_sealed(
    state: &Context,
    seen: &RequestRow,
    action: Action,
    actor: &str,
    detail: Option<&str>,
    sealing: Sealing,
    change: impl FnOnce(&mut RequestRow),
) -> Result<RequestRow, AppError> {
    plan(state, seen, action, actor, detail, sealing, change)
        .await?
        .commit(state, Vec::new())
        .await
}

/// A change worked out but not yet written: the new row (so the mail announcing it can be
/// written from it) and its history entry.
pub struct Planned {
    seen: RequestRow,
    pub new: RequestRow,
    entry: HistoryEntry,
}

/// Works out `action` on the request as last seen (the state machine decides whether it is
/// allowed), without writing anything.
pub async fn plan(
    state: &Context,
    seen: &RequestRow,
    action: Action,
    actor: &str,
    detail: Option<&str>,
    sealing: Sealing,
    change: impl FnOnce(&mut RequestRow),
) -> Result<Planned, AppError> {
    let from = seen.status;
    let to = request::next(from, action).map_err(|e| AppError::Conflict {
        code: "invalid_transition",
        detail: e.to_string(),
    })?;
    let mut new = seen.clone();
    new.status = to;
    change(&mut new);
    // `updated_at` is the row's version: it must move even if the clock did not.
    new.updated_at = state.clock.now_micros().max(seen.updated_at + 1);
    let entry = HistoryEntry {
        at: new.updated_at,
        actor: actor.to_owned(),
        action: action.as_str().to_owned(),
        from_status: Some(from),
        to_status: to,
        detail_sealed: match (detail, sealing) {
            (Some(d), Sealing::SubjectKey) => {
                Some(seal_for(state, seen, &place(&seen.id, "history"), d).await?)
            }
            (Some(d), Sealing::ServerKey) => {
                Some(state.sealer.seal(d, &place(&seen.id, "history")))
            }
            (None, _) => None,
        },
    };
    Ok(Planned {
        seen: seen.clone(),
        new,
        entry,
    })
}

impl Planned {
    /// Writes the change, its history entry and `mails` in one transaction — a crash leaves
    /// either all of them or none — unless someone else changed the request first.
    pub async fn commit(
        self,
        state: &Context,
        mails: Vec<NewMail>,
    ) -> Result<RequestRow, AppError> {
        if !state
            .store
            .update_request(&self.seen, &self.new, Some(&self.entry), &mails)
            .await?
        {
            return Err(AppError::Conflict {
                code: "changed_meanwhile",
                detail: "the request was changed meanwhile; reload it and try again".into(),
            });
        }
        if !mails.is_empty() {
            state.outbox.wake();
        }
        crate::standing::after_change(state, &self.seen, &self.new);
        Ok(self.new)
    }

    /// [`Planned::commit`] of a restriction's announced lift (`lift.rs`): the change, its
    /// history entry, the notice to the requester and the lift, in one transaction.
    pub async fn commit_lift(
        self,
        state: &Context,
        mails: Vec<NewMail>,
        lift: &custodian_store::requests::LiftRow,
    ) -> Result<RequestRow, AppError> {
        if !state
            .store
            .announce_lift(&self.seen, &self.new, &self.entry, &mails, lift)
            .await?
        {
            return Err(AppError::Conflict {
                code: "changed_meanwhile",
                detail: "the request was changed meanwhile; reload it and try again".into(),
            });
        }
        if !mails.is_empty() {
            state.outbox.wake();
        }
        Ok(self.new)
    }
}
