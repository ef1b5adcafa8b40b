//! Consent receipts (Kantara CR v1.1 / ISO/IEC TS 27560 fields): the one builder, for a write
//! as it is recorded and for a receipt rebuilt from the ledger. The jurisdiction named on it
//! is the policy's (`policy.receipt_jurisdiction`), of the version the choices were made under.

use custodian_core::ledger::ConsentEvent;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use custodian_core::receipt::{self, Choice, Receipt, ReceiptInput, Terms};
use custodian_policy::Policy;

use crate::context::Context;

/// What a receipt says, besides its choices.
pub struct Header<'a> {
    pub receipt_id: &'a str,
    pub at_micros: i64,
    /// The collection method.
    pub source: &'a str,
    pub subject_ref: &'a str,
    pub language: &'a str,
}

/// Builds a receipt under `policy`, whose receipt terms are `terms` (see [`TermsCache`]).
pub fn build_with(
    policy: &Policy,
    terms: &Terms,
    header: Header<'_>,
    choices: Vec<Choice<'_>>,
) -> Receipt {
    receipt::build_with(
        terms,
        ReceiptInput {
            receipt_id: header.receipt_id,
            at_micros: header.at_micros,
            source: header.source,
            subject_ref: header.subject_ref,
            language: header.language,
            jurisdiction: policy.receipt_jurisdiction(),
            choices,
        },
    )
}

/// Rebuilds receipt `id` from its stored events (all of one subject, the first one's time and
/// source), under the policy version they were recorded under. `language` is the texts'
/// language when known, otherwise that policy's first.
pub fn rebuild(
    ctx: &Context,
    id: &str,
    events: &[&ConsentEvent],
    language: Option<&str>,
) -> Receipt {
    let first = events[0];
    let policy = ctx.policy_of(&first.policy_version).unwrap_or(&ctx.policy);
    let language = language.unwrap_or_else(|| {
        policy
            .policy
            .languages
            .first()
            .map(String::as_str)
            .unwrap_or("en")
    });
    build_with(
        policy,
        &ctx.receipt_terms.of(policy),
        Header {
            receipt_id: id,
            at_micros: first.created_at,
            source: first.source.as_str(),
            subject_ref: &first.subject.to_hex(),
            language,
        },
        events
            .iter()
            .map(|e| Choice {
                purpose: &e.purpose,
                given: e.given,
                notice_hash: e.notice_hash.as_deref(),
                event_id: &e.id,
                event_hash: &e.link.hash,
            })
            .collect(),
    )
}

/// The receipt terms of each policy this process holds, made once per policy: a consent write
/// shares them instead of copying the controllers and purposes into every receipt.
///
/// Keyed by the policy's address, which is sound because a policy a process has held is
/// never freed (`live::Live` keeps every generation), so no other policy can take its place.
#[derive(Default)]
pub struct TermsCache(RwLock<HashMap<usize, Arc<Terms>>>);

impl TermsCache {
    pub fn of(&self, policy: &Policy) -> Arc<Terms> {
        let key = policy as *const Policy as usize;
        if let Some(t) = self.0.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return t.clone();
        }
        let terms = Arc::new(Terms::of(policy));
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, terms.clone());
        terms
    }
}
