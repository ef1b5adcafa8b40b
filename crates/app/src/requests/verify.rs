//! Verifying the requester's e-mail with the code they were sent, and routing a verified
//! request: to the customer who controls the data, on to approval, or approved at once when
//! the policy says so.

use custodian_core::request::{Action, Status};
use custodian_mail::{Lang, MailContent};
use custodian_store::requests::RequestRow;

use super::{
    code_hash, compute_due, details_of, due_day, email_of, execute, load, plan, prepare_mail,
    requester_mail, status_link, subject_of, transition, Sealing,
};
use crate::context::Context;
use crate::error::AppError;

/// Checks the requester's code. Wrong codes count; too many, or an expired code, abandon the
/// request. A right code verifies it, acknowledges it, and routes or approves it.
pub async fn verify(state: &Context, id: &str, code: &str) -> Result<RequestRow, AppError> {
    let row = load(state, id).await?;
    let now = state.clock.now_micros();
    match Some(row.status) {
        Some(Status::AwaitingVerification) => {}
        Some(Status::Abandoned) => {
            return Err(AppError::Gone {
                code: "request_abandoned",
                detail: "this request was closed unverified; please submit a new one".into(),
            })
        }
        _ => {
            return Err(AppError::Conflict {
                code: "already_verified",
                detail: "this request is already verified".into(),
            })
        }
    }
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
        return Err(AppError::Gone {
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
        return Err(wrong_code(state, &row).await);
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
        due_date: due_day(state, &p.new),
    };
    let mail = requester_mail(state, &p.new, "received", content, Sealing::SubjectKey).await?;
    let verified = p.commit(state, mail.into_iter().collect()).await?;
    after_verification(state, verified).await
}

/// Routes a verified request: to the customer who controls the data, or on to approval.
async fn after_verification(state: &Context, r: RequestRow) -> Result<RequestRow, AppError> {
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

/// A wrong code: counted, and once there are too many the request is abandoned. Answers the
/// error to give the requester (or the failure to record the attempt).
async fn wrong_code(state: &Context, row: &RequestRow) -> AppError {
    let max = i64::from(state.policy.requests.verification_attempts);
    let attempts = row.attempts + 1;
    let (action, note) = if attempts >= max {
        (Action::Abandon, "too many wrong codes")
    } else {
        (Action::Note, "wrong verification code")
    };
    let actor = if attempts >= max {
        "system"
    } else {
        "requester"
    };
    if let Err(e) = transition(state, row, action, actor, Some(note), |r| {
        r.attempts = attempts
    })
    .await
    {
        return e;
    }
    if attempts >= max {
        return AppError::rate_limited(
            "too_many_attempts",
            "too many wrong codes; please submit a new request",
        );
    }
    AppError::Invalid {
        code: "invalid_code",
        detail: format!("the code is wrong; {} attempt(s) left", max - attempts),
        extra: Some(serde_json::json!({ "attempts_left": max - attempts })),
    }
}
