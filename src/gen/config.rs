//! Generator configuration.

use std::fmt;
use std::net::Ipv4Addr;

/// 09:30:00.000000000 in nanoseconds since midnight.
pub const MARKET_OPEN_NS: u64 = 34_200 * 1_000_000_000;
/// Last representable nanosecond of a day.
pub const END_OF_DAY_NS: u64 = 86_400 * 1_000_000_000 - 1;
/// Largest number of symbols (stock locate is a u16 and 0 is reserved).
pub const MAX_SYMBOLS: u32 = 65_535;
/// Bytes a corrupted ("inside the Mold packet") bad block may take; packets
/// that will carry one are packed to `max_payload - BAD_BLOCK_RESERVE`.
pub const BAD_BLOCK_RESERVE: usize = 2 + 64;
/// Smallest accepted `max_payload`: the 20-byte MoldUDP64 header, the bad
/// block reserve and one maximal (50-byte) message block.
pub const MIN_MAX_PAYLOAD: usize = 20 + BAD_BLOCK_RESERVE + 2 + 50;
/// Largest accepted `max_payload` (the largest UDP payload in IPv4).
pub const MAX_MAX_PAYLOAD: usize = 65_507;

/// Everything that shapes a generated stream. All randomness derives from
/// `seed`; the ITCH message stream depends only on `seed`, `symbols`,
/// `messages`, `live_orders_target`, `zipf_exponent`, `start_ns` and
/// `mean_gap_ns`, so the BinaryFILE and the pcap of one configuration carry
/// the same messages whatever the packet and fault settings.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// PRNG seed.
    pub seed: u64,
    /// Number of symbols (stock locates `1..=symbols`).
    pub symbols: u32,
    /// Total ITCH messages, system events and directory included. Must be at
    /// least [`GenConfig::min_messages`].
    pub messages: u64,
    /// Live orders to steer towards; `None` picks a default that scales with
    /// the number of symbols (see [`GenConfig::effective_live_orders_target`]).
    pub live_orders_target: Option<u64>,
    /// Exponent of the Zipf law that spreads activity over symbols (0 = even).
    pub zipf_exponent: f64,
    /// Timestamp of the first order-flow message, ns since midnight.
    pub start_ns: u64,
    /// Mean gap between consecutive order-flow messages, ns.
    pub mean_gap_ns: u64,
    /// Ethernet / IPv4 / UDP addressing for the pcap output.
    pub net: NetConfig,
    /// MoldUDP64 packing for the pcap output.
    pub mold: MoldConfig,
    /// Fault injection for the pcap output.
    pub faults: FaultConfig,
}

/// Addressing of the generated frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetConfig {
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// Destination MAC; `None` derives it from `dst_ip` (01:00:5e + low 23
    /// bits for a multicast group, 02:00:00:00:00:02 otherwise).
    pub dst_mac: Option<[u8; 6]>,
    /// Source IPv4 address.
    pub src_ip: Ipv4Addr,
    /// Destination IPv4 address (a multicast group by default).
    pub dst_ip: Ipv4Addr,
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// IPv4 time to live.
    pub ttl: u8,
}

impl NetConfig {
    /// The destination MAC actually used.
    pub fn effective_dst_mac(&self) -> [u8; 6] {
        if let Some(m) = self.dst_mac {
            return m;
        }
        let o = self.dst_ip.octets();
        if self.dst_ip.is_multicast() {
            [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
        } else {
            [0x02, 0, 0, 0, 0, 0x02]
        }
    }
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            src_mac: [0x02, 0x54, 0x57, 0x00, 0x00, 0x01],
            dst_mac: None,
            src_ip: Ipv4Addr::new(10, 20, 30, 40),
            dst_ip: Ipv4Addr::new(233, 54, 12, 111),
            src_port: 40_000,
            dst_port: 26_400,
            ttl: 32,
        }
    }
}

/// MoldUDP64 packing and pcap details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoldConfig {
    /// Session, 10 ASCII bytes.
    pub session: [u8; 10],
    /// Largest UDP payload (MoldUDP64 header + message blocks), bytes.
    pub max_payload: usize,
    /// Largest number of messages per packet (1..=65534).
    pub max_messages_per_packet: u16,
    /// A packet is sent once its first message is older than this (ns of
    /// ITCH time) when the next message arrives, even if not full.
    pub flush_ns: u64,
    /// Send a heartbeat after every this many data packets (0 = never).
    pub heartbeat_every: u32,
    /// Sequence number of the first message.
    pub first_sequence: u64,
    /// Write a nanosecond pcap (magic a1b23c4d) instead of microseconds.
    pub pcap_nanos: bool,
    /// Unix time (s) of the midnight the ITCH timestamps count from; pcap
    /// timestamps are this plus the ITCH timestamp.
    pub capture_midnight_epoch_s: u64,
}

impl Default for MoldConfig {
    fn default() -> Self {
        MoldConfig {
            session: *b"TICKWIRE01",
            max_payload: 1400,
            max_messages_per_packet: 65_534,
            flush_ns: 50_000,
            heartbeat_every: 0,
            first_sequence: 1,
            pcap_nanos: false,
            // 2024-01-02 00:00:00 UTC
            capture_midnight_epoch_s: 1_704_153_600,
        }
    }
}

/// Fault injection rates (probabilities per data packet unless noted).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultConfig {
    /// Chance that a written data packet is followed by a re-sent copy of a
    /// recent data packet (as the B line of an A/B pair delivers it).
    pub dup_rate: f64,
    /// Chance that a data packet is left out of the file (a sequence gap).
    pub drop_rate: f64,
    /// VLAN ID for 802.1Q tags; tagging happens only when this is set.
    pub vlan_id: Option<u16>,
    /// Fraction of frames (each frame independently) that carry the tag.
    pub vlan_rate: f64,
    /// Chance that a data packet is followed by a malformed frame, or that
    /// the next data packet is corrupted inside (see `MalformedKind`).
    pub malformed_rate: f64,
    /// Chance that a data packet is followed by a frame a feed handler must
    /// filter out (ARP, IGMP, another UDP port).
    pub filtered_rate: f64,
}

/// Configuration or I/O problem.
#[derive(Debug)]
pub enum GenError {
    /// A configuration value is out of range; the text says which.
    Config(String),
    /// Writing an output failed.
    Io(std::io::Error),
}

impl fmt::Display for GenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenError::Config(s) => write!(f, "invalid generator configuration: {s}"),
            GenError::Io(e) => write!(f, "write failed: {e}"),
        }
    }
}

impl std::error::Error for GenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GenError::Io(e) => Some(e),
            GenError::Config(_) => None,
        }
    }
}

impl From<std::io::Error> for GenError {
    fn from(e: std::io::Error) -> Self {
        GenError::Io(e)
    }
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            seed: 1,
            symbols: 50,
            messages: 1_000_000,
            live_orders_target: None,
            zipf_exponent: 1.0,
            start_ns: MARKET_OPEN_NS,
            mean_gap_ns: 2_000,
            net: NetConfig::default(),
            mold: MoldConfig::default(),
            faults: FaultConfig::default(),
        }
    }
}

impl GenConfig {
    /// Messages the fixed parts take: System Events O, S, Q, one R and one H
    /// per symbol, then System Events M, E, C.
    pub fn min_messages(&self) -> u64 {
        6 + 2 * u64::from(self.symbols)
    }

    /// Order-flow messages (everything between the directory and the closing
    /// system events).
    pub fn flow_messages(&self) -> u64 {
        self.messages.saturating_sub(self.min_messages())
    }

    /// The live-order target in force: the configured one, or by default
    /// `40_000 * (symbols / 50)^0.685` (≈40k for 50 symbols, ≈500k for
    /// 2,000), capped at a tenth of the order flow so the message mix
    /// stays realistic in short streams.
    pub fn effective_live_orders_target(&self) -> u64 {
        if let Some(t) = self.live_orders_target {
            return t;
        }
        let s = f64::from(self.symbols.max(1));
        let t = (40_000.0 * (s / 50.0).powf(0.685)).round() as u64;
        t.min(self.flow_messages() / 10).max(1)
    }

    /// Check every value; the error names the offending option.
    pub fn validate(&self) -> Result<(), GenError> {
        let err = |s: String| Err(GenError::Config(s));
        if self.symbols == 0 || self.symbols > MAX_SYMBOLS {
            return err(format!(
                "symbols must be 1..={MAX_SYMBOLS}, got {}",
                self.symbols
            ));
        }
        if self.messages < self.min_messages() {
            return err(format!(
                "messages ({}) must be at least {} for {} symbols (3 opening system events, one R and one H per symbol, 3 closing system events)",
                self.messages,
                self.min_messages(),
                self.symbols
            ));
        }
        if !(self.zipf_exponent.is_finite() && (0.0..=5.0).contains(&self.zipf_exponent)) {
            return err(format!(
                "zipf exponent must be within 0..=5, got {}",
                self.zipf_exponent
            ));
        }
        if self.start_ns < 120_000_000_000 || self.start_ns >= END_OF_DAY_NS {
            return err(format!(
                "start time must be between 00:02 and midnight, got {} ns",
                self.start_ns
            ));
        }
        if self.mean_gap_ns > 60_000_000_000 {
            return err(format!(
                "mean gap must be at most 60 s, got {} ns",
                self.mean_gap_ns
            ));
        }
        if !self
            .mold
            .session
            .iter()
            .all(|b| b.is_ascii_graphic() || *b == b' ')
        {
            return err("session must be 10 printable ASCII bytes".into());
        }
        if !(MIN_MAX_PAYLOAD..=MAX_MAX_PAYLOAD).contains(&self.mold.max_payload) {
            return err(format!(
                "max payload must be {MIN_MAX_PAYLOAD}..={MAX_MAX_PAYLOAD} bytes, got {}",
                self.mold.max_payload
            ));
        }
        if !(1..=65_534).contains(&self.mold.max_messages_per_packet) {
            return err(format!(
                "max messages per packet must be 1..=65534, got {}",
                self.mold.max_messages_per_packet
            ));
        }
        let f = &self.faults;
        for (name, v) in [
            ("dup rate", f.dup_rate),
            ("drop rate", f.drop_rate),
            ("vlan rate", f.vlan_rate),
            ("malformed rate", f.malformed_rate),
            ("filtered rate", f.filtered_rate),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return err(format!("{name} must be a probability in 0..=1, got {v}"));
            }
        }
        if let Some(id) = f.vlan_id {
            if id == 0 || id >= 4095 {
                return err(format!("VLAN ID must be 1..=4094, got {id}"));
            }
        }
        Ok(())
    }
}

/// Unix time of midnight UTC of a civil date (proleptic Gregorian).
pub fn midnight_epoch_s(year: i32, month: u32, day: u32) -> Option<u64> {
    if !(1970..=2105).contains(&year) || !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day > mdays[month as usize - 1] {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(midnight_epoch_s(1970, 1, 1), Some(0));
        assert_eq!(midnight_epoch_s(2024, 1, 2), Some(1_704_153_600));
        assert_eq!(midnight_epoch_s(2000, 3, 1), Some(951_868_800));
        assert_eq!(midnight_epoch_s(2023, 2, 29), None);
        assert_eq!(midnight_epoch_s(2024, 13, 1), None);
    }

    #[test]
    fn defaults_validate() {
        GenConfig::default().validate().unwrap();
        let c = GenConfig {
            symbols: 2000,
            messages: 5_000_000,
            ..GenConfig::default()
        };
        let t = c.effective_live_orders_target();
        assert!((450_000..=550_000).contains(&t), "{t}");
        let c = GenConfig {
            symbols: 50,
            messages: 5_000_000,
            ..GenConfig::default()
        };
        assert_eq!(c.effective_live_orders_target(), 40_000);
        assert!(GenConfig {
            messages: 10,
            ..GenConfig::default()
        }
        .validate()
        .is_err());
        assert!(GenConfig {
            symbols: 0,
            ..GenConfig::default()
        }
        .validate()
        .is_err());
    }
}
