//! Consent use cases: record a caller's choices (banner, API, widget, import, sign-up,
//! survey), the privacy centre's form, one-click unsubscribe and device links; read a
//! subject's current choices back; rebuild a receipt.
//!
//! Each goes through [`recording::record`], the one write path to the ledger. The rules that
//! are the policy's — which sources a caller may name, what a GPC signal does — come from
//! `custodian_core::consent`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use custodian_core::clock::rfc3339;
use custodian_core::consent::{honour_gpc, truncate_ip, Source, Wanted};
use custodian_core::decide::{ConsentLookup, ConsentStatus};
use custodian_core::receipt::Receipt;
use custodian_core::subject::{SubjectId, SubjectRef};
use custodian_core::unsubscribe::{TokenError, Unsubscribe};
use serde::Serialize;

use crate::context::Context;
use crate::error::AppError;
use crate::receipts;
use crate::recording::{self, Outcome, RecordedEvent};

/// Choices a caller sends (`POST /v1/consent`), not yet checked against the policy.
pub struct CallerChoices<'a> {
    pub subject: SubjectRef,
    /// `purpose id → given?`.
    pub choices: &'a BTreeMap<String, bool>,
    /// The policy version whose texts were shown.
    pub policy_version: &'a str,
    /// The source the caller names; only [`Source::CALLER_CHOSEN`] are accepted.
    pub source: &'a str,
    pub language: Option<&'a str>,
    /// Whether the browser sent a Global Privacy Control signal.
    pub gpc: bool,
    pub client: Option<IpAddr>,
    /// The identifier `subject` was made from, for the services a withdrawal goes on to.
    pub identity: Option<&'a SubjectId>,
}

/// What was recorded, and whether a GPC signal turned purposes off.
pub struct Recorded {
    pub outcome: Outcome,
    pub gpc_honoured: bool,
}

/// Records a caller's choices. The policy version and purposes are checked once, by
/// [`recording::record`].
pub async fn record(ctx: &Context, input: CallerChoices<'_>) -> Result<Recorded, AppError> {
    // A device id needs no token, so anyone can write under made-up ones: such writes are
    // limited per client (`limits::Limiters::consent`); a token's holder is accountable.
    if input
        .identity
        .is_some_and(|id| id.kind() == custodian_core::subject::IdKind::DeviceId)
    {
        ctx.limiters.consent(input.client, ctx.clock.now_micros())?;
    }
    let source = Source::parse_caller_chosen(input.source).ok_or_else(|| {
        let names: Vec<&str> = Source::CALLER_CHOSEN.iter().map(|s| s.as_str()).collect();
        let (last, rest) = names.split_last().expect("the list is not empty");
        AppError::invalid(
            "unknown_source",
            format!(
                "unknown source `{}`; use {} or {last}",
                input.source.chars().take(40).collect::<String>(),
                rest.join(", ")
            ),
        )
    })?;
    if input.choices.is_empty() {
        return Err(AppError::invalid(
            "no_choices",
            "`choices` names no purpose",
        ));
    }
    let language = ctx.language(input.language);
    let mut choices: Vec<Wanted> = input
        .choices
        .iter()
        .map(|(p, g)| Wanted {
            purpose: p.clone(),
            given: *g,
            source,
        })
        .collect();
    let gpc_honoured = input.gpc && honour_gpc(&mut choices, ctx.engine.gpc_purposes());
    let outcome = recording::record(
        ctx,
        recording::Request {
            subject: input.subject,
            choices,
            policy_version: input.policy_version,
            language: &language,
            ip_truncated: input.client.map(truncate_ip),
            method: source,
            identity: input.identity,
        },
    )
    .await?;
    Ok(Recorded {
        outcome,
        gpc_honoured,
    })
}

/// Records the privacy centre's form for `subject` (a browser or a confirmed address):
/// `choices` are checked purposes, GPC applied as for the API. Answers the choices recorded
/// (for the banner's cookie) with the outcome.
pub async fn record_privacy_centre(
    ctx: &Context,
    subject: SubjectRef,
    chosen: Vec<(String, bool)>,
    gpc: bool,
    language: &str,
    client: Option<IpAddr>,
) -> Result<(Vec<Wanted>, Option<Outcome>), AppError> {
    ctx.limiters.consent(client, ctx.clock.now_micros())?;
    let mut choices: Vec<Wanted> = chosen
        .into_iter()
        .map(|(purpose, given)| Wanted {
            purpose,
            given,
            source: Source::PrivacyCenter,
        })
        .collect();
    if gpc {
        honour_gpc(&mut choices, ctx.engine.gpc_purposes());
    }
    if choices.is_empty() {
        return Ok((choices, None));
    }
    let version = ctx.policy.policy.version.clone();
    let outcome = recording::record(
        ctx,
        recording::Request {
            subject,
            choices: choices.clone(),
            policy_version: &version,
            language,
            ip_truncated: client.map(truncate_ip),
            method: Source::PrivacyCenter,
            identity: None,
        },
    )
    .await?;
    Ok((choices, Some(outcome)))
}

/// Checks an unsubscribe link: signed by us, not expired, naming a purpose the policy has.
pub fn check_unsubscribe(ctx: &Context, token: &str) -> Result<Unsubscribe, AppError> {
    let u = ctx
        .signer
        .verify(token, ctx.clock.now_micros() / 1_000_000)
        .map_err(|e| match e {
            TokenError::Invalid => {
                AppError::malformed("invalid_link", "this unsubscribe link is not valid")
            }
            TokenError::Expired => AppError::gone(
                "link_expired",
                "this unsubscribe link has expired; use the privacy centre instead",
            ),
        })?;
    if ctx.engine.consent_slot(&u.purpose).is_none() {
        return Err(AppError::malformed(
            "invalid_link",
            "this unsubscribe link names a purpose the policy no longer has",
        ));
    }
    Ok(u)
}

/// One-click unsubscribe (RFC 8058) of a checked link ([`check_unsubscribe`]): withdraws its
/// purpose at once; repeating it changes nothing more.
pub async fn unsubscribe(ctx: &Context, u: &Unsubscribe) -> Result<(), AppError> {
    let version = ctx.policy.policy.version.clone();
    let lang = ctx.language(None);
    recording::record(
        ctx,
        recording::Request {
            subject: u.subject,
            choices: vec![Wanted {
                purpose: u.purpose.clone(),
                given: false,
                source: Source::Unsubscribe,
            }],
            policy_version: &version,
            language: &lang,
            ip_truncated: None,
            method: Source::Unsubscribe,
            identity: None,
        },
    )
    .await?;
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PurposeState {
    pub purpose: String,
    /// `true` given, `false` refused or withdrawn, `null` never asked.
    pub given: Option<bool>,
    pub at: Option<String>,
    pub policy_version: Option<String>,
    pub source: Option<String>,
    pub notice_hash: Option<String>,
    /// The purpose changed since the choice was made: ask again.
    pub must_reask: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    pub policy_version: String,
    pub must_reask: bool,
    pub purposes: Vec<PurposeState>,
}

/// Current consent of one subject: one entry per consent purpose, with what must be asked
/// again because the purpose changed since the choice. Answered from memory, as decisions
/// are (`ConsentMemory`): no store round trip.
pub async fn view(ctx: &Context, subject: &SubjectRef) -> Result<ConsentView, AppError> {
    let held = ctx.consents.choices(subject);
    let active = &ctx.policy.policy.version;
    let purposes: Vec<PurposeState> = ctx
        .engine
        .consent_purposes()
        .iter()
        .map(|p| {
            let slot = ctx.engine.consent_slot(p);
            match held.iter().find(|c| Some(c.slot) == slot) {
                Some(c) => PurposeState {
                    purpose: p.clone(),
                    given: Some(c.given),
                    at: Some(rfc3339(c.at)),
                    must_reask: &*c.policy_version != active.as_str()
                        && ctx
                            .reask
                            .get(&*c.policy_version)
                            .is_some_and(|s| s.contains(p)),
                    policy_version: Some(c.policy_version.to_string()),
                    source: Some(c.source.as_str().to_owned()),
                    notice_hash: c.notice_hash.as_deref().map(str::to_owned),
                },
                None => nothing_chosen(p),
            }
        })
        .collect();
    Ok(ConsentView {
        policy_version: active.clone(),
        must_reask: purposes.iter().any(|p| p.must_reask),
        purposes,
    })
}

/// The view of a subject that never chose: every purpose not asked yet.
pub fn view_of_nobody(ctx: &Context) -> ConsentView {
    ConsentView {
        policy_version: ctx.policy.policy.version.clone(),
        must_reask: false,
        purposes: ctx
            .engine
            .consent_purposes()
            .iter()
            .map(|p| nothing_chosen(p))
            .collect(),
    }
}

fn nothing_chosen(purpose: &str) -> PurposeState {
    PurposeState {
        purpose: purpose.to_owned(),
        given: None,
        at: None,
        policy_version: None,
        source: None,
        notice_hash: None,
        must_reask: false,
    }
}

/// Joins a device to an account: for each purpose the newer choice of the two wins and is
/// recorded on the other; later choices on either apply to both. Answers the events written.
pub async fn link(
    ctx: &Context,
    device: SubjectRef,
    account: SubjectRef,
) -> Result<Vec<RecordedEvent>, AppError> {
    let (d, a) = (device, account);
    let now = ctx.clock.now_micros();
    let (dev_rows, acc_rows) = (
        ctx.store.consent_state_of(&d).await?,
        ctx.store.consent_state_of(&a).await?,
    );
    // For each purpose, the side whose choice is newer wins; write it to the other side.
    let mut carry: Vec<(SubjectRef, Wanted, String)> = Vec::new();
    for p in ctx.engine.consent_purposes() {
        let dv = dev_rows.iter().find(|r| &r.purpose == p);
        let av = acc_rows.iter().find(|r| &r.purpose == p);
        let (target, winner) = match (dv, av) {
            (Some(x), Some(y)) if x.given == y.given => continue,
            (Some(x), Some(y)) if x.updated_at >= y.updated_at => (a, x),
            (Some(_), Some(y)) => (d, y),
            (Some(x), None) => (a, x),
            (None, Some(y)) => (d, y),
            (None, None) => continue,
        };
        carry.push((
            target,
            Wanted {
                purpose: p.clone(),
                given: winner.given,
                source: Source::Link,
            },
            winner.policy_version.clone(),
        ));
    }
    ctx.store.link_subjects(&d, &a, now).await?;
    let mut events = Vec::new();
    let lang = ctx.language(None);
    for (target, want, version) in carry {
        let version = if ctx.policy_of(&version).is_some() {
            version
        } else {
            ctx.policy.policy.version.clone()
        };
        // Recorded before the link is live in memory, so it is written to `target` alone.
        let out = recording::record(
            ctx,
            recording::Request {
                subject: target,
                choices: vec![want],
                policy_version: &version,
                language: &lang,
                ip_truncated: None,
                method: Source::Link,
                identity: None,
            },
        )
        .await?;
        events.extend(out.events);
    }
    ctx.add_link(d, a);
    Ok(events)
}

/// A consent receipt rebuilt from the ledger events that carry its id.
pub async fn receipt(ctx: &Context, id: &str) -> Result<Receipt, AppError> {
    let events = ctx.store.receipt_events(id).await?;
    let first = events.first().ok_or(AppError::NotFound)?;
    let own: Vec<_> = events
        .iter()
        .filter(|e| e.subject == first.subject)
        .collect();
    Ok(receipts::rebuild(ctx, id, &own, None))
}

/// Whether a subject's consent for `purpose` is currently given (for pages rendered here).
pub fn is_given(ctx: &Context, subject: &SubjectRef, purpose: &str) -> Option<bool> {
    let slot = ctx.engine.consent_slot(purpose)?;
    match ctx.consents.status(subject, slot) {
        ConsentStatus::Given => Some(true),
        ConsentStatus::Withdrawn => Some(false),
        ConsentStatus::Unknown => None,
    }
}
