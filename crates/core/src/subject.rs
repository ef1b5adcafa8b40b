//! Who a decision or a consent is about, and how we refer to them without storing them.
//!
//! A subject arrives as one identifier (an email, a user id, or a device id set by the
//! banner). It is normalised once, here, and then only ever handled as a [`SubjectRef`]: an
//! HMAC of the identifier under the server secret. The store, the logs and the ledger see
//! the reference, never the identifier, and a stolen database alone cannot be reversed by
//! hashing a list of known emails.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The kind of identifier a subject was named by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    Email,
    UserId,
    DeviceId,
}

impl IdKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Email => "email",
            IdKind::UserId => "user_id",
            IdKind::DeviceId => "device_id",
        }
    }
}

/// A validated, normalised subject identifier. Can only be built through [`SubjectId::parse`].
#[derive(Clone, PartialEq, Eq)]
pub struct SubjectId {
    kind: IdKind,
    value: String,
}

/// Why an identifier was refused. Messages never repeat the identifier itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubjectError {
    #[error("the subject identifier is empty")]
    Empty,
    #[error("the subject identifier is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the email address is not valid")]
    BadEmail,
    #[error("a device id is 16 to 128 characters of letters, digits, '-' and '_'")]
    BadDeviceId,
    #[error("a user id may not contain control characters")]
    BadUserId,
}

const MAX_LEN: usize = 254;

impl SubjectId {
    pub fn parse(kind: IdKind, raw: &str) -> Result<Self, SubjectError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(SubjectError::Empty);
        }
        if trimmed.len() > MAX_LEN {
            return Err(SubjectError::TooLong { max: MAX_LEN });
        }
        let value = match kind {
            IdKind::Email => normalise_email(trimmed)?,
            IdKind::DeviceId => {
                let ok = (16..=128).contains(&trimmed.len())
                    && trimmed
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !ok {
                    return Err(SubjectError::BadDeviceId);
                }
                trimmed.to_owned()
            }
            IdKind::UserId => {
                if trimmed.chars().any(char::is_control) {
                    return Err(SubjectError::BadUserId);
                }
                trimmed.to_owned()
            }
        };
        Ok(SubjectId { kind, value })
    }

    pub fn kind(&self) -> IdKind {
        self.kind
    }

    /// The normalised identifier. Callers must not log it.
    pub fn expose(&self) -> &str {
        &self.value
    }
}

impl std::fmt::Debug for SubjectId {
    // Redacted so that a stray `{:?}` in a log line cannot leak personal data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SubjectId({}, <redacted>)", self.kind.as_str())
    }
}

/// Lower-cases the domain and the local part: mail systems in practice treat local parts
/// case-insensitively, and two spellings of one address must be one subject.
fn normalise_email(s: &str) -> Result<String, SubjectError> {
    let (local, domain) = s.rsplit_once('@').ok_or(SubjectError::BadEmail)?;
    let domain_ok = !domain.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@' || c == '<' || c == '>');
    if !domain_ok || !local_ok {
        return Err(SubjectError::BadEmail);
    }
    // One allocation, and no Unicode case tables for the usual all-ASCII address.
    let mut out = String::with_capacity(s.len());
    if local.is_ascii() {
        out.push_str(local);
        out.make_ascii_lowercase();
    } else {
        out.push_str(&local.to_lowercase());
    }
    out.push('@');
    out.extend(domain.chars().map(|c| c.to_ascii_lowercase()));
    Ok(out)
}

/// The keyed hash that stands for a subject everywhere in Custodian's store.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectRef(pub [u8; 32]);

impl SubjectRef {
    pub fn to_hex(&self) -> String {
        crate::hex::lower(&self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(SubjectRef(out))
    }
}

/// Hashes a map key made of subject-reference bytes (and, in some maps, a small index beside
/// them) by folding the bytes' eight-byte words together as they are: references are keyed
/// hashes, uniform and unpredictable without the server's secret, so SipHash — which a key an
/// attacker could choose would need — only costs time (issue 17: the consent memory, the SQLite
/// writer's tail). All the words, not one: references made up in tests differ in a few bytes,
/// wherever those are.
#[derive(Default, Clone, Copy)]
pub struct RefHasher(u64);

impl std::hash::Hasher for RefHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(word);
        }
    }

    fn write_u32(&mut self, index: u32) {
        // An odd multiplier: keys of one subject with different indexes land apart.
        self.0 ^= u64::from(index).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    // An array's length, the same for every key of a map.
    fn write_usize(&mut self, _: usize) {}
}

impl std::hash::BuildHasher for RefHasher {
    type Hasher = RefHasher;
    fn build_hasher(&self) -> RefHasher {
        RefHasher(0)
    }
}

impl std::fmt::Debug for SubjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SubjectRef({})", &self.to_hex()[..12])
    }
}

impl std::fmt::Display for SubjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The server secret that keys subject references. Never leaves the process.
#[derive(Clone)]
pub struct SubjectHasher {
    mac: Hmac<Sha256>,
}

impl SubjectHasher {
    pub fn new(secret: &[u8]) -> Self {
        SubjectHasher {
            mac: Hmac::new_from_slice(secret).expect("HMAC accepts keys of any length"),
        }
    }

    /// The reference of a subject. The kind is bound in so that a user id that happens to
    /// look like an email is a different subject.
    pub fn reference(&self, id: &SubjectId) -> SubjectRef {
        let mut mac = self.mac.clone();
        mac.update(id.kind.as_str().as_bytes());
        mac.update(b":");
        mac.update(id.value.as_bytes());
        SubjectRef(mac.finalize().into_bytes().into())
    }
}

impl std::fmt::Debug for SubjectHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectHasher(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_references_hash_by_all_their_bytes_and_their_index() {
        use std::hash::BuildHasher;
        let mut a = [0u8; 16];
        a[8..].copy_from_slice(&7u64.to_le_bytes());
        assert_eq!(RefHasher::default().hash_one(a), 7);
        let key = |index: u32| ([9u8; 32], index);
        let h = RefHasher::default();
        assert_ne!(h.hash_one(key(0)), h.hash_one(key(1)));
        assert_eq!(h.hash_one(key(3)), h.hash_one(key(3)));
        // Made-up references apart only in their first bytes still hash apart.
        let mut b = [0u8; 32];
        b[0] = 1;
        assert_ne!(h.hash_one(([0u8; 32], 0)), h.hash_one((b, 0)));
    }

    #[test]
    fn emails_are_normalised_so_spellings_meet() {
        let h = SubjectHasher::new(b"k");
        let a = SubjectId::parse(IdKind::Email, " Ada@Example.COM ").unwrap();
        let b = SubjectId::parse(IdKind::Email, "ada@example.com").unwrap();
        assert_eq!(h.reference(&a), h.reference(&b));
    }

    #[test]
    fn kinds_and_secrets_separate_references() {
        let h = SubjectHasher::new(b"k");
        let e = SubjectId::parse(IdKind::UserId, "ada@example.com").unwrap();
        let u = SubjectId::parse(IdKind::Email, "ada@example.com").unwrap();
        assert_ne!(h.reference(&e), h.reference(&u));
        assert_ne!(h.reference(&u), SubjectHasher::new(b"other").reference(&u));
    }

    #[test]
    fn bad_identifiers_are_refused_without_echo() {
        assert_eq!(
            SubjectId::parse(IdKind::Email, "no-at-sign"),
            Err(SubjectError::BadEmail)
        );
        assert_eq!(
            SubjectId::parse(IdKind::Email, "a@b"),
            Err(SubjectError::BadEmail)
        );
        assert_eq!(
            SubjectId::parse(IdKind::Email, "  "),
            Err(SubjectError::Empty)
        );
        assert_eq!(
            SubjectId::parse(IdKind::DeviceId, "short"),
            Err(SubjectError::BadDeviceId)
        );
        let err = SubjectId::parse(IdKind::Email, "secret-person@nowhere").unwrap_err();
        assert!(!err.to_string().contains("secret-person"));
        let id = SubjectId::parse(IdKind::Email, "secret-person@x.org").unwrap();
        assert!(!format!("{id:?}").contains("secret"));
    }

    #[test]
    fn refs_round_trip_through_hex() {
        let r =
            SubjectHasher::new(b"k").reference(&SubjectId::parse(IdKind::UserId, "42").unwrap());
        assert_eq!(SubjectRef::from_hex(&r.to_hex()), Some(r));
        assert_eq!(SubjectRef::from_hex("zz"), None);
    }
}
