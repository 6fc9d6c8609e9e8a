//! Ethernet II / 802.1Q / IPv4 / UDP frame building, including the
//! deliberately broken and foreign frames used for fault injection.

use super::config::NetConfig;
use super::manifest::{FilteredKind, MalformedKind};
use super::rng::Rng;

/// Ethertypes.
pub(crate) const ETH_IPV4: u16 = 0x0800;
pub(crate) const ETH_ARP: u16 = 0x0806;
pub(crate) const ETH_VLAN: u16 = 0x8100;
const IP_PROTO_UDP: u8 = 17;
const IP_PROTO_IGMP: u8 = 2;
/// Minimum Ethernet frame without FCS; shorter frames are zero padded.
const MIN_FRAME: usize = 60;

/// Builds frames with the configured addressing.
#[derive(Debug, Clone)]
pub(crate) struct FrameBuilder {
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src_ip: [u8; 4],
    dst_ip: [u8; 4],
    src_port: u16,
    dst_port: u16,
    ttl: u8,
    ip_id: u16,
}

/// RFC 1071 checksum.
pub(crate) fn inet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u32::from(*b) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pad(out: &mut Vec<u8>) {
    if out.len() < MIN_FRAME {
        out.resize(MIN_FRAME, 0);
    }
}

fn set_u16(out: &mut [u8], at: usize, v: u16) {
    out[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

impl FrameBuilder {
    pub(crate) fn new(net: &NetConfig) -> Self {
        FrameBuilder {
            src_mac: net.src_mac,
            dst_mac: net.effective_dst_mac(),
            src_ip: net.src_ip.octets(),
            dst_ip: net.dst_ip.octets(),
            src_port: net.src_port,
            dst_port: net.dst_port,
            ttl: net.ttl,
            ip_id: 0,
        }
    }

    pub(crate) fn dst_port(&self) -> u16 {
        self.dst_port
    }

    /// Ethernet header (+ tag); returns the offset of the L3 header.
    fn eth(&self, out: &mut Vec<u8>, dst: [u8; 6], vlan: Option<u16>, ethertype: u16) -> usize {
        out.clear();
        out.extend_from_slice(&dst);
        out.extend_from_slice(&self.src_mac);
        if let Some(vid) = vlan {
            out.extend_from_slice(&ETH_VLAN.to_be_bytes());
            out.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
        }
        out.extend_from_slice(&ethertype.to_be_bytes());
        out.len()
    }

    /// IPv4 header with DF, valid checksum; returns the L4 offset.
    fn ipv4(
        &mut self,
        out: &mut Vec<u8>,
        proto: u8,
        ttl: u8,
        dst: [u8; 4],
        options: &[u8],
        l4_len: usize,
    ) -> usize {
        let l3 = out.len();
        let hlen = 20 + options.len();
        self.ip_id = self.ip_id.wrapping_add(1);
        out.push(0x40 | (hlen / 4) as u8);
        out.push(0);
        out.extend_from_slice(&((hlen + l4_len) as u16).to_be_bytes());
        out.extend_from_slice(&self.ip_id.to_be_bytes());
        out.extend_from_slice(&0x4000u16.to_be_bytes()); // DF, offset 0
        out.push(ttl);
        out.push(proto);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.src_ip);
        out.extend_from_slice(&dst);
        out.extend_from_slice(options);
        fix_ip_checksum(out, l3);
        out.len()
    }

    /// A complete UDP frame carrying `payload`; returns the L3 offset.
    pub(crate) fn udp(
        &mut self,
        out: &mut Vec<u8>,
        vlan: Option<u16>,
        dst_port: u16,
        payload: &[u8],
    ) -> usize {
        let l3 = self.eth(out, self.dst_mac, vlan, ETH_IPV4);
        self.ipv4(
            out,
            IP_PROTO_UDP,
            self.ttl,
            self.dst_ip,
            &[],
            8 + payload.len(),
        );
        out.extend_from_slice(&self.src_port.to_be_bytes());
        out.extend_from_slice(&dst_port.to_be_bytes());
        out.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0]); // no UDP checksum
        out.extend_from_slice(payload);
        pad(out);
        l3
    }

    /// A frame the feed handler must filter out.
    pub(crate) fn filtered(
        &mut self,
        out: &mut Vec<u8>,
        vlan: Option<u16>,
        kind: FilteredKind,
        poison: &[u8],
    ) {
        match kind {
            FilteredKind::NonIpv4 => {
                // ARP who-has for the gateway.
                self.eth(out, [0xff; 6], vlan, ETH_ARP);
                out.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
                out.extend_from_slice(&self.src_mac);
                out.extend_from_slice(&self.src_ip);
                out.extend_from_slice(&[0; 6]);
                let mut gw = self.src_ip;
                gw[3] = 1;
                out.extend_from_slice(&gw);
                pad(out);
            }
            FilteredKind::NonUdp => {
                // IGMPv2 membership report for the group, with Router Alert.
                self.eth(out, self.dst_mac, vlan, ETH_IPV4);
                self.ipv4(out, IP_PROTO_IGMP, 1, self.dst_ip, &[0x94, 0x04, 0, 0], 8);
                let at = out.len();
                out.extend_from_slice(&[0x16, 0, 0, 0]);
                out.extend_from_slice(&self.dst_ip);
                let c = inet_checksum(&out[at..]);
                set_u16(out, at + 2, c);
                pad(out);
            }
            FilteredKind::OtherUdpPort => {
                let port = self.dst_port.wrapping_add(1);
                self.udp(out, vlan, port, poison);
            }
        }
    }

    /// A frame-level malformed frame (not one of the in-packet kinds).
    /// `poison` is a plausible MoldUDP64 packet a broken parser would accept.
    pub(crate) fn malformed(
        &mut self,
        out: &mut Vec<u8>,
        vlan: Option<u16>,
        tag_id: u16,
        kind: MalformedKind,
        poison: &[u8],
        rng: &mut Rng,
    ) {
        let dst_port = self.dst_port;
        match kind {
            MalformedKind::TruncatedEthernet => {
                self.udp(out, None, dst_port, poison);
                out.truncate(rng.range(1, 13) as usize);
            }
            MalformedKind::TruncatedVlan => {
                self.udp(out, Some(tag_id), dst_port, poison);
                out.truncate(rng.range(14, 17) as usize);
            }
            MalformedKind::Ipv4BadVersion => {
                let l3 = self.udp(out, vlan, dst_port, poison);
                out[l3] = (rng.pick(&[6u8, 6, 0, 5, 7, 15]) << 4) | 5;
                fix_ip_checksum(out, l3);
            }
            MalformedKind::Ipv4IhlTooSmall => {
                let l3 = self.udp(out, vlan, dst_port, poison);
                out[l3] = 0x40 | rng.range(0, 4) as u8;
                fix_ip_checksum(out, l3);
            }
            MalformedKind::Ipv4TotalLenExceedsFrame => {
                let l3 = self.udp(out, vlan, dst_port, poison);
                let have = out.len() - l3;
                let claim = (have + rng.range(1, 600) as usize).min(65_535);
                set_u16(out, l3 + 2, claim as u16);
                fix_ip_checksum(out, l3);
            }
            MalformedKind::Ipv4Fragment => {
                let l3 = self.udp(out, vlan, dst_port, poison);
                let frag = if rng.chance(0.5) {
                    0x2000 // MF, offset 0: first fragment
                } else {
                    rng.range(1, 185) as u16 // later fragment, MF clear
                };
                set_u16(out, l3 + 6, frag);
                fix_ip_checksum(out, l3);
            }
            MalformedKind::UdpLenExceedsIp => {
                let l3 = self.udp(out, vlan, dst_port, poison);
                let real = 8 + poison.len();
                set_u16(out, l3 + 24, (real + rng.range(1, 100) as usize) as u16);
            }
            MalformedKind::UdpLenTooSmall => {
                let l3 = self.udp(out, vlan, dst_port, poison);
                set_u16(out, l3 + 24, rng.range(0, 7) as u16);
            }
            MalformedKind::MoldHeaderTruncated => {
                let n = (rng.range(0, 19) as usize).min(poison.len());
                self.udp(out, vlan, dst_port, &poison[..n]);
            }
            // In-packet kinds are built by the packetizer; fall back to a
            // truncated Mold header so every call yields a malformed frame.
            MalformedKind::BlockOverrun
            | MalformedKind::UnknownMessageType
            | MalformedKind::WrongMessageLength => {
                self.udp(out, vlan, dst_port, &poison[..poison.len().min(10)]);
            }
        }
    }
}

/// Recompute the IPv4 header checksum of the header at `l3` (using its IHL,
/// at least 20 bytes).
pub(crate) fn fix_ip_checksum(out: &mut [u8], l3: usize) {
    let ihl = usize::from(out[l3] & 0x0f) * 4;
    let hlen = ihl.max(20).min(out.len() - l3);
    out[l3 + 10] = 0;
    out[l3 + 11] = 0;
    let c = inet_checksum(&out[l3..l3 + hlen]);
    set_u16(out, l3 + 10, c);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_known_vector() {
        // Example header from RFC 1071 discussions / Wikipedia.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(inet_checksum(&h), 0xb861);
    }

    #[test]
    fn udp_frame_layout() {
        let mut fb = FrameBuilder::new(&NetConfig::default());
        let mut out = Vec::new();
        let l3 = fb.udp(&mut out, Some(7), 26_400, &[1, 2, 3]);
        assert_eq!(l3, 18);
        assert_eq!(&out[0..6], &[0x01, 0x00, 0x5e, 0x36, 0x0c, 0x6f]);
        assert_eq!(&out[12..14], &[0x81, 0x00]);
        assert_eq!(&out[14..16], &[0x00, 0x07]);
        assert_eq!(&out[16..18], &[0x08, 0x00]);
        assert_eq!(out[l3], 0x45);
        assert_eq!(u16::from_be_bytes([out[l3 + 2], out[l3 + 3]]), 31);
        assert_eq!(inet_checksum(&out[l3..l3 + 20]), 0);
        assert_eq!(u16::from_be_bytes([out[l3 + 22], out[l3 + 23]]), 26_400);
        assert_eq!(u16::from_be_bytes([out[l3 + 24], out[l3 + 25]]), 11);
        assert_eq!(out.len(), 60);
    }
}
