//! Writing whole FIX 4.4 messages: the standard header (8, 9, 35, 49, 56, 34,
//! 52), a body the caller writes through [`Body`], and the trailer (10).
//!
//! BodyLength is exact. The body is written where a three-digit BodyLength
//! puts it and slid once when its length has another number of digits, so the
//! common case copies nothing.

use super::{
    fmt_u64, CompId, FixError, Out, SendingTimeCache, TimePrecision, BEGIN, BODY_LEN_DIGITS, SOH,
};

const BODY_LEN_MAX_DIGITS: usize = 6;

/// The body of one message being written. Every method writes one whole
/// field, or fails with [`FixError::BufferTooSmall`] and leaves the message
/// unsent.
pub struct Body<'a, 'b> {
    out: &'b mut Out<'a>,
}

impl Body<'_, '_> {
    /// `tag=value` with the value's bytes as they are.
    #[inline]
    pub fn bytes(&mut self, tag: u32, value: &[u8]) -> Result<(), FixError> {
        self.tag(tag)?;
        self.out.put(value)?;
        self.out.byte(SOH)
    }

    /// `tag=value` for an unsigned integer.
    #[inline]
    pub fn uint(&mut self, tag: u32, value: u64) -> Result<(), FixError> {
        self.tag(tag)?;
        self.out.uint(value)?;
        self.out.byte(SOH)
    }

    /// `tag=value` for a Price(4) held as an integer of 1/10,000: exactly
    /// four decimals.
    #[inline]
    pub fn price4(&mut self, tag: u32, value: u64) -> Result<(), FixError> {
        self.tag(tag)?;
        self.out.price4(value)?;
        self.out.byte(SOH)
    }

    /// `prefix` (a prebuilt `tag=`, e.g. `b"270="`) then an unsigned
    /// integer and SOH: no tag digits to format.
    #[inline]
    pub fn uint_after(&mut self, prefix: &[u8], value: u64) -> Result<(), FixError> {
        self.out.put(prefix)?;
        self.out.uint(value)?;
        self.out.byte(SOH)
    }

    /// `prefix` (a prebuilt `tag=`) then a Price(4) and SOH.
    #[inline]
    pub fn price4_after(&mut self, prefix: &[u8], value: u64) -> Result<(), FixError> {
        self.out.put(prefix)?;
        self.out.price4(value)?;
        self.out.byte(SOH)
    }

    /// `tag=Y` or `tag=N`.
    #[inline]
    pub fn flag(&mut self, tag: u32, value: bool) -> Result<(), FixError> {
        self.bytes(tag, if value { b"Y" } else { b"N" })
    }

    /// Prebuilt `tag=value|` runs, copied as they are (the caller vouches
    /// for their framing).
    #[inline]
    pub fn raw(&mut self, fields: &[u8]) -> Result<(), FixError> {
        self.out.put(fields)
    }

    #[inline]
    fn tag(&mut self, tag: u32) -> Result<(), FixError> {
        self.out.uint(u64::from(tag))?;
        self.out.byte(b'=')
    }
}

/// The sending half of a session: CompIDs, next MsgSeqNum, SendingTime
/// precision and a cache of the last formatted SendingTime (messages of one
/// boundary share it).
#[derive(Debug, Clone)]
pub struct MessageWriter {
    sender: CompId,
    target: CompId,
    next_seq: u64,
    precision: TimePrecision,
    time: SendingTimeCache,
}

impl MessageWriter {
    /// A writer whose first message carries MsgSeqNum 1. `sender` is our
    /// SenderCompID (49), `target` the peer's (our 56).
    pub fn new(sender: CompId, target: CompId, precision: TimePrecision) -> Self {
        Self {
            sender,
            target,
            next_seq: 1,
            precision,
            time: SendingTimeCache::EMPTY,
        }
    }

    /// The MsgSeqNum the next message will carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Sets the MsgSeqNum of the next message (logon resets, SequenceReset).
    pub fn set_next_seq(&mut self, seq: u64) {
        self.next_seq = seq;
    }

    /// Our SenderCompID.
    pub fn sender(&self) -> &CompId {
        &self.sender
    }

    /// The peer's CompID (our TargetCompID).
    pub fn target(&self) -> &CompId {
        &self.target
    }

    /// Writes one message of type `msg_type` at `now_ns` (ns since the Unix
    /// epoch) into `out`: header, the fields `body` writes, CheckSum.
    /// Returns its length. On any error nothing counts as sent and the
    /// MsgSeqNum is not consumed.
    pub fn write(
        &mut self,
        now_ns: u64,
        msg_type: &[u8],
        out: &mut [u8],
        body: impl FnOnce(&mut Body<'_, '_>) -> Result<(), FixError>,
    ) -> Result<usize, FixError> {
        self.write_with(now_ns, msg_type, out, false, |_| Ok(()), body)
    }

    /// As [`write`](Self::write), with PossDupFlag 43=Y when `poss_dup`,
    /// and the header fields that follow TargetCompID (OrigSendingTime 122,
    /// routing 128/129/…) written by `header_tail` in ascending tag order.
    /// The header is 8, 9, 35, then ascending tags (34, 43, 49, 52, 56, …),
    /// as QuickFIX writes it: FIX fixes only the first three, but harnesses
    /// that compare messages field by field compare the order too.
    pub fn write_with(
        &mut self,
        now_ns: u64,
        msg_type: &[u8],
        out: &mut [u8],
        poss_dup: bool,
        header_tail: impl FnOnce(&mut Body<'_, '_>) -> Result<(), FixError>,
        body: impl FnOnce(&mut Body<'_, '_>) -> Result<(), FixError>,
    ) -> Result<usize, FixError> {
        let body_start = BEGIN.len() + BODY_LEN_DIGITS + 1;
        if out.len() < body_start {
            return Err(FixError::BufferTooSmall);
        }
        let mut o = Out {
            buf: out,
            pos: body_start,
        };
        o.put(b"35=")?;
        o.put(msg_type)?;
        o.put(b"\x0134=")?;
        o.uint(self.next_seq)?;
        if poss_dup {
            o.put(b"\x0143=Y")?;
        }
        o.put(b"\x0149=")?;
        o.put(self.sender.as_bytes())?;
        o.put(b"\x0152=")?;
        o.put(self.time.text(now_ns, self.precision)?)?;
        o.put(b"\x0156=")?;
        o.put(self.target.as_bytes())?;
        o.byte(SOH)?;
        header_tail(&mut Body { out: &mut o })?;
        body(&mut Body { out: &mut o })?;
        let body_end = o.pos;
        let n = finish(o.buf, body_start, body_end)?;
        self.next_seq += 1;
        Ok(n)
    }
}

/// Writes `8=FIX.4.4|9=len|` in front of the body at
/// `body_start..body_end` (sliding it when the length is not three digits)
/// and the CheckSum after it; returns the message length.
pub(super) fn finish(
    buf: &mut [u8],
    body_start: usize,
    body_end: usize,
) -> Result<usize, FixError> {
    let body_len = body_end - body_start;
    let mut digits = [0u8; 20];
    let nd = fmt_u64(body_len as u64, &mut digits);
    if nd > BODY_LEN_MAX_DIGITS {
        return Err(FixError::BodyTooLong);
    }
    let header_len = BEGIN.len() + nd + 1;
    if header_len != body_start {
        if header_len + body_len > buf.len() {
            return Err(FixError::BufferTooSmall);
        }
        buf.copy_within(body_start..body_end, header_len);
    }
    buf[..BEGIN.len()].copy_from_slice(BEGIN);
    buf[BEGIN.len()..BEGIN.len() + nd].copy_from_slice(&digits[20 - nd..]);
    buf[header_len - 1] = SOH;
    let msg_end = header_len + body_len;
    let sum = checksum(&buf[..msg_end]);
    let mut o = Out { buf, pos: msg_end };
    o.put(b"10=")?;
    o.padded(u64::from(sum), 3)?;
    o.byte(SOH)?;
    Ok(o.pos)
}

/// The FIX CheckSum: the byte sum modulo 256.
#[inline]
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_710_513_000_123_456_789;

    fn writer() -> MessageWriter {
        MessageWriter::new(
            CompId::new(b"TW").unwrap(),
            CompId::new(b"CL").unwrap(),
            TimePrecision::Millis,
        )
    }

    fn framed(body: &str) -> std::string::String {
        let body = body.replace('|', "\x01");
        let head = std::format!("8=FIX.4.4\x019={}\x01", body.len());
        let sum = checksum(std::format!("{head}{body}").as_bytes());
        std::format!("{head}{body}10={sum:03}\x01")
    }

    #[test]
    fn heartbeat_exact_bytes_and_short_body_slides() {
        let mut w = writer();
        let mut buf = [0u8; 256];
        let n = w.write(T, b"0", &mut buf, |_| Ok(())).unwrap();
        let want = framed("35=0|34=1|49=TW|52=20240315-14:30:00.123|56=CL|");
        assert_eq!(core::str::from_utf8(&buf[..n]).unwrap(), want);
        assert_eq!(w.next_seq(), 2);
    }

    #[test]
    fn body_fields_and_extra_header() {
        let mut w = writer();
        w.set_next_seq(41);
        let mut buf = [0u8; 256];
        let n = w
            .write_with(
                T,
                b"3",
                &mut buf,
                true,
                |h| h.bytes(122, b"20240315-14:29:00.000"),
                |b| {
                    b.uint(45, 7)?;
                    b.bytes(58, b"bad")?;
                    b.price4(270, 1_234_500)
                },
            )
            .unwrap();
        let want = framed(
            "35=3|34=41|43=Y|49=TW|52=20240315-14:30:00.123|56=CL|122=20240315-14:29:00.000|45=7|58=bad|270=123.4500|",
        );
        assert_eq!(core::str::from_utf8(&buf[..n]).unwrap(), want);
    }

    #[test]
    fn long_body_has_four_digit_length() {
        let mut w = writer();
        let mut buf = [0u8; 4096];
        let text = [b'x'; 1500];
        let n = w.write(T, b"5", &mut buf, |b| b.bytes(58, &text)).unwrap();
        let m = core::str::from_utf8(&buf[..n]).unwrap();
        let body = std::format!(
            "35=5|34=1|49=TW|52=20240315-14:30:00.123|56=CL|58={}|",
            core::str::from_utf8(&text).unwrap()
        );
        assert_eq!(m, framed(&body));
    }

    #[test]
    fn every_short_buffer_fails_without_consuming_a_sequence_number() {
        let mut w = writer();
        let mut big = [0u8; 512];
        let full = w
            .write(T, b"0", &mut big, |b| b.bytes(112, b"abc"))
            .unwrap();
        let mut w = writer();
        for len in 0..full {
            let mut small = std::vec![0u8; len];
            assert_eq!(
                w.write(T, b"0", &mut small, |b| b.bytes(112, b"abc")),
                Err(FixError::BufferTooSmall),
                "len {len}"
            );
        }
        assert_eq!(w.next_seq(), 1);
    }
}
