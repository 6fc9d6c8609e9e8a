//! FIX 4.4 MarketDataSnapshotFullRefresh (35=W) encoding and the sending
//! session's state (CompIDs, MsgSeqNum, SendingTime precision).
//!
//! The encoder writes into a caller's buffer and returns the length, or an
//! error value when the buffer is too small (the sequence number is then not
//! consumed). BodyLength is exact (no padding): the body is written after room
//! for the widest BodyLength and slid left once its length is known.

use core::fmt;

use crate::engine::Snapshot;

pub mod md;
pub mod parse;
pub mod session;
pub mod writer;

const SOH: u8 = 0x01;
/// Longest SenderCompID / TargetCompID accepted.
pub const MAX_COMP_ID: usize = 32;
/// BodyLength digits assumed while the body is written: snapshot bodies are
/// 100 to 999 bytes, so the body lands where it belongs; any other length
/// slides it once.
const BODY_LEN_DIGITS: usize = 3;
/// Longest constant run `35=W|49=…|56=…|34=`.
const PREFIX_MAX: usize = 5 + 3 + MAX_COMP_ID + 1 + 3 + MAX_COMP_ID + 1 + 3;
const BEGIN: &[u8] = b"8=FIX.4.4\x019=";

/// Errors from FIX configuration and encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FixError {
    /// The output buffer cannot hold the message.
    BufferTooSmall,
    /// A CompID is empty, longer than [`MAX_COMP_ID`], or holds a byte that is
    /// not printable ASCII (SOH and '=' included).
    BadCompId,
    /// The body would exceed what BodyLength can express here.
    BodyTooLong,
}

impl fmt::Display for FixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BufferTooSmall => "output buffer too small for the FIX message",
            Self::BadCompId => "CompID must be 1 to 32 printable ASCII characters other than '=' ",
            Self::BodyTooLong => "FIX body too long",
        })
    }
}

impl core::error::Error for FixError {}

/// Fractional digits of SendingTime (52).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TimePrecision {
    /// `HH:MM:SS.sss`
    #[default]
    Millis,
    /// `HH:MM:SS.ssssss`
    Micros,
    /// `HH:MM:SS.sssssssss`
    Nanos,
}

impl TimePrecision {
    fn digits(self) -> usize {
        match self {
            Self::Millis => 3,
            Self::Micros => 6,
            Self::Nanos => 9,
        }
    }
}

/// A CompID held inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CompId {
    bytes: [u8; MAX_COMP_ID],
    len: u8,
}

impl CompId {
    /// Validates and stores a CompID.
    pub fn new(s: &[u8]) -> Result<Self, FixError> {
        if s.is_empty()
            || s.len() > MAX_COMP_ID
            || s.iter().any(|&c| !(0x21..=0x7e).contains(&c) || c == b'=')
        {
            return Err(FixError::BadCompId);
        }
        let mut bytes = [0; MAX_COMP_ID];
        bytes[..s.len()].copy_from_slice(s);
        Ok(Self {
            bytes,
            len: s.len() as u8,
        })
    }

    /// The CompID's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for CompId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &c in self.as_bytes() {
            write!(f, "{}", c as char)?;
        }
        Ok(())
    }
}

/// The sending side of a FIX session: CompIDs, the next MsgSeqNum, and the
/// SendingTime precision.
#[derive(Debug, Clone)]
pub struct FixSession {
    sender: CompId,
    target: CompId,
    next_seq: u64,
    precision: TimePrecision,
    time: SendingTimeCache,
    /// `35=W|49=SENDER|56=TARGET|34=`, the same in every message.
    prefix: [u8; PREFIX_MAX],
    prefix_len: u8,
}

/// Longest SendingTime text: `YYYYMMDD-HH:MM:SS.fffffffff`.
const TIME_TEXT_MAX: usize = 27;

/// SendingTime as last formatted: the messages of one boundary (or one
/// burst) share it, so it is formatted once and copied after that.
#[derive(Debug, Clone)]
struct SendingTimeCache {
    ns: Option<u64>,
    text: [u8; TIME_TEXT_MAX],
    len: u8,
}

impl SendingTimeCache {
    const EMPTY: Self = Self {
        ns: None,
        text: [0; TIME_TEXT_MAX],
        len: 0,
    };

    /// The text of `ns` (since the epoch) at `precision`.
    #[inline]
    fn text(&mut self, ns: u64, precision: TimePrecision) -> Result<&[u8], FixError> {
        if self.ns != Some(ns) {
            let mut t = Out {
                buf: &mut self.text,
                pos: 0,
            };
            // u64 nanoseconds end in the year 2554: the text always fits
            // TIME_TEXT_MAX, so this error cannot occur (no panic either way).
            format_sending_time(&mut t, ns, precision).map_err(|_| FixError::BodyTooLong)?;
            self.len = t.pos as u8;
            self.ns = Some(ns);
        }
        Ok(&self.text[..usize::from(self.len)])
    }
}

/// A cursor over the output buffer that reports running out as an error.
struct Out<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Out<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), FixError> {
        let end = self.pos + bytes.len();
        self.buf
            .get_mut(self.pos..end)
            .ok_or(FixError::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    #[inline]
    fn byte(&mut self, b: u8) -> Result<(), FixError> {
        *self.buf.get_mut(self.pos).ok_or(FixError::BufferTooSmall)? = b;
        self.pos += 1;
        Ok(())
    }

    #[inline]
    fn uint(&mut self, v: u64) -> Result<(), FixError> {
        let mut tmp = [0u8; 20];
        let n = fmt_u64(v, &mut tmp);
        self.put(&tmp[20 - n..])
    }

    /// `v` zero-padded to exactly `width` digits (v must fit).
    #[inline]
    fn padded(&mut self, v: u64, width: usize) -> Result<(), FixError> {
        let mut tmp = [b'0'; 20];
        let n = fmt_u64(v, &mut tmp);
        let width = width.max(n);
        self.put(&tmp[20 - width..])
    }

    /// A Price(4) as `int.dddd`.
    #[inline]
    fn price4(&mut self, v: u64) -> Result<(), FixError> {
        self.uint(v / 10_000)?;
        self.byte(b'.')?;
        self.padded(v % 10_000, 4)
    }

    #[inline]
    fn tag(&mut self, tag: &[u8]) -> Result<(), FixError> {
        self.put(tag)?;
        self.byte(b'=')
    }
}

/// "00" to "99": two digits per division.
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Writes the decimal digits of `v` right-aligned into `tmp`, returns how
/// many (two digits per step: the division count halves).
#[inline]
fn fmt_u64(mut v: u64, tmp: &mut [u8; 20]) -> usize {
    let mut i = 20;
    while v >= 100 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        tmp[i] = DIGIT_PAIRS[d];
        tmp[i + 1] = DIGIT_PAIRS[d + 1];
    }
    if v >= 10 {
        let d = v as usize * 2;
        i -= 2;
        tmp[i] = DIGIT_PAIRS[d];
        tmp[i + 1] = DIGIT_PAIRS[d + 1];
    } else {
        i -= 1;
        tmp[i] = b'0' + v as u8;
    }
    20 - i
}

/// Longest Price(4) text: the integer part of `u64::MAX / 10_000` (16
/// digits), the point and four decimals.
pub const PRICE4_MAX_LEN: usize = 21;

/// Writes a Price(4) (an integer of 1/10,000) as `int.dddd`, exactly four
/// decimals, the form FIX price fields carry; returns the text, a prefix of
/// `buf`.
pub fn format_price4(value: u64, buf: &mut [u8; PRICE4_MAX_LEN]) -> &str {
    let mut o = Out { buf, pos: 0 };
    // PRICE4_MAX_LEN holds any u64, so this cannot fail; an empty text
    // would be the answer if it did (no panic either way).
    let n = match o.price4(value) {
        Ok(()) => o.pos,
        Err(_) => 0,
    };
    core::str::from_utf8(buf.get(..n).unwrap_or(&[])).unwrap_or("")
}

/// A Price(4) that displays as [`format_price4`] writes it (`101.2500`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price4(pub u64);

impl fmt::Display for Price4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(format_price4(self.0, &mut [0; PRICE4_MAX_LEN]))
    }
}

/// Civil date from days since 1970-01-01 (proleptic Gregorian; H. Hinnant's
/// algorithm), integers only.
pub const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i64 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl FixSession {
    /// A session whose first message gets MsgSeqNum 1.
    pub fn new(sender: &[u8], target: &[u8], precision: TimePrecision) -> Result<Self, FixError> {
        let (sender, target) = (CompId::new(sender)?, CompId::new(target)?);
        let mut prefix = [0u8; PREFIX_MAX];
        let mut p = Out {
            buf: &mut prefix,
            pos: 0,
        };
        p.put(b"35=W\x0149=")?;
        p.put(sender.as_bytes())?;
        p.put(b"\x0156=")?;
        p.put(target.as_bytes())?;
        p.put(b"\x0134=")?;
        let prefix_len = p.pos as u8;
        Ok(Self {
            sender,
            target,
            next_seq: 1,
            precision,
            time: SendingTimeCache::EMPTY,
            prefix,
            prefix_len,
        })
    }

    /// SenderCompID (49).
    pub fn sender(&self) -> &[u8] {
        self.sender.as_bytes()
    }

    /// TargetCompID (56).
    pub fn target(&self) -> &[u8] {
        self.target.as_bytes()
    }

    /// The MsgSeqNum the next message will carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Encodes one snapshot with SendingTime `sending_time_ns` (ns since the
    /// Unix epoch, UTC) into `out`; returns the message length.
    pub fn encode_snapshot(
        &mut self,
        snap: &Snapshot<'_>,
        sending_time_ns: u64,
        out: &mut [u8],
    ) -> Result<usize, FixError> {
        let body_start = BEGIN.len() + BODY_LEN_DIGITS + 1;
        if out.len() < body_start {
            return Err(FixError::BufferTooSmall);
        }
        let mut o = Out {
            buf: out,
            pos: body_start,
        };
        o.put(&self.prefix[..usize::from(self.prefix_len)])?;
        o.uint(self.next_seq)?;
        o.byte(SOH)?;
        o.tag(b"52")?;
        o.put(self.time.text(sending_time_ns, self.precision)?)?;
        o.byte(SOH)?;
        o.tag(b"55")?;
        if snap.symbol.is_empty() {
            // No symbol known for this locate: name it by locate so the message
            // stays valid and attributable.
            o.put(b"LOCATE")?;
            o.uint(u64::from(snap.locate))?;
        } else {
            o.put(snap.symbol)?;
        }
        o.byte(SOH)?;
        let entries = 1 + u64::from(snap.bid.is_some()) + u64::from(snap.ask.is_some());
        o.tag(b"268")?;
        o.uint(entries)?;
        o.byte(SOH)?;
        for (kind, q) in [(b'0', snap.bid), (b'1', snap.ask)] {
            if let Some(q) = q {
                o.put(b"269=")?;
                o.byte(kind)?;
                o.put(b"\x01270=")?;
                o.price4(u64::from(q.price))?;
                o.put(b"\x01271=")?;
                o.uint(q.shares)?;
                o.byte(SOH)?;
            }
        }
        o.put(b"269=9\x01270=")?;
        o.price4(snap.vwap)?;
        o.put(b"\x01271=")?;
        o.uint(snap.volume)?;
        o.byte(SOH)?;
        let body_end = o.pos;

        let n = writer::finish(o.buf, body_start, body_end)?;
        self.next_seq += 1;
        Ok(n)
    }
}

/// Formats `ns` since the epoch as FIX UTCTimestamp with `precision`.
fn format_sending_time(o: &mut Out<'_>, ns: u64, precision: TimePrecision) -> Result<(), FixError> {
    {
        let secs = ns / 1_000_000_000;
        let frac = ns % 1_000_000_000;
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        let sod = secs % 86_400;
        o.padded(y.max(0) as u64, 4)?;
        o.padded(u64::from(m), 2)?;
        o.padded(u64::from(d), 2)?;
        o.byte(b'-')?;
        o.padded(sod / 3600, 2)?;
        o.byte(b':')?;
        o.padded(sod / 60 % 60, 2)?;
        o.byte(b':')?;
        o.padded(sod % 60, 2)?;
        o.byte(b'.')?;
        let digits = precision.digits();
        o.padded(frac / 10u64.pow(9 - digits as u32), digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Quote;

    fn snap() -> Snapshot<'static> {
        Snapshot {
            boundary_ns: 0,
            locate: 7,
            symbol: b"AAPL",
            bid: Some(Quote {
                price: 1_793_100,
                shares: 300,
            }),
            ask: Some(Quote {
                price: 1_793_200,
                shares: 200,
            }),
            vwap: 1_793_150,
            volume: 1_000,
        }
    }

    /// Checks BodyLength and CheckSum of one message by an independent count;
    /// returns the BodyLength.
    fn check_framing(m: &str) -> usize {
        let body_start = m.find("\x0135=").unwrap() + 1;
        let tail = m.rfind("10=").unwrap();
        let declared: usize = m[12..body_start - 1].parse().unwrap();
        assert_eq!(declared, tail - body_start, "{m}");
        let sum = m.as_bytes()[..tail]
            .iter()
            .map(|&b| u32::from(b))
            .sum::<u32>()
            % 256;
        assert_eq!(&m[tail + 3..tail + 6], std::format!("{sum:03}"), "{m}");
        declared
    }

    /// 2024-03-15 14:30:00.123456789 UTC
    const T: u64 = 1_710_513_000_123_456_789;

    #[test]
    fn exact_message() {
        let mut s = FixSession::new(b"TICKWIRE", b"CLIENT", TimePrecision::Millis).unwrap();
        let mut buf = [0u8; 512];
        let n = s.encode_snapshot(&snap(), T, &mut buf).unwrap();
        let body = "35=W|49=TICKWIRE|56=CLIENT|34=1|52=20240315-14:30:00.123|55=AAPL|268=3|269=0|270=179.3100|271=300|269=1|270=179.3200|271=200|269=9|270=179.3150|271=1000|";
        let head = std::format!("8=FIX.4.4|9={}|", body.len());
        let no_sum = std::format!("{head}{body}").replace('|', "\x01");
        let sum = no_sum.bytes().fold(0u32, |a, b| a + u32::from(b)) % 256;
        let want = std::format!("{no_sum}10={sum:03}\x01");
        assert_eq!(core::str::from_utf8(&buf[..n]).unwrap(), want);
        assert_eq!(s.next_seq(), 2);
        assert_eq!((s.sender(), s.target()), (&b"TICKWIRE"[..], &b"CLIENT"[..]));
    }

    #[test]
    fn checksum_and_body_length_by_hand() {
        // One-sided book, nanosecond time: checked against an independent count.
        let mut s = FixSession::new(b"A", b"B", TimePrecision::Nanos).unwrap();
        let mut sn = snap();
        sn.bid = None;
        sn.symbol = b"";
        let mut buf = [0u8; 512];
        let n = s.encode_snapshot(&sn, T, &mut buf).unwrap();
        let m = core::str::from_utf8(&buf[..n]).unwrap();
        assert!(m.contains("\x0152=20240315-14:30:00.123456789\x01"), "{m}");
        assert!(m.contains("\x0155=LOCATE7\x01268=2\x01269=1\x01"), "{m}");
        check_framing(m);
    }

    #[test]
    fn too_small_buffer_is_an_error_and_keeps_the_sequence() {
        let mut s = FixSession::new(b"A", b"B", TimePrecision::Micros).unwrap();
        let mut big = [0u8; 512];
        let full = s.encode_snapshot(&snap(), T, &mut big).unwrap();
        let mut s = FixSession::new(b"A", b"B", TimePrecision::Micros).unwrap();
        for n in 0..full {
            let mut small = std::vec![0u8; n];
            assert_eq!(
                s.encode_snapshot(&snap(), T, &mut small),
                Err(FixError::BufferTooSmall),
                "len {n}"
            );
        }
        assert_eq!(s.next_seq(), 1);
        let mut exact = std::vec![0u8; full];
        assert_eq!(s.encode_snapshot(&snap(), T, &mut exact), Ok(full));
    }

    #[test]
    fn short_bodies_slide_into_place() {
        // No book, one-letter CompIDs and symbol: a body under 100 bytes, so
        // BodyLength has 2 digits and the body moves once.
        let mut s = FixSession::new(b"A", b"B", TimePrecision::Millis).unwrap();
        let sn = Snapshot {
            bid: None,
            ask: None,
            symbol: b"Z",
            ..snap()
        };
        let mut buf = [0u8; 512];
        let n = s.encode_snapshot(&sn, T, &mut buf).unwrap();
        let m = core::str::from_utf8(&buf[..n]).unwrap();
        assert!(check_framing(m) < 100, "{m}");
        assert!(
            m.starts_with("8=FIX.4.4\x019=") && m.contains("\x0135=W\x0149=A\x0156=B\x0134=1\x01"),
            "{m}"
        );
    }

    #[test]
    fn sending_time_follows_every_change() {
        let mut s = FixSession::new(b"A", b"B", TimePrecision::Millis).unwrap();
        let mut buf = [0u8; 512];
        for (t, want) in [
            (T, "20240315-14:30:00.123"),
            (T, "20240315-14:30:00.123"),
            (T + 1_000_000, "20240315-14:30:00.124"),
            (0, "19700101-00:00:00.000"),
        ] {
            let n = s.encode_snapshot(&snap(), t, &mut buf).unwrap();
            let m = core::str::from_utf8(&buf[..n]).unwrap();
            assert!(m.contains(&std::format!("\x0152={want}\x01")), "{m}");
        }
    }

    #[test]
    fn comp_ids_are_validated() {
        assert_eq!(CompId::new(b"").unwrap_err(), FixError::BadCompId);
        assert_eq!(CompId::new(b"A=B").unwrap_err(), FixError::BadCompId);
        assert_eq!(CompId::new(b"A\x01").unwrap_err(), FixError::BadCompId);
        assert_eq!(CompId::new(&[b'X'; 33]).unwrap_err(), FixError::BadCompId);
        assert!(CompId::new(&[b'X'; 32]).is_ok());
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_797), (2024, 3, 15));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn decimal_digits_match_the_standard_formatter() {
        for v in (0..2000u64)
            .chain([
                9,
                10,
                99,
                100,
                999,
                1000,
                9999,
                10_000,
                u64::MAX - 1,
                u64::MAX,
            ])
            .chain((0..64).map(|k| 1u64 << k))
            .chain((1..20).map(|k| 10u64.pow(k) - 1))
        {
            let mut tmp = [0u8; 20];
            let n = fmt_u64(v, &mut tmp);
            assert_eq!(
                core::str::from_utf8(&tmp[20 - n..]).unwrap(),
                std::format!("{v}")
            );
        }
    }

    #[test]
    fn price_formatting() {
        let mut buf = [0u8; 32];
        for (v, s) in [
            (0u64, "0.0000"),
            (1, "0.0001"),
            (100_000, "10.0000"),
            (4_294_967_295, "429496.7295"),
        ] {
            let mut o = Out {
                buf: &mut buf,
                pos: 0,
            };
            o.price4(v).unwrap();
            let n = o.pos;
            assert_eq!(&buf[..n], s.as_bytes());
        }
    }

    #[test]
    fn public_price_formatter() {
        for (v, s) in [
            (0u64, "0.0000"),
            (1_012_500, "101.2500"),
            (u64::MAX, "1844674407370955.1615"),
        ] {
            assert_eq!(format_price4(v, &mut [0; PRICE4_MAX_LEN]), s);
            assert_eq!(std::format!("{}", Price4(v)), s);
        }
    }
}
