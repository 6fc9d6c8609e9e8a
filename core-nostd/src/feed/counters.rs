//! What a session counts: every message that arrived by any route is won,
//! duplicate or dropped; every sequence number is applied or lost.

/// Per line (A, B, recovery answers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LineCounters {
    /// Packets received (heartbeats and end of session included).
    pub packets: u64,
    /// Messages received.
    pub messages: u64,
    /// Messages applied from this line (it was first).
    pub won: u64,
    /// Messages already had from another route or earlier.
    pub duplicates: u64,
    /// Messages dropped because the reorder buffer was full while
    /// backfilling (asked for again later).
    pub dropped: u64,
    /// Messages this line skipped (its own sequence jumped ahead), whether
    /// or not another route filled them.
    pub gap_messages: u64,
}

/// Per session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FeedCounters {
    /// Messages applied in sequence.
    pub applied: u64,
    /// Messages given up: on no line and not answered (lost on every route).
    pub lost: u64,
    /// Messages before the first one seen, when started late without
    /// backfill (not counted lost).
    pub late_join_skipped: u64,
    /// Gaps opened (a packet or heartbeat ahead of the expected number).
    pub gaps: u64,
    /// Gaps closed with nothing lost.
    pub gaps_filled: u64,
    /// Holes given up.
    pub gaps_given_up: u64,
    /// Holes given up because the reorder buffer was full.
    pub given_up_buffer_full: u64,
    /// Re-request packets handed to the caller.
    pub requests: u64,
    /// Messages those requests asked for.
    pub requested_messages: u64,
    /// Requests the caller could not take (its channel was full).
    pub requests_refused: u64,
    /// Moves to the next re-request server.
    pub failovers: u64,
    /// Heartbeat packets (all lines).
    pub heartbeats: u64,
    /// End-of-session packets (all lines).
    pub end_of_session: u64,
    /// Highest reorder buffer occupancy (packets).
    pub buffer_high_water: u64,
    /// Packets of another session (ignored).
    pub other_session: u64,
    /// Packets shorter than a MoldUDP64 header (ignored).
    pub malformed: u64,
}
