//! Encryption of personal fields in Custodian's own store (e-mail addresses of requesters,
//! outgoing mail), so a copy of the database alone reveals no one.
//!
//! XChaCha20-Poly1305 with a random nonce per value, and associated data that binds each
//! ciphertext to its place (table, row, field): a value copied into another row does not
//! decrypt. The key is derived from the server secret; per-subject keys that make erasure a
//! key deletion build on this (see the retention work).

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Seals and opens values under one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value does not open with this key and place (tampered, moved, or its key was erased)")]
    Open,
}

const PREFIX: &str = "x1:";

/// A 256-bit key derived from the server secret for one use (`label`), so one secret yields
/// independent keys and no key serves two purposes.
pub fn derive_key(secret: &[u8], label: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(b"custodian seal key:");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

impl Sealer {
    /// A sealer whose key is derived from the server secret for one purpose (`label`).
    pub fn derived(secret: &[u8], label: &str) -> Self {
        Self::from_key(&derive_key(secret, label))
    }

    pub fn from_key(key: &[u8; 32]) -> Self {
        Sealer {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// Encrypts `plain`, bound to `place` (e.g. `requests/req_123/email`).
    pub fn seal(&self, plain: &str, place: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ct = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: place.as_bytes(),
                },
            )
            .expect("encryption of in-memory data cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("{PREFIX}{}", B64.encode(out))
    }

    pub fn open(&self, sealed: &str, place: &str) -> Result<String, SealError> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .filter(|b| b.len() > 24)
            .ok_or(SealError::Malformed)?;
        let (nonce, ct) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: place.as_bytes(),
                },
            )
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain).map_err(|_| SealError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_place_with_their_key() {
        let s = Sealer::derived(b"secret", "requests");
        let sealed = s.seal("ada@example.com", "requests/r1/email");
        assert!(!sealed.contains("ada"));
        assert_eq!(
            s.open(&sealed, "requests/r1/email").unwrap(),
            "ada@example.com"
        );
        assert_eq!(s.open(&sealed, "requests/r2/email"), Err(SealError::Open));
        assert_eq!(
            Sealer::derived(b"secret", "outbox").open(&sealed, "requests/r1/email"),
            Err(SealError::Open)
        );
        assert_eq!(
            Sealer::derived(b"other", "requests").open(&sealed, "requests/r1/email"),
            Err(SealError::Open)
        );
        assert_ne!(s.seal("same", "p"), s.seal("same", "p"), "random nonces");
        assert_eq!(s.open("garbage", "p"), Err(SealError::Malformed));
        let mut flipped: Vec<char> = sealed.chars().collect();
        flipped[10] = if flipped[10] == 'A' { 'B' } else { 'A' };
        let flipped: String = flipped.into_iter().collect();
        assert!(s.open(&flipped, "requests/r1/email").is_err());
    }
}
