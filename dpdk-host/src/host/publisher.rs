//! The FIX publisher on the main lcore: book records from every worker's
//! ring, sessions over the control plane's TCP sockets (smoltcp), the same
//! core session and market-data code as the replayer's.

use std::sync::atomic::{
    AtomicBool,
    Ordering::{Acquire, Release},
};

use tickwire::nats::BridgeTx;
use tickwire::publish::{Closed, Publisher, PublisherCounters, Transport};
use tickwire_core::engine::BookRecord;

use super::record_ring::{Consumer, SlotKind};
use crate::control::{ConnId, ControlPlane};

impl Transport for ControlPlane<'_, '_> {
    type Conn = ConnId;

    fn recv(&mut self, c: ConnId, buf: &mut [u8]) -> Result<usize, Closed> {
        ControlPlane::recv(self, c, buf).map_err(|_| Closed)
    }

    fn send(&mut self, c: ConnId, data: &[u8]) -> Result<usize, Closed> {
        ControlPlane::send(self, c, data).map_err(|_| Closed)
    }

    fn send_capacity(&self, c: ConnId) -> usize {
        ControlPlane::send_capacity(self, c)
    }

    fn close(&mut self, c: ConnId) {
        ControlPlane::close(self, c);
    }

    fn abort(&mut self, c: ConnId) {
        ControlPlane::abort(self, c);
    }
}

/// Records drained per ring per turn, so that sessions are served between
/// large boundaries.
const DRAIN_PER_TURN: usize = 4096;

/// `--wait-for-subscription` between the workers and the publisher.
#[derive(Debug, Default)]
pub struct FeedHold {
    /// Set by the publisher once a MarketDataRequest has been answered.
    pub released: AtomicBool,
    /// Set by a worker when it reaches the first order-book message: every
    /// directory entry before it is in the ring by then.
    pub reached: AtomicBool,
}

/// What the main lcore's loop calls every turn.
pub struct HostPublisher<'s, 'r> {
    publisher: Publisher<'s, ConnId>,
    consumers: Vec<Consumer<'r>>,
    hold: Option<&'r FeedHold>,
    wall_base_ns: u64,
    tsc_base: u64,
    tsc_hz: u64,
    /// How long a session that cannot take its snapshots holds up the next
    /// boundary for the others; past it, it is conflated on its own.
    grace_ns: u64,
    /// The NATS bridge, offered every record the sessions take.
    bridge: Option<&'r mut BridgeTx>,
    /// Records taken off the rings.
    pub drained: u64,
}

impl<'s, 'r> HostPublisher<'s, 'r> {
    /// A publisher fed by `consumers` (one per worker). With `hold`
    /// (--wait-for-subscription), client input waits until the feed has
    /// reached its hold point (so every symbol is known), and the feed is
    /// released once a MarketDataRequest has been answered. With `bridge`,
    /// every record also goes to NATS.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        publisher: Publisher<'s, ConnId>,
        consumers: Vec<Consumer<'r>>,
        hold: Option<&'r FeedHold>,
        wall_base_ns: u64,
        tsc_base: u64,
        tsc_hz: u64,
        grace_ns: u64,
        bridge: Option<&'r mut BridgeTx>,
    ) -> Self {
        Self {
            publisher,
            consumers,
            hold,
            wall_base_ns,
            tsc_base,
            tsc_hz,
            grace_ns,
            bridge,
            drained: 0,
        }
    }

    /// Counters.
    pub fn counters(&self) -> PublisherCounters {
        self.publisher.counters()
    }

    /// One turn: new connections, records in, sessions served.
    pub fn turn(&mut self, cp: &mut ControlPlane<'_, '_>, now_tsc: u64) {
        let now_ns = self.wall_base_ns
            + (u128::from(now_tsc.wrapping_sub(self.tsc_base)) * 1_000_000_000
                / u128::from(self.tsc_hz.max(1))) as u64;
        let accepted: Vec<ConnId> = cp.accepted().collect();
        for c in accepted {
            self.publisher.accept(cp, c, now_ns);
        }
        // Read before draining: every directory entry published before the
        // feed reached its hold is then drained before requests are read.
        let serve = self
            .hold
            .is_none_or(|h| h.reached.load(Acquire) || h.released.load(Acquire));
        // Serve first: what earlier boundaries left pending goes into the
        // room the TCP stack made since the last turn.
        if serve {
            self.publisher.poll(cp, now_ns);
        }
        let publisher = &mut self.publisher;
        let grace_ns = self.grace_ns;
        let mut bridge = self.bridge.as_deref_mut();
        for cons in &mut self.consumers {
            self.drained += cons.drain_until(DRAIN_PER_TURN, |slot| match slot.kind {
                SlotKind::Record => {
                    // A new boundary waits (in the ring) until sessions that
                    // keep up have taken the previous one.
                    if publisher.last_boundary() != Some(slot.record.boundary_ns)
                        && !publisher.ready_for_boundary(now_ns, grace_ns)
                    {
                        return false;
                    }
                    publisher.on_record(cp, now_ns, &slot.record);
                    if let Some(b) = bridge.as_deref_mut() {
                        // Never waits: a full bridge drops and counts.
                        b.offer(&slot.record);
                    }
                    true
                }
                SlotKind::Directory => {
                    publisher.on_directory(slot.record.locate, &slot.record.symbol);
                    true
                }
            }) as u64;
        }
        if !serve {
            return;
        }
        // Requests that came in while the directory was still arriving.
        self.publisher.poll(cp, now_ns);
        if let Some(h) = self.hold {
            if self.publisher.request_answered() {
                h.released.store(true, Release);
            }
        }
    }
}

/// NATS without FIX sessions: records from every worker's ring straight to
/// the bridge (the main lcore's loop calls [`RecordPump::turn`]).
pub struct RecordPump<'r> {
    consumers: Vec<Consumer<'r>>,
    bridge: &'r mut BridgeTx,
    /// Records taken off the rings.
    pub drained: u64,
}

impl<'r> RecordPump<'r> {
    /// A pump from `consumers` (one per worker) into `bridge`.
    pub fn new(consumers: Vec<Consumer<'r>>, bridge: &'r mut BridgeTx) -> Self {
        Self {
            consumers,
            bridge,
            drained: 0,
        }
    }

    /// Moves what the rings hold (up to a bound per ring); true if it moved
    /// anything. Directory entries are not published: records carry their
    /// symbol.
    pub fn turn(&mut self) -> bool {
        self.drain(DRAIN_PER_TURN, |bridge, r| {
            bridge.offer(r);
        }) > 0
    }

    /// Once the workers are done: moves everything left, waiting for room
    /// in the bridge up to `patience` in all (then dropping, counted).
    pub fn finish(&mut self, patience: std::time::Duration) {
        let deadline = std::time::Instant::now() + patience;
        self.drain(usize::MAX, |bridge, r| {
            bridge.offer_until(r, deadline);
        });
    }

    /// Up to `max` slots per ring, each record handed to `offer`.
    fn drain(&mut self, max: usize, mut offer: impl FnMut(&mut BridgeTx, &BookRecord)) -> usize {
        let mut moved = 0;
        for cons in &mut self.consumers {
            let bridge = &mut *self.bridge;
            moved += cons.drain(max, |slot| {
                if slot.kind == SlotKind::Record {
                    offer(bridge, &slot.record);
                }
            });
        }
        self.drained += moved as u64;
        moved
    }
}
