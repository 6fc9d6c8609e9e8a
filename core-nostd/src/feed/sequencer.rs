//! One MoldUDP64 session over up to two lines and a re-request server.

use super::{
    Deliver, FeedConfig, FeedCounters, FeedState, Held, Line, LineCounters, Reorder, Request,
};
use crate::wire::moldudp64::{MoldPacket, COUNT_END_OF_SESSION};

/// What became of one arriving packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Arrival {
    /// New messages applied now (or a heartbeat at the expected number).
    Applied,
    /// Every message already had.
    Duplicate,
    /// Ahead of a gap: held in the reorder buffer (the only outcome that
    /// keeps the packet).
    Held,
    /// A heartbeat or end of session ahead of the expected number: the gap
    /// it announces is noted.
    Announced,
    /// Ahead of a gap with nothing to wait for: the gap was counted lost
    /// and the packet applied.
    GapSkipped,
    /// Held back: the reorder buffer was full while backfilling (its
    /// messages are asked for again).
    Dropped,
    /// Not this session's, or shorter than a MoldUDP64 header.
    Ignored,
}

/// The open gap's timers.
#[derive(Debug, Clone, Copy)]
struct Gap {
    /// When it opened (recovery time is measured from here).
    since_ns: u64,
    /// When its front hole was revealed (the arbitration window's start).
    opened_ns: u64,
    /// Last time the expected number moved.
    progress_ns: u64,
    /// Packets seen since it opened (arbitration bound).
    packets: u32,
    /// The other line had its chance.
    arbitrated: bool,
    /// When to send requests next.
    next_request_ns: u64,
    /// Requests sent to the current server for it.
    attempts: u32,
    /// Retries so far (backoff exponent).
    retries: u32,
    /// Whether anything of it was given up.
    lost: bool,
}

/// Recent first arrivals on A or B, to time the other line's copy.
#[derive(Debug, Clone, Copy, Default)]
struct Arrived {
    seq: u64,
    end: u64,
    at_ns: u64,
    line: u8,
}

const RECENT: usize = 16;
/// Requests sent per poll at most (one per hole).
const REQUESTS_PER_POLL: usize = 8;

/// One MoldUDP64 session: sequencing, A/B arbitration, re-requests, backfill.
#[derive(Debug)]
pub struct Sequencer<'s, P> {
    cfg: FeedConfig,
    session: [u8; 10],
    started: bool,
    /// Next sequence number to apply.
    expected: u64,
    /// One past the highest sequence number known to exist.
    horizon: u64,
    /// Backfilling while `expected` is below this.
    backfill_until: u64,
    end_seq: Option<u64>,
    buf: Reorder<'s, P>,
    gap: Option<Gap>,
    degraded_since: Option<u64>,
    server: u8,
    counters: FeedCounters,
    lines: [LineCounters; 3],
    line_next: [u64; 2],
    recent: [Arrived; RECENT],
    recent_at: usize,
    skew_ns: Option<u64>,
    last_recovery_ns: Option<u64>,
}

impl<'s, P: AsRef<[u8]>> Sequencer<'s, P> {
    /// A session not seen yet, holding ahead-of-gap packets in `slots`.
    pub fn new(cfg: FeedConfig, slots: &'s mut [Option<Held<P>>]) -> Self {
        Self {
            cfg,
            session: [0; 10],
            started: false,
            expected: 0,
            horizon: 0,
            backfill_until: 0,
            end_seq: None,
            buf: Reorder::new(slots),
            gap: None,
            degraded_since: None,
            server: 0,
            counters: FeedCounters::default(),
            lines: [LineCounters::default(); 3],
            line_next: [0; 2],
            recent: [Arrived::default(); RECENT],
            recent_at: 0,
            skew_ns: None,
            last_recovery_ns: None,
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &FeedConfig {
        &self.cfg
    }

    /// The session name (all zero before the first packet).
    pub fn session(&self) -> &[u8; 10] {
        &self.session
    }

    /// Next sequence number to apply (0 before the first packet).
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// One past the highest sequence number known to exist.
    pub fn horizon(&self) -> u64 {
        self.horizon
    }

    /// Session counters.
    pub fn counters(&self) -> &FeedCounters {
        &self.counters
    }

    /// Per-line counters: A, B, recovery.
    pub fn line_counters(&self) -> &[LineCounters; 3] {
        &self.lines
    }

    /// Packets held in the reorder buffer.
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    /// Where the session stands.
    pub fn state(&self) -> FeedState {
        if !self.started {
            FeedState::Waiting
        } else if self.expected < self.backfill_until {
            FeedState::Backfilling
        } else if self.expected < self.horizon {
            FeedState::Recovering
        } else if self.degraded_since.is_some() {
            FeedState::Degraded
        } else {
            FeedState::Synchronized
        }
    }

    /// Whether the end of session was announced and everything before it
    /// applied or given up.
    pub fn ended(&self) -> bool {
        self.end_seq.is_some_and(|e| self.expected >= e)
    }

    /// The arrival skew (ns) measured by the last packet: the time since
    /// the other line delivered its first message. Taken once.
    pub fn take_skew(&mut self) -> Option<u64> {
        self.skew_ns.take()
    }

    /// How long (ns) the last gap that closed took, from opening to caught
    /// up. Taken once.
    pub fn take_recovery(&mut self) -> Option<u64> {
        self.last_recovery_ns.take()
    }

    /// A packet (MoldUDP64 bytes) arrived on `line` at `now_ns`. Messages
    /// next in sequence (and any held ones it unblocks) go to `d` now. The
    /// packet comes back unless it was held ([`Arrival::Held`]), so a caller
    /// can free it with the rest of its burst.
    pub fn on_packet(
        &mut self,
        now_ns: u64,
        line: Line,
        packet: P,
        d: &mut impl Deliver,
    ) -> (Arrival, Option<P>) {
        let (seq, count, raw_count) = {
            let Ok(view) = MoldPacket::new_checked(packet.as_ref()) else {
                self.counters.malformed += 1;
                return (Arrival::Ignored, Some(packet));
            };
            if self.started && view.session() != &self.session {
                self.counters.other_session += 1;
                return (Arrival::Ignored, Some(packet));
            }
            if !self.started {
                self.session = *view.session();
            }
            (view.sequence(), view.message_count(), view.count())
        };
        if !self.started {
            self.start(seq);
        }
        let msgs = u64::from(count);
        let end = seq.saturating_add(msgs);
        let li = line.index();
        self.lines[li].packets += 1;
        self.lines[li].messages += msgs;
        match raw_count {
            0 => self.counters.heartbeats += 1,
            COUNT_END_OF_SESSION => {
                self.counters.end_of_session += 1;
                self.end_seq = Some(self.end_seq.map_or(seq, |e| e.max(seq)));
            }
            _ => {}
        }
        if li < 2 {
            let next = &mut self.line_next[li];
            if *next != 0 && seq > *next {
                self.lines[li].gap_messages += seq - *next;
            }
            *next = (*next).max(end).max(seq);
            if self.cfg.lines > 1 && msgs > 0 {
                self.time_other_line(now_ns, li, seq, end);
            }
        }
        if let Some(g) = self.gap.as_mut() {
            g.packets = g.packets.saturating_add(1);
        }
        self.horizon = self.horizon.max(end).max(seq);

        if end <= self.expected && msgs > 0 {
            self.lines[li].duplicates += msgs;
            return (Arrival::Duplicate, Some(packet));
        }
        if seq <= self.expected {
            if msgs > 0 {
                self.apply(now_ns, line, seq, count, &packet, d);
                self.drain(now_ns, d);
            }
            self.after_progress(now_ns, line);
            return (Arrival::Applied, Some(packet));
        }
        // Ahead of the expected number: a gap.
        if self.gap.is_none() {
            self.open_gap(now_ns);
        }
        let can_wait = self.cfg.can_wait() && self.buf.capacity() > 0;
        if !can_wait {
            self.give_up(now_ns, seq, d);
            if msgs > 0 {
                self.apply(now_ns, line, seq, count, &packet, d);
            }
            self.after_progress(now_ns, line);
            return (Arrival::GapSkipped, Some(packet));
        }
        if msgs == 0 {
            // A heartbeat: the horizon says it all.
            return (Arrival::Announced, Some(packet));
        }
        if self.buf.covered_from(self.expected.max(seq)) >= end {
            self.lines[li].duplicates += msgs;
            return (Arrival::Duplicate, Some(packet));
        }
        let mut held = Held {
            seq,
            count,
            line,
            arrived_ns: now_ns,
            packet,
        };
        loop {
            match self.buf.insert(held) {
                Ok(()) => {
                    let n = self.buf.len() as u64;
                    if n > self.counters.buffer_high_water {
                        self.counters.buffer_high_water = n;
                    }
                    return (Arrival::Held, None);
                }
                Err(back) => held = back,
            }
            if self.expected < self.backfill_until {
                // Backfilling: live packets beyond the buffer are asked
                // for again once the history is in.
                self.lines[li].dropped += msgs;
                return (Arrival::Dropped, Some(held.packet));
            }
            // Full: give up the front hole (never past this packet).
            let stop = self.buf.front().map_or(held.seq, |f| f.seq.min(held.seq));
            self.counters.given_up_buffer_full += 1;
            self.give_up(now_ns, stop, d);
            self.drain(now_ns, d);
            if held.seq <= self.expected {
                let (s, c, l) = (held.seq, held.count, held.line);
                if held.seq.saturating_add(u64::from(c)) > self.expected {
                    self.apply(now_ns, l, s, c, &held.packet, d);
                    self.drain(now_ns, d);
                } else {
                    self.lines[li].duplicates += msgs;
                }
                self.after_progress(now_ns, line);
                return (Arrival::Applied, Some(held.packet));
            }
        }
    }

    /// Timers: the arbitration window, requests and their retries, giving
    /// up, the degraded state's clean period. `request` takes one request
    /// and says whether it could (false: counted, tried again later).
    pub fn poll(
        &mut self,
        now_ns: u64,
        d: &mut impl Deliver,
        request: &mut impl FnMut(Request) -> bool,
    ) {
        if let Some(since) = self.degraded_since {
            if self.gap.is_none() && now_ns.saturating_sub(since) >= self.cfg.clean_ns {
                self.degraded_since = None;
            }
        }
        if !self.started || self.expected >= self.horizon {
            return;
        }
        let backfilling = self.expected < self.backfill_until;
        let g = self.gap.get_or_insert(Gap::new(now_ns));
        if !g.arbitrated {
            let waiting = self.cfg.lines > 1
                && !backfilling
                && now_ns.saturating_sub(g.opened_ns) < self.cfg.arbitration_ns
                && g.packets < self.cfg.arbitration_packets;
            if waiting {
                return;
            }
            g.arbitrated = true;
            g.next_request_ns = now_ns;
        }
        if self.cfg.servers == 0 {
            self.give_up_front(now_ns, d);
            return;
        }
        if now_ns.saturating_sub(g.progress_ns) >= self.cfg.recovery_timeout_ns {
            self.give_up_front(now_ns, d);
            return;
        }
        if now_ns < g.next_request_ns {
            return;
        }
        let (server, max) = (self.server, self.cfg.max_request.max(1));
        let mut sent = 0u64;
        let mut refused = 0u64;
        let mut asked = 0u64;
        self.buf.holes(
            self.expected,
            self.horizon,
            |from, to| {
                // One request per hole (its first chunk): a server answers
                // one datagram, and the rest is asked for on progress.
                if from < to {
                    let count = (to - from).min(u64::from(max)) as u16;
                    let r = Request {
                        server,
                        seq: from,
                        count,
                    };
                    if request(r) {
                        sent += 1;
                        asked += u64::from(count);
                    } else {
                        refused += 1;
                    }
                }
            },
            REQUESTS_PER_POLL,
        );
        self.counters.requests += sent;
        self.counters.requested_messages += asked;
        self.counters.requests_refused += refused;
        let Some(g) = self.gap.as_mut() else { return };
        if sent > 0 {
            g.attempts += 1;
            g.retries = g.retries.saturating_add(1);
        }
        if g.attempts >= self.cfg.max_attempts.max(1) && self.cfg.servers > 1 {
            self.server = (self.server + 1) % self.cfg.servers;
            g.attempts = 0;
            self.counters.failovers += 1;
        }
        let backoff = self
            .cfg
            .request_timeout_ns
            .saturating_mul(1 << g.retries.saturating_sub(1).min(6));
        g.next_request_ns = now_ns.saturating_add(backoff.min(self.cfg.recovery_timeout_ns));
    }

    fn start(&mut self, seq: u64) {
        self.started = true;
        if seq > 1 && self.cfg.backfill && self.cfg.servers > 0 {
            self.expected = 1;
            self.backfill_until = seq;
        } else {
            self.expected = seq;
            self.counters.late_join_skipped = seq.saturating_sub(1);
        }
        self.horizon = self.expected;
    }

    fn open_gap(&mut self, now_ns: u64) {
        self.counters.gaps += 1;
        self.gap = Some(Gap::new(now_ns));
    }

    /// Applies `count` messages from `seq` of `packet`, skipping those
    /// below the expected number.
    fn apply(
        &mut self,
        _now_ns: u64,
        line: Line,
        seq: u64,
        count: u16,
        packet: &P,
        d: &mut impl Deliver,
    ) {
        let skip = self.expected.saturating_sub(seq).min(u64::from(count));
        let new = u64::from(count) - skip;
        let l = &mut self.lines[line.index()];
        l.duplicates += skip;
        l.won += new;
        self.counters.applied += new;
        self.expected = seq.saturating_add(u64::from(count));
        d.deliver(packet.as_ref(), skip as u16);
    }

    /// Applies held packets that are now next in sequence.
    fn drain(&mut self, now_ns: u64, d: &mut impl Deliver) {
        while let Some(front) = self.buf.front() {
            if front.seq > self.expected {
                break;
            }
            let Some(h) = self.buf.pop_front() else { break };
            if h.end() > self.expected {
                self.apply(now_ns, h.line, h.seq, h.count, &h.packet, d);
            } else {
                self.lines[h.line.index()].duplicates += u64::from(h.count);
            }
        }
    }

    /// Counts `[expected, stop)` lost and moves past it.
    fn give_up(&mut self, now_ns: u64, stop: u64, d: &mut impl Deliver) {
        if stop <= self.expected {
            return;
        }
        let n = stop - self.expected;
        d.lost(self.expected, n);
        self.counters.lost += n;
        self.counters.gaps_given_up += 1;
        self.expected = stop;
        self.degraded_since = Some(now_ns);
        if let Some(g) = self.gap.as_mut() {
            g.lost = true;
        }
    }

    /// Gives up the lowest hole, applies what it unblocks, and restarts the
    /// gap's timers for what remains.
    fn give_up_front(&mut self, now_ns: u64, d: &mut impl Deliver) {
        let stop = self
            .buf
            .front()
            .map_or(self.horizon, |f| f.seq.min(self.horizon));
        self.give_up(now_ns, stop, d);
        self.drain(now_ns, d);
        if self.expected < self.horizon {
            if let Some(g) = self.gap.as_mut() {
                let (lost, since) = (g.lost, g.since_ns);
                *g = Gap::new(now_ns);
                g.lost = lost;
                g.since_ns = since;
            }
        } else {
            self.close_gap(now_ns);
        }
    }

    /// After the expected number moved: closes the gap when caught up, or
    /// asks for the rest at once when a server's answer made progress.
    fn after_progress(&mut self, now_ns: u64, line: Line) {
        if self.expected >= self.horizon {
            self.close_gap(now_ns);
            return;
        }
        let front_seen = self.buf.front().map_or(now_ns, |f| f.arrived_ns);
        if let Some(g) = self.gap.as_mut() {
            g.progress_ns = now_ns;
            if !g.arbitrated {
                // The next hole gets its own window, from when the packet
                // after it arrived.
                g.opened_ns = front_seen;
                g.packets = 0;
            }
            if line == Line::Recovery {
                // The server answers: ask for the rest now, and a lost
                // answer later is retried after the first timeout again,
                // not a backoff grown over hundreds of partial answers.
                g.next_request_ns = now_ns;
                g.attempts = 0;
                g.retries = 0;
            }
        }
    }

    fn close_gap(&mut self, now_ns: u64) {
        if let Some(g) = self.gap.take() {
            if !g.lost {
                self.counters.gaps_filled += 1;
            }
            self.last_recovery_ns = Some(now_ns.saturating_sub(g.since_ns));
        }
    }

    /// Skew between the lines: a packet on line `li` carrying `seq` that
    /// the other line delivered first.
    fn time_other_line(&mut self, now_ns: u64, li: usize, seq: u64, end: u64) {
        let line = li as u8;
        for a in self.recent.iter_mut() {
            if a.line != line && a.end > a.seq && seq >= a.seq && seq < a.end {
                self.skew_ns = Some(now_ns.saturating_sub(a.at_ns));
                a.end = a.seq; // once per recorded arrival
                return;
            }
        }
        if end > self.horizon {
            let slot = &mut self.recent[self.recent_at % RECENT];
            *slot = Arrived {
                seq,
                end,
                at_ns: now_ns,
                line,
            };
            self.recent_at = self.recent_at.wrapping_add(1);
        }
    }
}

impl Gap {
    fn new(now_ns: u64) -> Self {
        Self {
            since_ns: now_ns,
            opened_ns: now_ns,
            progress_ns: now_ns,
            packets: 0,
            arbitrated: false,
            next_request_ns: now_ns,
            attempts: 0,
            retries: 0,
            lost: false,
        }
    }
}
