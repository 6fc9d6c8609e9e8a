//! The host's app arguments (after `--`), parsed before the EAL starts so bad
//! arguments fail fast with one clear message.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use clap::Parser;
use tickwire::replay::{parse_duration_ns, parse_precision};
use tickwire_core::engine::EngineConfig;
use tickwire_core::fix::TimePrecision;

/// tickwire host: polls DPDK ports for MoldUDP64/ITCH 5.0, keeps full-depth
/// books and VWAP windows per worker lcore, and sends FIX 4.4 snapshots
/// (35=W) as UDP datagrams through a TX port.
///
/// Usage: tickwire [EAL args] -- [app args]. Example (no NIC needed):
///   tickwire --no-huge -m 512 -l 0,1 --vdev net_pcap0,rx_pcap=in.pcap
///   --vdev net_pcap1,tx_pcap=fix.pcap -- --rx-port net_pcap0 --tx-port
///   net_pcap1 --idle-exit 1s
#[derive(Debug, Parser)]
#[command(name = "tickwire [EAL args] --", version, verbatim_doc_comment)]
pub struct HostArgs {
    /// RX port, by DPDK device name (net_pcap0, 0000:3b:00.0) or port id.
    #[arg(long, default_value = "0")]
    pub rx_port: String,
    /// RX queues on the RX port; one worker lcore (and one engine) per queue.
    #[arg(long, default_value_t = 1)]
    pub rx_queues: u16,
    /// TX port for FIX output, by name or id (default: the RX port).
    #[arg(long)]
    pub tx_port: Option<String>,
    /// Worker lcores, comma separated, one per RX queue (default: the EAL's
    /// worker lcores in order; the main lcore when there are none).
    #[arg(long, value_delimiter = ',')]
    pub lcores: Vec<u32>,
    /// UDP destination ports carrying MoldUDP64 (comma separated).
    #[arg(long, default_value = "26400", value_delimiter = ',')]
    pub ports: Vec<u16>,

    /// Destination IPv4 of the FIX datagrams (default a multicast group).
    #[arg(long, default_value = "239.1.1.1")]
    pub dst_ip: Ipv4Addr,
    /// Destination UDP port of the FIX datagrams.
    #[arg(long, default_value_t = 30001)]
    pub dst_port: u16,
    /// Destination MAC (default: the multicast MAC of --dst-ip, or broadcast
    /// for a unicast --dst-ip).
    #[arg(long, value_parser = parse_mac)]
    pub dst_mac: Option<[u8; 6]>,
    /// Source IPv4 of the FIX datagrams.
    #[arg(long, default_value = "10.0.0.1")]
    pub src_ip: Ipv4Addr,
    /// Source UDP port of the FIX datagrams.
    #[arg(long, default_value_t = 30000)]
    pub src_port: u16,
    /// Source MAC (default: the TX port's MAC).
    #[arg(long, value_parser = parse_mac)]
    pub src_mac: Option<[u8; 6]>,
    /// IP MTU of the output: whole FIX messages are packed into datagrams up
    /// to this size.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u16).range(576..=9000))]
    pub mtu: u16,

    /// Emission interval (boundaries at its multiples of event time).
    #[arg(long, default_value = "100ms", value_parser = parse_duration_ns)]
    pub interval: u64,
    /// VWAP window.
    #[arg(long, default_value = "1s", value_parser = parse_duration_ns)]
    pub window: u64,
    /// FIX SenderCompID (49).
    #[arg(long, default_value = "TICKWIRE")]
    pub sender: String,
    /// FIX TargetCompID (56).
    #[arg(long, default_value = "CLIENT")]
    pub target: String,
    /// SendingTime (52) precision: ms, us or ns.
    #[arg(long, default_value = "ms", value_parser = parse_precision)]
    pub time_precision: TimePrecision,

    /// Most live orders per worker (48 bytes each in DPDK memory).
    #[arg(long, default_value_t = EngineConfig::default().max_orders)]
    pub max_orders: usize,
    /// Price-level arena per worker, in levels (16 bytes each).
    #[arg(long, default_value_t = EngineConfig::default().max_levels)]
    pub max_levels: usize,
    /// Stock locates covered, 1 to 65536.
    #[arg(long, default_value_t = EngineConfig::default().max_locates)]
    pub max_locates: usize,
    /// Mbufs in each worker's pool (RX ring + TX in flight).
    #[arg(long, default_value_t = 8191)]
    pub mbufs: u32,
    /// RX and TX descriptors per queue.
    #[arg(long, default_value_t = 1024)]
    pub descriptors: u16,

    /// Stop once RX has been idle this long (e.g. 1s; for pcap replay).
    #[arg(long, value_parser = parse_duration_ns)]
    pub idle_exit: Option<u64>,
    /// Stop once a MoldUDP64 end-of-session packet has been applied (a pcap
    /// replay's natural end; with net_pcap's infinite_rx, exactly one pass).
    #[arg(long)]
    pub exit_on_end_of_session: bool,
    /// Periodic stats line on stderr every this long (0 for none).
    #[arg(long, default_value = "1s", value_parser = parse_duration_ns)]
    pub stats_interval: u64,
    /// Write the final counters and latency percentiles as JSON here.
    #[arg(long)]
    pub stats_json: Option<PathBuf>,
}

impl HostArgs {
    /// The engine configuration these arguments describe.
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            interval_ns: self.interval,
            window_ns: self.window,
            max_orders: self.max_orders,
            max_levels: self.max_levels,
            max_locates: self.max_locates,
        }
    }
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(format!(
            "MAC {s:?}: expected six hex bytes like 01:00:5e:01:01:01"
        ));
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(parts) {
        *m =
            u8::from_str_radix(p, 16).map_err(|_| format!("MAC {s:?}: {p:?} is not a hex byte"))?;
    }
    Ok(mac)
}

/// Parses app arguments (without the program name).
pub fn parse(app_args: &[String]) -> Result<HostArgs, clap::Error> {
    HostArgs::try_parse_from(
        std::iter::once("tickwire [EAL args] --".to_string()).chain(app_args.iter().cloned()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let a = parse(&[]).unwrap();
        assert_eq!(a.ports, vec![26400]);
        assert_eq!(a.interval, 100_000_000);
        assert!(parse(&["--dst-mac".into(), "zz".into()]).is_err());
        assert!(parse(&["--mtu".into(), "100".into()]).is_err());
        let a = parse(&[
            "--ports".into(),
            "1,2".into(),
            "--dst-mac".into(),
            "01:00:5e:00:00:01".into(),
        ])
        .unwrap();
        assert_eq!(a.ports, vec![1, 2]);
        assert_eq!(a.dst_mac, Some([1, 0, 0x5e, 0, 0, 1]));
    }
}
