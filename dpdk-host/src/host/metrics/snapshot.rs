//! What a worker publishes at its housekeeping tick, and the single-writer
//! slot (a seqlock) the main lcore, the HTTP thread and DPDK's telemetry
//! thread read it from without locks.

use std::cell::UnsafeCell;
use std::sync::atomic::{fence, AtomicU64, Ordering};

use hdrhistogram::Histogram;
use tickwire_core::engine::Counters;
use tickwire_core::feed::{FeedCounters, FeedState, LineCounters};

use super::super::feed::MAX_FEED_SESSIONS;
use super::super::tx::TxCounters;

/// Upper bounds of the latency histograms' buckets, in seconds (the
/// Prometheus `le` values; `+Inf` is implied).
pub const BUCKETS_S: [f64; 18] = [
    1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2,
    0.1, 0.25, 1.0,
];
/// Buckets, `+Inf` excluded.
pub const NB: usize = BUCKETS_S.len();

/// A histogram's buckets (not cumulative; the last one is `+Inf`), count and
/// sum, in TSC cycles.
#[derive(Debug, Clone, Copy, Default)]
pub struct HistSnap {
    /// Samples per bucket, `le` [`BUCKETS_S`] then `+Inf`.
    pub buckets: [u64; NB + 1],
    /// Samples.
    pub count: u64,
    /// Sum of the samples (each at its HdrHistogram bucket's highest
    /// equivalent value), cycles.
    pub sum_cycles: u64,
}

impl HistSnap {
    /// Recomputes from `h` when it has new samples (a walk of its recorded
    /// buckets: housekeeping time only).
    pub fn update(&mut self, h: &Histogram<u64>, bounds_cycles: &[u64; NB]) {
        if h.len() == self.count {
            return;
        }
        let mut b = [0u64; NB + 1];
        let mut sum = 0u64;
        for v in h.iter_recorded() {
            let x = h.highest_equivalent(v.value_iterated_to());
            let n = v.count_at_value();
            let i = bounds_cycles.partition_point(|&u| u < x);
            b[i] += n;
            sum = sum.saturating_add(x.saturating_mul(n));
        }
        self.buckets = b;
        self.count = h.len();
        self.sum_cycles = sum;
    }
}

/// [`BUCKETS_S`] in TSC cycles.
pub fn bounds_cycles(tsc_hz: u64) -> [u64; NB] {
    BUCKETS_S.map(|s| (s * tsc_hz as f64) as u64)
}

/// One feed session (lines mode). Plain integers only: a torn read of the
/// slot is thrown away, and must never be an invalid value.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionSnap {
    /// MoldUDP64 session, space padded.
    pub name: [u8; 10],
    /// [`FeedState`] as [`state_code`].
    pub state: u8,
    /// Ended (end of session with nothing missing before it): 0 or 1.
    pub ended: u8,
    /// Next sequence number expected.
    pub next_sequence: u64,
    /// Packets held in the reorder buffer.
    pub held: u64,
    /// Session counters.
    pub counters: FeedCounters,
    /// Per line: A, B, recovery.
    pub lines: [LineCounters; 3],
}

/// The feed states, in [`state_code`] order.
pub const FEED_STATES: [FeedState; 5] = [
    FeedState::Waiting,
    FeedState::Synchronized,
    FeedState::Recovering,
    FeedState::Backfilling,
    FeedState::Degraded,
];

/// A state's index in [`FEED_STATES`].
pub fn state_code(s: FeedState) -> u8 {
    FEED_STATES.iter().position(|&x| x == s).unwrap_or(0) as u8
}

/// A worker's live counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerSnap {
    /// TSC of the housekeeping tick that wrote this (0: never).
    pub tick_tsc: u64,
    /// 1 once the worker has left its loop.
    pub done: u8,
    /// 1 in lines mode (`feed` is meaningful).
    pub lines_mode: u8,
    /// Lcore.
    pub lcore: u32,
    /// RX queue.
    pub queue: u16,
    /// Frames received.
    pub rx_packets: u64,
    /// Non-empty RX bursts.
    pub rx_bursts: u64,
    /// Multi-segment frames.
    pub rx_multi_segment: u64,
    /// TSC of the last non-empty burst (0: none yet).
    pub last_rx_tsc: u64,
    /// Engine counters.
    pub counters: Counters,
    /// UDP FIX output counters.
    pub tx: TxCounters,
    /// Directory entries refused by a full record ring.
    pub directory_refused: u64,
    /// Snapshots not sent because the UDP output is off.
    pub udp_skipped: u64,
    /// Frames forwarded to the control plane.
    pub control_forwarded: u64,
    /// Frames for the control plane dropped on a full ring.
    pub control_ring_full: u64,
    /// Live orders.
    pub live_orders: u64,
    /// Burst arrival to tx_burst.
    pub latency: HistSnap,
    /// Handling of each non-empty burst.
    pub burst: HistSnap,
    /// Emission-boundary stall.
    pub stall: HistSnap,
    /// Lines mode: sessions in use.
    pub sessions: u8,
    /// Lines mode: the sessions.
    pub session: [SessionSnap; MAX_FEED_SESSIONS],
    /// Lines mode: MoldUDP64 frames on no line.
    pub not_a_line: u64,
    /// Lines mode: packets of sessions beyond the table.
    pub sessions_refused: u64,
    /// Lines mode: re-requests the control plane's channel refused.
    pub requests_refused: u64,
}

impl WorkerSnap {
    /// The sessions in use.
    pub fn sessions(&self) -> &[SessionSnap] {
        &self.session[..usize::from(self.sessions).min(MAX_FEED_SESSIONS)]
    }
}

/// One worker's slot: a sequence lock over a [`WorkerSnap`]. One writer
/// (the worker), any number of readers; nobody waits on a lock.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct Slot {
    seq: AtomicU64,
    data: UnsafeCell<WorkerSnap>,
}

// SAFETY: `data` is written only by the slot's single writer (one worker,
// `publish`), bracketed by odd/even sequence numbers; readers copy it with a
// volatile read and keep the copy only if the sequence number was even and
// unchanged around it. `WorkerSnap` is plain integers (every bit pattern is
// valid), so a torn copy is a valid value that is thrown away.
unsafe impl Sync for Slot {}

impl Slot {
    /// Publishes `s`.
    ///
    /// # Safety
    ///
    /// Only one thread may ever call this on a slot (the single writer the
    /// sequence lock assumes); concurrent calls would race on `data`.
    pub unsafe fn publish(&self, s: &WorkerSnap) {
        let q = self.seq.load(Ordering::Relaxed);
        self.seq.store(q.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        // SAFETY: the single writer (see the Sync impl); readers that overlap
        // see an odd or changed sequence number and retry.
        unsafe { std::ptr::write_volatile(self.data.get(), *s) };
        self.seq.store(q.wrapping_add(2), Ordering::Release);
    }

    /// A consistent copy of the last published snapshot.
    pub fn read(&self) -> WorkerSnap {
        loop {
            let a = self.seq.load(Ordering::Acquire);
            if a & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            // SAFETY: a copy of plain integers (any bit pattern is valid);
            // kept only if no write overlapped it (checked below).
            let v = unsafe { std::ptr::read_volatile(self.data.get()) };
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == a {
                return v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqlock_copies_are_consistent() {
        let slot = Slot::default();
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut w = WorkerSnap::default();
                for i in 1..=200_000u64 {
                    w.rx_packets = i;
                    w.rx_bursts = i;
                    w.counters.messages_applied = i;
                    // SAFETY: this thread is the slot's only writer.
                    unsafe { slot.publish(&w) };
                }
            });
            let mut last = 0;
            while last < 200_000 {
                let r = slot.read();
                assert_eq!(r.rx_packets, r.rx_bursts);
                assert_eq!(r.rx_packets, r.counters.messages_applied);
                assert!(r.rx_packets >= last);
                last = r.rx_packets;
            }
        });
    }

    #[test]
    fn histogram_buckets() {
        let hz = 1_000_000_000; // 1 cycle = 1 ns
        let mut h = Histogram::<u64>::new_with_bounds(1, hz * 10, 3).unwrap();
        h.record(500).unwrap(); // 0.5 us
        h.record(3_000).unwrap(); // 3 us
        h.record(2_000_000_000).unwrap(); // 2 s
        let mut s = HistSnap::default();
        s.update(&h, &bounds_cycles(hz));
        assert_eq!(s.count, 3);
        assert_eq!(s.buckets[0], 1);
        assert_eq!(s.buckets[2], 1);
        assert_eq!(s.buckets[NB], 1);
        assert!(s.sum_cycles >= 2_000_003_500);
    }
}
