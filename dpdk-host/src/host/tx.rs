//! FIX output: snapshots are encoded straight into TX mbufs behind
//! Ethernet/IPv4/UDP headers, as many whole messages per datagram as the MTU
//! allows, and handed to `tx_burst`. What the NIC does not take is freed and
//! counted, never freed twice.

use tickwire_core::engine::{Snapshot, SnapshotSink};
use tickwire_core::fix::{FixError, FixSession};
use tickwire_core::wire::ethernet::{EthernetRepr, ETHERTYPE_IPV4, HEADER_LEN as ETH_LEN};
use tickwire_core::wire::ipv4::{Ipv4Repr, MIN_HEADER_LEN as IP_LEN, PROTOCOL_UDP};
use tickwire_core::wire::udp::{UdpRepr, HEADER_LEN as UDP_LEN};

use crate::dpdk::{Mbuf, MbufBurst, Mempool, TxQueue};

/// Bytes of Ethernet, IPv4 and UDP header in front of the FIX payload.
pub const HEADERS_LEN: usize = ETH_LEN + IP_LEN + UDP_LEN;
/// Datagrams staged before a `tx_burst` is forced.
pub const TX_BURST: usize = 32;

/// Where FIX datagrams go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputAddress {
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// Source IPv4.
    pub src_ip: [u8; 4],
    /// Destination IPv4.
    pub dst_ip: [u8; 4],
    /// Source UDP port.
    pub src_port: u16,
    /// Destination UDP port.
    pub dst_port: u16,
    /// Most FIX bytes per datagram (IP MTU less IPv4 and UDP headers).
    pub max_payload: usize,
}

/// What happened to FIX output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxCounters {
    /// FIX messages in datagrams the TX queue accepted.
    pub fix_sent: u64,
    /// FIX messages lost: in datagrams the TX queue refused, or not encoded
    /// for want of an mbuf.
    pub fix_dropped: u64,
    /// Datagrams the TX queue accepted.
    pub datagrams_sent: u64,
    /// Datagrams the TX queue refused (freed).
    pub datagrams_dropped: u64,
    /// Mbuf allocations that failed.
    pub alloc_failures: u64,
    /// Snapshots whose FIX message alone exceeds the MTU (dropped).
    pub too_large: u64,
    /// FIX bytes encoded into datagrams.
    pub fix_bytes: u64,
}

/// The per-worker FIX sink.
pub struct TxSink<'q, 'e> {
    pool: Mempool<'e>,
    txq: TxQueue<'q, 'e>,
    session: FixSession,
    addr: OutputAddress,
    /// SendingTime for snapshots of the current burst (ns since the epoch).
    pub now_ns: u64,
    current: Option<Mbuf<'e>>,
    current_msgs: u32,
    staged: MbufBurst<'e, TX_BURST>,
    staged_msgs: [u32; TX_BURST],
    ip_ident: u16,
    /// Counters.
    pub counters: TxCounters,
}

impl<'q, 'e> TxSink<'q, 'e> {
    /// A sink sending through `txq`, allocating from `pool`.
    pub fn new(
        pool: Mempool<'e>,
        txq: TxQueue<'q, 'e>,
        session: FixSession,
        addr: OutputAddress,
    ) -> Self {
        Self {
            pool,
            txq,
            session,
            addr,
            now_ns: 0,
            current: None,
            current_msgs: 0,
            staged: MbufBurst::new(),
            staged_msgs: [0; TX_BURST],
            ip_ident: 0,
            counters: TxCounters::default(),
        }
    }

    /// Closes the datagram being filled and moves it to the staged burst.
    fn close_current(&mut self) {
        let Some(mut m) = self.current.take() else {
            return;
        };
        let msgs = std::mem::take(&mut self.current_msgs);
        if msgs == 0 {
            return; // dropping `m` frees it
        }
        let payload_len = m.data_len() - HEADERS_LEN;
        let a = self.addr;
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let h = m.data_mut();
        let ok = EthernetRepr {
            src: a.src_mac,
            dst: a.dst_mac,
            ethertype: ETHERTYPE_IPV4,
        }
        .emit(h)
        .is_some()
            && Ipv4Repr {
                src: a.src_ip,
                dst: a.dst_ip,
                protocol: PROTOCOL_UDP,
                payload_len: (UDP_LEN + payload_len) as u16,
                ttl: 64,
                ident: self.ip_ident,
            }
            .emit(&mut h[ETH_LEN..])
            .is_some()
            && UdpRepr {
                src_port: a.src_port,
                dst_port: a.dst_port,
                payload_len: payload_len as u16,
            }
            .emit(&mut h[ETH_LEN + IP_LEN..])
            .is_some();
        if !ok {
            // Cannot happen with HEADERS_LEN reserved; count rather than send garbage.
            self.counters.fix_dropped += u64::from(msgs);
            return;
        }
        if self.staged.spare() == 0 {
            self.transmit();
        }
        let i = self.staged.len();
        match self.staged.push(m) {
            Ok(()) => self.staged_msgs[i] = msgs,
            Err(_m) => self.counters.fix_dropped += u64::from(msgs),
        }
    }

    /// Hands staged datagrams to `tx_burst`; frees and counts what it refused.
    fn transmit(&mut self) {
        let n = self.staged.len();
        if n == 0 {
            return;
        }
        let sent = self.txq.tx_burst(&mut self.staged);
        for (i, &msgs) in self.staged_msgs[..n].iter().enumerate() {
            if i < sent {
                self.counters.fix_sent += u64::from(msgs);
            } else {
                self.counters.fix_dropped += u64::from(msgs);
            }
        }
        self.counters.datagrams_sent += sent as u64;
        self.counters.datagrams_dropped += (n - sent) as u64;
        // What is left in `staged` was not sent: one bulk free.
        self.staged.clear();
    }

    /// True when snapshots are waiting to be transmitted.
    #[inline]
    pub fn has_output(&self) -> bool {
        self.current_msgs > 0 || !self.staged.is_empty()
    }

    /// Closes the open datagram and transmits everything staged. Returns true
    /// when anything was handed to `tx_burst`.
    pub fn flush(&mut self) -> bool {
        self.close_current();
        let any = !self.staged.is_empty();
        self.transmit();
        any
    }

    /// The FIX session's next MsgSeqNum.
    pub fn next_seq(&self) -> u64 {
        self.session.next_seq()
    }

    fn open_datagram(&mut self) -> bool {
        let Some(mut m) = self.pool.alloc() else {
            self.counters.alloc_failures += 1;
            return false;
        };
        if !m.commit_tail(HEADERS_LEN as u16) {
            return false;
        }
        self.current = Some(m);
        true
    }
}

impl SnapshotSink for TxSink<'_, '_> {
    fn on_snapshot(&mut self, snap: &Snapshot<'_>) {
        // At most two tries: in the open datagram, then in a fresh one.
        for _ in 0..2 {
            if self.current.is_none() && !self.open_datagram() {
                self.counters.fix_dropped += 1;
                return;
            }
            let max_payload = self.addr.max_payload;
            let Some(m) = self.current.as_mut() else {
                return;
            };
            let used = m.data_len() - HEADERS_LEN;
            let room = max_payload.saturating_sub(used);
            let tail = m.tailroom_mut();
            let limit = room.min(tail.len());
            match self
                .session
                .encode_snapshot(snap, self.now_ns, &mut tail[..limit])
            {
                Ok(n) => {
                    if m.commit_tail(n as u16) {
                        self.current_msgs += 1;
                        self.counters.fix_bytes += n as u64;
                    } else {
                        self.counters.fix_dropped += 1;
                    }
                    return;
                }
                Err(FixError::BufferTooSmall) if self.current_msgs > 0 => self.close_current(),
                Err(_) => {
                    self.counters.too_large += 1;
                    self.counters.fix_dropped += 1;
                    return;
                }
            }
        }
    }
}

impl Drop for TxSink<'_, '_> {
    fn drop(&mut self) {
        // Whatever is still open or staged goes out (or is counted dropped).
        self.flush();
    }
}
