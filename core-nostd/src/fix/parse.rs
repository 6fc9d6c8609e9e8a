//! Reading FIX 4.4 messages in place: framing (BeginString, BodyLength,
//! CheckSum) over a byte stream, and a view of one framed message's fields.
//!
//! Nothing is copied: fields are slices of the input. No input can make these
//! functions panic (every index is checked).

use super::writer::checksum;
use super::SOH;

/// Largest BodyLength accepted: anything longer is treated as garbled, so a
/// corrupt length cannot make the reader wait for megabytes.
pub const MAX_BODY_LEN: usize = 64 * 1024;
/// Longest BeginString value looked at (`FIX.4.4`, `FIXT.1.1`, ...).
const MAX_BEGIN_STRING: usize = 16;
/// Most BodyLength digits accepted (64 KiB has 5; one leading zero allowed).
const MAX_LEN_DIGITS: usize = 6;
/// `10=ddd<SOH>`.
const TRAILER_LEN: usize = 7;
/// What a message start looks like when scanning past garbage.
const START: &[u8] = b"8=FIX";

/// What the front of a byte stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A whole message of this many bytes whose BodyLength and CheckSum hold.
    Complete(usize),
    /// Not enough bytes yet to tell.
    Incomplete,
    /// Garbled (bad BodyLength or CheckSum, 8/9/35 out of order, not FIX):
    /// skip this many bytes and look again. Garbled messages are ignored, as
    /// the FIX session spec says.
    Garbled(usize),
}

/// Bytes to skip after a garbled start: up to the next `8=FIX` after the
/// first byte, or up to a tail that could still become one (so a message
/// split across reads is not lost). Always at least 1.
fn skip_garbled(input: &[u8]) -> usize {
    let mut i = 1;
    while i < input.len() {
        let rest = &input[i..];
        let n = rest.len().min(START.len());
        if rest[..n] == START[..n] {
            return i;
        }
        i += 1;
    }
    input.len().max(1)
}

/// `input` so far agrees with `want` (it may be shorter).
fn prefix_matches(input: &[u8], want: &[u8]) -> bool {
    let n = input.len().min(want.len());
    input[..n] == want[..n]
}

/// Finds the first message at the front of `input`.
pub fn frame(input: &[u8]) -> Framing {
    let garbled = || Framing::Garbled(skip_garbled(input));
    if input.is_empty() {
        return Framing::Incomplete;
    }
    if !prefix_matches(input, b"8=") {
        return garbled();
    }
    // BeginString value up to SOH.
    let after8 = input.get(2..).unwrap_or(&[]);
    let Some(bs_len) = after8
        .iter()
        .take(MAX_BEGIN_STRING + 1)
        .position(|&b| b == SOH)
    else {
        return if after8.len() > MAX_BEGIN_STRING {
            garbled()
        } else {
            Framing::Incomplete
        };
    };
    if bs_len == 0 {
        return garbled();
    }
    let pos9 = 2 + bs_len + 1;
    let after = input.get(pos9..).unwrap_or(&[]);
    if !prefix_matches(after, b"9=") {
        return garbled();
    }
    // BodyLength digits up to SOH.
    let digits = after.get(2..).unwrap_or(&[]);
    let mut body_len: usize = 0;
    let mut nd = 0;
    loop {
        let Some(&c) = digits.get(nd) else {
            return Framing::Incomplete;
        };
        if c == SOH {
            break;
        }
        if !c.is_ascii_digit() || nd == MAX_LEN_DIGITS {
            return garbled();
        }
        body_len = body_len * 10 + usize::from(c - b'0');
        nd += 1;
    }
    if nd == 0 || !(5..=MAX_BODY_LEN).contains(&body_len) {
        // "35=x<SOH>" is the shortest body.
        return garbled();
    }
    let body_start = pos9 + 2 + nd + 1;
    let body = input.get(body_start..).unwrap_or(&[]);
    // MsgType must be the third field: known as soon as 3 bytes are here,
    // which spares waiting for a bogus BodyLength's worth of bytes.
    if !prefix_matches(body, b"35=") {
        return garbled();
    }
    let body_end = body_start + body_len;
    let end = body_end + TRAILER_LEN;
    let Some(msg) = input.get(..end) else {
        return Framing::Incomplete;
    };
    let trailer = &msg[body_end..];
    if msg[body_end - 1] != SOH
        || &trailer[..3] != b"10="
        || trailer[6] != SOH
        || !trailer[3..6].iter().all(u8::is_ascii_digit)
    {
        return garbled();
    }
    let declared = u32::from(trailer[3] - b'0') * 100
        + u32::from(trailer[4] - b'0') * 10
        + u32::from(trailer[5] - b'0');
    if declared != u32::from(checksum(&msg[..body_end])) {
        return garbled();
    }
    Framing::Complete(end)
}

/// Why a framed message cannot be read as fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ParseError {
    /// A field without `=`, a tag that is not a number, an empty value.
    BadField,
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("malformed FIX field")
    }
}

impl core::error::Error for ParseError {}

/// One `tag=value` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// Tag number.
    pub tag: u32,
    /// Value bytes (without the SOH).
    pub value: &'a [u8],
}

/// A field as written, before any check: tag text and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawField<'a> {
    pub tag: &'a [u8],
    pub value: &'a [u8],
}

/// Splits the first `tag=value<SOH>` off `rest`; `Err` when there is no SOH
/// or no `=` before it.
#[allow(clippy::type_complexity)]
pub(crate) fn split_raw(rest: &[u8]) -> Option<Result<(RawField<'_>, &[u8]), ()>> {
    if rest.is_empty() {
        return None;
    }
    let Some(end) = rest.iter().position(|&b| b == SOH) else {
        return Some(Err(()));
    };
    let field = &rest[..end];
    let Some(eq) = field.iter().position(|&b| b == b'=') else {
        return Some(Err(()));
    };
    Some(Ok((
        RawField {
            tag: &field[..eq],
            value: &field[eq + 1..],
        },
        &rest[end + 1..],
    )))
}

/// A tag number: 1 to 10 digits that fit a u32.
pub(crate) fn parse_tag(t: &[u8]) -> Option<u32> {
    parse_uint(t).and_then(|v| u32::try_from(v).ok())
}

/// A framed message's fields, in order (header, body, trailer). Stops at the
/// first malformed field (there is none in a [`Message`] from
/// [`Message::new_checked`]).
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;
    fn next(&mut self) -> Option<Field<'a>> {
        match split_raw(self.rest)? {
            Ok((raw, rest)) => {
                if let Some(tag) = parse_tag(raw.tag) {
                    if !raw.value.is_empty() {
                        self.rest = rest;
                        return Some(Field {
                            tag,
                            value: raw.value,
                        });
                    }
                }
                self.rest = &[];
                None
            }
            Err(()) => {
                self.rest = &[];
                None
            }
        }
    }
}

/// A view of one framed message.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    bytes: &'a [u8],
}

impl<'a> Message<'a> {
    /// Checks that every field of a [`Framing::Complete`] message is well
    /// formed.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut rest = bytes;
        if rest.is_empty() {
            return Err(ParseError::BadField);
        }
        while let Some(r) = split_raw(rest) {
            let (raw, next) = r.map_err(|()| ParseError::BadField)?;
            if parse_tag(raw.tag).is_none() || raw.value.is_empty() {
                return Err(ParseError::BadField);
            }
            rest = next;
        }
        Ok(Self { bytes })
    }
    /// A view of framed bytes whose fields were not all checked: the session
    /// still reads 34/35 of such a message to reject it.
    pub(crate) fn unchecked(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }
    /// The whole message.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// MsgType (35).
    pub fn msg_type(&self) -> &'a [u8] {
        self.get(35).unwrap_or(&[])
    }
    /// MsgSeqNum (34), when present and a number.
    pub fn seq_num(&self) -> Option<u64> {
        self.get(34).and_then(parse_uint)
    }
    /// The first field with `tag`. Lenient: fields after a malformed one are
    /// still found, so a message being rejected can be described.
    pub fn get(&self, tag: u32) -> Option<&'a [u8]> {
        self.raw_fields()
            .find(|f| parse_tag(f.tag) == Some(tag))
            .map(|f| f.value)
    }
    /// Every field in order.
    pub fn fields(&self) -> Fields<'a> {
        Fields { rest: self.bytes }
    }
    /// Every `tag=value` as written, skipping pieces without `=`.
    pub(crate) fn raw_fields(&self) -> impl Iterator<Item = RawField<'a>> {
        self.bytes.split(|&b| b == SOH).filter_map(|f| {
            let eq = f.iter().position(|&b| b == b'=')?;
            Some(RawField {
                tag: &f[..eq],
                value: &f[eq + 1..],
            })
        })
    }
}

/// A FIX int/SeqNum/Length value: ASCII digits only, no sign, fits u64.
pub fn parse_uint(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &c| {
        if !c.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// `body` (with `|` for SOH) framed with a correct BodyLength and CheckSum.
    fn framed(body: &str) -> Vec<u8> {
        let body = body.replace('|', "\x01");
        let head = std::format!("8=FIX.4.4\x019={}\x01", body.len());
        let sum = checksum(std::format!("{head}{body}").as_bytes());
        std::format!("{head}{body}10={sum:03}\x01").into_bytes()
    }

    fn with_sum(m: &str) -> Vec<u8> {
        let m = m.replace('|', "\x01");
        let sum = checksum(m.as_bytes());
        std::format!("{m}10={sum:03}\x01").into_bytes()
    }

    const HB: &str = "35=0|34=2|49=TW|56=ISLD|52=20240315-14:30:00.123|";

    #[test]
    fn complete_message() {
        let m = framed(HB);
        assert_eq!(frame(&m), Framing::Complete(m.len()));
        let mut two = m.clone();
        two.extend_from_slice(&m);
        assert_eq!(frame(&two), Framing::Complete(m.len()));
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let m = framed(HB);
        for n in 0..m.len() {
            assert_eq!(frame(&m[..n]), Framing::Incomplete, "prefix {n}");
        }
    }

    #[test]
    fn bad_checksum_is_garbled_and_skips_to_next_message() {
        let mut bad = framed(HB);
        let l = bad.len();
        bad[l - 2] = if bad[l - 2] == b'9' { b'0' } else { b'9' };
        let good = framed(HB);
        let mut both = bad.clone();
        both.extend_from_slice(&good);
        assert_eq!(frame(&both), Framing::Garbled(bad.len()));
        assert_eq!(frame(&both[bad.len()..]), Framing::Complete(good.len()));
    }

    #[test]
    fn body_length_too_long_does_not_swallow_the_next_message() {
        // BodyLength reaches into the next message: the CheckSum is not where
        // it should be, and the next message is found again.
        let body = HB.replace('|', "\x01");
        let bad = with_sum(&std::format!("8=FIX.4.4|9={}|{}", body.len() + 20, HB));
        let good = framed(HB);
        let mut both = bad.clone();
        both.extend_from_slice(&good);
        both.extend_from_slice(&good);
        assert_eq!(frame(&both), Framing::Garbled(bad.len()));
    }

    #[test]
    fn body_length_too_short_is_garbled() {
        let bad = with_sum(&std::format!("8=FIX.4.4|9=10|{HB}"));
        assert!(matches!(frame(&bad), Framing::Garbled(_)));
    }

    #[test]
    fn fields_out_of_order_are_garbled() {
        // 35 first, then 34 before 35: both garbled (FIX: 8, 9, 35 first).
        let a = with_sum("35=0|8=FIX.4.4|9=5|34=2|");
        assert!(matches!(frame(&a), Framing::Garbled(n) if n == 5));
        let body = "34=3|35=0|49=TW|";
        let b = with_sum(&std::format!("8=FIX.4.4|9={}|{body}", body.len()));
        assert!(matches!(frame(&b), Framing::Garbled(_)));
        let c = with_sum("9=5|8=FIX.4.4|35=0|");
        assert!(matches!(frame(&c), Framing::Garbled(_)));
    }

    #[test]
    fn huge_or_bad_body_length_is_garbled_at_once() {
        for m in [
            "8=FIX.4.4\x019=65537\x0135=0",
            "8=FIX.4.4\x019=1234567\x01",
            "8=FIX.4.4\x019=\x0135=0",
            "8=FIX.4.4\x019=-5\x01",
            "8=FIX.4.4\x019=50\x0134=1",
            "8=\x019=5\x0135=0\x01",
            "8=FIX.4.4XXXXXXXXXXXXXXXXXXX",
            "garbage",
        ] {
            assert!(matches!(frame(m.as_bytes()), Framing::Garbled(_)), "{m:?}");
        }
    }

    #[test]
    fn garbage_keeps_a_possible_start_at_the_tail() {
        assert_eq!(frame(b"xx8=FI"), Framing::Garbled(2));
        assert_eq!(frame(b"xxx"), Framing::Garbled(3));
        assert_eq!(frame(b"x8"), Framing::Garbled(1));
    }

    #[test]
    fn message_accessors() {
        let m = framed("35=1|34=7|49=TW|56=ISLD|52=20240315-14:30:00|112=HELLO|");
        let msg = Message::new_checked(&m).unwrap();
        assert_eq!(msg.msg_type(), b"1");
        assert_eq!(msg.seq_num(), Some(7));
        assert_eq!(msg.get(112), Some(&b"HELLO"[..]));
        assert_eq!(msg.get(999), None);
        let tags: Vec<u32> = msg.fields().map(|f| f.tag).collect();
        assert_eq!(tags, [8, 9, 35, 34, 49, 56, 52, 112, 10]);
        assert_eq!(msg.as_bytes(), &m[..]);
    }

    #[test]
    fn malformed_fields_are_refused() {
        for body in ["35=0|-1=HI|", "35=0|56=|", "35=0|x|", "35=0|99999999999=1|"] {
            let m = framed(body);
            assert_eq!(frame(&m), Framing::Complete(m.len()), "{body}");
            assert_eq!(
                Message::new_checked(&m).unwrap_err(),
                ParseError::BadField,
                "{body}"
            );
            // The lenient accessors still read the header.
            assert_eq!(Message::unchecked(&m).msg_type(), b"0");
        }
        assert!(Message::new_checked(b"").is_err());
        assert!(Message::new_checked(b"8=FIX.4.4").is_err());
    }

    #[test]
    fn uints() {
        assert_eq!(parse_uint(b"0"), Some(0));
        assert_eq!(parse_uint(b"007"), Some(7));
        assert_eq!(parse_uint(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_uint(b"18446744073709551616"), None);
        for bad in [&b""[..], b"+1", b"-1", b"1.0", b" 1", b"1a"] {
            assert_eq!(parse_uint(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn no_input_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = frame(&bytes);
            if let Ok(m) = Message::new_checked(&bytes) {
                let _ = (m.msg_type(), m.seq_num(), m.get(35), m.fields().count());
            }
            let u = Message::unchecked(&bytes);
            let _ = (u.msg_type(), u.seq_num(), u.fields().count());
        }

        #[test]
        fn framing_finds_messages_among_noise(
            noise in proptest::collection::vec(any::<u8>(), 0..40),
            text in "[A-Za-z0-9 ]{1,30}",
        ) {
            let body = std::format!("35=1|34=2|49=TW|56=ISLD|112={text}|");
            let good = framed(&body);
            let mut input: Vec<u8> = noise.iter().map(|&b| if b == b'8' { b'7' } else { b }).collect();
            let skip_len = input.len();
            input.extend_from_slice(&good);
            // Skipping garbled pieces reaches the good message intact.
            let mut at = 0;
            let mut found = false;
            for _ in 0..100 {
                match frame(&input[at..]) {
                    Framing::Complete(n) => {
                        prop_assert_eq!(&input[at..at + n], &good[..]);
                        found = true;
                        break;
                    }
                    Framing::Garbled(n) => { prop_assert!(n >= 1); at += n; }
                    Framing::Incomplete => break,
                }
            }
            prop_assert!(found, "noise {} bytes", skip_len);
        }

        #[test]
        fn single_byte_corruption_is_never_complete_with_other_content(
            pos in 0usize..60, byte in any::<u8>()
        ) {
            let good = framed(HB);
            let mut bad = good.clone();
            let pos = pos % bad.len();
            prop_assume!(bad[pos] != byte);
            bad[pos] = byte;
            // The checksum (or the framing) catches every single-byte change.
            prop_assert!(!matches!(frame(&bad), Framing::Complete(_)));
        }
    }
}
