//! Recording consent: the one write path behind the banner, the privacy centre, the API,
//! one-click unsubscribe and device linking.
//!
//! It turns choices into ledger events (only for choices that change something), appends them
//! through the group-commit writer, and only after they are durable updates the in-memory
//! state that decisions read — so an answer never runs ahead of the ledger, and a decision
//! made after the answer sees the new choice. A withdrawal, once durable, is planned as a
//! connector run for the services that take withdrawals (`notices.rs`), delivered by a
//! background pass.

pub use custodian_core::consent::Wanted;
use custodian_core::consent::{NewChoice, Source};
use custodian_core::decide::{ConsentLookup, ConsentStatus};
use custodian_core::json_out::JsonOut;
use custodian_core::ledger::ConsentEvent;
use custodian_core::receipt::{Choice, Receipt};
use custodian_core::subject::{SubjectId, SubjectRef};
use custodian_policy::Policy;
use custodian_store::consent::{NewEvent, Unlinked};
use serde::Serialize;

use crate::context::Context;
use crate::error::AppError;
use crate::receipts::{self, Header};

/// What to record, about whom, under which policy text.
pub struct Request<'a> {
    pub subject: SubjectRef,
    pub choices: Vec<Wanted>,
    pub policy_version: &'a str,
    pub language: &'a str,
    pub ip_truncated: Option<String>,
    /// The collection method named on the receipt.
    pub method: Source,
    /// The identifier the subject was named by, when the caller gave one (the API): a
    /// withdrawal is passed on with it to the services that take withdrawals (`notices`).
    pub identity: Option<&'a SubjectId>,
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

impl RecordedEvent {
    /// The event as JSON, the same bytes as its `Serialize` gives, written by hand for the
    /// consent write's answer (`custodian_core::json_out`).
    pub fn write_json(&self, o: &mut JsonOut<'_>) {
        o.raw("{\"id\":");
        o.str(&self.id);
        o.raw(",\"subject_ref\":");
        o.str(&self.subject_ref);
        o.raw(",\"purpose\":");
        o.str(&self.purpose);
        o.raw(",\"given\":");
        o.bool(self.given);
        o.raw(",\"source\":");
        o.str(&self.source);
        o.raw(",\"chain\":");
        o.int(self.chain.into());
        o.raw(",\"seq\":");
        o.int(self.seq);
        o.raw(",\"hash\":");
        o.str(&self.hash);
        o.raw("}");
    }
}

pub struct Outcome {
    pub receipt: Receipt,
    pub events: Vec<RecordedEvent>,
}

/// Records the choices for the subject and every subject linked to it, and answers the
/// receipt of what was recorded for the subject itself. The policy version and the purposes
/// are checked here, once, for every entry point.
pub async fn record(state: &Context, req: Request<'_>) -> Result<Outcome, AppError> {
    let policy = known_version(state, req.policy_version)?;
    let slots = consent_slots(state, &req.choices)?;
    // A subject declared under the minimum age (an anonymous device's age gate included)
    // keeps nothing but that flag (GDPR Art. 8; docs/retention.md): no consent is recorded,
    // and every decision about it is refused anyway. One atomic load while there is none.
    if state.retention.minors.contains(&req.subject) {
        return Err(AppError::conflict(
            "under_minimum_age",
            "this subject was declared under the minimum age: nothing is recorded about it",
        ));
    }
    let now = state.clock.now_micros();
    let receipt_id = state.ids.next("rcpt");
    let mut events = Vec::new();
    for subject in state.with_links(req.subject) {
        for (want, &slot) in req.choices.iter().zip(&slots) {
            let current = state.consents.status(&subject, slot);
            let unchanged = matches!(
                (current, want.given),
                (ConsentStatus::Given, true) | (ConsentStatus::Withdrawn, false)
            );
            if unchanged {
                continue;
            }
            let notice_hash =
                state
                    .notice_hashes
                    .of(policy, req.policy_version, &want.purpose, req.language);
            events.push(NewEvent {
                id: state.ids.next("evt"),
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
    // The events go to the writer by value and come back linked: everything after works on
    // what was appended (one copy of each event fewer per write).
    let appended: Vec<ConsentEvent> = state
        .writer
        .append(events)
        .await
        .map_err(AppError::internal)?;
    // Durable now: make decisions see it.
    for e in &appended {
        if let Some(slot) = state.engine.consent_slot(&e.purpose) {
            state.consents.record(
                e.subject,
                slot,
                NewChoice {
                    given: e.given,
                    at: e.created_at,
                    source: e.source,
                    policy_version: &e.policy_version,
                    notice_hash: e.notice_hash.as_deref(),
                },
            );
        }
        // This node's own events need not be read back by the catch-up round (`consent_sync`).
        state.consent_seen.applied_locally(e.link.chain, e.link.seq);
    }
    // Withdrawals go on to the company's services in the background (never failing this).
    crate::notices::consent_withdrawn(state, req.subject, req.identity, &appended).await;
    let terms = state.receipt_terms.of(policy);
    let receipt = receipt_of(policy, &terms, &req, &receipt_id, now, &appended);
    let recorded: Vec<RecordedEvent> = appended
        .into_iter()
        .map(|a| RecordedEvent {
            subject_ref: a.subject.to_hex(),
            source: a.source.as_str().to_owned(),
            id: a.id,
            purpose: a.purpose,
            given: a.given,
            chain: a.link.chain,
            seq: a.link.seq,
            hash: a.link.hash,
        })
        .collect();
    Ok(Outcome {
        receipt,
        events: recorded,
    })
}

/// The hash of each notice text a choice was made under, by (version, purpose, language),
/// made once: hashing the text on every event cost a write about 5 % of its instructions.
/// A short list searched in place, so a lookup builds no key (issue 17).
#[derive(Default)]
pub struct NoticeHashes(std::sync::RwLock<Vec<NoticeHash>>);

struct NoticeHash {
    version: String,
    purpose: String,
    language: String,
    hash: Option<String>,
}

impl NoticeHashes {
    /// The hash of the notice `policy` (of `version`) shows for `purpose` in `language`.
    fn of(&self, policy: &Policy, version: &str, purpose: &str, language: &str) -> Option<String> {
        let known = |n: &&NoticeHash| {
            n.version == version && n.purpose == purpose && n.language == language
        };
        if let Some(n) = self
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(known)
        {
            return n.hash.clone();
        }
        let hash = policy
            .notice_text(purpose, language)
            .map(custodian_policy::notice_hash);
        let mut list = self.0.write().unwrap_or_else(|e| e.into_inner());
        // Bounded by versions x purposes x languages; the bound guards against a caller
        // inventing languages (such a caller's hashes are made each time, not kept).
        if list.len() < 256 && !list.iter().any(|n| known(&n)) {
            list.push(NoticeHash {
                version: version.to_owned(),
                purpose: purpose.to_owned(),
                language: language.to_owned(),
                hash: hash.clone(),
            });
        }
        hash
    }
}

/// The policy of `version`: the active one or an earlier one on record.
fn known_version<'a>(state: &'a Context, version: &str) -> Result<&'a Policy, AppError> {
    state.policy_of(version).ok_or_else(|| {
        AppError::invalid(
            "unknown_policy_version",
            format!(
                "unknown policy version `{}`; the active version is `{}`",
                version.chars().take(40).collect::<String>(),
                state.policy.policy.version
            ),
        )
    })
}

/// The consent slot of each choice's purpose; a purpose that is unknown, or rests on another
/// basis than consent, is refused with the purposes that can be chosen.
fn consent_slots(state: &Context, choices: &[Wanted]) -> Result<Vec<usize>, AppError> {
    let mut slots = Vec::with_capacity(choices.len());
    for c in choices {
        let id = &c.purpose;
        if let Some(slot) = state.engine.consent_slot(id) {
            slots.push(slot);
            continue;
        }
        let (code, why) = match state.policy.purpose(id) {
            Some(p) => (
                "not_consent_purpose",
                format!(
                    "`{id}` rests on {}, not consent; it cannot be chosen",
                    p.legal_basis.label().to_lowercase()
                ),
            ),
            None => (
                "unknown_purpose",
                format!(
                    "unknown purpose `{}`",
                    id.chars().take(40).collect::<String>()
                ),
            ),
        };
        let names: Vec<&str> = state
            .engine
            .consent_purposes()
            .iter()
            .map(String::as_str)
            .collect();
        return Err(AppError::Invalid {
            code,
            detail: format!("{why}; consent purposes: {}", names.join(", ")),
            extra: Some(serde_json::json!({ "known": names })),
        });
    }
    Ok(slots)
}

/// The receipt of what was recorded for the subject itself (not the subjects linked to it).
fn receipt_of(
    policy: &Policy,
    terms: &custodian_core::receipt::Terms,
    req: &Request<'_>,
    receipt_id: &str,
    now: i64,
    appended: &[ConsentEvent],
) -> Receipt {
    let subject_hex = req.subject.to_hex();
    let own = appended
        .iter()
        .filter(|a| a.subject == req.subject)
        .map(|a| Choice {
            purpose: &a.purpose,
            given: a.given,
            notice_hash: a.notice_hash.as_deref(),
            event_id: &a.id,
            event_hash: &a.link.hash,
        })
        .collect();
    receipts::build_with(
        policy,
        terms,
        Header {
            receipt_id,
            at_micros: now,
            source: req.method.as_str(),
            subject_ref: &subject_hex,
            language: req.language,
        },
        own,
    )
}
