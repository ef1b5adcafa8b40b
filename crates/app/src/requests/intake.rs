//! Taking a request in: the input checked, the intake limits applied, the request stored
//! sealed under the requester's key with the mail carrying their verification code — one
//! commit through the intake writer.

use std::net::IpAddr;

use custodian_core::deadline;
use custodian_core::request::{Kind, Status};
use custodian_core::subject::{IdKind, SubjectId, SubjectRef};
use custodian_mail::{Lang, MailContent, OutgoingMail};
use custodian_store::requests::{HistoryEntry, RequestRow};
use rand::Rng;

use super::{code_hash, compute_due, place};
use crate::context::Context;
use crate::error::AppError;

/// A new request as the form or the API submits it.
pub struct Intake {
    pub kind: Kind,
    pub email: String,
    pub details: Option<String>,
    pub country: Option<String>,
    pub language: Option<String>,
    pub customer: Option<String>,
    /// For an objection: the purposes it is about (GDPR Art. 21(1)), among those the policy
    /// lets an objection reach (`rights.objection.reaches`).
    pub purposes: Vec<String>,
}

pub const MAX_DETAILS: usize = 4000;

/// Takes a request in: validates, rate-limits, stores it sealed, and mails the code. The
/// answer is the same whether or not the company knows the address.
pub async fn intake(
    state: &Context,
    input: Intake,
    client: Option<IpAddr>,
) -> Result<RequestRow, AppError> {
    let (id, country) = check(&state.policy, &input)?;
    let objected = match input.kind {
        Kind::Objection => crate::standing::check_objection(state, &input.purposes)?,
        _ if !input.purposes.is_empty() => {
            return Err(AppError::invalid(
                "invalid_field",
                "`purposes` belongs to an objection only",
            ))
        }
        _ => Vec::new(),
    };
    let now = state.clock.now_micros();
    let subject = state.hasher.reference(&id);
    state.limiters.intake(client, &subject, now)?;

    let rid = state.ids.next("req");
    let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
    let language = state.language(input.language.as_deref());
    let rule = deadline::rule_for(&state.policy, country.as_deref());
    let mut row = RequestRow {
        id: rid.clone(),
        kind: input.kind,
        status: Status::AwaitingVerification,
        subject_ref: subject.to_hex(),
        // Sealed by `store_sealed`, once the key is known.
        email_sealed: String::new(),
        details_sealed: None,
        language,
        country,
        jurisdiction: rule.jurisdiction.clone(),
        customer_id: input.customer,
        received_at: now,
        verified_at: None,
        code_hash: Some(code_hash(state, &rid, &code)),
        code_expires_at: Some(
            now + i64::from(state.policy.requests.verification_code_minutes) * 60_000_000,
        ),
        attempts: 0,
        acknowledge_due: now,
        answer_due: now,
        extended_months: 0,
        assignee: None,
        completed_at: None,
        updated_at: now,
        extended_days: 0,
        paused_since: None,
        pause_reason: None,
        paused_days: 0,
    };
    compute_due(state, &mut row, now);
    // Before the request itself: a crash in between leaves rows no request points to, which
    // never come into force.
    if !objected.is_empty() {
        state
            .store
            .insert_objection(&rid, &row.subject_ref, &objected)
            .await?;
    }
    let details = input.details.filter(|d| !d.trim().is_empty());
    store_sealed(
        state,
        &mut row,
        (&id, subject),
        details.as_deref(),
        &code,
        now,
    )
    .await?;
    state.outbox.wake();
    Ok(row)
}

/// The input as the policy allows it: the address parsed, the country known (upper case),
/// the customer one of the policy's, the details within [`MAX_DETAILS`].
/// What a request must be before anything is written: a valid address, a known country and
/// customer, details within their limit. Pure, so the intake's parsing is fuzzed with it.
pub fn check(
    policy: &custodian_policy::Policy,
    input: &Intake,
) -> Result<(SubjectId, Option<String>), AppError> {
    let id = SubjectId::parse(IdKind::Email, &input.email)
        .map_err(|_| AppError::invalid("invalid_email", "the e-mail address is not valid"))?;
    let country = match input
        .country
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(c) => {
            let up = c.to_ascii_uppercase();
            if !custodian_core::country::is_country(&up) {
                return Err(AppError::invalid(
                    "unknown_country",
                    "`country` must be an ISO 3166-1 alpha-2 code",
                ));
            }
            Some(up)
        }
        None => None,
    };
    if let Some(c) = &input.customer {
        if policy.customer(c).is_none() {
            let known: Vec<&str> = policy.customers.iter().map(|c| c.id.as_str()).collect();
            return Err(AppError::invalid(
                "unknown_customer",
                format!("unknown customer; known: {}", known.join(", ")),
            ));
        }
    }
    if input
        .details
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DETAILS)
    {
        return Err(AppError::invalid(
            "details_too_long",
            format!("`details` is limited to {MAX_DETAILS} characters"),
        ));
    }
    Ok((id, country))
}

/// Seals the address and details under the requester's key and writes the request, its first
/// history entry and the code's mail in one commit.
async fn store_sealed(
    state: &Context,
    row: &mut RequestRow,
    (id, subject): (&SubjectId, SubjectRef),
    details: Option<&str>,
    code: &str,
    now: i64,
) -> Result<(), AppError> {
    let rid = row.id.clone();
    let first = HistoryEntry {
        at: now,
        actor: "requester".into(),
        action: "receive".into(),
        from_status: None,
        to_status: row.status.clone(),
        detail_sealed: None,
    };
    let link = format!(
        "{}/privacy-center/verify?request={rid}&code={code}",
        state.public_url
    );
    // The requester is most likely new: make their key. Where keys live in the data's own
    // database it is stored in the request's transaction (one commit, not two); if the
    // subject turns out to have a key already, seal again under that one.
    let mut had_key = false;
    loop {
        let (sealer, key) = if had_key {
            (state.keyring.sealer(&subject).await, None)
        } else if state.keys_beside_data {
            let (sealer, key) = state.keyring.unstored_key(&subject);
            (Ok(sealer), Some(key))
        } else {
            (state.keyring.fresh_sealer(&subject).await, None)
        };
        let sealer = sealer.map_err(AppError::internal)?;
        row.email_sealed = sealer.seal(&subject, &place(&rid, "email"), id.expose());
        row.details_sealed = details.map(|d| sealer.seal(&subject, &place(&rid, "details"), d));
        let mail = OutgoingMail {
            idempotency_key: format!("{rid}/verification_code"),
            to: id.expose().to_owned(),
            lang: Lang::parse_or_en(&row.language),
            request_id: Some(rid.clone()),
            subject: Some(subject),
            content: MailContent::VerificationCode {
                code: code.to_owned(),
                link: link.clone(),
                request_type: row.kind.as_str().to_owned(),
            },
        };
        let sealed = state
            .outbox
            .prepare_with(&mail, now, Some(&sealer))
            .await
            .map_err(AppError::internal)?;
        let written = state
            .intake
            .insert(custodian_store::requests::NewRequest {
                row: row.clone(),
                first: first.clone(),
                mail: Some(sealed),
                key,
            })
            .await;
        match written {
            Ok(()) => return Ok(()),
            Err(e) if e == custodian_store::requests::KEY_CONFLICT && !had_key => had_key = true,
            Err(e) => return Err(AppError::Internal(e)),
        }
    }
}
