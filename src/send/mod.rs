//! `tickwire send`: publishes a BinaryFILE as a MoldUDP64 feed over UDP on
//! one or two lines (A/B), paced and impaired on demand, so that receivers
//! (the DPDK host, a recovery client) can be tested against a live-looking
//! feed with exactly known losses.
//!
//! Both lines carry the same sequence numbers (message `i` of the file is
//! sequence `i + 1`); each line cuts its own packets (`max_messages`), so B
//! may split the stream differently from A. Packets go out in order of due
//! time, then of first sequence (so unpaced A and B interleave), A first on
//! a tie. A line idle for the heartbeat interval sends a
//! heartbeat; after the last message every line sends one heartbeat (or
//! end-of-session packet) at once and then one per interval while lingering.

pub mod cli;
mod impair;
mod line;
mod pace;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;

pub use impair::{Fate, Impairer, Impairments, SeqRanges};
pub use line::LineCounters;
pub use pace::{itch_timestamp, Pace, Pacer};

use crate::mold_packet::{PacketLimits, COUNT_END_OF_SESSION, COUNT_HEARTBEAT};
use crate::mold_store::MoldStore;
use line::Line;

/// Longest single sleep, so that SIGINT/SIGTERM is noticed promptly.
const MAX_NAP: Duration = Duration::from_millis(50);

/// One line's destination and packet cutting.
#[derive(Debug, Clone)]
pub struct LineConfig {
    /// Where the datagrams go (a multicast group or a unicast address).
    pub dest: SocketAddrV4,
    /// Most messages per packet (the payload limit applies as well).
    pub max_messages: u16,
    /// What the network does to this line.
    pub impair: Impairments,
}

/// Everything `send` needs besides the file.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// Line A, then optionally line B.
    pub lines: Vec<LineConfig>,
    /// Largest MoldUDP64 payload, header included.
    pub max_payload: usize,
    /// How messages are paced.
    pub pace: Pace,
    /// Paced, messages due within this of a packet's first message share
    /// its packet (which goes when its last message is due).
    pub batch_window: Duration,
    /// Source address and multicast interface (unspecified: the kernel's
    /// choice).
    pub bind: Ipv4Addr,
    /// IP TTL (unicast and multicast).
    pub ttl: u8,
    /// Seed for the random impairments.
    pub seed: u64,
    /// A line idle this long sends a heartbeat.
    pub heartbeat_interval: Duration,
    /// End with end-of-session packets instead of heartbeats.
    pub end_of_session: bool,
    /// Keep sending heartbeats (or end of session) this long after the end.
    pub linger: Duration,
}

/// What a `send` run did.
#[derive(Debug, Clone)]
pub struct SendSummary {
    /// Session name as sent.
    pub session: String,
    /// Messages in the file.
    pub file_messages: u64,
    /// The sequence after the last message.
    pub next_sequence: u64,
    /// Wall time from the first datagram to the end of lingering.
    pub elapsed: Duration,
    /// Stopped early by SIGINT/SIGTERM.
    pub interrupted: bool,
    /// Per line: name ("a"/"b"), destination, counters.
    pub lines: Vec<(String, SocketAddr, LineCounters)>,
}

impl SendSummary {
    /// The summary as JSON (what `tickwire send` prints).
    pub fn to_json(&self) -> serde_json::Value {
        let mut lines = serde_json::Map::new();
        for (name, dest, c) in &self.lines {
            let mut v = c.to_json();
            v["destination"] = dest.to_string().into();
            lines.insert(name.clone(), v);
        }
        serde_json::json!({
            "session": self.session,
            "file_messages": self.file_messages,
            "first_sequence": 1,
            "next_sequence": self.next_sequence,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "interrupted": self.interrupted,
            "lines": lines,
        })
    }
}

/// Publishes every message of `store` on the configured lines; returns
/// when done and lingered, or early when `stop` is set.
pub fn send<B: AsRef<[u8]>>(
    store: &MoldStore<B>,
    opts: &SendOptions,
    stop: &AtomicBool,
) -> Result<SendSummary> {
    let sock = crate::udp_socket::publisher(opts.bind, opts.ttl)?;
    let session = *store.session();
    let pacer = Pacer::new(opts.pace, 1, store.message(1));
    let window_ns = u64::try_from(opts.batch_window.as_nanos()).unwrap_or(u64::MAX);
    let hb = opts.heartbeat_interval.max(Duration::from_millis(1));
    let mut lines = Vec::with_capacity(opts.lines.len());
    for (i, cfg) in opts.lines.iter().enumerate() {
        let limits = PacketLimits {
            max_payload: opts.max_payload,
            max_messages: cfg.max_messages,
        };
        let cutter = store
            .packets_from(1, limits)
            .unwrap_or_else(|| crate::mold_packet::PacketCutter::new(&[], 1, limits));
        let name = if i == 0 { "a" } else { "b" };
        let impairer = Impairer::new(cfg.impair.clone(), opts.seed, i as u64);
        let mut line = Line::new(name, SocketAddr::V4(cfg.dest), session, cutter, impairer);
        line.refill(&pacer, window_ns);
        lines.push(line);
    }

    let start = Instant::now();
    let mut interrupted = false;
    loop {
        let pick = lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                l.next
                    .as_ref()
                    .map(|(p, due)| (due.unwrap_or(0), p.sequence, i))
            })
            .min();
        let Some((due, _, i)) = pick else { break };
        let at = start + Duration::from_nanos(due);
        if idle_until(&mut lines, &sock, COUNT_HEARTBEAT, at, hb, stop)? {
            interrupted = true;
            break;
        }
        lines[i].publish(&sock)?;
        lines[i].refill(&pacer, window_ns);
    }

    let count = if opts.end_of_session {
        COUNT_END_OF_SESSION
    } else {
        COUNT_HEARTBEAT
    };
    if !interrupted {
        for l in &mut lines {
            l.control(&sock, count)?;
        }
        let end = Instant::now() + opts.linger;
        interrupted = idle_until(&mut lines, &sock, count, end, hb, stop)?;
    }
    for l in &mut lines {
        l.release_held(&sock)?;
    }
    Ok(SendSummary {
        session: String::from_utf8_lossy(&session).into_owned(),
        file_messages: store.message_count(),
        next_sequence: store.next_sequence(),
        elapsed: start.elapsed(),
        interrupted,
        lines: lines
            .into_iter()
            .map(|l| (l.name.to_owned(), l.dest, l.counters))
            .collect(),
    })
}

/// Waits until `until`, sending a `count` packet (heartbeat or end of
/// session) on every line idle for `hb`. `Ok(true)` when `stop` was set.
fn idle_until(
    lines: &mut [Line<'_>],
    sock: &std::net::UdpSocket,
    count: u16,
    until: Instant,
    hb: Duration,
    stop: &AtomicBool,
) -> Result<bool> {
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let now = Instant::now();
        if now >= until {
            return Ok(false);
        }
        let mut wake = until.min(now + MAX_NAP);
        for l in lines.iter_mut() {
            if now >= l.last_sent + hb {
                l.control(sock, count)?;
            }
            wake = wake.min(l.last_sent + hb);
        }
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
    }
}
