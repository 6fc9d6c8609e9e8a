//! The hot path allocates nothing: parsing, sequencing, the book, top of book,
//! VWAP and FIX encoding of every snapshot, over 1.2 million messages from a
//! BinaryFILE (`Engine::on_message`) and from MoldUDP64 pcaps
//! (`Engine::on_frame`), with the engine built inside the checked region.
//!
//! A counting `#[global_allocator]` wraps `System` and counts allocations,
//! reallocations and deallocations of the current thread while it is
//! "armed" (thread-local, so libtest's other threads and concurrently running
//! tests do not disturb the count). Everything that may allocate (the input
//! bytes, engine storage, the FIX output ring) is set up before arming.
//! `counter_sees_allocations_while_armed` shows the counter does count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use tickwire::binfile::BinFileReader;
use tickwire::gen::{generate, FaultConfig, GenConfig, Manifest};
use tickwire::pcap::PcapReader;
use tickwire::replay::HeapStorage;
use tickwire_core::engine::{Counters, Engine, EngineConfig, Snapshot, SnapshotSink};
use tickwire_core::fix::{FixSession, TimePrecision};

// ------------------------------------------------------------------ counting allocator

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNTS: Cell<AllocCounts> = const { Cell::new(AllocCounts::ZERO) };
}

/// What the current thread did while armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AllocCounts {
    allocs: u64,
    reallocs: u64,
    deallocs: u64,
    bytes: u64,
}

impl AllocCounts {
    const ZERO: Self = Self {
        allocs: 0,
        reallocs: 0,
        deallocs: 0,
        bytes: 0,
    };
}

struct CountingAlloc;

#[inline]
fn note(f: impl FnOnce(&mut AllocCounts)) {
    // `try_with`: the allocator may run while thread-locals are torn down.
    let armed = ARMED.try_with(Cell::get).unwrap_or(false);
    if armed {
        let _ = COUNTS.try_with(|c| {
            let mut v = c.get();
            f(&mut v);
            c.set(v);
        });
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the bookkeeping touches only `const`-initialised
// thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(|c| {
            c.allocs += 1;
            c.bytes += layout.size() as u64;
        });
        // SAFETY: forwarded with the caller's guarantees about `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(|c| {
            c.allocs += 1;
            c.bytes += layout.size() as u64;
        });
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(|c| {
            c.reallocs += 1;
            c.bytes += new_size as u64;
        });
        // SAFETY: `ptr` was allocated by `System` through this allocator with
        // `layout` (caller's guarantee), so `System` may reallocate it.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(|c| c.deallocs += 1);
        // SAFETY: `ptr` was allocated by `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f` with the current thread's counter armed; returns its result and
/// what it allocated.
fn armed<R>(f: impl FnOnce() -> R) -> (R, AllocCounts) {
    COUNTS.with(|c| c.set(AllocCounts::ZERO));
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    (r, COUNTS.with(Cell::get))
}

// ------------------------------------------------------------------ a FIX sink that cannot allocate

/// Encodes every snapshot to FIX into a stack buffer and copies it into a
/// fixed ring allocated up front; keeps counts, an FNV-1a hash of all bytes
/// and the last message for checking afterwards.
struct RingFixSink<'r> {
    session: FixSession,
    midnight_ns: u64,
    ring: &'r mut [u8],
    pos: usize,
    messages: u64,
    bytes: u64,
    errors: u64,
    bad_prefix: u64,
    hash: u64,
    last: [u8; 1024],
    last_len: usize,
}

impl<'r> RingFixSink<'r> {
    fn new(ring: &'r mut [u8]) -> Self {
        Self {
            session: FixSession::new(b"TICKWIRE", b"CLIENT", TimePrecision::Nanos).unwrap(),
            midnight_ns: 1_704_153_600 * 1_000_000_000,
            ring,
            pos: 0,
            messages: 0,
            bytes: 0,
            errors: 0,
            bad_prefix: 0,
            hash: 0xcbf2_9ce4_8422_2325,
            last: [0; 1024],
            last_len: 0,
        }
    }
}

impl SnapshotSink for RingFixSink<'_> {
    fn on_snapshot(&mut self, snap: &Snapshot<'_>) {
        let mut buf = [0u8; 1024];
        match self
            .session
            .encode_snapshot(snap, self.midnight_ns + snap.boundary_ns, &mut buf)
        {
            Ok(n) => {
                let msg = &buf[..n];
                if !msg.starts_with(b"8=FIX.4.4\x01") {
                    self.bad_prefix += 1;
                }
                for &b in msg {
                    self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
                }
                let mut rest = msg;
                while !rest.is_empty() {
                    let room = self.ring.len() - self.pos;
                    let take = room.min(rest.len());
                    self.ring[self.pos..self.pos + take].copy_from_slice(&rest[..take]);
                    self.pos = (self.pos + take) % self.ring.len();
                    rest = &rest[take..];
                }
                self.last[..n].copy_from_slice(msg);
                self.last_len = n;
                self.messages += 1;
                self.bytes += n as u64;
            }
            Err(_) => self.errors += 1,
        }
    }
}

// ------------------------------------------------------------------ inputs

const MESSAGES: u64 = 1_200_000;

fn engine_config() -> EngineConfig {
    EngineConfig {
        // 10 ms boundaries, 100 ms window: many snapshots per second of data.
        interval_ns: 10_000_000,
        window_ns: 100_000_000,
        max_orders: 1 << 20,
        max_levels: 1 << 20,
        ..EngineConfig::default()
    }
}

fn stream_config() -> GenConfig {
    GenConfig {
        seed: 11,
        symbols: 500,
        messages: MESSAGES,
        ..GenConfig::default()
    }
}

/// BinaryFILE and pcap of the same stream. The pcap has duplicates,
/// heartbeats, VLAN tags, malformed and filtered frames, but no drops: it
/// carries exactly the BinaryFILE's messages, so both give the same FIX.
fn inputs_no_drops() -> (Vec<u8>, Vec<u8>, Manifest) {
    let mut cfg = stream_config();
    cfg.mold.heartbeat_every = 50;
    cfg.faults = FaultConfig {
        dup_rate: 0.01,
        drop_rate: 0.0,
        vlan_id: Some(42),
        vlan_rate: 0.5,
        malformed_rate: 0.01,
        filtered_rate: 0.01,
    };
    let (mut bin, mut pcap) = (Vec::new(), Vec::new());
    let m = generate(&cfg, Some(&mut bin), Some(&mut pcap), None).unwrap();
    (bin, pcap, m)
}

// ------------------------------------------------------------------ runs

struct Run {
    counters: Counters,
    fix_messages: u64,
    fix_bytes: u64,
    fix_errors: u64,
    bad_prefix: u64,
    hash: u64,
    input_errors: u64,
    records: u64,
    last_fix: Vec<u8>,
}

fn run_binfile(data: &[u8], storage: &mut HeapStorage, ring: &mut [u8]) -> (Run, AllocCounts) {
    let cfg = engine_config();
    let mut sink = RingFixSink::new(ring);
    let ((counters, input_errors, records), counts) = armed(|| {
        let mut engine = Engine::new(&cfg, storage.storage()).unwrap();
        let (mut errors, mut records) = (0u64, 0u64);
        for item in BinFileReader::new(data) {
            match item {
                Ok(msg) => {
                    records += 1;
                    let _ = engine.on_message(msg, &mut sink);
                }
                Err(_) => errors += 1,
            }
        }
        (*engine.counters(), errors, records)
    });
    let run = Run {
        counters,
        fix_messages: sink.messages,
        fix_bytes: sink.bytes,
        fix_errors: sink.errors,
        bad_prefix: sink.bad_prefix,
        hash: sink.hash,
        input_errors,
        records,
        last_fix: sink.last[..sink.last_len].to_vec(),
    };
    (run, counts)
}

fn run_pcap(data: &[u8], storage: &mut HeapStorage, ring: &mut [u8]) -> (Run, AllocCounts) {
    let cfg = engine_config();
    let ports = [26_400u16];
    let mut sink = RingFixSink::new(ring);
    let ((counters, input_errors, records), counts) = armed(|| {
        let mut engine = Engine::new(&cfg, storage.storage()).unwrap();
        let (mut errors, mut records) = (0u64, 0u64);
        match PcapReader::new(data) {
            Ok(reader) => {
                for item in reader {
                    match item {
                        Ok(rec) => {
                            records += 1;
                            let _ = engine.on_frame(rec.data, &ports, &mut sink);
                        }
                        Err(_) => errors += 1,
                    }
                }
            }
            Err(_) => errors += 1,
        }
        (*engine.counters(), errors, records)
    });
    let run = Run {
        counters,
        fix_messages: sink.messages,
        fix_bytes: sink.bytes,
        fix_errors: sink.errors,
        bad_prefix: sink.bad_prefix,
        hash: sink.hash,
        input_errors,
        records,
        last_fix: sink.last[..sink.last_len].to_vec(),
    };
    (run, counts)
}

fn check_fix(run: &Run, what: &str) {
    let c = &run.counters;
    assert!(
        c.snapshots > 1_000,
        "{what}: only {} snapshots",
        c.snapshots
    );
    assert_eq!(
        run.fix_messages, c.snapshots,
        "{what}: a FIX message per snapshot"
    );
    assert_eq!(
        run.fix_errors + run.bad_prefix,
        0,
        "{what}: FIX encoding errors"
    );
    assert!(run.fix_bytes > run.fix_messages * 80, "{what}: FIX bytes");
    let last = String::from_utf8_lossy(&run.last_fix);
    assert!(
        last.starts_with("8=FIX.4.4\x019=")
            && last.contains("\x0135=W\x01")
            && last.ends_with('\x01'),
        "{what}: last FIX message {last:?}"
    );
    assert!(
        last.contains(&format!("\x0134={}\x01", run.fix_messages)),
        "{what}: {last:?}"
    );
}

#[test]
fn hot_path_allocates_nothing() {
    let t0 = std::time::Instant::now();
    let (bin, pcap, manifest) = inputs_no_drops();
    let mut dcfg = stream_config();
    dcfg.mold.heartbeat_every = 20;
    dcfg.faults = FaultConfig {
        dup_rate: 0.005,
        drop_rate: 0.005,
        vlan_id: Some(7),
        vlan_rate: 1.0,
        malformed_rate: 0.005,
        filtered_rate: 0.005,
    };
    let mut pcap_drops = Vec::new();
    let dman = generate(&dcfg, None::<std::io::Sink>, Some(&mut pcap_drops), None).unwrap();
    let pm = manifest.pcap.as_ref().unwrap();
    let dpm = dman.pcap.as_ref().unwrap();
    assert_eq!(manifest.total_messages, MESSAGES);
    assert!(
        pm.packets.duplicate > 0
            && pm.packets.malformed_total() > 0
            && pm.packets.filtered_total() > 0
    );
    assert!(dpm.messages_lost_to_drops > 0);

    // Allocated before arming: the engine's tables and the FIX output ring.
    let mut storage = HeapStorage::new(&engine_config()).unwrap();
    let mut ring = vec![0u8; 1 << 20].into_boxed_slice();
    let t_setup = t0.elapsed();

    // BinaryFILE through Engine::on_message.
    let (b, counts) = run_binfile(&bin, &mut storage, &mut ring);
    assert_eq!(
        counts,
        AllocCounts::ZERO,
        "BinaryFILE path allocated while armed"
    );
    assert_eq!(b.records, MESSAGES);
    assert_eq!(b.input_errors, 0);
    assert_eq!(
        b.counters.messages_applied, MESSAGES,
        "every message applied"
    );
    assert_eq!(b.counters.messages_malformed, 0);
    assert!(b.counters.vwap_executions > 10_000);
    check_fix(&b, "BinaryFILE");

    // The same stream as MoldUDP64 in a pcap, with faults but no drops.
    let (p, counts) = run_pcap(&pcap, &mut storage, &mut ring);
    assert_eq!(counts, AllocCounts::ZERO, "pcap path allocated while armed");
    assert_eq!(p.input_errors, 0);
    assert_eq!(p.records, pm.packets.frames);
    let c = &p.counters;
    assert_eq!(c.messages_applied, MESSAGES, "every message applied once");
    assert_eq!(c.messages_missing, 0);
    assert!(c.messages_duplicate > 0 && c.packets_duplicate > 0);
    assert!(c.packets_malformed > 0 && c.packets_filtered > 0 && c.heartbeats > 0);
    assert_eq!(c.end_of_session, 1);
    assert_eq!(c.messages_by_type, b.counters.messages_by_type);
    check_fix(&p, "pcap");
    // Same messages, event-time SendingTime: byte-identical FIX.
    assert_eq!(
        (p.fix_messages, p.fix_bytes, p.hash),
        (b.fix_messages, b.fix_bytes, b.hash)
    );

    // A pcap with drops (gaps) too.
    let (d, counts) = run_pcap(&pcap_drops, &mut storage, &mut ring);
    assert_eq!(
        counts,
        AllocCounts::ZERO,
        "pcap path with gaps allocated while armed"
    );
    let c = &d.counters;
    assert_eq!(c.messages_missing, dpm.messages_lost_to_drops);
    assert_eq!(c.messages_applied, MESSAGES - dpm.messages_lost_to_drops);
    assert!(c.packets_gap > 0);
    check_fix(&d, "pcap with drops");

    eprintln!(
        "no_alloc: setup (generate 3 inputs, allocate) {:.2} s; armed: BinaryFILE {} msgs, {} FIX; \
         pcap {} frames, {} FIX; pcap with gaps {} frames, {} missing; 0 allocations; total {:.2} s",
        t_setup.as_secs_f64(),
        b.counters.messages_applied,
        b.fix_messages,
        p.records,
        p.fix_messages,
        d.records,
        d.counters.messages_missing,
        t0.elapsed().as_secs_f64()
    );
}

// ------------------------------------------------------------------ the counter counts

#[test]
fn counter_sees_allocations_while_armed() {
    // Nothing armed: nothing counted.
    let ((), c) = armed(|| {});
    assert_eq!(c, AllocCounts::ZERO);

    let ((), c) = armed(|| {
        black_box(Vec::<u8>::with_capacity(64));
    });
    assert_eq!((c.allocs, c.deallocs), (1, 1), "{c:?}");

    let ((), c) = armed(|| {
        let mut v = black_box(Vec::<u64>::with_capacity(1));
        v.extend(0..1000);
        black_box(v);
    });
    assert!(c.reallocs >= 1, "{c:?}");

    let (s, c) = armed(|| format!("{}", black_box(12345)));
    assert!(c.allocs >= 1, "{c:?}");
    assert_eq!(s, "12345");

    // Allocating after disarming is not counted.
    let (v, c) = armed(|| 1u8);
    let later = vec![v; 100];
    assert_eq!(c, AllocCounts::ZERO);
    assert_eq!(COUNTS.with(Cell::get), AllocCounts::ZERO);
    drop(later);

    // The check above would catch a FIX sink that writes into a growing Vec.
    let cfg = engine_config();
    let mut storage = HeapStorage::new(&cfg).unwrap();
    let (bin, _, _) = {
        let c = GenConfig {
            messages: 50_000,
            symbols: 20,
            ..GenConfig::default()
        };
        let mut b = Vec::new();
        let m = generate(&c, Some(&mut b), None::<std::io::Sink>, None).unwrap();
        (b, (), m)
    };
    let session = FixSession::new(b"S", b"T", TimePrecision::Millis).unwrap();
    let mut w = tickwire::replay::FixWriter::new(
        session,
        tickwire::replay::SendingClock::Event {
            midnight_epoch_s: 0,
        },
        Vec::new(),
    );
    let (snapshots, c) = armed(|| {
        let mut engine = Engine::new(&cfg, storage.storage()).unwrap();
        for m in BinFileReader::new(&bin) {
            let _ = engine.on_message(m.unwrap(), &mut w);
        }
        engine.counters().snapshots
    });
    assert!(snapshots > 0);
    assert!(
        c.allocs + c.reallocs > 0,
        "a growing Vec sink must be seen: {c:?}"
    );
}

// ------------------------------------------------------------------ the publisher's path

/// Book records straight into the publisher's book store and one logged-on
/// market-data session subscribed to every symbol, which writes its 35=W
/// into a fixed buffer: the core side of the FIX publisher.
struct PublishSink<'a, 's> {
    books: &'a mut tickwire_core::fix::md::BookStore<'s>,
    md: &'a mut tickwire_core::fix::md::MdSession<'s>,
    records: u64,
}

impl tickwire_core::engine::SnapshotSink for PublishSink<'_, '_> {
    fn on_snapshot(&mut self, _: &Snapshot<'_>) {}
    fn record_depth(&self) -> usize {
        10
    }
    fn wants_snapshots(&self) -> bool {
        false
    }
    fn on_record(&mut self, fill: impl FnOnce(&mut tickwire_core::engine::BookRecord)) -> bool {
        let mut r = tickwire_core::engine::BookRecord::EMPTY;
        fill(&mut r);
        let change = self.books.on_record(&r);
        self.md.on_change(r.locate, &change);
        self.records += 1;
        true
    }
    fn on_directory(&mut self, locate: u16, symbol: &[u8; 8]) {
        self.books.on_directory(locate, symbol);
    }
}

#[test]
fn publisher_path_allocates_nothing() {
    use tickwire_core::fix::md::{index_len, BookSlot, BookStore, MdSession, Subscription};
    use tickwire_core::fix::session::{Session, SessionConfig};
    use tickwire_core::fix::writer::MessageWriter;
    use tickwire_core::fix::{CompId, TimePrecision};

    let (bin, _, manifest) = inputs_no_drops();
    let cfg = engine_config();
    let mut storage = HeapStorage::new(&cfg).unwrap();
    let locates = cfg.max_locates;
    let mut slots = vec![BookSlot::default(); locates];
    let mut index = vec![0u32; index_len(locates)];
    let mut subs = vec![Subscription::EMPTY; 2];
    let mut out = vec![0u8; 1 << 20];
    let now = 1_710_513_000_000_000_000u64;
    let comp = |s: &[u8]| CompId::new(s).unwrap();
    // Prepared outside the armed region: the client's Logon and a request
    // for every symbol of the day.
    let mut client = MessageWriter::new(comp(b"CLIENT"), comp(b"TICKWIRE"), TimePrecision::Millis);
    let mut frame = |t: &[u8],
                     body: &dyn Fn(
        &mut tickwire_core::fix::writer::Body<'_, '_>,
    ) -> Result<(), tickwire_core::fix::FixError>| {
        let mut b = vec![0u8; 1 << 16];
        let n = client.write(now, t, &mut b, body).unwrap();
        b.truncate(n);
        b
    };
    let logon = frame(b"A", &|b| {
        b.uint(98, 0)?;
        b.uint(108, 30)
    });
    let names: Vec<Vec<u8>> = manifest
        .symbols
        .iter()
        .map(|s| s.stock.iter().copied().take_while(|&c| c != b' ').collect())
        .collect();
    let request = frame(b"V", &|b| {
        b.bytes(262, b"ALL")?;
        b.uint(263, 1)?;
        b.uint(264, 10)?;
        b.uint(267, 3)?;
        b.uint(269, 0)?;
        b.uint(269, 1)?;
        b.uint(269, 9)?;
        b.uint(146, names.len() as u64)?;
        for n in &names {
            b.bytes(55, n)?;
        }
        Ok(())
    });
    let ((records, written, snapshots, messages), counts) = armed(|| {
        let mut books = BookStore::new(&mut slots, &mut index).unwrap();
        let session = Session::new(
            &SessionConfig {
                sender: comp(b"TICKWIRE"),
                target: comp(b"CLIENT"),
                precision: TimePrecision::Millis,
                max_skew_ns: 120_000_000_000,
            },
            now,
        );
        let mut md = MdSession::new(session, &mut subs, 10);
        let mut engine = Engine::new(&cfg, storage.storage()).unwrap();
        let mut written = 0usize;
        let mut sink = PublishSink {
            books: &mut books,
            md: &mut md,
            records: 0,
        };
        let mut subscribed = false;
        for msg in BinFileReader::new(&bin).flatten() {
            let _ = engine.on_message(msg, &mut sink);
            engine.emit_pending(usize::MAX, &mut sink);
            // Subscribe once the directory is known (before the first book
            // message), then write what is pending after every message.
            if !subscribed && matches!(msg.first(), Some(b'A' | b'F')) {
                for input in [&logon, &request] {
                    let step = sink.md.on_input(now, input, &mut out, sink.books);
                    assert_eq!(step.consumed, input.len());
                    written += step.written;
                }
                subscribed = true;
            }
            loop {
                let f = sink.md.flush(now, &mut out, sink.books);
                written += f.written;
                if !f.more {
                    break;
                }
            }
        }
        let records = sink.records;
        (
            records,
            written,
            md.counters().snapshots,
            engine.counters().messages_applied,
        )
    });
    assert_eq!(counts, AllocCounts::ZERO, "the publisher's path allocated");
    assert_eq!(messages, MESSAGES);
    assert!(
        records > 1000 && snapshots > 1000,
        "{records} records, {snapshots} snapshots"
    );
    assert!(written > 100_000, "{written} bytes of FIX");
    eprintln!("publisher path: {messages} messages, {records} records, {snapshots} 35=W, {written} bytes, 0 allocations");
}

/// Lines mode: the feed sequencer (A missing every 10th packet, B all of
/// them 3 packets behind, so gaps open, wait and are filled) in front of
/// the engine and the FIX sink. Slots for the reorder buffer are allocated
/// before arming; the FIX equals the single-line run's.
#[test]
fn feed_path_allocates_nothing() {
    use tickwire_core::engine::EngineDeliver;
    use tickwire_core::feed::{FeedConfig, Held, Line, Sequencer};
    use tickwire_core::wire::{classify_frame, Frame};

    let (_bin, pcap, _) = inputs_no_drops();
    let cfg = engine_config();
    let mut packets: Vec<&[u8]> = Vec::new();
    for rec in PcapReader::new(&pcap).unwrap() {
        if let Ok(Frame::Mold { packet, .. }) = classify_frame(rec.unwrap().data, &[26_400]) {
            packets.push(packet.into_inner());
        }
    }
    let mut base_storage = HeapStorage::new(&cfg).unwrap();
    let mut base_ring = vec![0u8; 1 << 20];
    let (base, _) = run_pcap(&pcap, &mut base_storage, &mut base_ring);

    let mut storage = HeapStorage::new(&cfg).unwrap();
    let mut ring = vec![0u8; 1 << 20];
    let mut sink = RingFixSink::new(&mut ring);
    let mut slots: Vec<Option<Held<&[u8]>>> = (0..1024).map(|_| None).collect();
    let feed = FeedConfig {
        lines: 2,
        ..FeedConfig::SINGLE
    };
    let ((lost, applied), counts) = armed(|| {
        let mut engine = Engine::new(&cfg, storage.storage()).unwrap();
        let mut seq = Sequencer::new(feed, &mut slots);
        for i in 0..packets.len() + 3 {
            let t = i as u64 * 1_000;
            if let Some(p) = packets.get(i).filter(|_| i % 10 != 3) {
                let mut d = EngineDeliver {
                    engine: &mut engine,
                    sink: &mut sink,
                };
                let _ = seq.on_packet(t, Line::A, *p, &mut d);
            }
            if let Some(b) = i.checked_sub(3).and_then(|j| packets.get(j)) {
                let mut d = EngineDeliver {
                    engine: &mut engine,
                    sink: &mut sink,
                };
                let _ = seq.on_packet(t + 500, Line::B, *b, &mut d);
                seq.poll(t + 500, &mut d, &mut |_| true);
            }
        }
        (
            seq.counters().lost,
            (seq.counters().applied, *engine.counters()),
        )
    });
    assert_eq!(counts, AllocCounts::ZERO, "the feed path allocated");
    assert_eq!(lost, 0);
    let (delivered, c) = applied;
    assert_eq!(
        delivered,
        c.messages_applied + c.messages_malformed,
        "{c:?}"
    );
    assert_eq!(c.messages_applied, base.counters.messages_applied);
    assert_eq!(c.messages_malformed, base.counters.messages_malformed);
    assert_eq!(sink.messages, base.fix_messages);
    assert_eq!(sink.hash, base.hash, "FIX differs from the single-line run");
}
