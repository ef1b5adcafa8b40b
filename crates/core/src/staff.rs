//! The privacy team's console users: their roles, and their passwords as Argon2id hashes.
//!
//! Passwords are hashed with Argon2id (RFC 9106) at the parameters OWASP's Password Storage
//! Cheat Sheet recommends (19 MiB, 2 passes, 1 lane), stored as PHC strings so parameters can
//! rise later without breaking stored hashes. Hashing is slow on purpose; callers run it off
//! the async threads (`spawn_blocking`). [`verify_unknown`] spends the same time for an
//! address nobody has, so the answer's timing does not tell whether a user exists.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

/// What a console user may do; each role may do everything the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Reads every page; changes nothing.
    Viewer,
    /// Works requests: approves, denies, extends, pauses, assigns, notes, completes, retries.
    Dpo,
    /// Also manages users, tokens and datastores.
    Admin,
}

impl StaffRole {
    pub const ALL: [StaffRole; 3] = [StaffRole::Viewer, StaffRole::Dpo, StaffRole::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Viewer => "viewer",
            StaffRole::Dpo => "dpo",
            StaffRole::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<StaffRole> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: StaffRole) -> bool {
        self >= needed
    }
}

/// Passwords shorter than this are refused (NIST SP 800-63B §5.1.1.2: at least 8; we ask
/// for more since the console guards personal data of many people).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longer ones are refused too: Argon2 takes any length, but a megabyte "password" is a
/// denial of service, not a secret.
pub const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("a password has at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("the stored password hash is malformed")]
    Malformed,
}

/// Checks a new password's length (NIST SP 800-63B: length, not composition rules).
pub fn check_new(password: &str) -> Result<(), PasswordError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        Err(PasswordError::TooShort)
    } else if n > MAX_PASSWORD_CHARS {
        Err(PasswordError::TooLong)
    } else {
        Ok(())
    }
}

/// The Argon2id hash of `password` as a PHC string, with a fresh random salt. Slow.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    check_new(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Malformed)
}

/// Whether `password` matches the stored PHC string (compared in constant time). Slow.
pub fn verify(stored: &str, password: &str) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return verify_unknown(password);
    }
    match PasswordHash::new(stored) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends what [`verify`] spends, for an address no user has; always `false`.
pub fn verify_unknown(password: &str) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY
        .get_or_init(|| hash("not a password anyone has, ever").expect("a long enough constant"));
    let cut: String = password.chars().take(MAX_PASSWORD_CHARS).collect();
    if let Ok(h) = PasswordHash::new(stored) {
        let _ = Argon2::default().verify_password(cut.as_bytes(), &h);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_what_they_allow() {
        assert!(StaffRole::Admin.allows(StaffRole::Dpo));
        assert!(StaffRole::Dpo.allows(StaffRole::Viewer));
        assert!(!StaffRole::Viewer.allows(StaffRole::Dpo));
        assert!(!StaffRole::Dpo.allows(StaffRole::Admin));
        for r in StaffRole::ALL {
            assert_eq!(StaffRole::parse(r.as_str()), Some(r));
        }
        assert_eq!(StaffRole::parse("service"), None);
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify(&h, "correct horse battery"));
        assert!(!verify(&h, "correct horse battery "));
        assert!(!verify("garbage", "correct horse battery"));
        assert_ne!(h, hash("correct horse battery").unwrap(), "salted");
        assert!(!verify_unknown("correct horse battery"));
        assert_eq!(hash("short"), Err(PasswordError::TooShort));
        assert_eq!(hash(&"x".repeat(300)), Err(PasswordError::TooLong));
    }
}
