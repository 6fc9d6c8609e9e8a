//! Zero-copy wire views in the style of smoltcp's `wire`: each `Packet<T>` type
//! validates its length once in `new_checked`, after which its accessors cannot
//! panic. `*Repr` types write headers.

mod error;
pub mod ethernet;
pub mod ipv4;
pub mod itch;
pub mod moldudp64;
pub mod udp;

pub use error::WireError;
pub use ethernet::EthernetFrame;
pub use ipv4::Ipv4Packet;
pub use moldudp64::MoldPacket;
pub use udp::UdpPacket;

/// Why a well-formed frame is not one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FilterReason {
    /// EtherType other than IPv4 (ARP, IPv6, LLDP, QinQ …).
    NotIpv4,
    /// IPv4 but not UDP.
    NotUdp,
    /// UDP to a port we do not consume.
    OtherPort,
}

impl FilterReason {
    /// A short stable name, for counters and logs.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::NotIpv4 => "not_ipv4",
            Self::NotUdp => "not_udp",
            Self::OtherPort => "other_port",
        }
    }
}

/// What a received frame turned out to be.
#[derive(Debug, Clone, Copy)]
pub enum Frame<'a> {
    /// A MoldUDP64 packet on one of our ports.
    Mold {
        /// The MoldUDP64 view over the UDP payload.
        packet: MoldPacket<&'a [u8]>,
        /// UDP destination port it arrived on.
        dst_port: u16,
        /// IPv4 destination address (a line's group, or ours for a
        /// re-request answer).
        dst_ip: [u8; 4],
        /// VLAN id, if the frame was tagged.
        vlan: Option<u16>,
    },
    /// Well formed, but not for us.
    Filtered(FilterReason),
}

/// Walks Ethernet (one optional 802.1Q tag), IPv4, UDP and the MoldUDP64 header
/// of one received frame, in place.
///
/// `ports` lists the UDP destination ports to consume; an empty slice accepts
/// every port. Fragments are errors ([`WireError::Ipv4Fragment`]): MoldUDP64
/// datagrams fit one frame. IPv4 header checksums are not verified here (NICs
/// verify them; see [`Ipv4Packet::verify_checksum`]).
#[inline]
pub fn classify_frame<'a>(frame: &'a [u8], ports: &[u16]) -> Result<Frame<'a>, WireError> {
    let eth = EthernetFrame::new_checked(frame)?;
    if eth.ethertype() != ethernet::ETHERTYPE_IPV4 {
        return Ok(Frame::Filtered(FilterReason::NotIpv4));
    }
    let vlan = eth.vlan_id();
    let ip_bytes = match frame.get(eth.header_len()..) {
        Some(b) => b,
        None => return Err(WireError::EthernetTruncated),
    };
    let ip = Ipv4Packet::new_checked(ip_bytes)?;
    if ip.is_fragment() {
        return Err(WireError::Ipv4Fragment);
    }
    if ip.protocol() != ipv4::PROTOCOL_UDP {
        return Ok(Frame::Filtered(FilterReason::NotUdp));
    }
    let hl = ip.header_len();
    let udp_bytes = match ip_bytes.get(hl..ip.total_len()) {
        Some(b) => b,
        None => return Err(WireError::Ipv4BadTotalLength),
    };
    let udp = UdpPacket::new_checked(udp_bytes)?;
    let dst_port = udp.dst_port();
    if !ports.is_empty() && !ports.contains(&dst_port) {
        return Ok(Frame::Filtered(FilterReason::OtherPort));
    }
    let payload = match udp_bytes.get(udp::HEADER_LEN..udp.len()) {
        Some(b) => b,
        None => return Err(WireError::UdpBadLength),
    };
    let packet = MoldPacket::new_checked(payload)?;
    Ok(Frame::Mold {
        packet,
        dst_port,
        dst_ip: ip.dst(),
        vlan,
    })
}

#[cfg(test)]
mod tests;
