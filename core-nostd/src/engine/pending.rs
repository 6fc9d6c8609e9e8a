//! Book records handed out lazily. A boundary only notes which locates owe
//! a record (those whose book changed, and those with executions in their
//! window); the records are written later, a few at a time
//! ([`Engine::emit_pending`], called by the poll loop between frames), so
//! that a boundary of thousands of symbols never stalls the book lcore for
//! long. A record still owed when a message is about to change its locate
//! is written first ([`Engine::settle`]), so every record shows its locate
//! exactly as it was at the boundary.

use super::{vwap_price4, Engine, Origin, SnapshotSink, LOCATES, RECORD_DEPTH};

/// Which locates owe a record of which boundary.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    bits: [u64; LOCATES / 64],
    any: bool,
    boundary_ns: u64,
    /// The last message applied before the boundary.
    origin: Origin,
    /// First word that may still hold a bit.
    cursor: usize,
}

impl Pending {
    pub(super) const EMPTY: Self = Self {
        bits: [0; LOCATES / 64],
        any: false,
        boundary_ns: 0,
        origin: Origin::NONE,
        cursor: 0,
    };
}

impl Engine<'_> {
    /// Whether records of the last boundary are still owed.
    #[inline]
    pub fn has_pending(&self) -> bool {
        self.pending.any
    }

    /// Writes up to `max` owed records to `sink`, in locate order; returns
    /// how many were written (refused ones included: they are counted and
    /// their locates go out at the next boundary).
    pub fn emit_pending<S: SnapshotSink>(&mut self, max: usize, sink: &mut S) -> usize {
        let mut done = 0;
        while self.pending.any && done < max {
            let Some(&word) = self.pending.bits.get(self.pending.cursor) else {
                self.pending.any = false;
                break;
            };
            if word == 0 {
                self.pending.cursor += 1;
                continue;
            }
            let bit = word.trailing_zeros() as usize;
            self.pending.bits[self.pending.cursor] &= !(1u64 << bit);
            self.emit_record(self.pending.cursor * 64 + bit, sink);
            done += 1;
        }
        done
    }

    /// Before a message changes `locate` (its book or its window): with a
    /// sink that takes records, writes the locate's owed record, if any, and
    /// marks it changed for the next boundary. Otherwise one predictable
    /// branch. (Marked before the change: a change then refused, say for a
    /// full table, costs one record that repeats the state.)
    #[inline(always)]
    pub(super) fn touch<S: SnapshotSink>(&mut self, locate: u16, sink: &mut S) {
        if self.records_mode {
            if self.pending.any {
                self.settle_cold(locate, sink);
            }
            let li = usize::from(locate);
            self.dirty[(li >> 6) & (LOCATES / 64 - 1)] |= 1 << (li & 63);
            self.dirty_any = true;
        }
    }

    #[cold]
    #[inline(never)]
    fn settle_cold<S: SnapshotSink>(&mut self, locate: u16, sink: &mut S) {
        let li = usize::from(locate);
        let (wi, bit) = (li >> 6, 1u64 << (li & 63));
        if let Some(w) = self.pending.bits.get_mut(wi) {
            if *w & bit != 0 {
                *w &= !bit;
                self.emit_record(li, sink);
            }
        }
    }

    /// A boundary: every locate that changed or has executions in its
    /// window owes a record of `b`.
    pub(super) fn open_pending(&mut self, b: u64) {
        let mut any = 0u64;
        for ((p, d), a) in self
            .pending
            .bits
            .iter_mut()
            .zip(self.dirty.iter_mut())
            .zip(self.active.iter())
        {
            *p = *a | core::mem::take(d);
            any |= *p;
        }
        self.dirty_any = false;
        self.pending.any = any != 0;
        self.pending.boundary_ns = b;
        // Called while the message that reached `b` begins: `now` and the
        // applied sequence are still the previous message's.
        self.pending.origin = Origin {
            session: self.applied_session,
            seq: self.applied_seq,
            event_ns: self.now,
        };
        self.pending.cursor = 0;
    }

    /// One record of the pending boundary for `li`; nothing about `li` has
    /// changed since (settle saw to that).
    fn emit_record<S: SnapshotSink>(&mut self, li: usize, sink: &mut S) {
        let b = self.pending.boundary_ns;
        let window_start = b.saturating_sub(self.geometry.window_ns);
        let n = self.geometry.buckets;
        let depth = sink.record_depth().min(RECORD_DEPTH);
        let Some(s) = self.symbols.get(li) else {
            return;
        };
        let (wi, bit) = (li >> 6, 1u64 << (li & 63));
        let mut window = None;
        if self.active.get(wi).is_some_and(|w| w & bit != 0) {
            if s.last_exec_ns < window_start {
                self.active[wi] &= !bit;
                self.active_count -= 1;
            } else if let Some(ring) = self.vwap.get(li * n..li * n + n) {
                match self.geometry.window_sum(ring, b) {
                    Some((notional, volume)) => {
                        window = vwap_price4(notional, volume).map(|v| (v, volume));
                    }
                    // The record goes out with its book, without a VWAP.
                    None => self.counters.snapshots_skipped_overflow += 1,
                }
            }
        }
        let bids = self.levels.levels(&s.bids);
        let asks = self.levels.levels(&s.asks);
        let origin = self.pending.origin;
        let stale = s.stale != 0;
        let taken = sink.on_record(|r| {
            r.fill(b, li as u16, s.symbol(), window, bids, asks, depth);
            r.origin = origin;
            r.stale = stale;
        });
        if taken {
            self.counters.records += 1;
        } else {
            self.counters.records_refused += 1;
            if let Some(d) = self.dirty.get_mut(wi) {
                *d |= bit;
                self.dirty_any = true;
            }
        }
    }
}
