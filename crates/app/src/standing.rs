//! Keeps `Context::standings` — what `/v1/decide` refuses because of a subject's own requests
//! and account — true: loaded from the store at start, and changed where the facts change
//! (a lifecycle event, a restriction approved or ended, an objection approved, an erasure);
//! what other nodes change arrives through `standing_sync`. Decisions read it from memory
//! only (docs/benchmarks.md: no store round trip per decision).
//!
//! - Restriction (GDPR Art. 18): in force from approval while the request is `approved` or
//!   `in_progress`; it ends when the request completes, after its lift was announced to the
//!   requester (Art. 18(3), `requests::lift`).
//! - Objection (Art. 21(1)): the purposes it names, among `rights.objection.reaches`, are
//!   refused from approval on.
//! - A closed account: contract-based purposes are refused until the account is opened again.

use custodian_core::decide::Engine;
use custodian_core::request::{Kind, Status};
use custodian_core::standing::Standings;
use custodian_core::subject::SubjectRef;
use custodian_store::requests::RequestRow;
use custodian_store::{Store, StoreError};

use crate::context::Context;
use crate::error::AppError;

/// Everything in force, from the store.
pub async fn load(store: &Store, engine: &Engine) -> Result<Standings, StoreError> {
    let standings = Standings::default();
    for hex in store.closed_accounts().await? {
        if let Some(s) = SubjectRef::from_hex(&hex) {
            standings.update(s, |st| st.account_closed = true);
        }
    }
    for hex in store.restricted_subjects().await? {
        if let Some(s) = SubjectRef::from_hex(&hex) {
            standings.update(s, |st| st.restricted = true);
        }
    }
    for (hex, purpose) in store.objections_in_force().await? {
        if let (Some(s), Some(slot)) = (SubjectRef::from_hex(&hex), engine.objection_slot(&purpose))
        {
            standings.update(s, |st| st.objected |= 1u64 << slot);
        }
    }
    Ok(standings)
}

/// After a request changed: a restriction comes into force when approved and is lifted
/// when it ends.
pub fn after_change(state: &Context, before: &RequestRow, after: &RequestRow) {
    if after.kind != Kind::Restriction || before.status == after.status {
        return;
    }
    let Some(subject) = SubjectRef::from_hex(&after.subject_ref) else {
        return;
    };
    let in_force = matches!(after.status, Status::Approved | Status::InProgress);
    state
        .standings
        .update(subject, |st| st.restricted = in_force);
}

/// The objection of an approved request comes into force.
pub async fn enforce_objection(state: &Context, row: &RequestRow) -> Result<Vec<String>, AppError> {
    let subject = super::requests::subject_of(row)?;
    let purposes = state
        .store
        .enforce_objection(&row.id, state.clock.now_micros())
        .await?;
    let bits = purposes
        .iter()
        .filter_map(|p| state.engine.objection_slot(p))
        .fold(0u64, |acc, slot| acc | (1u64 << slot));
    if bits != 0 {
        state.standings.update(subject, |st| st.objected |= bits);
    }
    Ok(purposes)
}

/// The purposes an objection names, checked against what the policy lets it reach.
pub fn check_objection(state: &Context, purposes: &[String]) -> Result<Vec<String>, AppError> {
    let reaches = &state.policy.rights.objection.reaches;
    let mut out = Vec::new();
    for p in purposes {
        let p = p.trim();
        if !reaches.iter().any(|r| r == p) {
            return Err(AppError::invalid(
                "unknown_purpose",
                format!(
                    "an objection can reach these purposes: {}",
                    reaches.join(", ")
                ),
            ));
        }
        if !out.iter().any(|o: &String| o == p) {
            out.push(p.to_owned());
        }
    }
    Ok(out)
}

/// A closed or reopened account.
pub fn account(state: &Context, subject: SubjectRef, closed: bool) {
    state
        .standings
        .update(subject, |st| st.account_closed = closed);
}
