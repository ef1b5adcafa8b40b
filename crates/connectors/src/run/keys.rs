//! The keys a run derives from the server secret: sealing the subject's identifiers in
//! Custodian's store, the subject reference a run is filed under, and the key of the keyed
//! hashes that `hash` erasure writes.

use custodian_core::seal::Sealer;
use custodian_core::subject::{IdKind, SubjectHasher, SubjectId};

use crate::erase;
use crate::graph::Identities;

/// Keys derived from the server secret: sealing identifiers in the store, the subject
/// reference, and the keyed-hash strategy.
#[derive(Clone)]
pub struct RunKeys {
    pub(super) sealer: Sealer,
    hasher: SubjectHasher,
    pub(super) hash_key: Vec<u8>,
}

impl RunKeys {
    pub fn from_secret(secret: &[u8]) -> RunKeys {
        use hmac::Mac;
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).expect("any key length");
        mac.update(b"custodian connector keyed hash");
        RunKeys {
            sealer: Sealer::derived(secret, "connector-runs"),
            hasher: SubjectHasher::new(secret),
            hash_key: mac.finalize().into_bytes().to_vec(),
        }
    }

    /// The key of the keyed hashes that `hash` erasure writes.
    pub fn hash_key(&self) -> &[u8] {
        &self.hash_key
    }

    /// The subject reference of a run: the email's, else the user id's, else a keyed hash
    /// of the first identity.
    pub(super) fn subject_ref(&self, identities: &Identities) -> String {
        for (kind, id_kind) in [("email", IdKind::Email), ("user_id", IdKind::UserId)] {
            if let Some(v) = identities.get(kind).and_then(|v| v.first()) {
                if let Ok(id) = SubjectId::parse(id_kind, v) {
                    return self.hasher.reference(&id).to_hex();
                }
            }
        }
        let first = identities
            .iter()
            .next()
            .map(|(k, v)| format!("{k}:{}", v.join(",")));
        erase::keyed_hash(&self.hash_key, &first.unwrap_or_default())
    }
}
