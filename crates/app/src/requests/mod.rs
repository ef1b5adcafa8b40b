//! Data-subject requests: intake (`intake.rs`), verification of the requester's e-mail
//! (`verify.rs`), the DPO's actions (`actions.rs`), what an approved request does to
//! Custodian's own data (`execute.rs`) and the company's (`company.rs`), the export
//! (`export.rs`) and reading requests (`views.rs`); intake's limits are [`crate::limits`]. This file
//! holds what they share: due times, signed links and the sealed personal fields.
//!
//! Every change goes through [`transition`] (`transitions.rs`), which applies the state
//! machine of `custodian_core::request`, writes the new row and its history entry together,
//! and refuses when someone else changed the request first. Mail (`mail.rs`) is queued in the
//! outbox in the same step; the outbox worker delivers it.

mod actions;
mod clock;
pub mod company;
pub mod execute;
pub mod export;
mod intake;
pub mod lift;
mod mail;
pub mod reach;
mod transitions;
mod verify;
pub mod views;

use custodian_core::deadline::{self, BusinessCalendar, Due, Pause, Rule};
use custodian_core::keys::is_subject_sealed;
use custodian_core::subject::SubjectRef;
use custodian_store::keyring::KeyringError;
use custodian_store::requests::{HistoryEntry, RequestRow};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::context::Context;
use crate::error::AppError;

pub use actions::{act, ActionBody};
pub use intake::{check as check_intake, intake, Intake, MAX_DETAILS};
pub use mail::{
    mail_requester, mail_requester_sealed, mail_to, prepare_mail, requester_mail, Sealing,
};
pub use transitions::{plan, transition, transition_sealed, Planned};
pub use verify::verify;

/// How long status and download links work.
pub const STATUS_LINK_DAYS: i64 = 90;
pub const DOWNLOAD_LINK_DAYS: i64 = 14;

use custodian_core::clock::timestamp as ts;

pub(crate) fn code_hash(state: &Context, id: &str, code: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&state.code_key).expect("any key length");
    mac.update(id.as_bytes());
    mac.update(b":");
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub(crate) fn place(id: &str, field: &str) -> String {
    format!("requests/{id}/{field}")
}

/// A time as people read it, in the time zone of the default rules' calendar.
pub fn human_time(state: &Context, micros: i64) -> String {
    ts(micros)
        .to_zoned(state.calendar.time_zone().clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// The rule a request is counted by: its jurisdiction's (as stored when it was received), or
/// its country's when that jurisdiction is no longer in the policy.
pub fn rule_of(state: &Context, r: &RequestRow) -> Rule {
    deadline::rule_by_id(&state.policy, &r.jurisdiction)
        .unwrap_or_else(|| deadline::rule_for(&state.policy, r.country.as_deref()))
}

/// Whether the request's due date is fixed: a declared child's erasure (GDPR Art. 8 and
/// 17(1)(f)) is due within `children.erase_within` and can be neither extended nor paused.
pub fn fixed_deadline(state: &Context, r: &RequestRow) -> bool {
    r.kind == custodian_core::request::Kind::Erasure
        && SubjectRef::from_hex(&r.subject_ref).is_some_and(|s| state.retention.minors.contains(&s))
}

/// The refusal of an extension or a pause of a request with a [`fixed_deadline`].
pub fn fixed_deadline_error() -> AppError {
    AppError::conflict(
        "fixed_deadline",
        "a child's erasure cannot be extended or paused: it is due within children.erase_within",
    )
}

/// The calendar a request's days are counted on.
pub fn calendar_of<'a>(state: &'a Context, rule: &Rule) -> &'a BusinessCalendar {
    state.calendars.get(&rule.calendar)
}

/// The deadlines of a request as of `now` — the one computation behind the stored due times,
/// the API's request views and the mails, and the same function `custodian deadline` calls.
///
/// Pauses: waiting for the e-mailed code where the rule stops the clock for identity (UK
/// GDPR), the DPO's pause still open, and the whole days of the DPO's pauses that ended.
pub fn due_of(state: &Context, r: &RequestRow, now: i64) -> Due {
    let rule = rule_of(state, r);
    let mut pauses = Vec::new();
    if rule.stop_clock_for_identity {
        pauses.push(Pause {
            from: ts(r.received_at),
            to: Some(ts(r.verified_at.unwrap_or(now))),
        });
    }
    if let Some(since) = r.paused_since {
        pauses.push(Pause {
            from: ts(since),
            to: None,
        });
    }
    let extension = (r.extended_months > 0 || r.extended_days > 0).then(|| {
        jiff::Span::new()
            .months(r.extended_months)
            .days(r.extended_days)
    });
    deadline::due_with_paused_days(
        ts(r.received_at),
        &rule,
        calendar_of(state, &rule),
        &pauses,
        r.paused_days,
        extension.as_ref(),
        ts(now),
    )
}

/// Recomputes the stored due times of a request from its receipt, pauses and extension.
pub(crate) fn compute_due(state: &Context, r: &mut RequestRow, now: i64) {
    let due = due_of(state, r, now);
    r.acknowledge_due = due.acknowledge_due.as_microsecond();
    r.answer_due = due.answer_due.as_microsecond();
}

/// The day a request must be answered by, as the requester reads it: the local date in its
/// jurisdiction's zone and the zone (`2026-04-30 (Europe/Dublin)`); the deadline is the end of
/// that day.
pub fn due_day(state: &Context, r: &RequestRow) -> String {
    let rule = rule_of(state, r);
    let cal = calendar_of(state, &rule);
    format!(
        "{} ({})",
        cal.local_date(ts(r.answer_due)),
        cal.time_zone().iana_name().unwrap_or("UTC")
    )
}

/// How much more a request may be extended by, in the unit of its rule's maximum: months
/// (GDPR's two) and days (CCPA's 45). Weeks count as days, years as months.
pub fn extension_left(state: &Context, r: &RequestRow) -> (i64, i64) {
    let s = rule_of(state, r).extension_max;
    let months = i64::from(s.get_years()) * 12 + i64::from(s.get_months());
    let days = i64::from(s.get_weeks()) * 7 + i64::from(s.get_days());
    (
        (months - r.extended_months).max(0),
        (days - r.extended_days).max(0),
    )
}

pub fn status_link(state: &Context, id: &str) -> String {
    let exp = state.clock.now_micros() / 1_000_000 + STATUS_LINK_DAYS * 86_400;
    format!(
        "{}/requests/{id}?t={}",
        state.public_url,
        state.links.sign("status", id, exp)
    )
}

pub fn download_link(state: &Context, id: &str) -> String {
    let exp = state.clock.now_micros() / 1_000_000 + DOWNLOAD_LINK_DAYS * 86_400;
    format!(
        "{}/v1/requests/{id}/archive?t={}",
        state.public_url,
        state.links.sign("archive", id, exp)
    )
}

/// Opens a sealed field: under the subject's key (`None` once the subject is erased), or,
/// for values written before keys were per subject, under the server's request key.
pub async fn open_sealed(state: &Context, sealed: &str, place: &str) -> Option<String> {
    if !is_subject_sealed(sealed) {
        return state.sealer.open(sealed, place).ok();
    }
    match state.keyring.open(place, sealed).await {
        Ok(v) => Some(v),
        Err(KeyringError::Erased) => None,
        Err(e) => {
            tracing::warn!(place, error = %e, "a sealed field did not open");
            None
        }
    }
}

/// Seals a field of the request's subject under the subject's key.
pub async fn seal_for(
    state: &Context,
    r: &RequestRow,
    place: &str,
    plain: &str,
) -> Result<String, AppError> {
    let subject = subject_of(r)?;
    state
        .keyring
        .seal(&subject, place, plain)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
}

pub fn subject_of(r: &RequestRow) -> Result<SubjectRef, AppError> {
    SubjectRef::from_hex(&r.subject_ref)
        .ok_or_else(|| AppError::Internal(format!("request {} has a malformed subject", r.id)))
}

pub async fn email_of(state: &Context, r: &RequestRow) -> Option<String> {
    open_sealed(state, &r.email_sealed, &place(&r.id, "email")).await
}

pub async fn details_of(state: &Context, r: &RequestRow) -> Option<String> {
    match &r.details_sealed {
        Some(d) => open_sealed(state, d, &place(&r.id, "details")).await,
        None => None,
    }
}

pub async fn open_detail(state: &Context, id: &str, h: &HistoryEntry) -> Option<String> {
    match &h.detail_sealed {
        Some(d) => open_sealed(state, d, &place(id, "history")).await,
        None => None,
    }
}

pub async fn load(state: &Context, id: &str) -> Result<RequestRow, AppError> {
    state.store.request(id).await?.ok_or(AppError::NotFound)
}
