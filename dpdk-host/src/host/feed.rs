//! Lines mode on a worker: which line each MoldUDP64 frame came on, one
//! `tickwire_core::feed::Sequencer` per session holding the mbufs
//! themselves (zero-copy) while a gap is open, and re-requests handed to the
//! control plane through a channel that never blocks.

use std::net::{Ipv4Addr, SocketAddrV4};

use hdrhistogram::Histogram;
use tickwire_core::engine::{Engine, EngineDeliver, SnapshotSink};
use tickwire_core::feed::{Arrival, FeedConfig, Held, Line, Request, Sequencer};

use super::publisher::FeedHold;
use super::worker::{hold_packet, RX_BURST};
use crate::control::forward::Forwarder;
use crate::control::recovery::{RecoveryRequest, RecoveryTx};
use crate::dpdk::{self, Mbuf, MbufBurst};
use tickwire_core::wire::{classify_frame, Frame, MoldPacket};

/// Sessions one worker sequences (further ones are refused and counted).
pub const MAX_FEED_SESSIONS: usize = 4;

/// A held MoldUDP64 packet: the received mbuf and where, in its data, the
/// MoldUDP64 bytes are.
pub struct MoldMbuf<'e> {
    mbuf: Mbuf<'e>,
    off: u16,
    len: u16,
}

impl<'e> MoldMbuf<'e> {
    /// The mbuf, with its MoldUDP64 bytes at `off..off + len` of its data.
    pub fn new(mbuf: Mbuf<'e>, off: usize, len: usize) -> Self {
        Self {
            mbuf,
            off: off as u16,
            len: len as u16,
        }
    }

    /// The mbuf back (for the burst's bulk free).
    pub fn into_mbuf(self) -> Mbuf<'e> {
        self.mbuf
    }
}

impl AsRef<[u8]> for MoldMbuf<'_> {
    fn as_ref(&self) -> &[u8] {
        let (o, l) = (usize::from(self.off), usize::from(self.len));
        self.mbuf.data().get(o..o + l).unwrap_or(&[])
    }
}

/// Where the lines arrive.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineSelect {
    /// Line A's group and UDP port on the RX port (`None`: every MoldUDP64
    /// frame of the RX port that is not line B's or an answer).
    pub a: Option<([u8; 4], u16)>,
    /// Line B's group and UDP port on the RX port (`None` with
    /// `b_own_port`: line B has a port of its own; else no line B).
    pub b: Option<([u8; 4], u16)>,
    /// Line B arrives on its own port (its frames are B whatever their
    /// destination).
    pub b_own_port: bool,
    /// Our address: MoldUDP64 unicast to it is a re-request answer.
    pub our_ip: Option<[u8; 4]>,
}

impl LineSelect {
    /// The line of a MoldUDP64 frame, `None` when it is on no line.
    #[inline]
    pub fn line_of(&self, from_b_port: bool, dst_ip: [u8; 4], dst_port: u16) -> Option<Line> {
        if self.our_ip == Some(dst_ip) {
            return Some(Line::Recovery);
        }
        if from_b_port {
            return Some(Line::B);
        }
        if self.b == Some((dst_ip, dst_port)) {
            return Some(Line::B);
        }
        match self.a {
            None => Some(Line::A),
            Some(a) if a == (dst_ip, dst_port) => Some(Line::A),
            Some(_) => None,
        }
    }
}

/// What the worker needs for lines mode.
pub struct FeedSetup {
    /// Line selection.
    pub select: LineSelect,
    /// Arbitration and recovery.
    pub config: FeedConfig,
    /// Packets held per session.
    pub reorder_buffer: usize,
    /// Re-request servers, in failover order.
    pub servers: Vec<SocketAddrV4>,
    /// The channel to the control plane (None: no --rerequest).
    pub requests: Option<RecoveryTx>,
}

/// Reorder-buffer storage for every session, allocated before the loop.
pub type FeedSlots<'e> = Vec<Vec<Option<Held<MoldMbuf<'e>>>>>;

/// Allocates the reorder buffers (at setup, not in the loop).
pub fn feed_slots<'e>(per_session: usize) -> FeedSlots<'e> {
    (0..MAX_FEED_SESSIONS)
        .map(|_| (0..per_session).map(|_| None).collect())
        .collect()
}

/// The worker's feed: sequencers, counters, histograms.
pub struct FeedWorker<'s, 'e> {
    /// Line selection.
    pub select: LineSelect,
    config: FeedConfig,
    free: std::slice::IterMut<'s, Vec<Option<Held<MoldMbuf<'e>>>>>,
    seqs: Vec<Sequencer<'s, MoldMbuf<'e>>>,
    servers: Vec<SocketAddrV4>,
    requests: Option<RecoveryTx>,
    /// MoldUDP64 frames on no configured line (freed).
    pub not_a_line: u64,
    /// Packets of a session beyond [`MAX_FEED_SESSIONS`] (freed).
    pub sessions_refused: u64,
    /// Packets held in reorder buffers right now.
    pub held: usize,
    /// A/B arrival skew for the same sequence number, ns.
    pub skew_ns: Histogram<u64>,
    /// Gap opened to caught up, ns.
    pub recovery_ns: Histogram<u64>,
}

impl<'s, 'e> FeedWorker<'s, 'e> {
    /// Over `slots` (from [`feed_slots`]).
    pub fn new(setup: FeedSetup, slots: &'s mut FeedSlots<'e>) -> Result<Self, String> {
        let hist = || {
            Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| format!("histogram: {e}"))
        };
        Ok(Self {
            select: setup.select,
            config: setup.config,
            free: slots.iter_mut(),
            seqs: Vec::with_capacity(MAX_FEED_SESSIONS),
            servers: setup.servers,
            requests: setup.requests,
            not_a_line: 0,
            sessions_refused: 0,
            held: 0,
            skew_ns: hist()?,
            recovery_ns: hist()?,
        })
    }

    /// A MoldUDP64 packet arrived on `line`: sequenced, applied when next,
    /// else held. The mbuf comes back unless it is held.
    #[inline]
    pub fn on_packet<S: SnapshotSink>(
        &mut self,
        now_ns: u64,
        line: Line,
        packet: MoldMbuf<'e>,
        engine: &mut Engine<'_>,
        sink: &mut S,
    ) -> Option<Mbuf<'e>> {
        let Some(name) = packet.as_ref().get(..10) else {
            return Some(packet.into_mbuf());
        };
        let idx = match self.seqs.iter().position(|s| s.session()[..] == *name) {
            Some(i) => i,
            None => match self.free.next() {
                Some(slots) if self.seqs.len() < MAX_FEED_SESSIONS => {
                    self.seqs
                        .push(Sequencer::new(self.config, slots.as_mut_slice()));
                    self.seqs.len() - 1
                }
                _ => {
                    self.sessions_refused += 1;
                    return Some(packet.into_mbuf());
                }
            },
        };
        let s = &mut self.seqs[idx];
        let mut d = EngineDeliver { engine, sink };
        let (arrival, back) = s.on_packet(now_ns, line, packet, &mut d);
        if let Some(k) = s.take_skew() {
            self.skew_ns.saturating_record(k.max(1));
        }
        if arrival == Arrival::Held {
            self.held += 1;
        }
        back.map(MoldMbuf::into_mbuf)
    }

    /// Timers: arbitration windows, requests, giving up.
    pub fn poll<S: SnapshotSink>(&mut self, now_ns: u64, engine: &mut Engine<'_>, sink: &mut S) {
        let (servers, requests) = (&self.servers, &mut self.requests);
        let mut held = 0;
        for s in self.seqs.iter_mut() {
            let session = *s.session();
            let mut d = EngineDeliver {
                engine: &mut *engine,
                sink: &mut *sink,
            };
            s.poll(now_ns, &mut d, &mut |r: Request| {
                let (Some(tx), Some(server)) =
                    (requests.as_mut(), servers.get(usize::from(r.server)))
                else {
                    return false;
                };
                tx.try_send(RecoveryRequest::new(*server, session, r.seq, r.count))
                    .is_ok()
            });
            if let Some(t) = s.take_recovery() {
                self.recovery_ns.saturating_record(t.max(1));
            }
            held += s.held();
        }
        self.held = held;
    }

    /// Whether any session has a gap open (the loop polls timers often
    /// then).
    pub fn recovering(&self) -> bool {
        self.seqs.iter().any(|s| s.expected() < s.horizon())
    }

    /// Whether every session seen has ended (end of session reached with
    /// nothing missing before it).
    pub fn ended(&self) -> bool {
        !self.seqs.is_empty() && self.seqs.iter().all(|s| s.ended())
    }

    /// Re-requests the control plane's channel refused.
    pub fn requests_refused(&self) -> u64 {
        self.requests.as_ref().map_or(0, RecoveryTx::refused)
    }

    /// The sessions, for the stats.
    pub fn sessions(&self) -> &[Sequencer<'s, MoldMbuf<'e>>] {
        &self.seqs
    }
}

/// The report's view of a worker's feed.
#[derive(Debug)]
pub struct FeedReport {
    /// Per session, as JSON.
    pub sessions: Vec<serde_json::Value>,
    /// Frames on no line.
    pub not_a_line: u64,
    /// Packets of sessions beyond the table.
    pub sessions_refused: u64,
    /// Skew histogram (ns).
    pub skew_ns: Histogram<u64>,
    /// Recovery histogram (ns).
    pub recovery_ns: Histogram<u64>,
    /// Requests the control plane's channel refused.
    pub requests_refused: u64,
}

impl FeedWorker<'_, '_> {
    /// What the stats show.
    pub fn report(&self) -> FeedReport {
        FeedReport {
            sessions: self.seqs.iter().map(tickwire::report::feed_json).collect(),
            not_a_line: self.not_a_line,
            sessions_refused: self.sessions_refused,
            skew_ns: self.skew_ns.clone(),
            recovery_ns: self.recovery_ns.clone(),
            requests_refused: self.requests.as_ref().map_or(0, RecoveryTx::refused),
        }
    }
}

/// What one received frame is, in lines mode.
#[derive(Clone, Copy)]
enum Kind {
    /// MoldUDP64 on a line: its bytes at `off..off + len` of the frame.
    Mold { off: usize, len: usize, line: Line },
    /// MoldUDP64 on no configured line.
    NotALine,
    /// Filtered or malformed (counted by the engine).
    Other,
}

/// Lines mode: one burst through the feed. Every MoldUDP64 frame goes to
/// its session's sequencer as the mbuf itself; what the sequencer does not
/// hold goes back into `rx` for one bulk free, frames for the control plane
/// to its ring.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn lines_burst<'e, S: SnapshotSink>(
    f: &mut FeedWorker<'_, 'e>,
    from_b: bool,
    rx: &mut MbufBurst<'e, RX_BURST>,
    eng: &mut Engine<'_>,
    sink: &mut S,
    ports: &[u16],
    now_ns: u64,
    forward: Option<&mut Forwarder<'_, 'e>>,
    release: &mut Option<&FeedHold>,
    multi_seg: &mut u64,
) {
    let n = rx.len().min(RX_BURST);
    let mut kinds = [Kind::Other; RX_BURST];
    for (k, m) in kinds.iter_mut().zip(rx.iter()) {
        if m.nb_segs() > 1 {
            *multi_seg += 1;
        }
        let data = m.data();
        match classify_frame(data, ports) {
            Ok(Frame::Mold {
                packet,
                dst_ip,
                dst_port,
                ..
            }) => {
                let bytes = packet.into_inner();
                let off = bytes.as_ptr() as usize - data.as_ptr() as usize;
                *k = match f.select.line_of(from_b, dst_ip, dst_port) {
                    Some(line) => Kind::Mold {
                        off,
                        len: bytes.len(),
                        line,
                    },
                    None => Kind::NotALine,
                };
            }
            other => {
                eng.on_classified(other, sink);
            }
        }
    }
    let mut bufs: [Option<Mbuf<'e>>; RX_BURST] = std::array::from_fn(|_| None);
    for (b, m) in bufs.iter_mut().zip(rx.drain()) {
        *b = Some(m);
    }
    let mut to_control: MbufBurst<'e, RX_BURST> = MbufBurst::new();
    for i in 0..n {
        if let (Some(Kind::Mold { off, len, .. }), Some(Some(next))) =
            (kinds.get(i + 1), bufs.get(i + 1))
        {
            if let Some(Ok(p)) = next
                .data()
                .get(*off..off + len)
                .map(MoldPacket::new_checked)
            {
                eng.prefetch_packet(&p, dpdk::prefetch0);
            }
        }
        let Some(m) = bufs[i].take() else { continue };
        let back = match kinds[i] {
            Kind::Mold { off, len, line } => {
                if let Some(flag) = *release {
                    let held = m.data().get(off..off + len).map(MoldPacket::new_checked);
                    if let Some(Ok(p)) = held {
                        if hold_packet(&p, flag) {
                            *release = None;
                        }
                    }
                }
                f.on_packet(now_ns, line, MoldMbuf::new(m, off, len), eng, sink)
            }
            Kind::NotALine => {
                f.not_a_line += 1;
                Some(m)
            }
            Kind::Other if forward.is_some() => to_control.push(m).err(),
            Kind::Other => Some(m),
        };
        if let Some(m) = back {
            // Room: `rx` was drained and holds at most what it gave.
            let _ = rx.push(m);
        }
    }
    if let Some(fwd) = forward {
        let k = to_control.len();
        if k > 0 {
            let mask = if k >= 64 { u64::MAX } else { (1u64 << k) - 1 };
            fwd.forward(&mut to_control, mask);
        }
    }
}

/// Parses a line: `GROUP:PORT` (IPv4 and UDP port on the RX port) or a DPDK
/// port name or id.
pub fn parse_line(s: &str) -> Result<LineSpec, String> {
    if let Ok(a) = s.parse::<SocketAddrV4>() {
        if a.port() == 0 {
            return Err(format!("{s:?}: UDP port 0"));
        }
        return Ok(LineSpec::Group(*a.ip(), a.port()));
    }
    if s.contains(':')
        && s.split(':')
            .next()
            .is_some_and(|h| h.parse::<Ipv4Addr>().is_ok())
    {
        return Err(format!(
            "{s:?}: expected GROUP:PORT (e.g. 233.54.12.111:26400) or a DPDK port name or id"
        ));
    }
    if s.is_empty() {
        return Err("empty line: expected GROUP:PORT or a DPDK port".into());
    }
    Ok(LineSpec::Port(s.to_string()))
}

/// Where one line arrives, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineSpec {
    /// An IPv4 destination (usually a multicast group) and UDP port on the
    /// RX port.
    Group(Ipv4Addr, u16),
    /// A DPDK port carrying this line alone.
    Port(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_select() {
        assert_eq!(
            parse_line("233.54.12.111:26400"),
            Ok(LineSpec::Group(Ipv4Addr::new(233, 54, 12, 111), 26400))
        );
        assert_eq!(
            parse_line("net_pcap1"),
            Ok(LineSpec::Port("net_pcap1".into()))
        );
        assert!(parse_line("233.54.12.111:x").is_err());
        assert!(parse_line("1.2.3.4:0").is_err());
        let sel = LineSelect {
            a: Some(([233, 0, 0, 1], 26400)),
            b: Some(([233, 0, 0, 2], 26400)),
            b_own_port: false,
            our_ip: Some([10, 0, 0, 2]),
        };
        assert_eq!(sel.line_of(false, [233, 0, 0, 1], 26400), Some(Line::A));
        assert_eq!(sel.line_of(false, [233, 0, 0, 2], 26400), Some(Line::B));
        assert_eq!(
            sel.line_of(false, [10, 0, 0, 2], 26400),
            Some(Line::Recovery)
        );
        assert_eq!(sel.line_of(false, [233, 0, 0, 3], 26400), None);
        let whole = LineSelect {
            our_ip: None,
            ..LineSelect::default()
        };
        assert_eq!(whole.line_of(false, [1, 2, 3, 4], 1), Some(Line::A));
        assert_eq!(whole.line_of(true, [1, 2, 3, 4], 1), Some(Line::B));
    }
}
