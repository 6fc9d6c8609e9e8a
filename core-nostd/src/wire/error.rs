//! The one error type of the wire layer.

use core::fmt;

/// Why a frame, packet or message was rejected.
///
/// Every variant is a value the caller can count and skip past; nothing in the
/// wire layer panics on bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WireError {
    /// Shorter than an Ethernet II header (14 bytes).
    EthernetTruncated,
    /// An 802.1Q TPID without the 4 bytes of tag and inner EtherType behind it.
    VlanTruncated,
    /// Shorter than a minimal IPv4 header (20 bytes).
    Ipv4Truncated,
    /// The version nibble is not 4.
    Ipv4BadVersion,
    /// IHL below 5, or the header it announces runs past the buffer.
    Ipv4BadHeaderLength,
    /// Total length below the header length or past the buffer.
    Ipv4BadTotalLength,
    /// A fragment (MF set or non-zero offset): MoldUDP64 never fragments, and
    /// reassembly is not done on the hot path.
    Ipv4Fragment,
    /// Shorter than a UDP header (8 bytes).
    UdpTruncated,
    /// The UDP length field is below 8 or past the IP payload.
    UdpBadLength,
    /// Shorter than a MoldUDP64 downstream header (20 bytes).
    MoldTruncated,
    /// A message block's length runs past the end of the packet.
    MoldBlockOverrun,
    /// A zero-length ITCH message (no type byte).
    ItchEmpty,
    /// A type byte that ITCH 5.0 does not define.
    ItchUnknownType(u8),
    /// A known type whose framing length differs from the specification's.
    ItchBadLength {
        /// The type byte.
        msg_type: u8,
        /// Length the specification gives for this type.
        expected: u16,
        /// Length the framing gave.
        actual: u16,
    },
}

impl WireError {
    /// A short stable name, for counters and logs.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::EthernetTruncated => "ethernet_truncated",
            Self::VlanTruncated => "vlan_truncated",
            Self::Ipv4Truncated => "ipv4_truncated",
            Self::Ipv4BadVersion => "ipv4_bad_version",
            Self::Ipv4BadHeaderLength => "ipv4_bad_header_length",
            Self::Ipv4BadTotalLength => "ipv4_bad_total_length",
            Self::Ipv4Fragment => "ipv4_fragment",
            Self::UdpTruncated => "udp_truncated",
            Self::UdpBadLength => "udp_bad_length",
            Self::MoldTruncated => "mold_truncated",
            Self::MoldBlockOverrun => "mold_block_overrun",
            Self::ItchEmpty => "itch_empty",
            Self::ItchUnknownType(_) => "itch_unknown_type",
            Self::ItchBadLength { .. } => "itch_bad_length",
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ItchUnknownType(t) => write!(f, "unknown ITCH message type 0x{t:02x}"),
            Self::ItchBadLength {
                msg_type,
                expected,
                actual,
            } => write!(
                f,
                "ITCH message type '{}' is {actual} bytes, the specification says {expected}",
                msg_type as char
            ),
            _ => f.write_str(self.name()),
        }
    }
}

impl core::error::Error for WireError {}
