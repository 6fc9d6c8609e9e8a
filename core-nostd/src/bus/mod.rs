//! The bus record: the compact binary form of a [`BookRecord`] that tickwire
//! publishes (to NATS), one record per message. Layout v1, all integers
//! little-endian (docs/bus-record.md has the table):
//!
//! an 80-byte header (magic `TW`, version, flags, locate, level counts,
//! symbol, MoldUDP64 session, header length, publisher's record number,
//! MoldUDP64 sequence number and ITCH time of the last message applied,
//! emission boundary, VWAP and volume), then `bid_count` bid levels and
//! `ask_count` ask levels, best first, 16 bytes each.
//!
//! [`encode`] writes one into a caller's buffer; [`BusRecord`] is the
//! read-only view (validated once by [`BusRecord::new_checked`], accessors
//! that cannot panic). Compatible additions only append fields to the header
//! and grow `header_len`, which readers honour; `VERSION` changes only for
//! incompatible layouts.
//!
//! [`BookRecord`]: crate::engine::BookRecord

mod error;
mod record;

pub use error::BusError;
pub use record::{encode, BusHeader, BusRecord, Levels, WireLevel};

use crate::engine::RECORD_DEPTH;

/// The first two bytes of every record.
pub const MAGIC: [u8; 2] = *b"TW";
/// The layout version this module writes and reads.
pub const VERSION: u8 = 1;
/// Length of the v1 header (the `header_len` written; the least accepted).
pub const HEADER_LEN: usize = 80;
/// Length of one level (price u32, orders u32, shares u64).
pub const LEVEL_LEN: usize = 16;
/// Longest v1 record as [`encode`] writes it: the header and
/// [`RECORD_DEPTH`] levels per side.
pub const MAX_LEN: usize = HEADER_LEN + 2 * RECORD_DEPTH * LEVEL_LEN;

/// Flags bit 0: the record carries a VWAP (volume > 0).
pub const FLAG_VWAP: u8 = 0b01;
/// Flags bit 1: the book may miss messages (the record's `stale`).
pub const FLAG_STALE: u8 = 0b10;
/// The flag bits v1 defines; the others are written 0 and ignored when read.
pub const FLAGS_KNOWN: u8 = FLAG_VWAP | FLAG_STALE;

/// Length of a v1 record as [`encode`] writes it with `levels` levels in all.
pub const fn record_len(levels: usize) -> usize {
    HEADER_LEN + LEVEL_LEN * levels
}

#[cfg(test)]
mod tests;
