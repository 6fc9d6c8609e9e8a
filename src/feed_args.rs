//! The feed's lines and recovery options, shared by `tickwire replay` and
//! the DPDK host.

use clap::Args;
use tickwire_core::feed::{FeedConfig, MAX_REQUEST_COUNT};

use crate::replay::parse_duration_ns;

/// How gaps wait, are re-requested and given up (see docs/semantics.md,
/// "Lines and recovery").
#[derive(Debug, Clone, Args)]
pub struct RecoveryArgs {
    /// How long a gap on one line waits for the other line before it is
    /// re-requested (or, without a server, given up).
    #[arg(long, default_value = "1ms", value_parser = parse_duration_ns, help_heading = "Lines and recovery")]
    pub arbitration_window: u64,
    /// How many packets a gap waits for the other line, at most.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Lines and recovery")]
    pub arbitration_packets: u32,
    /// Wait before re-sending an unanswered request (doubles per retry,
    /// capped by --recovery-timeout).
    #[arg(long, default_value = "10ms", value_parser = parse_duration_ns, help_heading = "Lines and recovery")]
    pub request_timeout: u64,
    /// Requests for one gap to one server before failing over to the next
    /// --rerequest server.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Lines and recovery")]
    pub max_attempts: u32,
    /// A gap that makes no progress for this long is given up: its
    /// messages are counted lost, the session degraded, the books stale.
    #[arg(long, default_value = "2s", value_parser = parse_duration_ns, help_heading = "Lines and recovery")]
    pub recovery_timeout: u64,
    /// Packets held ahead of a gap per session; when full, the oldest hole
    /// is given up.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_048_576), help_heading = "Lines and recovery")]
    pub reorder_buffer: u32,
    /// Most messages one request asks for (1 to 65534).
    #[arg(long, default_value_t = MAX_REQUEST_COUNT, value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_REQUEST_COUNT)), help_heading = "Lines and recovery")]
    pub max_request: u16,
    /// Started after the session began (first sequence above 1): fetch it
    /// from sequence 1 through the re-request server while holding live
    /// packets, then go live. Without it the session starts where it is
    /// first seen (counted as late_join_skipped).
    #[arg(long, help_heading = "Lines and recovery")]
    pub backfill: bool,
    /// How long without loss clears a session's degraded state.
    #[arg(long, default_value = "2s", value_parser = parse_duration_ns, help_heading = "Lines and recovery")]
    pub clean_period: u64,
}

impl RecoveryArgs {
    /// The core's configuration for `lines` lines and `servers` servers.
    pub fn config(&self, lines: u8, servers: u8) -> FeedConfig {
        FeedConfig {
            lines,
            servers,
            arbitration_ns: self.arbitration_window,
            arbitration_packets: self.arbitration_packets,
            request_timeout_ns: self.request_timeout,
            max_attempts: self.max_attempts,
            recovery_timeout_ns: self.recovery_timeout,
            max_request: self.max_request,
            backfill: self.backfill,
            clean_ns: self.clean_period,
        }
    }
}
