//! smoltcp's `phy::Device` over DPDK mbufs.
//!
//! Received frames are the mbufs themselves (from the workers' forwarding
//! ring, or from an RX queue of a separate control port): the RX token lends
//! smoltcp the mbuf's bytes and frees it afterwards, so nothing is copied on
//! the way in. The TX token allocates an mbuf, lets smoltcp write the frame
//! straight into its tailroom and sends it on the control plane's own TX
//! queue; a frame that cannot be sent is freed and counted.

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::dpdk::{Mbuf, MbufBurst, Mempool, RingConsumer, RxQueue, TxQueue};

/// Frames pulled from the source at a time.
const RX_BURST: usize = 32;

/// Where received control frames come from: the feed workers' forwarding
/// ring (control plane on the feed port) and/or RX queues it polls itself (a
/// port of its own; or queues a device forced on the feed port, see
/// `host::configure_port`).
pub struct RxSource<'q, 'e> {
    ring: Option<RingConsumer<'q, 'e>>,
    queues: Vec<RxQueue<'q, 'e>>,
    next_queue: usize,
}

impl<'q, 'e> RxSource<'q, 'e> {
    /// Frames from the workers' ring.
    pub fn ring(consumer: RingConsumer<'q, 'e>) -> Self {
        RxSource {
            ring: Some(consumer),
            queues: Vec::new(),
            next_queue: 0,
        }
    }

    /// Frames from an RX queue.
    pub fn queue(queue: RxQueue<'q, 'e>) -> Self {
        RxSource {
            ring: None,
            queues: vec![queue],
            next_queue: 0,
        }
    }

    /// Polls `queue` too.
    pub fn and_queue(mut self, queue: RxQueue<'q, 'e>) -> Self {
        self.queues.push(queue);
        self
    }

    /// Fills `burst` from the ring first, else from the next queue in turn.
    fn fill<const N: usize>(&mut self, burst: &mut MbufBurst<'e, N>) {
        if let Some(c) = self.ring.as_mut() {
            if c.dequeue_burst(burst) > 0 {
                return;
            }
        }
        for _ in 0..self.queues.len() {
            let i = self.next_queue % self.queues.len();
            self.next_queue = i + 1;
            if self.queues[i].rx_burst(burst) > 0 {
                return;
            }
        }
    }
}

/// What went through the device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceCounters {
    /// Frames handed to smoltcp.
    pub rx_frames: u64,
    /// Of which ARP.
    pub rx_arp: u64,
    /// Of which IPv4 ICMP.
    pub rx_icmp: u64,
    /// Of which IPv4 TCP.
    pub rx_tcp: u64,
    /// Of which IPv4 IGMP (queries, other hosts' reports).
    pub rx_igmp: u64,
    /// Frames the TX queue accepted.
    pub tx_frames: u64,
    /// Of which IGMP membership reports (v1 or v2).
    pub tx_igmp_reports: u64,
    /// Of which IGMPv2 Leave Group messages.
    pub tx_igmp_leaves: u64,
    /// Of which IPv4 UDP datagrams.
    pub tx_udp: u64,
    /// Frames smoltcp wanted to send that did not go: no mbuf, too long for
    /// one, or refused by the TX queue (freed).
    pub tx_failures: u64,
}

/// What a sent frame is, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxKind {
    IgmpReport,
    IgmpLeave,
    Udp,
    Other,
}

impl TxKind {
    /// Classifies an Ethernet frame as smoltcp wrote it (untagged IPv4).
    fn of(frame: &[u8]) -> TxKind {
        if frame.get(12..14) != Some(&[0x08, 0x00]) {
            return TxKind::Other;
        }
        let ihl = frame.get(14).map_or(0, |b| usize::from(b & 0x0f) * 4);
        match frame.get(23) {
            Some(17) => TxKind::Udp,
            // IGMP type: 0x12 v1 report, 0x16 v2 report, 0x17 leave.
            Some(2) => match frame.get(14 + ihl) {
                Some(0x12 | 0x16) => TxKind::IgmpReport,
                Some(0x17) => TxKind::IgmpLeave,
                _ => TxKind::Other,
            },
            _ => TxKind::Other,
        }
    }
}

/// The TX half, lent to TX tokens.
struct TxPath<'q, 'e> {
    txq: TxQueue<'q, 'e>,
    pool: Mempool<'e>,
    /// Where smoltcp writes a frame that has no mbuf to go into (the token
    /// must call its closure either way); the frame is then dropped.
    scratch: Vec<u8>,
    tx_frames: u64,
    tx_failures: u64,
    tx_igmp_reports: u64,
    tx_igmp_leaves: u64,
    tx_udp: u64,
}

/// A `phy::Device` over an RX source, a TX queue and a mempool.
pub struct MbufDevice<'q, 'e> {
    rx: RxSource<'q, 'e>,
    pending: MbufBurst<'e, RX_BURST>,
    tx: TxPath<'q, 'e>,
    mtu: usize,
    counters: DeviceCounters,
}

impl<'q, 'e> MbufDevice<'q, 'e> {
    /// A device receiving from `rx`, sending on `txq` with mbufs from `pool`;
    /// `mtu` is the largest Ethernet frame (header included, no FCS).
    pub fn new(rx: RxSource<'q, 'e>, txq: TxQueue<'q, 'e>, pool: Mempool<'e>, mtu: usize) -> Self {
        MbufDevice {
            rx,
            pending: MbufBurst::new(),
            tx: TxPath {
                txq,
                pool,
                scratch: Vec::new(),
                tx_frames: 0,
                tx_failures: 0,
                tx_igmp_reports: 0,
                tx_igmp_leaves: 0,
                tx_udp: 0,
            },
            mtu,
            counters: DeviceCounters::default(),
        }
    }

    /// The counters so far.
    pub fn counters(&self) -> DeviceCounters {
        DeviceCounters {
            tx_frames: self.tx.tx_frames,
            tx_failures: self.tx.tx_failures,
            tx_igmp_reports: self.tx.tx_igmp_reports,
            tx_igmp_leaves: self.tx.tx_igmp_leaves,
            tx_udp: self.tx.tx_udp,
            ..self.counters
        }
    }

    fn next_frame(&mut self) -> Option<Mbuf<'e>> {
        if self.pending.is_empty() {
            self.rx.fill(&mut self.pending);
        }
        // Front first: keep arrival order (TCP segments, ARP before IP).
        let m = self.pending.remove(0)?;
        self.count_rx(m.data());
        Some(m)
    }

    fn count_rx(&mut self, frame: &[u8]) {
        let c = &mut self.counters;
        c.rx_frames += 1;
        match frame.get(12..14) {
            Some([0x08, 0x06]) => c.rx_arp += 1,
            Some([0x08, 0x00]) => match frame.get(23) {
                Some(1) => c.rx_icmp += 1,
                Some(6) => c.rx_tcp += 1,
                Some(2) => c.rx_igmp += 1,
                _ => {}
            },
            _ => {}
        }
    }
}

impl<'q, 'e> phy::Device for MbufDevice<'q, 'e> {
    type RxToken<'a>
        = MbufRxToken<'e>
    where
        Self: 'a;
    type TxToken<'a>
        = MbufTxToken<'a, 'q, 'e>
    where
        Self: 'a;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let mbuf = self.next_frame()?;
        Some((MbufRxToken { mbuf }, MbufTxToken { tx: &mut self.tx }))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Self::TxToken<'_>> {
        Some(MbufTxToken { tx: &mut self.tx })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.mtu;
        // One frame per tx_burst call; smoltcp need not hold back.
        caps.max_burst_size = None;
        caps
    }
}

/// One received frame: the mbuf, freed once smoltcp has read it.
pub struct MbufRxToken<'e> {
    mbuf: Mbuf<'e>,
}

impl phy::RxToken for MbufRxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        // Only the first segment: control frames are far below the data room.
        f(self.mbuf.data())
    }
}

/// The right to send one frame on the control TX queue.
pub struct MbufTxToken<'a, 'q, 'e> {
    tx: &'a mut TxPath<'q, 'e>,
}

impl TxPath<'_, '_> {
    /// Builds a frame of `len` bytes with `fill` in a fresh mbuf and sends
    /// it; on any failure `fill` still runs (on scratch) and the frame is
    /// counted and dropped.
    fn send<R>(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> R) -> R {
        let Some(mut m) = self.pool.alloc() else {
            self.tx_failures += 1;
            return self.fill_scratch(len, fill);
        };
        let tail = m.tailroom_mut();
        if tail.len() < len {
            self.tx_failures += 1;
            return self.fill_scratch(len, fill);
        }
        let out = fill(&mut tail[..len]);
        let kind = TxKind::of(&tail[..len]);
        // `len` fits the tailroom, which is below 64 KiB.
        if !m.commit_tail(len as u16) {
            self.tx_failures += 1;
            return out;
        }
        match self.txq.tx_one(m) {
            Ok(()) => {
                self.tx_frames += 1;
                match kind {
                    TxKind::IgmpReport => self.tx_igmp_reports += 1,
                    TxKind::IgmpLeave => self.tx_igmp_leaves += 1,
                    TxKind::Udp => self.tx_udp += 1,
                    TxKind::Other => {}
                }
            }
            Err(_refused) => self.tx_failures += 1, // dropping it frees it
        }
        out
    }

    fn fill_scratch<R>(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> R) -> R {
        self.scratch.resize(len, 0);
        fill(&mut self.scratch[..len])
    }
}

impl phy::TxToken for MbufTxToken<'_, '_, '_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        self.tx.send(len, f)
    }
}
