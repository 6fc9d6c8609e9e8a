//! A firmware-style use of the whole core from `static` storage, with no
//! allocator: frames in, the engine (feed sequencing, books, VWAP) hands book
//! records to the publisher's store, and one FIX session answers a client
//! and streams snapshots. Single-threaded by contract, as firmware main
//! loops are.

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};

use tickwire_core::book::{Level, OrderSlot, SideRef, SymbolState};
use tickwire_core::engine::{BookRecord, Engine, EngineConfig, Snapshot, SnapshotSink, Storage};
use tickwire_core::fix::md::{index_len, BookSlot, BookStore, MdSession, Subscription};
use tickwire_core::fix::session::{Session, SessionConfig};
use tickwire_core::fix::{CompId, TimePrecision};
use tickwire_core::vwap::VwapBucket;

const LOCATES: usize = 64;
const ORDERS: usize = 1024;
const ORDER_SLOTS: usize = 2048;
const LEVELS: usize = 4096;
const BUCKETS: usize = LOCATES * 10;
const INDEX: usize = index_len(LOCATES);
const REQUESTS: usize = 2;

const NO_SIDE: SideRef = SideRef {
    offset: 0,
    len: 0,
    cap: 0,
};
const NO_SYMBOL: SymbolState = SymbolState {
    last_exec_ns: 0,
    bids: NO_SIDE,
    asks: NO_SIDE,
    symbol: [0; 8],
    symbol_len: 0,
    stale: 0,
    _pad: [0; 6],
};
const NO_LEVEL: Level = Level {
    price: 0,
    orders: 0,
    shares: 0,
};
const NO_BUCKET: VwapBucket = VwapBucket {
    notional: 0,
    volume: 0,
    tag: 0,
};

struct Tables {
    orders: [OrderSlot; ORDER_SLOTS],
    levels: [Level; LEVELS],
    symbols: [SymbolState; LOCATES],
    vwap: [VwapBucket; BUCKETS],
    books: [BookSlot; LOCATES],
    index: [u32; INDEX],
    subs: [Subscription; REQUESTS],
}

static mut TABLES: Tables = Tables {
    orders: [OrderSlot::EMPTY; ORDER_SLOTS],
    levels: [NO_LEVEL; LEVELS],
    symbols: [NO_SYMBOL; LOCATES],
    vwap: [NO_BUCKET; BUCKETS],
    books: [BookSlot::EMPTY; LOCATES],
    index: [0; INDEX],
    subs: [Subscription::EMPTY; REQUESTS],
};

struct Firmware {
    engine: Engine<'static>,
    books: BookStore<'static>,
    md: MdSession<'static>,
}

static mut FIRMWARE: MaybeUninit<Firmware> = MaybeUninit::uninit();
static STARTED: AtomicBool = AtomicBool::new(false);

/// Hands the engine's records to the store and the session.
struct Publish<'a> {
    books: &'a mut BookStore<'static>,
    md: &'a mut MdSession<'static>,
}

impl SnapshotSink for Publish<'_> {
    fn on_snapshot(&mut self, _: &Snapshot<'_>) {}
    fn record_depth(&self) -> usize {
        5
    }
    fn on_record(&mut self, fill: impl FnOnce(&mut BookRecord)) -> bool {
        let mut r = BookRecord::EMPTY;
        fill(&mut r);
        let change = self.books.on_record(&r);
        self.md.on_change(r.locate, &change);
        true
    }
    fn on_directory(&mut self, locate: u16, symbol: &[u8; 8]) {
        self.books.on_directory(locate, symbol);
    }
}

/// Sets everything up once; false if called again or the configuration
/// is refused.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn tickwire_fw_init(now_ns: u64) -> bool {
    if STARTED.swap(true, Ordering::AcqRel) {
        return false;
    }
    // SAFETY: STARTED makes this the only place that ever borrows TABLES,
    // once, for the rest of the program.
    let t: &'static mut Tables = unsafe { &mut *core::ptr::addr_of_mut!(TABLES) };
    let config = EngineConfig {
        max_orders: ORDERS,
        max_levels: LEVELS,
        max_locates: LOCATES,
        ..EngineConfig::default()
    };
    let Ok(engine) = Engine::new(
        &config,
        Storage {
            orders: &mut t.orders,
            levels: &mut t.levels,
            symbols: &mut t.symbols,
            vwap: &mut t.vwap,
        },
    ) else {
        return false;
    };
    let Ok(books) = BookStore::new(&mut t.books, &mut t.index) else {
        return false;
    };
    let (Ok(sender), Ok(target)) = (CompId::new(b"TICKWIRE"), CompId::new(b"CLIENT")) else {
        return false;
    };
    let session = Session::new(
        &SessionConfig {
            sender,
            target,
            precision: TimePrecision::Millis,
            max_skew_ns: 120_000_000_000,
        },
        now_ns,
    );
    let md = MdSession::new(session, &mut t.subs, 5);
    // SAFETY: written once, here, before any reader (the entry points below
    // return early until STARTED is set, which happened above, and firmware
    // calls them from its one main loop).
    unsafe {
        (*core::ptr::addr_of_mut!(FIRMWARE)).write(Firmware { engine, books, md });
    }
    true
}

#[allow(unsafe_code)]
fn firmware() -> Option<&'static mut Firmware> {
    if !STARTED.load(Ordering::Acquire) {
        return None;
    }
    // SAFETY: initialised by tickwire_fw_init (STARTED is set only there,
    // just before the write; the single-threaded contract means no entry
    // point runs between the two), and only one entry point runs at a time.
    Some(unsafe { (*core::ptr::addr_of_mut!(FIRMWARE)).assume_init_mut() })
}

/// One received Ethernet frame for the feed.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn tickwire_fw_on_frame(frame: &[u8; 2048], len: usize) -> u32 {
    let Some(fw) = firmware() else {
        return 0;
    };
    let mut sink = Publish {
        books: &mut fw.books,
        md: &mut fw.md,
    };
    let before = fw.engine.counters().messages_applied;
    fw.engine
        .on_frame(frame.get(..len).unwrap_or(&[]), &[26400], &mut sink);
    fw.engine.emit_pending(usize::MAX, &mut sink);
    (fw.engine.counters().messages_applied - before) as u32
}

/// Bytes from the FIX client; writes the answers and any pending snapshots
/// to `out`, returns how many bytes of `input` were consumed (low 32 bits)
/// and written (high 32 bits).
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn tickwire_fw_on_fix(
    input: &[u8; 4096],
    len: usize,
    now_ns: u64,
    out: &mut [u8; 16384],
) -> u64 {
    let Some(fw) = firmware() else {
        return 0;
    };
    let input = input.get(..len).unwrap_or(&[]);
    let (mut consumed, mut written) = (0usize, 0usize);
    while consumed < input.len() {
        let step = fw
            .md
            .on_input(now_ns, &input[consumed..], &mut out[written..], &fw.books);
        written += step.written;
        if step.consumed == 0 {
            break;
        }
        consumed += step.consumed;
    }
    let step = fw.md.poll(now_ns, &mut out[written..]);
    written += step.written;
    written += fw.md.flush(now_ns, &mut out[written..], &fw.books).written;
    (consumed as u64) | ((written as u64) << 32)
}
