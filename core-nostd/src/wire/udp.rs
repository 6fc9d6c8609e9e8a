//! UDP datagrams.

use super::WireError;

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// A read-only view of a UDP datagram whose length field was validated once.
#[derive(Debug, Clone, Copy)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Checks the header fits and the length field lies between 8 and the buffer
    /// length (the IP payload).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::UdpTruncated);
        }
        let len = usize::from(u16::from_be_bytes([b[4], b[5]]));
        if len < HEADER_LEN || len > b.len() {
            return Err(WireError::UdpBadLength);
        }
        Ok(Self { buffer })
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    /// The length field (header included).
    pub fn len(&self) -> usize {
        let b = self.buffer.as_ref();
        usize::from(u16::from_be_bytes([b[4], b[5]]))
    }

    /// True when the datagram carries no payload.
    pub fn is_empty(&self) -> bool {
        self.len() == HEADER_LEN
    }

    /// Checksum as carried (0 means none).
    pub fn checksum(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[6], b[7]])
    }

    /// The payload the length field covers.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.len()]
    }
}

/// What a UDP header should say, for writing one (checksum 0: none, as
/// IPv4 allows and market-data multicast commonly does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Length of the payload behind the header.
    pub payload_len: u16,
}

impl UdpRepr {
    /// Writes the 8-byte header; `None` when `buf` is too short or the length
    /// overflows.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        let len = self.payload_len.checked_add(HEADER_LEN as u16)?;
        let h = buf.get_mut(..HEADER_LEN)?;
        h[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        h[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        h[4..6].copy_from_slice(&len.to_be_bytes());
        h[6..8].copy_from_slice(&[0, 0]);
        Some(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // src 30001, dst 26400 (0x6720), length 12, checksum 0, payload de ad be ef, then 2 trailing bytes.
    const DGRAM: [u8; 14] = [
        0x75, 0x31, 0x67, 0x20, 0x00, 0x0c, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff,
    ];

    #[test]
    fn vector() {
        let u = UdpPacket::new_checked(&DGRAM[..]).unwrap();
        assert_eq!(u.src_port(), 30001);
        assert_eq!(u.dst_port(), 26400);
        assert_eq!(u.len(), 12);
        assert_eq!(u.checksum(), 0);
        assert_eq!(u.payload(), &[0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn rejections() {
        assert_eq!(
            UdpPacket::new_checked(&DGRAM[..7]).unwrap_err(),
            WireError::UdpTruncated
        );
        assert_eq!(
            UdpPacket::new_checked(&DGRAM[..11]).unwrap_err(),
            WireError::UdpBadLength
        );
        let mut d = DGRAM;
        d[5] = 7;
        assert_eq!(
            UdpPacket::new_checked(&d[..]).unwrap_err(),
            WireError::UdpBadLength
        );
    }

    #[test]
    fn emit_round_trip() {
        let mut buf = [0u8; 8];
        UdpRepr {
            src_port: 30001,
            dst_port: 26400,
            payload_len: 4,
        }
        .emit(&mut buf)
        .unwrap();
        assert_eq!(buf, DGRAM[..8]);
    }
}
