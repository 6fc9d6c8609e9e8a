//! Publishing book records to NATS (core NATS or a JetStream stream): the
//! bridge thread, its options (shared by `tickwire replay` and the DPDK
//! host), subjects, and `tickwire subscribe`. See README, "NATS".

pub mod bridge;
pub mod changes;
pub mod sink;
pub mod subject;
pub mod subscribe;

use std::time::Duration;

use clap::Args;

pub use bridge::{Bridge, BridgeConfig, BridgeCounters, BridgeTx, Format, StreamSettings};

use crate::replay::parse_duration_ns;

/// `--nats*`: where and how book records are published.
#[derive(Debug, Clone, Args)]
pub struct NatsArgs {
    /// NATS server URL (nats://HOST:PORT); repeat (or separate by commas)
    /// for the servers of a cluster. Publishing is on when one is given.
    #[arg(
        long = "nats",
        visible_alias = "nats-servers",
        value_name = "URL",
        value_delimiter = ',',
        help_heading = "NATS"
    )]
    pub servers: Vec<String>,
    /// Publish into this JetStream stream (created, with the limits below,
    /// if absent), with acknowledgements; without it, core NATS (at most
    /// once, no acknowledgements).
    #[arg(long, value_name = "NAME", help_heading = "NATS")]
    pub nats_stream: Option<String>,
    /// Subjects are PREFIX.SESSION.SYMBOL.
    #[arg(long, default_value = "md", help_heading = "NATS")]
    pub nats_prefix: String,
    /// The SESSION token of subjects (default: the MoldUDP64 session of the
    /// record, or `itch` for a BinaryFILE).
    #[arg(long, value_name = "NAME", value_parser = parse_token, help_heading = "NATS")]
    pub nats_session: Option<String>,
    /// Book levels per side in each record, 1 (top of book) to 10.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(1..=10), help_heading = "NATS")]
    pub nats_depth: u8,
    /// Publish a locate's record only when its levels (to --nats-depth),
    /// VWAP, volume or stale flag changed; with --nats-depth 1, top-of-book
    /// changes.
    #[arg(long, help_heading = "NATS")]
    pub nats_changes_only: bool,
    /// Payload: the compact binary record or its JSON form
    /// (docs/bus-record.md).
    #[arg(long, value_enum, default_value = "binary", help_heading = "NATS")]
    pub nats_format: Format,
    /// Records queued for the bridge thread; a full queue drops (and
    /// counts) rather than waiting (the replayer waits instead).
    #[arg(long, default_value_t = 65_536, value_parser = clap::value_parser!(u32).range(1..), help_heading = "NATS")]
    pub nats_ring: u32,
    /// JetStream publishes awaiting acknowledgement, at most.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65_536), help_heading = "NATS")]
    pub nats_max_in_flight: u32,
    /// How long a JetStream acknowledgement may take before the publish is
    /// retried.
    #[arg(long, default_value = "2s", value_parser = parse_duration_ns, help_heading = "NATS")]
    pub nats_ack_timeout: u64,
    /// Retries of a publish whose acknowledgement failed (same message id:
    /// the stream keeps one copy).
    #[arg(long, default_value_t = 3, help_heading = "NATS")]
    pub nats_retries: u32,
    /// Replicas of a stream this creates (at most the cluster's size).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5), help_heading = "NATS")]
    pub nats_replicas: u8,
    /// Oldest message a stream this creates keeps (0: no limit).
    #[arg(long, default_value = "24h", value_parser = parse_duration_ns, help_heading = "NATS")]
    pub nats_max_age: u64,
    /// Most bytes a stream this creates keeps (0: no limit but the
    /// server's max_file_store). JetStream reserves this much of the
    /// server's storage when it creates the stream.
    #[arg(long, default_value_t = 0, help_heading = "NATS")]
    pub nats_max_bytes: u64,
    /// JetStream de-duplication window of a stream this creates.
    #[arg(long, default_value = "2m", value_parser = parse_duration_ns, help_heading = "NATS")]
    pub nats_duplicate_window: u64,
    /// Add a Tickwire-Sent-Ns header (wall time of the publish) to every
    /// message, for `tickwire subscribe --latency`.
    #[arg(long, help_heading = "NATS")]
    pub nats_stamp: bool,
    /// How long the first connection may take; tickwire does not start
    /// without a server (later outages are survived and counted).
    #[arg(long, default_value = "5s", value_parser = parse_duration_ns, help_heading = "NATS")]
    pub nats_connect_timeout: u64,
}

/// Value parser for a single subject token.
pub fn parse_token(s: &str) -> Result<String, String> {
    if s.is_empty()
        || s.bytes()
            .any(|b| !b.is_ascii_graphic() || matches!(b, b'.' | b'*' | b'>'))
    {
        return Err(format!(
            "{s:?} is not a subject token: printable ASCII without '.', '*' or '>'"
        ));
    }
    Ok(s.to_owned())
}

impl NatsArgs {
    /// Whether publishing is on.
    pub fn enabled(&self) -> bool {
        !self.servers.is_empty()
    }

    /// The bridge's configuration (`client_name` names this process).
    pub fn config(&self, client_name: &str) -> BridgeConfig {
        BridgeConfig {
            servers: self.servers.clone(),
            stream: self.nats_stream.as_ref().map(|name| StreamSettings {
                name: name.clone(),
                replicas: usize::from(self.nats_replicas),
                max_age: Duration::from_nanos(self.nats_max_age),
                max_bytes: match self.nats_max_bytes {
                    0 => -1,
                    n => i64::try_from(n).unwrap_or(i64::MAX),
                },
                duplicate_window: Duration::from_nanos(self.nats_duplicate_window),
            }),
            prefix: self.nats_prefix.clone(),
            session: self.nats_session.clone(),
            depth: usize::from(self.nats_depth),
            changes_only: self.nats_changes_only,
            format: self.nats_format,
            ring: self.nats_ring as usize,
            max_in_flight: self.nats_max_in_flight as usize,
            ack_timeout: Duration::from_nanos(self.nats_ack_timeout),
            retries: self.nats_retries,
            stamp: self.nats_stamp,
            connect_timeout: Duration::from_nanos(self.nats_connect_timeout),
            client_name: client_name.to_owned(),
            cpus: None,
        }
    }
}
