//! Signing in to the console and the sessions that follow: a password checked against its
//! Argon2id hash (the same work for an address nobody has), an optional TOTP second factor
//! (RFC 6238), sessions that end after idle time, and a lock-out with backoff.
//!
//! The lock-out counts failures per *address* (its lookup key, whether or not a user has it),
//! in the store: a new cookie, form, client or node does not reset it, and it answers the same
//! for known and unknown addresses. From the fifth failure in a row the address is locked for
//! 30 s, doubling with each further failure up to 15 minutes (OWASP Authentication Cheat
//! Sheet, "account lockout"; NIST SP 800-63B §5.2.2 rate limiting). A right password ends
//! it. Each client address may also try only so often per window, in memory.

use std::net::IpAddr;

use custodian_core::totp;
use custodian_store::users::{Failures, SessionRow, UserRow};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::context::Context;
use crate::error::AppError;
use crate::limits::Limit;

/// Failures in a row before the first lock.
pub const FREE_FAILURES: i64 = 5;
pub const FIRST_LOCK_MICROS: i64 = 30_000_000;
pub const LONGEST_LOCK_MICROS: i64 = 15 * 60_000_000;
/// Failures older than this are forgotten.
pub const FORGET_FAILURES_MICROS: i64 = 24 * 3_600_000_000;
/// A session ends this long after it began, however busy (OWASP Session Management: an
/// absolute timeout besides the idle one).
pub const ABSOLUTE_MICROS: i64 = 12 * 3_600_000_000;
/// Sign-in attempts per client address per 5 minutes, whatever addresses they try.
pub const PER_CLIENT: Limit = Limit {
    max: 30,
    window_micros: 300_000_000,
};
/// The last-seen time is written at most this often, not on every page.
const TOUCH_EVERY_MICROS: i64 = 15_000_000;

/// Session stages as stored.
pub const STAGE_TOTP: &str = "totp";
pub const STAGE_FULL: &str = "full";

/// A new session's cookie value: 32 random bytes in hex. Only its SHA-256 is stored.
pub(crate) fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What a right password leads to.
pub struct Started {
    /// The session cookie's value.
    pub token: String,
    /// Whether the user still owes a TOTP code before the session is of use.
    pub needs_totp: bool,
    pub user_id: String,
}

fn locked(until: i64, now: i64) -> AppError {
    let minutes = ((until - now) as f64 / 60_000_000.0).ceil().max(1.0) as i64;
    AppError::rate_limited(
        "signin_locked",
        format!("too many failed sign-ins for this address; try again in {minutes} min"),
    )
}

/// Checks the lock of address key `key`.
async fn check_lock(ctx: &Context, key: &str, now: i64) -> Result<(), AppError> {
    match ctx.store.signin_failures(key).await? {
        Some(f) if f.locked_until > now => Err(locked(f.locked_until, now)),
        _ => Ok(()),
    }
}

/// Counts one failure for address key `key`, locking it with backoff past [`FREE_FAILURES`].
async fn fail(ctx: &Context, key: &str, now: i64) -> Result<(), AppError> {
    let before = ctx.store.signin_failures(key).await?;
    let failures = match before {
        Some(f) if now - f.last_failure_at < FORGET_FAILURES_MICROS => f.failures + 1,
        _ => 1,
    };
    let locked_until = if failures >= FREE_FAILURES {
        let doublings = (failures - FREE_FAILURES).min(20) as u32;
        now + FIRST_LOCK_MICROS
            .saturating_mul(1 << doublings)
            .min(LONGEST_LOCK_MICROS)
    } else {
        0
    };
    ctx.store
        .put_signin_failures(
            key,
            Failures {
                failures,
                last_failure_at: now,
                locked_until,
            },
        )
        .await?;
    Ok(())
}

/// Signs in with an address and a password. A wrong address, a wrong password and a
/// disabled user all answer `Unauthenticated` after the same work.
pub async fn sign_in(
    ctx: &Context,
    email: &str,
    password: &str,
    client: Option<IpAddr>,
) -> Result<Started, AppError> {
    let now = ctx.clock.now_micros();
    ctx.limiters.console(client, now)?;
    let key = ctx.users.email_key(email);
    check_lock(ctx, &key, now).await?;
    let user = ctx.store.user_by_email_hash(&key).await?;
    let password = password.to_owned();
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let right = crate::users::blocking(move || match stored {
        Some(h) => custodian_core::staff::verify(&h, &password),
        None => custodian_core::staff::verify_unknown(&password),
    })
    .await?;
    let user = match user {
        Some(u) if right && u.disabled_at.is_none() => u,
        _ => {
            fail(ctx, &key, now).await?;
            return Err(AppError::Unauthenticated);
        }
    };
    ctx.store.clear_signin_failures(&key).await?;
    let needs_totp = user.totp_sealed.is_some();
    let token = new_token();
    let stage = if needs_totp { STAGE_TOTP } else { STAGE_FULL };
    ctx.store
        .insert_session(&token_hash(&token), &user.id, stage)
        .await?;
    Ok(Started {
        token,
        needs_totp,
        user_id: user.id,
    })
}

/// A session as a request finds it.
pub enum Found {
    Active(SessionRow),
    /// It existed but was idle too long (or is too old); it is gone now.
    Expired,
    None,
}

/// The session of cookie value `token`, ending it when idle longer than `idle_micros`.
pub async fn current(ctx: &Context, token: &str, idle_micros: i64) -> Result<Found, AppError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Found::None);
    }
    let hash = token_hash(token);
    let Some(s) = ctx.store.session(&hash).await? else {
        return Ok(Found::None);
    };
    let now = ctx.clock.now_micros();
    if now - s.last_seen_at > idle_micros || now - s.created_at > ABSOLUTE_MICROS {
        ctx.store.delete_session(&hash).await?;
        return Ok(Found::Expired);
    }
    if s.user.disabled_at.is_some() {
        ctx.store.delete_session(&hash).await?;
        return Ok(Found::None);
    }
    if now - s.last_seen_at > TOUCH_EVERY_MICROS {
        ctx.store.touch_session(&hash, now).await?;
    }
    Ok(Found::Active(s))
}

pub async fn sign_out(ctx: &Context, token: &str) -> Result<(), AppError> {
    ctx.store.delete_session(&token_hash(token)).await?;
    Ok(())
}

fn totp_place(id: &str) -> String {
    format!("console_users/{id}/totp")
}

fn open_secret(ctx: &Context, u: &UserRow, sealed: &str) -> Result<Vec<u8>, AppError> {
    let text = ctx
        .users
        .sealer()
        .open(sealed, &totp_place(&u.id))
        .map_err(AppError::internal)?;
    totp::from_base32(&text).ok_or_else(|| AppError::internal("a stored TOTP secret is malformed"))
}

/// The second factor of a session in stage `totp`: a right code (not used before) replaces
/// the session with a full one, under a new cookie value; a wrong one counts as a failed
/// sign-in of the address.
pub async fn second_factor(ctx: &Context, s: &SessionRow, code: &str) -> Result<String, AppError> {
    let now = ctx.clock.now_micros();
    let u = &s.user;
    check_lock(ctx, &u.email_hash, now).await?;
    let sealed = u.totp_sealed.as_deref().ok_or(AppError::Unauthenticated)?;
    let secret = open_secret(ctx, u, sealed)?;
    let step = totp::matching_step(&secret, code, now / 1_000_000, u.totp_last_step);
    let Some(step) = step else {
        fail(ctx, &u.email_hash, now).await?;
        return Err(AppError::Unauthenticated);
    };
    if !ctx.store.use_totp_step(&u.id, step).await? {
        fail(ctx, &u.email_hash, now).await?;
        return Err(AppError::Unauthenticated);
    }
    ctx.store.clear_signin_failures(&u.email_hash).await?;
    ctx.store.delete_session(&s.id_hash).await?;
    let token = new_token();
    ctx.store
        .insert_session(&token_hash(&token), &u.id, STAGE_FULL)
        .await?;
    Ok(token)
}

/// Starts enrolling a second factor: a new secret, kept sealed until a code confirms it.
/// Answers the secret (for the QR code and to type in).
pub async fn begin_totp(ctx: &Context, u: &UserRow) -> Result<Vec<u8>, AppError> {
    let secret = totp::new_secret();
    let sealed = ctx
        .users
        .sealer()
        .seal(&totp::base32(&secret), &totp_place(&u.id));
    ctx.store.set_totp_pending(&u.id, Some(&sealed)).await?;
    Ok(secret)
}

/// The secret being enrolled, if any.
pub fn pending_totp(ctx: &Context, u: &UserRow) -> Result<Option<Vec<u8>>, AppError> {
    u.totp_pending_sealed
        .as_deref()
        .map(|s| open_secret(ctx, u, s))
        .transpose()
}

/// Confirms the enrolment with a code of the new secret; from then on sign-in asks for one.
pub async fn confirm_totp(ctx: &Context, u: &UserRow, code: &str) -> Result<(), AppError> {
    let sealed = u
        .totp_pending_sealed
        .as_deref()
        .ok_or_else(|| AppError::conflict("no_enrolment", "start the enrolment again"))?;
    let secret = open_secret(ctx, u, sealed)?;
    let now = ctx.clock.now_micros() / 1_000_000;
    let step = totp::matching_step(&secret, code, now, None).ok_or_else(|| {
        AppError::invalid("wrong_code", "the code does not match; try the next one")
    })?;
    let resealed = ctx
        .users
        .sealer()
        .seal(&totp::base32(&secret), &totp_place(&u.id));
    ctx.store
        .set_totp(&u.id, Some(&resealed), Some(step))
        .await?;
    Ok(())
}

/// Ends sessions idle longer than `idle_micros` or older than [`ABSOLUTE_MICROS`].
pub async fn housekeeping(ctx: &Context, idle_micros: i64) -> Result<u64, AppError> {
    let now = ctx.clock.now_micros();
    Ok(ctx
        .store
        .delete_stale_sessions(now - idle_micros, now - ABSOLUTE_MICROS)
        .await?)
}
