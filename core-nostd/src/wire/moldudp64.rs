//! MoldUDP64 downstream packets: a 20-byte header (session, sequence number of
//! the first message, message count) followed by `count` message blocks, each a
//! 2-byte big-endian length and that many bytes of message.

use zerocopy::byteorder::big_endian::{U16, U64};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

use super::WireError;

/// Length of the downstream header.
pub const HEADER_LEN: usize = 20;
/// Message count of a heartbeat.
pub const COUNT_HEARTBEAT: u16 = 0;
/// Message count that marks the end of a session.
pub const COUNT_END_OF_SESSION: u16 = 0xffff;

/// The downstream header as it lies on the wire.
#[derive(Debug, Clone, Copy, FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MoldHeader {
    /// Session name, ASCII, space padded.
    pub session: [u8; 10],
    /// Sequence number of the first message in the packet (for heartbeats and
    /// end of session: the next expected sequence number).
    pub sequence: U64,
    /// Number of message blocks, or 0 (heartbeat), or 0xFFFF (end of session).
    pub count: U16,
}

/// A read-only view of a MoldUDP64 downstream packet.
#[derive(Debug, Clone, Copy)]
pub struct MoldPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> MoldPacket<T> {
    /// Checks that the header fits. Message blocks are validated one by one as
    /// [`MoldPacket::messages`] walks them, so that whole messages before a bad
    /// block can still be used.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::MoldTruncated);
        }
        Ok(Self { buffer })
    }

    fn header(&self) -> &MoldHeader {
        // The length was checked in new_checked and MoldHeader is Unaligned, so
        // this cannot fail; the fallback keeps the accessor panic-free anyway.
        match MoldHeader::ref_from_prefix(self.buffer.as_ref()) {
            Ok((h, _)) => h,
            Err(_) => &EMPTY_HEADER,
        }
    }

    /// Session name (10 ASCII bytes).
    pub fn session(&self) -> &[u8; 10] {
        &self.header().session
    }

    /// The whole packet, header included.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Sequence number of the first message.
    pub fn sequence(&self) -> u64 {
        self.header().sequence.get()
    }

    /// The message count field.
    pub fn count(&self) -> u16 {
        self.header().count.get()
    }

    /// A heartbeat: no messages, the sequence is the next expected one.
    pub fn is_heartbeat(&self) -> bool {
        self.count() == COUNT_HEARTBEAT
    }

    /// The end-of-session marker.
    pub fn is_end_of_session(&self) -> bool {
        self.count() == COUNT_END_OF_SESSION
    }

    /// Number of messages the packet carries (0 for heartbeats and end of session).
    pub fn message_count(&self) -> u16 {
        if self.is_end_of_session() {
            0
        } else {
            self.count()
        }
    }

    /// Walks the message blocks. Yields `Ok(message)` for each whole block, then
    /// at most one `Err(MoldBlockOverrun)` if a block runs past the end, and stops.
    pub fn messages(&self) -> MessageBlocks<'_> {
        MessageBlocks {
            rest: self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[]),
            remaining: self.message_count(),
        }
    }

    /// Bytes after the header.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }
}

static EMPTY_HEADER: MoldHeader = MoldHeader {
    session: [b' '; 10],
    sequence: U64::ZERO,
    count: U16::ZERO,
};

/// Iterator over the message blocks of a [`MoldPacket`].
#[derive(Debug, Clone)]
pub struct MessageBlocks<'a> {
    rest: &'a [u8],
    remaining: u16,
}

impl<'a> MessageBlocks<'a> {
    /// Blocks the header announced that have not been yielded yet.
    pub fn remaining(&self) -> u16 {
        self.remaining
    }

    /// Bytes behind the last announced block (after the iterator is done).
    pub fn trailing(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for MessageBlocks<'a> {
    type Item = Result<&'a [u8], WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let rest = self.rest;
        let (len, body) = match rest {
            [hi, lo, body @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), body),
            _ => {
                self.remaining = 0;
                return Some(Err(WireError::MoldBlockOverrun));
            }
        };
        match body.split_at_checked(len) {
            Some((msg, tail)) => {
                self.rest = tail;
                Some(Ok(msg))
            }
            None => {
                self.remaining = 0;
                Some(Err(WireError::MoldBlockOverrun))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.remaining)))
    }
}

/// What a downstream header should say, for writing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MoldRepr {
    /// Session name.
    pub session: [u8; 10],
    /// Sequence number of the first message.
    pub sequence: u64,
    /// Message count.
    pub count: u16,
}

impl MoldRepr {
    /// Writes the 20-byte header; `None` when `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        let h = buf.get_mut(..HEADER_LEN)?;
        h[..10].copy_from_slice(&self.session);
        h[10..18].copy_from_slice(&self.sequence.to_be_bytes());
        h[18..20].copy_from_slice(&self.count.to_be_bytes());
        Some(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Session "TEST000001", sequence 1000, count 2; blocks: len 3 "abc", len 1 "z".
    const PACKET: [u8; 28] = [
        b'T', b'E', b'S', b'T', b'0', b'0', b'0', b'0', b'0', b'1', 0, 0, 0, 0, 0, 0, 0x03, 0xe8,
        0x00, 0x02, 0x00, 0x03, b'a', b'b', b'c', 0x00, 0x01, b'z',
    ];

    #[test]
    fn layout() {
        assert_eq!(core::mem::size_of::<MoldHeader>(), HEADER_LEN);
        assert_eq!(core::mem::align_of::<MoldHeader>(), 1);
    }

    #[test]
    fn vector() {
        let p = MoldPacket::new_checked(&PACKET[..]).unwrap();
        assert_eq!(p.session(), b"TEST000001");
        assert_eq!(p.sequence(), 1000);
        assert_eq!(p.count(), 2);
        assert!(!p.is_heartbeat() && !p.is_end_of_session());
        let mut it = p.messages();
        assert_eq!(it.next(), Some(Ok(&b"abc"[..])));
        assert_eq!(it.next(), Some(Ok(&b"z"[..])));
        assert_eq!(it.next(), None);
        assert!(it.trailing().is_empty());
    }

    #[test]
    fn overrun_after_good_block() {
        let p = MoldPacket::new_checked(&PACKET[..27]).unwrap();
        let mut it = p.messages();
        assert_eq!(it.next(), Some(Ok(&b"abc"[..])));
        assert_eq!(it.next(), Some(Err(WireError::MoldBlockOverrun)));
        assert_eq!(it.next(), None);
        // A length prefix cut in half is an overrun too.
        let p = MoldPacket::new_checked(&PACKET[..26]).unwrap();
        assert_eq!(p.messages().nth(1), Some(Err(WireError::MoldBlockOverrun)));
    }

    #[test]
    fn heartbeat_and_end_of_session() {
        let mut hb = [0u8; 20];
        hb[..10].copy_from_slice(b"TEST000001");
        hb[17] = 7;
        let p = MoldPacket::new_checked(&hb[..]).unwrap();
        assert!(p.is_heartbeat());
        assert_eq!(p.sequence(), 7);
        assert_eq!(p.messages().next(), None);
        hb[18] = 0xff;
        hb[19] = 0xff;
        let p = MoldPacket::new_checked(&hb[..]).unwrap();
        assert!(p.is_end_of_session());
        assert_eq!(p.message_count(), 0);
        assert_eq!(p.messages().next(), None);
    }

    #[test]
    fn truncated_header() {
        for n in 0..20 {
            assert_eq!(
                MoldPacket::new_checked(&PACKET[..n]).unwrap_err(),
                WireError::MoldTruncated
            );
        }
    }

    #[test]
    fn emit_round_trip() {
        let mut buf = [0u8; 20];
        MoldRepr {
            session: *b"TEST000001",
            sequence: 1000,
            count: 2,
        }
        .emit(&mut buf)
        .unwrap();
        assert_eq!(buf, PACKET[..20]);
    }
}
