//! Time-based one-time passwords (RFC 6238) for the console's second factor: HMAC-SHA-1 over
//! the 30-second step, six digits (RFC 4226 §5.3 dynamic truncation), as every authenticator
//! app computes them; and the `otpauth://` URI those apps read from a QR code. Secrets are
//! 20 random bytes (RFC 4226 §4 asks for at least 128 bits; 160 is the recommendation),
//! shown to people in base32 (RFC 4648 §6, no padding).

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

/// Seconds per step (RFC 6238 §4.1, the default every app uses).
pub const STEP_SECONDS: i64 = 30;
/// Steps either side of now that are accepted, for clocks that drift (RFC 6238 §5.2).
pub const WINDOW: i64 = 1;

/// A new random secret.
pub fn new_secret() -> Vec<u8> {
    let mut b = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// The step `unix_seconds` falls in.
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The six-digit code of `step` (RFC 4226 §5.3).
pub fn code_at(secret: &[u8], step: i64) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[offset]) & 0x7f) << 24
        | u32::from(h[offset + 1]) << 16
        | u32::from(h[offset + 2]) << 8
        | u32::from(h[offset + 3]);
    format!("{:06}", bin % 1_000_000)
}

/// The step whose code `code` is, within [`WINDOW`] of now and later than `after` (a code
/// once used is not accepted again: RFC 6238 §5.2). Compared without early exit.
pub fn matching_step(
    secret: &[u8],
    code: &str,
    unix_seconds: i64,
    after: Option<i64>,
) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix_seconds);
    let mut found = None;
    for step in now - WINDOW..=now + WINDOW {
        let same = code_at(secret, step)
            .bytes()
            .zip(code.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        if same && after.is_none_or(|a| step > a) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Base32 without padding (RFC 4648 §6), as authenticator apps take secrets.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = buffer << 8 | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[(buffer >> bits & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[(buffer << (5 - bits) & 31) as usize] as char);
    }
    out
}

/// Reads [`base32`] back (spaces and lower case allowed, as people copy it).
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = ALPHABET
            .iter()
            .position(|a| *a as char == c.to_ascii_uppercase())? as u32;
        buffer = buffer << 5 | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits & 0xff) as u8);
        }
    }
    Some(out)
}

/// The `otpauth://totp/` URI of Google Authenticator's Key Uri Format, which every app reads:
/// `issuer` and `account` percent-encoded.
pub fn uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~@".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period={STEP_SECONDS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (the last six digits of its eight-digit values).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_at(secret, step_of(t)), code, "at {t}");
        }
    }

    #[test]
    fn codes_match_within_the_window_once() {
        let secret = new_secret();
        let now = 1_767_225_600;
        let code = code_at(&secret, step_of(now) - 1);
        assert_eq!(
            matching_step(&secret, &code, now, None),
            Some(step_of(now) - 1)
        );
        assert_eq!(
            matching_step(&secret, &code, now, Some(step_of(now) - 1)),
            None,
            "replay"
        );
        assert_eq!(
            matching_step(&secret, &code, now + 90, None),
            None,
            "too old"
        );
        assert_eq!(matching_step(&secret, "12345", now, None), None);
        assert_eq!(matching_step(&secret, "abcdef", now, None), None);
    }

    #[test]
    fn base32_round_trips_rfc_4648_vectors() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(from_base32("mzxw 6ytb oi").unwrap(), b"foobar");
        let s = new_secret();
        assert_eq!(from_base32(&base32(&s)).unwrap(), s);
        assert_eq!(from_base32("1!"), None);
        assert!(uri("Custodian", "ada@example.com", b"12345678901234567890")
            .starts_with("otpauth://totp/Custodian:ada@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Custodian"));
    }
}
