//! `tickwire rerequest-server`: command-line front end of [`crate::rerequest`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use super::{RerequestServer, ServerCounters, ServerOptions};
use crate::mold_packet::session_name;
use crate::mold_store::MoldStore;
use crate::replay::parse_duration_ns;

const AFTER_HELP: &str = "\
A request is a 20-byte datagram: session (10 ASCII bytes), sequence number (u64 big-endian), message
count (u16 big-endian). The answer is one MoldUDP64 downstream packet from that sequence, as many
whole messages as fit --max-payload, at most the count, sent back to the request's source address
and port. Message i of the file (from 0) is sequence i+1. Nothing is sent for sequence 0, a sequence
past the file's end or a count of 0 (silent), nor for a datagram that is not exactly 20 bytes or is
for another session (malformed). Runs until SIGINT/SIGTERM, --exit-after or --stop-after-requests,
then prints JSON counters on stdout: requests, answered, silent, dropped, malformed,
pending_at_exit, send_errors, messages_sent, bytes_sent.

Examples:
  tickwire rerequest-server day.itch --listen 10.0.0.1:26401 --session TICKWIRE01
  # A flaky server: ignores the first 2 requests and 10% of the rest, answers 50ms late
  tickwire rerequest-server day.itch --listen 127.0.0.1:26401 --session TICKWIRE01 \\
      --drop-first 2 --drop-requests 0.1 --seed 7 --answer-delay 50ms --exit-after 30s";

/// Answer MoldUDP64 re-requests from a NASDAQ BinaryFILE, as NASDAQ's re-request server does.
#[derive(Debug, Clone, Parser)]
#[command(name = "tickwire rerequest-server", version, after_help = AFTER_HELP)]
pub struct RerequestArgs {
    /// BinaryFILE holding the session's messages (2-byte big-endian length before each).
    pub file: PathBuf,

    /// Address and UDP port to listen on, e.g. 127.0.0.1:26401 or 0.0.0.0:26401.
    #[arg(long)]
    pub listen: SocketAddr,

    /// MoldUDP64 session served (up to 10 printable ASCII characters, space padded), e.g.
    /// TICKWIRE01; requests for other sessions are malformed.
    #[arg(long)]
    pub session: String,

    /// Largest answer payload (20-byte header included), e.g. 1400.
    #[arg(long, default_value_t = crate::mold_packet::DEFAULT_MAX_PAYLOAD, value_parser = crate::cli::parse_max_payload)]
    pub max_payload: usize,

    /// Chance that a well-formed request is ignored, e.g. 0.1.
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::parse_probability)]
    pub drop_requests: f64,

    /// Ignore the first N well-formed requests, e.g. 2.
    #[arg(long, default_value_t = 0)]
    pub drop_first: u64,

    /// Seed for --drop-requests.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Send each answer this long after its request came, e.g. 50ms.
    #[arg(long, default_value = "0", value_parser = parse_duration_ns)]
    pub answer_delay: u64,

    /// Stop after this long, e.g. 30s [default: run until SIGINT/SIGTERM].
    #[arg(long, value_parser = parse_duration_ns)]
    pub exit_after: Option<u64>,

    /// Stop once N requests (datagrams) have come and their answers have gone, e.g. 3.
    #[arg(long, value_name = "N")]
    pub stop_after_requests: Option<u64>,

    /// Also write the JSON counters here.
    #[arg(long)]
    pub stats_json: Option<PathBuf>,
}

impl RerequestArgs {
    /// The server options these arguments describe.
    pub fn options(&self) -> ServerOptions {
        ServerOptions {
            max_payload: self.max_payload,
            drop_requests: self.drop_requests,
            drop_first: self.drop_first,
            seed: self.seed,
            answer_delay: Duration::from_nanos(self.answer_delay),
            exit_after: self.exit_after.map(Duration::from_nanos),
            stop_after_requests: self.stop_after_requests,
        }
    }
}

/// Parses `args` (after `rerequest-server`), serves, writes `--stats-json`;
/// returns the counters (`None` when `--help` or `--version` was printed).
/// Installs the SIGINT/SIGTERM handler that ends the run.
pub fn run_with(args: &[String]) -> Result<Option<ServerCounters>> {
    let Some(a) = crate::cli::parse::<RerequestArgs>("tickwire rerequest-server", args)? else {
        return Ok(None);
    };
    let session = session_name(&a.session).map_err(|e| anyhow::anyhow!("--session: {e}"))?;
    let opts = a.options();
    let store = MoldStore::open(&a.file, session)?;
    let stop = crate::stop_signal::install();
    let mut server = RerequestServer::bind(&store, a.listen, opts)?;
    let counters = server.run(stop)?;
    if let Some(p) = &a.stats_json {
        let text = serde_json::to_string_pretty(&counters.to_json())?;
        std::fs::write(p, text + "\n")
            .with_context(|| format!("--stats-json {}: cannot write", p.display()))?;
    }
    Ok(Some(counters))
}

/// Entry point: `args` are the arguments after `rerequest-server`; prints
/// the counters as JSON on stdout.
pub fn run(args: &[String]) -> Result<()> {
    if let Some(c) = run_with(args)? {
        println!("{}", c.to_json());
    }
    Ok(())
}
