//! Recording consent: the one write path behind the banner, the privacy centre, the API,
//! one-click unsubscribe and device linking.
//!
//! It turns choices into ledger events (only for choices that change something), appends them
//! through the group-commit writer, and only after they are durable updates the in-memory
//! state that decisions read — so an answer never runs ahead of the ledger, and a decision
//! made after the answer sees the new choice.

use custodian_core::consent::Source;
use custodian_core::decide::{ConsentLookup, ConsentStatus};
use custodian_core::receipt::{self, Choice, Receipt, ReceiptInput};
use custodian_core::subject::SubjectRef;
use custodian_core::ledger::ConsentEvent;
use custodian_store::consent::{NewEvent, Unlinked};
use rand::RngCore;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// One choice to record.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub purpose: String,
    pub given: bool,
    pub source: Source,
}

/// What to record, about whom, under which policy text.
pub struct Request<'a> {
    pub subject: SubjectRef,
    pub choices: Vec<Wanted>,
    pub policy_version: &'a str,
    pub language: &'a str,
    pub ip_truncated: Option<String>,
    /// The collection method named on the receipt.
    pub method: Source,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordedEvent {
    pub id: String,
    pub subject_ref: String,
    pub purpose: String,
    pub given: bool,
    pub source: String,
    pub chain: u16,
    pub seq: i64,
    pub hash: String,
}

pub struct Outcome {
    pub receipt: Receipt,
    pub events: Vec<RecordedEvent>,
}

/// A new id: a time prefix (microseconds, hex) and 8 random bytes. Ids made later sort later,
/// so new rows land at the end of the indexes on them instead of on random pages — fewer
/// pages to write and flush on each commit — while staying unguessable.
pub fn random_id(prefix: &str) -> String {
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    format!("{prefix}_{micros:014x}{}", hex::encode(b))
}

/// Records the choices for the subject and every subject linked to it, and answers the
/// receipt of what was recorded for the subject itself.
pub async fn record(state: &AppState, req: Request<'_>) -> Result<Outcome, ApiError> {
    let policy = state.policy_of(req.policy_version).ok_or_else(|| {
        ApiError::unprocessable(
            "unknown_policy_version",
            format!("unknown policy version `{}`", req.policy_version),
        )
    })?;
    let now = state.clock.now_micros();
    let receipt_id = random_id("rcpt");
    let mut events = Vec::new();
    for subject in state.with_links(req.subject) {
        for want in &req.choices {
            let slot = state.engine.consent_slot(&want.purpose).ok_or_else(|| {
                ApiError::unprocessable(
                    "not_consent_purpose",
                    format!("`{}` is not a consent purpose", want.purpose),
                )
            })?;
            let current = state.consents.status(&subject, slot);
            let unchanged = matches!(
                (current, want.given),
                (ConsentStatus::Given, true) | (ConsentStatus::Withdrawn, false)
            );
            if unchanged {
                continue;
            }
            let notice_hash = policy
                .notice_text(&want.purpose, req.language)
                .map(custodian_policy::notice_hash);
            events.push(NewEvent {
                id: random_id("evt"),
                subject,
                purpose: want.purpose.clone(),
                given: want.given,
                source: want.source,
                policy_version: req.policy_version.to_owned(),
                notice_hash,
                ip_truncated: req.ip_truncated.clone(),
                receipt_id: receipt_id.clone(),
                created_at: now,
                link: Unlinked,
            });
        }
    }
    let appended: Vec<ConsentEvent> = state
        .writer
        .append(events.clone())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    // Durable now: make decisions see it.
    for e in &events {
        if let Some(slot) = state.engine.consent_slot(&e.purpose) {
            state.consents.set(e.subject, slot, e.given);
        }
    }
    let subject_hex = req.subject.to_hex();
    let recorded: Vec<RecordedEvent> = events
        .iter()
        .zip(&appended)
        .map(|(e, a)| RecordedEvent {
            id: a.id.clone(),
            subject_ref: e.subject.to_hex(),
            purpose: e.purpose.clone(),
            given: e.given,
            source: e.source.as_str().to_owned(),
            chain: a.link.chain,
            seq: a.link.seq,
            hash: a.link.hash.clone(),
        })
        .collect();
    let own: Vec<(&NewEvent, &ConsentEvent)> = events
        .iter()
        .zip(&appended)
        .filter(|(e, _)| e.subject == req.subject)
        .collect();
    let receipt = receipt::build(
        policy,
        ReceiptInput {
            receipt_id: &receipt_id,
            at_micros: now,
            source: req.method.as_str(),
            subject_ref: &subject_hex,
            language: req.language,
            jurisdiction: "EU GDPR / UK GDPR",
            choices: own
                .iter()
                .map(|(e, a)| Choice {
                    purpose: &e.purpose,
                    given: e.given,
                    notice_hash: e.notice_hash.as_deref(),
                    event_id: &a.id,
                    event_hash: &a.link.hash,
                })
                .collect(),
        },
    );
    Ok(Outcome {
        receipt,
        events: recorded,
    })
}
