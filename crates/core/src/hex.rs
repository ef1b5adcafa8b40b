//! Lower-case hex written straight into its buffer. `hex::encode` builds its string one `char`
//! at a time; on the consent path (a subject reference and an event hash per event) that was
//! about 3 % of a write's instructions (docs/benchmarks.md, issue 17).

/// `bytes` as lower-case hex.
pub fn lower(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex::encode_to_slice(bytes, &mut out).expect("the buffer is twice the input");
    String::from_utf8(out).expect("hex digits are ASCII")
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_as_the_hex_crate() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(super::lower(&bytes), hex::encode(&bytes));
        assert_eq!(super::lower(&[]), "");
    }
}
