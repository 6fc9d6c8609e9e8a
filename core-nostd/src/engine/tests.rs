//! Engine behaviour on hand-built messages.

use super::*;
use std::vec::Vec;

const MS: u64 = 1_000_000;

fn hdr(t: u8, locate: u16, ts: u64) -> Vec<u8> {
    let mut v = std::vec![t];
    v.extend_from_slice(&locate.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&ts.to_be_bytes()[2..]);
    v
}
fn stock(s: &str) -> [u8; 8] {
    let mut b = [b' '; 8];
    b[..s.len()].copy_from_slice(s.as_bytes());
    b
}
fn r(locate: u16, ts: u64, sym: &str) -> Vec<u8> {
    let mut v = hdr(b'R', locate, ts);
    v.extend_from_slice(&stock(sym));
    v.extend_from_slice(&[
        b'Q', b'N', 0, 0, 0, 100, b'N', b'C', b'Z', b' ', b'P', b'N', b'N', b'1', b'N', 0, 0, 0, 0,
        b'N',
    ]);
    v
}
fn a(locate: u16, ts: u64, oref: u64, side: u8, shares: u32, price: u32) -> Vec<u8> {
    let mut v = hdr(b'A', locate, ts);
    v.extend_from_slice(&oref.to_be_bytes());
    v.push(side);
    v.extend_from_slice(&shares.to_be_bytes());
    v.extend_from_slice(&stock("SYM"));
    v.extend_from_slice(&price.to_be_bytes());
    v
}
fn e(ts: u64, oref: u64, shares: u32) -> Vec<u8> {
    let mut v = hdr(b'E', 1, ts);
    v.extend_from_slice(&oref.to_be_bytes());
    v.extend_from_slice(&shares.to_be_bytes());
    v.extend_from_slice(&9u64.to_be_bytes());
    v
}
fn c(ts: u64, oref: u64, shares: u32, printable: u8, price: u32) -> Vec<u8> {
    let mut v = e(ts, oref, shares);
    v[0] = b'C';
    v.push(printable);
    v.extend_from_slice(&price.to_be_bytes());
    v
}
fn x(ts: u64, oref: u64, shares: u32) -> Vec<u8> {
    let mut v = hdr(b'X', 1, ts);
    v.extend_from_slice(&oref.to_be_bytes());
    v.extend_from_slice(&shares.to_be_bytes());
    v
}
fn d(ts: u64, oref: u64) -> Vec<u8> {
    let mut v = hdr(b'D', 1, ts);
    v.extend_from_slice(&oref.to_be_bytes());
    v
}
fn u(ts: u64, old: u64, new: u64, shares: u32, price: u32) -> Vec<u8> {
    let mut v = hdr(b'U', 1, ts);
    v.extend_from_slice(&old.to_be_bytes());
    v.extend_from_slice(&new.to_be_bytes());
    v.extend_from_slice(&shares.to_be_bytes());
    v.extend_from_slice(&price.to_be_bytes());
    v
}
fn p(locate: u16, ts: u64, shares: u32, price: u32) -> Vec<u8> {
    let mut v = hdr(b'P', locate, ts);
    v.extend_from_slice(&0u64.to_be_bytes());
    v.push(b'B');
    v.extend_from_slice(&shares.to_be_bytes());
    v.extend_from_slice(&stock("SYM"));
    v.extend_from_slice(&price.to_be_bytes());
    v.extend_from_slice(&1u64.to_be_bytes());
    v
}
fn q(locate: u16, ts: u64, shares: u64, price: u32) -> Vec<u8> {
    let mut v = hdr(b'Q', locate, ts);
    v.extend_from_slice(&shares.to_be_bytes());
    v.extend_from_slice(&stock("SYM"));
    v.extend_from_slice(&price.to_be_bytes());
    v.extend_from_slice(&1u64.to_be_bytes());
    v.push(b'O');
    v
}
fn sys(ts: u64) -> Vec<u8> {
    let mut v = hdr(b'S', 0, ts);
    v.push(b'O');
    v
}

struct Store {
    orders: Vec<OrderSlot>,
    levels: Vec<Level>,
    symbols: Vec<SymbolState>,
    vwap: Vec<VwapBucket>,
}

fn small() -> EngineConfig {
    EngineConfig {
        max_orders: 1000,
        max_levels: 4096,
        max_locates: 16,
        ..EngineConfig::default()
    }
}

impl Store {
    fn new(cfg: &EngineConfig) -> Self {
        let s = cfg.storage_sizes().unwrap();
        Self {
            orders: std::vec![OrderSlot::EMPTY; s.order_slots],
            levels: std::vec![Level::default(); s.levels],
            symbols: std::vec![SymbolState::default(); s.symbols],
            vwap: std::vec![VwapBucket::default(); s.vwap_buckets],
        }
    }
    fn engine(&mut self, cfg: &EngineConfig) -> Engine<'_> {
        Engine::new(
            cfg,
            Storage {
                orders: &mut self.orders,
                levels: &mut self.levels,
                symbols: &mut self.symbols,
                vwap: &mut self.vwap,
            },
        )
        .unwrap()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Snap {
    b: u64,
    locate: u16,
    sym: Vec<u8>,
    bid: Option<Quote>,
    ask: Option<Quote>,
    vwap: u64,
    vol: u64,
}

fn run(eng: &mut Engine<'_>, msgs: &[Vec<u8>]) -> Vec<Snap> {
    let mut out = Vec::new();
    let mut sink = |s: &Snapshot<'_>| {
        out.push(Snap {
            b: s.boundary_ns,
            locate: s.locate,
            sym: s.symbol.to_vec(),
            bid: s.bid,
            ask: s.ask,
            vwap: s.vwap,
            vol: s.volume,
        })
    };
    for m in msgs {
        eng.on_message(m, &mut sink).unwrap();
    }
    out
}

fn quote(price: u32, shares: u64) -> Option<Quote> {
    Some(Quote { price, shares })
}

#[test]
fn book_semantics() {
    let cfg = small();
    let mut st = Store::new(&cfg);
    let mut eng = st.engine(&cfg);
    run(
        &mut eng,
        &[
            r(1, 1, "AAPL"),
            a(1, 2, 10, b'B', 100, 1_000_000),
            a(1, 3, 11, b'B', 200, 1_000_000),
            a(1, 4, 12, b'B', 50, 999_900),
            a(1, 5, 20, b'S', 300, 1_000_100),
        ],
    );
    assert_eq!(eng.best_bid(1), quote(1_000_000, 300));
    assert_eq!(eng.best_ask(1), quote(1_000_100, 300));
    run(&mut eng, &[e(6, 10, 40), x(7, 11, 50)]);
    assert_eq!(eng.best_bid(1), quote(1_000_000, 210));
    run(&mut eng, &[d(8, 10), d(9, 11)]);
    assert_eq!(eng.best_bid(1), quote(999_900, 50));
    // Replace moves the order: new ref, new price and shares, same side.
    run(&mut eng, &[u(10, 12, 13, 70, 1_000_050)]);
    assert_eq!(eng.best_bid(1), quote(1_000_050, 70));
    assert_eq!(eng.bid_levels(1).len(), 1);
    // C executes at its own price and reduces the order.
    run(&mut eng, &[c(11, 20, 100, b'Y', 1_000_200)]);
    assert_eq!(eng.best_ask(1), quote(1_000_100, 200));
    // Unknown refs are ignored and counted; oversized reductions remove the order.
    run(&mut eng, &[d(12, 999), e(13, 999, 1), x(14, 13, 1000)]);
    assert_eq!(eng.counters().unknown_ref, 2);
    assert_eq!(eng.counters().oversized_reductions, 1);
    assert_eq!(eng.best_bid(1), None);
    assert_eq!(eng.live_orders(), 1);
    assert_eq!(eng.symbol(1), b"AAPL");
    // Rejected and duplicate adds.
    run(
        &mut eng,
        &[
            a(1, 15, 20, b'B', 1, 1),
            a(1, 16, 30, b'B', 0, 1),
            a(1, 17, 31, b'Z', 1, 1),
            a(1, 18, 0, b'B', 1, 1),
        ],
    );
    assert_eq!(eng.counters().duplicate_ref, 1);
    assert_eq!(eng.counters().rejected_adds, 3);
    assert_eq!(eng.counters().book_mismatch, 0);
    assert_eq!(eng.counters().messages_applied, 18);
}

#[test]
fn emission_schedule_and_vwap() {
    let cfg = small();
    let mut st = Store::new(&cfg);
    let mut eng = st.engine(&cfg);
    // First message at 50 ms: first boundary 100 ms.
    let snaps = run(
        &mut eng,
        &[
            sys(50 * MS),
            r(2, 51 * MS, "BBB"),
            r(1, 52 * MS, "AAA"),
            a(2, 60 * MS, 1, b'B', 100, 500_000),
            a(1, 61 * MS, 2, b'S', 100, 700_000),
            e(70 * MS, 1, 10),          // locate 2: 10 @ 50.0000
            p(2, 80 * MS, 20, 500_001), // locate 2: 20 @ 50.0001
            c(90 * MS, 2, 5, b'N', 1),  // locate 1: non-printable, not in VWAP
            q(1, 100 * MS, 0, 1),       // at boundary 100 ms: emitted first; 0 shares ignored
        ],
    );
    // Only locate 2 had VWAP executions in [-, 100ms).
    // VWAP = (10×500000 + 20×500001) / 30 = 500000.666… -> 500001
    assert_eq!(
        snaps,
        std::vec![Snap {
            b: 100 * MS,
            locate: 2,
            sym: b"BBB".to_vec(),
            bid: quote(500_000, 90),
            ask: None,
            vwap: 500_001,
            vol: 30
        }]
    );
    // An execution on locate 1 at 150 ms; the next message at 320 ms emits
    // 200 and 300 ms for both, in locate order.
    let snaps = run(&mut eng, &[p(1, 150 * MS, 10, 700_000), sys(320 * MS)]);
    let bs: Vec<(u64, u16)> = snaps.iter().map(|s| (s.b, s.locate)).collect();
    assert_eq!(
        bs,
        std::vec![(200 * MS, 1), (200 * MS, 2), (300 * MS, 1), (300 * MS, 2)]
    );
    assert_eq!(snaps[0].ask, quote(700_000, 95));
    // Window is 1 s: locate 2's executions (70, 80 ms) are last in the window
    // of 1.0 s, locate 1's (150 ms) in that of 1.1 s ([100 ms, 1.1 s)).
    let snaps = run(&mut eng, &[sys(1_150 * MS)]);
    let last: Vec<(u64, u16)> = snaps
        .iter()
        .rev()
        .take(3)
        .map(|s| (s.b, s.locate))
        .collect();
    assert_eq!(
        last,
        std::vec![(1_100 * MS, 1), (1_000 * MS, 2), (1_000 * MS, 1)]
    );
    // Quiet hours: nothing left in any window, so nothing is emitted and the
    // boundaries up to the next message are skipped without work.
    let snaps = run(&mut eng, &[sys(3_600_000 * MS)]);
    assert!(snaps.is_empty(), "{snaps:?}");
    assert_eq!(eng.next_boundary(), Some(3_600_100 * MS));
}

#[test]
fn sequencing_gaps_duplicates_and_malformed() {
    let cfg = small();
    let mut st = Store::new(&cfg);
    let mut eng = st.engine(&cfg);
    let mut sink = |_: &Snapshot<'_>| {};
    let pkt = |seq: u64, msgs: &[Vec<u8>]| {
        let mut v = b"SESSION001".to_vec();
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&(msgs.len() as u16).to_be_bytes());
        for m in msgs {
            v.extend_from_slice(&(m.len() as u16).to_be_bytes());
            v.extend_from_slice(m);
        }
        v
    };
    let mut feed = |eng: &mut Engine<'_>, bytes: &[u8]| {
        eng.on_packet(&MoldPacket::new_checked(bytes).unwrap(), &mut sink)
    };
    let m = |i: u64| a(1, i, i, b'B', 1, 100);
    assert_eq!(
        feed(&mut eng, &pkt(100, &[m(1), m(2)])),
        PacketOutcome::Applied
    );
    assert_eq!(feed(&mut eng, &pkt(102, &[m(3)])), PacketOutcome::Applied);
    // Gap: 103, 104 missing.
    assert_eq!(
        feed(&mut eng, &pkt(105, &[m(6), m(7)])),
        PacketOutcome::GapOpening
    );
    assert_eq!(eng.counters().messages_missing, 2);
    // Whole duplicate, then partial duplicate (107 is new).
    assert_eq!(
        feed(&mut eng, &pkt(105, &[m(6), m(7)])),
        PacketOutcome::Duplicate
    );
    assert_eq!(
        feed(&mut eng, &pkt(106, &[m(7), m(8)])),
        PacketOutcome::Applied
    );
    assert_eq!(eng.counters().messages_duplicate, 3);
    assert_eq!(eng.live_orders(), 6);
    // Malformed message in the middle: the one before and after still apply.
    let mut bad = m(10);
    bad[0] = b'~';
    let out = feed(&mut eng, &pkt(108, &[m(9), bad, m(11)]));
    assert_eq!(
        out,
        PacketOutcome::Malformed(WireError::ItchUnknownType(b'~'))
    );
    assert_eq!(eng.live_orders(), 8);
    // Block overrun: the good first message applies, the rest of the count is lost.
    let mut cut = pkt(111, &[m(12), m(13), m(14)]);
    cut.truncate(cut.len() - 40);
    assert_eq!(
        feed(&mut eng, &cut),
        PacketOutcome::Malformed(WireError::MoldBlockOverrun)
    );
    assert_eq!(eng.live_orders(), 9);
    assert_eq!(eng.counters().messages_malformed, 1 + 2);
    // The next packet continues at 114 without a gap.
    assert_eq!(feed(&mut eng, &pkt(114, &[m(15)])), PacketOutcome::Applied);
    // A heartbeat announcing 117 reveals a gap of 2.
    assert_eq!(feed(&mut eng, &pkt(117, &[])), PacketOutcome::GapOpening);
    assert_eq!(eng.counters().messages_missing, 4);
    let c = *eng.counters();
    assert_eq!(
        (
            c.packets_applied,
            c.packets_gap,
            c.packets_duplicate,
            c.packets_malformed
        ),
        (4, 2, 1, 2)
    );
    assert_eq!(c.heartbeats, 1);
    assert_eq!(c.messages_applied, 10);
}

#[test]
fn capacity_exhaustion_is_counted_and_survived() {
    let cfg = EngineConfig {
        max_orders: 4,
        max_levels: 8,
        max_locates: 4,
        ..EngineConfig::default()
    };
    let mut st = Store::new(&cfg);
    let mut eng = st.engine(&cfg);
    let msgs: Vec<Vec<u8>> = (1..=6)
        .map(|i| a(1, i, i, b'B', 10, 100 + i as u32))
        .collect();
    run(&mut eng, &msgs);
    assert_eq!(eng.live_orders(), 4);
    assert_eq!(eng.counters().orders_refused_full, 2);
    // Levels: 8 levels of arena; the bid side holds 4 in its 8-segment; a
    // second side needs another segment, which does not fit.
    run(&mut eng, &[d(7, 1), a(1, 8, 100, b'S', 10, 900)]);
    assert_eq!(eng.counters().levels_refused_full, 1);
    assert_eq!(eng.best_ask(1), None);
    assert_eq!(eng.live_orders(), 3);
    // Locate beyond max_locates.
    run(&mut eng, &[a(9, 9, 200, b'B', 1, 1)]);
    assert_eq!(eng.counters().locate_out_of_range, 1);
    assert_eq!(
        eng.best_bid(1),
        quote(104, 10),
        "refs 5 and 6 were the refused ones"
    );
}

#[test]
fn storage_checks() {
    let cfg = small();
    let mut st = Store::new(&cfg);
    st.levels.truncate(10);
    let err = Engine::new(
        &cfg,
        Storage {
            orders: &mut st.orders,
            levels: &mut st.levels,
            symbols: &mut st.symbols,
            vwap: &mut st.vwap,
        },
    )
    .unwrap_err();
    assert_eq!(err, ConfigError::StorageTooSmall);
    assert_eq!(
        EngineConfig {
            interval_ns: 0,
            ..small()
        }
        .storage_sizes(),
        Err(ConfigError::BadWindow)
    );
    let full = EngineConfig::default().storage_sizes().unwrap();
    assert_eq!(full.order_slots, 8 << 20);
    assert!(full.bytes() < 300 << 20, "{}", full.bytes());
}

/// A sink that wants book records and keeps them, refusing every record
/// while `refuse` is set.
struct Records {
    depth: usize,
    got: Vec<BookRecord>,
    dirs: Vec<(u16, [u8; 8])>,
    refuse: bool,
}

impl SnapshotSink for Records {
    fn on_snapshot(&mut self, _: &Snapshot<'_>) {}
    fn record_depth(&self) -> usize {
        self.depth
    }
    fn on_record(&mut self, fill: impl FnOnce(&mut BookRecord)) -> bool {
        if self.refuse {
            return false;
        }
        let mut r = BookRecord::EMPTY;
        fill(&mut r);
        self.got.push(r);
        true
    }
    fn on_directory(&mut self, locate: u16, symbol: &[u8; 8]) {
        self.dirs.push((locate, *symbol));
    }
}

#[test]
fn book_records_follow_changes_and_windows() {
    let cfg = small();
    let mut st = Store::new(&cfg);
    let mut eng = st.engine(&cfg);
    let mut sink = Records {
        depth: 2,
        got: Vec::new(),
        dirs: Vec::new(),
        refuse: false,
    };
    // Records are owed at a boundary and handed out when asked: here at
    // once after every message.
    let feed = |eng: &mut Engine<'_>, sink: &mut Records, m: Vec<u8>| {
        eng.apply_bytes(&m, sink).unwrap();
        eng.emit_pending(usize::MAX, sink);
    };
    feed(&mut eng, &mut sink, r(1, MS, "AAPL"));
    assert_eq!(sink.dirs, std::vec![(1, stock("AAPL"))]);
    feed(&mut eng, &mut sink, a(1, 10 * MS, 1, b'B', 100, 1_000_000));
    feed(&mut eng, &mut sink, a(1, 11 * MS, 2, b'B', 50, 1_010_000));
    feed(&mut eng, &mut sink, a(1, 12 * MS, 3, b'B', 70, 990_000));
    feed(&mut eng, &mut sink, a(1, 13 * MS, 4, b'S', 10, 1_020_000));
    feed(&mut eng, &mut sink, a(2, 14 * MS, 5, b'S', 10, 2_020_000));
    assert!(sink.got.is_empty());
    // Crossing the 100 ms boundary: one record per changed locate.
    feed(&mut eng, &mut sink, sys(150 * MS));
    assert_eq!(sink.got.len(), 2);
    let r1 = sink.got[0];
    assert_eq!(
        (r1.boundary_ns, r1.locate, r1.symbol()),
        (100 * MS, 1, &b"AAPL"[..])
    );
    let bids: Vec<(u32, u32, u64)> = r1
        .bids()
        .iter()
        .map(|l| (l.price, l.orders, l.shares))
        .collect();
    assert_eq!(bids, std::vec![(1_010_000, 1, 50), (1_000_000, 1, 100)]);
    assert_eq!(
        (r1.ask_count, r1.asks[0].price, r1.volume),
        (1, 1_020_000, 0)
    );
    assert_eq!(sink.got[1].locate, 2);
    // Nothing changed: the next boundaries send nothing.
    feed(&mut eng, &mut sink, sys(450 * MS));
    assert_eq!(sink.got.len(), 2);
    // An execution: the book and the window change; the window then holds
    // it for 1 s, one record per boundary, and one more when it empties.
    feed(&mut eng, &mut sink, e(460 * MS, 2, 20));
    feed(&mut eng, &mut sink, sys(2_000 * MS));
    let after: Vec<&BookRecord> = sink.got[2..].iter().collect();
    assert_eq!(after.len(), 11, "{after:?}");
    assert_eq!(
        (after[0].boundary_ns, after[0].volume, after[0].vwap),
        (500 * MS, 20, 1_010_000)
    );
    assert_eq!(after[0].bids[0].shares, 30);
    assert_eq!((after[10].boundary_ns, after[10].volume), (1_500 * MS, 0));
    assert_eq!(eng.counters().records, 13);
    // A refused record stays due and goes out at the next boundary.
    sink.refuse = true;
    feed(&mut eng, &mut sink, d(2_010 * MS, 1));
    feed(&mut eng, &mut sink, sys(2_150 * MS));
    assert_eq!(eng.counters().records_refused, 1);
    sink.refuse = false;
    feed(&mut eng, &mut sink, sys(2_250 * MS));
    let last = sink.got.last().unwrap();
    assert_eq!((last.boundary_ns, last.bid_count), (2_200 * MS, 2));
    assert_eq!(last.bids[1].price, 990_000);
}

#[test]
fn owed_records_show_the_boundary_state_even_when_written_late() {
    let cfg = small();
    let mut st = Store::new(&cfg);
    let mut eng = st.engine(&cfg);
    let mut sink = Records {
        depth: 10,
        got: Vec::new(),
        dirs: Vec::new(),
        refuse: false,
    };
    for l in 1..=5u16 {
        eng.apply_bytes(
            &a(l, 10 * MS, u64::from(l), b'B', 100, 1_000_000),
            &mut sink,
        )
        .unwrap();
    }
    // The boundary at 100 ms: five records owed, none written yet.
    eng.apply_bytes(&sys(150 * MS), &mut sink).unwrap();
    assert!(eng.has_pending());
    assert!(sink.got.is_empty());
    // Two written by the poll loop's budget, in locate order.
    assert_eq!(eng.emit_pending(2, &mut sink), 2);
    assert_eq!(
        sink.got.iter().map(|r| r.locate).collect::<Vec<_>>(),
        [1, 2]
    );
    // A message about to change locate 4 writes its record first, with the
    // book as it was at the boundary (100 shares, not 0).
    eng.apply_bytes(&d(160 * MS, 4), &mut sink).unwrap();
    let r4 = sink.got.last().unwrap();
    assert_eq!(
        (r4.locate, r4.boundary_ns, r4.bids()[0].shares),
        (4, 100 * MS, 100)
    );
    // The rest, then nothing more owed.
    assert_eq!(eng.emit_pending(usize::MAX, &mut sink), 2);
    assert!(!eng.has_pending());
    let order: Vec<u16> = sink.got.iter().map(|r| r.locate).collect();
    assert_eq!(order, [1, 2, 4, 3, 5]);
    // The next boundary owes locate 4 (its delete) and writes what the
    // previous one still owed first, whole.
    eng.apply_bytes(&a(6, 170 * MS, 6, b'S', 1, 2_000_000), &mut sink)
        .unwrap();
    eng.apply_bytes(&sys(250 * MS), &mut sink).unwrap();
    eng.apply_bytes(&sys(350 * MS), &mut sink).unwrap();
    assert_eq!(
        sink.got.len(),
        7,
        "the 200 ms records came out when 300 ms opened"
    );
    assert_eq!((sink.got[5].locate, sink.got[5].bid_count), (4, 0));
    assert_eq!((sink.got[6].locate, sink.got[6].ask_count), (6, 1));
    assert_eq!(eng.counters().records, 7);
}

/// Issue 9: a Cross with shares near 2^64 overflowed the window volume (a
/// debug build panicked in vwap.rs, a release build silently dropped the
/// symbol's snapshots).
#[test]
fn cross_shares_near_2_pow_64_are_refused_and_counted() {
    let cfg = small();
    let mut st = Store::new(&cfg);
    let mut eng = st.engine(&cfg);
    let out = run(
        &mut eng,
        &[
            p(1, 10 * MS, 100, 1_000_000),
            q(1, 20 * MS, u64::MAX - 1, 1_000_000),
            q(1, 30 * MS, u64::MAX, 1_000_000),
            p(1, 40 * MS, 100, 1_000_000),
            sys(200 * MS),
        ],
    );
    assert_eq!(eng.counters().implausible_shares, 2);
    assert_eq!(eng.counters().vwap_executions, 2);
    // Boundaries 100 and 200 ms both see the two trades, nothing else.
    assert_eq!(out.len(), 2, "{out:?}");
    for s in &out {
        assert_eq!((s.vwap, s.vol), (1_000_000, 200));
    }
}

/// Time never goes back: an earlier or out-of-day timestamp is applied at the
/// latest one, counted; boundaries are not emitted again.
#[test]
fn timestamps_backwards_or_beyond_the_day_are_applied_at_the_latest_time() {
    let cfg = small();
    let mut st = Store::new(&cfg);
    let mut eng = st.engine(&cfg);
    let out = run(
        &mut eng,
        &[
            p(1, 150 * MS, 100, 1_000_000),
            // Back before the first boundary (200 ms): counted, applied at 150 ms.
            p(1, 10 * MS, 100, 2_000_000),
            a(1, 20 * MS, 7, b'B', 10, 900_000),
            // 2^48 - 1 ns is 78 hours: applied at 150 ms, no boundary emitted.
            p(1, (1 << 48) - 1, 200, 3_000_000),
            q(1, DAY_NS, 0, 1),
            sys(250 * MS),
        ],
    );
    let c = eng.counters();
    assert_eq!((c.timestamp_backwards, c.timestamp_out_of_day), (2, 2));
    assert_eq!(c.messages_applied, 6);
    assert_eq!(eng.best_bid(1), quote(900_000, 10));
    // One boundary (200 ms), all three trades in its window.
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].b, 200 * MS);
    assert_eq!((out[0].vwap, out[0].vol), (2_250_000, 400));
    // Time stays at 250 ms: a message at 260 ms emits nothing, one at 300 ms
    // emits 300 ms only.
    let out = run(&mut eng, &[sys(260 * MS), sys(240 * MS), sys(300 * MS)]);
    assert_eq!(out.iter().map(|s| s.b).collect::<Vec<_>>(), [300 * MS]);
    assert_eq!(eng.counters().timestamp_backwards, 3);
}

/// Executions at price 0 do not count toward VWAP (counted); a C still
/// reduces its order.
#[test]
fn executions_at_price_zero_are_refused_for_vwap() {
    let cfg = small();
    let mut st = Store::new(&cfg);
    let mut eng = st.engine(&cfg);
    let out = run(
        &mut eng,
        &[
            a(1, MS, 5, b'S', 100, 1_000_000),
            c(2 * MS, 5, 30, b'Y', 0),
            p(1, 3 * MS, 10, 0),
            q(1, 4 * MS, 10, 0),
            e(5 * MS, 5, 10),
            a(1, 6 * MS, 6, b'B', u32::MAX, u32::MAX - 1),
            e(7 * MS, 6, u32::MAX),
            sys(100 * MS),
        ],
    );
    let c = eng.counters();
    assert_eq!((c.implausible_price, c.implausible_shares), (3, 0));
    assert_eq!(c.vwap_executions, 2);
    assert_eq!(eng.best_ask(1), quote(1_000_000, 60));
    assert_eq!(eng.best_bid(1), None);
    assert_eq!(out.len(), 1);
    let n = 10 * 1_000_000u128 + u128::from(u32::MAX) * u128::from(u32::MAX - 1);
    let v = 10 + u128::from(u32::MAX);
    assert_eq!(u128::from(out[0].vwap), (2 * n + v) / (2 * v));
    assert_eq!(out[0].vol, v as u64);
}

#[test]
fn records_carry_the_session_sequence_and_time_of_the_last_message_before_the_boundary() {
    let cfg = small();
    let mut st = Store::new(&cfg);
    let mut eng = st.engine(&cfg);
    let mut sink = Records {
        depth: 1,
        got: Vec::new(),
        dirs: Vec::new(),
        refuse: false,
    };
    let pkt = |seq: u64, msgs: &[Vec<u8>]| {
        let mut v = b"SESSION001".to_vec();
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&(msgs.len() as u16).to_be_bytes());
        for m in msgs {
            v.extend_from_slice(&(m.len() as u16).to_be_bytes());
            v.extend_from_slice(m);
        }
        v
    };
    let feed = |eng: &mut Engine<'_>, sink: &mut Records, bytes: Vec<u8>| {
        eng.on_packet(&MoldPacket::new_checked(&bytes[..]).unwrap(), sink);
        eng.emit_pending(usize::MAX, sink);
    };
    feed(&mut eng, &mut sink, pkt(7, &[r(1, MS, "AAPL")]));
    // Seq 8 and 9 change the book before 100 ms; seq 10 (in the same
    // packet) crosses the boundary.
    feed(
        &mut eng,
        &mut sink,
        pkt(
            8,
            &[
                a(1, 10 * MS, 1, b'B', 100, 1_000_000),
                a(1, 20 * MS, 2, b'S', 100, 1_010_000),
                sys(150 * MS),
            ],
        ),
    );
    assert_eq!(sink.got.len(), 1);
    let rec = sink.got[0];
    assert_eq!(rec.boundary_ns, 100 * MS);
    assert_eq!(
        rec.origin,
        Origin {
            session: *b"SESSION001",
            seq: 9,
            event_ns: 20 * MS
        }
    );
    assert!(!rec.stale);
    // A loss marks the book stale; the next record says so.
    eng.on_lost(3);
    feed(
        &mut eng,
        &mut sink,
        pkt(14, &[a(1, 160 * MS, 3, b'B', 5, 1_000_100), sys(250 * MS)]),
    );
    let rec = *sink.got.last().unwrap();
    assert_eq!(
        (rec.boundary_ns, rec.origin.seq, rec.stale),
        (200 * MS, 14, true)
    );
    assert_eq!(rec.origin.event_ns, 160 * MS);
    // Framed by a file (no MoldUDP64): the sequence stays what it was.
    let mut file_eng = Store::new(&cfg);
    let mut file_eng = file_eng.engine(&cfg);
    let mut sink2 = Records {
        depth: 1,
        got: Vec::new(),
        dirs: Vec::new(),
        refuse: false,
    };
    for m in [a(1, 10 * MS, 1, b'B', 1, 100), sys(150 * MS)] {
        file_eng.on_message(&m, &mut sink2).unwrap();
        file_eng.emit_pending(usize::MAX, &mut sink2);
    }
    assert_eq!(
        sink2.got[0].origin,
        Origin {
            session: [0; 10],
            seq: 0,
            event_ns: 10 * MS
        }
    );
}
