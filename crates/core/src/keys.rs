//! Per-subject data keys, so that erasing a subject is deleting one key: every copy of the
//! subject's sealed fields, backups included, turns to noise.
//!
//! Each subject gets a random 256-bit data key. It is stored only *wrapped* — sealed under the
//! master key given to `serve` (a file or `CUSTODIAN_MASTER_KEY`), with the subject reference
//! as associated data so a wrapped key moved to another subject does not open. Fields are
//! sealed under the data key with [`crate::seal::Sealer`], the subject and the field's place
//! bound in as associated data. Rotation re-wraps every data key under a new master key; the
//! fields themselves never change.

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::seal::{SealError, Sealer};
use crate::subject::SubjectRef;

/// The key that wraps every data key. Never stored by Custodian; `Debug` is redacted.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
    sealer: Sealer,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a master key is 32 bytes written as 64 hex digits or 43 base64 characters")]
    MalformedMaster,
    #[error(
        "the wrapped key does not open with this master key (another master key, or tampered)"
    )]
    Unwrap,
}

impl MasterKey {
    /// Reads a key as written by [`MasterKey::generate`]: hex or base64 (padding and
    /// surrounding whitespace allowed).
    pub fn parse(text: &str) -> Result<MasterKey, KeyError> {
        let t = text.trim();
        let bytes = hex::decode(t)
            .ok()
            .or_else(|| B64.decode(t.trim_end_matches('=')).ok())
            .ok_or(KeyError::MalformedMaster)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::MalformedMaster)?;
        Ok(MasterKey::from_bytes(key))
    }

    pub fn from_bytes(key: [u8; 32]) -> MasterKey {
        MasterKey {
            sealer: Sealer::from_key(&key),
            key,
        }
    }

    /// A new random master key, as text to keep in a file or secret store.
    pub fn generate() -> String {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        hex::encode(k)
    }

    /// A short fingerprint that names the key (stored with each wrapped key, so rotation
    /// knows which keys are done) without revealing it.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"custodian master key id:");
        h.update(self.key);
        hex::encode(&h.finalize()[..8])
    }

    pub fn wrap(&self, subject: &SubjectRef, key: &DataKey) -> String {
        self.sealer.seal(&hex::encode(key.0), &wrap_place(subject))
    }

    pub fn unwrap(&self, subject: &SubjectRef, wrapped: &str) -> Result<DataKey, KeyError> {
        let hexed = self
            .sealer
            .open(wrapped, &wrap_place(subject))
            .map_err(|_| KeyError::Unwrap)?;
        let bytes = hex::decode(hexed).map_err(|_| KeyError::Unwrap)?;
        Ok(DataKey(bytes.try_into().map_err(|_| KeyError::Unwrap)?))
    }
}

fn wrap_place(subject: &SubjectRef) -> String {
    format!("subject-key/{}", subject.to_hex())
}

/// One subject's data key.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey(pub [u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    pub fn generate() -> DataKey {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        DataKey(k)
    }

    /// A sealer for this subject's fields.
    pub fn sealer(&self) -> SubjectSealer {
        SubjectSealer {
            sealer: Sealer::from_key(&self.0),
        }
    }
}

/// Seals one subject's fields, binding the subject and the field's place.
#[derive(Clone)]
pub struct SubjectSealer {
    sealer: Sealer,
}

/// Sealed values under a subject key start with this, so readers tell them from values
/// sealed under the server-wide key (written before keys were per subject).
pub const SUBJECT_PREFIX: &str = "k1:";

impl SubjectSealer {
    /// `k1:<subject reference>:<ciphertext>`: the value names its subject, so whoever reads
    /// it (the outbox worker, an export) finds the key without knowing whose value it is.
    pub fn seal(&self, subject: &SubjectRef, place: &str, plain: &str) -> String {
        format!(
            "{SUBJECT_PREFIX}{}:{}",
            subject.to_hex(),
            self.sealer.seal(plain, &field_place(subject, place))
        )
    }

    pub fn open(
        &self,
        subject: &SubjectRef,
        place: &str,
        sealed: &str,
    ) -> Result<String, SealError> {
        let (named, inner) = split_subject_sealed(sealed).ok_or(SealError::Malformed)?;
        if named != *subject {
            return Err(SealError::Open);
        }
        self.sealer.open(inner, &field_place(subject, place))
    }
}

/// Whether a stored value was sealed under a subject key.
pub fn is_subject_sealed(value: &str) -> bool {
    value.starts_with(SUBJECT_PREFIX)
}

/// The subject a value sealed under a subject key belongs to.
pub fn subject_of(sealed: &str) -> Option<SubjectRef> {
    split_subject_sealed(sealed).map(|(s, _)| s)
}

fn split_subject_sealed(sealed: &str) -> Option<(SubjectRef, &str)> {
    let (hexed, inner) = sealed.strip_prefix(SUBJECT_PREFIX)?.split_once(':')?;
    Some((SubjectRef::from_hex(hexed)?, inner))
}

fn field_place(subject: &SubjectRef, place: &str) -> String {
    format!("{}/{place}", subject.to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_and_seal_bind_subject_and_field() {
        let master = MasterKey::parse(&MasterKey::generate()).unwrap();
        let a = SubjectRef([1; 32]);
        let b = SubjectRef([2; 32]);
        let key = DataKey::generate();
        let wrapped = master.wrap(&a, &key);
        assert_eq!(master.unwrap(&a, &wrapped).unwrap(), key);
        assert_eq!(master.unwrap(&b, &wrapped), Err(KeyError::Unwrap));
        let other = MasterKey::parse(&MasterKey::generate()).unwrap();
        assert_eq!(other.unwrap(&a, &wrapped), Err(KeyError::Unwrap));
        assert_ne!(master.id(), other.id());

        let s = key.sealer();
        let sealed = s.seal(&a, "requests/r1/email", "ada@example.com");
        assert!(is_subject_sealed(&sealed) && !sealed.contains("ada"));
        assert_eq!(subject_of(&sealed), Some(a));
        assert_eq!(
            s.open(&a, "requests/r1/email", &sealed).unwrap(),
            "ada@example.com"
        );
        assert!(s.open(&b, "requests/r1/email", &sealed).is_err());
        assert!(s.open(&a, "requests/r1/details", &sealed).is_err());
        assert!(DataKey::generate()
            .sealer()
            .open(&a, "requests/r1/email", &sealed)
            .is_err());
    }

    #[test]
    fn master_keys_parse_hex_and_base64_only_at_32_bytes() {
        let hexed = MasterKey::generate();
        let k = MasterKey::parse(&format!("  {hexed}\n")).unwrap();
        let b64 = B64.encode(hex::decode(&hexed).unwrap());
        assert_eq!(MasterKey::parse(&b64).unwrap().id(), k.id());
        assert_eq!(
            MasterKey::parse("abcd").unwrap_err(),
            KeyError::MalformedMaster
        );
        assert!(!format!("{k:?}").contains(&hexed));
    }
}
