//! Lifecycle events of a subject (account opened or closed, activity, purchases, a declared
//! age), which retention rules are anchored on. Contradictory events are refused with the
//! reason. A closed account refuses contract-based purposes until it is opened again
//! (`standing.rs`).
//!
//! Children (GDPR Art. 8, 17(1)(f)): a person declared under the minimum age gets an erasure
//! request that is approved at once and carried out at once — in Custodian and in the
//! company's datastores — due within `children.erase_within`; it cannot be extended, and the
//! DPO's queue shows it first while it is open. Every decision about them is refused from
//! then on. A site's age gate answered on an anonymous visit (`age_declared` for a
//! `device_id`) keeps only the flag: the device is refused every purpose, its consent state
//! and links are forgotten, and nothing else is stored (no event, no identifier, no date).

use custodian_core::request::{Action, Kind, Status};
use custodian_core::retention::{check_event, EventError, LifecycleEvent, LifecycleKind};
use custodian_core::subject::{IdKind, SubjectId, SubjectRef};
use custodian_store::requests::{HistoryEntry, RequestRow};
use custodian_store::retention::{LifecycleRow, MinorRow};

use crate::context::Context;
use crate::error::AppError;
use crate::retention::event_of;

/// What recording an event concluded.
pub struct Recorded {
    /// The keyed reference the subject is known by in Custodian.
    pub subject: SubjectRef,
    /// For `age_declared`: whether the subject is under the minimum age.
    pub under_minimum_age: Option<bool>,
    /// For a child: the erasure request opened for them (the first time only).
    pub erasure_request: Option<RequestRow>,
}

fn invalid(detail: impl Into<String>) -> AppError {
    AppError::invalid("invalid_event", detail)
}

/// Records `event` of the person `id` (an e-mail or a user id, not a device).
pub async fn record(
    state: &Context,
    id: &SubjectId,
    event: LifecycleEvent,
) -> Result<Recorded, AppError> {
    if id.kind() == IdKind::DeviceId {
        return device_age(state, id, &event).await;
    }
    let kind = event.kind;
    let country = event.country.clone();
    let subject = state.hasher.reference(id);
    let hex = subject.to_hex();
    let history: Vec<LifecycleEvent> = state
        .store
        .lifecycle_events(&hex)
        .await?
        .iter()
        .filter_map(event_of)
        .collect();
    let now = state.clock.now_micros();
    check_event(&history, &event, now, &state.retention.ages).map_err(refused)?;
    let child =
        (kind == LifecycleKind::AgeDeclared).then(|| state.retention.ages.declares_child(&event));
    // Only the conclusion is kept: a birth date is more than retention needs.
    state
        .store
        .insert_lifecycle_event(&LifecycleRow {
            subject_ref: hex.clone(),
            kind: kind.as_str().to_owned(),
            at: event.at,
            under_minimum_age: child,
            country,
            recorded_at: now,
        })
        .await?;
    // The identifier, sealed under the subject's key: the retention job needs it to find the
    // subject in the company's datastores when a rule falls due, years from now.
    let kind_name = id.kind().as_str();
    let sealed = state
        .keyring
        .seal(&subject, &format!("identities/{kind_name}"), id.expose())
        .await
        .map_err(AppError::internal)?;
    state
        .store
        .put_subject_identity(&hex, kind_name, &sealed, now)
        .await?;
    match kind {
        LifecycleKind::AccountClosed => crate::standing::account(state, subject, true),
        LifecycleKind::AccountOpened => crate::standing::account(state, subject, false),
        _ => {}
    }
    let erasure_request = match child {
        Some(true) => protect_child(state, subject, id, &event).await?,
        _ => None,
    };
    Ok(Recorded {
        subject,
        under_minimum_age: child,
        erasure_request,
    })
}

fn refused(e: EventError) -> AppError {
    match e {
        EventError::AlreadyClosed | EventError::AlreadyOpen | EventError::CloseNeverOpened => {
            AppError::conflict("contradictory_event", e.to_string())
        }
        other => invalid(other.to_string()),
    }
}

/// An age gate answered on an anonymous visit: a device can only declare an age. A child's
/// device keeps the flag alone (no event, no identifier, no date — `declared_at` is 0) and
/// loses its consent state and links; an adult's keeps nothing at all.
async fn device_age(
    state: &Context,
    id: &SubjectId,
    event: &LifecycleEvent,
) -> Result<Recorded, AppError> {
    if event.kind != LifecycleKind::AgeDeclared {
        return Err(AppError::invalid(
            "invalid_subject",
            "lifecycle events are about people: give `email` or `user_id` (a `device_id` may only declare an age)",
        ));
    }
    let now = state.clock.now_micros();
    check_event(&[], event, now, &state.retention.ages).map_err(refused)?;
    let subject = state.hasher.reference(id);
    let child = state.retention.ages.declares_child(event);
    if child {
        let hex = subject.to_hex();
        state.retention.minors.insert(subject);
        state
            .store
            .insert_minor(&MinorRow {
                subject_ref: hex.clone(),
                declared_at: 0,
                country: None,
                request_id: None,
            })
            .await?;
        state.store.delete_consent_state(&hex).await?;
        state.store.delete_links(&hex).await?;
        state.consents.forget(&subject);
        state.forget_links(&subject);
    }
    Ok(Recorded {
        subject,
        under_minimum_age: Some(child),
        erasure_request: None,
    })
}

/// A child: refuse every decision from now on, and open a priority erasure request (once),
/// approved and carried out at once.
async fn protect_child(
    state: &Context,
    subject: SubjectRef,
    id: &SubjectId,
    event: &LifecycleEvent,
) -> Result<Option<RequestRow>, AppError> {
    state.retention.minors.insert(subject);
    let hex = subject.to_hex();
    let fresh = state
        .store
        .insert_minor(&MinorRow {
            subject_ref: hex.clone(),
            declared_at: event.at,
            country: event.country.clone(),
            request_id: None,
        })
        .await?;
    if !fresh {
        return Ok(None);
    }
    let row = create_system_erasure(
        state,
        subject,
        id,
        event.country.as_deref(),
        "the subject was declared under the minimum age",
    )
    .await?;
    state.store.set_minor_request(&hex, &row.id).await?;
    tracing::info!(request = %row.id, "erasure request opened for a subject under the minimum age");
    // GDPR Art. 17(1)(f) with Art. 8: nothing to weigh, so no one waits for the DPO; the
    // erasure runs now. If a company datastore fails, the request stays in progress at the
    // top of the queue and housekeeping tries again every round (`retry_child_erasures`).
    let approved = crate::requests::transition(
        state,
        &row,
        Action::Approve,
        "system",
        Some("a child's erasure is approved at once (GDPR Art. 8 and 17(1)(f))"),
        |_| {},
    )
    .await?;
    let done = crate::requests::execute::run(state, approved).await?;
    Ok(Some(done))
}

/// An erasure request opened by Custodian itself: the company's service vouched for the
/// subject, so it starts verified, in the DPO's queue, due within `children.erase_within`.
pub async fn create_system_erasure(
    state: &Context,
    subject: SubjectRef,
    id: &SubjectId,
    country: Option<&str>,
    reason: &str,
) -> Result<RequestRow, AppError> {
    let now = state.clock.now_micros();
    let within = custodian_policy::parse_duration(&state.policy.children.erase_within)
        .map_err(AppError::Internal)?;
    let due = custodian_core::retention::add_span(now, within);
    let rid = state.ids.next("req");
    let rule = custodian_core::deadline::rule_for(&state.policy, country);
    let email_sealed = match id.kind() {
        IdKind::Email => state
            .sealer
            .seal(id.expose(), &format!("requests/{rid}/email")),
        _ => String::new(),
    };
    let row = RequestRow {
        id: rid.clone(),
        kind: Kind::Erasure,
        status: Status::Verified,
        subject_ref: subject.to_hex(),
        email_sealed,
        details_sealed: None,
        language: state.language(None),
        country: country.map(str::to_owned),
        jurisdiction: rule.jurisdiction.clone(),
        customer_id: None,
        received_at: now,
        verified_at: Some(now),
        code_hash: None,
        code_expires_at: None,
        attempts: 0,
        acknowledge_due: now,
        answer_due: due,
        extended_months: 0,
        assignee: None,
        completed_at: None,
        updated_at: now,
        extended_days: 0,
        paused_since: None,
        pause_reason: None,
        paused_days: 0,
    };
    let first = HistoryEntry {
        at: now,
        actor: "system".into(),
        action: "receive".into(),
        from_status: None,
        to_status: row.status.clone(),
        detail_sealed: Some(
            state
                .sealer
                .seal(reason, &format!("requests/{rid}/history")),
        ),
    };
    state.store.insert_request(&row, &first, None).await?;
    Ok(row)
}
