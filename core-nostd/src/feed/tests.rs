//! Model-based tests of the sequencer: random interleavings of two lines
//! with loss, duplication and reordering, a re-request server that answers
//! partly, late or not at all. Against the loss-free stream: what is
//! applied is that stream whenever every message reached the sequencer by
//! some route, and every sequence number is applied or lost exactly once
//! otherwise.

extern crate std;
use std::collections::BTreeMap;
use std::vec::Vec;

use super::*;
use proptest::prelude::*;

const SESSION: &[u8; 10] = b"SESSION001";

/// A MoldUDP64 packet of messages `seq..seq+count`; message `s` is 8 bytes
/// holding `s`.
fn packet(seq: u64, count: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(SESSION);
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&count.to_be_bytes());
    if count != 0xffff {
        for i in 0..u64::from(count) {
            b.extend_from_slice(&8u16.to_be_bytes());
            b.extend_from_slice(&seq.wrapping_add(i).to_be_bytes());
        }
    }
    b
}

/// The model's view: applied sequence numbers in order, lost ranges.
#[derive(Default, Debug)]
struct Model {
    applied: Vec<u64>,
    lost: Vec<(u64, u64)>,
    /// Every number, applied or lost, in the order it was decided.
    decided: Vec<u64>,
}

impl Deliver for Model {
    fn deliver(&mut self, packet: &[u8], skip: u16) {
        let p = crate::wire::moldudp64::MoldPacket::new_checked(packet).unwrap();
        for m in p.messages().skip(usize::from(skip)) {
            let m = m.unwrap();
            let s = u64::from_be_bytes(m.try_into().unwrap());
            self.applied.push(s);
            self.decided.push(s);
        }
    }
    fn lost(&mut self, first: u64, count: u64) {
        self.lost.push((first, count));
        self.decided.extend(first..first.saturating_add(count));
    }
}

/// Cuts `1..=n` into packets of 1..=max messages.
fn cut(n: u64, sizes: &[u16]) -> Vec<(u64, u16)> {
    let mut out = Vec::new();
    let mut s = 1;
    let mut i = 0;
    while s <= n {
        let c = u64::from(sizes[i % sizes.len()].max(1)).min(n - s + 1) as u16;
        out.push((s, c));
        s += u64::from(c);
        i += 1;
    }
    out
}

#[derive(Debug, Clone)]
struct Scenario {
    n: u64,
    sizes_a: Vec<u16>,
    sizes_b: Vec<u16>,
    /// Per packet index: 0 deliver, 1 lose, 2 duplicate, 3 swap with next.
    fate_a: Vec<u8>,
    fate_b: Vec<u8>,
    /// B's delay behind A (ns), can be negative via offset.
    skew_ns: i64,
    two_lines: bool,
    server: bool,
    /// Server answers: at most this many messages per answer.
    answer_max: u16,
    /// Server silent on every k-th request (0: never).
    silent_every: u32,
    latency_ns: u64,
    capacity: usize,
    heartbeat_at_end: bool,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        1u64..300,
        proptest::collection::vec(1u16..12, 1..8),
        proptest::collection::vec(1u16..12, 1..8),
        proptest::collection::vec(
            prop_oneof![6 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
            1..64,
        ),
        proptest::collection::vec(
            prop_oneof![6 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
            1..64,
        ),
        -50_000i64..50_000, // within the arbitration window (100 us)
        (
            any::<bool>(),
            any::<bool>(),
            1u16..20,
            0u32..4,
            1_000u64..200_000,
            prop_oneof![Just(0usize), Just(4usize), Just(1024usize)],
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                n,
                sizes_a,
                sizes_b,
                fate_a,
                fate_b,
                skew_ns,
                (
                    two_lines,
                    server,
                    answer_max,
                    silent_every,
                    latency_ns,
                    capacity,
                    heartbeat_at_end,
                ),
            )| Scenario {
                n,
                sizes_a,
                sizes_b,
                fate_a,
                fate_b,
                skew_ns,
                two_lines,
                server,
                answer_max,
                silent_every,
                latency_ns,
                capacity,
                heartbeat_at_end,
            },
        )
}

/// Arrival events (time, line, seq, count) for one line.
fn line_events(
    packets: &[(u64, u16)],
    fates: &[u8],
    line: Line,
    offset: i64,
    out: &mut Vec<(u64, Line, u64, u16)>,
) {
    // (time slot: the sequence number it would carry in order, packet)
    let mut list: Vec<(u64, (u64, u16))> = Vec::new();
    let mut i = 0;
    while i < packets.len() {
        let slot = packets[i].0;
        match fates[i % fates.len()] {
            1 => {}
            2 => {
                list.push((slot, packets[i]));
                list.push((slot, packets[i]));
            }
            3 if i + 1 < packets.len() => {
                list.push((slot, packets[i + 1]));
                list.push((packets[i + 1].0, packets[i]));
                i += 1;
            }
            _ => list.push((slot, packets[i])),
        }
        i += 1;
    }
    // Paced by message (1 us each), so both lines carry a message at about
    // the same time whatever their cuts; swapped packets trade slots.
    for (k, (slot, (s, c))) in list.into_iter().enumerate() {
        let t = (1_000_000 + slot as i64 * 1_000 + k as i64 + offset).max(0) as u64;
        out.push((t, line, s, c));
    }
}

struct Run {
    model: Model,
    counters: FeedCounters,
    lines: [LineCounters; 3],
    expected: u64,
    held: usize,
    received_by_some_line: Vec<bool>,
    /// Sequence number of the first packet to arrive (where the session
    /// starts without backfill).
    first_seq: u64,
}

fn run(sc: &Scenario) -> Run {
    let a = cut(sc.n, &sc.sizes_a);
    let b = cut(sc.n, &sc.sizes_b);
    let mut events = Vec::new();
    line_events(&a, &sc.fate_a, Line::A, 0, &mut events);
    if sc.two_lines {
        line_events(&b, &sc.fate_b, Line::B, sc.skew_ns, &mut events);
    }
    let mut received = std::vec![false; sc.n as usize + 2];
    for &(_, _, s, c) in &events {
        for q in s..s + u64::from(c) {
            received[q as usize] = true;
        }
    }
    events.sort_by_key(|e| (e.0, e.1.index()));
    let last_t = events.last().map_or(0, |e| e.0);
    let first_seq = events.first().map_or(sc.n + 1, |e| e.2);
    if sc.heartbeat_at_end {
        // The next sequence number, announced on a line after the data.
        events.push((last_t + 5_000, Line::A, sc.n + 1, 0));
    }
    let cfg = FeedConfig {
        lines: if sc.two_lines { 2 } else { 1 },
        servers: u8::from(sc.server),
        arbitration_ns: 100_000,
        arbitration_packets: 64,
        request_timeout_ns: 400_000,
        max_attempts: 3,
        recovery_timeout_ns: 5_000_000,
        max_request: 0xfffe,
        backfill: false,
        clean_ns: 1_000_000,
    };
    let mut slots: Vec<Option<Held<Vec<u8>>>> = (0..sc.capacity).map(|_| None).collect();
    let mut seq = Sequencer::new(cfg, &mut slots);
    let mut model = Model::default();
    // Answers in flight: time -> packets.
    let mut answers: BTreeMap<(u64, u64), (u64, u16)> = BTreeMap::new();
    let mut requests = 0u32;
    let mut k = 0u64;
    let mut poll = |seq: &mut Sequencer<'_, Vec<u8>>,
                    model: &mut Model,
                    answers: &mut BTreeMap<(u64, u64), (u64, u16)>,
                    now: u64| {
        seq.poll(now, model, &mut |r: Request| {
            assert_eq!(r.server, 0);
            assert!(r.count >= 1 && r.count <= 0xfffe);
            requests += 1;
            let silent = sc.silent_every > 0 && requests.is_multiple_of(sc.silent_every);
            if !silent && r.seq >= 1 && r.seq <= sc.n {
                let c = u64::from(r.count.min(sc.answer_max)).min(sc.n - r.seq + 1) as u16;
                k += 1;
                answers.insert((now + sc.latency_ns, k), (r.seq, c));
            }
            true
        });
    };
    let mut now = 0;
    for (t, line, s, c) in events {
        // Answers due before this packet.
        while let Some((&(at, key), &(as_, ac))) = answers.iter().next() {
            if at > t {
                break;
            }
            answers.remove(&(at, key));
            now = at;
            seq.on_packet(now, Line::Recovery, packet(as_, ac), &mut model);
            poll(&mut seq, &mut model, &mut answers, now);
        }
        now = t;
        let (arrival, back) = seq.on_packet(now, line, packet(s, c), &mut model);
        // The packet comes back unless it is held.
        assert_eq!(arrival == Arrival::Held, back.is_none(), "{arrival:?}");
        poll(&mut seq, &mut model, &mut answers, now);
    }
    // Let timers and answers run out.
    for _ in 0..100_000 {
        if seq.expected() >= seq.horizon() && answers.is_empty() {
            break;
        }
        let next = answers
            .keys()
            .next()
            .map_or(now + 50_000, |k| k.0.min(now + 50_000));
        now = next.max(now + 1);
        while let Some((&(at, key), &(as_, ac))) = answers.iter().next() {
            if at > now {
                break;
            }
            answers.remove(&(at, key));
            seq.on_packet(now, Line::Recovery, packet(as_, ac), &mut model);
        }
        poll(&mut seq, &mut model, &mut answers, now);
    }
    Run {
        counters: *seq.counters(),
        lines: *seq.line_counters(),
        expected: seq.expected(),
        held: seq.held(),
        model,
        received_by_some_line: received,
        first_seq,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn applied_or_lost_exactly_once(sc in scenario()) {
        let r = run(&sc);
        let first = r.model.decided.first().copied().unwrap_or(r.expected);
        // Every number from the first to the expected one decided once, in
        // order.
        let want: Vec<u64> = (first..r.expected).collect();
        prop_assert_eq!(&r.model.decided, &want);
        prop_assert_eq!(r.counters.applied, r.model.applied.len() as u64);
        let lost: u64 = r.model.lost.iter().map(|l| l.1).sum();
        prop_assert_eq!(r.counters.lost, lost);
        // Every message that arrived is won, duplicate, dropped or held.
        let won: u64 = r.lines.iter().map(|l| l.won).sum();
        prop_assert_eq!(won, r.counters.applied);
        if r.held == 0 {
            for l in &r.lines {
                prop_assert_eq!(l.messages, l.won + l.duplicates + l.dropped, "{:?}", l);
            }
        }
        // Caught up: nothing left open at the end.
        prop_assert_eq!(r.held, 0);
    }

    #[test]
    fn loss_free_whenever_every_message_arrived(sc in scenario()) {
        let r = run(&sc);
        // Every message reached us on a line, or a server answers every
        // request in time, and the buffer can hold a whole gap: nothing is
        // lost and the applied stream is the loss-free one.
        let from_lines = (1..=sc.n).all(|q| r.received_by_some_line[q as usize]);
        // (A server can only be asked for what a later packet or heartbeat
        // showed exists.)
        let from_server = sc.server && sc.silent_every == 0 && sc.heartbeat_at_end;
        let waits = sc.two_lines || sc.server;
        if waits && sc.capacity >= 1024 && (from_lines || from_server) {
            // The first packet may come late (a reordered or lost start:
            // without backfill a session starts where it is first seen):
            // everything from the first applied number on is there.
            let want: Vec<u64> = (r.first_seq..=sc.n).collect();
            prop_assert_eq!(r.counters.lost, 0, "{:?}", r.counters);
            prop_assert_eq!(&r.model.applied, &want, "{:?}", r.counters);
            prop_assert!(r.model.lost.is_empty(), "{:?}", r.model.lost);
        }
    }

    /// One line, no server: exactly the immediate contract of [`Cursor`].
    #[test]
    fn single_line_is_the_cursor(sc in scenario()) {
        let a = cut(sc.n, &sc.sizes_a);
        let mut events = Vec::new();
        line_events(&a, &sc.fate_a, Line::A, 0, &mut events);
        let mut seq: Sequencer<'_, Vec<u8>> = Sequencer::new(FeedConfig::SINGLE, &mut []);
        let mut model = Model::default();
        let mut cursor: Option<Cursor> = None;
        let (mut gap, mut dup, mut applied) = (0u64, 0u64, 0u64);
        for (t, line, s, c) in events {
            let cur = cursor.get_or_insert(Cursor::new(s));
            let step = cur.advance(s, u64::from(c));
            gap += step.gap;
            dup += step.skip;
            applied += u64::from(c) - step.skip;
            seq.on_packet(t, line, packet(s, c), &mut model);
        }
        prop_assert_eq!(seq.counters().lost, gap);
        prop_assert_eq!(seq.line_counters()[0].duplicates, dup);
        prop_assert_eq!(seq.counters().applied, applied);
        prop_assert_eq!(model.applied.len() as u64, applied);
    }
}

#[test]
fn b_fills_a_gap_before_any_request() {
    let cfg = FeedConfig {
        lines: 2,
        servers: 1,
        ..FeedConfig::SINGLE
    };
    let mut slots: [Option<Held<Vec<u8>>>; 8] = Default::default();
    let mut s = Sequencer::new(cfg, &mut slots);
    let mut m = Model::default();
    let mut reqs = Vec::new();
    s.on_packet(0, Line::A, packet(1, 2), &mut m);
    s.on_packet(10, Line::A, packet(5, 2), &mut m); // 3, 4 missing on A
    assert_eq!(s.state(), FeedState::Recovering);
    s.poll(20, &mut m, &mut |r| {
        reqs.push(r);
        true
    });
    assert!(reqs.is_empty(), "inside the arbitration window");
    s.on_packet(30, Line::B, packet(1, 4), &mut m); // B has 1..=4
    assert_eq!(m.applied, [1, 2, 3, 4, 5, 6]);
    assert_eq!(s.state(), FeedState::Synchronized);
    assert_eq!(s.counters().gaps_filled, 1);
    assert_eq!(s.line_counters()[1].won, 2);
    assert_eq!(s.line_counters()[1].duplicates, 2);
    assert_eq!(s.line_counters()[0].gap_messages, 2);
}

#[test]
fn request_retry_partial_answer_then_give_up() {
    let cfg = FeedConfig {
        lines: 1,
        servers: 2,
        request_timeout_ns: 100,
        max_attempts: 2,
        recovery_timeout_ns: 10_000,
        ..FeedConfig::SINGLE
    };
    let mut slots: [Option<Held<Vec<u8>>>; 8] = Default::default();
    let mut s = Sequencer::new(cfg, &mut slots);
    let mut m = Model::default();
    let mut reqs: Vec<(u64, Request)> = Vec::new();
    s.on_packet(0, Line::A, packet(1, 1), &mut m);
    s.on_packet(1, Line::A, packet(10, 1), &mut m); // 2..=9 missing
    let poll = |s: &mut Sequencer<'_, Vec<u8>>,
                m: &mut Model,
                now: u64,
                reqs: &mut Vec<(u64, Request)>| {
        s.poll(now, m, &mut |r| {
            reqs.push((now, r));
            true
        })
    };
    poll(&mut s, &mut m, 1, &mut reqs);
    assert_eq!(
        reqs.last().unwrap().1,
        Request {
            server: 0,
            seq: 2,
            count: 8
        }
    );
    // Nothing answered: retried after the timeout, not before.
    poll(&mut s, &mut m, 50, &mut reqs);
    assert_eq!(reqs.len(), 1);
    poll(&mut s, &mut m, 101, &mut reqs);
    assert_eq!(reqs.len(), 2);
    // Two attempts: the next goes to the second server (after backoff).
    poll(&mut s, &mut m, 400, &mut reqs);
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[2].1.server, 1);
    assert_eq!(s.counters().failovers, 1);
    // A partial answer (2..=4): applied, the rest asked for at once.
    s.on_packet(410, Line::Recovery, packet(2, 3), &mut m);
    poll(&mut s, &mut m, 410, &mut reqs);
    assert_eq!(
        reqs.last().unwrap().1,
        Request {
            server: 1,
            seq: 5,
            count: 5
        }
    );
    assert_eq!(m.applied, [1, 2, 3, 4]);
    // Then silence: given up after the recovery timeout since progress.
    poll(&mut s, &mut m, 10_409, &mut reqs);
    assert!(m.lost.is_empty());
    poll(&mut s, &mut m, 10_410, &mut reqs);
    assert_eq!(m.lost, [(5, 5)]);
    assert_eq!(m.applied, [1, 2, 3, 4, 10]);
    assert_eq!(s.state(), FeedState::Degraded);
    assert_eq!(s.counters().lost, 5);
    // Degraded until a clean period passes.
    poll(&mut s, &mut m, 10_410 + 2_000_000_000, &mut reqs);
    assert_eq!(s.state(), FeedState::Synchronized);
}

#[test]
fn heartbeat_ahead_opens_a_gap_and_end_of_session() {
    let cfg = FeedConfig {
        servers: 1,
        ..FeedConfig::SINGLE
    };
    let mut slots: [Option<Held<Vec<u8>>>; 8] = Default::default();
    let mut s = Sequencer::new(cfg, &mut slots);
    let mut m = Model::default();
    let mut reqs = Vec::new();
    s.on_packet(0, Line::A, packet(1, 3), &mut m);
    s.on_packet(5, Line::A, packet(6, 0), &mut m); // heartbeat: 4, 5 exist
    s.on_packet(6, Line::A, packet(6, 0xffff), &mut m); // end of session at 6
    assert!(!s.ended());
    s.poll(6, &mut m, &mut |r| {
        reqs.push(r);
        true
    });
    assert_eq!(
        reqs,
        [Request {
            server: 0,
            seq: 4,
            count: 2
        }]
    );
    s.on_packet(9, Line::Recovery, packet(4, 2), &mut m);
    assert_eq!(m.applied, [1, 2, 3, 4, 5]);
    assert!(s.ended());
    assert_eq!(s.counters().heartbeats, 1);
    assert_eq!(s.counters().end_of_session, 1);
}

#[test]
fn late_join_backfills_from_one_while_holding_live_packets() {
    let cfg = FeedConfig {
        servers: 1,
        backfill: true,
        max_request: 4,
        ..FeedConfig::SINGLE
    };
    let mut slots: [Option<Held<Vec<u8>>>; 8] = Default::default();
    let mut s = Sequencer::new(cfg, &mut slots);
    let mut m = Model::default();
    let mut reqs = Vec::new();
    s.on_packet(0, Line::A, packet(11, 2), &mut m);
    assert_eq!(s.state(), FeedState::Backfilling);
    s.poll(0, &mut m, &mut |r| {
        reqs.push(r);
        true
    });
    assert_eq!(
        reqs,
        [Request {
            server: 0,
            seq: 1,
            count: 4
        }]
    );
    s.on_packet(1, Line::A, packet(13, 1), &mut m);
    for (seq, n) in [(1, 4), (5, 4), (9, 2)] {
        s.on_packet(2, Line::Recovery, packet(seq, n), &mut m);
    }
    assert_eq!(m.applied, (1..=13).collect::<Vec<_>>());
    assert_eq!(s.state(), FeedState::Synchronized);
    assert_eq!(s.counters().late_join_skipped, 0);
}

#[test]
fn late_join_without_backfill_says_so() {
    let mut s: Sequencer<'_, Vec<u8>> = Sequencer::new(FeedConfig::SINGLE, &mut []);
    let mut m = Model::default();
    s.on_packet(0, Line::A, packet(100, 1), &mut m);
    assert_eq!(s.counters().late_join_skipped, 99);
    assert_eq!(s.counters().lost, 0);
    assert_eq!(m.applied, [100]);
}

#[test]
fn full_buffer_gives_the_front_hole_up() {
    let cfg = FeedConfig {
        lines: 2,
        ..FeedConfig::SINGLE
    };
    let mut slots: [Option<Held<Vec<u8>>>; 2] = Default::default();
    let mut s = Sequencer::new(cfg, &mut slots);
    let mut m = Model::default();
    s.on_packet(0, Line::A, packet(1, 1), &mut m);
    s.on_packet(1, Line::A, packet(3, 1), &mut m);
    s.on_packet(2, Line::A, packet(5, 1), &mut m);
    s.on_packet(3, Line::A, packet(7, 1), &mut m); // full: 2 given up
    assert_eq!(m.lost, [(2, 1)]);
    assert_eq!(m.applied, [1, 3]);
    assert_eq!(s.counters().given_up_buffer_full, 1);
    s.on_packet(4, Line::B, packet(4, 1), &mut m);
    assert_eq!(m.applied, [1, 3, 4, 5]);
}

#[test]
fn skew_between_lines() {
    let cfg = FeedConfig {
        lines: 2,
        ..FeedConfig::SINGLE
    };
    let mut slots: [Option<Held<Vec<u8>>>; 2] = Default::default();
    let mut s = Sequencer::new(cfg, &mut slots);
    let mut m = Model::default();
    s.on_packet(1_000, Line::A, packet(1, 3), &mut m);
    assert_eq!(s.take_skew(), None);
    s.on_packet(1_700, Line::B, packet(1, 2), &mut m);
    assert_eq!(s.take_skew(), Some(700));
    assert_eq!(s.take_skew(), None);
}

/// Sequence numbers come from the wire: at the top of the range nothing
/// wraps (or panics in a build with overflow checks).
#[test]
fn sequence_numbers_at_the_top_of_the_range() {
    let cfg = FeedConfig {
        lines: 2,
        servers: 1,
        ..FeedConfig::SINGLE
    };
    let mut slots: [Option<Held<Vec<u8>>>; 4] = Default::default();
    let mut s = Sequencer::new(cfg, &mut slots);
    let mut m = Model::default();
    let top = u64::MAX - 2;
    let _ = s.on_packet(0, Line::A, packet(top, 1), &mut m);
    // In sequence, running past the end of the range.
    let _ = s.on_packet(1, Line::A, packet(top + 1, 5), &mut m);
    // Ahead (held), then a copy on B.
    let _ = s.on_packet(2, Line::A, packet(u64::MAX, 3), &mut m);
    let _ = s.on_packet(3, Line::B, packet(top, 4), &mut m);
    s.poll(10_000_000_000, &mut m, &mut |_| true);
    assert_eq!(s.expected(), u64::MAX);
    assert_eq!(m.applied[..2], [top, top + 1]);
    assert_eq!(s.held(), 0);
}
