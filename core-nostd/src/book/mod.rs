//! Full-depth order books: live orders by reference and aggregated price
//! levels per symbol and side, in storage the caller hands in.

pub mod levels;
pub mod orders;

pub use levels::{ArenaFull, Level, LevelArena, SideRef};
pub use orders::{InsertError, OrderSlot, OrderTable};

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Per-locate state: the two sides of the book, the symbol, and the time of the
/// latest VWAP execution.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct SymbolState {
    /// Timestamp of the latest execution that counted toward VWAP.
    pub last_exec_ns: u64,
    /// Bid levels.
    pub bids: SideRef,
    /// Offer levels.
    pub asks: SideRef,
    /// Symbol, trailing spaces trimmed, `symbol_len` bytes used.
    pub symbol: [u8; 8],
    /// Used bytes of `symbol` (0 = unknown).
    pub symbol_len: u8,
    /// 1 once a loss on the feed may have touched this book.
    pub stale: u8,
    /// Explicit padding.
    pub _pad: [u8; 6],
}

impl SymbolState {
    /// The symbol, or an empty slice when no message has named it yet.
    pub fn symbol(&self) -> &[u8] {
        self.symbol
            .get(..usize::from(self.symbol_len))
            .unwrap_or(&[])
    }

    /// Stores an 8-byte Stock field, trimmed.
    pub fn set_symbol(&mut self, stock: &[u8; 8]) {
        let trimmed = crate::wire::itch::stock_symbol(stock);
        self.symbol = *stock;
        self.symbol_len = trimmed.len() as u8;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn layout() {
        assert_eq!(core::mem::size_of::<super::SymbolState>(), 48);
    }
}
