//! The engine: MoldUDP64 sequencing, ITCH 5.0 book semantics, VWAP windows and
//! snapshot emission, in event time. See `docs/semantics.md` for the contract.

use crate::book::Level;
use crate::book::{InsertError, LevelArena, OrderSlot, OrderTable, SideRef, SymbolState};
use crate::feed::{Cursor, Deliver};
use crate::vwap::{vwap_price4, VwapBucket, WindowGeometry};
use crate::wire::itch::{self, ItchMessage, Message};
use crate::wire::{classify_frame, FilterReason, Frame, MoldPacket, WireError};
use zerocopy::FromBytes;

mod pending;
mod record;
pub use record::{BookRecord, Origin, RECORD_DEPTH};

/// Sessions tracked at once (a feed normally has one per day).
pub const MAX_SESSIONS: usize = 8;
/// Most VWAP buckets a window may need (`window / gcd(interval, window)`).
pub const MAX_VWAP_BUCKETS: usize = 256;
const LOCATES: usize = 1 << 16;
/// One day in ns: ITCH timestamps count ns since midnight, so a timestamp at
/// or beyond this is implausible (counted `timestamp_out_of_day`).
pub const DAY_NS: u64 = 86_400 * 1_000_000_000;
/// Most shares one execution (E, C, P, Q) may carry to count toward VWAP.
/// E, C and P carry 32-bit shares; a Cross (Q) carries 64 bits, and one of
/// more than `u32::MAX` shares (over four billion: more than any listed
/// company's whole float trades in a cross) is refused and counted
/// `implausible_shares`. With this bound a bucket's volume needs over 2^32
/// executions to pass `u64::MAX` (refused and counted `vwap_overflow`).
pub const MAX_EXECUTION_SHARES: u64 = u32::MAX as u64;

/// Engine configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EngineConfig {
    /// Emission interval in ns (boundaries at its multiples).
    pub interval_ns: u64,
    /// VWAP window in ns.
    pub window_ns: u64,
    /// Most live orders at once.
    pub max_orders: usize,
    /// Price levels the level arena holds (segment capacity, all symbols).
    pub max_levels: usize,
    /// Stock locates covered: locates `0..max_locates` (65,536 covers all).
    pub max_locates: usize,
}

impl Default for EngineConfig {
    /// Fits a full NASDAQ day: 4 Mi live orders, 4 Mi levels, every locate.
    fn default() -> Self {
        Self {
            interval_ns: 100_000_000,
            window_ns: 1_000_000_000,
            max_orders: 4 << 20,
            max_levels: 4 << 20,
            max_locates: LOCATES,
        }
    }
}

/// How much storage of each kind an [`EngineConfig`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StorageSizes {
    /// [`OrderSlot`]s (a power of two).
    pub order_slots: usize,
    /// [`Level`]s.
    pub levels: usize,
    /// [`SymbolState`]s.
    pub symbols: usize,
    /// [`VwapBucket`]s (`symbols × buckets per window`).
    pub vwap_buckets: usize,
}

impl StorageSizes {
    /// Total bytes.
    pub const fn bytes(&self) -> usize {
        self.order_slots * core::mem::size_of::<OrderSlot>()
            + self.levels * core::mem::size_of::<Level>()
            + self.symbols * core::mem::size_of::<SymbolState>()
            + self.vwap_buckets * core::mem::size_of::<VwapBucket>()
    }
}

/// Configuration or storage the engine cannot work with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// Interval or window is zero, or the window needs more than
    /// [`MAX_VWAP_BUCKETS`] buckets.
    BadWindow,
    /// `max_orders`, `max_levels` or `max_locates` is zero or too large.
    BadCapacity,
    /// A storage slice is shorter than [`EngineConfig::storage_sizes`] says.
    StorageTooSmall,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::BadWindow => {
                "interval and window must be non-zero and window/gcd(interval, window) at most 256"
            }
            Self::BadCapacity => {
                "capacities must be non-zero (max_locates at most 65536, max_orders below 2^30)"
            }
            Self::StorageTooSmall => {
                "storage handed to the engine is smaller than the configuration needs"
            }
        })
    }
}

impl core::error::Error for ConfigError {}

impl EngineConfig {
    fn geometry(&self) -> Result<WindowGeometry, ConfigError> {
        WindowGeometry::new(self.interval_ns, self.window_ns, MAX_VWAP_BUCKETS)
            .ok_or(ConfigError::BadWindow)
    }

    /// Storage this configuration needs.
    pub fn storage_sizes(&self) -> Result<StorageSizes, ConfigError> {
        let g = self.geometry()?;
        if self.max_orders == 0
            || self.max_orders >= 1 << 30
            || self.max_levels == 0
            || self.max_levels >= u32::MAX as usize
        {
            return Err(ConfigError::BadCapacity);
        }
        if self.max_locates == 0 || self.max_locates > LOCATES {
            return Err(ConfigError::BadCapacity);
        }
        Ok(StorageSizes {
            order_slots: OrderTable::slots_for(self.max_orders),
            levels: self.max_levels,
            symbols: self.max_locates,
            vwap_buckets: self.max_locates * g.buckets,
        })
    }
}

/// The big tables, in storage the caller owns (heap, hugepages or statics).
/// Contents on entry do not matter: the engine clears them.
#[derive(Debug)]
pub struct Storage<'s> {
    /// Order table slots.
    pub orders: &'s mut [OrderSlot],
    /// Level arena.
    pub levels: &'s mut [Level],
    /// Per-locate state.
    pub symbols: &'s mut [SymbolState],
    /// VWAP rings.
    pub vwap: &'s mut [VwapBucket],
}

/// Best price and its aggregate shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Quote {
    /// Price(4).
    pub price: u32,
    /// Aggregate shares at that price.
    pub shares: u64,
}

/// One snapshot: the state of a symbol after all messages before `boundary_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Snapshot<'a> {
    /// The emission boundary (ns since midnight).
    pub boundary_ns: u64,
    /// Stock locate.
    pub locate: u16,
    /// Symbol (empty when no message named it).
    pub symbol: &'a [u8],
    /// Best bid.
    pub bid: Option<Quote>,
    /// Best offer.
    pub ask: Option<Quote>,
    /// VWAP over `[boundary - W, boundary)`, Price(4), rounded half up.
    pub vwap: u64,
    /// Shares executed in the window.
    pub volume: u64,
}

/// Receives snapshots as the engine emits them.
pub trait SnapshotSink {
    /// Called once per snapshot, in emission order.
    fn on_snapshot(&mut self, snapshot: &Snapshot<'_>);

    /// Levels per side wanted in book records (0, the default: no records).
    /// At most [`RECORD_DEPTH`].
    fn record_depth(&self) -> usize {
        0
    }

    /// Called for each locate whose book changed since the last boundary,
    /// whose VWAP window holds executions, or whose window just emptied,
    /// with its state at the boundary. Records are written lazily
    /// ([`Engine::emit_pending`]): a locate's record first when a message is
    /// about to change it, the others in locate order (as the poll loop's
    /// budget allows, all of them before the next boundary's), so within a
    /// boundary the order depends on when the caller emits. The sink hands
    /// `fill` a record to fill in place (in its ring's memory, say) and
    /// returns whether it took it; `false` (full) keeps the locate marked
    /// changed for the next boundary.
    fn on_record(&mut self, fill: impl FnOnce(&mut BookRecord)) -> bool {
        let _ = fill;
        false
    }

    /// A stock directory message named `symbol` (8 bytes, space padded) for
    /// `locate`.
    fn on_directory(&mut self, locate: u16, symbol: &[u8; 8]) {
        let _ = (locate, symbol);
    }

    /// Whether snapshots ([`SnapshotSink::on_snapshot`]) are wanted at all;
    /// a sink that only takes records says no and saves the boundary the
    /// window sums of every active symbol.
    fn wants_snapshots(&self) -> bool {
        true
    }
}

impl<F: FnMut(&Snapshot<'_>)> SnapshotSink for F {
    fn on_snapshot(&mut self, snapshot: &Snapshot<'_>) {
        self(snapshot)
    }
}

/// What became of one received frame or packet; every frame gets exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PacketOutcome {
    /// In sequence (or partly duplicate with new messages); heartbeats and end
    /// of session at the expected sequence count here too.
    Applied,
    /// Every message already seen.
    Duplicate,
    /// Ahead of the expected sequence: the missing messages were counted.
    GapOpening,
    /// Well formed but not ours.
    Filtered(FilterReason),
    /// Rejected by a parser (frame, packet or any message in it).
    Malformed(WireError),
    /// A session beyond [`MAX_SESSIONS`]; counted with the malformed packets.
    SessionRefused,
}

/// Number of [`WireError`] kinds, for per-kind counters.
pub const WIRE_ERROR_KINDS: usize = 14;

/// Index of a [`WireError`] kind in per-kind counters.
pub const fn wire_error_index(e: &WireError) -> usize {
    match e {
        WireError::EthernetTruncated => 0,
        WireError::VlanTruncated => 1,
        WireError::Ipv4Truncated => 2,
        WireError::Ipv4BadVersion => 3,
        WireError::Ipv4BadHeaderLength => 4,
        WireError::Ipv4BadTotalLength => 5,
        WireError::Ipv4Fragment => 6,
        WireError::UdpTruncated => 7,
        WireError::UdpBadLength => 8,
        WireError::MoldTruncated => 9,
        WireError::MoldBlockOverrun => 10,
        WireError::ItchEmpty => 11,
        WireError::ItchUnknownType(_) => 12,
        WireError::ItchBadLength { .. } => 13,
    }
}

/// Names of the per-kind counters, in index order.
pub const WIRE_ERROR_NAMES: [&str; WIRE_ERROR_KINDS] = [
    "ethernet_truncated",
    "vlan_truncated",
    "ipv4_truncated",
    "ipv4_bad_version",
    "ipv4_bad_header_length",
    "ipv4_bad_total_length",
    "ipv4_fragment",
    "udp_truncated",
    "udp_bad_length",
    "mold_truncated",
    "mold_block_overrun",
    "itch_empty",
    "itch_unknown_type",
    "itch_bad_length",
];

/// Everything the engine counts. Packets: every frame handed to
/// [`Engine::on_frame`] lands in exactly one of `packets_applied`,
/// `packets_duplicate`, `packets_gap`, `packets_filtered`, `packets_malformed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counters {
    /// Frames or packets applied (including heartbeats and end of session).
    pub packets_applied: u64,
    /// Packets whose every message was a duplicate.
    pub packets_duplicate: u64,
    /// Packets that opened a gap.
    pub packets_gap: u64,
    /// Frames that were not ours.
    pub packets_filtered: u64,
    /// Frames or packets rejected, whole or in part.
    pub packets_malformed: u64,
    /// Heartbeat packets seen (also counted above).
    pub heartbeats: u64,
    /// End-of-session packets seen (also counted above).
    pub end_of_session: u64,
    /// Packets of a session beyond [`MAX_SESSIONS`] (counted malformed).
    pub sessions_refused: u64,
    /// Filtered frames by reason: not IPv4, not UDP, other port.
    pub filtered_by_reason: [u64; 3],
    /// Rejections by kind (frames, packets and messages), see [`WIRE_ERROR_NAMES`].
    pub malformed_by_kind: [u64; WIRE_ERROR_KINDS],

    /// Messages applied to the engine.
    pub messages_applied: u64,
    /// Messages dropped as duplicates (sequence below the expected one).
    pub messages_duplicate: u64,
    /// Messages never received (gaps in sequence).
    pub messages_missing: u64,
    /// Messages dropped as malformed, including the unframeable rest of a
    /// packet after a block overrun.
    pub messages_malformed: u64,
    /// Applied messages by type, in [`itch::ALL_TYPES`] order.
    pub messages_by_type: [u64; 23],

    /// E, C, X, D or U naming an order that is not live.
    pub unknown_ref: u64,
    /// E, C or X of more shares than remain (the order was removed).
    pub oversized_reductions: u64,
    /// A or F (or U's new reference) reusing a live reference (refused).
    pub duplicate_ref: u64,
    /// Adds refused for zero shares, zero price, reference 0 or a bad side.
    pub rejected_adds: u64,
    /// Adds refused because the order table was full.
    pub orders_refused_full: u64,
    /// Adds refused because the level arena was full.
    pub levels_refused_full: u64,
    /// Messages whose locate is at or beyond `max_locates` (ignored).
    pub locate_out_of_range: u64,
    /// An order's level was not found (never expected; counted, not fatal).
    pub book_mismatch: u64,
    /// Executions counted toward VWAP.
    pub vwap_executions: u64,
    /// Executions (C, P, Q) not counted toward VWAP because their shares
    /// are above [`MAX_EXECUTION_SHARES`] (the book is still reduced by C).
    pub implausible_shares: u64,
    /// Executions (C printable, P, Q) not counted toward VWAP because their
    /// price is 0 (the book is still reduced by C).
    pub implausible_price: u64,
    /// Executions not counted toward VWAP because their bucket's volume
    /// would pass `u64::MAX`.
    pub vwap_overflow: u64,
    /// Messages whose timestamp is below the latest one applied: applied
    /// (book, VWAP) at the latest timestamp; boundaries never move back.
    pub timestamp_backwards: u64,
    /// Messages whose timestamp is at or beyond [`DAY_NS`]: applied at the
    /// latest plausible timestamp, as if it were theirs.
    pub timestamp_out_of_day: u64,
    /// Snapshots emitted.
    pub snapshots: u64,
    /// Snapshots (and record VWAPs) skipped because the window's volume
    /// does not fit 64 bits.
    pub snapshots_skipped_overflow: u64,
    /// Snapshots skipped because a locate marked active had no volume in
    /// its window (never expected; counted, not fatal).
    pub snapshots_skipped_no_volume: u64,
    /// Book records handed to the sink (publisher mode).
    pub records: u64,
    /// Book records the sink could not take (its ring was full); the locate
    /// stays marked changed and goes out at the next boundary.
    pub records_refused: u64,
    /// Times the feed gave messages up ([`Engine::on_lost`]).
    pub loss_events: u64,
    /// Books marked possibly stale by those losses (every book known at
    /// the time: a lost message may have touched any).
    pub books_possibly_stale: u64,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            packets_applied: 0,
            packets_duplicate: 0,
            packets_gap: 0,
            packets_filtered: 0,
            packets_malformed: 0,
            heartbeats: 0,
            end_of_session: 0,
            sessions_refused: 0,
            filtered_by_reason: [0; 3],
            malformed_by_kind: [0; WIRE_ERROR_KINDS],
            messages_applied: 0,
            messages_duplicate: 0,
            messages_missing: 0,
            messages_malformed: 0,
            messages_by_type: [0; 23],
            unknown_ref: 0,
            oversized_reductions: 0,
            duplicate_ref: 0,
            rejected_adds: 0,
            orders_refused_full: 0,
            levels_refused_full: 0,
            locate_out_of_range: 0,
            book_mismatch: 0,
            vwap_executions: 0,
            implausible_shares: 0,
            implausible_price: 0,
            vwap_overflow: 0,
            timestamp_backwards: 0,
            timestamp_out_of_day: 0,
            snapshots: 0,
            snapshots_skipped_overflow: 0,
            snapshots_skipped_no_volume: 0,
            records: 0,
            records_refused: 0,
            loss_events: 0,
            books_possibly_stale: 0,
        }
    }
}

impl Counters {
    /// Total frames or packets classified.
    pub fn packets_total(&self) -> u64 {
        self.packets_applied
            + self.packets_duplicate
            + self.packets_gap
            + self.packets_filtered
            + self.packets_malformed
    }

    fn count_error(&mut self, e: &WireError) {
        if let Some(c) = self.malformed_by_kind.get_mut(wire_error_index(e)) {
            *c += 1;
        }
    }
}

/// Hands a [`crate::feed::Sequencer`]'s in-order messages to an engine.
pub struct EngineDeliver<'a, 'e, S> {
    /// The engine.
    pub engine: &'a mut Engine<'e>,
    /// Its sink.
    pub sink: &'a mut S,
}

impl<S: SnapshotSink> Deliver for EngineDeliver<'_, '_, S> {
    fn deliver(&mut self, packet: &[u8], skip: u16) {
        // The sequencer checked the header; malformed blocks are counted
        // by apply_packet.
        if let Ok(p) = MoldPacket::new_checked(packet) {
            let _ = self.engine.apply_packet(&p, u64::from(skip), self.sink);
        }
    }

    fn lost(&mut self, _first: u64, count: u64) {
        self.engine.on_lost(count);
    }
}

/// The VWAP bucket of the latest execution: `start..end` in ns, its index
/// (`ts / bucket_ns`) and its ring slot.
#[derive(Debug, Clone, Copy)]
struct BucketCache {
    start: u64,
    end: u64,
    idx: u64,
    slot: usize,
}

impl BucketCache {
    /// Holds no timestamp.
    const EMPTY: Self = Self {
        start: 1,
        end: 0,
        idx: 0,
        slot: 0,
    };
}

#[derive(Debug, Clone, Copy)]
struct SessionSeq {
    name: [u8; 10],
    cursor: Cursor,
}

/// Index of each type byte in [`itch::ALL_TYPES`] order (for per-type
/// counters), as a table so the per-message lookup is one load.
const TYPE_INDEX: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < itch::ALL_TYPES.len() {
        t[itch::ALL_TYPES[i] as usize] = i as u8;
        i += 1;
    }
    t
};

const fn type_index(t: u8) -> usize {
    TYPE_INDEX[t as usize] as usize
}
const TI_A: usize = type_index(b'A');
const TI_F: usize = type_index(b'F');
const TI_E: usize = type_index(b'E');
const TI_C: usize = type_index(b'C');
const TI_X: usize = type_index(b'X');
const TI_D: usize = type_index(b'D');
const TI_U: usize = type_index(b'U');

/// The error for a known type framed with the wrong length.
#[cold]
#[inline(never)]
fn bad_length(t: u8, bytes: &[u8]) -> WireError {
    WireError::ItchBadLength {
        msg_type: t,
        expected: itch::expected_length(t).unwrap_or(0) as u16,
        actual: u16::try_from(bytes.len()).unwrap_or(u16::MAX),
    }
}

/// Counts an add the order table refused.
#[cold]
#[inline(never)]
fn refused(c: &mut Counters, e: InsertError) {
    match e {
        InsertError::Duplicate => c.duplicate_ref += 1,
        InsertError::Full => c.orders_refused_full += 1,
        InsertError::ZeroRef => c.rejected_adds += 1,
    }
}

/// Counts an execution refused for VWAP (shares or price).
#[cold]
#[inline(never)]
fn implausible_execution(c: &mut Counters, shares: u64) {
    if shares > MAX_EXECUTION_SHARES {
        c.implausible_shares += 1;
    } else {
        c.implausible_price += 1;
    }
}

/// A locate's first name, from an add.
#[cold]
#[inline(never)]
fn learn_cold(s: &mut SymbolState, stock: &[u8; 8]) {
    s.set_symbol(stock);
}

/// The big-endian u64 at bytes 11..19 (the order reference of the order
/// messages), 0 for shorter messages.
#[inline(always)]
fn ref_at_11(msg: &[u8]) -> u64 {
    match msg.get(11..19) {
        Some(&[a, b, c, d, e, f, g, h]) => u64::from_be_bytes([a, b, c, d, e, f, g, h]),
        _ => 0,
    }
}

/// True for `B` and `S`. Arithmetic, not comparisons: compilers turn
/// `side == b'B' || side == b'S'` into a branch per letter, and which letter
/// comes is a coin toss. `B` (0x42) and `S` (0x53) differ only in bits 0 and
/// 4, and each has those two bits equal.
#[inline(always)]
const fn valid_side(side: u8) -> bool {
    (((side & 0xEE) ^ 0x42) | ((side ^ (side >> 4)) & 1)) == 0
}

#[inline(always)]
fn side_of(symbols: &mut [SymbolState], locate: u16, side: u8) -> Option<(&mut SideRef, bool)> {
    let s = symbols.get_mut(usize::from(locate))?;
    if !valid_side(side) {
        return None;
    }
    let is_bid = side == b'B';
    Some(if is_bid {
        (&mut s.bids, true)
    } else {
        (&mut s.asks, false)
    })
}

/// The engine. One per feed (per worker lcore in the host).
#[derive(Debug)]
pub struct Engine<'s> {
    orders: OrderTable<'s>,
    levels: LevelArena<'s>,
    symbols: &'s mut [SymbolState],
    vwap: &'s mut [VwapBucket],
    geometry: WindowGeometry,
    interval_ns: u64,
    next_boundary: Option<u64>,
    /// The timestamp from which a message needs [`Engine::advance_time`]:
    /// `next_boundary` (at most [`DAY_NS`], so that every timestamp out of
    /// the day takes the slow path), or 0 before the first message.
    next_due: u64,
    /// The latest timestamp applied (time never goes back: a message
    /// stamped earlier is applied at this time).
    now: u64,
    /// MoldUDP64 session and sequence number of the last message applied
    /// (its time is `now`), for the origin of book records.
    applied_session: [u8; 10],
    applied_seq: u64,
    last_exec_any: Option<u64>,
    active: [u64; LOCATES / 64],
    active_count: u32,
    /// Locates whose book changed since the last boundary (book records).
    dirty: [u64; LOCATES / 64],
    dirty_any: bool,
    /// Records of the last boundary not yet handed out (see `pending.rs`).
    pending: pending::Pending,
    /// The sink takes records (as of the last boundary or first message).
    records_mode: bool,
    bucket: BucketCache,
    sessions: [Option<SessionSeq>; MAX_SESSIONS],
    counters: Counters,
}

impl<'s> Engine<'s> {
    /// Builds an engine over `storage`, clearing it.
    pub fn new(config: &EngineConfig, storage: Storage<'s>) -> Result<Self, ConfigError> {
        let sizes = config.storage_sizes()?;
        let geometry = config.geometry()?;
        let Storage {
            orders,
            levels,
            symbols,
            vwap,
        } = storage;
        if orders.len() < sizes.order_slots
            || levels.len() < sizes.levels
            || symbols.len() < sizes.symbols
            || vwap.len() < sizes.vwap_buckets
        {
            return Err(ConfigError::StorageTooSmall);
        }
        let (orders, _) = orders.split_at_mut(sizes.order_slots);
        let (symbols, _) = symbols.split_at_mut(sizes.symbols);
        let (vwap, _) = vwap.split_at_mut(sizes.vwap_buckets);
        symbols.iter_mut().for_each(|s| *s = SymbolState::default());
        vwap.iter_mut().for_each(|b| *b = VwapBucket::default());
        let orders = OrderTable::new(orders, config.max_orders).ok_or(ConfigError::BadCapacity)?;
        Ok(Self {
            orders,
            levels: LevelArena::new(levels),
            symbols,
            vwap,
            geometry,
            interval_ns: config.interval_ns,
            next_boundary: None,
            next_due: 0,
            now: 0,
            applied_session: [0; 10],
            applied_seq: 0,
            last_exec_any: None,
            active: [0; LOCATES / 64],
            active_count: 0,
            dirty: [0; LOCATES / 64],
            dirty_any: false,
            pending: pending::Pending::EMPTY,
            records_mode: false,
            bucket: BucketCache::EMPTY,
            sessions: [None; MAX_SESSIONS],
            counters: Counters::default(),
        })
    }

    /// The counters so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Live orders.
    pub fn live_orders(&self) -> usize {
        self.orders.len()
    }

    /// Level-arena capacity in use (levels).
    pub fn level_segments_in_use(&self) -> usize {
        self.levels.segment_levels_in_use()
    }

    /// The symbol a locate was given (empty when unknown).
    pub fn symbol(&self, locate: u16) -> &[u8] {
        self.symbols
            .get(usize::from(locate))
            .map_or(&[], |s| s.symbol())
    }

    /// Best bid of a locate.
    pub fn best_bid(&self, locate: u16) -> Option<Quote> {
        let s = self.symbols.get(usize::from(locate))?;
        self.levels.best(&s.bids).map(|l| Quote {
            price: l.price,
            shares: l.shares,
        })
    }

    /// Best offer of a locate.
    pub fn best_ask(&self, locate: u16) -> Option<Quote> {
        let s = self.symbols.get(usize::from(locate))?;
        self.levels.best(&s.asks).map(|l| Quote {
            price: l.price,
            shares: l.shares,
        })
    }

    /// All bid levels of a locate, worst first, best last.
    pub fn bid_levels(&self, locate: u16) -> &[Level] {
        self.symbols
            .get(usize::from(locate))
            .map_or(&[], |s| self.levels.levels(&s.bids))
    }

    /// All offer levels of a locate, worst first, best last.
    pub fn ask_levels(&self, locate: u16) -> &[Level] {
        self.symbols
            .get(usize::from(locate))
            .map_or(&[], |s| self.levels.levels(&s.asks))
    }

    /// The next emission boundary not yet emitted (None before the first message).
    pub fn next_boundary(&self) -> Option<u64> {
        self.next_boundary
    }

    /// For a caller with a prefetch instruction (the core forbids `unsafe`, so
    /// it only names addresses), without looking at the type: what a
    /// hit at the order-table slot that the reference at bytes 11..19 hashes
    /// to reads, as its first and last byte (the slot and the next slot's
    /// reference, which a removal checks; one or two cache lines). That is
    /// the slot a lookup (E, C, X, D, U) starts at and the slot an add (A, F)
    /// most likely fills; for other types the addresses are harmless noise,
    /// for messages shorter than 19 bytes the table's first slot. No branch
    /// on the type byte, which is unpredictable in a real feed.
    #[inline]
    pub fn prefetch_addrs(&self, msg: &[u8]) -> [*const u8; 2] {
        self.orders.home_slot_span(ref_at_11(msg))
    }

    /// Calls `prefetch` with both addresses of [`Engine::prefetch_addrs`]
    /// for every message of a MoldUDP64 packet (without a branch on the
    /// message type).
    #[inline]
    pub fn prefetch_packet(&self, packet: &MoldPacket<&[u8]>, mut prefetch: impl FnMut(*const u8)) {
        for m in packet.messages().flatten() {
            let [a, b] = self.prefetch_addrs(m);
            prefetch(a);
            prefetch(b);
        }
    }

    /// Classifies one received frame and, when it is a MoldUDP64 packet on one
    /// of `ports` (all ports when empty), sequences and applies it.
    #[inline]
    pub fn on_frame<S: SnapshotSink>(
        &mut self,
        frame: &[u8],
        ports: &[u16],
        sink: &mut S,
    ) -> PacketOutcome {
        self.on_classified(classify_frame(frame, ports), sink)
    }

    /// Sequences and applies a frame already classified by
    /// [`classify_frame`] (callers that classify ahead, to prefetch, pass the
    /// result here instead of classifying twice).
    #[inline]
    pub fn on_classified<S: SnapshotSink>(
        &mut self,
        frame: Result<Frame<'_>, WireError>,
        sink: &mut S,
    ) -> PacketOutcome {
        match frame {
            Ok(Frame::Mold { packet, .. }) => self.on_packet(&packet, sink),
            Ok(Frame::Filtered(reason)) => {
                self.counters.packets_filtered += 1;
                let i = match reason {
                    FilterReason::NotIpv4 => 0,
                    FilterReason::NotUdp => 1,
                    _ => 2,
                };
                self.counters.filtered_by_reason[i] += 1;
                PacketOutcome::Filtered(reason)
            }
            Err(e) => {
                self.counters.packets_malformed += 1;
                self.counters.count_error(&e);
                PacketOutcome::Malformed(e)
            }
        }
    }

    fn session_slot(&mut self, name: &[u8; 10], first_seq: u64) -> Option<&mut SessionSeq> {
        let mut free = None;
        for (i, s) in self.sessions.iter().enumerate() {
            match s {
                Some(s) if &s.name == name => {
                    free = Some(i);
                    break;
                }
                None if free.is_none() => free = Some(i),
                _ => {}
            }
        }
        let slot = self.sessions.get_mut(free?)?;
        // The expected sequence of a new session starts at its first packet's.
        Some(slot.get_or_insert(SessionSeq {
            name: *name,
            cursor: Cursor::new(first_seq),
        }))
    }

    /// Sequences and applies one MoldUDP64 packet (see the module docs).
    pub fn on_packet<S: SnapshotSink>(
        &mut self,
        pkt: &MoldPacket<&[u8]>,
        sink: &mut S,
    ) -> PacketOutcome {
        let seq = pkt.sequence();
        let Some(session) = self.session_slot(pkt.session(), seq) else {
            self.counters.sessions_refused += 1;
            self.counters.packets_malformed += 1;
            return PacketOutcome::SessionRefused;
        };
        let count = u64::from(pkt.message_count());
        let step = session.cursor.advance(seq, count);
        self.counters.messages_missing += step.gap;
        if count == 0 {
            if pkt.is_end_of_session() {
                self.counters.end_of_session += 1;
            } else {
                self.counters.heartbeats += 1;
            }
        }
        self.counters.messages_duplicate += step.skip;
        if step.all_duplicate(count) {
            self.counters.packets_duplicate += 1;
            return PacketOutcome::Duplicate;
        }
        match self.apply_packet(pkt, step.skip, sink) {
            Err(e) => {
                self.counters.packets_malformed += 1;
                PacketOutcome::Malformed(e)
            }
            Ok(()) if step.gap > 0 => {
                self.counters.packets_gap += 1;
                PacketOutcome::GapOpening
            }
            Ok(()) => {
                self.counters.packets_applied += 1;
                PacketOutcome::Applied
            }
        }
    }

    /// Applies the messages of a packet from the `skip`-th on (they are next
    /// in sequence: the caller sequenced them), counting malformed ones. The
    /// last error, if any, is returned.
    pub fn apply_packet<S: SnapshotSink>(
        &mut self,
        pkt: &MoldPacket<&[u8]>,
        skip: u64,
        sink: &mut S,
    ) -> Result<(), WireError> {
        let count = u64::from(pkt.message_count());
        let first = pkt.sequence();
        self.applied_session = *pkt.session();
        let mut bad = None;
        for (this, block) in (0u64..).zip(pkt.messages()) {
            if this < skip {
                continue;
            }
            match block {
                Ok(bytes) => match self.apply_bytes(bytes, sink) {
                    Ok(()) => self.applied_seq = first.saturating_add(this),
                    Err(e) => {
                        self.counters.messages_malformed += 1;
                        self.counters.count_error(&e);
                        bad = Some(e);
                    }
                },
                Err(e) => {
                    // The rest of the packet cannot be framed.
                    self.counters.messages_malformed += count - this;
                    self.counters.count_error(&e);
                    bad = Some(e);
                }
            }
        }
        match bad {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `count` messages were given up by the feed (lost on every route):
    /// counted missing, and every book the engine knows is marked possibly
    /// stale (a lost message may have touched any of them).
    pub fn on_lost(&mut self, count: u64) {
        self.counters.messages_missing += count;
        self.counters.loss_events += 1;
        let mut stale = 0;
        for st in self.symbols.iter_mut() {
            if st.symbol_len > 0 || st.bids.len > 0 || st.asks.len > 0 {
                st.stale = 1;
            }
            stale += u64::from(st.stale);
        }
        self.counters.books_possibly_stale = stale;
    }

    /// Applies one message framed by a file (no sequencing).
    #[inline]
    pub fn on_message<S: SnapshotSink>(
        &mut self,
        bytes: &[u8],
        sink: &mut S,
    ) -> Result<(), WireError> {
        let r = self.apply_bytes(bytes, sink);
        if let Err(e) = &r {
            self.counters.messages_malformed += 1;
            self.counters.count_error(e);
        }
        r
    }

    /// Emits every boundary at or before the message's timestamp, then applies
    /// an already parsed message.
    #[inline]
    pub fn apply<S: SnapshotSink>(&mut self, m: &Message<'_>, sink: &mut S) {
        // A parsed message always has its specification length.
        let _ = self.apply_bytes(m.as_bytes(), sink);
    }

    /// Validates one message (type and exact length), emits every boundary at
    /// or before its timestamp, and applies it: one dispatch on the type byte.
    /// Errors are returned, not counted (the callers count them).
    #[inline(always)]
    pub fn apply_bytes<S: SnapshotSink>(
        &mut self,
        bytes: &[u8],
        sink: &mut S,
    ) -> Result<(), WireError> {
        let Some(&t) = bytes.first() else {
            return Err(WireError::ItchEmpty);
        };
        // The book messages, by frequency. Each arm's cast is the length check.
        match t {
            b'A' | b'F' => {
                // F is A plus a 4-byte attribution: its first 36 bytes read
                // as an A, so one arm serves both once the length is exact.
                let (exact, ti) = if t == b'A' {
                    (itch::AddOrder::LEN, TI_A)
                } else {
                    (itch::AddOrderMpid::LEN, TI_F)
                };
                let Ok((a, _)) = itch::AddOrder::ref_from_prefix(bytes) else {
                    return Err(bad_length(t, bytes));
                };
                if bytes.len() != exact {
                    return Err(bad_length(t, bytes));
                }
                self.begin(&a.header, ti, sink);
                self.touch(a.header.stock_locate(), sink);
                self.add(
                    a.header.stock_locate(),
                    a.order_ref.get(),
                    a.side,
                    a.shares.get(),
                    a.price.get(),
                    Some(&a.stock),
                );
            }
            b'D' => {
                let Ok(d) = itch::OrderDelete::ref_from_bytes(bytes) else {
                    return Err(bad_length(t, bytes));
                };
                self.begin(&d.header, TI_D, sink);
                if let Some((i, o)) = self.lookup(d.order_ref.get()) {
                    self.touch(o.locate, sink);
                    self.remove(i, o);
                }
            }
            b'U' => {
                let Ok(u) = itch::OrderReplace::ref_from_bytes(bytes) else {
                    return Err(bad_length(t, bytes));
                };
                self.begin(&u.header, TI_U, sink);
                if let Some((i, o)) = self.lookup(u.original_order_ref.get()) {
                    self.touch(o.locate, sink);
                    self.remove(i, o);
                    self.add(
                        o.locate,
                        u.new_order_ref.get(),
                        o.side,
                        u.shares.get(),
                        u.price.get(),
                        None,
                    );
                }
            }
            b'E' => {
                let Ok(e) = itch::OrderExecuted::ref_from_bytes(bytes) else {
                    return Err(bad_length(t, bytes));
                };
                let ts = self.begin(&e.header, TI_E, sink);
                if let Some((i, o)) = self.lookup(e.order_ref.get()) {
                    self.touch(o.locate, sink);
                    self.execute(i, o, e.executed_shares.get(), None, ts);
                }
            }
            b'C' => {
                let Ok(e) = itch::OrderExecutedWithPrice::ref_from_bytes(bytes) else {
                    return Err(bad_length(t, bytes));
                };
                let ts = self.begin(&e.header, TI_C, sink);
                let price = (e.printable == b'Y').then(|| e.execution_price.get());
                if let Some((i, o)) = self.lookup(e.order_ref.get()) {
                    self.touch(o.locate, sink);
                    self.execute(i, o, e.executed_shares.get(), Some(price), ts);
                }
            }
            b'X' => {
                let Ok(x) = itch::OrderCancel::ref_from_bytes(bytes) else {
                    return Err(bad_length(t, bytes));
                };
                self.begin(&x.header, TI_X, sink);
                if let Some((i, o)) = self.lookup(x.order_ref.get()) {
                    self.touch(o.locate, sink);
                    self.reduce(i, o, x.cancelled_shares.get());
                }
            }
            _ => return self.apply_other(t, bytes, sink),
        }
        Ok(())
    }

    /// Emits the boundaries the message's timestamp has reached and counts
    /// it; returns the time to apply it at (its timestamp, or the latest
    /// one when its own goes back or beyond the day).
    #[inline(always)]
    fn begin<S: SnapshotSink>(&mut self, h: &itch::Header, type_index: usize, sink: &mut S) -> u64 {
        let raw = h.timestamp_ns();
        // One well-predicted branch: next_due <= DAY_NS, so an out-of-day
        // timestamp fails the first test.
        let ts = if (raw >= self.next_due) | (raw < self.now) {
            self.time_cold(raw, sink)
        } else {
            self.now = raw;
            raw
        };
        let c = &mut self.counters;
        c.messages_applied += 1;
        if let Some(n) = c.messages_by_type.get_mut(type_index) {
            *n += 1;
        }
        ts
    }

    /// A timestamp at or past the next boundary, going back, or beyond the
    /// day: emits the boundaries it reached, or counts it and returns the
    /// latest timestamp instead.
    #[cold]
    #[inline(never)]
    fn time_cold<S: SnapshotSink>(&mut self, raw: u64, sink: &mut S) -> u64 {
        if raw >= DAY_NS {
            self.counters.timestamp_out_of_day += 1;
            return self.now;
        }
        if raw < self.now {
            self.counters.timestamp_backwards += 1;
            return self.now;
        }
        if raw >= self.next_due {
            self.advance_time(raw, sink);
        }
        self.now = raw;
        raw
    }

    /// Every type but the book messages of [`Engine::apply_bytes`].
    #[inline(never)]
    fn apply_other<S: SnapshotSink>(
        &mut self,
        t: u8,
        bytes: &[u8],
        sink: &mut S,
    ) -> Result<(), WireError> {
        let Some(len) = itch::expected_length(t) else {
            return Err(WireError::ItchUnknownType(t));
        };
        if bytes.len() != len {
            return Err(bad_length(t, bytes));
        }
        let Ok((h, _)) = itch::Header::ref_from_prefix(bytes) else {
            return Err(bad_length(t, bytes));
        };
        let ts = self.begin(h, usize::from(TYPE_INDEX[usize::from(t)]), sink);
        let locate = h.stock_locate();
        match t {
            b'P' => {
                if let Ok(p) = itch::Trade::ref_from_bytes(bytes) {
                    self.touch(locate, sink);
                    self.learn_symbol(locate, &p.stock);
                    self.record_execution(locate, ts, p.price.get(), u64::from(p.shares.get()));
                }
            }
            b'Q' => {
                if let Ok(q) = itch::CrossTrade::ref_from_bytes(bytes) {
                    self.touch(locate, sink);
                    self.learn_symbol(locate, &q.stock);
                    self.record_execution(locate, ts, q.cross_price.get(), q.shares.get());
                }
            }
            b'R' => {
                if let Ok(r) = itch::StockDirectory::ref_from_bytes(bytes) {
                    match self.symbols.get_mut(usize::from(locate)) {
                        Some(s) => {
                            s.set_symbol(&r.stock);
                            sink.on_directory(locate, &r.stock);
                        }
                        None => self.counters.locate_out_of_range += 1,
                    }
                }
            }
            // Validated above: the book types never reach here.
            _ => {}
        }
        Ok(())
    }

    #[inline]
    fn learn_symbol(&mut self, locate: u16, stock: &[u8; 8]) {
        if let Some(s) = self.symbols.get_mut(usize::from(locate)) {
            if s.symbol_len == 0 {
                s.set_symbol(stock);
            }
        }
    }

    /// The slot index and a copy of a live order; counts unknown references.
    #[inline(always)]
    fn lookup(&mut self, order_ref: u64) -> Option<(usize, OrderSlot)> {
        let found = self.orders.find_order(order_ref);
        if found.is_none() {
            self.counters.unknown_ref += 1;
        }
        found
    }

    #[inline(always)]
    fn add(
        &mut self,
        locate: u16,
        order_ref: u64,
        side: u8,
        shares: u32,
        price: u32,
        stock: Option<&[u8; 8]>,
    ) {
        let Some(sym) = self.symbols.get_mut(usize::from(locate)) else {
            self.counters.locate_out_of_range += 1;
            return;
        };
        // Non-short-circuit: one well-predicted branch, not one per test.
        let is_bid = side == b'B';
        if (shares == 0) | (price == 0) | !valid_side(side) {
            self.counters.rejected_adds += 1;
            return;
        }
        if let Some(stock) = stock {
            if sym.symbol_len == 0 {
                learn_cold(sym, stock);
            }
        }
        let slot = OrderSlot::new(order_ref, price, shares, locate, side);
        if let Err(e) = self.orders.insert(slot) {
            refused(&mut self.counters, e);
            return;
        }
        let side_ref = if is_bid { &mut sym.bids } else { &mut sym.asks };
        if self.levels.add(side_ref, is_bid, price, shares).is_err() {
            self.orders.remove(order_ref);
            self.counters.levels_refused_full += 1;
        }
    }

    /// Removes the live order `o` in slot `slot` whole (D, U).
    #[inline(always)]
    fn remove(&mut self, slot: usize, o: OrderSlot) {
        self.orders.remove_at(slot);
        self.take_from_level(o, o.shares, true);
    }

    /// Takes `shares` off the live order `o` in slot `slot`; the order goes
    /// when none remain.
    #[inline(always)]
    fn reduce(&mut self, slot: usize, o: OrderSlot, shares: u32) {
        if shares >= o.shares {
            if shares > o.shares {
                self.counters.oversized_reductions += 1;
            }
            self.remove(slot, o);
        } else {
            self.orders.sub_shares(slot, shares);
            self.take_from_level(o, shares, false);
        }
    }

    #[inline(always)]
    fn take_from_level(&mut self, o: OrderSlot, taken: u32, gone: bool) {
        let found = match side_of(self.symbols, o.locate, o.side) {
            Some((side_ref, is_bid)) => self.levels.reduce(side_ref, is_bid, o.price, taken, gone),
            None => false,
        };
        if !found {
            self.counters.book_mismatch += 1;
        }
    }

    /// E (price None: the order's) and C (Some(None): not printable) of the
    /// live order `o` in `slot`.
    #[inline]
    fn execute(
        &mut self,
        slot: usize,
        o: OrderSlot,
        shares: u32,
        c_price: Option<Option<u32>>,
        ts: u64,
    ) {
        let vwap_price = match c_price {
            None => Some(o.price),
            Some(p) => p,
        };
        if let Some(p) = vwap_price {
            self.record_execution(o.locate, ts, p, u64::from(shares));
        }
        self.reduce(slot, o, shares);
    }

    #[inline]
    fn record_execution(&mut self, locate: u16, ts: u64, price: u32, shares: u64) {
        if shares == 0 {
            return;
        }
        if (shares > MAX_EXECUTION_SHARES) | (price == 0) {
            implausible_execution(&mut self.counters, shares);
            return;
        }
        let n = self.geometry.buckets;
        let li = usize::from(locate);
        let Some(ring) = self.vwap.get_mut(li * n..li * n + n) else {
            self.counters.locate_out_of_range += 1;
            return;
        };
        // Timestamps ascend, so executions mostly land in the bucket of the
        // previous one: keep its bounds, index and slot.
        let bc = &mut self.bucket;
        if !(bc.start <= ts && ts < bc.end) {
            let (idx, slot) = self.geometry.bucket_of(ts);
            let start = idx.saturating_mul(self.geometry.bucket_ns);
            *bc = BucketCache {
                start,
                end: start.saturating_add(self.geometry.bucket_ns),
                idx,
                slot,
            };
        }
        if !self
            .geometry
            .record_at(ring, bc.idx, bc.slot, price, shares)
        {
            // Time never goes back (begin), so only the volume can refuse.
            self.counters.vwap_overflow += 1;
            return;
        }
        if let Some(s) = self.symbols.get_mut(li) {
            s.last_exec_ns = s.last_exec_ns.max(ts);
        }
        let (w, bit) = (li / 64, 1u64 << (li % 64));
        if let Some(word) = self.active.get_mut(w) {
            if *word & bit == 0 {
                *word |= bit;
                self.active_count += 1;
            }
        }
        self.last_exec_any = Some(self.last_exec_any.map_or(ts, |t| t.max(ts)));
        self.counters.vwap_executions += 1;
    }

    /// Emits every boundary at or before `ts` (the caller checked that there
    /// is one, or that this is the first message).
    #[cold]
    #[inline(never)]
    fn advance_time<S: SnapshotSink>(&mut self, ts: u64, sink: &mut S) {
        let i = self.interval_ns;
        self.records_mode = sink.record_depth() > 0;
        // ts < DAY_NS (begin), and boundaries saturate rather than wrap
        // for an interval near u64::MAX.
        let first_after = |ts: u64| (ts / i).saturating_add(1).saturating_mul(i);
        let Some(mut b) = self.next_boundary else {
            // First message: the first boundary is the first multiple of I after it.
            let b = first_after(ts);
            self.next_boundary = Some(b);
            self.next_due = b.min(DAY_NS);
            return;
        };
        if b > ts {
            return;
        }
        while b <= ts {
            let any_in_window = match self.last_exec_any {
                Some(last) => {
                    self.active_count > 0 && last.saturating_add(self.geometry.window_ns) >= b
                }
                None => false,
            };
            // Records also go out once for a window that just emptied.
            let records_due = (self.dirty_any || self.active_count > 0 || self.has_pending())
                && sink.record_depth() > 0;
            if !any_in_window && !records_due {
                // Nothing changes before this message, so no boundary up to ts
                // has an execution in its window or a changed book: skip them
                // all.
                b = first_after(ts);
                break;
            }
            self.emit_boundary(b, sink);
            b = b.saturating_add(i);
        }
        self.next_boundary = Some(b);
        self.next_due = b.min(DAY_NS);
    }

    #[inline(never)]
    fn emit_boundary<S: SnapshotSink>(&mut self, b: u64, sink: &mut S) {
        let window_start = b.saturating_sub(self.geometry.window_ns);
        let n = self.geometry.buckets;
        let records = sink.record_depth() > 0;
        if records && self.has_pending() {
            // The previous boundary's records go first, whole.
            self.emit_pending(usize::MAX, sink);
        }
        if sink.wants_snapshots() {
            for wi in 0..self.active.len() {
                let mut word = self.active[wi];
                while word != 0 {
                    let bit = word.trailing_zeros() as usize;
                    word &= word - 1;
                    let li = wi * 64 + bit;
                    let Some(s) = self.symbols.get(li) else {
                        self.counters.snapshots_skipped_no_volume += 1;
                        continue;
                    };
                    if s.last_exec_ns < window_start {
                        self.active[wi] &= !(1u64 << bit);
                        self.active_count -= 1;
                        if records {
                            // Its record says the window emptied.
                            self.dirty[wi] |= 1u64 << bit;
                        }
                        continue;
                    }
                    let Some(ring) = self.vwap.get(li * n..li * n + n) else {
                        self.counters.snapshots_skipped_no_volume += 1;
                        continue;
                    };
                    let Some((notional, volume)) = self.geometry.window_sum(ring, b) else {
                        self.counters.snapshots_skipped_overflow += 1;
                        continue;
                    };
                    let Some(vwap) = vwap_price4(notional, volume) else {
                        // Zero volume (vwap_price4 cannot overflow on a
                        // window sum).
                        self.counters.snapshots_skipped_no_volume += 1;
                        continue;
                    };
                    let snap = Snapshot {
                        boundary_ns: b,
                        locate: li as u16,
                        symbol: s.symbol(),
                        bid: self.levels.best(&s.bids).map(|l| Quote {
                            price: l.price,
                            shares: l.shares,
                        }),
                        ask: self.levels.best(&s.asks).map(|l| Quote {
                            price: l.price,
                            shares: l.shares,
                        }),
                        vwap,
                        volume,
                    };
                    sink.on_snapshot(&snap);
                    self.counters.snapshots += 1;
                }
            }
        }
        if records {
            self.open_pending(b);
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod side_tests {
    #[test]
    fn valid_side_is_b_or_s() {
        for b in 0..=255u8 {
            assert_eq!(super::valid_side(b), b == b'B' || b == b'S', "{b:#x}");
        }
    }
}
