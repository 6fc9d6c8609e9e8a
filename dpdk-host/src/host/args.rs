//! The host's app arguments (after `--`), parsed before the EAL starts so bad
//! arguments fail fast with one clear message.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

use clap::Parser;
use tickwire::replay::{parse_duration_ns, parse_precision};
use tickwire_core::engine::EngineConfig;
use tickwire_core::fix::TimePrecision;

use crate::control::igmp::parse_group;
use crate::control::recovery::{parse_request, RecoveryRequest};
use crate::control::settings::{self, parse_cidr, parse_listen, ControlInputs, Ipv4Cidr};
use crate::control::ControlSettings;

/// tickwire host: polls DPDK ports for MoldUDP64/ITCH 5.0, keeps full-depth
/// books and VWAP windows per worker lcore, and sends FIX 4.4 snapshots
/// (35=W) as UDP datagrams through a TX port.
///
/// Usage: tickwire [EAL args] -- [app args]. Example (no NIC needed):
///   tickwire --no-huge -m 512 -l 0,1 --vdev net_pcap0,rx_pcap=in.pcap
///   --vdev net_pcap1,tx_pcap=fix.pcap -- --rx-port net_pcap0 --tx-port
///   net_pcap1 --idle-exit 1s
#[derive(Debug, Parser)]
#[command(
    name = "tickwire [EAL args] --",
    version,
    verbatim_doc_comment,
    args_override_self = true
)]
pub struct HostArgs {
    /// Read app arguments (and, as `eal = [...]`, EAL arguments) from this
    /// TOML file; the command line overrides it. Keys are the options' long
    /// names, tables group them (`[fix] listen = ...` is --fix-listen); see
    /// docs/config.md and the README's deployment section.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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
    /// UDP destination ports carrying MoldUDP64 (comma separated), or `all`
    /// (also an empty "") for every UDP port.
    #[arg(long, default_value = "26400", value_delimiter = ',', value_parser = tickwire::cli::parse_port)]
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
    /// FIX TargetCompID (56). With --fix-listen, a comma-separated list of
    /// the client CompIDs that may log on (their 49), each in one session
    /// at a time; the first is the 56 of the UDP datagrams.
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

    /// Turns the control plane on, with this IPv4 address and prefix (e.g.
    /// 10.0.0.2/24): the main lcore runs a TCP/IP stack on the control port
    /// that answers ARP and ping and accepts FIX sessions. Needs a worker
    /// lcore (EAL -l with two or more). On the feed's RX port, workers hand
    /// it every frame that is not MoldUDP64 for --ports.
    #[arg(long, value_name = "ADDR/PREFIX", value_parser = parse_cidr, help_heading = "Control plane")]
    pub ip: Option<Ipv4Cidr>,
    /// Default gateway of the control plane (inside --ip's subnet).
    #[arg(long, value_name = "IP", help_heading = "Control plane")]
    pub gateway: Option<Ipv4Addr>,
    /// Accept FIX TCP sessions on IP:PORT (IP must be the --ip address).
    #[arg(long, value_name = "IP:PORT", value_parser = parse_listen, help_heading = "Control plane")]
    pub fix_listen: Option<SocketAddrV4>,
    /// Most concurrent FIX sessions (1 to 4096).
    #[arg(long, value_name = "N", default_value_t = settings::DEFAULT_MAX_SESSIONS, help_heading = "Control plane")]
    pub fix_max_sessions: usize,
    /// One session per client CompID, as a FIX engine keys sessions: a
    /// Logon from a CompID logged on over another connection is closed
    /// unanswered (counted duplicate_logons). Without it, several
    /// connections may log on with the same CompIDs (--fix-max-sessions
    /// counts connections).
    #[arg(long, help_heading = "FIX sessions")]
    pub one_session_per_client: bool,
    /// TCP send buffer per FIX session, bytes.
    #[arg(long, value_name = "BYTES", default_value_t = settings::DEFAULT_TCP_TX_BUFFER, help_heading = "Control plane")]
    pub fix_tx_buffer: usize,
    /// TCP receive buffer per FIX session, bytes.
    #[arg(long, value_name = "BYTES", default_value_t = settings::DEFAULT_TCP_RX_BUFFER, help_heading = "Control plane")]
    pub fix_rx_buffer: usize,
    /// Port of the control plane, by name or id (default: the RX port). A
    /// port other than the RX port is polled by the control plane itself
    /// (its RX queue 0); it may be the --tx-port.
    #[arg(long, value_name = "NAME|ID", help_heading = "Control plane")]
    pub control_port: Option<String>,
    /// Echo what FIX clients send back to them instead of serving FIX (a
    /// bring-up check of the TCP path).
    #[arg(long, requires = "fix_listen", help_heading = "Control plane")]
    pub control_echo: bool,
    /// Join this IPv4 multicast group (repeatable): an IGMPv2 Membership
    /// Report goes out once the control plane is up, general and
    /// group-specific queries are answered, and an IGMPv2 Leave Group (to
    /// 224.0.0.2) goes out at shutdown. The port's multicast filter is set
    /// for the group MACs (or all-multicast where it has none).
    #[arg(long = "join", value_name = "GROUP", value_parser = parse_group, help_heading = "Control plane")]
    pub joins: Vec<Ipv4Addr>,
    /// UDP source port of MoldUDP64 re-requests (0: an ephemeral port). The
    /// answers come back to it, unicast to the --ip address; the workers
    /// consume them if it is among --ports, so use the feed's UDP port.
    #[arg(long, value_name = "PORT", help_heading = "Control plane")]
    pub rerequest_source_port: Option<u16>,
    /// Debug/test aid (repeatable): at start, the main lcore pushes this
    /// MoldUDP64 re-request through the workers' re-request channel, and the
    /// control plane sends it: 20 bytes (SESSION padded with spaces to 10,
    /// SEQ as u64 and COUNT as u16, big-endian) to ADDR:PORT.
    #[arg(long, value_name = "ADDR:PORT,SESSION,SEQ,COUNT", value_parser = parse_request, help_heading = "Control plane")]
    pub control_send_request: Vec<RecoveryRequest>,

    /// Most book levels per side a FIX subscription can ask for (264=0
    /// means this many), 1 to 10.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(1..=10), help_heading = "FIX sessions")]
    pub max_depth: u8,
    /// Open MarketDataRequests per FIX session.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024), help_heading = "FIX sessions")]
    pub fix_max_requests: u16,
    /// Book-record ring between each worker and the publisher (FIX
    /// sessions, NATS), in records (rounded up to a power of two; about 400
    /// bytes each). A full ring
    /// never stalls the worker: the record is refused, counted, and the
    /// symbol goes out at the next boundary.
    #[arg(long, default_value_t = 16384, help_heading = "FIX sessions")]
    pub record_ring: usize,
    /// Hold the feed at its first order-book message (after system events
    /// and the stock directory) until a MarketDataRequest has been answered.
    #[arg(long, requires = "fix_listen", help_heading = "FIX sessions")]
    pub wait_for_subscription: bool,
    /// With --fix-listen or --nats, no UDP datagram output (only FIX
    /// sessions and/or NATS): the worker then writes book records instead
    /// of encoding FIX, which costs it about the same.
    #[arg(long, help_heading = "FIX sessions")]
    pub no_udp_output: bool,
    /// How long the publisher holds the next boundary's records for a
    /// session that cannot take the previous boundary's snapshots; past it,
    /// that session is conflated on its own and the others go on. Larger
    /// values trade the others' latency for fewer conflated updates.
    #[arg(long, default_value = "50ms", value_parser = parse_duration_ns, help_heading = "FIX sessions")]
    pub slow_consumer_grace: u64,
    /// After the workers stop, keep serving FIX sessions until none has been
    /// open for this long.
    #[arg(long, default_value = "5s", value_parser = parse_duration_ns, help_heading = "FIX sessions")]
    pub linger: u64,

    /// Line A of the feed: GROUP:PORT (an IPv4 group and UDP port on the RX
    /// port, joined by IGMP when the control plane is on) or the RX port's
    /// name. Default: every MoldUDP64 frame on the RX port. Any of
    /// --line-a/--line-b/--rerequest/--backfill turns on lines mode: one
    /// worker arbitrates the lines and recovers gaps (docs/semantics.md,
    /// "Lines and recovery"); it needs --rx-queues 1.
    #[arg(long, value_parser = super::feed::parse_line, help_heading = "Lines and recovery")]
    pub line_a: Option<super::feed::LineSpec>,
    /// Line B: GROUP:PORT on the RX port, or another DPDK port (name or id)
    /// that carries line B alone (polled by the same worker in turn).
    #[arg(long, value_parser = super::feed::parse_line, help_heading = "Lines and recovery")]
    pub line_b: Option<super::feed::LineSpec>,
    /// A MoldUDP64 re-request server, ADDR:PORT (repeat for failover, in
    /// order). Requests go from the control plane (needs --ip); answers
    /// come back unicast to --ip on the request's source port, which must be
    /// one of --ports (see --rerequest-source-port).
    #[arg(long, help_heading = "Lines and recovery")]
    pub rerequest: Vec<SocketAddrV4>,
    #[command(flatten)]
    pub recovery: tickwire::feed_args::RecoveryArgs,

    /// Serve Prometheus metrics (/metrics), /livez and /readyz over HTTP on
    /// [ADDR:]PORT (a kernel TCP socket; a bare port means 127.0.0.1).
    /// Series are listed in docs/metrics.md.
    #[arg(long, value_name = "[ADDR:]PORT", value_parser = super::metrics::parse_listen, help_heading = "Metrics and health")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// /readyz fails when a feed session has received nothing (or, without
    /// lines mode, opened a gap) for this long.
    #[arg(long, default_value = "5s", value_parser = parse_duration_ns, help_heading = "Metrics and health")]
    pub stale_after: u64,

    /// Book records to NATS (the same records the FIX publisher takes, from
    /// the same rings), published by a thread of the main lcore's.
    #[command(flatten)]
    pub nats: tickwire::nats::NatsArgs,
}

impl HostArgs {
    /// The control plane's settings (`None`: off), checked for consistency.
    pub fn control_settings(&self) -> Result<Option<ControlSettings>, String> {
        if !self.rerequest.is_empty() && self.ip.is_none() {
            return Err(
                "--rerequest needs the control plane to send requests: give it an address with --ip ADDR/PREFIX"
                    .into(),
            );
        }
        // The lines' multicast groups are joined like --join ones.
        let mut joins = self.joins.clone();
        if self.ip.is_some() {
            for l in [&self.line_a, &self.line_b].into_iter().flatten() {
                if let super::feed::LineSpec::Group(g, _) = l {
                    if g.is_multicast() && !joins.contains(g) {
                        joins.push(*g);
                    }
                }
            }
        }
        // Answers come back to the requests' source port: by default the
        // feed's first UDP port, so the worker takes them as MoldUDP64.
        let source_port = match self.rerequest_source_port {
            None if !self.rerequest.is_empty() => self.ports.first().copied(),
            p => p,
        };
        if let Some(p) = source_port.filter(|_| !self.rerequest.is_empty()) {
            if p != 0 && !self.ports.is_empty() && !self.ports.contains(&p) {
                return Err(format!(
                    "--rerequest-source-port {p} is not one of --ports {:?}: answers to it would never reach the worker",
                    self.ports
                ));
            }
            if p == 0 {
                return Err("--rerequest needs a fixed --rerequest-source-port among --ports (answers come back to it)".into());
            }
        }
        ControlSettings::from_inputs(&ControlInputs {
            ip: self.ip,
            gateway: self.gateway,
            fix_listen: self.fix_listen,
            max_sessions: self.fix_max_sessions,
            tx_buffer: self.fix_tx_buffer,
            rx_buffer: self.fix_rx_buffer,
            port: self.control_port.as_deref(),
            joins: &joins,
            rerequest_source_port: source_port,
            send_requests: &self.control_send_request,
        })
    }

    /// Whether the worker runs the feed in lines mode.
    pub fn lines_mode(&self) -> bool {
        self.line_a.is_some()
            || self.line_b.is_some()
            || !self.rerequest.is_empty()
            || self.recovery.backfill
    }

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
    let mut a = HostArgs::try_parse_from(
        std::iter::once("tickwire [EAL args] --".to_string()).chain(app_args.iter().cloned()),
    )?;
    tickwire::cli::normalize_ports(&mut a.ports);
    Ok(a)
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

    #[test]
    fn ports_all_and_empty_mean_every_port() {
        for v in ["all", "", "26400,all"] {
            assert_eq!(
                args(&["--ports", v]).unwrap().ports,
                Vec::<u16>::new(),
                "{v:?}"
            );
        }
        assert_eq!(args(&["--ports=all"]).unwrap().ports, Vec::<u16>::new());
        assert_eq!(args(&["--ports", "1,2"]).unwrap().ports, vec![1, 2]);
        assert!(args(&["--ports", "0"]).is_err());
        assert!(args(&["--ports", "alll"]).is_err());
    }

    fn args(list: &[&str]) -> Result<HostArgs, clap::Error> {
        parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn control_plane_arguments() {
        assert_eq!(args(&[]).unwrap().control_settings(), Ok(None));
        let a = args(&[
            "--ip",
            "10.77.1.2/24",
            "--gateway",
            "10.77.1.1",
            "--fix-listen",
            "10.77.1.2:9878",
            "--fix-max-sessions",
            "4",
            "--control-port",
            "net_tap1",
        ])
        .unwrap();
        let s = a.control_settings().unwrap().unwrap();
        assert_eq!(s.ip, Ipv4Addr::new(10, 77, 1, 2));
        assert_eq!(s.prefix_len, 24);
        assert_eq!(s.port.as_deref(), Some("net_tap1"));
        let l = s.fix_listen.unwrap();
        assert_eq!(l.max_sessions, 4);
        assert_eq!(l.tx_buffer, 256 * 1024);
        assert_eq!(l.rx_buffer, 16 * 1024);
        // Syntax errors come from clap, with the option named.
        let e = args(&["--ip", "10.77.1.2"]).unwrap_err().to_string();
        assert!(e.contains("--ip") && e.contains("ADDR/PREFIX"), "{e}");
        assert!(args(&["--fix-listen", "10.77.1.2:0"]).is_err());
        assert!(args(&["--gateway", "nope"]).is_err());
        // Inconsistent combinations come from control_settings.
        let e = args(&["--fix-listen", "10.77.1.2:9878"])
            .unwrap()
            .control_settings()
            .unwrap_err();
        assert!(e.contains("--ip"), "{e}");
        let e = args(&["--ip", "10.77.1.2/24", "--fix-listen", "10.77.1.3:9878"])
            .unwrap()
            .control_settings()
            .unwrap_err();
        assert!(e.contains("must be our --ip"), "{e}");
    }

    #[test]
    fn join_and_rerequest_arguments() {
        let a = args(&[
            "--ip",
            "10.77.1.2/24",
            "--join",
            "239.1.2.3",
            "--join",
            "239.1.2.4",
            "--rerequest-source-port",
            "26400",
            "--control-send-request",
            "10.77.1.1:26401,SESS,7,2",
        ])
        .unwrap();
        let s = a.control_settings().unwrap().unwrap();
        assert_eq!(
            s.joins,
            vec![Ipv4Addr::new(239, 1, 2, 3), Ipv4Addr::new(239, 1, 2, 4)]
        );
        assert_eq!(s.rerequest_source_port, 26400);
        assert_eq!(s.send_requests.len(), 1);
        assert_eq!(s.send_requests[0].sequence(), 7);
        let e = args(&["--join", "10.1.1.1"]).unwrap_err().to_string();
        assert!(e.contains("--join") && e.contains("multicast"), "{e}");
        let e = args(&["--control-send-request", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--control-send-request"), "{e}");
        let e = args(&["--join", "239.1.2.3"])
            .unwrap()
            .control_settings()
            .unwrap_err();
        assert!(e.contains("--join") && e.contains("--ip"), "{e}");
    }
}
