//! Key patterns: `profile:{user_id}`, `session:*`, `order:{user_id}:{order_id}`.
//!
//! A `{kind}` placeholder is a part of the key that holds an identity of that kind; `*` is any
//! text nobody needs. A pattern becomes a Redis glob for `SCAN MATCH` with the subject's value
//! in its placeholder — escaped, so a subject whose user id is `*` matches one key, never
//! everyone's — and the keys found are read back through the pattern to learn the identities
//! their placeholders hold (a profile found by e-mail names its user id). Patterns are kept
//! simple enough to read back without ambiguity: no other glob characters (`?`, `[`, `]`,
//! `\`), and something literal between two placeholders or wildcards.

/// One part of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Lit(String),
    Var(String),
    Star,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub segs: Vec<Seg>,
}

fn valid_kind(k: &str) -> bool {
    !k.is_empty() && k.len() <= 64 && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Escapes Redis glob characters so a value matches only itself.
pub fn escape(value: &[u8], out: &mut Vec<u8>) {
    for &b in value {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

impl Pattern {
    /// Parses a pattern; the error says what is wrong, for the caller to locate.
    pub fn parse(s: &str) -> Result<Pattern, String> {
        if s.is_empty() || s.len() > 512 {
            return Err("a pattern is 1 to 512 characters".into());
        }
        if s.chars().any(char::is_control) {
            return Err("a pattern has no control characters".into());
        }
        let mut segs = Vec::new();
        let mut lit = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '{' => {
                    let kind: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    if !valid_kind(&kind) || !s.contains(&format!("{{{kind}}}")) {
                        return Err(format!(
                            "`{{{kind}` must be a placeholder `{{kind}}` whose kind is letters, digits and `_`"
                        ));
                    }
                    if !lit.is_empty() {
                        segs.push(Seg::Lit(std::mem::take(&mut lit)));
                    }
                    segs.push(Seg::Var(kind));
                }
                '*' => {
                    if !lit.is_empty() {
                        segs.push(Seg::Lit(std::mem::take(&mut lit)));
                    }
                    segs.push(Seg::Star);
                }
                '}' => return Err("`}` without its `{`".into()),
                '?' | '[' | ']' | '\\' => {
                    return Err(format!(
                        "`{c}`: only `*` and `{{kind}}` placeholders are patterns"
                    ))
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            segs.push(Seg::Lit(lit));
        }
        for w in segs.windows(2) {
            if !matches!(w[0], Seg::Lit(_)) && !matches!(w[1], Seg::Lit(_)) {
                return Err(
                    "two placeholders or wildcards need something literal between them".into(),
                );
            }
        }
        Ok(Pattern { segs })
    }

    /// The identity kinds of the placeholders, in order.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.segs.iter().filter_map(|s| match s {
            Seg::Var(k) => Some(k.as_str()),
            _ => None,
        })
    }

    /// The glob for `SCAN MATCH`, with `value` (escaped) in every placeholder of `kind` and
    /// `*` elsewhere; and whether it names exactly one key (nothing left to match).
    pub fn glob(&self, fill: Option<(&str, &[u8])>) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut exact = true;
        for s in &self.segs {
            match s {
                Seg::Lit(l) => escape(l.as_bytes(), &mut out),
                Seg::Var(k) => match fill {
                    Some((kind, v)) if kind == k => escape(v, &mut out),
                    _ => {
                        out.push(b'*');
                        exact = false;
                    }
                },
                Seg::Star => {
                    out.push(b'*');
                    exact = false;
                }
            }
        }
        (out, exact)
    }

    /// The key itself when the glob is exact (no escapes: a key is sent as it is).
    pub fn key(&self, kind: &str, value: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for s in &self.segs {
            match s {
                Seg::Lit(l) => out.extend_from_slice(l.as_bytes()),
                Seg::Var(k) if k == kind => out.extend_from_slice(value),
                _ => return None,
            }
        }
        Some(out)
    }

    /// The key as an export shows it: placeholders (the subject's own identities) as they
    /// are, `*` parts left out — they may be session tokens, which an archive must not carry.
    pub fn redacted(&self, key: &[u8]) -> Option<String> {
        let mut vars = self.captures(key)?.into_iter();
        let mut out = String::new();
        for s in &self.segs {
            match s {
                Seg::Lit(l) => out.push_str(l),
                Seg::Var(_) => {
                    let (_, v) = vars.next()?;
                    out.push_str(&String::from_utf8_lossy(&v));
                }
                Seg::Star => out.push('*'),
            }
        }
        Some(out)
    }

    /// What the placeholders of `key` hold, or `None` when the key does not fit the pattern.
    pub fn captures(&self, key: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        self.fit(0, key, &mut out).then_some(out)
    }

    fn fit(&self, i: usize, rest: &[u8], out: &mut Vec<(String, Vec<u8>)>) -> bool {
        let Some(seg) = self.segs.get(i) else {
            return rest.is_empty();
        };
        match seg {
            Seg::Lit(l) => rest
                .strip_prefix(l.as_bytes())
                .is_some_and(|r| self.fit(i + 1, r, out)),
            Seg::Var(_) | Seg::Star => {
                // A placeholder holds at least one byte; try the shortest first.
                let min = usize::from(matches!(seg, Seg::Var(_)));
                for end in min..=rest.len() {
                    let mark = out.len();
                    if let Seg::Var(k) = seg {
                        out.push((k.clone(), rest[..end].to_vec()));
                    }
                    if self.fit(i + 1, &rest[end..], out) {
                        return true;
                    }
                    out.truncate(mark);
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_refuse_what_cannot_be_read_back() {
        let p = Pattern::parse("order:{user_id}:*").unwrap();
        assert_eq!(
            p.segs,
            vec![
                Seg::Lit("order:".into()),
                Seg::Var("user_id".into()),
                Seg::Lit(":".into()),
                Seg::Star
            ]
        );
        for bad in [
            "", "a{b", "a}", "x:{}", "{a}{b}", "{a}*", "a?", "a[0]", "{a-b}",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn globs_escape_the_subject_value() {
        let p = Pattern::parse("profile:{user_id}").unwrap();
        assert_eq!(
            p.glob(Some(("user_id", b"42"))),
            (b"profile:42".to_vec(), true)
        );
        assert_eq!(
            p.glob(Some(("user_id", b"*"))),
            (b"profile:\\*".to_vec(), true),
            "a value is never a wildcard"
        );
        assert_eq!(p.glob(None), (b"profile:*".to_vec(), false));
        assert_eq!(p.key("user_id", b"*"), Some(b"profile:*".to_vec()));
        let s = Pattern::parse("s:[x]").err();
        assert!(s.is_some());
    }

    #[test]
    fn captures_read_placeholders_back() {
        let p = Pattern::parse("order:{user_id}:{order_id}").unwrap();
        assert_eq!(
            p.captures(b"order:7:19").unwrap(),
            vec![
                ("user_id".to_owned(), b"7".to_vec()),
                ("order_id".to_owned(), b"19".to_vec())
            ]
        );
        assert!(p.captures(b"order:7").is_none());
        assert!(p.captures(b"orders:7:1").is_none());
        assert_eq!(
            Pattern::parse("session:*:{user_id}")
                .unwrap()
                .redacted(b"session:tok3n:7")
                .as_deref(),
            Some("session:*:7"),
            "no session token in an export"
        );
        let star = Pattern::parse("s:*:{email}").unwrap();
        assert_eq!(
            star.captures(b"s::a@b").unwrap(),
            vec![("email".to_owned(), b"a@b".to_vec())]
        );
    }
}
