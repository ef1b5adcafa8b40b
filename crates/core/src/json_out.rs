//! JSON written by hand into a byte buffer, byte for byte as `serde_json` writes it: for the
//! one answer written on every consent (`POST /v1/consent`), whose shape is fixed.
//!
//! Why: through serde, the answer's eighty-odd keys and strings were each a call through the
//! serializer, three writes into the buffer and a scan for characters to escape, about 9 % of a
//! write's instructions (callgrind, issue 17, docs/benchmarks.md, twelfth sitting). Here a key
//! is one copy of its bytes, quotes and colon included, and a string needing no escape — every
//! id, hash and time on the answer — is one check and one copy. Each writer built on this is
//! tested against `serde_json`'s bytes for the same value.

/// A buffer being written as JSON.
pub struct JsonOut<'a>(pub &'a mut Vec<u8>);

impl JsonOut<'_> {
    /// Text that is JSON already: punctuation, keys with their quotes, a value written before.
    pub fn raw(&mut self, json: &str) {
        self.0.extend_from_slice(json.as_bytes());
    }

    /// `s` as a JSON string, escaped as `serde_json` escapes: `"`, `\` and the control
    /// characters, with the short forms for five of them; everything else as it is.
    pub fn str(&mut self, s: &str) {
        let out = &mut *self.0;
        out.push(b'"');
        let bytes = s.as_bytes();
        // Compared without a table and without stopping early, so the check runs many bytes
        // at a time; a string to escape is the rare case.
        let plain = !bytes.iter().fold(false, |any, &b| {
            any | (b < 0x20) | (b == b'"') | (b == b'\\')
        });
        if plain {
            out.extend_from_slice(bytes);
        } else {
            let mut start = 0;
            for (i, &b) in bytes.iter().enumerate() {
                let escape = ESCAPE[b as usize];
                if escape == 0 {
                    continue;
                }
                out.extend_from_slice(&bytes[start..i]);
                out.push(b'\\');
                out.push(escape);
                if escape == b'u' {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(b"00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 0xf) as usize]);
                }
                start = i + 1;
            }
            out.extend_from_slice(&bytes[start..]);
        }
        out.push(b'"');
    }

    /// A string, or `null`.
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.raw("null"),
        }
    }

    pub fn int(&mut self, n: i64) {
        // Digits from the end of a buffer wide enough for any i64 and its sign.
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = n.unsigned_abs();
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if n < 0 {
            self.0.push(b'-');
        }
        self.0.extend_from_slice(&digits[at..]);
    }

    pub fn bool(&mut self, b: bool) {
        self.raw(if b { "true" } else { "false" });
    }
}

/// Per byte: 0 when it stands as it is, else the letter after the backslash (`u`: `\u00XX`).
/// The same table as `serde_json`'s.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut JsonOut)) -> String {
        let mut buf = Vec::new();
        f(&mut JsonOut(&mut buf));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut cases: Vec<String> = (0u32..0x80)
            .map(|c| char::from_u32(c).unwrap().to_string())
            .collect();
        cases.extend(
            [
                "",
                "plain",
                "a \"quoted\" word",
                "back\\slash",
                "line\nbreak\tand\r\u{1}\u{1f}\u{7f}",
                "ünïcødé — and \u{2028}\u{2029} and 🍪",
                "\"",
                "ends with \\",
            ]
            .map(String::from),
        );
        for s in &cases {
            assert_eq!(
                written(|o| o.str(s)),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn numbers_and_the_rest_are_written_as_serde_json_writes_them() {
        for n in [0, 1, -1, 9, 10, 1_700_000_000_000_000, i64::MAX, i64::MIN] {
            assert_eq!(written(|o| o.int(n)), serde_json::to_string(&n).unwrap());
        }
        assert_eq!(written(|o| o.bool(true)), "true");
        assert_eq!(written(|o| o.bool(false)), "false");
        assert_eq!(written(|o| o.opt_str(None)), "null");
        assert_eq!(written(|o| o.opt_str(Some("x"))), "\"x\"");
    }
}
