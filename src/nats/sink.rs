//! A snapshot sink that also hands the engine's book records to the NATS
//! bridge (the replayer's side: it waits for room, so a day loaded into a
//! stream loses nothing).

use tickwire_core::engine::{BookRecord, Snapshot, SnapshotSink};

use super::BridgeTx;

/// `inner` gets the snapshots (FIX); the bridge, if any, gets the records.
pub struct RecordTee<'a, S> {
    inner: &'a mut S,
    tx: Option<&'a mut BridgeTx>,
    depth: usize,
    record: BookRecord,
    /// Set if the bridge stopped (records after it are not published).
    pub error: Option<anyhow::Error>,
}

impl<'a, S: SnapshotSink> RecordTee<'a, S> {
    /// Records of `depth` levels per side go to `tx` (none without it).
    pub fn new(inner: &'a mut S, tx: Option<&'a mut BridgeTx>, depth: usize) -> Self {
        Self {
            inner,
            tx,
            depth,
            record: BookRecord::EMPTY,
            error: None,
        }
    }
}

impl<S: SnapshotSink> SnapshotSink for RecordTee<'_, S> {
    fn on_snapshot(&mut self, snapshot: &Snapshot<'_>) {
        self.inner.on_snapshot(snapshot);
    }

    fn wants_snapshots(&self) -> bool {
        self.inner.wants_snapshots()
    }

    fn record_depth(&self) -> usize {
        if self.tx.is_some() {
            self.depth
        } else {
            0
        }
    }

    fn on_record(&mut self, fill: impl FnOnce(&mut BookRecord)) -> bool {
        let Some(tx) = self.tx.as_mut() else {
            return false;
        };
        fill(&mut self.record);
        if self.error.is_none() {
            if let Err(e) = tx.send(&self.record) {
                self.error = Some(e);
            }
        }
        true
    }

    fn on_directory(&mut self, locate: u16, symbol: &[u8; 8]) {
        self.inner.on_directory(locate, symbol);
    }
}
