//! MoldUDP64 downstream packets and request packets, built on the std side.
//!
//! A NASDAQ BinaryFILE is a run of `u16 BE length` + message blocks, which is
//! exactly the layout of MoldUDP64 message blocks. So a packet is its 20-byte
//! header followed by a slice of the file, copied once: [`PacketCutter`]
//! finds where each packet's slice ends, and never re-encodes a message.
//! The receive side's views (`tickwire_core::wire::moldudp64`) read what this
//! writes.

use tickwire_core::wire::moldudp64::MoldRepr;
pub use tickwire_core::wire::moldudp64::{COUNT_END_OF_SESSION, COUNT_HEARTBEAT, HEADER_LEN};

/// Largest MoldUDP64 payload (header included) by default: what NASDAQ uses
/// so that a packet fits a 1,500-byte Ethernet MTU with room to spare.
pub const DEFAULT_MAX_PAYLOAD: usize = 1400;
/// Largest UDP payload over IPv4.
pub const MAX_UDP_PAYLOAD: usize = 65_507;
/// Most message blocks in one data packet: 0xFFFF means end of session.
pub const MAX_MESSAGES_PER_PACKET: u16 = 0xFFFE;
/// Length of a request packet (session, sequence, requested count).
pub const REQUEST_LEN: usize = 20;

/// A MoldUDP64 session name: 10 ASCII bytes, space padded.
pub type SessionName = [u8; 10];

/// Parses a session name: at most 10 printable ASCII characters (spaces
/// allowed), padded with spaces on the right as NASDAQ does.
pub fn session_name(s: &str) -> Result<SessionName, String> {
    if s.len() > 10 || !s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(format!(
            "session {s:?} must be at most 10 printable ASCII characters"
        ));
    }
    let mut name = [b' '; 10];
    name[..s.len()].copy_from_slice(s.as_bytes());
    Ok(name)
}

/// Appends a downstream header to `out`.
pub fn push_header(out: &mut Vec<u8>, session: &SessionName, sequence: u64, count: u16) {
    let at = out.len();
    out.resize(at + HEADER_LEN, 0);
    let repr = MoldRepr {
        session: *session,
        sequence,
        count,
    };
    // The slice is exactly HEADER_LEN long, so emit always writes it.
    let _ = repr.emit(&mut out[at..]);
}

/// A heartbeat (count 0) or end-of-session (count 0xFFFF) packet: a header
/// alone, whose sequence is the next one the publisher will send.
pub fn control_packet(session: &SessionName, next_sequence: u64, count: u16) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    let repr = MoldRepr {
        session: *session,
        sequence: next_sequence,
        count,
    };
    let _ = repr.emit(&mut out);
    out
}

/// A re-request: "send me `count` messages of `session` from `sequence`".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Session the client is on.
    pub session: SessionName,
    /// First sequence number wanted.
    pub sequence: u64,
    /// Number of messages wanted.
    pub count: u16,
}

impl Request {
    /// Reads a request datagram; `None` unless it is exactly 20 bytes.
    pub fn parse(datagram: &[u8]) -> Option<Request> {
        let b: &[u8; REQUEST_LEN] = datagram.try_into().ok()?;
        let mut session = [0u8; 10];
        session.copy_from_slice(&b[..10]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&b[10..18]);
        Some(Request {
            session,
            sequence: u64::from_be_bytes(seq),
            count: u16::from_be_bytes([b[18], b[19]]),
        })
    }

    /// The request's wire form (the same layout as a downstream header).
    pub fn to_bytes(&self) -> [u8; REQUEST_LEN] {
        control_packet(&self.session, self.sequence, self.count)
    }
}

/// How big a data packet may get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketLimits {
    /// Largest MoldUDP64 payload in bytes, the 20-byte header included. A
    /// message too long to fit even alone still goes, alone, so that the
    /// stream never stalls on it.
    pub max_payload: usize,
    /// Most messages per packet (0 is taken as 1).
    pub max_messages: u16,
}

impl Default for PacketLimits {
    fn default() -> Self {
        PacketLimits {
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_messages: MAX_MESSAGES_PER_PACKET,
        }
    }
}

/// One data packet's worth of consecutive messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Sequence number of the first message.
    pub sequence: u64,
    /// Number of messages (1 to 0xFFFE).
    pub count: u16,
    /// The message blocks (`u16 BE length` + message, `count` times).
    pub blocks: &'a [u8],
}

impl Packet<'_> {
    /// Sequence number after the packet's last message.
    pub fn end_sequence(&self) -> u64 {
        self.sequence + u64::from(self.count)
    }

    /// Length of the MoldUDP64 payload this packet makes.
    pub fn payload_len(&self) -> usize {
        HEADER_LEN + self.blocks.len()
    }

    /// Writes the downstream packet into `out` (cleared first).
    pub fn write_into(&self, session: &SessionName, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.payload_len());
        push_header(out, session, self.sequence, self.count);
        out.extend_from_slice(self.blocks);
    }

    /// The downstream packet as a new buffer.
    pub fn to_vec(&self, session: &SessionName) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_into(session, &mut v);
        v
    }
}

/// Length of the block at the start of `rest`, prefix included, if whole.
#[inline]
fn block_len(rest: &[u8]) -> Option<usize> {
    match rest {
        [hi, lo, body @ ..] => {
            let n = usize::from(u16::from_be_bytes([*hi, *lo]));
            (n <= body.len()).then_some(2 + n)
        }
        _ => None,
    }
}

/// Cuts a run of message blocks into data packets within [`PacketLimits`].
///
/// The blocks are taken as they lie (BinaryFILE bytes from some message on);
/// the first message is `first_sequence`. A block that runs past the end
/// ends the stream there (a [`crate::mold_store::MoldStore`] has checked its
/// file, so this only happens on unchecked input).
#[derive(Debug, Clone)]
pub struct PacketCutter<'a> {
    blocks: &'a [u8],
    pos: usize,
    next_sequence: u64,
    limits: PacketLimits,
}

impl<'a> PacketCutter<'a> {
    /// Cuts `blocks`, whose first message has sequence `first_sequence`.
    pub fn new(blocks: &'a [u8], first_sequence: u64, limits: PacketLimits) -> Self {
        PacketCutter {
            blocks,
            pos: 0,
            next_sequence: first_sequence,
            limits,
        }
    }

    /// Sequence number of the next message not yet in a packet.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Whether every message has been cut.
    pub fn is_done(&self) -> bool {
        block_len(&self.blocks[self.pos..]).is_none()
    }

    /// The next packet. `keep(sequence, message)` is asked about each
    /// message the limits would admit, the first included; a message after
    /// the first joins only if it says yes (the first goes whatever it says).
    /// A publisher pacing by time uses it not to hold early messages back
    /// for late ones.
    pub fn next_packet_while(
        &mut self,
        mut keep: impl FnMut(u64, &[u8]) -> bool,
    ) -> Option<Packet<'a>> {
        let start = self.pos;
        let first = self.next_sequence;
        let max_count = self.limits.max_messages.clamp(1, MAX_MESSAGES_PER_PACKET);
        let room = self.limits.max_payload.saturating_sub(HEADER_LEN);
        let mut end = start;
        let mut count: u16 = 0;
        while let Some(len) = block_len(&self.blocks[end..]) {
            if count > 0 && (count >= max_count || end - start + len > room) {
                break;
            }
            let keeps = keep(first + u64::from(count), &self.blocks[end + 2..end + len]);
            if count > 0 && !keeps {
                break;
            }
            end += len;
            count += 1;
        }
        if count == 0 {
            return None;
        }
        self.pos = end;
        self.next_sequence = first + u64::from(count);
        Some(Packet {
            sequence: first,
            count,
            blocks: &self.blocks[start..end],
        })
    }
}

impl<'a> Iterator for PacketCutter<'a> {
    type Item = Packet<'a>;

    fn next(&mut self) -> Option<Packet<'a>> {
        self.next_packet_while(|_, _| true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: SessionName = *b"TEST000001";

    /// Blocks "abc" (len 3), "z" (len 1), "hello" (len 5).
    const BLOCKS: [u8; 15] = [
        0, 3, b'a', b'b', b'c', 0, 1, b'z', 0, 5, b'h', b'e', b'l', b'l', b'o',
    ];

    #[test]
    fn session_names() {
        assert_eq!(session_name("AB"), Ok(*b"AB        "));
        assert_eq!(session_name("TEST000001"), Ok(S));
        assert!(session_name("TOOLONG0001").is_err());
        assert!(session_name("tab\there").is_err());
    }

    #[test]
    fn header_and_control_bytes() {
        let mut v = vec![9];
        push_header(&mut v, &S, 1000, 2);
        assert_eq!(
            v,
            [
                9, b'T', b'E', b'S', b'T', b'0', b'0', b'0', b'0', b'0', b'1', 0, 0, 0, 0, 0, 0,
                0x03, 0xe8, 0, 2
            ]
        );
        let eos = control_packet(&S, 0x0102_0304_0506_0708, COUNT_END_OF_SESSION);
        assert_eq!(&eos[10..], &[1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff]);
    }

    #[test]
    fn request_roundtrip() {
        let r = Request {
            session: S,
            sequence: 77,
            count: 300,
        };
        let b = r.to_bytes();
        assert_eq!(&b[10..], &[0, 0, 0, 0, 0, 0, 0, 77, 1, 44]);
        assert_eq!(Request::parse(&b), Some(r));
        assert_eq!(Request::parse(&b[..19]), None);
        assert_eq!(Request::parse(&[0; 21]), None);
    }

    #[test]
    fn cut_by_payload() {
        // Room for 20 + 5 + 3 = 28: "abc" and "z" fit, "hello" does not.
        let limits = PacketLimits {
            max_payload: 28,
            max_messages: 100,
        };
        let mut c = PacketCutter::new(&BLOCKS, 10, limits);
        let p = c.next().unwrap();
        assert_eq!((p.sequence, p.count, p.blocks), (10, 2, &BLOCKS[..8]));
        assert_eq!(
            p.to_vec(&S),
            [
                b'T', b'E', b'S', b'T', b'0', b'0', b'0', b'0', b'0', b'1', 0, 0, 0, 0, 0, 0, 0,
                10, 0, 2, 0, 3, b'a', b'b', b'c', 0, 1, b'z'
            ]
        );
        let p = c.next().unwrap();
        assert_eq!((p.sequence, p.count, p.blocks), (12, 1, &BLOCKS[8..]));
        assert_eq!(p.end_sequence(), 13);
        assert!(c.is_done());
        assert_eq!(c.next(), None);
        assert_eq!(c.next_sequence(), 13);
    }

    #[test]
    fn cut_by_count_and_keep() {
        let limits = PacketLimits {
            max_payload: 1400,
            max_messages: 1,
        };
        let counts: Vec<u16> = PacketCutter::new(&BLOCKS, 1, limits)
            .map(|p| p.count)
            .collect();
        assert_eq!(counts, [1, 1, 1]);
        let mut c = PacketCutter::new(&BLOCKS, 1, PacketLimits::default());
        let mut seen = Vec::new();
        let p = c
            .next_packet_while(|seq, msg| {
                seen.push((seq, msg.len()));
                seq < 3
            })
            .unwrap();
        assert_eq!((p.sequence, p.count), (1, 2));
        assert_eq!(seen, [(1, 3), (2, 1), (3, 5)]);
        let p = c.next_packet_while(|_, _| false).unwrap();
        assert_eq!((p.sequence, p.count), (3, 1));
    }

    #[test]
    fn oversized_message_goes_alone_and_bad_tail_stops() {
        let limits = PacketLimits {
            max_payload: 21,
            max_messages: 0,
        };
        let counts: Vec<u16> = PacketCutter::new(&BLOCKS, 1, limits)
            .map(|p| p.count)
            .collect();
        assert_eq!(counts, [1, 1, 1]);
        // The last block claims 5 bytes and has 4: the stream ends before it.
        let mut c = PacketCutter::new(&BLOCKS[..14], 1, PacketLimits::default());
        assert_eq!(c.next().map(|p| p.count), Some(2));
        assert_eq!(c.next(), None);
        assert!(PacketCutter::new(&[], 1, PacketLimits::default())
            .next()
            .is_none());
    }
}
