//! The path from the feed workers to the control plane when both share a
//! port: workers move every frame that is not MoldUDP64 for the feed (ARP,
//! ICMP, TCP, IGMP, other UDP) into a ring, as the mbuf itself.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::dpdk::{self, Eal, MbufBurst, Producers, Ring, RingProducer};

/// Slots in the forwarding ring: room for bursts of ARP/TCP while the main
/// lcore is busy elsewhere, small enough not to tie up many RX mbufs.
pub const RING_SIZE: u32 = 1024;

/// The ring plus the totals the workers add to when they forward (cold path
/// only: a MoldUDP64 frame never touches them).
#[derive(Debug)]
pub struct ForwardRing<'e> {
    ring: Ring<'e>,
    forwarded: AtomicU64,
    ring_full: AtomicU64,
}

impl<'e> ForwardRing<'e> {
    /// A ring for `workers` producers on NUMA `socket`.
    pub fn new(eal: &'e Eal, workers: usize, socket: Option<u32>) -> dpdk::Result<Self> {
        let producers = if workers > 1 {
            Producers::Multi
        } else {
            Producers::Single
        };
        Ok(ForwardRing {
            ring: Ring::new(eal, "tw_ctl_ring", RING_SIZE, socket, producers)?,
            forwarded: AtomicU64::new(0),
            ring_full: AtomicU64::new(0),
        })
    }

    /// The ring, for the consumer handle.
    pub fn ring(&self) -> &Ring<'e> {
        &self.ring
    }

    /// A worker's end.
    pub fn forwarder(&self) -> dpdk::Result<Forwarder<'_, 'e>> {
        Ok(Forwarder {
            producer: self.ring.producer()?,
            shared: self,
            forwarded: 0,
            ring_full: 0,
        })
    }

    /// Frames moved into the ring so far, by all workers.
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Relaxed)
    }

    /// Frames dropped (freed) because the ring was full, by all workers.
    pub fn ring_full(&self) -> u64 {
        self.ring_full.load(Relaxed)
    }
}

/// One worker's producer end, with its own counts.
pub struct Forwarder<'r, 'e> {
    producer: RingProducer<'r, 'e>,
    shared: &'r ForwardRing<'e>,
    /// Frames this worker moved into the ring.
    pub forwarded: u64,
    /// Frames this worker dropped because the ring was full.
    pub ring_full: u64,
}

impl<'e> Forwarder<'_, 'e> {
    /// Takes the mbufs whose bit is set in `mask` (bit i = index i) out of
    /// `burst`, in order, and enqueues them; what does not fit is freed and
    /// counted. Never blocks.
    #[cold]
    pub fn forward<const N: usize>(&mut self, burst: &mut MbufBurst<'e, N>, mut mask: u64) {
        let mut out: MbufBurst<'e, N> = MbufBurst::new();
        let mut removed = 0;
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            if let Some(m) = burst.remove(i - removed) {
                removed += 1;
                // `out` has the capacity of `burst`.
                let _ = out.push(m);
            }
        }
        let n = out.len() as u64;
        let sent = self.producer.enqueue_burst(&mut out) as u64;
        out.clear(); // the ring was full for these
        self.forwarded += sent;
        self.ring_full += n - sent;
        self.shared.forwarded.fetch_add(sent, Relaxed);
        if n != sent {
            self.shared.ring_full.fetch_add(n - sent, Relaxed);
        }
    }
}
