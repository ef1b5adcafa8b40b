//! Data-subject requests: intake, verification of the requester's e-mail, the DPO's actions,
//! and what each request does to Custodian's own data.
//!
//! Every change goes through [`transition`], which applies the state machine of
//! `custodian_core::request`, writes the new row and its history entry together, and refuses
//! when someone else changed the request first. Mail is queued in the outbox in the same
//! step; the outbox worker delivers it.

pub mod company;
pub mod execute;
pub mod export;
pub mod limits;

use std::net::IpAddr;

use custodian_core::deadline::{self, Pause};
use custodian_core::keys::is_subject_sealed;
use custodian_core::request::{self, Action, Kind, Status};
use custodian_core::subject::{IdKind, SubjectId, SubjectRef};
use custodian_mail::{Lang, MailContent, OutgoingMail};
use custodian_store::keyring::KeyringError;
use custodian_store::outbox::NewMail;
use custodian_store::requests::{HistoryEntry, RequestRow};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

use crate::error::ApiError;
use crate::recording::random_id;
use crate::state::AppState;

/// How long status and download links work.
pub const STATUS_LINK_DAYS: i64 = 90;
pub const DOWNLOAD_LINK_DAYS: i64 = 14;

/// A new request as the form or the API submits it.
pub struct Intake {
    pub kind: Kind,
    pub email: String,
    pub details: Option<String>,
    pub country: Option<String>,
    pub language: Option<String>,
    pub customer: Option<String>,
}

pub const MAX_DETAILS: usize = 4000;

use custodian_core::clock::timestamp as ts;

fn code_hash(state: &AppState, id: &str, code: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&state.code_key).expect("any key length");
    mac.update(id.as_bytes());
    mac.update(b":");
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn place(id: &str, field: &str) -> String {
    format!("requests/{id}/{field}")
}

/// A due time as people read it, in the policy calendar's time zone.
pub fn human_time(state: &AppState, micros: i64) -> String {
    ts(micros)
        .to_zoned(state.calendar.time_zone().clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// Recomputes the due times of a request from its receipt, verification and extension.
fn compute_due(state: &AppState, r: &mut RequestRow, now: i64) {
    let rule = deadline::rule_for(&state.policy, r.country.as_deref());
    // Stop-the-clock (UK GDPR): the time spent waiting for identity does not count.
    let pauses: Vec<Pause> = if rule.stop_clock_for_identity {
        vec![Pause {
            from: ts(r.received_at),
            to: Some(ts(r.verified_at.unwrap_or(now))),
        }]
    } else {
        Vec::new()
    };
    let extension = (r.extended_months > 0).then(|| jiff::Span::new().months(r.extended_months));
    let due = deadline::due(
        ts(r.received_at),
        &rule,
        &state.calendar,
        &pauses,
        extension.as_ref(),
        ts(now),
    );
    r.acknowledge_due = due.acknowledge_by.as_microsecond();
    r.answer_due = due.answer_by.as_microsecond();
}

/// The most months a request of this jurisdiction may be extended by.
pub fn max_extension_months(state: &AppState, r: &RequestRow) -> i64 {
    let rule = deadline::rule_for(&state.policy, r.country.as_deref());
    let s = rule.extension_max;
    i64::from(s.get_years()) * 12 + i64::from(s.get_months()) + (i64::from(s.get_days()) + 29) / 30
}

pub fn status_link(state: &AppState, id: &str) -> String {
    let exp = state.clock.now_micros() / 1_000_000 + STATUS_LINK_DAYS * 86_400;
    format!(
        "{}/requests/{id}?t={}",
        state.public_url,
        state.links.sign("status", id, exp)
    )
}

pub fn download_link(state: &AppState, id: &str) -> String {
    let exp = state.clock.now_micros() / 1_000_000 + DOWNLOAD_LINK_DAYS * 86_400;
    format!(
        "{}/v1/requests/{id}/archive?t={}",
        state.public_url,
        state.links.sign("archive", id, exp)
    )
}

/// Opens a sealed field: under the subject's key (`None` once the subject is erased), or,
/// for values written before keys were per subject, under the server's request key.
pub async fn open_sealed(state: &AppState, sealed: &str, place: &str) -> Option<String> {
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
    state: &AppState,
    r: &RequestRow,
    place: &str,
    plain: &str,
) -> Result<String, ApiError> {
    let subject = subject_of(r)?;
    state
        .keyring
        .seal(&subject, place, plain)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}

pub fn subject_of(r: &RequestRow) -> Result<SubjectRef, ApiError> {
    SubjectRef::from_hex(&r.subject_ref)
        .ok_or_else(|| ApiError::Internal(format!("request {} has a malformed subject", r.id)))
}

pub async fn email_of(state: &AppState, r: &RequestRow) -> Option<String> {
    open_sealed(state, &r.email_sealed, &place(&r.id, "email")).await
}

pub async fn details_of(state: &AppState, r: &RequestRow) -> Option<String> {
    match &r.details_sealed {
        Some(d) => open_sealed(state, d, &place(&r.id, "details")).await,
        None => None,
    }
}

pub async fn open_detail(state: &AppState, id: &str, h: &HistoryEntry) -> Option<String> {
    match &h.detail_sealed {
        Some(d) => open_sealed(state, d, &place(id, "history")).await,
        None => None,
    }
}

/// Queues a message to the requester; the key makes a retry of the same step queue nothing.
pub async fn mail_requester(
    state: &AppState,
    r: &RequestRow,
    step: &str,
    content: MailContent,
) -> Result<(), ApiError> {
    mail_requester_sealed(state, r, step, content, Sealing::SubjectKey).await
}

/// How a queued message is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealing {
    /// Under the subject's key: erasing the subject erases the message.
    SubjectKey,
    /// Under the server's key: for what must outlive the subject's key — the confirmation
    /// that their data was erased, and the note of what was kept (legal holds), which the DPO
    /// must still be able to show.
    ServerKey,
}

pub async fn mail_requester_sealed(
    state: &AppState,
    r: &RequestRow,
    step: &str,
    content: MailContent,
    sealing: Sealing,
) -> Result<(), ApiError> {
    if let Some(mail) = requester_mail(state, r, step, content, sealing).await? {
        queue(state, &mail).await?;
    }
    Ok(())
}

/// The sealed outbox row of a message to the requester about `step`, to be queued with the
/// change it announces ([`Planned::commit`]). `None` when the address was erased with the
/// subject's data: nothing is left to write to.
pub async fn requester_mail(
    state: &AppState,
    r: &RequestRow,
    step: &str,
    content: MailContent,
    sealing: Sealing,
) -> Result<Option<NewMail>, ApiError> {
    let Some(to) = email_of(state, r).await else {
        return Ok(None);
    };
    let subject = match sealing {
        Sealing::SubjectKey => Some(subject_of(r)?),
        Sealing::ServerKey => None,
    };
    let mail = prepare_mail(
        state,
        &to,
        subject,
        Lang::parse_or_en(&r.language),
        Some(&r.id),
        &format!("{}/{step}", r.id),
        content,
    )
    .await?;
    Ok(Some(mail))
}

/// Queues a message. `subject` is whose personal data it carries (sealed under their key).
pub async fn mail_to(
    state: &AppState,
    to: &str,
    subject: Option<SubjectRef>,
    lang: Lang,
    request_id: Option<&str>,
    key: &str,
    content: MailContent,
) -> Result<(), ApiError> {
    let mail = prepare_mail(state, to, subject, lang, request_id, key, content).await?;
    queue(state, &mail).await
}

/// The sealed outbox row of a message, for a caller that queues it itself.
pub async fn prepare_mail(
    state: &AppState,
    to: &str,
    subject: Option<SubjectRef>,
    lang: Lang,
    request_id: Option<&str>,
    key: &str,
    content: MailContent,
) -> Result<NewMail, ApiError> {
    let mail = OutgoingMail {
        idempotency_key: key.to_owned(),
        to: to.to_owned(),
        lang,
        request_id: request_id.map(str::to_owned),
        subject,
        content,
    };
    state
        .outbox
        .prepare(&mail, state.clock.now_micros())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}

async fn queue(state: &AppState, mail: &NewMail) -> Result<(), ApiError> {
    if state.store.enqueue_mail(mail).await? {
        state.outbox.wake();
    }
    Ok(())
}

/// Takes a request in: validates, rate-limits, stores it sealed, and mails the code. The
/// answer is the same whether or not the company knows the address.
pub async fn intake(
    state: &AppState,
    input: Intake,
    client: Option<IpAddr>,
) -> Result<RequestRow, ApiError> {
    let id = SubjectId::parse(IdKind::Email, &input.email)
        .map_err(|_| ApiError::unprocessable("invalid_email", "the e-mail address is not valid"))?;
    let country = match input
        .country
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        Some(c) => {
            let up = c.to_ascii_uppercase();
            if !custodian_core::country::is_country(&up) {
                return Err(ApiError::unprocessable(
                    "unknown_country",
                    "`country` must be an ISO 3166-1 alpha-2 code",
                ));
            }
            Some(up)
        }
        None => None,
    };
    if let Some(c) = &input.customer {
        if state.policy.customer(c).is_none() {
            let known: Vec<&str> = state
                .policy
                .customers
                .iter()
                .map(|c| c.id.as_str())
                .collect();
            return Err(ApiError::unprocessable(
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
        return Err(ApiError::unprocessable(
            "details_too_long",
            format!("`details` is limited to {MAX_DETAILS} characters"),
        ));
    }
    let now = state.clock.now_micros();
    let subject = state.hasher.reference(&id);
    if let Some(ip) = client {
        if !state
            .limiter
            .allow(&format!("ip:{ip}"), state.limits.per_client, now)
        {
            return Err(ApiError::TooManyRequests {
                code: "rate_limited",
                detail: "too many requests from this client; try again in a minute".into(),
            });
        }
    }
    if !state.limiter.allow(
        &format!("subject:{}", subject.to_hex()),
        state.limits.per_address,
        now,
    ) {
        return Err(ApiError::TooManyRequests {
            code: "rate_limited",
            detail: "too many requests for this address; try again later".into(),
        });
    }

    let rid = random_id("req");
    let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
    let language = crate::routes::consent::pick_language(state, input.language.as_deref());
    let rule = deadline::rule_for(&state.policy, country.as_deref());
    let mut row = RequestRow {
        id: rid.clone(),
        kind: input.kind,
        status: Status::AwaitingVerification,
        subject_ref: subject.to_hex(),
        // Sealed below, once the key is known.
        email_sealed: String::new(),
        details_sealed: None,
        language: language.clone(),
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
    };
    compute_due(state, &mut row, now);
    let first = HistoryEntry {
        at: now,
        actor: "requester".into(),
        action: "receive".into(),
        from_status: None,
        to_status: row.status,
        detail_sealed: None,
    };
    let link = format!(
        "{}/privacy-center/verify?request={rid}&code={code}",
        state.public_url
    );
    let details = input.details.filter(|d| !d.trim().is_empty());
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
        let sealer = sealer.map_err(|e| ApiError::Internal(e.to_string()))?;
        row.email_sealed = sealer.seal(&subject, &place(&rid, "email"), id.expose());
        row.details_sealed = details
            .as_deref()
            .map(|d| sealer.seal(&subject, &place(&rid, "details"), d));
        let mail = OutgoingMail {
            idempotency_key: format!("{rid}/verification_code"),
            to: id.expose().to_owned(),
            lang: Lang::parse_or_en(&language),
            request_id: Some(rid.clone()),
            subject: Some(subject),
            content: MailContent::VerificationCode {
                code: code.clone(),
                link: link.clone(),
                request_type: row.kind.as_str().to_owned(),
            },
        };
        let sealed = state
            .outbox
            .prepare_with(&mail, now, Some(&sealer))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
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
            Ok(()) => break,
            Err(e) if e == custodian_store::requests::KEY_CONFLICT && !had_key => had_key = true,
            Err(e) => return Err(ApiError::Internal(e)),
        }
    }
    state.outbox.wake();
    Ok(row)
}

/// Applies `action` to the request as last seen, with `change` for the other fields.
pub async fn transition(
    state: &AppState,
    seen: &RequestRow,
    action: Action,
    actor: &str,
    detail: Option<&str>,
    change: impl FnOnce(&mut RequestRow),
) -> Result<RequestRow, ApiError> {
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
    state: &AppState,
    seen: &RequestRow,
    action: Action,
    actor: &str,
    detail: Option<&str>,
    sealing: Sealing,
    change: impl FnOnce(&mut RequestRow),
) -> Result<RequestRow, ApiError> {
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
    state: &AppState,
    seen: &RequestRow,
    action: Action,
    actor: &str,
    detail: Option<&str>,
    sealing: Sealing,
    change: impl FnOnce(&mut RequestRow),
) -> Result<Planned, ApiError> {
    let from = seen.status;
    let to = request::next(from, action).map_err(|e| ApiError::Conflict {
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
        state: &AppState,
        mails: Vec<NewMail>,
    ) -> Result<RequestRow, ApiError> {
        if !state
            .store
            .update_request(&self.seen, &self.new, Some(&self.entry), &mails)
            .await?
        {
            return Err(ApiError::Conflict {
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

pub async fn load(state: &AppState, id: &str) -> Result<RequestRow, ApiError> {
    state.store.request(id).await?.ok_or(ApiError::NotFound)
}

/// Checks the requester's code. Wrong codes count; too many, or an expired code, abandon the
/// request. A right code verifies it, acknowledges it, and routes or approves it.
pub async fn verify(state: &AppState, id: &str, code: &str) -> Result<RequestRow, ApiError> {
    let row = load(state, id).await?;
    let now = state.clock.now_micros();
    match Some(row.status) {
        Some(Status::AwaitingVerification) => {}
        Some(Status::Abandoned) => {
            return Err(ApiError::Gone {
                code: "request_abandoned",
                detail: "this request was closed unverified; please submit a new one".into(),
            })
        }
        _ => {
            return Err(ApiError::Conflict {
                code: "already_verified",
                detail: "this request is already verified".into(),
            })
        }
    }
    let max = i64::from(state.policy.requests.verification_attempts);
    if row.code_expires_at.is_some_and(|t| now >= t) {
        transition(
            state,
            &row,
            Action::Abandon,
            "system",
            Some("verification code expired"),
            |_| {},
        )
        .await?;
        return Err(ApiError::Gone {
            code: "code_expired",
            detail: "the code has expired; please submit a new request".into(),
        });
    }
    let expected = row.code_hash.as_deref().unwrap_or_default();
    let given = code_hash(state, id, code.trim());
    let matches = expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !matches {
        let attempts = row.attempts + 1;
        if attempts >= max {
            transition(
                state,
                &row,
                Action::Abandon,
                "system",
                Some("too many wrong codes"),
                |r| r.attempts = attempts,
            )
            .await?;
            return Err(ApiError::TooManyRequests {
                code: "too_many_attempts",
                detail: "too many wrong codes; please submit a new request".into(),
            });
        }
        transition(
            state,
            &row,
            Action::Note,
            "requester",
            Some("wrong verification code"),
            |r| r.attempts = attempts,
        )
        .await?;
        return Err(ApiError::Unprocessable {
            code: "invalid_code",
            detail: format!("the code is wrong; {} attempt(s) left", max - attempts),
            extra: Some(serde_json::json!({ "attempts_left": max - attempts })),
        });
    }
    let p = plan(
        state,
        &row,
        Action::Verify,
        "requester",
        None,
        Sealing::SubjectKey,
        |r| {
            r.verified_at = Some(now);
            r.code_hash = None;
            r.code_expires_at = None;
            compute_due(state, r, now);
        },
    )
    .await?;
    let content = MailContent::RequestReceived {
        request_id: p.new.id.clone(),
        request_type: p.new.kind.as_str().to_owned(),
        status_link: status_link(state, &p.new.id),
        due_date: human_time(state, p.new.answer_due),
    };
    let mail = requester_mail(state, &p.new, "received", content, Sealing::SubjectKey).await?;
    let verified = p.commit(state, mail.into_iter().collect()).await?;
    after_verification(state, verified).await
}

/// Routes a verified request: to the customer who controls the data, or on to approval.
async fn after_verification(state: &AppState, r: RequestRow) -> Result<RequestRow, ApiError> {
    if let Some(customer) = r
        .customer_id
        .as_deref()
        .and_then(|c| state.policy.customer(c))
        .cloned()
    {
        let p = plan(
            state,
            &r,
            Action::Forward,
            "system",
            Some(&format!("forwarded to {}", customer.name)),
            Sealing::SubjectKey,
            |_| {},
        )
        .await?;
        let requester = email_of(state, &p.new).await.unwrap_or_default();
        let details = details_of(state, &p.new).await.unwrap_or_default();
        // It carries the requester's address and details: sealed under their key.
        let to_customer = prepare_mail(
            state,
            &customer.contact_email,
            Some(subject_of(&p.new)?),
            Lang::En,
            Some(&p.new.id),
            &format!("{}/forward_to_customer", p.new.id),
            MailContent::ForwardedToCustomer {
                request_id: p.new.id.clone(),
                request_type: p.new.kind.as_str().to_owned(),
                requester,
                details,
                organisation: state.policy.policy.organisation.clone(),
            },
        )
        .await?;
        let content = MailContent::RequestForwarded {
            request_id: p.new.id.clone(),
            customer_name: customer.name.clone(),
            customer_contact: customer.contact_email.clone(),
        };
        let to_requester =
            requester_mail(state, &p.new, "forwarded", content, Sealing::SubjectKey).await?;
        let mails = std::iter::once(to_customer).chain(to_requester).collect();
        return p.commit(state, mails).await;
    }
    if state
        .policy
        .requests
        .auto_approve
        .iter()
        .any(|k| k == r.kind.as_str())
    {
        let approved = transition(
            state,
            &r,
            Action::Approve,
            "system",
            Some("approved automatically by policy"),
            |_| {},
        )
        .await?;
        return execute::run(state, approved).await;
    }
    Ok(r)
}

/// What a DPO sends with an action.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// Required for `deny` and `extend`; told to the requester.
    pub reason: Option<String>,
    /// For `extend`: how many months (1 up to the jurisdiction's maximum left).
    pub months: Option<i64>,
    /// For `assign`: who handles it.
    pub to: Option<String>,
    /// For `note`.
    pub text: Option<String>,
}

fn required(v: &Option<String>, name: &str) -> Result<String, ApiError> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(2000).collect())
        .ok_or_else(|| {
            ApiError::unprocessable("missing_field", format!("this action needs `{name}`"))
        })
}

/// A DPO's action on a request.
pub async fn act(
    state: &AppState,
    id: &str,
    action: Action,
    body: &ActionBody,
    actor: &str,
) -> Result<RequestRow, ApiError> {
    let row = load(state, id).await?;
    match action {
        Action::Approve => {
            let approved = transition(state, &row, Action::Approve, actor, None, |_| {}).await?;
            execute::run(state, approved).await
        }
        Action::Deny => {
            let reason = required(&body.reason, "reason")?;
            let p = plan(
                state,
                &row,
                Action::Deny,
                actor,
                Some(&reason),
                Sealing::SubjectKey,
                |r| r.completed_at = Some(state.clock.now_micros()),
            )
            .await?;
            let content = MailContent::RequestDenied {
                request_id: p.new.id.clone(),
                reason,
            };
            let mail =
                requester_mail(state, &p.new, "denied", content, Sealing::SubjectKey).await?;
            p.commit(state, mail.into_iter().collect()).await
        }
        Action::Extend => {
            let reason = required(&body.reason, "reason")?;
            let left = max_extension_months(state, &row) - row.extended_months;
            let months = body.months.unwrap_or(1);
            if months < 1 || months > left {
                return Err(ApiError::unprocessable(
                    "invalid_extension",
                    format!("the request may be extended by 1 to {left} more month(s)"),
                ));
            }
            let now = state.clock.now_micros();
            let p = plan(
                state,
                &row,
                Action::Extend,
                actor,
                Some(&format!("+{months} month(s): {reason}")),
                Sealing::SubjectKey,
                |r| {
                    r.extended_months += months;
                    compute_due(state, r, now);
                },
            )
            .await?;
            let step = format!("extended/{}", p.new.extended_months);
            let content = MailContent::RequestExtended {
                request_id: p.new.id.clone(),
                reason,
                new_due_date: human_time(state, p.new.answer_due),
            };
            let mail = requester_mail(state, &p.new, &step, content, Sealing::SubjectKey).await?;
            p.commit(state, mail.into_iter().collect()).await
        }
        Action::Assign => {
            let to = required(&body.to, "to")?;
            transition(
                state,
                &row,
                Action::Assign,
                actor,
                Some(&format!("assigned to {to}")),
                |r| r.assignee = Some(to.clone()),
            )
            .await
        }
        Action::Note => {
            let text = required(&body.text, "text")?;
            transition(state, &row, Action::Note, actor, Some(&text), |_| {}).await
        }
        // Access and erasure complete only once the company's datastores have answered.
        Action::Complete
            if row.kind == Kind::Access || row.kind == Kind::Erasure =>
        {
            execute::finish(state, row, actor).await
        }
        Action::Complete => execute::complete(state, &row, actor, None).await,
        other => Err(ApiError::unprocessable(
            "unknown_action",
            format!("`{}` is not an action of the DPO", other.as_str()),
        )),
    }
}
