//! Signing in to the privacy centre with an e-mail address: a 6-digit code mailed to it, the
//! limits that keep the form from flooding anyone's inbox (per client and per address, as
//! request intake), and the session a right code opens.
//!
//! A sign-in waiting for its code is a row in the store (`store::privacy_center`): its tries
//! are counted there — the policy's `verification_attempts` per code, never per a value the
//! browser could change — and it goes when the code is right, so the pending cookie cannot be
//! replayed for a second session. A session is a row found by the hash of its cookie's random
//! value; signing out deletes it, on every node at once.

use std::net::IpAddr;

use custodian_core::subject::{SubjectId, SubjectRef};
use custodian_mail::{Lang, MailContent};
use rand::Rng;

use crate::context::Context;
use crate::error::AppError;
use crate::sessions::{new_token, token_hash};

/// How long a privacy-centre session lasts from sign-in, however busy.
pub const SESSION_MICROS: i64 = 30 * 60_000_000;

/// A code on its way: the browser keeps the subject, the nonce and a signature over the code
/// (never the code itself) until the person types it.
pub struct Started {
    pub subject: SubjectRef,
    pub nonce: String,
    pub code: String,
}

/// Mails a code to `id`. `page` is the sign-in page's path (with its language); the mailed
/// link opens it with the code filled in.
pub async fn start(
    ctx: &Context,
    id: &SubjectId,
    client: Option<IpAddr>,
    lang: &str,
    page: &str,
) -> Result<Started, AppError> {
    let subject = ctx.hasher.reference(id);
    let now = ctx.clock.now_micros();
    ctx.limiters.sign_in_code(client, &subject, now)?;
    let nonce = ctx.ids.next("signin");
    let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
    let minutes = i64::from(ctx.policy.requests.verification_code_minutes);
    ctx.store
        .insert_privacy_signin(&nonce, &subject.to_hex(), now + minutes * 60_000_000)
        .await?;
    let link = format!("{}{page}&code={code}", ctx.public_url);
    crate::requests::mail_to(
        ctx,
        id.expose(),
        Some(subject),
        Lang::parse_or_en(lang),
        None,
        &format!("privacy-center/sign-in/{nonce}"),
        MailContent::SignInCode {
            code: code.clone(),
            link,
        },
    )
    .await?;
    Ok(Started {
        subject,
        nonce,
        code,
    })
}

/// Counts one try of the code of sign-in `nonce` from `client`; answers the subject the
/// sign-in was started for, to check the code against. Gone when no such sign-in is waiting
/// (used, expired or never made); refused past the policy's `verification_attempts`.
pub async fn try_code(
    ctx: &Context,
    nonce: &str,
    client: Option<IpAddr>,
) -> Result<SubjectRef, AppError> {
    ctx.limiters.code_try(client, ctx.clock.now_micros())?;
    let tried = ctx.store.try_privacy_signin(nonce).await?.ok_or_else(|| {
        AppError::gone("no_pending_signin", "no sign-in is waiting for this code")
    })?;
    if tried.tries > i64::from(ctx.policy.requests.verification_attempts) {
        return Err(AppError::rate_limited(
            "too_many_attempts",
            "too many wrong codes; ask for a new one",
        ));
    }
    SubjectRef::from_hex(&tried.subject_ref)
        .ok_or_else(|| AppError::internal("a pending sign-in names no subject reference"))
}

/// Uses sign-in `nonce` once its code was right and opens a session; answers the session
/// cookie's value (only its hash is stored). Gone when it was used meanwhile.
pub async fn finish(ctx: &Context, nonce: &str) -> Result<String, AppError> {
    let token = new_token();
    let until = ctx.clock.now_micros() + SESSION_MICROS;
    if !ctx
        .store
        .finish_privacy_signin(nonce, &token_hash(&token), until)
        .await?
    {
        return Err(AppError::gone(
            "no_pending_signin",
            "this sign-in was already used",
        ));
    }
    Ok(token)
}

/// The subject of the session whose cookie holds `token`, while it lasts.
pub async fn session(ctx: &Context, token: &str) -> Result<Option<SubjectRef>, AppError> {
    Ok(ctx
        .store
        .privacy_session(&token_hash(token))
        .await?
        .and_then(|s| SubjectRef::from_hex(&s)))
}

/// Ends the session whose cookie holds `token`.
pub async fn sign_out(ctx: &Context, token: &str) -> Result<(), AppError> {
    Ok(ctx.store.end_privacy_session(&token_hash(token)).await?)
}

/// Removes expired sign-ins and sessions.
pub async fn housekeeping(ctx: &Context) -> Result<u64, AppError> {
    Ok(ctx.store.purge_privacy_signins().await?)
}
