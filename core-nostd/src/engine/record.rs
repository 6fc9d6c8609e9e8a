//! Book records: what the book lcore hands the publisher at each emission
//! boundary, fixed size so they travel through a ring of slots.

use crate::book::Level;

/// Most levels per side a record carries (`--max-depth` is at most this).
pub const RECORD_DEPTH: usize = 10;

/// Where a record's state comes from: the last message the engine applied
/// before the boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Origin {
    /// Its MoldUDP64 session, as on the wire (all zero: not MoldUDP64).
    pub session: [u8; 10],
    /// Its MoldUDP64 sequence number (0: not MoldUDP64, or none yet).
    pub seq: u64,
    /// Its timestamp (ns since midnight; 0: none yet).
    pub event_ns: u64,
}

impl Origin {
    /// No message yet.
    pub const NONE: Self = Self {
        session: [0; 10],
        seq: 0,
        event_ns: 0,
    };
}

/// The state of one locate at an emission boundary: top levels per side
/// (best first), VWAP over the window ending at the boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BookRecord {
    /// The emission boundary (ns since midnight).
    pub boundary_ns: u64,
    /// VWAP over the window, Price(4); meaningful when `volume > 0`.
    pub vwap: u64,
    /// Shares executed in the window (0: the window holds no executions).
    pub volume: u64,
    /// The last message applied before the boundary.
    pub origin: Origin,
    /// Stock locate.
    pub locate: u16,
    /// The book may miss messages lost on every route (see
    /// `Counters::books_possibly_stale`).
    pub stale: bool,
    /// Bid levels used in `bids`.
    pub bid_count: u8,
    /// Offer levels used in `asks`.
    pub ask_count: u8,
    /// Symbol bytes used in `symbol` (0: no message named it yet).
    pub symbol_len: u8,
    /// Symbol, trailing spaces trimmed.
    pub symbol: [u8; 8],
    /// Bids, best (highest) first.
    pub bids: [Level; RECORD_DEPTH],
    /// Offers, best (lowest) first.
    pub asks: [Level; RECORD_DEPTH],
}

impl Default for BookRecord {
    fn default() -> Self {
        Self::EMPTY
    }
}

const NO_LEVEL: Level = Level {
    price: 0,
    orders: 0,
    shares: 0,
};

impl BookRecord {
    /// No levels, no window, no symbol.
    pub const EMPTY: Self = Self {
        boundary_ns: 0,
        vwap: 0,
        volume: 0,
        origin: Origin::NONE,
        locate: 0,
        stale: false,
        bid_count: 0,
        ask_count: 0,
        symbol_len: 0,
        symbol: [0; 8],
        bids: [NO_LEVEL; RECORD_DEPTH],
        asks: [NO_LEVEL; RECORD_DEPTH],
    };

    /// Fills the record in place. `bids` and `asks` are the arena's sides
    /// (worst first, best last); at most `depth` levels of each are copied,
    /// best first. Unused level slots are left as they were: readers look at
    /// the counts only.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn fill(
        &mut self,
        boundary_ns: u64,
        locate: u16,
        symbol: &[u8],
        window: Option<(u64, u64)>,
        bids: &[Level],
        asks: &[Level],
        depth: usize,
    ) {
        self.boundary_ns = boundary_ns;
        (self.vwap, self.volume) = window.unwrap_or((0, 0));
        self.locate = locate;
        let n = symbol.len().min(8);
        self.symbol[..n].copy_from_slice(&symbol[..n]);
        self.symbol_len = n as u8;
        let depth = depth.min(RECORD_DEPTH);
        self.bid_count = copy_best_first(&mut self.bids, bids, depth);
        self.ask_count = copy_best_first(&mut self.asks, asks, depth);
    }

    /// The symbol.
    pub fn symbol(&self) -> &[u8] {
        self.symbol
            .get(..usize::from(self.symbol_len))
            .unwrap_or(&self.symbol)
    }

    /// Bids in use, best first.
    pub fn bids(&self) -> &[Level] {
        self.bids
            .get(..usize::from(self.bid_count))
            .unwrap_or(&self.bids)
    }

    /// Offers in use, best first.
    pub fn asks(&self) -> &[Level] {
        self.asks
            .get(..usize::from(self.ask_count))
            .unwrap_or(&self.asks)
    }
}

#[inline]
fn copy_best_first(dst: &mut [Level; RECORD_DEPTH], side: &[Level], depth: usize) -> u8 {
    let n = side.len().min(depth);
    for (d, s) in dst.iter_mut().zip(side.iter().rev().take(n)) {
        *d = *s;
    }
    n as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(price: u32, orders: u32, shares: u64) -> Level {
        Level {
            price,
            orders,
            shares,
        }
    }

    #[test]
    fn fill_takes_the_best_levels_best_first() {
        let bids = [lv(100, 1, 10), lv(101, 2, 20), lv(102, 3, 30)];
        let asks = [lv(105, 1, 5), lv(104, 1, 4)];
        let mut r = BookRecord::EMPTY;
        r.fill(7, 3, b"AAPL", Some((1_000_000, 50)), &bids, &asks, 2);
        assert_eq!(r.bids(), &[lv(102, 3, 30), lv(101, 2, 20)]);
        assert_eq!(r.asks(), &[lv(104, 1, 4), lv(105, 1, 5)]);
        assert_eq!(
            (r.symbol(), r.vwap, r.volume, r.locate),
            (&b"AAPL"[..], 1_000_000, 50, 3)
        );
        r.fill(8, 3, b"", None, &[], &asks, 10);
        assert_eq!(
            (r.bids(), r.asks().len(), r.volume, r.symbol()),
            (&[][..], 2, 0, &b""[..])
        );
    }
}
