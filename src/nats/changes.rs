//! `--nats-changes-only`: a record goes out only when what it shows (levels
//! to the published depth, VWAP, volume, stale flag) differs from the last
//! one of its locate; with `--nats-depth 1`, a stream of top-of-book changes.

use tickwire_core::book::Level;
use tickwire_core::engine::BookRecord;

/// What a record shows at a depth.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Shown {
    vwap: u64,
    volume: u64,
    stale: bool,
    bids: Vec<Level>,
    asks: Vec<Level>,
}

/// The last record shown per locate.
#[derive(Debug)]
pub struct ChangeFilter {
    depth: usize,
    last: Vec<Option<Shown>>,
}

impl ChangeFilter {
    /// Compares levels up to `depth` per side.
    pub fn new(depth: usize) -> Self {
        Self {
            depth,
            last: Vec::new(),
        }
    }

    /// Whether `r` shows something new for its locate (and remembers it).
    pub fn changed(&mut self, r: &BookRecord) -> bool {
        let i = usize::from(r.locate);
        if self.last.len() <= i {
            self.last.resize(i + 1, None);
        }
        let vwap = if r.volume > 0 { r.vwap } else { 0 };
        let bids = &r.bids()[..r.bids().len().min(self.depth)];
        let asks = &r.asks()[..r.asks().len().min(self.depth)];
        let same = self.last[i].as_ref().is_some_and(|s| {
            s.vwap == vwap
                && s.volume == r.volume
                && s.stale == r.stale
                && s.bids == bids
                && s.asks == asks
        });
        if same {
            return false;
        }
        let s = self.last[i].get_or_insert_with(Shown::default);
        s.vwap = vwap;
        s.volume = r.volume;
        s.stale = r.stale;
        s.bids.clear();
        s.bids.extend_from_slice(bids);
        s.asks.clear();
        s.asks.extend_from_slice(asks);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(price: u32, shares: u64) -> Level {
        Level {
            price,
            orders: 1,
            shares,
        }
    }

    fn rec(locate: u16, bids: &[Level], window: Option<(u64, u64)>) -> BookRecord {
        // fill takes the arena's order: worst first.
        let worst_first: Vec<Level> = bids.iter().rev().copied().collect();
        let mut r = BookRecord::EMPTY;
        r.fill(1, locate, b"X", window, &worst_first, &[], 10);
        r
    }

    #[test]
    fn only_changes_within_the_depth_pass() {
        let mut f = ChangeFilter::new(1);
        assert!(f.changed(&rec(1, &[lv(100, 5), lv(99, 1)], None)));
        // Deeper level changed: not shown at depth 1.
        assert!(!f.changed(&rec(1, &[lv(100, 5), lv(98, 7)], None)));
        // Another locate is independent.
        assert!(f.changed(&rec(2, &[lv(100, 5)], None)));
        // Top shares, VWAP, stale: each is a change.
        assert!(f.changed(&rec(1, &[lv(100, 6)], None)));
        assert!(f.changed(&rec(1, &[lv(100, 6)], Some((1000, 10)))));
        assert!(!f.changed(&rec(1, &[lv(100, 6)], Some((1000, 10)))));
        let mut stale = rec(1, &[lv(100, 6)], Some((1000, 10)));
        stale.stale = true;
        assert!(f.changed(&stale));
        // An emptied side is a change.
        assert!(f.changed(&rec(1, &[], Some((1000, 10)))));
        let mut deep = ChangeFilter::new(2);
        assert!(deep.changed(&rec(1, &[lv(100, 5), lv(99, 1)], None)));
        assert!(deep.changed(&rec(1, &[lv(100, 5), lv(98, 7)], None)));
    }
}
