//! Signed one-click unsubscribe tokens (RFC 8058).
//!
//! A token names a subject reference (never the email), a purpose and an expiry, and carries
//! an HMAC under a key derived from the server secret. It is verified in constant time; a
//! forged, altered or expired token changes nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::subject::SubjectRef;

const VERSION: &str = "v1";

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub subject: SubjectRef,
    pub purpose: String,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the link is not valid")]
    Invalid,
    #[error("the link has expired")]
    Expired,
}

/// Signs and checks tokens with a key derived from the server secret, so the key used for
/// subject references is never used for anything else.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(b"custodian unsubscribe key");
        Signer {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(VERSION.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac
    }

    pub fn sign(&self, u: &Unsubscribe) -> String {
        let payload = B64.encode(format!(
            "{}:{}:{}",
            u.subject.to_hex(),
            u.purpose,
            u.expires_at
        ));
        let sig = B64.encode(self.mac(&payload).finalize().into_bytes());
        format!("{VERSION}.{payload}.{sig}")
    }

    /// Checks the signature first (so nothing about a forged token is parsed), then expiry.
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<Unsubscribe, TokenError> {
        let mut parts = token.split('.');
        let (Some(VERSION), Some(payload), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        let sig = B64.decode(sig).map_err(|_| TokenError::Invalid)?;
        self.mac(payload)
            .verify_slice(&sig)
            .map_err(|_| TokenError::Invalid)?;
        let text = String::from_utf8(B64.decode(payload).map_err(|_| TokenError::Invalid)?)
            .map_err(|_| TokenError::Invalid)?;
        let mut fields = text.splitn(3, ':');
        let subject = fields
            .next()
            .and_then(SubjectRef::from_hex)
            .ok_or(TokenError::Invalid)?;
        let purpose = fields.next().ok_or(TokenError::Invalid)?.to_owned();
        let expires_at: i64 = fields
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or(TokenError::Invalid)?;
        if now_unix >= expires_at {
            return Err(TokenError::Expired);
        }
        Ok(Unsubscribe {
            subject,
            purpose,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Unsubscribe {
        Unsubscribe {
            subject: SubjectRef([7; 32]),
            purpose: "marketing".into(),
            expires_at: 2_000,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let s = Signer::new(b"secret");
        let t = s.sign(&sample());
        assert_eq!(s.verify(&t, 1_999), Ok(sample()));
        assert_eq!(s.verify(&t, 2_000), Err(TokenError::Expired));
    }

    #[test]
    fn another_secret_or_a_swapped_payload_is_refused() {
        let t = Signer::new(b"secret").sign(&sample());
        assert_eq!(
            Signer::new(b"other").verify(&t, 0),
            Err(TokenError::Invalid)
        );
        let mut other = sample();
        other.purpose = "analytics".into();
        let t2 = Signer::new(b"secret").sign(&other);
        let forged = format!(
            "{}.{}",
            &t[..t.rfind('.').unwrap()],
            t2.rsplit('.').next().unwrap()
        );
        assert_eq!(
            Signer::new(b"secret").verify(&forged, 0),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            Signer::new(b"secret").verify("v1.x.y", 0),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            Signer::new(b"secret").verify("", 0),
            Err(TokenError::Invalid)
        );
    }

    proptest! {
        #[test]
        fn any_single_character_change_is_refused(pos in 0usize..200, c in proptest::char::range('0', 'z')) {
            let s = Signer::new(b"secret");
            let t = s.sign(&sample());
            let pos = pos % t.len();
            let mut altered: Vec<char> = t.chars().collect();
            prop_assume!(altered[pos] != c);
            altered[pos] = c;
            let altered: String = altered.into_iter().collect();
            prop_assert!(s.verify(&altered, 0).is_err());
        }
    }
}
