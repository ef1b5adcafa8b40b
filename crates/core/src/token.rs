//! Bearer tokens for the admin, DPO and service APIs.
//!
//! A token is 32 random bytes shown once; only its SHA-256 is stored. A fast hash is right
//! here (unlike passwords): the secret has 256 bits of entropy, so there is nothing to
//! brute-force, and the check runs on every service call.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token may do. Routes name the roles they accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including token management.
    Admin,
    /// The privacy team: requests, holds, incidents, reading consent by email.
    Dpo,
    /// The company's own services: decisions, linking, lifecycle events.
    Service,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Dpo => "dpo",
            Role::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "dpo" => Some(Role::Dpo),
            "service" => Some(Role::Service),
            _ => None,
        }
    }
}

/// Prefix that makes leaked tokens easy to find with secret scanners.
pub const TOKEN_PREFIX: &str = "cst_";

/// A new random token, as shown to the operator once.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
    }

    #[test]
    fn roles_round_trip() {
        for r in [Role::Admin, Role::Dpo, Role::Service] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
