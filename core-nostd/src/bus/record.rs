//! The v1 layout as zerocopy structs, the writer and the read-only view.

use core::iter::FusedIterator;
use core::slice::ChunksExact;

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{BusError, FLAGS_KNOWN, FLAG_STALE, FLAG_VWAP, HEADER_LEN, LEVEL_LEN, MAGIC, VERSION};
use crate::book::Level;
use crate::engine::{BookRecord, Origin, RECORD_DEPTH};

/// The v1 header as it lies on the wire (80 bytes, little-endian).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct BusHeader {
    /// `b"TW"`.
    pub magic: [u8; 2],
    /// 1.
    pub version: u8,
    /// Bit 0: VWAP present; bit 1: stale; the others 0 (ignored when read).
    pub flags: u8,
    /// Stock locate.
    pub locate: U16,
    /// Bid levels after the header.
    pub bid_count: u8,
    /// Ask levels after the bids.
    pub ask_count: u8,
    /// Symbol, ASCII, right-padded with spaces.
    pub symbol: [u8; 8],
    /// MoldUDP64 session as on the wire (all zero: not MoldUDP64).
    pub session: [u8; 10],
    /// Bytes of header before the levels (80 in v1; more when later
    /// versions append fields).
    pub header_len: U16,
    /// 0.
    pub reserved: [u8; 4],
    /// The publisher's record number, 1-based; gaps are dropped records.
    pub pub_seq: U64,
    /// MoldUDP64 sequence number of the last message applied (0: none).
    pub seq: U64,
    /// That message's ITCH timestamp, ns since midnight.
    pub event_ns: U64,
    /// The emission boundary, ns since midnight.
    pub boundary_ns: U64,
    /// VWAP, Price(4); 0 when flags bit 0 is clear.
    pub vwap: U64,
    /// Shares executed in the VWAP window.
    pub volume: U64,
}

/// One level as it lies on the wire (16 bytes, little-endian).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct WireLevel {
    /// Price(4).
    pub price: U32,
    /// Live orders at the price.
    pub orders: U32,
    /// Aggregate open shares.
    pub shares: U64,
}

impl From<Level> for WireLevel {
    fn from(l: Level) -> Self {
        Self {
            price: U32::new(l.price),
            orders: U32::new(l.orders),
            shares: U64::new(l.shares),
        }
    }
}

impl From<WireLevel> for Level {
    fn from(l: WireLevel) -> Self {
        Self {
            price: l.price.get(),
            orders: l.orders.get(),
            shares: l.shares.get(),
        }
    }
}

/// Writes `record` as a v1 bus record into `buf` and returns its length:
/// at most `depth` levels per side (1: top of book; never more than
/// [`RECORD_DEPTH`]), `header_len` 80, flags bit 0 when `volume > 0` (the
/// VWAP field is written 0 otherwise), bit 1 when `stale`. The symbol is
/// `record.symbol()` right-padded with spaces.
///
/// [`BusError::BufferTooSmall`] when `buf` cannot hold the record (nothing
/// useful is written then); [`super::MAX_LEN`] always suffices.
pub fn encode(
    record: &BookRecord,
    pub_seq: u64,
    depth: usize,
    buf: &mut [u8],
) -> Result<usize, BusError> {
    let depth = depth.min(RECORD_DEPTH);
    let bids = record.bids();
    let asks = record.asks();
    let bids = bids.get(..depth).unwrap_or(bids);
    let asks = asks.get(..depth).unwrap_or(asks);
    let len = super::record_len(bids.len() + asks.len());
    let out = buf.get_mut(..len).ok_or(BusError::BufferTooSmall)?;

    let mut symbol = [b' '; 8];
    let name = record.symbol();
    let n = name.len().min(8);
    symbol[..n].copy_from_slice(&name[..n]);
    let has_vwap = record.volume > 0;
    let flags = if has_vwap { FLAG_VWAP } else { 0 } | if record.stale { FLAG_STALE } else { 0 };
    let header = BusHeader {
        magic: MAGIC,
        version: VERSION,
        flags,
        locate: U16::new(record.locate),
        // At most RECORD_DEPTH (10) each.
        bid_count: bids.len() as u8,
        ask_count: asks.len() as u8,
        symbol,
        session: record.origin.session,
        header_len: U16::new(HEADER_LEN as u16),
        reserved: [0; 4],
        pub_seq: U64::new(pub_seq),
        seq: U64::new(record.origin.seq),
        event_ns: U64::new(record.origin.event_ns),
        boundary_ns: U64::new(record.boundary_ns),
        vwap: U64::new(if has_vwap { record.vwap } else { 0 }),
        volume: U64::new(record.volume),
    };
    let (head, levels) = out
        .split_at_mut_checked(HEADER_LEN)
        .ok_or(BusError::BufferTooSmall)?;
    head.copy_from_slice(header.as_bytes());
    for (slot, level) in levels
        .chunks_exact_mut(LEVEL_LEN)
        .zip(bids.iter().chain(asks))
    {
        slot.copy_from_slice(WireLevel::from(*level).as_bytes());
    }
    Ok(len)
}

/// A read-only view of a bus record.
#[derive(Debug, Clone, Copy)]
pub struct BusRecord<T: AsRef<[u8]>> {
    buffer: T,
}

static EMPTY_HEADER: BusHeader = BusHeader {
    magic: [0; 2],
    version: 0,
    flags: 0,
    locate: U16::ZERO,
    bid_count: 0,
    ask_count: 0,
    symbol: [b' '; 8],
    session: [0; 10],
    header_len: U16::new(HEADER_LEN as u16),
    reserved: [0; 4],
    pub_seq: U64::ZERO,
    seq: U64::ZERO,
    event_ns: U64::ZERO,
    boundary_ns: U64::ZERO,
    vwap: U64::ZERO,
    volume: U64::ZERO,
};

impl<T: AsRef<[u8]>> BusRecord<T> {
    /// A view without any check. Accessors still cannot panic: a buffer
    /// shorter than the header reads as an all-zero header, and level
    /// iterators stop at the end of the buffer.
    pub fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Checks, in this order: at least 80 bytes ([`BusError::Truncated`]),
    /// the magic, version 1, `header_len` at least 80, at most
    /// [`RECORD_DEPTH`] levels per side, the length exactly
    /// `header_len + 16 × (bid_count + ask_count)`, and the VWAP fields
    /// (flags bit 0 set exactly when volume > 0, VWAP 0 when clear). Header
    /// bytes past 80 (fields of later compatible layouts), the reserved
    /// bytes and unknown flag bits are ignored.
    pub fn new_checked(buffer: T) -> Result<Self, BusError> {
        let view = Self { buffer };
        let len = view.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(BusError::Truncated);
        }
        let h = view.header();
        if h.magic != MAGIC {
            return Err(BusError::BadMagic);
        }
        if h.version != VERSION {
            return Err(BusError::UnsupportedVersion(h.version));
        }
        if view.header_len() < HEADER_LEN {
            return Err(BusError::BadHeaderLength);
        }
        if usize::from(h.bid_count) > RECORD_DEPTH || usize::from(h.ask_count) > RECORD_DEPTH {
            return Err(BusError::TooManyLevels);
        }
        let levels = usize::from(h.bid_count) + usize::from(h.ask_count);
        if len != view.header_len() + LEVEL_LEN * levels {
            return Err(BusError::LengthMismatch);
        }
        let flagged = h.flags & FLAG_VWAP != 0;
        if flagged != (h.volume.get() > 0) || (!flagged && h.vwap.get() != 0) {
            return Err(BusError::BadVwap);
        }
        Ok(view)
    }

    /// The whole record.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The 80-byte v1 header.
    pub fn header(&self) -> &BusHeader {
        // new_checked saw at least HEADER_LEN bytes and BusHeader is
        // Unaligned, so this cannot fail; the fallback keeps the accessor
        // panic-free for unchecked views.
        match BusHeader::ref_from_prefix(self.buffer.as_ref()) {
            Ok((h, _)) => h,
            Err(_) => &EMPTY_HEADER,
        }
    }

    /// Layout version.
    pub fn version(&self) -> u8 {
        self.header().version
    }

    /// The flags byte as written (unknown bits included).
    pub fn flags(&self) -> u8 {
        self.header().flags
    }

    /// Whether bits v1 does not define are set in the flags byte (a later
    /// writer's; they are ignored).
    pub fn has_unknown_flags(&self) -> bool {
        self.flags() & !FLAGS_KNOWN != 0
    }

    /// Flags bit 0: the record carries a VWAP.
    pub fn has_vwap(&self) -> bool {
        self.flags() & FLAG_VWAP != 0
    }

    /// Flags bit 1: the book may miss messages.
    pub fn stale(&self) -> bool {
        self.flags() & FLAG_STALE != 0
    }

    /// Stock locate.
    pub fn locate(&self) -> u16 {
        self.header().locate.get()
    }

    /// Bid levels the record carries.
    pub fn bid_count(&self) -> u8 {
        self.header().bid_count
    }

    /// Ask levels the record carries.
    pub fn ask_count(&self) -> u8 {
        self.header().ask_count
    }

    /// Symbol, trailing spaces trimmed (empty: no message named it yet).
    pub fn symbol(&self) -> &[u8] {
        let s = &self.header().symbol;
        let n = s.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
        s.get(..n).unwrap_or(s)
    }

    /// MoldUDP64 session as on the wire (all zero: not MoldUDP64).
    pub fn session(&self) -> &[u8; 10] {
        &self.header().session
    }

    /// Bytes of header before the levels (80 in v1).
    pub fn header_len(&self) -> usize {
        usize::from(self.header().header_len.get())
    }

    /// The publisher's record number, 1-based; a gap is that many records
    /// the publisher dropped.
    pub fn pub_seq(&self) -> u64 {
        self.header().pub_seq.get()
    }

    /// MoldUDP64 sequence number of the last message applied before the
    /// boundary (0: none, or not MoldUDP64).
    pub fn seq(&self) -> u64 {
        self.header().seq.get()
    }

    /// That message's ITCH timestamp, ns since midnight.
    pub fn event_ns(&self) -> u64 {
        self.header().event_ns.get()
    }

    /// The emission boundary the state is as of, ns since midnight.
    pub fn boundary_ns(&self) -> u64 {
        self.header().boundary_ns.get()
    }

    /// VWAP over the window, Price(4), when flags bit 0 says there is one.
    pub fn vwap(&self) -> Option<u64> {
        self.has_vwap().then(|| self.header().vwap.get())
    }

    /// Shares executed in the VWAP window.
    pub fn volume(&self) -> u64 {
        self.header().volume.get()
    }

    /// Bids, best (highest) first.
    pub fn bids(&self) -> Levels<'_> {
        self.levels(0, self.bid_count())
    }

    /// Offers, best (lowest) first.
    pub fn asks(&self) -> Levels<'_> {
        self.levels(usize::from(self.bid_count()), self.ask_count())
    }

    fn levels(&self, skip: usize, count: u8) -> Levels<'_> {
        let start = self.header_len().saturating_add(LEVEL_LEN * skip);
        let bytes = self.buffer.as_ref().get(start..).unwrap_or(&[]);
        let end = (LEVEL_LEN * usize::from(count)).min(bytes.len());
        Levels {
            chunks: bytes.get(..end).unwrap_or(&[]).chunks_exact(LEVEL_LEN),
        }
    }

    /// The record as the engine had it (inverse of [`encode`] for a depth at
    /// least the level counts): symbol trimmed of trailing spaces, bytes of
    /// `symbol` past `symbol_len` and unused level slots zero, `vwap` 0
    /// when there is no VWAP, at most [`RECORD_DEPTH`] levels per side (an
    /// unchecked view may announce more). The publisher's `pub_seq` is not
    /// part of a [`BookRecord`].
    ///
    /// `decode(encode(r)) == r` exactly when `r` holds at most `depth`
    /// levels per side, `r.symbol()` has no trailing space, `r.symbol`
    /// past `symbol_len` and the unused level slots are zero, and `r.vwap`
    /// is 0 when `r.volume` is.
    pub fn to_book_record(&self) -> BookRecord {
        let mut r = BookRecord::EMPTY;
        let h = self.header();
        let symbol = self.symbol();
        r.symbol[..symbol.len()].copy_from_slice(symbol);
        // At most 8.
        r.symbol_len = symbol.len() as u8;
        r.boundary_ns = h.boundary_ns.get();
        r.vwap = self.vwap().unwrap_or(0);
        r.volume = h.volume.get();
        r.origin = Origin {
            session: h.session,
            seq: h.seq.get(),
            event_ns: h.event_ns.get(),
        };
        r.locate = h.locate.get();
        r.stale = self.stale();
        r.bid_count = fill(&mut r.bids, self.bids());
        r.ask_count = fill(&mut r.asks, self.asks());
        r
    }
}

fn fill(dst: &mut [Level; RECORD_DEPTH], src: Levels<'_>) -> u8 {
    let mut n = 0u8;
    for (d, s) in dst.iter_mut().zip(src) {
        *d = s;
        n += 1;
    }
    n
}

/// The levels of one side of a [`BusRecord`], best first.
#[derive(Debug, Clone)]
pub struct Levels<'a> {
    chunks: ChunksExact<'a, u8>,
}

impl Iterator for Levels<'_> {
    type Item = Level;

    #[inline]
    fn next(&mut self) -> Option<Level> {
        let chunk = self.chunks.next()?;
        WireLevel::read_from_bytes(chunk).ok().map(Level::from)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for Levels<'_> {}
impl FusedIterator for Levels<'_> {}
