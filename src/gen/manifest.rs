//! Ground truth about a generated stream, and its JSON form.

use std::fmt::Write as _;

use super::stream::SymbolInfo;
use crate::itch_encode::ALL_TYPES;

/// Frames that a feed handler must reject as malformed. The first nine are
/// extra frames inserted between data packets (they never consume sequence
/// numbers); the last three ([`MalformedKind::in_packet`]) are data packets
/// corrupted at their last message block — see the module docs of
/// [`crate::gen`] for their sequence-number rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MalformedKind {
    /// Frame shorter than the 14-byte Ethernet header.
    TruncatedEthernet,
    /// Ethertype 0x8100 but the 4-byte tag is cut short.
    TruncatedVlan,
    /// Ethertype IPv4, version nibble not 4.
    Ipv4BadVersion,
    /// IHL below 5 (header shorter than 20 bytes).
    Ipv4IhlTooSmall,
    /// IPv4 total length larger than the bytes in the frame.
    Ipv4TotalLenExceedsFrame,
    /// IPv4 fragment: MF set or fragment offset non-zero.
    Ipv4Fragment,
    /// UDP length larger than the IPv4 payload.
    UdpLenExceedsIp,
    /// UDP length below 8.
    UdpLenTooSmall,
    /// UDP payload shorter than the 20-byte MoldUDP64 header.
    MoldHeaderTruncated,
    /// Data packet whose last message block's length runs past the packet.
    BlockOverrun,
    /// Data packet whose last message has a type ITCH 5.0 does not define.
    UnknownMessageType,
    /// Data packet whose last message is a known type with the wrong length.
    WrongMessageLength,
}

impl MalformedKind {
    /// Every kind, in declaration order.
    pub const ALL: [MalformedKind; 12] = [
        MalformedKind::TruncatedEthernet,
        MalformedKind::TruncatedVlan,
        MalformedKind::Ipv4BadVersion,
        MalformedKind::Ipv4IhlTooSmall,
        MalformedKind::Ipv4TotalLenExceedsFrame,
        MalformedKind::Ipv4Fragment,
        MalformedKind::UdpLenExceedsIp,
        MalformedKind::UdpLenTooSmall,
        MalformedKind::MoldHeaderTruncated,
        MalformedKind::BlockOverrun,
        MalformedKind::UnknownMessageType,
        MalformedKind::WrongMessageLength,
    ];

    /// Snake-case name used in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            MalformedKind::TruncatedEthernet => "truncated_ethernet",
            MalformedKind::TruncatedVlan => "truncated_vlan",
            MalformedKind::Ipv4BadVersion => "ipv4_bad_version",
            MalformedKind::Ipv4IhlTooSmall => "ipv4_ihl_too_small",
            MalformedKind::Ipv4TotalLenExceedsFrame => "ipv4_total_len_exceeds_frame",
            MalformedKind::Ipv4Fragment => "ipv4_fragment",
            MalformedKind::UdpLenExceedsIp => "udp_len_exceeds_ip",
            MalformedKind::UdpLenTooSmall => "udp_len_too_small",
            MalformedKind::MoldHeaderTruncated => "mold_header_truncated",
            MalformedKind::BlockOverrun => "block_overrun",
            MalformedKind::UnknownMessageType => "unknown_message_type",
            MalformedKind::WrongMessageLength => "wrong_message_length",
        }
    }

    /// Whether this kind is a corrupted data packet (a Mold packet with a
    /// valid header whose last block is bad) rather than an extra frame.
    pub fn in_packet(self) -> bool {
        matches!(
            self,
            MalformedKind::BlockOverrun
                | MalformedKind::UnknownMessageType
                | MalformedKind::WrongMessageLength
        )
    }

    /// Position in [`MalformedKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Well-formed frames that are not this feed and must be filtered out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FilteredKind {
    /// Not IPv4 (an ARP request).
    NonIpv4,
    /// IPv4 but not UDP (an IGMPv2 membership report for the group).
    NonUdp,
    /// UDP to another destination port.
    OtherUdpPort,
}

impl FilteredKind {
    /// Every kind, in declaration order.
    pub const ALL: [FilteredKind; 3] = [
        FilteredKind::NonIpv4,
        FilteredKind::NonUdp,
        FilteredKind::OtherUdpPort,
    ];

    /// Snake-case name used in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            FilteredKind::NonIpv4 => "non_ipv4",
            FilteredKind::NonUdp => "non_udp",
            FilteredKind::OtherUdpPort => "other_udp_port",
        }
    }

    /// Position in [`FilteredKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What one generated (or dropped) packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// Clean MoldUDP64 data packet (count 1..=65534).
    Data,
    /// Heartbeat: count 0, sequence = next expected.
    Heartbeat,
    /// End of session: count 0xFFFF, sequence = next expected.
    EndOfSession,
    /// Byte-identical re-send of an earlier data packet.
    Duplicate,
    /// Data packet left out of the file.
    Dropped,
    /// Malformed frame or corrupted data packet.
    Malformed(MalformedKind),
    /// Frame to be filtered out.
    Filtered(FilteredKind),
}

/// One entry of the generator's own packet log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketRecord {
    /// 0-based index of the frame in the pcap (`None` for dropped packets).
    pub frame_index: Option<u64>,
    /// What it is.
    pub kind: FrameKind,
    /// MoldUDP64 sequence number in the header (0 for frames without a
    /// meaningful Mold header: filtered and frame-level malformed kinds).
    pub sequence: u64,
    /// MoldUDP64 message count in the header (0 as above).
    pub count: u16,
    /// Whether the frame carries an 802.1Q tag.
    pub vlan: bool,
    /// pcap timestamp, ns since the Unix epoch.
    pub ts_ns: u64,
}

/// Packet counts by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PacketCounts {
    /// Frames in the pcap file.
    pub frames: u64,
    /// Clean data packets written (duplicates and corrupted ones excluded).
    pub data: u64,
    /// Heartbeats.
    pub heartbeat: u64,
    /// End-of-session packets.
    pub end_of_session: u64,
    /// Duplicated data packets (extra copies).
    pub duplicate: u64,
    /// Data packets dropped (not in the file).
    pub dropped: u64,
    /// Frames whose outer ethertype is 0x8100 (truncated-VLAN frames too).
    pub vlan_tagged: u64,
    /// Malformed frames / corrupted packets, indexed by [`MalformedKind::index`].
    pub malformed: [u64; 12],
    /// Filtered frames, indexed by [`FilteredKind::index`].
    pub filtered: [u64; 3],
}

impl PacketCounts {
    /// Count of one malformed kind.
    pub fn malformed(&self, k: MalformedKind) -> u64 {
        self.malformed[k.index()]
    }
    /// Count of one filtered kind.
    pub fn filtered(&self, k: FilteredKind) -> u64 {
        self.filtered[k.index()]
    }
    /// All malformed frames / packets.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.iter().sum()
    }
    /// All filtered frames.
    pub fn filtered_total(&self) -> u64 {
        self.filtered.iter().sum()
    }
}

/// Ground truth for the pcap output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PcapManifest {
    /// MoldUDP64 session.
    pub session: String,
    /// Packets by kind.
    pub packets: PacketCounts,
    /// Sequence number of the first message.
    pub first_sequence: u64,
    /// Last sequence number used (real messages and bad blocks).
    pub last_sequence: u64,
    /// Sequence number the heartbeats/end-of-session carry at the end.
    pub next_sequence: u64,
    /// ITCH messages that were only in dropped packets.
    pub messages_lost_to_drops: u64,
    /// Sequence numbers taken by the bad block of each corrupted packet.
    pub bad_block_sequences: Vec<u64>,
    /// Whether timestamps are nanoseconds.
    pub nanosecond_timestamps: bool,
}

/// Ground truth about a generated stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    /// PRNG seed.
    pub seed: u64,
    /// Total ITCH messages in the stream (== BinaryFILE messages).
    pub total_messages: u64,
    /// Messages per type, for all 23 types in specification order.
    pub messages_by_type: Vec<(char, u64)>,
    /// Orders live at the end of the stream.
    pub final_live_orders: u64,
    /// The live-order target that was steered towards.
    pub live_orders_target: u64,
    /// First and last ITCH timestamps, ns since midnight.
    pub first_timestamp_ns: u64,
    /// Last ITCH timestamp.
    pub last_timestamp_ns: u64,
    /// The symbols, by locate.
    pub symbols: Vec<SymbolInfo>,
    /// Present when a pcap was generated.
    pub pcap: Option<PcapManifest>,
}

impl Manifest {
    /// Messages of type `t`.
    pub fn count(&self, t: u8) -> u64 {
        self.messages_by_type
            .iter()
            .find(|(c, _)| *c == t as char)
            .map_or(0, |x| x.1)
    }

    pub(crate) fn by_type_from(f: impl Fn(u8) -> u64) -> Vec<(char, u64)> {
        ALL_TYPES.iter().map(|&t| (t as char, f(t))).collect()
    }

    /// The manifest as a JSON document (hand-written, stable key order).
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(4096 + self.symbols.len() * 96);
        o.push_str("{\n");
        let _ = writeln!(
            o,
            "  \"generator\": \"tickwire-gen {}\",",
            env!("CARGO_PKG_VERSION")
        );
        let _ = writeln!(o, "  \"seed\": {},", self.seed);
        let _ = writeln!(o, "  \"total_messages\": {},", self.total_messages);
        o.push_str("  \"messages_by_type\": {");
        for (i, (t, n)) in self.messages_by_type.iter().enumerate() {
            let _ = write!(o, "{}\"{}\": {}", if i == 0 { "" } else { ", " }, t, n);
        }
        o.push_str("},\n");
        let _ = writeln!(o, "  \"final_live_orders\": {},", self.final_live_orders);
        let _ = writeln!(o, "  \"live_orders_target\": {},", self.live_orders_target);
        let _ = writeln!(o, "  \"first_timestamp_ns\": {},", self.first_timestamp_ns);
        let _ = writeln!(o, "  \"last_timestamp_ns\": {},", self.last_timestamp_ns);
        match &self.pcap {
            None => o.push_str("  \"pcap\": null,\n"),
            Some(p) => {
                o.push_str("  \"pcap\": {\n");
                let _ = writeln!(o, "    \"session\": {},", json_str(&p.session));
                let _ = writeln!(
                    o,
                    "    \"nanosecond_timestamps\": {},",
                    p.nanosecond_timestamps
                );
                let _ = writeln!(o, "    \"first_sequence\": {},", p.first_sequence);
                let _ = writeln!(o, "    \"last_sequence\": {},", p.last_sequence);
                let _ = writeln!(o, "    \"next_sequence\": {},", p.next_sequence);
                let _ = writeln!(
                    o,
                    "    \"messages_lost_to_drops\": {},",
                    p.messages_lost_to_drops
                );
                let c = &p.packets;
                o.push_str("    \"packets\": {\n");
                for (k, v) in [
                    ("frames", c.frames),
                    ("data", c.data),
                    ("heartbeat", c.heartbeat),
                    ("end_of_session", c.end_of_session),
                    ("duplicate", c.duplicate),
                    ("dropped", c.dropped),
                    ("vlan_tagged", c.vlan_tagged),
                ] {
                    let _ = writeln!(o, "      \"{k}\": {v},");
                }
                o.push_str("      \"malformed\": {");
                for (i, k) in MalformedKind::ALL.iter().enumerate() {
                    let _ = write!(
                        o,
                        "{}\"{}\": {}",
                        if i == 0 { "" } else { ", " },
                        k.name(),
                        c.malformed(*k)
                    );
                }
                o.push_str("},\n      \"filtered\": {");
                for (i, k) in FilteredKind::ALL.iter().enumerate() {
                    let _ = write!(
                        o,
                        "{}\"{}\": {}",
                        if i == 0 { "" } else { ", " },
                        k.name(),
                        c.filtered(*k)
                    );
                }
                o.push_str("}\n    },\n    \"bad_block_sequences\": [");
                for (i, s) in p.bad_block_sequences.iter().enumerate() {
                    let _ = write!(o, "{}{}", if i == 0 { "" } else { ", " }, s);
                }
                o.push_str("]\n  },\n");
            }
        }
        let _ = writeln!(o, "  \"symbol_count\": {},", self.symbols.len());
        o.push_str("  \"symbols\": [\n");
        for (i, s) in self.symbols.iter().enumerate() {
            let name = String::from_utf8_lossy(&s.stock);
            let _ = writeln!(
                o,
                "    {{\"locate\": {}, \"stock\": {}, \"reference_price\": {}, \"activity\": {:.6}}}{}",
                s.locate,
                json_str(name.trim_end()),
                s.reference_price,
                s.activity,
                if i + 1 == self.symbols.len() { "" } else { "," }
            );
        }
        o.push_str("  ]\n}\n");
        o
    }
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_unique_and_indexed() {
        for (i, k) in MalformedKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
        for (i, k) in FilteredKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
        let mut n: Vec<_> = MalformedKind::ALL.iter().map(|k| k.name()).collect();
        n.sort_unstable();
        n.dedup();
        assert_eq!(n.len(), 12);
        assert_eq!(json_str("a\"b\\\n"), "\"a\\\"b\\\\\\u000a\"");
    }
}
