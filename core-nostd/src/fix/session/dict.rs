//! What FIX 4.4 defines: tag numbers and MsgTypes (QuickFIX's FIX44.xml).

/// Highest tag number FIX 4.4 defines. User-defined tags (5000 and up) are
/// refused, as QuickFIX's acceptance tests expect.
pub(crate) const MAX_FIX44_TAG: u32 = 956;

/// The tag number is one FIX 4.4 defines. The spec's few unassigned numbers
/// below 956 are accepted (a simplification: they are not rejected).
pub(crate) fn tag_defined(tag: u32) -> bool {
    (1..=MAX_FIX44_TAG).contains(&tag)
}

/// The MsgType is one FIX 4.4 defines.
pub(crate) fn msg_type_defined(t: &[u8]) -> bool {
    match *t {
        [c] => {
            matches!(c, b'0'..=b'9' | b'A'..=b'H' | b'J'..=b'N' | b'P'..=b'T' | b'V'..=b'Z' | b'a'..=b'z')
        }
        [b'A', c] => c.is_ascii_uppercase(),
        [b'B', c] => (b'A'..=b'H').contains(&c),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_types() {
        for t in [
            &b"0"[..],
            b"5",
            b"A",
            b"V",
            b"W",
            b"Y",
            b"j",
            b"AA",
            b"AZ",
            b"BH",
        ] {
            assert!(msg_type_defined(t), "{t:?}");
        }
        for t in [&b""[..], b"*", b"I", b"O", b"U", b"BI", b"AAA", b"a1"] {
            assert!(!msg_type_defined(t), "{t:?}");
        }
    }

    #[test]
    fn tags() {
        assert!(tag_defined(1) && tag_defined(956) && tag_defined(112));
        assert!(!tag_defined(0) && !tag_defined(957) && !tag_defined(999) && !tag_defined(5000));
    }
}
