//! The ITCH message stream: opening system events and directory, a
//! book-consistent order flow, closing system events.

use std::collections::HashSet;

use super::config::{GenConfig, GenError, END_OF_DAY_NS};
use super::rng::Rng;
use crate::itch_encode::{Header, ItchMsg, Stock};

/// Price levels tracked per symbol and side: orders are priced within a
/// window of this many ticks ($0.01) around the symbol's reference price.
/// Fewer when there are very many symbols, to bound the level table to
/// 64 MiB.
const MAX_LADDER: usize = 1024;
const MIN_LADDER: usize = 128;
const LEVEL_TABLE_BYTES: usize = 64 << 20;
const NO_BID: i32 = -1;

// Order-flow mix (fractions of order-flow messages). Adds and deletes share
// what is left (~0.87), split by the live-order controller.
const P_U: f64 = 0.08;
const P_E: f64 = 0.020;
const P_X: f64 = 0.007;
const P_C: f64 = 0.003;
const P_P: f64 = 0.0165;
const RARE: [(u8, f64); 12] = [
    (b'I', 0.0020),
    (b'Q', 0.0003),
    (b'N', 0.0003),
    (b'Y', 0.0002),
    (b'L', 0.0002),
    (b'J', 0.0001),
    (b'h', 0.0001),
    (b'K', 0.00005),
    (b'O', 0.00005),
    (b'B', 0.00003),
    (b'V', 0.000005),
    (b'W', 0.000005),
];
/// Share of adds that carry an MPID (`F`).
const P_F_OF_ADDS: f64 = 0.10;
/// Order-flow types guaranteed to appear (forced at evenly spaced points if
/// chance has not produced them yet).
const FORCED: [u8; 20] = [
    b'A', b'F', b'D', b'U', b'E', b'X', b'C', b'P', b'Q', b'B', b'I', b'N', b'Y', b'L', b'V', b'W',
    b'K', b'J', b'h', b'O',
];
const MPIDS: [[u8; 4]; 12] = [
    *b"GSCO", *b"MSCO", *b"UBSS", *b"CDRG", *b"NITE", *b"VIRT", *b"SUSQ", *b"JPMS", *b"MLCO",
    *b"BARD", *b"LEHM", *b"FBCO",
];

#[derive(Debug, Clone)]
struct Sym {
    stock: Stock,
    /// Tick ($0.01) of ladder index 0.
    base_tick: u32,
    /// Reference price in ticks.
    ref_tick: u32,
    fair: i32,
    best_bid: i32,
    best_ask: i32,
    /// Slab ids of this symbol's live orders.
    orders: Vec<u32>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Order {
    reference: u64,
    shares: u32,
    idx: u16,
    bid: bool,
    sym: u32,
    pos_sym: u32,
    pos_live: u32,
}

/// Public description of one symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolInfo {
    /// Stock locate code.
    pub locate: u16,
    /// Ticker, space padded.
    pub stock: Stock,
    /// Reference price, Price(4).
    pub reference_price: u32,
    /// Relative activity weight (Zipf), summing to 1 over all symbols.
    pub activity: f64,
}

/// Deterministic ITCH 5.0 message stream. Iterate it for [`ItchMsg`]s.
#[derive(Debug, Clone)]
pub struct MessageGenerator {
    rng: Rng,
    total: u64,
    emitted: u64,
    nsym: usize,
    flow_start: u64,
    flow_len: u64,
    target: u64,
    ramp: u64,
    mean_gap: f64,
    ts: u64,
    flow_ts_start: u64,
    /// Share of order flow that is adds or deletes.
    ad: f64,
    syms: Vec<Sym>,
    /// Per (symbol, side, ladder index) live order counts.
    levels: Vec<u32>,
    /// Ladder size (also the "no ask" index).
    ladder: usize,
    fair_lo: i32,
    fair_hi: i32,
    slab: Vec<Order>,
    free: Vec<u32>,
    live: Vec<u32>,
    /// Cumulative Zipf weights by rank, and the symbol of each rank.
    zipf_cdf: Vec<f64>,
    rank_sym: Vec<u32>,
    activity: Vec<f64>,
    next_ref: u64,
    match_no: u64,
    forced_idx: usize,
    seen: [bool; 256],
    counts: [u64; 256],
    thresholds: [(f64, u8); 5 + RARE.len()],
}

impl MessageGenerator {
    /// Build the generator (symbols, prices) for a validated configuration.
    pub fn new(cfg: &GenConfig) -> Result<Self, GenError> {
        cfg.validate()?;
        let nsym = cfg.symbols as usize;
        let mut setup = Rng::new(cfg.seed, 1);

        // Unique, realistic tickers; locates are assigned alphabetically as
        // NASDAQ does.
        let mut seen = HashSet::with_capacity(nsym);
        let mut tickers: Vec<Stock> = Vec::with_capacity(nsym);
        while tickers.len() < nsym {
            let r = setup.f64();
            let len = if r < 0.02 {
                1
            } else if r < 0.08 {
                2
            } else if r < 0.40 {
                3
            } else if r < 0.97 {
                4
            } else {
                5
            };
            let mut s = [b' '; 8];
            for b in s.iter_mut().take(len) {
                *b = b'A' + setup.below(26) as u8;
            }
            if seen.insert(s) {
                tickers.push(s);
            }
        }
        tickers.sort_unstable();

        let mut ladder = MAX_LADDER;
        while ladder > MIN_LADDER && nsym * 2 * ladder * 4 > LEVEL_TABLE_BYTES {
            ladder /= 2;
        }
        // The fair price walks within the middle half of the ladder.
        let (fair_lo, fair_hi) = ((ladder / 4) as i32, (3 * ladder / 4 - 1) as i32);
        let syms: Vec<Sym> = tickers
            .iter()
            .map(|&stock| {
                // Log-uniform reference price between $5 and $500.
                let dollars = 5.0 * (100f64).powf(setup.f64());
                let ref_tick = ((dollars * 100.0).round() as u32).clamp(500, 50_000);
                let base_tick = ref_tick.saturating_sub(ladder as u32 / 2).max(1);
                let fair = (ref_tick - base_tick) as i32;
                Sym {
                    stock,
                    base_tick,
                    ref_tick,
                    fair: fair.clamp(fair_lo, fair_hi),
                    best_bid: NO_BID,
                    best_ask: ladder as i32,
                    orders: Vec::new(),
                }
            })
            .collect();

        // Zipf activity: rank r gets weight 1/(r+1)^s; ranks are shuffled
        // over symbols.
        let mut rank_sym: Vec<u32> = (0..nsym as u32).collect();
        for i in (1..nsym).rev() {
            let j = setup.below(i as u64 + 1) as usize;
            rank_sym.swap(i, j);
        }
        let mut zipf_cdf = Vec::with_capacity(nsym);
        let mut acc = 0.0;
        let mut activity = vec![0.0; nsym];
        for (r, &s) in rank_sym.iter().enumerate() {
            let w = 1.0 / ((r + 1) as f64).powf(cfg.zipf_exponent);
            acc += w;
            zipf_cdf.push(acc);
            activity[s as usize] = w;
        }
        for a in &mut activity {
            *a /= acc;
        }

        let target = cfg.effective_live_orders_target();
        let flow_len = cfg.flow_messages();
        let cap = (target as usize).saturating_mul(5) / 4 + 1024;
        let mut thresholds = [(0.0, 0u8); 5 + RARE.len()];
        let ad = 1.0 - P_U - P_E - P_X - P_C - P_P - RARE.iter().map(|r| r.1).sum::<f64>();
        let mut acc = ad;
        for (i, (t, p)) in [
            (b'U', P_U),
            (b'E', P_E),
            (b'X', P_X),
            (b'C', P_C),
            (b'P', P_P),
        ]
        .into_iter()
        .chain(RARE)
        .enumerate()
        {
            acc += p;
            thresholds[i] = (acc, t);
        }
        Ok(MessageGenerator {
            rng: Rng::new(cfg.seed, 2),
            total: cfg.messages,
            emitted: 0,
            nsym,
            flow_start: 3 + 2 * nsym as u64,
            flow_len,
            target,
            ramp: flow_len
                .min((flow_len / 10).max(target.saturating_mul(2)))
                .max(1),
            mean_gap: cfg.mean_gap_ns as f64,
            ts: cfg.start_ns - 60_000_000_000,
            flow_ts_start: cfg.start_ns,
            ad,
            syms,
            levels: vec![0; nsym * 2 * ladder],
            ladder,
            fair_lo,
            fair_hi,
            slab: Vec::with_capacity(cap),
            free: Vec::with_capacity(1024),
            live: Vec::with_capacity(cap),
            zipf_cdf,
            rank_sym,
            activity,
            next_ref: 0,
            match_no: 0,
            forced_idx: 0,
            seen: [false; 256],
            counts: [0; 256],
            thresholds,
        })
    }

    /// The symbols, in locate order.
    pub fn symbols(&self) -> Vec<SymbolInfo> {
        self.syms
            .iter()
            .enumerate()
            .map(|(i, s)| SymbolInfo {
                locate: (i + 1) as u16,
                stock: s.stock,
                reference_price: s.ref_tick * 100,
                activity: self.activity[i],
            })
            .collect()
    }

    /// Orders live in the books right now.
    pub fn live_orders(&self) -> u64 {
        self.live.len() as u64
    }

    /// The live-order target being steered towards.
    pub fn live_orders_target(&self) -> u64 {
        self.target
    }

    /// Messages of type `t` emitted so far.
    pub fn type_count(&self, t: u8) -> u64 {
        self.counts[t as usize]
    }

    /// Messages emitted so far.
    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    /// Messages the stream will have in total.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Timestamp of the last message emitted (ns since midnight).
    pub fn timestamp(&self) -> u64 {
        self.ts
    }
}

impl Iterator for MessageGenerator {
    type Item = ItchMsg;

    #[inline]
    fn next(&mut self) -> Option<ItchMsg> {
        if self.emitted >= self.total {
            return None;
        }
        let i = self.emitted;
        let n = self.nsym as u64;
        let msg = if i < 3 {
            self.ts = match i {
                0 => self.ts,
                1 => self.ts + 30_000_000_000,
                _ => self.flow_ts_start,
            };
            let code = [b'O', b'S', b'Q'][i as usize];
            ItchMsg::SystemEvent {
                hdr: self.hdr(0),
                event_code: code,
            }
        } else if i < 3 + n {
            self.ts += 1_000;
            self.directory((i - 3) as usize)
        } else if i < 3 + 2 * n {
            self.ts += 1_000;
            let s = (i - 3 - n) as usize;
            ItchMsg::StockTradingAction {
                hdr: self.hdr(s + 1),
                stock: self.syms[s].stock,
                trading_state: b'T',
                reserved: b' ',
                reason: *b"    ",
            }
        } else if i < self.total - 3 {
            self.advance_time();
            self.flow(i - self.flow_start)
        } else {
            self.ts = (self.ts + 1_000_000).min(END_OF_DAY_NS);
            let code = [b'M', b'E', b'C'][(i - (self.total - 3)) as usize];
            ItchMsg::SystemEvent {
                hdr: self.hdr(0),
                event_code: code,
            }
        };
        self.emitted += 1;
        let t = msg.msg_type();
        self.seen[t as usize] = true;
        self.counts[t as usize] += 1;
        Some(msg)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.total - self.emitted) as usize;
        (left, Some(left))
    }
}

impl MessageGenerator {
    #[inline]
    fn hdr(&self, locate: usize) -> Header {
        Header {
            stock_locate: locate as u16,
            tracking_number: (self.emitted % 7) as u16,
            timestamp: self.ts,
        }
    }

    fn advance_time(&mut self) {
        let gap = self.rng.exp(self.mean_gap) as u64;
        // Leave room for the closing events; time never goes backwards.
        self.ts = (self.ts + gap).min(END_OF_DAY_NS - 10_000_000).max(self.ts);
    }

    fn directory(&mut self, s: usize) -> ItchMsg {
        let r = &mut self.rng;
        let cat = r.pick(b"QQGSNAPZ");
        let etp = r.chance(0.1);
        ItchMsg::StockDirectory {
            hdr: Header {
                stock_locate: (s + 1) as u16,
                tracking_number: 0,
                timestamp: self.ts,
            },
            stock: self.syms[s].stock,
            market_category: cat,
            financial_status: if matches!(cat, b'Q' | b'G' | b'S') {
                b'N'
            } else {
                b' '
            },
            round_lot_size: 100,
            round_lots_only: b'N',
            issue_classification: if etp { b'Q' } else { r.pick(b"CCCAO") },
            issue_subtype: if etp { *b"I " } else { *b"Z " },
            authenticity: b'P',
            short_sale_threshold: r.pick(b"NNNY"),
            ipo_flag: r.pick(b"NN "),
            luld_tier: r.pick(b"122"),
            etp_flag: if etp { b'Y' } else { b'N' },
            etp_leverage_factor: if etp { r.pick(&[1, 2, 3]) } else { 0 },
            inverse_indicator: if etp && r.chance(0.3) { b'Y' } else { b'N' },
        }
    }

    #[inline]
    fn zipf_sym(&mut self) -> usize {
        let total = *self.zipf_cdf.last().unwrap_or(&1.0);
        let u = self.rng.f64() * total;
        let r = self
            .zipf_cdf
            .partition_point(|&c| c <= u)
            .min(self.nsym - 1);
        self.rank_sym[r] as usize
    }

    #[inline]
    fn new_ref(&mut self) -> u64 {
        self.next_ref += 1 + (self.rng.next_u64() & 3);
        self.next_ref
    }

    #[inline]
    fn price(&self, s: usize, idx: i32) -> u32 {
        (self.syms[s].base_tick + idx as u32) * 100
    }

    #[inline]
    fn level(&mut self, s: usize, bid: bool, idx: usize) -> &mut u32 {
        &mut self.levels[(s * 2 + usize::from(!bid)) * self.ladder + idx]
    }

    fn lot(&mut self) -> u32 {
        let r = self.rng.f64();
        if r < 0.08 {
            return self.rng.range(1, 99) as u32;
        }
        let k = if r < 0.50 {
            1
        } else if r < 0.65 {
            2
        } else if r < 0.73 {
            3
        } else if r < 0.78 {
            4
        } else if r < 0.87 {
            5
        } else if r < 0.93 {
            10
        } else if r < 0.97 {
            self.rng.range(6, 9)
        } else {
            self.rng.range(11, 50)
        };
        (k * 100) as u32
    }

    /// Offset in ticks away from the inside for a new order.
    fn depth_offset(&mut self) -> i32 {
        let r = self.rng.f64();
        if r < 0.35 {
            0
        } else if r < 0.95 {
            (self.rng.exp(4.0) as i32).min(60)
        } else {
            self.rng.range(10, 150) as i32
        }
    }

    /// A price index for a new order on `bid` side that does not cross, or
    /// `None` if that side has no room.
    fn place(&mut self, s: usize, bid: bool) -> Option<i32> {
        let off = self.depth_offset();
        let sy = &self.syms[s];
        if bid {
            let ub = sy.fair.min(sy.best_ask - 1);
            (ub >= 0).then(|| (ub - off).max(0))
        } else {
            let lb = (sy.fair + 1).max(sy.best_bid + 1);
            (lb < self.ladder as i32).then(|| (lb + off).min(self.ladder as i32 - 1))
        }
    }

    fn insert(&mut self, s: usize, bid: bool, idx: i32, shares: u32) -> u64 {
        let reference = self.new_ref();
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.slab.push(Order::default());
                (self.slab.len() - 1) as u32
            }
        };
        let pos_sym = self.syms[s].orders.len() as u32;
        self.syms[s].orders.push(id);
        let pos_live = self.live.len() as u32;
        self.live.push(id);
        self.slab[id as usize] = Order {
            reference,
            shares,
            idx: idx as u16,
            bid,
            sym: s as u32,
            pos_sym,
            pos_live,
        };
        *self.level(s, bid, idx as usize) += 1;
        let sy = &mut self.syms[s];
        if bid {
            sy.best_bid = sy.best_bid.max(idx);
        } else {
            sy.best_ask = sy.best_ask.min(idx);
        }
        reference
    }

    fn remove(&mut self, id: u32) {
        let o = self.slab[id as usize];
        let s = o.sym as usize;
        let lvl = self.level(s, o.bid, o.idx as usize);
        *lvl -= 1;
        if *lvl == 0 {
            let ladder = self.ladder;
            let base = (s * 2 + usize::from(!o.bid)) * ladder;
            let sy = &mut self.syms[s];
            let idx = i32::from(o.idx);
            if o.bid && sy.best_bid == idx {
                sy.best_bid = (0..idx)
                    .rev()
                    .find(|&j| self.levels[base + j as usize] > 0)
                    .unwrap_or(NO_BID);
            } else if !o.bid && sy.best_ask == idx {
                sy.best_ask = (idx + 1..ladder as i32)
                    .find(|&j| self.levels[base + j as usize] > 0)
                    .unwrap_or(ladder as i32);
            }
        }
        let orders = &mut self.syms[s].orders;
        orders.swap_remove(o.pos_sym as usize);
        if let Some(&moved) = orders.get(o.pos_sym as usize) {
            self.slab[moved as usize].pos_sym = o.pos_sym;
        }
        self.live.swap_remove(o.pos_live as usize);
        if let Some(&moved) = self.live.get(o.pos_live as usize) {
            self.slab[moved as usize].pos_live = o.pos_live;
        }
        self.free.push(id);
    }

    /// A live order, preferably of a Zipf-chosen symbol.
    fn pick_order(&mut self) -> Option<u32> {
        if self.live.is_empty() {
            return None;
        }
        let s = self.zipf_sym();
        let n = self.syms[s].orders.len() as u64;
        Some(if n > 0 {
            self.syms[s].orders[self.rng.below(n) as usize]
        } else {
            self.live[self.rng.below(self.live.len() as u64) as usize]
        })
    }

    fn flow(&mut self, k: u64) -> ItchMsg {
        // Guarantee every type shows up: at evenly spaced points, emit the
        // next type chance has not produced yet.
        while self.forced_idx < FORCED.len() {
            let slot = (self.forced_idx as u64 + 1) * self.flow_len / (FORCED.len() as u64 + 1);
            if k < slot {
                break;
            }
            let t = FORCED[self.forced_idx];
            if self.seen[t as usize] {
                self.forced_idx += 1;
                continue;
            }
            if let Some(m) = self.event(t) {
                self.forced_idx += 1;
                return m;
            }
            break;
        }
        let u = self.rng.f64();
        let ad = self.ad;
        let t = if u < ad {
            // Adds vs deletes: steer the live count towards the (ramped)
            // target.
            let goal = if k < self.ramp {
                self.target * (k + 1) / self.ramp
            } else {
                self.target
            };
            let deficit = (goal as f64 - self.live.len() as f64) / self.target.max(1) as f64;
            let a = (0.509 + 4.0 * deficit).clamp(0.0, 1.0);
            if u < ad * a {
                b'A'
            } else {
                b'D'
            }
        } else {
            self.thresholds
                .iter()
                .find(|th| u < th.0)
                .map_or(b'P', |th| th.1)
        };
        match self.event(t) {
            Some(m) => m,
            None => {
                let s = self.zipf_sym();
                self.add(s)
            }
        }
    }

    /// One order-flow message of type `t` (`A` means A or F), or `None` when
    /// the book state does not allow it now.
    fn event(&mut self, t: u8) -> Option<ItchMsg> {
        match t {
            b'A' => {
                let s = self.zipf_sym();
                Some(self.add(s))
            }
            b'F' => {
                let s = self.zipf_sym();
                Some(self.add_inner(s, true))
            }
            b'D' => {
                let id = self.pick_order()?;
                let o = self.slab[id as usize];
                self.remove(id);
                Some(ItchMsg::OrderDelete {
                    hdr: self.hdr(o.sym as usize + 1),
                    order_ref: o.reference,
                })
            }
            b'U' => self.replace(),
            b'E' | b'C' | b'X' => self.execute_or_cancel(t),
            b'P' => {
                let s = self.zipf_sym();
                let sy = &self.syms[s];
                let idx = if sy.best_bid >= 0 && sy.best_ask < self.ladder as i32 {
                    (sy.best_bid + sy.best_ask) / 2
                } else {
                    sy.fair
                };
                let price = self.price(s, idx);
                let shares = self.lot();
                self.match_no += 1;
                Some(ItchMsg::Trade {
                    hdr: self.hdr(s + 1),
                    order_ref: 0,
                    side: if self.rng.chance(0.5) { b'B' } else { b'S' },
                    shares,
                    stock: self.syms[s].stock,
                    price,
                    match_number: self.match_no,
                })
            }
            b'B' => {
                if self.match_no == 0 {
                    return None;
                }
                let m = self.rng.range(1, self.match_no);
                Some(ItchMsg::BrokenTrade {
                    hdr: self.hdr(0),
                    match_number: m,
                })
            }
            _ => Some(self.rare(t)),
        }
    }

    fn add(&mut self, s: usize) -> ItchMsg {
        let mpid = self.rng.chance(P_F_OF_ADDS);
        self.add_inner(s, mpid)
    }

    fn add_inner(&mut self, s: usize, mpid: bool) -> ItchMsg {
        // Let the fair price wander.
        if self.rng.chance(0.02) {
            let (lo, hi) = (self.fair_lo, self.fair_hi);
            let sy = &mut self.syms[s];
            let step = if self.rng.chance(0.5) { 1 } else { -1 };
            sy.fair = (sy.fair + step).clamp(lo, hi);
        }
        let mut bid = self.rng.chance(0.5);
        let idx = match self.place(s, bid) {
            Some(i) => i,
            None => {
                bid = !bid;
                // The book is never crossed, so one side always has room.
                self.place(s, bid)
                    .unwrap_or(if bid { 0 } else { self.ladder as i32 - 1 })
            }
        };
        let shares = self.lot();
        let order_ref = self.insert(s, bid, idx, shares);
        let hdr = self.hdr(s + 1);
        let side = if bid { b'B' } else { b'S' };
        let stock = self.syms[s].stock;
        let price = self.price(s, idx);
        if mpid {
            let attribution = self.rng.pick(&MPIDS);
            ItchMsg::AddOrderMpid {
                hdr,
                order_ref,
                side,
                shares,
                stock,
                price,
                attribution,
            }
        } else {
            ItchMsg::AddOrder {
                hdr,
                order_ref,
                side,
                shares,
                stock,
                price,
            }
        }
    }

    fn replace(&mut self) -> Option<ItchMsg> {
        let id = self.pick_order()?;
        let o = self.slab[id as usize];
        let s = o.sym as usize;
        self.remove(id);
        let old = i32::from(o.idx);
        let cand = if self.rng.chance(0.6) {
            old + self.rng.range(0, 4) as i32 - 2
        } else {
            self.place(s, o.bid).unwrap_or(old)
        };
        // Not crossing the other side (the order's own side does not matter);
        // the old price always satisfies this since the book was uncrossed.
        let sy = &self.syms[s];
        let (lo, hi) = if o.bid {
            (0, sy.best_ask - 1)
        } else {
            (sy.best_bid + 1, self.ladder as i32 - 1)
        };
        let idx = if lo <= hi { cand.clamp(lo, hi) } else { old };
        let shares = if self.rng.chance(0.3) {
            o.shares
        } else {
            self.lot()
        };
        let original_ref = o.reference;
        let new_ref = self.insert(s, o.bid, idx, shares);
        Some(ItchMsg::OrderReplace {
            hdr: self.hdr(s + 1),
            original_ref,
            new_ref,
            shares,
            price: self.price(s, idx),
        })
    }

    /// Ticks between an order and the best price on its side.
    fn depth(&self, id: u32) -> i32 {
        let o = &self.slab[id as usize];
        let sy = &self.syms[o.sym as usize];
        if o.bid {
            sy.best_bid - i32::from(o.idx)
        } else {
            i32::from(o.idx) - sy.best_ask
        }
    }

    /// A live order biased towards the top of its book: the best of four
    /// random orders of one symbol (executions happen at the inside).
    fn pick_near_top(&mut self) -> Option<u32> {
        let mut best = self.pick_order()?;
        let s = self.slab[best as usize].sym as usize;
        let n = self.syms[s].orders.len() as u64;
        let mut best_depth = self.depth(best);
        for _ in 0..3 {
            let id = self.syms[s].orders[self.rng.below(n) as usize];
            let d = self.depth(id);
            if d < best_depth {
                best = id;
                best_depth = d;
            }
        }
        Some(best)
    }

    fn execute_or_cancel(&mut self, t: u8) -> Option<ItchMsg> {
        let id = if t == b'X' {
            self.pick_order()?
        } else {
            self.pick_near_top()?
        };
        let o = self.slab[id as usize];
        let full_p = match t {
            b'X' => 0.1,
            _ => 0.6,
        };
        let qty = if o.shares <= 1 || self.rng.chance(full_p) {
            o.shares
        } else if o.shares > 100 {
            100 * self.rng.range(1, u64::from((o.shares - 1) / 100)) as u32
        } else {
            self.rng.range(1, u64::from(o.shares - 1)) as u32
        };
        if qty == o.shares {
            self.remove(id);
        } else {
            self.slab[id as usize].shares -= qty;
        }
        let hdr = self.hdr(o.sym as usize + 1);
        Some(match t {
            b'X' => ItchMsg::OrderCancel {
                hdr,
                order_ref: o.reference,
                cancelled_shares: qty,
            },
            b'E' => {
                self.match_no += 1;
                ItchMsg::OrderExecuted {
                    hdr,
                    order_ref: o.reference,
                    executed_shares: qty,
                    match_number: self.match_no,
                }
            }
            _ => {
                self.match_no += 1;
                let s = o.sym as usize;
                let idx = (i32::from(o.idx) + self.rng.range(0, 2) as i32 - 1)
                    .clamp(0, self.ladder as i32 - 1);
                ItchMsg::OrderExecutedWithPrice {
                    hdr,
                    order_ref: o.reference,
                    executed_shares: qty,
                    match_number: self.match_no,
                    printable: if self.rng.chance(0.5) { b'Y' } else { b'N' },
                    execution_price: self.price(s, idx),
                }
            }
        })
    }

    /// Administrative and auction messages.
    fn rare(&mut self, t: u8) -> ItchMsg {
        let s = self.zipf_sym();
        let stock = self.syms[s].stock;
        let fair = self.syms[s].fair;
        let px = self.price(s, fair);
        let hdr = self.hdr(s + 1);
        let pct = |p: u32, num: u64| ((u64::from(p) * num / 100) / 100 * 100) as u32;
        let r = &mut self.rng;
        match t {
            b'Q' => {
                self.match_no += 1;
                ItchMsg::CrossTrade {
                    hdr,
                    shares: r.range(10, 20_000) * 100,
                    stock,
                    cross_price: px,
                    match_number: self.match_no,
                    cross_type: r.pick(b"OCHI"),
                }
            }
            b'I' => {
                let dir = r.pick(b"BSNO");
                let tick = 100 * r.range(0, 5) as u32;
                ItchMsg::Noii {
                    hdr,
                    paired_shares: r.range(0, 10_000) * 100,
                    imbalance_shares: if dir == b'N' {
                        0
                    } else {
                        r.range(1, 5_000) * 100
                    },
                    imbalance_direction: dir,
                    stock,
                    far_price: if dir == b'N' { 0 } else { px + tick },
                    near_price: px.saturating_sub(tick).max(100),
                    current_ref_price: px,
                    cross_type: r.pick(b"OCH"),
                    price_variation_indicator: r.pick(b"L123456789ABC "),
                }
            }
            b'N' => ItchMsg::RetailInterest {
                hdr,
                stock,
                interest_flag: r.pick(b"BSAN"),
            },
            b'Y' => ItchMsg::RegShoRestriction {
                hdr,
                stock,
                action: r.pick(b"012"),
            },
            b'L' => ItchMsg::MarketParticipantPosition {
                hdr,
                mpid: r.pick(&MPIDS),
                stock,
                primary_market_maker: r.pick(b"YN"),
                market_maker_mode: r.pick(b"NNNPSRL"),
                participant_state: r.pick(b"AAAEWSD"),
            },
            b'J' => ItchMsg::LuldAuctionCollar {
                hdr,
                stock,
                ref_price: px,
                upper_price: pct(px, 105),
                lower_price: pct(px, 95),
                extension: r.range(0, 3) as u32,
            },
            b'h' => ItchMsg::OperationalHalt {
                hdr,
                stock,
                market_code: r.pick(b"QBX"),
                action: r.pick(b"HT"),
            },
            b'K' => ItchMsg::IpoQuotingPeriodUpdate {
                hdr,
                stock,
                release_time: (self.ts / 1_000_000_000 + 1_800) as u32,
                release_qualifier: r.pick(b"AC"),
                ipo_price: px,
            },
            b'O' => ItchMsg::DirectListingPriceDiscovery {
                hdr,
                stock,
                open_eligibility: r.pick(b"NY"),
                min_allowable_price: pct(px, 90),
                max_allowable_price: pct(px, 110),
                near_execution_price: px,
                near_execution_time: self.ts + 1_000_000_000,
                lower_price_range_collar: pct(px, 85),
                upper_price_range_collar: pct(px, 115),
            },
            b'V' => ItchMsg::MwcbDeclineLevel {
                hdr: Header {
                    stock_locate: 0,
                    ..hdr
                },
                level1: 446_400_000_000, // 4464.00000000
                level2: 417_600_000_000, // 4176.00000000
                level3: 384_000_000_000, // 3840.00000000
            },
            _ => ItchMsg::MwcbStatus {
                hdr: Header {
                    stock_locate: 0,
                    ..hdr
                },
                breached_level: b'1',
            },
        }
    }
}
