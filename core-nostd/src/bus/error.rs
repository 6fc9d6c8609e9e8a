//! Why a bus record could not be written or read.

use core::fmt;

use crate::engine::RECORD_DEPTH;

/// Why [`encode`](super::encode) or [`BusRecord::new_checked`](super::BusRecord::new_checked)
/// refused. Nothing in this module panics on bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BusError {
    /// Shorter than the 80-byte v1 header.
    Truncated,
    /// The first two bytes are not `TW`.
    BadMagic,
    /// A version other than 1 (an incompatible layout).
    UnsupportedVersion(u8),
    /// `header_len` below 80.
    BadHeaderLength,
    /// More than [`RECORD_DEPTH`] levels on a side.
    TooManyLevels,
    /// The length is not `header_len + 16 × (bid_count + ask_count)`.
    LengthMismatch,
    /// The VWAP fields disagree: flags bit 0 set without volume, clear with
    /// volume, or a VWAP price without the flag.
    BadVwap,
    /// The output buffer cannot hold the record.
    BufferTooSmall,
}

impl BusError {
    /// A short stable name, for counters and logs.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Truncated => "bus_truncated",
            Self::BadMagic => "bus_bad_magic",
            Self::UnsupportedVersion(_) => "bus_unsupported_version",
            Self::BadHeaderLength => "bus_bad_header_length",
            Self::TooManyLevels => "bus_too_many_levels",
            Self::LengthMismatch => "bus_length_mismatch",
            Self::BadVwap => "bus_bad_vwap",
            Self::BufferTooSmall => "bus_buffer_too_small",
        }
    }
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated => f.write_str("bus record shorter than its 80-byte header"),
            Self::BadMagic => f.write_str("not a bus record (magic is not \"TW\")"),
            Self::UnsupportedVersion(v) => write!(f, "bus record version {v} (1 is supported)"),
            Self::BadHeaderLength => f.write_str("bus record header_len below 80"),
            Self::TooManyLevels => write!(
                f,
                "bus record has more than {RECORD_DEPTH} levels on a side"
            ),
            Self::LengthMismatch => {
                f.write_str("bus record length is not header_len + 16 x (bid_count + ask_count)")
            }
            Self::BadVwap => {
                f.write_str("bus record VWAP flag disagrees with its volume or VWAP price")
            }
            Self::BufferTooSmall => f.write_str("output buffer too small for the bus record"),
        }
    }
}

impl core::error::Error for BusError {}
