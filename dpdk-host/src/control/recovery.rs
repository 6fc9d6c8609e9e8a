//! MoldUDP64 re-request descriptors and the channel that carries them from
//! a worker lcore to the control plane.
//!
//! The worker that sequences the feed decides it needs packets again and
//! must never wait: it writes a [`RecoveryRequest`] (the server and the
//! 20-byte request payload) into a bounded single-producer
//! single-consumer channel with [`RecoveryTx::try_send`], which returns the
//! request when the channel is full (counted as well). The control plane
//! drains its [`RecoveryRx`] ends on every poll and sends each request as
//! a UDP datagram (see `control::rerequest`).

use std::cell::UnsafeCell;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of a MoldUDP64 request: session (10), sequence number (u64 BE),
/// message count (u16 BE).
pub const REQUEST_LEN: usize = 20;

/// Default slots per channel.
pub const CHANNEL_SLOTS: usize = 256;

/// One re-request: where to send it and the exact UDP payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryRequest {
    /// The re-request server.
    pub server: SocketAddrV4,
    /// The MoldUDP64 request packet.
    pub payload: [u8; REQUEST_LEN],
}

impl RecoveryRequest {
    /// A request for `count` messages from `sequence` in `session`.
    pub fn new(server: SocketAddrV4, session: [u8; 10], sequence: u64, count: u16) -> Self {
        let mut payload = [0u8; REQUEST_LEN];
        payload[..10].copy_from_slice(&session);
        payload[10..18].copy_from_slice(&sequence.to_be_bytes());
        payload[18..].copy_from_slice(&count.to_be_bytes());
        RecoveryRequest { server, payload }
    }

    /// The session field.
    pub fn session(&self) -> [u8; 10] {
        let mut s = [0u8; 10];
        s.copy_from_slice(&self.payload[..10]);
        s
    }

    /// The first sequence number asked for.
    pub fn sequence(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.payload[10..18]);
        u64::from_be_bytes(b)
    }

    /// How many messages are asked for.
    pub fn count(&self) -> u16 {
        u16::from_be_bytes([self.payload[18], self.payload[19]])
    }
}

const EMPTY: RecoveryRequest = RecoveryRequest {
    server: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
    payload: [0; REQUEST_LEN],
};

/// Parses `ADDR:PORT,SESSION,SEQ,COUNT` (`--control-send-request`): SESSION
/// is up to 10 printable ASCII characters, padded with spaces on the right
/// as MoldUDP64 sessions are; SEQ a u64; COUNT a u16 from 1.
pub fn parse_request(s: &str) -> Result<RecoveryRequest, String> {
    let parts: Vec<&str> = s.split(',').collect();
    let [addr, session, seq, count] = parts[..] else {
        return Err(format!(
            "{s:?}: expected ADDR:PORT,SESSION,SEQ,COUNT, e.g. 10.0.0.1:26401,SESSION001,1000,5"
        ));
    };
    let server: SocketAddrV4 = addr
        .parse()
        .map_err(|_| format!("{s:?}: {addr:?} is not an IPv4:PORT"))?;
    if server.port() == 0 || server.ip().is_unspecified() || server.ip().is_broadcast() {
        return Err(format!(
            "{s:?}: {server} cannot be sent to (port 0, 0.0.0.0 or broadcast)"
        ));
    }
    if session.len() > 10 || !session.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(format!(
            "{s:?}: session {session:?} is not up to 10 printable ASCII characters"
        ));
    }
    let mut sess = [b' '; 10];
    sess[..session.len()].copy_from_slice(session.as_bytes());
    let seq: u64 = seq
        .parse()
        .map_err(|_| format!("{s:?}: sequence {seq:?} is not an unsigned 64-bit number"))?;
    let count: u16 = count
        .parse()
        .ok()
        .filter(|&c| c > 0)
        .ok_or_else(|| format!("{s:?}: count {count:?} is not a number from 1 to 65535"))?;
    Ok(RecoveryRequest::new(server, sess, seq, count))
}

/// An index on a cache line of its own.
#[repr(align(64))]
#[derive(Debug, Default)]
struct Index(AtomicUsize);

struct Channel {
    slots: Box<[UnsafeCell<RecoveryRequest>]>,
    mask: usize,
    /// Next slot the producer writes (only the producer stores it).
    head: Index,
    /// Next slot the consumer reads (only the consumer stores it).
    tail: Index,
    /// Requests refused because the channel was full.
    refused: AtomicU64,
}

// SAFETY: one producer and one consumer (`channel` makes one of each and
// neither is Clone); a slot is written only between the producer's Acquire
// load of `tail` (the consumer is done with it) and its Release store of
// `head`, and read only between the consumer's Acquire load of `head` and
// its Release store of `tail`, so no slot is accessed by both at once. The
// slots hold plain `Copy` data.
unsafe impl Sync for Channel {}

/// A channel of `capacity` slots (rounded up to a power of two, at least
/// 2): the worker's end and the control plane's.
pub fn channel(capacity: usize) -> (RecoveryTx, RecoveryRx) {
    let n = capacity.max(2).next_power_of_two();
    let ch = Arc::new(Channel {
        slots: (0..n).map(|_| UnsafeCell::new(EMPTY)).collect(),
        mask: n - 1,
        head: Index::default(),
        tail: Index::default(),
        refused: AtomicU64::new(0),
    });
    (
        RecoveryTx {
            ch: Arc::clone(&ch),
            head: 0,
            tail_cache: 0,
            refused: 0,
        },
        RecoveryRx {
            ch,
            tail: 0,
            head_cache: 0,
        },
    )
}

/// `n` channels of `capacity` slots: the producer ends in one list, the
/// consumer ends in the other, index for index.
pub fn channels(n: usize, capacity: usize) -> (Vec<RecoveryTx>, Vec<RecoveryRx>) {
    (0..n).map(|_| channel(capacity)).unzip()
}

/// The worker's end: never blocks.
pub struct RecoveryTx {
    ch: Arc<Channel>,
    head: usize,
    tail_cache: usize,
    refused: u64,
}

impl RecoveryTx {
    /// Queues `req` for the control plane; gives it back when the channel
    /// is full (also counted, see [`RecoveryTx::refused`]).
    #[inline]
    pub fn try_send(&mut self, req: RecoveryRequest) -> Result<(), RecoveryRequest> {
        let ch = &*self.ch;
        if self.head.wrapping_sub(self.tail_cache) > ch.mask {
            self.tail_cache = ch.tail.0.load(Ordering::Acquire);
            if self.head.wrapping_sub(self.tail_cache) > ch.mask {
                self.refused += 1;
                ch.refused.fetch_add(1, Ordering::Relaxed);
                return Err(req);
            }
        }
        let cell = &ch.slots[self.head & ch.mask];
        // SAFETY: the slot is at most `mask` past tail (Acquire load above),
        // so the consumer has finished with it and will not read it before
        // our Release store of head below; we are the only producer.
        unsafe { *cell.get() = req };
        self.head = self.head.wrapping_add(1);
        ch.head.0.store(self.head, Ordering::Release);
        Ok(())
    }

    /// Requests this end had refused (channel full).
    pub fn refused(&self) -> u64 {
        self.refused
    }
}

impl fmt::Debug for RecoveryTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryTx")
            .field("capacity", &(self.ch.mask + 1))
            .field("refused", &self.refused)
            .finish()
    }
}

/// The control plane's end.
pub struct RecoveryRx {
    ch: Arc<Channel>,
    tail: usize,
    head_cache: usize,
}

impl RecoveryRx {
    /// The oldest request waiting, if any.
    #[inline]
    pub fn try_recv(&mut self) -> Option<RecoveryRequest> {
        let ch = &*self.ch;
        if self.tail == self.head_cache {
            self.head_cache = ch.head.0.load(Ordering::Acquire);
            if self.tail == self.head_cache {
                return None;
            }
        }
        let cell = &ch.slots[self.tail & ch.mask];
        // SAFETY: the slot is below head (Acquire load above), so the
        // producer has finished writing it and will not write it again
        // before our Release store of tail below.
        let req = unsafe { *cell.get() };
        self.tail = self.tail.wrapping_add(1);
        ch.tail.0.store(self.tail, Ordering::Release);
        Some(req)
    }

    /// Requests the producer had refused because the channel was full.
    pub fn refused(&self) -> u64 {
        self.ch.refused.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for RecoveryRx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryRx")
            .field("capacity", &(self.ch.mask + 1))
            .field("refused", &self.refused())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(seq: u64) -> RecoveryRequest {
        RecoveryRequest::new("10.0.0.1:26400".parse().unwrap(), *b"SESSION001", seq, 3)
    }

    #[test]
    fn payload_layout() {
        let r = req(0x0102_0304_0506_0708);
        assert_eq!(&r.payload[..10], b"SESSION001");
        assert_eq!(&r.payload[10..18], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&r.payload[18..], &[0, 3]);
        assert_eq!((r.sequence(), r.count()), (0x0102_0304_0506_0708, 3));
        assert_eq!(&r.session(), b"SESSION001");
    }

    #[test]
    fn parsing() {
        let r = parse_request("10.77.1.1:26401,ABC,1000,5").unwrap();
        assert_eq!(r.server, "10.77.1.1:26401".parse().unwrap());
        assert_eq!(&r.session(), b"ABC       ");
        assert_eq!((r.sequence(), r.count()), (1000, 5));
        for (bad, why) in [
            ("10.77.1.1:26401,ABC,1000", "expected ADDR:PORT"),
            ("10.77.1.1,ABC,1,1", "not an IPv4:PORT"),
            ("10.77.1.1:0,ABC,1,1", "cannot be sent to"),
            ("10.77.1.1:1,ELEVENCHARS,1,1", "up to 10"),
            ("10.77.1.1:1,ABC,-1,1", "sequence"),
            ("10.77.1.1:1,ABC,1,0", "count"),
            ("10.77.1.1:1,ABC,1,65536", "count"),
        ] {
            let e = parse_request(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn bounded_fifo_gives_back_when_full() {
        let (mut tx, mut rx) = channel(3); // 4 slots
        for s in 0..4 {
            tx.try_send(req(s)).unwrap();
        }
        assert_eq!(tx.try_send(req(9)), Err(req(9)));
        assert_eq!((tx.refused(), rx.refused()), (1, 1));
        assert_eq!(rx.try_recv(), Some(req(0)));
        tx.try_send(req(4)).unwrap();
        for s in 1..5 {
            assert_eq!(rx.try_recv(), Some(req(s)));
        }
        assert_eq!(rx.try_recv(), None);
    }

    #[test]
    fn across_threads_in_order() {
        let (mut tx, mut rx) = channel(8);
        const N: u64 = 100_000;
        let t = std::thread::spawn(move || {
            let mut refused = 0;
            for s in 0..N {
                let mut r = req(s);
                while let Err(back) = tx.try_send(r) {
                    r = back;
                    refused += 1;
                    std::hint::spin_loop();
                }
            }
            refused
        });
        let mut next = 0;
        while next < N {
            if let Some(r) = rx.try_recv() {
                assert_eq!(r.sequence(), next);
                next += 1;
            }
        }
        let refused = t.join().unwrap();
        assert_eq!(rx.refused(), refused);
    }
}
