//! The values erasure writes that are computed per row: Custodian's keyed hash, Fides' salted
//! digest and HMAC, and the random rewrite — all keyed by the erasure's hash key (derived from
//! the server secret, `run::RunKeys`), none of them reversible, each recognisable afterwards
//! so that a second erasure of the same row changes nothing.

use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256, Sha512};

use crate::dataset::{Algorithm, Masking, Strategy};

/// Keyed hashes start with this, so a second erasure recognises and keeps them.
pub const HASH_PREFIX: &str = "h1:";

/// `h1:` and the first 128 bits of HMAC-SHA256(key, value), in hex.
pub fn keyed_hash(key: &[u8], value: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    format!("{HASH_PREFIX}{}", hex::encode(&digest[..16]))
}

/// A sub-key of the erasure's hash key, one per use, so no two strategies share a key.
fn subkey(key: &[u8], purpose: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hmac_hex(alg: Algorithm, key: &[u8], parts: &[&[u8]]) -> String {
    match alg {
        Algorithm::Sha256 => {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
            parts.iter().for_each(|p| mac.update(p));
            hex::encode(mac.finalize().into_bytes())
        }
        Algorithm::Sha512 => {
            let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key).expect("any key length");
            parts.iter().for_each(|p| mac.update(p));
            hex::encode(mac.finalize().into_bytes())
        }
    }
}

/// Fides' `hash`: the hex SHA-256/512 digest of the value followed by a salt (here derived
/// from the server secret; Fides draws one per request).
pub fn digest(alg: Algorithm, key: &[u8], value: &str) -> String {
    let salt = hex::encode(subkey(key, "fides hash salt"));
    match alg {
        Algorithm::Sha256 => hex::encode(Sha256::digest(format!("{value}{salt}").as_bytes())),
        Algorithm::Sha512 => hex::encode(Sha512::digest(format!("{value}{salt}").as_bytes())),
    }
}

/// Fides' `hmac`: the hex HMAC-SHA-256/512 of the value under a key derived from the server
/// secret.
pub fn hmac(alg: Algorithm, key: &[u8], value: &str) -> String {
    hmac_hex(alg, &subkey(key, "fides hmac key"), &[value.as_bytes()])
}

/// Fides' `random_string_rewrite`: `length` lowercase letters and digits. They are drawn from
/// a keyed stream over the row's place (table, column, primary key), not from the value:
/// unpredictable without the server secret, unrelated to what was there, different for every
/// row (so a UNIQUE column takes them), and the same when the row is erased again (so a
/// second erasure changes nothing).
pub fn random(key: &[u8], place: &str, length: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let k = subkey(key, "random string rewrite");
    let mut out = String::with_capacity(length);
    let mut counter = 0u64;
    while out.len() < length {
        let block = hex::decode(hmac_hex(
            Algorithm::Sha256,
            &k,
            &[place.as_bytes(), &counter.to_be_bytes()],
        ))
        .expect("hex");
        // 252 = 7 * 36: bytes above it are skipped so every character is equally likely.
        for b in block.into_iter().filter(|b| *b < 252) {
            if out.len() == length {
                break;
            }
            out.push(ALPHABET[(b % 36) as usize] as char);
        }
        counter += 1;
    }
    out
}

/// The value a per-row strategy writes in place of `value`, or `None` when the value is
/// already what an erasure writes (a second erasure leaves it).
pub fn rewrite(
    strategy: Strategy,
    masking: &Masking,
    key: &[u8],
    place: &str,
    value: &str,
) -> Option<String> {
    let suffix = masking.suffix.as_deref().unwrap_or("");
    let alg = masking.algorithm.unwrap_or_default();
    let new = match strategy {
        Strategy::Hash => {
            if value.starts_with(HASH_PREFIX) {
                return None;
            }
            return Some(keyed_hash(key, value));
        }
        Strategy::Digest | Strategy::Hmac => {
            let body = value.strip_suffix(suffix).unwrap_or(value);
            let erased = body.len() == alg.hex_len()
                && body
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if erased && value.ends_with(suffix) {
                return None;
            }
            if strategy == Strategy::Digest {
                digest(alg, key, value)
            } else {
                hmac(alg, key, value)
            }
        }
        Strategy::Random => random(
            key,
            place,
            masking.length.unwrap_or(crate::dataset::RANDOM_LENGTH),
        ),
        _ => return None,
    };
    let new = format!("{new}{suffix}");
    (new != value).then_some(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_row_values_have_their_length_and_are_not_rewritten_twice() {
        let m = Masking::default();
        let d = rewrite(Strategy::Digest, &m, b"k", "t/c/1", "ann@example.com").unwrap();
        assert_eq!(d.len(), 64);
        assert_eq!(rewrite(Strategy::Digest, &m, b"k", "t/c/1", &d), None);
        let m512 = Masking {
            algorithm: Some(Algorithm::Sha512),
            suffix: Some("@masked.example".into()),
            ..Default::default()
        };
        let h = rewrite(Strategy::Hmac, &m512, b"k", "t/c/1", "ann@example.com").unwrap();
        assert_eq!(h.len(), 128 + "@masked.example".len());
        assert!(h.ends_with("@masked.example"));
        assert_eq!(rewrite(Strategy::Hmac, &m512, b"k", "t/c/1", &h), None);
        assert_ne!(
            digest(Algorithm::Sha256, b"k", "x"),
            hmac(Algorithm::Sha256, b"k", "x")
        );
        let r = Masking {
            length: Some(12),
            ..Default::default()
        };
        let a = rewrite(Strategy::Random, &r, b"k", "t/c/1", "SN1").unwrap();
        let b = rewrite(Strategy::Random, &r, b"k", "t/c/2", "SN1").unwrap();
        assert_eq!(a.len(), 12);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_ne!(a, b, "each row its own value");
        assert_eq!(rewrite(Strategy::Random, &r, b"k", "t/c/1", &a), None);
        assert_ne!(random(b"other key", "t/c/1", 12), a);
    }
}
