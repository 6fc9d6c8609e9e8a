//! MoldUDP64 sequencing, line arbitration and recovery: everything between
//! the wire and the book. Sans-IO: the caller hands in packets (any handle
//! that derefs to the MoldUDP64 bytes: the host's mbufs, the replayer's
//! slices), the time, and storage for the reorder buffer; the feed hands
//! back messages in sequence, re-requests to send, and what was lost.
//!
//! - [`Cursor`]: one line, nothing to wait for (a gap is counted and skipped
//!   at once): the contract of `docs/semantics.md` without lines.
//! - [`Sequencer`]: one MoldUDP64 session over line A, line B and the
//!   re-request server's answers. First arrival wins per message; a gap on
//!   one line waits for the other (the arbitration window), then is
//!   re-requested, and given up (counted lost, the session degraded) when
//!   the server cannot fill it.

mod counters;
mod cursor;
mod reorder;
mod sequencer;
#[cfg(test)]
mod tests;

pub use counters::{FeedCounters, LineCounters};
pub use cursor::{Cursor, Step};
pub use reorder::{Held, Reorder};
pub use sequencer::{Arrival, Sequencer};

/// Where a packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Line {
    /// The A line.
    A,
    /// The B line.
    B,
    /// An answer from a re-request server.
    Recovery,
}

impl Line {
    /// Index into per-line counters: A 0, B 1, recovery 2.
    pub const fn index(self) -> usize {
        match self {
            Line::A => 0,
            Line::B => 1,
            Line::Recovery => 2,
        }
    }

    /// Its name in counters and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Line::A => "a",
            Line::B => "b",
            Line::Recovery => "recovery",
        }
    }
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FeedState {
    /// No packet yet.
    Waiting,
    /// Every message up to the newest known one applied.
    Synchronized,
    /// A gap is open: waiting for the other line or a re-request answer.
    Recovering,
    /// Started late with backfill: fetching the session from sequence 1.
    Backfilling,
    /// Messages were given up; clears after a clean period.
    Degraded,
}

impl FeedState {
    /// Its name in stats.
    pub const fn name(self) -> &'static str {
        match self {
            FeedState::Waiting => "waiting",
            FeedState::Synchronized => "synchronized",
            FeedState::Recovering => "recovering",
            FeedState::Backfilling => "backfilling",
            FeedState::Degraded => "degraded",
        }
    }
}

/// A MoldUDP64 re-request to send: `count` messages from `seq`, to server
/// number `server` (the caller's list, in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Request {
    /// Index of the server.
    pub server: u8,
    /// First sequence number wanted.
    pub seq: u64,
    /// Messages wanted (1..=[`MAX_REQUEST_COUNT`]).
    pub count: u16,
}

/// The largest count a request may carry (0xFFFF means end of session).
pub const MAX_REQUEST_COUNT: u16 = 0xfffe;

/// How a session waits, asks and gives up. Times are ns of the caller's
/// clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FeedConfig {
    /// Lines carrying the session (1 or 2).
    pub lines: u8,
    /// Re-request servers (0: none; gaps are given up after arbitration).
    pub servers: u8,
    /// How long a gap waits for the other line before it is re-requested.
    pub arbitration_ns: u64,
    /// How many packets a gap waits for the other line, at most.
    pub arbitration_packets: u32,
    /// Wait before the first retry of a request; doubles per retry.
    pub request_timeout_ns: u64,
    /// Requests to one server for a gap before failing over to the next.
    pub max_attempts: u32,
    /// A gap that makes no progress for this long is given up.
    pub recovery_timeout_ns: u64,
    /// The largest count one request asks for.
    pub max_request: u16,
    /// Started after the session began: fetch it from sequence 1.
    pub backfill: bool,
    /// How long without loss clears the degraded state.
    pub clean_ns: u64,
}

impl FeedConfig {
    /// One line, no server: gaps are counted and skipped at once.
    pub const SINGLE: FeedConfig = FeedConfig {
        lines: 1,
        servers: 0,
        arbitration_ns: 1_000_000,
        arbitration_packets: 1024,
        request_timeout_ns: 10_000_000,
        max_attempts: 3,
        recovery_timeout_ns: 2_000_000_000,
        max_request: MAX_REQUEST_COUNT,
        backfill: false,
        clean_ns: 2_000_000_000,
    };

    /// Whether a gap may wait (for the other line or a server) at all.
    pub const fn can_wait(&self) -> bool {
        self.lines > 1 || self.servers > 0
    }
}

/// Writes the 20-byte MoldUDP64 request packet for `req` of `session`.
pub fn encode_request(session: &[u8; 10], req: &Request) -> [u8; 20] {
    let mut b = [0u8; 20];
    b[..10].copy_from_slice(session);
    b[10..18].copy_from_slice(&req.seq.to_be_bytes());
    b[18..20].copy_from_slice(&req.count.to_be_bytes());
    b
}

/// Where a session's messages go: the book engine, a test's model.
pub trait Deliver {
    /// Applies the messages of MoldUDP64 `packet` from the `skip`-th on;
    /// they are next in sequence.
    fn deliver(&mut self, packet: &[u8], skip: u16);

    /// `count` messages from `first` were given up (lost on every route).
    fn lost(&mut self, first: u64, count: u64) {
        let _ = (first, count);
    }
}
