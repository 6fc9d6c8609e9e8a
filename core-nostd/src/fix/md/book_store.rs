//! The publisher's copy of every locate's latest book record, the symbol
//! directory, and what changed at each record.

use crate::engine::{BookRecord, RECORD_DEPTH};

/// A locate's state as the publisher last heard it.
#[derive(Debug, Clone, Copy, Default)]
pub struct BookSlot {
    /// Latest record (EMPTY until the first one).
    pub record: BookRecord,
    /// A directory message or a record named this locate's symbol.
    pub known: bool,
}

impl BookSlot {
    /// No record, symbol unknown.
    pub const EMPTY: Self = Self {
        record: BookRecord::EMPTY,
        known: false,
    };
}

/// What one record changed against the previous one of its locate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Change {
    /// Index (0 = best) of the first bid level that differs, [`Change::NONE`]
    /// when none does.
    pub bid_from: u8,
    /// The same for offers.
    pub ask_from: u8,
    /// VWAP or window volume changed (or the window emptied or filled).
    pub vwap: bool,
}

impl Change {
    /// No level changed.
    pub const NONE: u8 = u8::MAX;

    /// Whether a subscription to `depth` levels and the entry types `types`
    /// ([`super::ENTRY_BID`] | …) sees a change.
    #[inline]
    pub fn visible(&self, depth: u8, types: u8) -> bool {
        (types & super::ENTRY_BID != 0 && self.bid_from < depth)
            || (types & super::ENTRY_OFFER != 0 && self.ask_from < depth)
            || (types & super::ENTRY_VWAP != 0 && self.vwap)
    }

    /// Whether anything changed at all.
    pub fn any(&self) -> bool {
        self.bid_from != Self::NONE || self.ask_from != Self::NONE || self.vwap
    }
}

/// Why a store could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StoreError {
    /// The symbol index must have a power-of-two length of at least twice
    /// the slots.
    BadIndexSize,
}

impl core::fmt::Display for StoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("symbol index length must be a power of two, at least twice the book slots")
    }
}

impl core::error::Error for StoreError {}

/// Every locate's latest record and a symbol → locate index, in storage the
/// caller hands in.
#[derive(Debug)]
pub struct BookStore<'s> {
    slots: &'s mut [BookSlot],
    /// Open addressing, linear probing: `locate + 1`, 0 for empty.
    index: &'s mut [u32],
    /// Records whose locate was beyond the slots.
    pub out_of_range: u64,
}

/// Index slots to hand [`BookStore::new`] for `locates` book slots.
pub const fn index_len(locates: usize) -> usize {
    (locates * 2).next_power_of_two()
}

impl<'s> BookStore<'s> {
    /// A store over `slots` (one per locate) and `index` ([`index_len`]
    /// entries); clears both.
    pub fn new(slots: &'s mut [BookSlot], index: &'s mut [u32]) -> Result<Self, StoreError> {
        if !index.len().is_power_of_two() || index.len() < slots.len() * 2 {
            return Err(StoreError::BadIndexSize);
        }
        slots.iter_mut().for_each(|s| *s = BookSlot::default());
        index.iter_mut().for_each(|i| *i = 0);
        Ok(Self {
            slots,
            index,
            out_of_range: 0,
        })
    }

    /// Locates covered.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether it covers no locate.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// A locate's slot.
    pub fn get(&self, locate: u16) -> Option<&BookSlot> {
        self.slots.get(usize::from(locate))
    }

    /// The locate the feed named `symbol` (trailing spaces ignored).
    pub fn lookup(&self, symbol: &[u8]) -> Option<u16> {
        let symbol = trim(symbol);
        if symbol.is_empty() || symbol.len() > 8 {
            return None;
        }
        let mask = self.index.len() - 1;
        let mut i = hash(symbol) & mask;
        for _ in 0..self.index.len() {
            let e = *self.index.get(i)?;
            if e == 0 {
                return None;
            }
            let locate = (e - 1) as u16;
            if self
                .get(locate)
                .is_some_and(|s| s.record.symbol() == symbol)
            {
                return Some(locate);
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// A directory message: `locate` is `symbol`.
    pub fn on_directory(&mut self, locate: u16, symbol: &[u8]) {
        let symbol = trim(symbol);
        let Some(slot) = self.slots.get_mut(usize::from(locate)) else {
            self.out_of_range += 1;
            return;
        };
        if slot.known && slot.record.symbol() == symbol {
            return;
        }
        let n = symbol.len().min(8);
        slot.record.symbol = [0; 8];
        slot.record.symbol[..n].copy_from_slice(&symbol[..n]);
        slot.record.symbol_len = n as u8;
        slot.record.locate = locate;
        slot.known = n > 0;
        if n > 0 {
            self.insert_index(locate, &symbol[..n]);
        }
    }

    /// Stores a record and says what it changed. A record carries at most
    /// `RECORD_DEPTH` levels; levels beyond its count are not compared.
    pub fn on_record(&mut self, r: &BookRecord) -> Change {
        let Some(slot) = self.slots.get_mut(usize::from(r.locate)) else {
            self.out_of_range += 1;
            return Change {
                bid_from: Change::NONE,
                ask_from: Change::NONE,
                vwap: false,
            };
        };
        let old = &slot.record;
        let change = Change {
            bid_from: first_difference(old.bids(), r.bids()),
            ask_from: first_difference(old.asks(), r.asks()),
            vwap: (old.vwap, old.volume) != (r.vwap, r.volume),
        };
        let had_symbol = slot.known;
        let old_symbol = old.symbol;
        slot.record = *r;
        if r.symbol_len == 0 && had_symbol {
            // Directory name kept when the engine has none.
            slot.record.symbol = old_symbol;
            slot.record.symbol_len = trim(&old_symbol).len() as u8;
        } else if r.symbol_len > 0 && (!had_symbol || old_symbol != r.symbol) {
            slot.known = true;
            let sym = r.symbol;
            self.insert_index(r.locate, trim(&sym[..usize::from(r.symbol_len).min(8)]));
        }
        change
    }

    fn insert_index(&mut self, locate: u16, symbol: &[u8]) {
        let mask = self.index.len() - 1;
        let mut i = hash(symbol) & mask;
        for _ in 0..self.index.len() {
            let Some(e) = self.index.get_mut(i) else {
                return;
            };
            if *e == 0 || *e == u32::from(locate) + 1 {
                *e = u32::from(locate) + 1;
                return;
            }
            i = (i + 1) & mask;
        }
    }
}

/// Index of the first level that differs (by price, shares or orders), or
/// [`Change::NONE`].
fn first_difference(a: &[crate::book::Level], b: &[crate::book::Level]) -> u8 {
    let n = a.len().max(b.len()).min(RECORD_DEPTH);
    for i in 0..n {
        if a.get(i) != b.get(i) {
            return i as u8;
        }
    }
    Change::NONE
}

fn trim(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|&c| c != b' ' && c != 0)
        .map_or(0, |p| p + 1);
    &s[..end]
}

/// FNV-1a over the symbol bytes.
fn hash(s: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &c in s {
        h ^= u32::from(c);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Level;

    fn rec(locate: u16, sym: &[u8], bids: &[(u32, u64)], vwap: (u64, u64)) -> BookRecord {
        let levels: std::vec::Vec<Level> = bids
            .iter()
            .rev()
            .map(|&(price, shares)| Level {
                price,
                orders: 1,
                shares,
            })
            .collect();
        let mut r = BookRecord::EMPTY;
        r.fill(1, locate, sym, Some(vwap), &levels, &[], RECORD_DEPTH);
        r
    }

    #[test]
    fn lookup_directory_and_records() {
        let mut slots = std::vec![BookSlot::default(); 16];
        let mut index = std::vec![0u32; index_len(16)];
        let mut st = BookStore::new(&mut slots, &mut index).unwrap();
        st.on_directory(3, b"AAPL    ");
        st.on_directory(4, b"MSFT    ");
        assert_eq!(st.lookup(b"AAPL"), Some(3));
        assert_eq!(st.lookup(b"MSFT    "), Some(4));
        assert_eq!(st.lookup(b"IBM"), None);
        assert_eq!(st.lookup(b""), None);
        st.on_directory(99, b"ZZZ");
        assert_eq!(st.out_of_range, 1);
        // A record with no symbol keeps the directory's.
        st.on_record(&rec(3, b"", &[(100, 1)], (0, 0)));
        assert_eq!(st.get(3).unwrap().record.symbol(), b"AAPL");
        st.on_record(&rec(5, b"GOOG", &[], (0, 0)));
        assert_eq!(st.lookup(b"GOOG"), Some(5));
        assert!(BookStore::new(&mut [BookSlot::default(); 4], &mut [0; 6]).is_err());
    }

    #[test]
    fn change_depths() {
        let mut slots = std::vec![BookSlot::default(); 4];
        let mut index = std::vec![0u32; index_len(4)];
        let mut st = BookStore::new(&mut slots, &mut index).unwrap();
        let c = st.on_record(&rec(1, b"A", &[(100, 10), (99, 5)], (0, 0)));
        assert_eq!((c.bid_from, c.ask_from, c.vwap), (0, Change::NONE, false));
        let c = st.on_record(&rec(1, b"A", &[(100, 10), (99, 6)], (0, 0)));
        assert_eq!(c.bid_from, 1);
        assert!(!c.visible(1, super::super::ENTRY_BID));
        assert!(c.visible(2, super::super::ENTRY_BID));
        assert!(!c.visible(2, super::super::ENTRY_OFFER | super::super::ENTRY_VWAP));
        let c = st.on_record(&rec(1, b"A", &[(100, 10), (99, 6), (98, 1)], (5, 1)));
        assert_eq!((c.bid_from, c.vwap), (2, true));
        let c = st.on_record(&rec(1, b"A", &[(100, 10), (99, 6), (98, 1)], (5, 1)));
        assert!(!c.any());
        let c = st.on_record(&rec(1, b"A", &[], (0, 0)));
        assert_eq!((c.bid_from, c.vwap), (0, true));
    }
}
