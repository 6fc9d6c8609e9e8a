//! What a worker's engine writes to: FIX datagrams (the UDP output) and/or
//! book records for the publisher, plus the stall clock of each boundary
//! (from its first output to the worker being back at RX).

use tickwire_core::engine::{BookRecord, Snapshot, SnapshotSink};

use super::record_ring::{Producer, SlotKind};
use super::tx::TxSink;
use crate::dpdk;

/// A worker's sink.
pub struct WorkerSink<'q, 'e, 'r> {
    /// UDP FIX output (always present: it owns the TX queue).
    pub tx: TxSink<'q, 'e>,
    /// Whether snapshots go out as UDP datagrams.
    pub udp: bool,
    /// Book records for the publisher (FIX sessions).
    pub records: Option<Producer<'r>>,
    /// Levels per side in each record.
    pub depth: usize,
    /// TSC of the first output of the frame being handled.
    pub stall_start: Option<u64>,
    /// Directory entries the full ring refused.
    pub directory_refused: u64,
    /// Snapshots not sent because the UDP output is off.
    pub udp_skipped: u64,
}

impl SnapshotSink for WorkerSink<'_, '_, '_> {
    #[inline]
    fn on_snapshot(&mut self, snapshot: &Snapshot<'_>) {
        if self.udp {
            self.stall_start.get_or_insert_with(dpdk::rdtsc);
            self.tx.on_snapshot(snapshot);
        } else {
            self.udp_skipped += 1;
        }
    }

    #[inline]
    fn record_depth(&self) -> usize {
        if self.records.is_some() {
            self.depth
        } else {
            0
        }
    }

    #[inline]
    fn on_record(&mut self, fill: impl FnOnce(&mut BookRecord)) -> bool {
        let Some(p) = self.records.as_mut() else {
            return false;
        };
        self.stall_start.get_or_insert_with(dpdk::rdtsc);
        p.push_with(|slot| {
            slot.kind = SlotKind::Record;
            fill(&mut slot.record);
        })
    }

    fn wants_snapshots(&self) -> bool {
        self.udp
    }

    fn on_directory(&mut self, locate: u16, symbol: &[u8; 8]) {
        let Some(p) = self.records.as_mut() else {
            return;
        };
        let taken = p.push_with(|slot| {
            slot.kind = SlotKind::Directory;
            slot.record.locate = locate;
            slot.record.symbol = *symbol;
            slot.record.symbol_len = 8;
        });
        if !taken {
            self.directory_refused += 1;
        }
    }
}
