//! `tickwire gen`: command-line front end of the generator.

use std::fs::File;
use std::io::BufWriter;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};

use super::config::{midnight_epoch_s, FaultConfig, GenConfig, MoldConfig, NetConfig};
use super::manifest::{FilteredKind, MalformedKind, Manifest};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// NASDAQ BinaryFILE (OUT.itch): u16 big-endian length + message.
    Binfile,
    /// MoldUDP64 over UDP/IPv4/Ethernet in a classic pcap (OUT.pcap).
    Pcap,
    /// Both files, carrying the same messages.
    Both,
}

const AFTER_HELP: &str = "\
The same seed and options always give byte-identical files. The ITCH messages depend only on
--seed, --symbols, --messages, --live-orders, --zipf, --start and --mean-gap-ns, so the
BinaryFILE and the pcap of one run carry the same messages whatever the packet and fault options.

Faults (pcap only; rates are per data packet unless noted):
  dropped      the packet is left out: a sequence gap (counted with the messages it held)
  duplicate    a byte-identical copy of one of the last 4 data packets follows a data packet
  vlan         802.1Q tag with --vlan ID on a --vlan-rate fraction of all frames
  malformed    cycles through: truncated_ethernet, truncated_vlan, ipv4_bad_version,
               ipv4_ihl_too_small, ipv4_total_len_exceeds_frame, ipv4_fragment,
               udp_len_exceeds_ip, udp_len_too_small, mold_header_truncated (extra frames that
               consume no sequence number), and block_overrun, unknown_message_type,
               wrong_message_length (the next data packet gets one bad LAST block: header count
               k+1, blocks 0..k are real messages to apply, the bad block consumes the next
               sequence number and the following packet starts after it; no real message is lost)
  filtered     cycles through: non_ipv4 (ARP), non_udp (IGMPv2 report), other_udp_port

The manifest (JSON) lists messages per type, packets per kind, the sequence range, messages lost
to drops, the bad blocks' sequence numbers, final live orders and the symbols.

Example:
  tickwire gen --seed 7 --symbols 2000 --messages 5000000 --format both --out /tmp/day \\
      --drop-rate 0.001 --dup-rate 0.002 --malformed-rate 0.001 --heartbeat-every 100";

/// Generate a deterministic, realistic NASDAQ TotalView-ITCH 5.0 stream.
#[derive(Debug, Clone, Parser)]
#[command(name = "tickwire gen", version, after_help = AFTER_HELP)]
pub struct GenArgs {
    /// PRNG seed (u64).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Number of symbols (stock locates 1..=N, at most 65535).
    #[arg(long, default_value_t = 50)]
    pub symbols: u32,

    /// Total ITCH messages, including the 3 opening and 3 closing system events and one R and one
    /// H per symbol.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,

    /// Live orders to steer the books towards [default: 40000*(symbols/50)^0.685, at most a
    /// tenth of the order flow].
    #[arg(long = "live-orders")]
    pub live_orders: Option<u64>,

    /// Zipf exponent spreading activity over symbols (0 = all equally busy).
    #[arg(long, default_value_t = 1.0)]
    pub zipf: f64,

    /// Time of the first order-flow message, HH:MM:SS[.fraction] since midnight.
    #[arg(long, default_value = "09:30:00")]
    pub start: String,

    /// Mean gap between order-flow messages, in nanoseconds (exponentially distributed).
    #[arg(long, default_value_t = 2_000)]
    pub mean_gap_ns: u64,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Both)]
    pub format: Format,

    /// Output path without extension; .itch and/or .pcap are added (a given .itch/.pcap
    /// extension is replaced).
    #[arg(long, default_value = "tickwire-gen")]
    pub out: PathBuf,

    /// Where to write the JSON manifest [default: OUT.manifest.json].
    #[arg(long)]
    pub manifest: Option<PathBuf>,

    /// Source MAC address.
    #[arg(long, default_value = "02:54:57:00:00:01", value_parser = parse_mac)]
    pub src_mac: [u8; 6],

    /// Destination MAC [default: 01:00:5e + low 23 bits of a multicast --dst-ip].
    #[arg(long, value_parser = parse_mac)]
    pub dst_mac: Option<[u8; 6]>,

    /// Source IPv4 address.
    #[arg(long, default_value = "10.20.30.40")]
    pub src_ip: Ipv4Addr,

    /// Destination IPv4 address (the multicast group).
    #[arg(long, default_value = "233.54.12.111")]
    pub dst_ip: Ipv4Addr,

    /// UDP source port.
    #[arg(long, default_value_t = 40_000)]
    pub src_port: u16,

    /// UDP destination port.
    #[arg(long, default_value_t = 26_400)]
    pub dst_port: u16,

    /// IPv4 TTL.
    #[arg(long, default_value_t = 32)]
    pub ttl: u8,

    /// MoldUDP64 session (up to 10 printable ASCII characters, space padded).
    #[arg(long, default_value = "TICKWIRE01")]
    pub session: String,

    /// Largest UDP payload (MoldUDP64 header + message blocks), in bytes.
    #[arg(long, default_value_t = 1400)]
    pub max_payload: usize,

    /// Largest number of messages per packet (1..=65534).
    #[arg(long, default_value_t = 65_534)]
    pub max_msgs_per_packet: u16,

    /// Send a packet once its first message is older than this many ns when the next one arrives.
    #[arg(long, default_value_t = 50_000)]
    pub flush_ns: u64,

    /// Send a heartbeat (count 0, sequence = next expected) after every N data packets (0 = none).
    #[arg(long, default_value_t = 0)]
    pub heartbeat_every: u32,

    /// Capture date (UTC) the ITCH timestamps count from, for pcap timestamps (YYYY-MM-DD).
    #[arg(long, default_value = "2024-01-02")]
    pub date: String,

    /// Write nanosecond pcap timestamps (magic a1b23c4d) instead of microseconds.
    #[arg(long)]
    pub pcap_nanos: bool,

    /// Chance per data packet that a copy of a recent data packet follows it (A/B duplicate).
    #[arg(long, default_value_t = 0.0)]
    pub dup_rate: f64,

    /// Chance per data packet that it is dropped (a sequence gap).
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,

    /// Tag frames with this 802.1Q VLAN ID (all frames unless --vlan-rate is given).
    #[arg(long)]
    pub vlan: Option<u16>,

    /// Fraction of frames that get the VLAN tag (VLAN ID 100 unless --vlan is given).
    #[arg(long)]
    pub vlan_rate: Option<f64>,

    /// Chance per data packet of a malformed frame (kinds cycle; see below).
    #[arg(long, default_value_t = 0.0)]
    pub malformed_rate: f64,

    /// Chance per data packet of a frame to be filtered out (ARP, IGMP, other UDP port).
    #[arg(long, default_value_t = 0.0)]
    pub filtered_rate: f64,

    /// Print nothing on success.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(format!("'{s}' is not a MAC address like 01:00:5e:36:0c:6f"));
    }
    let mut m = [0u8; 6];
    for (d, p) in m.iter_mut().zip(&parts) {
        *d = u8::from_str_radix(p, 16)
            .map_err(|_| format!("'{s}' is not a MAC address like 01:00:5e:36:0c:6f"))?;
        if p.len() > 2 {
            return Err(format!("'{s}' is not a MAC address like 01:00:5e:36:0c:6f"));
        }
    }
    Ok(m)
}

/// Parse `HH:MM:SS[.fraction]` into ns since midnight.
fn parse_time(s: &str) -> Result<u64> {
    let bad = || anyhow::anyhow!("--start '{s}' is not a time like 09:30:00 or 09:30:00.000001");
    let (hms, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let f: Vec<&str> = hms.split(':').collect();
    if f.len() != 3 || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let num = |x: &str, max: u64| x.parse::<u64>().ok().filter(|v| *v <= max).ok_or_else(bad);
    let (h, m, sec) = (num(f[0], 23)?, num(f[1], 59)?, num(f[2], 59)?);
    let ns = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().map_err(|_| bad())? * 10u64.pow(9 - frac.len() as u32)
    };
    Ok(((h * 60 + m) * 60 + sec) * 1_000_000_000 + ns)
}

fn parse_date(s: &str) -> Result<u64> {
    let bad = || anyhow::anyhow!("--date '{s}' is not a date like 2024-01-02 (1970..=2105)");
    let f: Vec<&str> = s.split('-').collect();
    if f.len() != 3 {
        return Err(bad());
    }
    let y: i32 = f[0].parse().map_err(|_| bad())?;
    let m: u32 = f[1].parse().map_err(|_| bad())?;
    let d: u32 = f[2].parse().map_err(|_| bad())?;
    midnight_epoch_s(y, m, d).ok_or_else(bad)
}

impl GenArgs {
    /// The generator configuration these arguments describe.
    pub fn config(&self) -> Result<GenConfig> {
        let session = crate::mold_packet::session_name(&self.session)
            .map_err(|e| anyhow::anyhow!("--session: {e}"))?;
        let (vlan_id, vlan_rate) = match (self.vlan, self.vlan_rate) {
            (None, None) => (None, 0.0),
            (Some(id), None) => (Some(id), 1.0),
            (id, Some(r)) => (Some(id.unwrap_or(100)), r),
        };
        let cfg = GenConfig {
            seed: self.seed,
            symbols: self.symbols,
            messages: self.messages,
            live_orders_target: self.live_orders,
            zipf_exponent: self.zipf,
            start_ns: parse_time(&self.start)?,
            mean_gap_ns: self.mean_gap_ns,
            net: NetConfig {
                src_mac: self.src_mac,
                dst_mac: self.dst_mac,
                src_ip: self.src_ip,
                dst_ip: self.dst_ip,
                src_port: self.src_port,
                dst_port: self.dst_port,
                ttl: self.ttl,
            },
            mold: MoldConfig {
                session,
                max_payload: self.max_payload,
                max_messages_per_packet: self.max_msgs_per_packet,
                flush_ns: self.flush_ns,
                heartbeat_every: self.heartbeat_every,
                first_sequence: 1,
                pcap_nanos: self.pcap_nanos,
                capture_midnight_epoch_s: parse_date(&self.date)?,
            },
            faults: FaultConfig {
                dup_rate: self.dup_rate,
                drop_rate: self.drop_rate,
                vlan_id,
                vlan_rate,
                malformed_rate: self.malformed_rate,
                filtered_rate: self.filtered_rate,
            },
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Output paths: (binfile, pcap, manifest).
    pub fn paths(&self) -> (Option<PathBuf>, Option<PathBuf>, PathBuf) {
        let base = match self.out.extension().and_then(|e| e.to_str()) {
            Some("itch" | "pcap") => self.out.with_extension(""),
            _ => self.out.clone(),
        };
        let with = |ext: &str| {
            let mut s = base.clone().into_os_string();
            s.push(ext);
            PathBuf::from(s)
        };
        let bin = matches!(self.format, Format::Binfile | Format::Both).then(|| with(".itch"));
        let pcap = matches!(self.format, Format::Pcap | Format::Both).then(|| with(".pcap"));
        let manifest = self
            .manifest
            .clone()
            .unwrap_or_else(|| with(".manifest.json"));
        (bin, pcap, manifest)
    }
}

fn create(p: &Path) -> Result<BufWriter<File>> {
    let f = File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

/// Skip a leading program name and/or `gen` so that both the arguments after
/// `gen` and a full argv work.
fn strip_prefix(args: &[String]) -> &[String] {
    let mut a = args;
    if let Some(first) = a.first() {
        let name = Path::new(first)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        if !first.starts_with('-') && first != "gen" && name.starts_with("tickwire") {
            a = &a[1..];
        }
    }
    if a.first().map(String::as_str) == Some("gen") {
        a = &a[1..];
    }
    a
}

/// Entry point for `tickwire gen ARGS...`: `args` are the arguments after
/// `gen` (a leading program name and `gen` are tolerated). `--help` and
/// `--version` print and return `Ok`.
pub fn run(args: &[String]) -> Result<()> {
    let Some(a) = crate::cli::parse::<GenArgs>("tickwire gen", strip_prefix(args))? else {
        return Ok(());
    };
    let cfg = a.config()?;
    let (bin_path, pcap_path, manifest_path) = a.paths();
    let t0 = Instant::now();
    let bin = bin_path.as_deref().map(create).transpose()?;
    let pcap = pcap_path.as_deref().map(create).transpose()?;
    let manifest = super::generate(&cfg, bin, pcap, None).context("generation failed")?;
    let elapsed = t0.elapsed();
    std::fs::write(&manifest_path, manifest.to_json())
        .with_context(|| format!("cannot write manifest {}", manifest_path.display()))?;
    if !a.quiet {
        print!(
            "{}",
            summary(
                &manifest,
                &cfg,
                elapsed.as_secs_f64(),
                &bin_path,
                &pcap_path,
                &manifest_path
            )
        );
    }
    Ok(())
}

fn size(p: &Path) -> String {
    match std::fs::metadata(p) {
        Ok(m) => format!("{:.1} MB", m.len() as f64 / 1e6),
        Err(_) => "?".into(),
    }
}

/// The short human-readable report `run` prints.
pub fn summary(
    m: &Manifest,
    cfg: &GenConfig,
    secs: f64,
    bin: &Option<PathBuf>,
    pcap: &Option<PathBuf>,
    manifest: &Path,
) -> String {
    let mut o = format!(
        "tickwire gen: {} messages, {} symbols, seed {} in {:.2} s ({:.1} M msg/s)\n",
        m.total_messages,
        cfg.symbols,
        m.seed,
        secs,
        m.total_messages as f64 / secs.max(1e-9) / 1e6
    );
    let pct = |t: &[u8]| {
        100.0 * t.iter().map(|&t| m.count(t)).sum::<u64>() as f64 / m.total_messages.max(1) as f64
    };
    o += &format!(
        "  mix: adds {:.1}% ({:.0}% of them F), D {:.1}%, U {:.1}%, E/C/X {:.1}%, P {:.2}%, other {:.2}%\n",
        pct(b"AF"),
        100.0 * pct(b"F") / pct(b"AF").max(1e-9),
        pct(b"D"),
        pct(b"U"),
        pct(b"ECX"),
        pct(b"P"),
        pct(b"SRHYLVWKJhQBINO")
    );
    o += &format!(
        "  live orders at end: {} (target {})\n",
        m.final_live_orders, m.live_orders_target
    );
    if let Some(p) = bin {
        o += &format!("  binfile  {} ({})\n", p.display(), size(p));
    }
    if let (Some(p), Some(pm)) = (pcap, &m.pcap) {
        let c = &pm.packets;
        o += &format!(
            "  pcap     {} ({}): {} frames, {} data packets, sequence {}..={}, {} heartbeats, {} end-of-session\n",
            p.display(),
            size(p),
            c.frames,
            c.data,
            pm.first_sequence,
            pm.last_sequence,
            c.heartbeat,
            c.end_of_session
        );
        let faults =
            c.duplicate + c.dropped + c.malformed_total() + c.filtered_total() + c.vlan_tagged;
        if faults > 0 {
            o += &format!(
                "           faults: {} duplicate, {} dropped ({} messages lost), {} vlan-tagged, {} malformed, {} filtered\n",
                c.duplicate,
                c.dropped,
                pm.messages_lost_to_drops,
                c.vlan_tagged,
                c.malformed_total(),
                c.filtered_total()
            );
            let kinds: Vec<String> = MalformedKind::ALL
                .iter()
                .filter(|k| c.malformed(**k) > 0)
                .map(|k| format!("{} {}", k.name(), c.malformed(*k)))
                .chain(
                    FilteredKind::ALL
                        .iter()
                        .filter(|k| c.filtered(**k) > 0)
                        .map(|k| format!("{} {}", k.name(), c.filtered(*k))),
                )
                .collect();
            if !kinds.is_empty() {
                o += &format!("           {}\n", kinds.join(", "));
            }
        }
    }
    o += &format!("  manifest {}\n", manifest.display());
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_defaults_and_options() {
        let a = GenArgs::try_parse_from(["x"]).unwrap();
        let c = a.config().unwrap();
        assert_eq!(c, {
            let mut d = GenConfig::default();
            d.mold.session = *b"TICKWIRE01";
            d
        });
        let a = GenArgs::try_parse_from([
            "x",
            "--vlan-rate",
            "0.5",
            "--session",
            "ABC",
            "--dst-mac",
            "01-00-5e-00-00-01",
            "--start",
            "10:00:00.5",
            "--out",
            "/tmp/x.pcap",
            "--format",
            "pcap",
        ])
        .unwrap();
        let c = a.config().unwrap();
        assert_eq!(c.faults.vlan_id, Some(100));
        assert_eq!(c.faults.vlan_rate, 0.5);
        assert_eq!(&c.mold.session, b"ABC       ");
        assert_eq!(c.net.dst_mac, Some([1, 0, 0x5e, 0, 0, 1]));
        assert_eq!(c.start_ns, 36_000_500_000_000);
        let (b, p, m) = a.paths();
        assert_eq!(b, None);
        assert_eq!(p, Some(PathBuf::from("/tmp/x.pcap")));
        assert_eq!(m, PathBuf::from("/tmp/x.manifest.json"));
    }

    #[test]
    fn errors_are_messages() {
        assert!(parse_mac("01:02").is_err());
        assert!(parse_mac("01:02:03:04:05:0g").is_err());
        assert!(parse_time("25:00:00").is_err());
        assert!(parse_date("2023-02-29").is_err());
        let e = run(&s(&["--symbols", "0"])).unwrap_err().to_string();
        assert!(e.contains("symbols"), "{e}");
        let e = run(&s(&["--bogus"])).unwrap_err().to_string();
        assert!(e.contains("--bogus"), "{e}");
        let e = run(&s(&["--session", "WAYTOOLONGSESSION"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("session"), "{e}");
        assert!(run(&s(&["gen", "--help"])).is_ok());
    }

    #[test]
    fn strips_program_name() {
        let v = s(&["/usr/bin/tickwire", "gen", "--seed", "3"]);
        assert_eq!(strip_prefix(&v), &v[2..]);
        let v = s(&["--seed", "3"]);
        assert_eq!(strip_prefix(&v), &v[..]);
    }
}
