//! IPv4 packets (options allowed, fragments detected).

use super::WireError;

/// IP protocol number of UDP.
pub const PROTOCOL_UDP: u8 = 17;
/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

/// A read-only view of an IPv4 packet whose header and total length were
/// validated once against the buffer. Bytes past the total length (Ethernet
/// padding) are ignored.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Checks version 4, IHL of at least 5 within the buffer, and a total length
    /// between the header length and the buffer length.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(WireError::Ipv4Truncated);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(WireError::Ipv4BadVersion);
        }
        let header_len = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        if header_len < MIN_HEADER_LEN || header_len > b.len() {
            return Err(WireError::Ipv4BadHeaderLength);
        }
        let total_len = usize::from(be16(b, field::TOTAL_LEN));
        if total_len < header_len || total_len > b.len() {
            return Err(WireError::Ipv4BadTotalLength);
        }
        Ok(Self { buffer })
    }

    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The total length field.
    pub fn total_len(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), field::TOTAL_LEN))
    }

    /// Identification field.
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }

    /// Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS_FRAG] & 0x40 != 0
    }

    /// More Fragments flag.
    pub fn more_frags(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS_FRAG] & 0x20 != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), field::FLAGS_FRAG) & 0x1fff) * 8
    }

    /// True for any fragment of a larger datagram.
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol number.
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum as carried.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// True when the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum(&self.buffer.as_ref()[..self.header_len()]) == 0
    }

    /// Source address.
    pub fn src(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [
            b[field::SRC],
            b[field::SRC + 1],
            b[field::SRC + 2],
            b[field::SRC + 3],
        ]
    }

    /// Destination address.
    pub fn dst(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [
            b[field::DST],
            b[field::DST + 1],
            b[field::DST + 2],
            b[field::DST + 3],
        ]
    }

    /// The bytes between the header and the total length.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..self.total_len()]
    }
}

/// The ones'-complement sum used by the IPv4 header checksum, folded and
/// inverted: 0 over a header that carries a correct checksum.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// What an option-less IPv4 header should say, for writing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ipv4Repr {
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
    /// Protocol number.
    pub protocol: u8,
    /// Length of what follows the header.
    pub payload_len: u16,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub ident: u16,
}

impl Ipv4Repr {
    /// Writes a 20-byte header with DF set and a correct checksum to the front of
    /// `buf`. Returns the bytes written, or `None` when `buf` is too short or the
    /// payload does not fit a 16-bit total length.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        let total = self.payload_len.checked_add(MIN_HEADER_LEN as u16)?;
        let h = buf.get_mut(..MIN_HEADER_LEN)?;
        h[0] = 0x45;
        h[1] = 0;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&self.ident.to_be_bytes());
        h[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
        h[field::TTL] = self.ttl;
        h[field::PROTOCOL] = self.protocol;
        h[10..12].copy_from_slice(&[0, 0]);
        h[12..16].copy_from_slice(&self.src);
        h[16..20].copy_from_slice(&self.dst);
        let c = checksum(h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        Some(MIN_HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 45 00 | total 0x001e (30) | id 0x1c46 | DF | ttl 64 | UDP | csum | 10.0.0.1 -> 233.54.12.111
    // then 10 payload bytes. Checksum computed by hand:
    // 4500+001e+1c46+4000+4011+0000+0a00+0001+e936+0c6f = 0x1_e11b -> 0xe11c -> !0xe11c = 0x1ee3
    const PACKET: [u8; 30] = [
        0x45, 0x00, 0x00, 0x1e, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x11, 0x1e, 0xe3, 0x0a, 0x00, 0x00,
        0x01, 0xe9, 0x36, 0x0c, 0x6f, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ];

    #[test]
    fn vector() {
        let p = Ipv4Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 30);
        assert_eq!(p.ident(), 0x1c46);
        assert!(p.dont_frag() && !p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), PROTOCOL_UDP);
        assert_eq!(p.checksum(), 0x1ee3);
        assert!(p.verify_checksum());
        assert_eq!(p.src(), [10, 0, 0, 1]);
        assert_eq!(p.dst(), [233, 54, 12, 111]);
        assert_eq!(p.payload(), &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn padding_is_ignored() {
        let mut padded = [0u8; 46];
        padded[..30].copy_from_slice(&PACKET);
        assert_eq!(
            Ipv4Packet::new_checked(&padded[..])
                .unwrap()
                .payload()
                .len(),
            10
        );
    }

    #[test]
    fn rejections() {
        assert_eq!(
            Ipv4Packet::new_checked(&PACKET[..19]).unwrap_err(),
            WireError::Ipv4Truncated
        );
        let mut p = PACKET;
        p[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&p[..]).unwrap_err(),
            WireError::Ipv4BadVersion
        );
        p[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&p[..]).unwrap_err(),
            WireError::Ipv4BadHeaderLength
        );
        p[0] = 0x48; // 32-byte header in a 30-byte buffer
        assert_eq!(
            Ipv4Packet::new_checked(&p[..]).unwrap_err(),
            WireError::Ipv4BadHeaderLength
        );
        let mut p = PACKET;
        p[3] = 31;
        assert_eq!(
            Ipv4Packet::new_checked(&p[..]).unwrap_err(),
            WireError::Ipv4BadTotalLength
        );
        p[3] = 19;
        assert_eq!(
            Ipv4Packet::new_checked(&p[..]).unwrap_err(),
            WireError::Ipv4BadTotalLength
        );
    }

    #[test]
    fn fragments() {
        let mut p = PACKET;
        p[6] = 0x20; // MF
        assert!(Ipv4Packet::new_checked(&p[..]).unwrap().is_fragment());
        p[6] = 0x00;
        p[7] = 0x01; // offset 8
        let v = Ipv4Packet::new_checked(&p[..]).unwrap();
        assert!(v.is_fragment());
        assert_eq!(v.frag_offset(), 8);
    }

    #[test]
    fn emit_matches_vector() {
        let repr = Ipv4Repr {
            src: [10, 0, 0, 1],
            dst: [233, 54, 12, 111],
            protocol: PROTOCOL_UDP,
            payload_len: 10,
            ttl: 64,
            ident: 0x1c46,
        };
        let mut buf = [0u8; 20];
        assert_eq!(repr.emit(&mut buf), Some(20));
        assert_eq!(buf, PACKET[..20]);
        assert_eq!(repr.emit(&mut buf[..19]), None);
    }
}
