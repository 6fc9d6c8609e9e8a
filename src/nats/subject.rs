//! Subjects: `{prefix}.{session}.{symbol}`, one token per part.

use tickwire_core::engine::BookRecord;

/// The session token when the input is not MoldUDP64 (a BinaryFILE) and
/// no `--nats-session` names one.
pub const NO_SESSION: &str = "itch";

/// Appends `raw` (trailing spaces trimmed) to `out` as one subject token:
/// bytes NATS gives a meaning to (`.`, `*`, `>`), whitespace, control and
/// non-ASCII bytes become `_`. The payload keeps the exact bytes.
pub fn push_token(out: &mut String, raw: &[u8]) {
    let end = raw
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |i| i + 1);
    for &b in &raw[..end] {
        out.push(match b {
            b'.' | b'*' | b'>' => '_',
            b if b.is_ascii_graphic() => char::from(b),
            _ => '_',
        });
    }
}

/// Checks a user-given prefix (`md`, `md.us`): dot-separated tokens, none
/// empty, no wildcards or whitespace.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("the subject prefix is empty".into());
    }
    for t in prefix.split('.') {
        if t.is_empty()
            || t.bytes()
                .any(|b| !b.is_ascii_graphic() || b == b'*' || b == b'>')
        {
            return Err(format!(
                "{prefix:?} is not a subject prefix: dot-separated tokens of printable ASCII without '*' or '>'"
            ));
        }
    }
    Ok(())
}

/// Builds subjects, caching one per locate (a locate's symbol and session
/// rarely change, so the bridge formats each once).
#[derive(Debug)]
pub struct Subjects {
    prefix: String,
    session: Option<String>,
    cache: Vec<Option<(Key, String)>>,
}

type Key = ([u8; 10], [u8; 8], u8);

impl Subjects {
    /// `session` overrides the record's MoldUDP64 session in the subject.
    pub fn new(prefix: &str, session: Option<&str>) -> Self {
        Self {
            prefix: prefix.to_owned(),
            session: session.map(str::to_owned),
            cache: Vec::new(),
        }
    }

    /// The subject of `r`.
    pub fn of(&mut self, r: &BookRecord) -> &str {
        let key: Key = (r.origin.session, r.symbol, r.symbol_len);
        let i = usize::from(r.locate);
        if self.cache.len() <= i {
            self.cache.resize(i + 1, None);
        }
        let fresh = !matches!(&self.cache[i], Some((k, _)) if *k == key);
        if fresh {
            let mut s = String::with_capacity(self.prefix.len() + 24);
            s.push_str(&self.prefix);
            s.push('.');
            match &self.session {
                Some(name) => s.push_str(name),
                None if r.origin.session == [0; 10] => s.push_str(NO_SESSION),
                None => {
                    let before = s.len();
                    push_token(&mut s, &r.origin.session);
                    if s.len() == before {
                        s.push('_');
                    }
                }
            }
            s.push('.');
            let before = s.len();
            push_token(&mut s, r.symbol());
            if s.len() == before {
                // No directory entry named the locate yet.
                s.push_str(&format!("_{}", r.locate));
            }
            self.cache[i] = Some((key, s));
        }
        self.cache[i].as_ref().map_or("", |(_, s)| s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(session: &[u8; 10], symbol: &[u8], locate: u16) -> BookRecord {
        let mut r = BookRecord::EMPTY;
        r.fill(1, locate, symbol, None, &[], &[], 0);
        r.origin.session = *session;
        r
    }

    #[test]
    fn subjects_are_prefix_session_symbol_with_unsafe_bytes_replaced() {
        let mut s = Subjects::new("md", None);
        assert_eq!(s.of(&rec(b"000012345A", b"AAPL", 1)), "md.000012345A.AAPL");
        assert_eq!(s.of(&rec(b"SESS      ", b"BRK.A", 2)), "md.SESS.BRK_A");
        assert_eq!(s.of(&rec(b"A*B>C D\x01  ", b"X", 3)), "md.A_B_C_D_.X");
        assert_eq!(s.of(&rec(&[0; 10], b"MSFT", 4)), "md.itch.MSFT");
        assert_eq!(s.of(&rec(b"S         ", b"", 7)), "md.S._7");
        // The cache follows a locate whose symbol changes.
        assert_eq!(s.of(&rec(b"S         ", b"NEW", 7)), "md.S.NEW");
        let mut fixed = Subjects::new("md.us", Some("itch"));
        assert_eq!(fixed.of(&rec(b"000012345A", b"AAPL", 1)), "md.us.itch.AAPL");
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(check_prefix("md").is_ok());
        assert!(check_prefix("md.us-east").is_ok());
        for bad in ["", "md.", ".md", "md..x", "md.*", "a>b", "m d"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }
}

/// Whether NATS subject `pattern` (with `*` and `>` wildcards) matches
/// `subject`.
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut s = subject.split('.');
    for p in pattern.split('.') {
        match (p, s.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (p, Some(t)) if p == t => {}
            _ => return false,
        }
    }
    s.next().is_none()
}

#[cfg(test)]
mod match_tests {
    use super::matches;

    #[test]
    fn wildcards_match_as_nats_does() {
        assert!(matches("md.>", "md.S.AAPL"));
        assert!(matches(">", "md.S.AAPL"));
        assert!(matches("md.*.*", "md.S.AAPL"));
        assert!(matches("md.S.AAPL", "md.S.AAPL"));
        assert!(!matches("md.*", "md.S.AAPL"));
        assert!(!matches("md.>", "md"));
        assert!(!matches("other.>", "md.S.AAPL"));
        assert!(!matches("md.S.AAPL.x", "md.S.AAPL"));
    }
}
