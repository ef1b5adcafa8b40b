//! Signing in to the privacy centre with an e-mail address: a 6-digit code mailed to it, and
//! the limits that keep the form from flooding anyone's inbox — per client and per address,
//! as request intake, and a number of tries per code as the policy allows for requests.

use std::net::IpAddr;

use custodian_core::subject::{SubjectId, SubjectRef};
use custodian_mail::{Lang, MailContent};
use rand::Rng;

use crate::context::Context;
use crate::error::AppError;
use crate::requests::limits::Limit;

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
    if !within_limits(ctx, client, &subject) {
        return Err(AppError::rate_limited(
            "rate_limited",
            "too many sign-in codes; try again later",
        ));
    }
    let nonce = ctx.ids.next("signin");
    let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
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

/// Sign-in codes are limited like request intake: per client and per address.
fn within_limits(ctx: &Context, client: Option<IpAddr>, subject: &SubjectRef) -> bool {
    let now = ctx.clock.now_micros();
    let client_ok = client.is_none_or(|ip| {
        ctx.limiter.allow(
            &format!("privacy-center ip:{ip}"),
            ctx.limits.per_client,
            now,
        )
    });
    client_ok
        && ctx.limiter.allow(
            &format!("privacy-center subject:{}", subject.to_hex()),
            ctx.limits.per_address,
            now,
        )
}

/// Counts one try of the code of sign-in `nonce`; answers whether it may still be checked
/// (the policy's `verification_attempts` per code's lifetime).
pub fn may_try(ctx: &Context, nonce: &str) -> bool {
    let minutes = i64::from(ctx.policy.requests.verification_code_minutes);
    let attempts = Limit {
        max: ctx.policy.requests.verification_attempts,
        window_micros: minutes * 60_000_000,
    };
    ctx.limiter.allow(
        &format!("privacy-center code:{nonce}"),
        attempts,
        ctx.clock.now_micros(),
    )
}
