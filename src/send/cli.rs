//! `tickwire send`: command-line front end of [`crate::send`].

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;

use super::{send, Impairments, LineConfig, Pace, SendOptions, SendSummary, SeqRanges};
use crate::mold_packet::{session_name, MAX_MESSAGES_PER_PACKET};
use crate::mold_store::MoldStore;
use crate::replay::parse_duration_ns;

const AFTER_HELP: &str = "\
Message i of the file (from 0) is MoldUDP64 sequence i+1 on every line. Each line cuts its own
packets: at most --max-payload bytes, at most --max-messages (A) or --b-max-messages (B) messages,
and, when paced, only messages due within --batch-window of the packet's first one. Impairments
apply to data packets only, per line, and repeat exactly with the same --seed. A line idle for
--heartbeat-interval sends a heartbeat (count 0, the next sequence); after the last message each
line sends one heartbeat, or end-of-session (count 0xFFFF) with --end-of-session, at once and then
one per interval for --linger. Prints a JSON summary (per line: data packets, messages, packets
and messages sent, dropped, lost, duplicated, reordered, heartbeats) on stdout at the end, also
on SIGINT/SIGTERM.

Examples:
  # A/B multicast at 100,000 messages/s out of 10.0.0.1's interface, B cut 8 messages a packet
  tickwire send day.itch --session TICKWIRE01 --line-a 233.54.12.111:26400 \\
      --line-b 233.54.12.112:26400 --bind 10.0.0.1 --rate 100000 --b-max-messages 8
  # Real time from the ITCH timestamps, twice as fast; A loses two exact runs of messages
  tickwire send day.itch --session TICKWIRE01 --line-a 239.1.1.1:26400 --event-time --speed 2 \\
      --drop-a 100-199,5000-5099 --end-of-session --linger 5s
  # Loopback test: 1% random loss and 1% duplicates on A, seeded
  tickwire send small.itch --session TICKWIRE01 --line-a 127.0.0.1:26400 --loss-a 0.01 \\
      --duplicate-a 0.01 --seed 7";

/// Publish a NASDAQ BinaryFILE as a MoldUDP64 feed over UDP, on one or two lines (A/B), paced
/// and impaired on demand.
#[derive(Debug, Clone, Parser)]
#[command(name = "tickwire send", version, after_help = AFTER_HELP)]
pub struct SendArgs {
    /// BinaryFILE to publish (2-byte big-endian length before each message). Memory-mapped.
    pub file: PathBuf,

    /// MoldUDP64 session name (up to 10 printable ASCII characters, space padded), e.g.
    /// TICKWIRE01 (what `tickwire gen` uses).
    #[arg(long)]
    pub session: String,

    /// Line A destination, GROUP:PORT or a unicast ADDR:PORT, e.g. 233.54.12.111:26400.
    #[arg(long = "line-a", value_parser = parse_dest)]
    pub line_a: SocketAddrV4,

    /// Line B destination (same sequence numbers as A), e.g. 233.54.12.112:26400.
    #[arg(long = "line-b", value_parser = parse_dest)]
    pub line_b: Option<SocketAddrV4>,

    /// Largest MoldUDP64 payload (20-byte header included), e.g. 1400.
    #[arg(long, default_value_t = crate::mold_packet::DEFAULT_MAX_PAYLOAD, value_parser = crate::cli::parse_max_payload)]
    pub max_payload: usize,

    /// Most messages per packet on line A, e.g. --max-messages 1 for one message a packet.
    #[arg(long, default_value_t = MAX_MESSAGES_PER_PACKET, value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_MESSAGES_PER_PACKET)))]
    pub max_messages: u16,

    /// Most messages per packet on line B (default: as A), so B cuts packets differently, e.g. 8.
    #[arg(long = "b-max-messages", value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_MESSAGES_PER_PACKET)))]
    pub b_max_messages: Option<u16>,

    /// Pace at this many messages per second, e.g. 100000 [default: as fast as possible].
    #[arg(long, value_name = "MSGS_PER_S", conflicts_with = "event_time", value_parser = parse_positive)]
    pub rate: Option<f64>,

    /// Pace by the ITCH timestamps (bytes 5..11, ns since midnight), from the first message's.
    #[arg(long)]
    pub event_time: bool,

    /// Event-time speed factor: 1 real time, 10 (or 10x) ten times faster, 0.5 half speed.
    #[arg(long, requires = "event_time", default_value = "1", value_parser = parse_speed)]
    pub speed: f64,

    /// Paced, messages due within this of a packet's first message share its packet, e.g. 1ms
    /// (0: only messages due at the same instant).
    #[arg(long, default_value = "1ms", value_parser = parse_duration_ns)]
    pub batch_window: u64,

    /// Source address, also the multicast interface (IP_MULTICAST_IF), e.g. 10.0.0.1.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: Ipv4Addr,

    /// IP TTL, unicast and multicast (raise it for routed multicast), e.g. 8.
    #[arg(long, default_value_t = 1)]
    pub ttl: u8,

    /// Seed for the random impairments (--loss, --reorder, --duplicate).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Line A: chance that a data packet is lost, e.g. 0.01.
    #[arg(long = "loss-a", default_value_t = 0.0, value_parser = crate::cli::parse_probability, help_heading = "Impairments")]
    pub loss_a: f64,
    /// Line B: chance that a data packet is lost.
    #[arg(long = "loss-b", value_parser = crate::cli::parse_probability, help_heading = "Impairments")]
    pub loss_b: Option<f64>,
    /// Line A: drop the packets carrying any of these sequences, e.g. 100-199,5000-5099,7.
    #[arg(long = "drop-a", default_value = "", value_parser = SeqRanges::parse, help_heading = "Impairments")]
    pub drop_a: SeqRanges,
    /// Line B: drop the packets carrying any of these sequences.
    #[arg(long = "drop-b", value_parser = SeqRanges::parse, help_heading = "Impairments")]
    pub drop_b: Option<SeqRanges>,
    /// Line A: chance that a data packet goes out after the next one, e.g. 0.01.
    #[arg(long = "reorder-a", default_value_t = 0.0, value_parser = crate::cli::parse_probability, help_heading = "Impairments")]
    pub reorder_a: f64,
    /// Line B: chance that a data packet goes out after the next one.
    #[arg(long = "reorder-b", value_parser = crate::cli::parse_probability, help_heading = "Impairments")]
    pub reorder_b: Option<f64>,
    /// Line A: chance that a data packet is sent twice, e.g. 0.01.
    #[arg(long = "duplicate-a", default_value_t = 0.0, value_parser = crate::cli::parse_probability, help_heading = "Impairments")]
    pub duplicate_a: f64,
    /// Line B: chance that a data packet is sent twice.
    #[arg(long = "duplicate-b", value_parser = crate::cli::parse_probability, help_heading = "Impairments")]
    pub duplicate_b: Option<f64>,

    /// A line idle this long sends a heartbeat, e.g. 1s or 200ms.
    #[arg(long, default_value = "1s", value_parser = parse_duration_ns)]
    pub heartbeat_interval: u64,

    /// After the last message, send end-of-session packets (count 0xFFFF) instead of heartbeats.
    #[arg(long)]
    pub end_of_session: bool,

    /// After the last message, keep sending heartbeats (or end of session) this long, so a
    /// receiver can notice a lost tail and recover, e.g. 5s.
    #[arg(long, default_value = "0", value_parser = parse_duration_ns)]
    pub linger: u64,

    /// Also write the JSON summary here.
    #[arg(long)]
    pub stats_json: Option<PathBuf>,
}

fn parse_dest(s: &str) -> Result<SocketAddrV4, String> {
    match s.parse::<SocketAddrV4>() {
        Ok(a) if a.port() != 0 => Ok(a),
        _ => Err(format!(
            "{s:?} is not GROUP:PORT or ADDR:PORT like 233.54.12.111:26400"
        )),
    }
}

fn parse_positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

fn parse_speed(s: &str) -> Result<f64, String> {
    parse_positive(s.trim_end_matches('x'))
}

impl SendArgs {
    /// The options these arguments describe.
    pub fn options(&self) -> Result<SendOptions> {
        if self.heartbeat_interval < 1_000_000 {
            bail!("--heartbeat-interval must be at least 1ms");
        }
        let mut lines = vec![LineConfig {
            dest: self.line_a,
            max_messages: self.max_messages,
            impair: Impairments {
                loss: self.loss_a,
                drop: self.drop_a.clone(),
                reorder: self.reorder_a,
                duplicate: self.duplicate_a,
            },
        }];
        match self.line_b {
            Some(dest) => lines.push(LineConfig {
                dest,
                max_messages: self.b_max_messages.unwrap_or(self.max_messages),
                impair: Impairments {
                    loss: self.loss_b.unwrap_or(0.0),
                    drop: self.drop_b.clone().unwrap_or_default(),
                    reorder: self.reorder_b.unwrap_or(0.0),
                    duplicate: self.duplicate_b.unwrap_or(0.0),
                },
            }),
            None => {
                let b_only = [
                    ("--b-max-messages", self.b_max_messages.is_some()),
                    ("--loss-b", self.loss_b.is_some()),
                    ("--drop-b", self.drop_b.is_some()),
                    ("--reorder-b", self.reorder_b.is_some()),
                    ("--duplicate-b", self.duplicate_b.is_some()),
                ];
                if let Some((opt, _)) = b_only.iter().find(|(_, given)| *given) {
                    bail!("{opt} needs --line-b");
                }
            }
        }
        let pace = match (self.rate, self.event_time) {
            (Some(r), _) => Pace::Rate(r),
            (None, true) => Pace::EventTime(self.speed),
            (None, false) => Pace::Max,
        };
        Ok(SendOptions {
            lines,
            max_payload: self.max_payload,
            pace,
            batch_window: Duration::from_nanos(self.batch_window),
            bind: self.bind,
            ttl: self.ttl,
            seed: self.seed,
            heartbeat_interval: Duration::from_nanos(self.heartbeat_interval),
            end_of_session: self.end_of_session,
            linger: Duration::from_nanos(self.linger),
        })
    }
}

/// Parses `args` (after `send`), publishes, writes `--stats-json`; returns
/// the summary (`None` when `--help` or `--version` was printed). Installs
/// the SIGINT/SIGTERM handler: an interrupted run still returns its summary.
pub fn run_with(args: &[String]) -> Result<Option<SendSummary>> {
    let Some(a) = crate::cli::parse::<SendArgs>("tickwire send", args)? else {
        return Ok(None);
    };
    let session = session_name(&a.session).map_err(|e| anyhow::anyhow!("--session: {e}"))?;
    let opts = a.options()?;
    let store = MoldStore::open(&a.file, session)?;
    let stop = crate::stop_signal::install();
    let summary = send(&store, &opts, stop)?;
    if let Some(p) = &a.stats_json {
        let text = serde_json::to_string_pretty(&summary.to_json())?;
        std::fs::write(p, text + "\n")
            .with_context(|| format!("--stats-json {}: cannot write", p.display()))?;
    }
    Ok(Some(summary))
}

/// Entry point: `args` are the arguments after `send`; prints the summary
/// JSON on stdout.
pub fn run(args: &[String]) -> Result<()> {
    if let Some(s) = run_with(args)? {
        println!("{}", s.to_json());
    }
    Ok(())
}
