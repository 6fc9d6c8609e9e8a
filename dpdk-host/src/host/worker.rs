//! One worker: a pinned poll loop in the style of DPDK's skeleton and l2fwd
//! examples (RX burst, handle in place, TX burst, free what did not go,
//! TSC-timed housekeeping, a quit flag), driving one engine.

use std::sync::atomic::{
    AtomicBool, AtomicU64,
    Ordering::{Acquire, Relaxed},
};

use hdrhistogram::Histogram;
use tickwire_core::book::{Level, OrderSlot, SymbolState};
use tickwire_core::engine::{Counters, Engine, EngineConfig, Storage};
use tickwire_core::vwap::VwapBucket;
use tickwire_core::wire::{classify_frame, Frame, MoldPacket, WireError};

use super::feed::{feed_slots, lines_burst, FeedReport, FeedSetup, FeedWorker};
use super::metrics::snapshot::{self, Slot, WorkerSnap};
use super::out_sink::WorkerSink;
use super::publisher::FeedHold;
use super::tx::TxCounters;
use crate::control::forward::Forwarder;
use crate::dpdk::{self, signal, DpdkBox, MbufBurst, RxQueue};

/// Owed book records written after each frame (records mode): bounds what
/// one frame pays for a boundary of thousands of symbols.
const RECORDS_PER_FRAME: usize = 8;
/// Owed book records written per idle poll.
const RECORDS_WHEN_IDLE: usize = 256;

/// RX burst size (at most 64: forwarding marks frames in a `u64`).
pub const RX_BURST: usize = 32;
const _: () = assert!(RX_BURST <= 64);

/// A worker's engine tables, in DPDK memory on its socket.
pub struct WorkerStorage<'e> {
    /// Order table.
    pub orders: DpdkBox<'e, [OrderSlot]>,
    /// Level arena.
    pub levels: DpdkBox<'e, [Level]>,
    /// Per-locate state.
    pub symbols: DpdkBox<'e, [SymbolState]>,
    /// VWAP rings.
    pub vwap: DpdkBox<'e, [VwapBucket]>,
}

/// Counters a worker publishes for the main lcore's periodic line; written
/// with relaxed stores at housekeeping time only. One cache line per worker.
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct LiveStats {
    /// Frames received.
    pub rx_packets: AtomicU64,
    /// ITCH messages applied.
    pub messages: AtomicU64,
    /// FIX messages sent.
    pub fix_sent: AtomicU64,
    /// FIX messages dropped.
    pub fix_dropped: AtomicU64,
    /// The worker has left its loop.
    pub done: AtomicBool,
}

/// Everything a worker hands back at the end.
#[derive(Debug)]
pub struct WorkerReport {
    /// The lcore it ran on.
    pub lcore: u32,
    /// Its RX queue.
    pub queue: u16,
    /// Frames received.
    pub rx_packets: u64,
    /// Non-empty RX bursts.
    pub rx_bursts: u64,
    /// Frames longer than one mbuf segment (only the first segment is read;
    /// such frames end up malformed).
    pub rx_multi_segment: u64,
    /// The engine's counters.
    pub counters: Counters,
    /// FIX output counters.
    pub tx: TxCounters,
    /// Cycles from a burst's arrival to output it caused being handed to
    /// tx_burst (once per frame that produced snapshots).
    pub latency_cycles: Histogram<u64>,
    /// Cycles spent handling each non-empty burst (with or without output).
    pub burst_cycles: Histogram<u64>,
    /// Cycles from a frame's first output (snapshot or book record) to the
    /// worker being back at RX: the stall an emission boundary costs.
    pub boundary_stall_cycles: Histogram<u64>,
    /// Directory entries the full record ring refused.
    pub directory_refused: u64,
    /// Snapshots not sent as datagrams because the UDP output is off.
    pub udp_skipped: u64,
    /// Live orders at the end.
    pub live_orders: usize,
    /// Whether it stopped because RX was idle for --idle-exit.
    pub idle_exit: bool,
    /// Whether it stopped at an end-of-session packet.
    pub session_ended: bool,
    /// Cycles from the first to the last packet.
    pub busy_span_cycles: u64,
    /// Frames moved to the control plane's ring (counted filtered or
    /// malformed by the engine too).
    pub control_forwarded: u64,
    /// Frames for the control plane dropped because its ring was full.
    pub control_ring_full: u64,
    /// Lines mode: the feed's sessions, lines and histograms.
    pub feed: Option<FeedReport>,
}

/// What a worker needs.
pub struct WorkerContext<'q, 'e> {
    /// Lcore it runs on.
    pub lcore: u32,
    /// RX queue.
    pub rxq: RxQueue<'q, 'e>,
    /// FIX sink (owns the TX queue).
    pub sink: WorkerSink<'q, 'e, 'q>,
    /// Engine tables.
    pub storage: WorkerStorage<'e>,
    /// Engine configuration.
    pub engine: EngineConfig,
    /// UDP ports to consume.
    pub ports: Vec<u16>,
    /// TSC frequency.
    pub tsc_hz: u64,
    /// Stop after this many idle cycles (None: run until quit).
    pub idle_exit_cycles: Option<u64>,
    /// Wall clock at `tsc_base` (ns since the epoch), for FIX SendingTime.
    pub wall_base_ns: u64,
    /// TSC at `wall_base_ns`.
    pub tsc_base: u64,
    /// Published counters.
    pub live: &'q LiveStats,
    /// Leave the loop after the burst that carried an end-of-session packet.
    pub exit_on_end_of_session: bool,
    /// The control plane's ring, when it shares this RX port: frames that
    /// are not MoldUDP64 for `ports` go there instead of being freed.
    pub forward: Option<Forwarder<'q, 'e>>,
    /// `--wait-for-subscription`: set by the publisher once a
    /// MarketDataRequest has been answered; until then the feed is held at
    /// its first order-book message.
    pub release: Option<&'q FeedHold>,
    /// Lines mode (--line-a/--line-b/--rerequest/--backfill): arbitration
    /// and recovery before the engine.
    pub feed: Option<FeedSetup>,
    /// Line B's own port's RX queue, polled in turn with `rxq`.
    pub rxq_b: Option<RxQueue<'q, 'e>>,
    /// More RX queues of the RX port (a device that needs as many RX as
    /// TX queues spreads flows over them too), polled in turn.
    pub rxq_extra: Vec<RxQueue<'q, 'e>>,
    /// `--metrics-listen`: where the housekeeping tick copies the counters.
    pub metrics: Option<&'q Slot>,
}

/// A latency histogram in TSC cycles: up to 10 s at 3 significant digits,
/// sized once so that recording never allocates.
pub fn histogram(tsc_hz: u64) -> Result<Histogram<u64>, String> {
    Histogram::new_with_bounds(1, (tsc_hz * 10).max(2), 3).map_err(|e| format!("histogram: {e}"))
}

/// Runs the poll loop until quit or idle exit.
pub fn run(ctx: WorkerContext<'_, '_>) -> Result<WorkerReport, String> {
    let WorkerContext {
        lcore,
        mut rxq,
        mut sink,
        mut storage,
        engine,
        ports,
        tsc_hz,
        idle_exit_cycles,
        wall_base_ns,
        tsc_base,
        live,
        exit_on_end_of_session,
        mut forward,
        mut release,
        feed,
        mut rxq_b,
        mut rxq_extra,
        metrics,
    } = ctx;
    let store = Storage {
        orders: &mut storage.orders,
        levels: &mut storage.levels,
        symbols: &mut storage.symbols,
        vwap: &mut storage.vwap,
    };
    let mut eng = Engine::new(&engine, store).map_err(|e| format!("engine: {e}"))?;
    let mut slots = feed.as_ref().map(|f| feed_slots(f.reorder_buffer));
    let mut fw = match (feed, slots.as_mut()) {
        (Some(setup), Some(slots)) => Some(FeedWorker::new(setup, slots)?),
        _ => None,
    };
    let mut from_b;
    // Sources polled in turn: the RX queue, line B's port, extra queues.
    let sources = 1 + usize::from(rxq_b.is_some()) + rxq_extra.len();
    let mut source = 0usize;
    let mut latency = histogram(tsc_hz)?;
    let mut burst_cycles = histogram(tsc_hz)?;
    let mut stall_cycles = histogram(tsc_hz)?;
    let mut rx: MbufBurst<'_, RX_BURST> = MbufBurst::new();
    let (mut rx_packets, mut rx_bursts, mut multi_seg) = (0u64, 0u64, 0u64);
    let housekeeping = (tsc_hz / 10).max(1);
    let start = dpdk::rdtsc();
    let mut last_rx = start;
    let mut first_rx = None;
    let mut next_house = start + housekeeping;
    let mut idle_exit = false;
    let mut session_ended = false;
    let bounds = snapshot::bounds_cycles(tsc_hz);
    let mut snap = Box::new(WorkerSnap {
        lcore,
        queue: rxq.queue_id(),
        lines_mode: u8::from(fw.is_some()),
        ..WorkerSnap::default()
    });
    if let Some(slot) = metrics {
        // Live from the start, not from the first housekeeping tick.
        snap.tick_tsc = start;
        // SAFETY: each worker has its own slot and is its only writer.
        unsafe { slot.publish(&snap) };
    }
    let to_ns = |tsc: u64| {
        wall_base_ns
            + (u128::from(tsc.wrapping_sub(tsc_base)) * 1_000_000_000 / u128::from(tsc_hz.max(1)))
                as u64
    };

    loop {
        // Line B's own port and extra queues, if any, are polled in turn
        // with the RX queue.
        let n = if sources == 1 {
            from_b = false;
            rxq.rx_burst(&mut rx)
        } else {
            source = if source + 1 == sources { 0 } else { source + 1 };
            from_b = source == 1 && rxq_b.is_some();
            match (source, rxq_b.as_mut()) {
                (0, _) => rxq.rx_burst(&mut rx),
                (1, Some(qb)) => qb.rx_burst(&mut rx),
                (i, qb) => {
                    let k = i - 1 - usize::from(qb.is_some());
                    rxq_extra.get_mut(k).map_or(0, |q| q.rx_burst(&mut rx))
                }
            }
        };
        let now = dpdk::rdtsc();
        if n > 0 && fw.is_some() {
            last_rx = now;
            first_rx.get_or_insert(now);
            rx_bursts += 1;
            rx_packets += n as u64;
            let now_ns = to_ns(now);
            sink.tx.now_ns = now_ns;
            if let Some(f) = fw.as_mut() {
                lines_burst(
                    f,
                    from_b,
                    &mut rx,
                    &mut eng,
                    &mut sink,
                    &ports,
                    now_ns,
                    forward.as_mut(),
                    &mut release,
                    &mut multi_seg,
                );
                f.poll(now_ns, &mut eng, &mut sink);
            }
            if eng.has_pending() {
                eng.emit_pending(RECORDS_PER_FRAME * n, &mut sink);
            }
            if sink.tx.has_output() {
                latency.saturating_record(dpdk::rdtsc() - now);
                sink.tx.flush();
            }
            if let Some(p) = sink.records.as_mut() {
                p.publish();
            }
            rx.clear(); // one bulk free for what was not held
            burst_cycles.saturating_record(dpdk::rdtsc() - now);
            if exit_on_end_of_session && fw.as_ref().is_some_and(FeedWorker::ended) {
                session_ended = true;
                break;
            }
        } else if n > 0 {
            last_rx = now;
            first_rx.get_or_insert(now);
            rx_bursts += 1;
            rx_packets += n as u64;
            sink.tx.now_ns = to_ns(now);
            // Frames the engine will count filtered or malformed are the
            // control plane's: one comparison per burst tells whether any
            // arrived, so MoldUDP64 frames pay nothing for forwarding.
            let not_mold_before = {
                let c = eng.counters();
                c.packets_filtered + c.packets_malformed
            };
            // Classify the burst once; prefetch the order slots of the next
            // frame's messages while applying the current one.
            let mut frames = [Err(WireError::EthernetTruncated); RX_BURST];
            for (f, m) in frames.iter_mut().zip(rx.iter()) {
                *f = classify_frame(m.data(), &ports);
                if m.nb_segs() > 1 {
                    multi_seg += 1;
                }
            }
            let frames = &frames[..n.min(RX_BURST)];
            if let Some(Ok(Frame::Mold { packet, .. })) = frames.first() {
                eng.prefetch_packet(packet, dpdk::prefetch0);
            }
            for (i, frame) in frames.iter().enumerate() {
                if let Some(Ok(Frame::Mold { packet, .. })) = frames.get(i + 1) {
                    eng.prefetch_packet(packet, dpdk::prefetch0);
                }
                if let Some(flag) = release {
                    if hold_here(frame, flag) {
                        release = None;
                    }
                }
                // Records mode: a frame that opens a boundary or writes
                // owed records is timed from its start.
                let boundary_before = eng.next_boundary();
                let frame_t0 = if sink.records.is_some() {
                    dpdk::rdtsc()
                } else {
                    0
                };
                eng.on_classified(*frame, &mut sink);
                if eng.has_pending() {
                    // A few owed records per frame: a boundary of thousands
                    // of symbols is spread over the next frames.
                    eng.emit_pending(RECORDS_PER_FRAME, &mut sink);
                    sink.stall_start.get_or_insert(frame_t0);
                }
                if sink.records.is_some() && eng.next_boundary() != boundary_before {
                    sink.stall_start = Some(frame_t0);
                }
                // Snapshots go out as soon as the frame that crossed a
                // boundary is handled, not at the end of the burst.
                if sink.tx.has_output() {
                    latency.saturating_record(dpdk::rdtsc() - now);
                    sink.tx.flush();
                }
                if let Some(p) = sink.records.as_mut() {
                    p.publish();
                }
                if let Some(t0) = sink.stall_start.take() {
                    stall_cycles.saturating_record(dpdk::rdtsc() - t0);
                }
            }
            if let Some(fwd) = forward.as_mut() {
                let c = eng.counters();
                if c.packets_filtered + c.packets_malformed != not_mold_before {
                    let mask = not_mold_mask(frames);
                    fwd.forward(&mut rx, mask);
                }
            }
            rx.clear(); // one bulk free for the whole burst
            burst_cycles.saturating_record(dpdk::rdtsc() - now);
            if exit_on_end_of_session && eng.counters().end_of_session > 0 {
                session_ended = true;
                break;
            }
        }
        if n == 0 {
            if let Some(f) = fw.as_mut().filter(|f| f.recovering()) {
                // Timers run while the feed is quiet: a gap at the end of a
                // burst must still be re-requested and given up.
                let now_ns = to_ns(now);
                sink.tx.now_ns = now_ns;
                f.poll(now_ns, &mut eng, &mut sink);
                if sink.tx.has_output() {
                    sink.tx.flush();
                }
            }
        }
        if n == 0 && eng.has_pending() {
            // Idle: hand out what the last boundary still owes.
            eng.emit_pending(RECORDS_WHEN_IDLE, &mut sink);
            if let Some(p) = sink.records.as_mut() {
                p.publish();
            }
        }
        if now >= next_house {
            next_house = now + housekeeping;
            let c = eng.counters();
            live.rx_packets.store(rx_packets, Relaxed);
            live.messages.store(c.messages_applied, Relaxed);
            live.fix_sent.store(sink.tx.counters.fix_sent, Relaxed);
            live.fix_dropped
                .store(sink.tx.counters.fix_dropped, Relaxed);
            if let Some(f) = fw.as_mut() {
                // The degraded state's clean period, and any timer.
                f.poll(to_ns(now), &mut eng, &mut sink);
            }
            if let Some(slot) = metrics {
                if let Some(f) = forward.as_ref() {
                    snap.control_forwarded = f.forwarded;
                    snap.control_ring_full = f.ring_full;
                }
                let h = [&latency, &burst_cycles, &stall_cycles];
                let rx = [rx_packets, rx_bursts, multi_seg, last_rx];
                publish(
                    slot,
                    &mut snap,
                    now,
                    &eng,
                    &sink,
                    fw.as_ref(),
                    h,
                    rx,
                    &bounds,
                );
            }
            if signal::quit_requested() {
                break;
            }
            if let Some(idle) = idle_exit_cycles {
                if now - last_rx >= idle {
                    idle_exit = true;
                    break;
                }
            }
        }
    }
    eng.emit_pending(usize::MAX, &mut sink);
    if let Some(p) = sink.records.as_mut() {
        p.publish();
    }
    sink.tx.flush();
    let counters = *eng.counters();
    live.rx_packets.store(rx_packets, Relaxed);
    live.messages.store(counters.messages_applied, Relaxed);
    live.fix_sent.store(sink.tx.counters.fix_sent, Relaxed);
    live.fix_dropped
        .store(sink.tx.counters.fix_dropped, Relaxed);
    live.done.store(true, Relaxed);
    if let Some(slot) = metrics {
        snap.done = 1;
        snap.control_forwarded = forward.as_ref().map_or(0, |f| f.forwarded);
        snap.control_ring_full = forward.as_ref().map_or(0, |f| f.ring_full);
        let h = [&latency, &burst_cycles, &stall_cycles];
        let rx = [rx_packets, rx_bursts, multi_seg, last_rx];
        let now = dpdk::rdtsc();
        publish(
            slot,
            &mut snap,
            now,
            &eng,
            &sink,
            fw.as_ref(),
            h,
            rx,
            &bounds,
        );
    }
    Ok(WorkerReport {
        lcore,
        queue: rxq.queue_id(),
        rx_packets,
        rx_bursts,
        rx_multi_segment: multi_seg,
        counters,
        tx: sink.tx.counters,
        boundary_stall_cycles: stall_cycles,
        directory_refused: sink.directory_refused,
        udp_skipped: sink.udp_skipped,
        latency_cycles: latency,
        burst_cycles,
        live_orders: eng.live_orders(),
        idle_exit,
        session_ended,
        busy_span_cycles: first_rx.map_or(0, |f| last_rx - f),
        control_forwarded: forward.as_ref().map_or(0, |f| f.forwarded),
        control_ring_full: forward.as_ref().map_or(0, |f| f.ring_full),
        feed: fw.as_ref().map(FeedWorker::report),
    })
}

/// The housekeeping copy for `--metrics-listen`: fills `snap` and
/// publishes it into the worker's slot (no lock, no syscall).
#[cold]
#[allow(clippy::too_many_arguments)]
fn publish(
    slot: &Slot,
    snap: &mut WorkerSnap,
    now: u64,
    eng: &Engine<'_>,
    sink: &WorkerSink<'_, '_, '_>,
    fw: Option<&FeedWorker<'_, '_>>,
    hist: [&Histogram<u64>; 3],
    rx: [u64; 4],
    bounds: &[u64; snapshot::NB],
) {
    snap.tick_tsc = now;
    [
        snap.rx_packets,
        snap.rx_bursts,
        snap.rx_multi_segment,
        snap.last_rx_tsc,
    ] = rx;
    snap.counters = *eng.counters();
    snap.tx = sink.tx.counters;
    snap.directory_refused = sink.directory_refused;
    snap.udp_skipped = sink.udp_skipped;
    snap.live_orders = eng.live_orders() as u64;
    snap.latency.update(hist[0], bounds);
    snap.burst.update(hist[1], bounds);
    snap.stall.update(hist[2], bounds);
    if let Some(f) = fw {
        let seqs = f.sessions();
        snap.sessions = seqs.len().min(snap.session.len()) as u8;
        for (d, s) in snap.session.iter_mut().zip(seqs) {
            d.name = *s.session();
            d.state = snapshot::state_code(s.state());
            d.ended = u8::from(s.ended());
            d.next_sequence = s.expected();
            d.held = s.held() as u64;
            d.counters = *s.counters();
            d.lines = *s.line_counters();
        }
        snap.not_a_line = f.not_a_line;
        snap.sessions_refused = f.sessions_refused;
        snap.requests_refused = f.requests_refused();
    }
    // SAFETY: each worker has its own slot (the host hands slot i to
    // worker i only) and is its only writer.
    unsafe { slot.publish(snap) };
}

/// `--wait-for-subscription`: true once the feed may flow. A frame holding
/// an order-book message waits here (spinning, quit honoured) until the
/// publisher has answered a MarketDataRequest.
#[cold]
fn hold_here(frame: &Result<Frame<'_>, WireError>, hold: &FeedHold) -> bool {
    if hold.released.load(Acquire) {
        return true;
    }
    let Ok(Frame::Mold { packet, .. }) = frame else {
        return false;
    };
    hold_packet(packet, hold)
}

/// [`hold_here`] for a MoldUDP64 packet.
#[cold]
pub(super) fn hold_packet(packet: &MoldPacket<&[u8]>, hold: &FeedHold) -> bool {
    let release = &hold.released;
    if release.load(Acquire) {
        return true;
    }
    let book = packet.messages().flatten().any(|m| {
        matches!(
            m.first(),
            Some(b'A' | b'F' | b'E' | b'C' | b'X' | b'D' | b'U' | b'P' | b'Q')
        )
    });
    if !book {
        return false;
    }
    // Everything before this frame is applied and its directory entries
    // published (after each frame): the publisher may read requests now.
    hold.reached
        .store(true, std::sync::atomic::Ordering::Release);
    while !release.load(Acquire) && !signal::quit_requested() {
        std::hint::spin_loop();
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
    true
}

/// Bit i set for each frame that is not MoldUDP64 for our ports.
#[cold]
fn not_mold_mask(frames: &[Result<Frame<'_>, WireError>]) -> u64 {
    frames
        .iter()
        .enumerate()
        .filter(|(_, f)| !matches!(f, Ok(Frame::Mold { .. })))
        .fold(0, |m, (i, _)| m | 1 << i)
}
