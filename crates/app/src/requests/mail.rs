//! Mail about requests: sealed outbox rows to the requester (under their key, or the
//! server's for what must outlive it) and to others, queued with the change they announce or
//! on their own; the idempotency key makes a retry of the same step queue nothing.

use custodian_core::subject::SubjectRef;
use custodian_mail::{Lang, MailContent, OutgoingMail};
use custodian_store::outbox::NewMail;
use custodian_store::requests::RequestRow;

use super::{email_of, subject_of};
use crate::context::Context;
use crate::error::AppError;

/// Queues a message to the requester; the key makes a retry of the same step queue nothing.
pub async fn mail_requester(
    state: &Context,
    r: &RequestRow,
    step: &str,
    content: MailContent,
) -> Result<(), AppError> {
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
    state: &Context,
    r: &RequestRow,
    step: &str,
    content: MailContent,
    sealing: Sealing,
) -> Result<(), AppError> {
    if let Some(mail) = requester_mail(state, r, step, content, sealing).await? {
        queue(state, &mail).await?;
    }
    Ok(())
}

/// The sealed outbox row of a message to the requester about `step`, to be queued with the
/// change it announces ([`super::Planned::commit`]). `None` when the address was erased with the
/// subject's data: nothing is left to write to.
pub async fn requester_mail(
    state: &Context,
    r: &RequestRow,
    step: &str,
    content: MailContent,
    sealing: Sealing,
) -> Result<Option<NewMail>, AppError> {
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
    state: &Context,
    to: &str,
    subject: Option<SubjectRef>,
    lang: Lang,
    request_id: Option<&str>,
    key: &str,
    content: MailContent,
) -> Result<(), AppError> {
    let mail = prepare_mail(state, to, subject, lang, request_id, key, content).await?;
    queue(state, &mail).await
}

/// The sealed outbox row of a message, for a caller that queues it itself.
pub async fn prepare_mail(
    state: &Context,
    to: &str,
    subject: Option<SubjectRef>,
    lang: Lang,
    request_id: Option<&str>,
    key: &str,
    content: MailContent,
) -> Result<NewMail, AppError> {
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
        .map_err(|e| AppError::Internal(e.to_string()))
}

async fn queue(state: &Context, mail: &NewMail) -> Result<(), AppError> {
    if state.store.enqueue_mail(mail).await? {
        state.outbox.wake();
    }
    Ok(())
}
