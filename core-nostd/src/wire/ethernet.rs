//! Ethernet II frames with at most one 802.1Q tag.

use super::WireError;

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// TPID of an 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// Length of an untagged Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// Length of an Ethernet II header carrying one 802.1Q tag.
pub const VLAN_HEADER_LEN: usize = 18;

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const TCI: Range<usize> = 14..16;
    pub const INNER_ETHERTYPE: Range<usize> = 16..18;
}

/// A read-only view of an Ethernet II frame, validated once.
#[derive(Debug, Clone, Copy)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Validates that the header (and a VLAN tag, if the TPID says there is one)
    /// fits in `buffer`.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::EthernetTruncated);
        }
        if u16::from_be_bytes([b[12], b[13]]) == ETHERTYPE_VLAN && b.len() < VLAN_HEADER_LEN {
            return Err(WireError::VlanTruncated);
        }
        Ok(Self { buffer })
    }

    fn raw_ethertype(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[field::ETHERTYPE.start], b[field::ETHERTYPE.start + 1]])
    }

    /// Destination MAC address.
    pub fn dst(&self) -> [u8; 6] {
        let mut mac = [0; 6];
        mac.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        mac
    }

    /// Source MAC address.
    pub fn src(&self) -> [u8; 6] {
        let mut mac = [0; 6];
        mac.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        mac
    }

    /// True when the frame carries an 802.1Q tag.
    pub fn has_vlan(&self) -> bool {
        self.raw_ethertype() == ETHERTYPE_VLAN
    }

    /// The 12-bit VLAN id, when tagged.
    pub fn vlan_id(&self) -> Option<u16> {
        self.has_vlan().then(|| {
            let b = self.buffer.as_ref();
            u16::from_be_bytes([b[field::TCI.start], b[field::TCI.start + 1]]) & 0x0fff
        })
    }

    /// The EtherType of the payload (behind the tag when tagged). A second tag
    /// (QinQ) shows up here as 0x8100 and is not looked into.
    pub fn ethertype(&self) -> u16 {
        if self.has_vlan() {
            let b = self.buffer.as_ref();
            let i = field::INNER_ETHERTYPE.start;
            u16::from_be_bytes([b[i], b[i + 1]])
        } else {
            self.raw_ethertype()
        }
    }

    /// Length of the header including any tag.
    pub fn header_len(&self) -> usize {
        if self.has_vlan() {
            VLAN_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Everything after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// What an Ethernet II header should say, for writing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EthernetRepr {
    /// Source MAC.
    pub src: [u8; 6],
    /// Destination MAC.
    pub dst: [u8; 6],
    /// EtherType of the payload.
    pub ethertype: u16,
}

impl EthernetRepr {
    /// Writes the 14-byte header to the front of `buf`; returns the bytes
    /// written, or `None` when `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> Option<usize> {
        let h = buf.get_mut(..HEADER_LEN)?;
        h[field::DST].copy_from_slice(&self.dst);
        h[field::SRC].copy_from_slice(&self.src);
        h[field::ETHERTYPE].copy_from_slice(&self.ethertype.to_be_bytes());
        Some(HEADER_LEN)
    }
}

/// The multicast MAC an IPv4 group maps to (RFC 1112: 01:00:5e + low 23 bits).
pub const fn ipv4_multicast_mac(group: [u8; 4]) -> [u8; 6] {
    [0x01, 0x00, 0x5e, group[1] & 0x7f, group[2], group[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    // dst 01:00:5e:36:0c:6f, src 02:00:00:00:00:01, IPv4, then 2 payload bytes.
    const UNTAGGED: [u8; 16] = [
        0x01, 0x00, 0x5e, 0x36, 0x0c, 0x6f, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0xaa,
        0xbb,
    ];
    // Same with tag PCP 3, VID 0x123.
    const TAGGED: [u8; 20] = [
        0x01, 0x00, 0x5e, 0x36, 0x0c, 0x6f, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x81, 0x00, 0x61,
        0x23, 0x08, 0x00, 0xaa, 0xbb,
    ];

    #[test]
    fn untagged_vector() {
        let f = EthernetFrame::new_checked(&UNTAGGED[..]).unwrap();
        assert_eq!(f.dst(), [0x01, 0x00, 0x5e, 0x36, 0x0c, 0x6f]);
        assert_eq!(f.src(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(f.ethertype(), ETHERTYPE_IPV4);
        assert_eq!(f.vlan_id(), None);
        assert_eq!(f.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn tagged_vector() {
        let f = EthernetFrame::new_checked(&TAGGED[..]).unwrap();
        assert!(f.has_vlan());
        assert_eq!(f.vlan_id(), Some(0x123));
        assert_eq!(f.ethertype(), ETHERTYPE_IPV4);
        assert_eq!(f.header_len(), 18);
        assert_eq!(f.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn truncations() {
        for n in 0..14 {
            assert_eq!(
                EthernetFrame::new_checked(&UNTAGGED[..n]).unwrap_err(),
                WireError::EthernetTruncated
            );
        }
        for n in 14..18 {
            assert_eq!(
                EthernetFrame::new_checked(&TAGGED[..n]).unwrap_err(),
                WireError::VlanTruncated
            );
        }
        assert!(EthernetFrame::new_checked(&TAGGED[..18])
            .unwrap()
            .payload()
            .is_empty());
    }

    #[test]
    fn emit_round_trip() {
        let repr = EthernetRepr {
            src: [2, 0, 0, 0, 0, 1],
            dst: ipv4_multicast_mac([233, 54, 12, 111]),
            ethertype: ETHERTYPE_IPV4,
        };
        let mut buf = [0u8; 14];
        assert_eq!(repr.emit(&mut buf), Some(14));
        assert_eq!(buf, UNTAGGED[..14]);
        assert_eq!(repr.emit(&mut buf[..13]), None);
    }
}
