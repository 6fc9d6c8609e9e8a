//! The replayer: runs the core engine over a NASDAQ BinaryFILE or a MoldUDP64
//! pcap held in memory (memory-mapped), writing FIX snapshots.

use std::io::{self, IsTerminal, Write};
use std::mem::size_of;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use memmap2::MmapMut;
use tickwire_core::book::{Level, OrderSlot, SymbolState};
use tickwire_core::engine::{
    Counters, Engine, EngineConfig, Snapshot, SnapshotSink, Storage, StorageSizes,
};
use tickwire_core::fix::{FixSession, TimePrecision};
use tickwire_core::vwap::VwapBucket;
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::binfile::BinFileError;
use crate::pcap::Packets;

/// Issues a prefetch for `p` (a hint from the engine).
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch instructions never fault and have no architectural
    // effect, whatever the address; SSE is part of the x86_64 baseline.
    #[allow(unsafe_code)]
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Prefetches both ends of a span (one or two cache lines).
#[inline(always)]
fn prefetch2([a, b]: [*const u8; 2]) {
    prefetch(a);
    prefetch(b);
}

/// Classifies a pcap record's frame (None for a read error or the end).
fn classify_record<'a>(
    r: &Option<Result<crate::pcap::Record<'a>, crate::pcap::PcapError>>,
    ports: &[u16],
) -> Option<Result<tickwire_core::wire::Frame<'a>, tickwire_core::wire::WireError>> {
    match r {
        Some(Ok(rec)) => Some(tickwire_core::wire::classify_frame(rec.data, ports)),
        _ => None,
    }
}

/// How many messages ahead of the one being applied the replayer prefetches.
const LOOKAHEAD: usize = 16;

/// What kind of file the input is (see [`crate::input`]).
pub use crate::input::Format as InputFormat;

/// Where FIX SendingTime (52) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendingClock {
    /// The wall clock when the snapshot is written.
    Wall,
    /// Event time: this midnight (s since the Unix epoch, UTC) plus the boundary.
    Event {
        /// Midnight of the trading day, seconds since the Unix epoch.
        midnight_epoch_s: u64,
    },
}

/// Engine storage in anonymous memory maps, zeroed lazily by the OS, with
/// transparent huge pages asked for (as the host's tables live in hugepage
/// memory): the order table spans tens of MiB, and with 4 KiB pages nearly
/// every order lookup would miss the TLB as well as the cache.
#[derive(Debug)]
pub struct HeapStorage {
    orders: MmapMut,
    levels: MmapMut,
    symbols: MmapMut,
    vwap: MmapMut,
    sizes: StorageSizes,
}

/// `bytes` of zeroed anonymous memory, huge pages advised where supported.
fn zeroed_map(bytes: usize) -> io::Result<MmapMut> {
    let map = MmapMut::map_anon(bytes.max(1))?;
    #[cfg(target_os = "linux")]
    {
        // Advice only: without transparent huge pages it is refused, harmlessly.
        let _ = map.advise(memmap2::Advice::HugePage);
    }
    Ok(map)
}

/// The first `n` elements of a map as a typed slice (empty if it is short,
/// which [`Engine::new`] then reports).
fn typed<T: FromBytes + IntoBytes + KnownLayout>(map: &mut MmapMut, n: usize) -> &mut [T] {
    match <[T]>::mut_from_prefix_with_elems(&mut map[..], n) {
        Ok((t, _)) => t,
        Err(_) => &mut [],
    }
}

impl HeapStorage {
    /// Allocates what `config` needs.
    pub fn new(config: &EngineConfig) -> anyhow::Result<Self> {
        let s = config
            .storage_sizes()
            .map_err(|e| anyhow::anyhow!("engine configuration: {e}"))?;
        let map = |n: usize, size: usize, what: &str| {
            n.checked_mul(size)
                .ok_or(io::ErrorKind::OutOfMemory.into())
                .and_then(zeroed_map)
                .map_err(|e| anyhow::anyhow!("cannot allocate the {what} table: {e}"))
        };
        Ok(Self {
            orders: map(s.order_slots, size_of::<OrderSlot>(), "order")?,
            levels: map(s.levels, size_of::<Level>(), "price level")?,
            symbols: map(s.symbols, size_of::<SymbolState>(), "symbol")?,
            vwap: map(s.vwap_buckets, size_of::<VwapBucket>(), "VWAP")?,
            sizes: s,
        })
    }

    /// Borrows it all as engine storage.
    pub fn storage(&mut self) -> Storage<'_> {
        let s = self.sizes;
        Storage {
            orders: typed(&mut self.orders, s.order_slots),
            levels: typed(&mut self.levels, s.levels),
            symbols: typed(&mut self.symbols, s.symbols),
            vwap: typed(&mut self.vwap, s.vwap_buckets),
        }
    }
}

/// A snapshot sink that encodes FIX into a reusable buffer and writes it out.
pub struct FixWriter<W: Write> {
    session: FixSession,
    clock: SendingClock,
    out: W,
    buf: [u8; 1024],
    /// FIX messages written.
    pub messages: u64,
    /// FIX bytes written.
    pub bytes: u64,
    error: Option<io::Error>,
    /// Wall-clock SendingTime of the boundary being written: read once per
    /// boundary, since its snapshots go out together.
    wall: Option<(u64, u64)>,
}

impl<W: Write> std::fmt::Debug for FixWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixWriter")
            .field("messages", &self.messages)
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl<W: Write> FixWriter<W> {
    /// A writer for one FIX session.
    pub fn new(session: FixSession, clock: SendingClock, out: W) -> Self {
        Self {
            session,
            clock,
            out,
            buf: [0; 1024],
            messages: 0,
            bytes: 0,
            error: None,
            wall: None,
        }
    }

    /// Flushes and reports the first write error, if any.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> SnapshotSink for FixWriter<W> {
    fn on_snapshot(&mut self, snap: &Snapshot<'_>) {
        if self.error.is_some() {
            return;
        }
        let t = match self.clock {
            SendingClock::Wall => match self.wall {
                Some((boundary, t)) if boundary == snap.boundary_ns => t,
                _ => {
                    let t = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos() as u64);
                    self.wall = Some((snap.boundary_ns, t));
                    t
                }
            },
            SendingClock::Event { midnight_epoch_s } => {
                midnight_epoch_s * 1_000_000_000 + snap.boundary_ns
            }
        };
        match self.session.encode_snapshot(snap, t, &mut self.buf) {
            Ok(n) => {
                if let Err(e) = self.out.write_all(&self.buf[..n]) {
                    self.error = Some(e);
                }
                self.messages += 1;
                self.bytes += n as u64;
            }
            Err(e) => self.error = Some(io::Error::other(e.to_string())),
        }
    }
}

/// Options for one replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Engine configuration.
    pub engine: EngineConfig,
    /// UDP destination ports consumed in pcap input (empty: all).
    pub ports: Vec<u16>,
    /// Show a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Print `CHK` lines (best bid/offer per locate) every N messages.
    pub checkpoint_every: Option<u64>,
}

/// What a replay did.
#[derive(Debug, Clone)]
pub struct ReplayReport {
    /// The input format.
    pub format: InputFormat,
    /// The engine's counters.
    pub counters: Counters,
    /// Records (pcap) or messages (BinaryFILE) read.
    pub records: u64,
    /// Wall time of the processing loop.
    pub elapsed: Duration,
    /// Live orders at the end.
    pub live_orders: usize,
    /// An error that ended reading early (truncated file), if any.
    pub input_error: Option<String>,
}

impl ReplayReport {
    /// Messages per second over the processing loop.
    pub fn messages_per_sec(&self) -> f64 {
        let m = self.counters.messages_applied + self.counters.messages_malformed;
        m as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

struct Progress {
    enabled: bool,
    total: usize,
    last: Instant,
    start: Instant,
}

impl Progress {
    fn new(enabled: bool, total: usize) -> Self {
        let now = Instant::now();
        Self {
            enabled: enabled && io::stderr().is_terminal() && total > 8 << 20,
            total,
            last: now,
            start: now,
        }
    }

    #[inline]
    fn tick(&mut self, offset: usize, messages: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last) < Duration::from_millis(200) {
            return;
        }
        self.last = now;
        let frac = offset as f64 / self.total.max(1) as f64;
        let filled = (frac * 30.0) as usize;
        let rate = messages as f64 / now.duration_since(self.start).as_secs_f64() / 1e6;
        eprint!(
            "\r[{:<30}] {:5.1}% {:>8.2}M msgs {:7.2}M msg/s",
            "#".repeat(filled),
            frac * 100.0,
            messages as f64 / 1e6,
            rate
        );
    }

    fn done(&self) {
        if self.enabled {
            eprintln!();
        }
    }
}

/// Tracks locates that have had an add, for `CHK` lines.
struct Checkpoints<'o> {
    every: u64,
    seen: Vec<bool>,
    /// The locates `seen` marks, ascending, so a dump visits only those.
    listed: Vec<u16>,
    out: &'o mut dyn Write,
}

impl Checkpoints<'_> {
    fn note(&mut self, msg: &[u8]) {
        // Only adds the engine could apply (whole messages) name a locate.
        if let [t @ (b'A' | b'F'), hi, lo, ..] = msg {
            if tickwire_core::wire::itch::expected_length(*t) == Some(msg.len()) {
                let locate = u16::from_be_bytes([*hi, *lo]);
                if !std::mem::replace(&mut self.seen[usize::from(locate)], true) {
                    let at = self.listed.partition_point(|&l| l < locate);
                    self.listed.insert(at, locate);
                }
            }
        }
    }

    fn dump(&mut self, k: u64, engine: &Engine<'_>) -> io::Result<()> {
        for &locate in &self.listed {
            write!(self.out, "CHK {k} {locate}")?;
            for q in [engine.best_bid(locate), engine.best_ask(locate)] {
                match q {
                    Some(q) => write!(self.out, " {} {}", q.price, q.shares)?,
                    None => self.out.write_all(b" - -")?,
                }
            }
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// A position in a BinaryFILE: the framing of
/// [`crate::binfile::BinFileReader`], with nothing but the position as state
/// (the replay loop runs two of them).
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// The next whole message, or `None` at the end or at a truncation.
    #[inline(always)]
    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, body) = match self.data.get(self.pos..)? {
            [a, b, body @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), body),
            _ => return None,
        };
        let msg = body.get(..len)?;
        self.pos += 2 + len;
        Some(msg)
    }

    /// Why [`Cursor::next`] returned `None`, if not the end of the data.
    fn error(&self) -> Option<BinFileError> {
        match self.data.get(self.pos..).unwrap_or(&[]) {
            [] => None,
            [_] => Some(BinFileError::TruncatedLength { offset: self.pos }),
            [a, b, body @ ..] => Some(BinFileError::TruncatedMessage {
                offset: self.pos,
                declared: u16::from_be_bytes([*a, *b]),
                available: body.len(),
            }),
        }
    }
}

/// Runs a BinaryFILE through the engine: a lead cursor LOOKAHEAD messages
/// ahead prefetches the order-table lines each message will touch, a lag
/// cursor applies them. `CHK` says whether `chk` is given, as a constant, so
/// that the loop without checkpoints tests nothing for them per message.
/// `records` counts on from `records0` (a stream's earlier chunks).
/// Returns the messages read and the offset of the first byte not taken (a
/// partial message at the end, if any).
#[inline(always)]
fn binfile_loop<S: SnapshotSink, const CHK: bool>(
    data: &[u8],
    records0: u64,
    engine: &mut Engine<'_>,
    sink: &mut S,
    mut chk: Option<&mut Checkpoints<'_>>,
    progress: &mut Progress,
) -> anyhow::Result<(u64, usize)> {
    let mut lead = Cursor { data, pos: 0 };
    let mut lag = Cursor { data, pos: 0 };
    let mut records = records0;
    for _ in 0..LOOKAHEAD {
        match lead.next() {
            Some(m) => prefetch2(engine.prefetch_addrs(m)),
            None => break,
        }
    }
    loop {
        match lead.next() {
            Some(m) => prefetch2(engine.prefetch_addrs(m)),
            // Drain: the lag cursor catches up with the lead.
            None if lag.pos < lead.pos => {}
            None => break,
        }
        let Some(msg) = lag.next() else {
            break;
        };
        records += 1;
        if CHK {
            if let Some(c) = chk.as_mut() {
                c.note(msg);
            }
        }
        // Malformed messages are counted by the engine.
        let _ = engine.on_message(msg, sink);
        if CHK {
            if let Some(c) = chk.as_mut() {
                if records.is_multiple_of(c.every) {
                    c.dump(records, engine)?;
                }
            }
        }
        if records & 0xfff == 0 {
            progress.tick(lag.pos, records);
        }
    }
    Ok((records, lag.pos))
}

/// Runs one span of whole-or-partial BinaryFILE messages, with or without
/// checkpoints. Inlined into its callers: as a function of its own (since
/// the streamed input, ef6684f) the loop ran 15-26% slower per message
/// (2,000 symbols: 53.65 against 44.37 ns/msg, best of 11 interleaved runs;
/// the codegen difference was not pinned down).
#[inline(always)]
fn binfile_span<S: SnapshotSink>(
    data: &[u8],
    records0: u64,
    engine: &mut Engine<'_>,
    sink: &mut S,
    chk: Option<&mut Checkpoints<'_>>,
    progress: &mut Progress,
) -> anyhow::Result<(u64, usize)> {
    match chk {
        Some(c) => binfile_loop::<S, true>(data, records0, engine, sink, Some(c), progress),
        None => binfile_loop::<S, false>(data, records0, engine, sink, None, progress),
    }
}

/// How much of a streamed BinaryFILE is held at once.
pub const STREAM_CHUNK: usize = 4 << 20;

/// Replays a BinaryFILE read from a stream (a gzip being decompressed):
/// [`STREAM_CHUNK`] bytes at a time through the same loop as a mapped file,
/// a message cut by the chunk's end carried to the next, so memory stays
/// bounded whatever the file's size. A read error (a corrupt or truncated
/// gzip) ends the replay with everything before it processed;
/// `describe_error` words it (e.g. with the compressed offset).
pub fn replay_binfile_stream<R: io::Read, S: SnapshotSink>(
    mut reader: R,
    opts: &ReplayOptions,
    storage: &mut HeapStorage,
    sink: &mut S,
    checkpoint_out: Option<&mut dyn Write>,
    describe_error: impl Fn(&R, io::Error, u64) -> String,
) -> anyhow::Result<ReplayReport> {
    let mut engine =
        Engine::new(&opts.engine, storage.storage()).map_err(|e| anyhow::anyhow!("engine: {e}"))?;
    let mut progress = Progress::new(false, 0);
    let mut chk = checkpoints(opts, checkpoint_out);
    let mut buf = vec![0u8; STREAM_CHUNK];
    let (mut held, mut base, mut records) = (0usize, 0u64, 0u64);
    let mut input_error = None;
    let start = Instant::now();
    loop {
        let (n, err) = crate::input::fill(&mut reader, &mut buf[held..]);
        let end = held + n;
        let done = err.is_some() || end < buf.len();
        let (r, pos) = binfile_span(
            &buf[..end],
            records,
            &mut engine,
            sink,
            chk.as_mut(),
            &mut progress,
        )?;
        records = r;
        if done {
            if let Some(e) = err {
                input_error = Some(describe_error(&reader, e, base + end as u64));
            } else if let Some(e) = (Cursor {
                data: &buf[..end],
                pos,
            })
            .error()
            {
                input_error = Some(shift_offset(e, base).to_string());
            }
            break;
        }
        buf.copy_within(pos..end, 0);
        held = end - pos;
        base += pos as u64;
    }
    if let Some(c) = chk.as_mut() {
        if !records.is_multiple_of(c.every) {
            c.dump(records, &engine)?;
        }
    }
    // Records of the last boundary still owed (a sink that takes records).
    engine.emit_pending(usize::MAX, sink);
    Ok(ReplayReport {
        format: InputFormat::BinFile,
        counters: *engine.counters(),
        records,
        elapsed: start.elapsed(),
        live_orders: engine.live_orders(),
        input_error,
    })
}

/// A chunk-relative truncation made file-relative.
fn shift_offset(e: BinFileError, base: u64) -> BinFileError {
    let at = |o: usize| (base as usize).saturating_add(o);
    match e {
        BinFileError::TruncatedLength { offset } => {
            BinFileError::TruncatedLength { offset: at(offset) }
        }
        BinFileError::TruncatedMessage {
            offset,
            declared,
            available,
        } => BinFileError::TruncatedMessage {
            offset: at(offset),
            declared,
            available,
        },
    }
}

fn checkpoints<'o>(
    opts: &ReplayOptions,
    checkpoint_out: Option<&'o mut dyn Write>,
) -> Option<Checkpoints<'o>> {
    match (opts.checkpoint_every, checkpoint_out) {
        (Some(every), Some(out)) if every > 0 => Some(Checkpoints {
            every,
            seen: vec![false; 1 << 16],
            listed: Vec::new(),
            out,
        }),
        _ => None,
    }
}

/// Replays `data` (a whole BinaryFILE or pcap) through a fresh engine.
pub fn replay<S: SnapshotSink>(
    data: &[u8],
    opts: &ReplayOptions,
    storage: &mut HeapStorage,
    sink: &mut S,
    checkpoint_out: Option<&mut dyn Write>,
) -> anyhow::Result<ReplayReport> {
    let format = match crate::input::detect(data) {
        Ok(crate::input::Detected::Plain(f)) => f,
        Ok(crate::input::Detected::Gzip) => {
            anyhow::bail!("gzip input: decompress it first (or open it with crate::input::Input)")
        }
        Err(e) => anyhow::bail!("{e}"),
    };
    let mut engine =
        Engine::new(&opts.engine, storage.storage()).map_err(|e| anyhow::anyhow!("engine: {e}"))?;
    let mut progress = Progress::new(opts.progress, data.len());
    let mut chk = checkpoints(opts, checkpoint_out);
    let mut records = 0u64;
    let mut input_error = None;
    let start = Instant::now();
    match format {
        InputFormat::BinFile => {
            let (r, pos) = binfile_span(data, 0, &mut engine, sink, chk.as_mut(), &mut progress)?;
            records = r;
            input_error = (Cursor { data, pos }).error().map(|e| e.to_string());
            if let Some(c) = chk.as_mut() {
                if !records.is_multiple_of(c.every) {
                    c.dump(records, &engine)?;
                }
            }
        }
        InputFormat::Pcap | InputFormat::PcapNg => {
            let mut reader = Packets::new(data).map_err(|e| anyhow::anyhow!("{format}: {e}"))?;
            // Each record is classified once, one record ahead, so that the
            // order slots its messages touch can be prefetched first.
            let mut next = reader.next();
            let mut next_frame = classify_record(&next, &opts.ports);
            if let Some(Ok(tickwire_core::wire::Frame::Mold { packet, .. })) = &next_frame {
                engine.prefetch_packet(packet, prefetch);
            }
            while let Some(item) = next {
                let frame = next_frame;
                next = reader.next();
                next_frame = classify_record(&next, &opts.ports);
                if let Some(Ok(tickwire_core::wire::Frame::Mold { packet, .. })) = &next_frame {
                    engine.prefetch_packet(packet, prefetch);
                }
                match (item, frame) {
                    (Ok(_), Some(frame)) => {
                        records += 1;
                        engine.on_classified(frame, sink);
                        if records & 0x3ff == 0 {
                            progress.tick(reader.offset(), records);
                        }
                    }
                    (Err(e), _) => input_error = Some(e.to_string()),
                    (Ok(_), None) => {}
                }
            }
        }
    }
    engine.emit_pending(usize::MAX, sink);
    let elapsed = start.elapsed();
    progress.done();
    Ok(ReplayReport {
        format,
        counters: *engine.counters(),
        records,
        elapsed,
        live_orders: engine.live_orders(),
        input_error,
    })
}

/// Parses `ms`, `us` or `ns`.
pub fn parse_precision(s: &str) -> Result<TimePrecision, String> {
    match s {
        "ms" => Ok(TimePrecision::Millis),
        "us" => Ok(TimePrecision::Micros),
        "ns" => Ok(TimePrecision::Nanos),
        _ => Err(format!("time precision must be ms, us or ns, not {s:?}")),
    }
}

/// Parses a duration such as `100ms`, `1s`, `250us`, `500ns`, `2m`.
pub fn parse_duration_ns(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(0);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("duration {s:?}: expected a whole number and a unit such as 100ms"))?;
    let mult = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => {
            return Err(format!(
                "duration {s:?}: unit must be ns, us, ms, s, m or h"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("duration {s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("100ms"), Ok(100_000_000));
        assert_eq!(parse_duration_ns("1s"), Ok(1_000_000_000));
        assert_eq!(parse_duration_ns("2h"), Ok(7_200_000_000_000));
        assert!(parse_duration_ns("1d").is_err());
        assert_eq!(parse_duration_ns("0"), Ok(0));
        assert!(parse_duration_ns("ms").is_err());
        assert!(parse_duration_ns("99999999999999999s").is_err());
    }
}
