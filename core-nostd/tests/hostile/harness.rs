//! Hostile-feed harness shared by the engine fuzz target
//! (`fuzz/fuzz_targets/engine.rs`) and the property test
//! (`core-nostd/tests/hostile.rs`), issue 9.
//!
//! Any byte string decodes into a sequence of structurally valid ITCH 5.0
//! messages (exact specification lengths) whose fields are adversarial:
//! order references from a tiny pool (they collide and are reused), shares
//! and prices at 0, 1, their type's maximum and near it, Cross shares near
//! 2^64, timestamps that jump back, to the end of the day and to 2^48 - 1,
//! locates at the edges of small tables. The messages go through one
//! [`Engine`] with small tables next to a model of the documented contract
//! (`docs/semantics.md`); after every message the harness asserts (panics):
//!
//! - the book (every level of every side of every locate) equals the model;
//! - the refusal counters moved exactly as the model says (each refusal
//!   counted in its own bucket, nothing else), `book_mismatch`, `vwap_overflow`
//!   and the `snapshots_skipped_*` counters stay 0;
//! - the snapshots emitted are exactly the model's: every boundary, every
//!   locate with executions in its window, best bid and offer, window volume
//!   and VWAP `(2N + V) / (2V)` (so within the window's price range).
//!
//! Build it with overflow checks (tests and the fuzz build have them): any
//! wrapping arithmetic panics.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::vec::Vec;
use tickwire_core::book::{Level, OrderSlot, SymbolState};
use tickwire_core::engine::{Counters, Engine, EngineConfig, Snapshot, Storage, DAY_NS};
use tickwire_core::vwap::VwapBucket;
use tickwire_core::wire::itch;

/// Order references: colliding in the table (all hash to few slots) and
/// at the edges (0 is refused, u64::MAX).
const REFS: [u64; 8] = [0, 1, 2, 9, 17, u64::MAX, 1 << 63, 8];
const MS: u64 = 1_000_000;
/// Locates: `MAX_LOCATES` of them, plus out-of-range ones.
const MAX_LOCATES: usize = 4;
const LOCATES: [u16; 6] = [0, 1, 3, 4, 65535, 2];

/// Pulls adversarial fields out of the fuzz input; 0 once it runs out.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) << 32 | u64::from(self.u32())
    }
    fn shares32(&mut self) -> u32 {
        match self.byte() % 8 {
            0 => 0,
            1 => 1,
            2 => u32::MAX,
            3 => u32::MAX - 1,
            4 => u32::from(self.u16()),
            5 => self.u32(),
            _ => 1 + u32::from(self.byte()),
        }
    }
    fn shares64(&mut self) -> u64 {
        match self.byte() % 10 {
            0 => 0,
            1 => 1,
            2 => u64::MAX,
            3 => u64::MAX - 1,
            4 => u64::from(u32::MAX),
            5 => u64::from(u32::MAX) + 1,
            6 => 1 << 63,
            7 => self.u64(),
            _ => 1 + u64::from(self.byte()),
        }
    }
    /// Prices mostly on a small grid (levels collide), sometimes at the edges.
    fn price(&mut self) -> u32 {
        match self.byte() % 8 {
            0 => 0,
            1 => 1,
            2 => u32::MAX,
            3 => u32::MAX - 1,
            4 => self.u32(),
            _ => 1_000_000 + 100 * u32::from(self.byte() % 8),
        }
    }
    fn order_ref(&mut self) -> u64 {
        REFS[usize::from(self.byte()) % REFS.len()]
    }
    fn locate(&mut self) -> u16 {
        match self.byte() {
            b @ 0..=127 => LOCATES[usize::from(b) % LOCATES.len()],
            _ => 1,
        }
    }
    fn side(&mut self) -> u8 {
        match self.byte() % 8 {
            0..=2 => b'B',
            3..=5 => b'S',
            6 => 0,
            _ => self.byte(),
        }
    }
    /// The next timestamp: mostly forward by a little, sometimes back, to
    /// the end of the day, past it, or to 2^48 - 1.
    fn timestamp(&mut self, clock: &mut u64) -> u64 {
        match self.byte() % 32 {
            0 | 1 => clock.saturating_sub(u64::from(self.byte()) * MS),
            2 => (1 << 48) - 1,
            3 if self.byte().is_multiple_of(8) => DAY_NS - 1 - u64::from(self.byte() % 4),
            4 => DAY_NS + u64::from(self.byte()),
            5 => 0,
            6 => {
                *clock += u64::from(self.u16()) * MS;
                *clock
            }
            _ => {
                *clock += u64::from(self.byte()) * MS / 4;
                *clock
            }
        }
    }
}

/// A message: type, locate, timestamp, then the body.
fn header(t: u8, locate: u16, ts: u64) -> Vec<u8> {
    let mut v = std::vec![t];
    v.extend_from_slice(&locate.to_be_bytes());
    v.extend_from_slice(&[0, 7]);
    v.extend_from_slice(&ts.to_be_bytes()[2..]);
    v
}

const STOCK: [u8; 8] = *b"HOST    ";

/// One decoded message with the fields the model needs.
#[derive(Debug, Clone)]
enum Msg {
    Add {
        locate: u16,
        oref: u64,
        side: u8,
        shares: u32,
        price: u32,
    },
    Exec {
        oref: u64,
        shares: u32,
        c_price: Option<(bool, u32)>,
    },
    Cancel {
        oref: u64,
        shares: u32,
    },
    Delete {
        oref: u64,
    },
    Replace {
        old: u64,
        new: u64,
        shares: u32,
        price: u32,
    },
    Trade {
        locate: u16,
        shares: u64,
        price: u32,
    },
    Directory {
        locate: u16,
    },
    Other,
}

fn next_message(inp: &mut Input<'_>, clock: &mut u64) -> (Vec<u8>, Msg, u64) {
    let kind = match inp.byte() % 20 {
        k @ 0..=13 => k,
        14..=16 => 0,
        _ => 2 + inp.byte() % 5,
    };
    let ts = inp.timestamp(clock);
    let (t, m) = match kind {
        0 | 1 => (
            if kind == 0 { b'A' } else { b'F' },
            Msg::Add {
                locate: inp.locate(),
                oref: inp.order_ref(),
                side: inp.side(),
                shares: inp.shares32(),
                price: inp.price(),
            },
        ),
        2 => (
            b'E',
            Msg::Exec {
                oref: inp.order_ref(),
                shares: inp.shares32(),
                c_price: None,
            },
        ),
        3 => {
            let (oref, shares) = (inp.order_ref(), inp.shares32());
            let printable = !inp.byte().is_multiple_of(4);
            (
                b'C',
                Msg::Exec {
                    oref,
                    shares,
                    c_price: Some((printable, inp.price())),
                },
            )
        }
        4 => (
            b'X',
            Msg::Cancel {
                oref: inp.order_ref(),
                shares: inp.shares32(),
            },
        ),
        5 => (
            b'D',
            Msg::Delete {
                oref: inp.order_ref(),
            },
        ),
        6 => (
            b'U',
            Msg::Replace {
                old: inp.order_ref(),
                new: inp.order_ref(),
                shares: inp.shares32(),
                price: inp.price(),
            },
        ),
        7 => (
            b'P',
            Msg::Trade {
                locate: inp.locate(),
                shares: u64::from(inp.shares32()),
                price: inp.price(),
            },
        ),
        8 | 9 => (
            b'Q',
            Msg::Trade {
                locate: inp.locate(),
                shares: inp.shares64(),
                price: inp.price(),
            },
        ),
        10 => (
            b'R',
            Msg::Directory {
                locate: inp.locate(),
            },
        ),
        11 => (b'S', Msg::Other),
        _ => {
            // Any other type, its exact length, body from the input.
            let others = b"HYLVWKJhIN";
            (others[usize::from(inp.byte()) % others.len()], Msg::Other)
        }
    };
    let locate = match &m {
        Msg::Add { locate, .. } | Msg::Trade { locate, .. } | Msg::Directory { locate } => *locate,
        _ => inp.locate(),
    };
    let mut v = header(t, locate, ts);
    let match_no = u64::from(inp.byte());
    match &m {
        Msg::Add {
            oref,
            side,
            shares,
            price,
            ..
        } => {
            v.extend_from_slice(&oref.to_be_bytes());
            v.push(*side);
            v.extend_from_slice(&shares.to_be_bytes());
            v.extend_from_slice(&STOCK);
            v.extend_from_slice(&price.to_be_bytes());
            if t == b'F' {
                v.extend_from_slice(b"MPID");
            }
        }
        Msg::Exec {
            oref,
            shares,
            c_price,
        } => {
            v.extend_from_slice(&oref.to_be_bytes());
            v.extend_from_slice(&shares.to_be_bytes());
            v.extend_from_slice(&match_no.to_be_bytes());
            if let Some((printable, price)) = c_price {
                v.push(if *printable { b'Y' } else { b'N' });
                v.extend_from_slice(&price.to_be_bytes());
            }
        }
        Msg::Cancel { oref, shares } => {
            v.extend_from_slice(&oref.to_be_bytes());
            v.extend_from_slice(&shares.to_be_bytes());
        }
        Msg::Delete { oref } => v.extend_from_slice(&oref.to_be_bytes()),
        Msg::Replace {
            old,
            new,
            shares,
            price,
        } => {
            v.extend_from_slice(&old.to_be_bytes());
            v.extend_from_slice(&new.to_be_bytes());
            v.extend_from_slice(&shares.to_be_bytes());
            v.extend_from_slice(&price.to_be_bytes());
        }
        Msg::Trade { shares, price, .. } if t == b'P' => {
            v.extend_from_slice(&match_no.to_be_bytes());
            v.push(b'B');
            v.extend_from_slice(&(*shares as u32).to_be_bytes());
            v.extend_from_slice(&STOCK);
            v.extend_from_slice(&price.to_be_bytes());
            v.extend_from_slice(&match_no.to_be_bytes());
        }
        Msg::Trade { shares, price, .. } => {
            v.extend_from_slice(&shares.to_be_bytes());
            v.extend_from_slice(&STOCK);
            v.extend_from_slice(&price.to_be_bytes());
            v.extend_from_slice(&match_no.to_be_bytes());
            v.push(b'O');
        }
        Msg::Directory { .. } | Msg::Other => {
            let len = itch::expected_length(t).unwrap_or(11);
            let fill = inp.byte();
            v.resize(len, fill);
        }
    }
    assert_eq!(
        Some(v.len()),
        itch::expected_length(t),
        "harness built a bad {}",
        t as char
    );
    (v, m, ts)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Order {
    locate: u16,
    side: u8,
    price: u32,
    shares: u32,
}

/// The refusal counters, in one array so deltas compare at once.
fn refusals(c: &Counters) -> [u64; 15] {
    [
        c.unknown_ref,
        c.oversized_reductions,
        c.duplicate_ref,
        c.rejected_adds,
        c.orders_refused_full,
        c.levels_refused_full,
        c.locate_out_of_range,
        c.book_mismatch,
        c.implausible_shares,
        c.implausible_price,
        c.vwap_overflow,
        c.timestamp_backwards,
        c.timestamp_out_of_day,
        c.snapshots_skipped_overflow,
        c.snapshots_skipped_no_volume,
    ]
}
const UNKNOWN: usize = 0;
const OVERSIZED: usize = 1;
const DUP: usize = 2;
const REJECTED: usize = 3;
const ORDERS_FULL: usize = 4;
const LEVELS_FULL: usize = 5;
const LOCATE_RANGE: usize = 6;
const IMPL_SHARES: usize = 8;
const IMPL_PRICE: usize = 9;
const BACKWARDS: usize = 11;
const OUT_OF_DAY: usize = 12;

/// The documented contract, in plain collections.
struct Model {
    orders: BTreeMap<u64, Order>,
    max_live: usize,
    /// Counted executions: (locate, time, price, shares).
    execs: Vec<(u16, u64, u32, u64)>,
    now: u64,
    next_boundary: Option<u64>,
    interval: u64,
    window: u64,
}

impl Model {
    /// (price, orders, shares) of a side, worst first (as the engine keeps them).
    fn levels(&self, locate: u16, side: u8) -> Vec<(u32, u32, u64)> {
        let mut m: BTreeMap<u32, (u32, u64)> = BTreeMap::new();
        for o in self
            .orders
            .values()
            .filter(|o| o.locate == locate && o.side == side)
        {
            let e = m.entry(o.price).or_default();
            e.0 += 1;
            e.1 += u64::from(o.shares);
        }
        let mut v: Vec<_> = m.into_iter().map(|(p, (n, s))| (p, n, s)).collect();
        if side == b'S' {
            v.reverse();
        }
        v
    }

    fn has_level(&self, locate: u16, side: u8, price: u32) -> bool {
        self.orders
            .values()
            .any(|o| o.locate == locate && o.side == side && o.price == price)
    }

    /// An add (A, F, U's new order): which counter it moves, if any;
    /// `levels_full` is the engine's say (the arena's segments are not
    /// modelled), checked to be possible.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        d: &mut [u64; 15],
        locate: u16,
        oref: u64,
        side: u8,
        shares: u32,
        price: u32,
        levels_full: bool,
    ) {
        if usize::from(locate) >= MAX_LOCATES {
            d[LOCATE_RANGE] += 1;
        } else if shares == 0 || price == 0 || (side != b'B' && side != b'S') || oref == 0 {
            d[REJECTED] += 1;
        } else if self.orders.contains_key(&oref) {
            d[DUP] += 1;
        } else if self.orders.len() >= self.max_live {
            d[ORDERS_FULL] += 1;
        } else if levels_full {
            assert!(
                !self.has_level(locate, side, price),
                "levels full for an existing level"
            );
            d[LEVELS_FULL] += 1;
        } else {
            self.orders.insert(
                oref,
                Order {
                    locate,
                    side,
                    price,
                    shares,
                },
            );
        }
    }

    fn reduce(&mut self, d: &mut [u64; 15], oref: u64, shares: u32) {
        let Some(o) = self.orders.get_mut(&oref) else {
            return;
        };
        if shares >= o.shares {
            if shares > o.shares {
                d[OVERSIZED] += 1;
            }
            self.orders.remove(&oref);
        } else {
            o.shares -= shares;
        }
    }

    fn execution(&mut self, d: &mut [u64; 15], locate: u16, t: u64, price: u32, shares: u64) {
        if shares == 0 {
            return;
        }
        if shares > u64::from(u32::MAX) {
            d[IMPL_SHARES] += 1;
        } else if price == 0 {
            d[IMPL_PRICE] += 1;
        } else if usize::from(locate) >= MAX_LOCATES {
            d[LOCATE_RANGE] += 1;
        } else {
            self.execs.push((locate, t, price, shares));
        }
    }

    /// The snapshots due before a message at `t`, and the boundary after.
    /// (`skip_init`: an out-of-day first message sets no boundary.)
    fn due(&mut self, t: u64, skip_init: bool) -> Vec<(u64, u16, u64, u64)> {
        let mut out = Vec::new();
        let i = self.interval;
        let Some(nb) = self.next_boundary else {
            if !skip_init {
                self.next_boundary = Some((t / i + 1) * i);
            }
            return out;
        };
        if t < nb {
            return out;
        }
        // Boundaries with executions in their window: b in (e, e + W].
        let mut bs = BTreeSet::new();
        for &(_, e, _, _) in &self.execs {
            let mut b = (e / i + 1) * i;
            while b <= e + self.window {
                if b >= nb && b <= t {
                    bs.insert(b);
                }
                b += i;
            }
        }
        for b in bs {
            let mut per: BTreeMap<u16, (u128, u64)> = BTreeMap::new();
            for &(l, e, p, s) in &self.execs {
                if e < b && e + self.window >= b {
                    let x = per.entry(l).or_default();
                    x.0 += u128::from(p) * u128::from(s);
                    x.1 =
                        x.1.checked_add(s)
                            .expect("the model's window volume fits u64");
                }
            }
            for (l, (n, v)) in per {
                let vw = (2 * n + u128::from(v)) / (2 * u128::from(v));
                out.push((b, l, u64::try_from(vw).unwrap(), v));
            }
        }
        self.next_boundary = Some((t / i + 1) * i);
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Snap {
    b: u64,
    locate: u16,
    bid: Option<(u32, u64)>,
    ask: Option<(u32, u64)>,
    vwap: u64,
    volume: u64,
}

/// Runs one fuzz input through the engine and the model; panics on any
/// difference. Returns the engine's counters.
pub fn run(data: &[u8]) -> Counters {
    let mut inp = Input { data };
    let cfg_byte = inp.byte();
    let interval = [MS, 100 * MS, 250 * MS, 1000 * MS][usize::from(cfg_byte & 3)];
    let window = interval * [1, 3, 5, 10][usize::from((cfg_byte >> 2) & 3)]
        / [1, 1, 2, 1][usize::from((cfg_byte >> 2) & 3)];
    let cfg = EngineConfig {
        interval_ns: interval,
        window_ns: window,
        max_orders: 4,
        max_levels: if cfg_byte & 0x10 != 0 { 16 } else { 64 },
        max_locates: MAX_LOCATES,
    };
    let sizes = cfg.storage_sizes().expect("harness config");
    let mut orders = std::vec![OrderSlot::EMPTY; sizes.order_slots];
    let mut levels = std::vec![Level::default(); sizes.levels];
    let mut symbols = std::vec![SymbolState::default(); sizes.symbols];
    let mut vwap = std::vec![VwapBucket::default(); sizes.vwap_buckets];
    let mut eng = Engine::new(
        &cfg,
        Storage {
            orders: &mut orders,
            levels: &mut levels,
            symbols: &mut symbols,
            vwap: &mut vwap,
        },
    )
    .expect("harness engine");
    let mut model = Model {
        orders: BTreeMap::new(),
        max_live: 4,
        execs: Vec::new(),
        now: 0,
        next_boundary: None,
        interval,
        window,
    };
    let mut clock = u64::from(inp.u16()) * MS;
    let mut applied = 0u64;
    while !inp.data.is_empty() {
        let (bytes, m, raw) = next_message(&mut inp, &mut clock);
        let before = *eng.counters();
        let mut got: Vec<Snap> = Vec::new();
        let mut sink = |s: &Snapshot<'_>| {
            got.push(Snap {
                b: s.boundary_ns,
                locate: s.locate,
                bid: s.bid.map(|q| (q.price, q.shares)),
                ask: s.ask.map(|q| (q.price, q.shares)),
                vwap: s.vwap,
                volume: s.volume,
            })
        };
        eng.on_message(&bytes, &mut sink)
            .expect("a structurally valid message");
        applied += 1;
        let after = *eng.counters();
        let (r0, r1) = (refusals(&before), refusals(&after));
        let actual: Vec<u64> = r0.iter().zip(r1.iter()).map(|(a, b)| b - a).collect();

        // Time: never back, never beyond the day.
        let mut d = [0u64; 15];
        let out_of_day = raw >= DAY_NS;
        let t = if out_of_day {
            d[OUT_OF_DAY] += 1;
            model.now
        } else if raw < model.now {
            d[BACKWARDS] += 1;
            model.now
        } else {
            model.now = raw;
            raw
        };
        let due = model.due(t, out_of_day && model.next_boundary.is_none());
        let want: Vec<Snap> = due
            .into_iter()
            .map(|(b, l, vw, v)| {
                let top = |side| model.levels(l, side).last().map(|&(p, _, s)| (p, s));
                Snap {
                    b,
                    locate: l,
                    bid: top(b'B'),
                    ask: top(b'S'),
                    vwap: vw,
                    volume: v,
                }
            })
            .collect();
        assert_eq!(got, want, "snapshots before {m:?} at {raw}");
        for s in &got {
            // VWAP within the window's executed prices.
            let (lo, hi) = model
                .execs
                .iter()
                .filter(|e| e.0 == s.locate && e.1 < s.b && e.1 + window >= s.b)
                .fold((u32::MAX, 0), |(lo, hi), e| (lo.min(e.2), hi.max(e.2)));
            assert!(u64::from(lo) <= s.vwap && s.vwap <= u64::from(hi), "{s:?}");
        }

        // The message itself.
        let levels_full = actual[LEVELS_FULL] > 0;
        match m {
            Msg::Add {
                locate,
                oref,
                side,
                shares,
                price,
            } => model.add(&mut d, locate, oref, side, shares, price, levels_full),
            Msg::Exec {
                oref,
                shares,
                c_price,
            } => match model.orders.get(&oref).copied() {
                None => d[UNKNOWN] += 1,
                Some(o) => {
                    match c_price {
                        None => model.execution(&mut d, o.locate, t, o.price, u64::from(shares)),
                        Some((true, p)) => {
                            model.execution(&mut d, o.locate, t, p, u64::from(shares))
                        }
                        Some((false, _)) => {}
                    }
                    model.reduce(&mut d, oref, shares);
                }
            },
            Msg::Cancel { oref, shares } => match model.orders.contains_key(&oref) {
                false => d[UNKNOWN] += 1,
                true => model.reduce(&mut d, oref, shares),
            },
            Msg::Delete { oref } => {
                if model.orders.remove(&oref).is_none() {
                    d[UNKNOWN] += 1;
                }
            }
            Msg::Replace {
                old,
                new,
                shares,
                price,
            } => match model.orders.remove(&old) {
                None => d[UNKNOWN] += 1,
                Some(o) => model.add(&mut d, o.locate, new, o.side, shares, price, levels_full),
            },
            Msg::Trade {
                locate,
                shares,
                price,
            } => model.execution(&mut d, locate, t, price, shares),
            Msg::Directory { locate } => {
                if usize::from(locate) >= MAX_LOCATES {
                    d[LOCATE_RANGE] += 1;
                }
            }
            Msg::Other => {}
        }
        assert_eq!(actual, d.to_vec(), "refusal counters after {m:?} at {raw}");
        assert_eq!(after.messages_applied, applied);
        assert_eq!(after.vwap_executions, model.execs.len() as u64);
        assert_eq!(after.snapshots - before.snapshots, got.len() as u64);
        assert_eq!(eng.live_orders(), model.orders.len());
        for l in 0..MAX_LOCATES as u16 {
            let lv = |v: &[Level]| {
                v.iter()
                    .map(|l| (l.price, l.orders, l.shares))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                lv(eng.bid_levels(l)),
                model.levels(l, b'B'),
                "bids of {l} after {m:?}"
            );
            assert_eq!(
                lv(eng.ask_levels(l)),
                model.levels(l, b'S'),
                "asks of {l} after {m:?}"
            );
        }
    }
    *eng.counters()
}
