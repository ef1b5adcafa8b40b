//! Signed, expiring links for people: a request's status page and its access download.
//!
//! A token binds a purpose label, a payload (e.g. a request id) and an expiry with an HMAC
//! under a key derived from the server secret. Links are bearer credentials, so they are
//! long and random-looking, checked in constant time, and expire.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not valid")]
    Invalid,
    #[error("the link has expired")]
    Expired,
}

impl LinkSigner {
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
        mac.update(b"custodian link key");
        LinkSigner {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self, purpose: &str, payload: &str, expires_at: i64) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        for part in [
            purpose.as_bytes(),
            payload.as_bytes(),
            &expires_at.to_be_bytes(),
        ] {
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// A token for `payload` under `purpose`, valid until `expires_at` (Unix seconds).
    pub fn sign(&self, purpose: &str, payload: &str, expires_at: i64) -> String {
        let sig = B64.encode(
            self.mac(purpose, payload, expires_at)
                .finalize()
                .into_bytes(),
        );
        format!("{expires_at}.{sig}")
    }

    pub fn verify(
        &self,
        purpose: &str,
        payload: &str,
        token: &str,
        now_unix: i64,
    ) -> Result<(), LinkError> {
        let (exp, sig) = token.split_once('.').ok_or(LinkError::Invalid)?;
        let expires_at: i64 = exp.parse().map_err(|_| LinkError::Invalid)?;
        let sig = B64.decode(sig).map_err(|_| LinkError::Invalid)?;
        self.mac(purpose, payload, expires_at)
            .verify_slice(&sig)
            .map_err(|_| LinkError::Invalid)?;
        if now_unix >= expires_at {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_bind_purpose_payload_and_expiry() {
        let s = LinkSigner::new(b"secret");
        let t = s.sign("status", "req_1", 100);
        assert_eq!(s.verify("status", "req_1", &t, 99), Ok(()));
        assert_eq!(
            s.verify("status", "req_1", &t, 100),
            Err(LinkError::Expired)
        );
        assert_eq!(s.verify("archive", "req_1", &t, 0), Err(LinkError::Invalid));
        assert_eq!(s.verify("status", "req_2", &t, 0), Err(LinkError::Invalid));
        let longer = t.replacen("100.", "999.", 1);
        assert_eq!(
            s.verify("status", "req_1", &longer, 0),
            Err(LinkError::Invalid),
            "expiry cannot be stretched"
        );
        assert_eq!(
            LinkSigner::new(b"other").verify("status", "req_1", &t, 0),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            s.verify("status", "req_1", "junk", 0),
            Err(LinkError::Invalid)
        );
    }
}
