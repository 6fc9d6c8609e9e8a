//! Replay with lines and recovery: line A's pcap and line B's merged by
//! capture time under the feed's arbitration, and a re-request server
//! simulated in event time from a BinaryFILE, so arbitration and recovery
//! are deterministic (`tickwire replay A.pcap --line-b B.pcap
//! --rerequest-from DAY.itch`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Instant;

use tickwire_core::engine::{Engine, EngineDeliver, SnapshotSink};
use tickwire_core::feed::{FeedConfig, Held, Line, Request, Sequencer};
use tickwire_core::wire::{classify_frame, Frame};

use crate::pcap::{Packets, TsResolution};
use crate::replay::{HeapStorage, ReplayOptions};

/// Sessions the replayer sequences at once (as the engine).
pub const MAX_FEED_SESSIONS: usize = tickwire_core::engine::MAX_SESSIONS;

/// A packet handle: a slice of a mapped pcap, or an answer made here.
pub type Packet<'a> = Cow<'a, [u8]>;

/// Answers re-requests: the downstream packet a server would send for
/// `count` messages from `seq` of `session`, or `None` (silence).
pub trait RerequestSource {
    /// The answer, if the server has anything.
    fn answer(&self, session: &[u8; 10], seq: u64, count: u16) -> Option<Vec<u8>>;
}

impl<B: AsRef<[u8]>> RerequestSource for crate::mold_store::MoldStore<B> {
    fn answer(&self, session: &[u8; 10], seq: u64, count: u16) -> Option<Vec<u8>> {
        // One datagram of at most 1,400 payload bytes, as NASDAQ's server.
        crate::mold_store::MoldStore::answer(
            self,
            session,
            seq,
            count,
            crate::mold_packet::DEFAULT_MAX_PAYLOAD,
        )
    }
}

/// One session's sequencer and where it ended.
pub struct SessionReport {
    /// The session name.
    pub session: [u8; 10],
    /// Its state, counters and per-line counters as JSON.
    pub json: serde_json::Value,
}

/// What a lines replay did, besides the engine's counters.
pub struct LinesReport {
    /// Per session.
    pub sessions: Vec<SessionReport>,
    /// Records read from each pcap (A, B).
    pub records: [u64; 2],
    /// Requests answered by the simulated server, and left silent.
    pub answered: u64,
    /// Requests the server had nothing for.
    pub silent: u64,
    /// Gap-to-caught-up times (ns of capture time), in order.
    pub recoveries_ns: Vec<u64>,
    /// A/B arrival skews (ns of capture time).
    pub skews_ns: Vec<u64>,
    /// Wall time of the loop.
    pub elapsed: std::time::Duration,
    /// Live orders at the end.
    pub live_orders: usize,
    /// The engine's counters.
    pub counters: tickwire_core::engine::Counters,
}

/// How the simulated server behaves.
pub struct SimulatedServer<'r> {
    /// Where answers come from.
    pub source: &'r dyn RerequestSource,
    /// Capture-time delay from a request to its answer.
    pub latency_ns: u64,
}

/// The feed's configuration and its reorder buffer size (packets per
/// session).
#[derive(Debug, Clone, Copy)]
pub struct LinesConfig {
    /// Arbitration and recovery.
    pub feed: FeedConfig,
    /// Packets held ahead of a gap, per session.
    pub reorder_buffer: usize,
}

/// Replays `a` (and `b`, when given) through the feed and a fresh engine.
pub fn replay_lines<S: SnapshotSink>(
    a: &[u8],
    b: Option<&[u8]>,
    server: Option<SimulatedServer<'_>>,
    lines: LinesConfig,
    opts: &ReplayOptions,
    storage: &mut HeapStorage,
    sink: &mut S,
) -> anyhow::Result<LinesReport> {
    let LinesConfig {
        feed: cfg,
        reorder_buffer,
    } = lines;
    let mut engine =
        Engine::new(&opts.engine, storage.storage()).map_err(|e| anyhow::anyhow!("engine: {e}"))?;
    let mut ra = Packets::new(a).map_err(|e| anyhow::anyhow!("line A pcap: {e}"))?;
    let res_a = ra.resolution();
    let mut rb = match b {
        Some(b) => Some(Packets::new(b).map_err(|e| anyhow::anyhow!("line B pcap: {e}"))?),
        None => None,
    };
    let res_b = rb.as_ref().map_or(TsResolution::Micros, |r| r.resolution());

    let mut slot_store: Vec<Vec<Option<Held<Packet<'_>>>>> =
        (0..MAX_FEED_SESSIONS).map(|_| Vec::new()).collect();
    let mut free_slots = slot_store.iter_mut();
    let mut seqs: Vec<Sequencer<'_, Packet<'_>>> = Vec::new();
    let mut pending: BTreeMap<(u64, u64), Vec<u8>> = BTreeMap::new();
    let mut pending_key = 0u64;
    let mut report = LinesReport {
        sessions: Vec::new(),
        records: [0; 2],
        answered: 0,
        silent: 0,
        recoveries_ns: Vec::new(),
        skews_ns: Vec::new(),
        elapsed: Default::default(),
        live_orders: 0,
        counters: Default::default(),
    };
    let start = Instant::now();
    let mut next_a = ra.next();
    let mut next_b = rb.as_mut().and_then(|r| r.next());
    let mut now = 0u64;

    // Polls every session, turning requests into answers due later.
    let poll_all = |now: u64,
                    seqs: &mut Vec<Sequencer<'_, Packet<'_>>>,
                    engine: &mut Engine<'_>,
                    sink: &mut S,
                    pending: &mut BTreeMap<(u64, u64), Vec<u8>>,
                    pending_key: &mut u64,
                    report: &mut LinesReport| {
        for s in seqs.iter_mut() {
            let session = *s.session();
            let mut d = EngineDeliver {
                engine: &mut *engine,
                sink: &mut *sink,
            };
            s.poll(now, &mut d, &mut |r: Request| {
                if let Some(srv) = server.as_ref() {
                    match srv.source.answer(&session, r.seq, r.count) {
                        Some(packet) => {
                            *pending_key += 1;
                            pending.insert((now + srv.latency_ns, *pending_key), packet);
                            report.answered += 1;
                        }
                        None => report.silent += 1,
                    }
                }
                true
            });
            if let Some(t) = s.take_recovery() {
                report.recoveries_ns.push(t);
            }
        }
    };

    // Every session polled at `now` (requests become answers due later).
    macro_rules! poll {
        () => {
            poll_all(
                now,
                &mut seqs,
                &mut engine,
                sink,
                &mut pending,
                &mut pending_key,
                &mut report,
            )
        };
    }
    // The answers due by `$until`, each at its own time, then a poll.
    macro_rules! deliver_due {
        ($until:expr) => {
            while let Some(entry) = pending.first_entry() {
                if entry.key().0 > $until {
                    break;
                }
                let ((at, _), packet) = entry.remove_entry();
                now = now.max(at);
                on_answer(now, packet, &mut seqs, &mut engine, sink);
                poll!();
            }
        };
    }

    loop {
        // The earlier of the two lines' next records (A first on a tie).
        let ta = match &next_a {
            Some(Ok(r)) => Some(r.ts_nanos(res_a)),
            Some(Err(e)) => anyhow::bail!("line A pcap: {e}"),
            None => None,
        };
        let tb = match &next_b {
            Some(Ok(r)) => Some(r.ts_nanos(res_b)),
            Some(Err(e)) => anyhow::bail!("line B pcap: {e}"),
            None => None,
        };
        let (line, t) = match (ta, tb) {
            (Some(x), Some(y)) if y < x => (Line::B, y),
            (Some(x), _) => (Line::A, x),
            (None, Some(y)) => (Line::B, y),
            (None, None) => break,
        };
        deliver_due!(t);
        now = now.max(t);
        let rec = match line {
            Line::A => {
                report.records[0] += 1;
                let r = next_a.take();
                next_a = ra.next();
                r
            }
            _ => {
                report.records[1] += 1;
                let r = next_b.take();
                next_b = rb.as_mut().and_then(|r| r.next());
                r
            }
        };
        let Some(Ok(rec)) = rec else { continue };
        match classify_frame(rec.data, &opts.ports) {
            Ok(Frame::Mold { packet, .. }) => {
                let name = *packet.session();
                let idx = match seqs.iter().position(|s| s.session() == &name) {
                    Some(i) => Some(i),
                    None => match free_slots.next() {
                        Some(slots) => {
                            slots.resize_with(reorder_buffer, || None);
                            seqs.push(Sequencer::new(cfg, slots.as_mut_slice()));
                            Some(seqs.len() - 1)
                        }
                        None => None,
                    },
                };
                let Some(i) = idx else {
                    // Beyond the session table: as the engine does.
                    engine.on_classified(classify_frame(rec.data, &opts.ports), sink);
                    continue;
                };
                let s = &mut seqs[i];
                let mut d = EngineDeliver {
                    engine: &mut engine,
                    sink: &mut *sink,
                };
                s.on_packet(now, line, Cow::Borrowed(packet.into_inner()), &mut d);
                if let Some(k) = s.take_skew() {
                    report.skews_ns.push(k);
                }
            }
            other => {
                // Filtered or malformed: counted by the engine as always.
                engine.on_classified(other, sink);
            }
        }
        poll!();
    }
    // The input ended: let answers and timers run out (capture time moves
    // on in small steps), as a live feed handler would while it waits.
    let step = (cfg.request_timeout_ns / 4).max(1_000);
    let deadline = now
        .saturating_add(cfg.recovery_timeout_ns.saturating_mul(4))
        .saturating_add(cfg.arbitration_ns);
    while now < deadline {
        let open = seqs.iter().any(|s| s.expected() < s.horizon());
        if !open && pending.is_empty() {
            break;
        }
        let next = pending
            .keys()
            .next()
            .map_or(now + step, |k| k.0.min(now + step));
        now = next.max(now + 1);
        deliver_due!(now);
        poll!();
    }
    engine.emit_pending(usize::MAX, sink);
    report.elapsed = start.elapsed();
    report.live_orders = engine.live_orders();
    report.counters = *engine.counters();
    for s in &seqs {
        report.sessions.push(SessionReport {
            session: *s.session(),
            json: crate::report::feed_json(s),
        });
    }
    Ok(report)
}

/// An answer reaches the session it names (others: dropped).
fn on_answer<S: SnapshotSink>(
    now: u64,
    packet: Vec<u8>,
    seqs: &mut [Sequencer<'_, Packet<'_>>],
    engine: &mut Engine<'_>,
    sink: &mut S,
) {
    let Some(name) = packet.get(..10) else { return };
    let Some(s) = seqs.iter_mut().find(|s| s.session()[..] == *name) else {
        return;
    };
    let mut d = EngineDeliver { engine, sink };
    s.on_packet(now, Line::Recovery, Cow::Owned(packet), &mut d);
}
