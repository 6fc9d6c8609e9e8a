//! The publisher's costs: one 35=W per snapshot per session (depth 1 and
//! 10), and the sustained rate of sessions subscribed to 2,000 symbols, each
//! boundary changing every symbol (1, 8 and 64 sessions).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tickwire_core::book::Level;
use tickwire_core::engine::{BookRecord, Snapshot, SnapshotSink, RECORD_DEPTH};
use tickwire_core::fix::md::{
    index_len, write_snapshot, BookSlot, BookStore, MdSession, Subscription, ENTRY_BID,
    ENTRY_OFFER, ENTRY_VWAP,
};
use tickwire_core::fix::session::{Session, SessionConfig};
use tickwire_core::fix::writer::MessageWriter;
use tickwire_core::fix::{CompId, TimePrecision};

const T0: u64 = 1_710_513_000_123_456_789;
const ALL: u8 = ENTRY_BID | ENTRY_OFFER | ENTRY_VWAP;

fn record(locate: u16, shift: u32) -> BookRecord {
    let bids: Vec<Level> = (0..RECORD_DEPTH as u32)
        .rev()
        .map(|i| Level {
            price: 1_000_000 - i * 100 + shift,
            orders: 1 + i,
            shares: 100 * u64::from(i + 1),
        })
        .collect();
    let asks: Vec<Level> = (0..RECORD_DEPTH as u32)
        .rev()
        .map(|i| Level {
            price: 1_000_100 + i * 100 + shift,
            orders: 2 + i,
            shares: 200 * u64::from(i + 1),
        })
        .collect();
    let mut r = BookRecord::EMPTY;
    let sym = format!("S{locate:05}");
    r.fill(
        1,
        locate,
        sym.as_bytes(),
        Some((1_000_050, 12_345)),
        &bids,
        &asks,
        RECORD_DEPTH,
    );
    r
}

fn comp(s: &str) -> CompId {
    CompId::new(s.as_bytes()).expect("comp id")
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("fix_w_per_snapshot");
    g.throughput(Throughput::Elements(1));
    let r = record(7, 0);
    let mut buf = vec![0u8; 4096];
    for depth in [1u8, 10] {
        let mut w = MessageWriter::new(comp("TICKWIRE"), comp("CLIENT"), TimePrecision::Millis);
        g.bench_function(format!("depth_{depth}"), |b| {
            b.iter(|| {
                let n = w
                    .write(T0, b"W", &mut buf, |body| {
                        write_snapshot(body, b"REQ-1", black_box(&r), depth, ALL)
                    })
                    .expect("fits");
                black_box(n)
            })
        });
    }
    g.finish();
}

/// A client message, framed by the same writer the server uses (sender and
/// target swapped).
fn client_msg(
    w: &mut MessageWriter,
    t: &[u8],
    body: impl FnOnce(
        &mut tickwire_core::fix::writer::Body<'_, '_>,
    ) -> Result<(), tickwire_core::fix::FixError>,
) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 16];
    let n = w.write(T0, t, &mut buf, body).expect("fits");
    buf.truncate(n);
    buf
}

fn publisher(c: &mut Criterion) {
    const SYMBOLS: u16 = 2000;
    let mut g = c.benchmark_group("publisher_2000_symbols");
    g.sample_size(10);
    for sessions in [1usize, 8, 64] {
        let mut slots = vec![BookSlot::default(); usize::from(SYMBOLS)];
        let mut index = vec![0u32; index_len(usize::from(SYMBOLS))];
        let mut books = BookStore::new(&mut slots, &mut index).expect("store");
        for l in 0..SYMBOLS {
            books.on_record(&record(l, 0));
        }
        let mut subs = vec![Subscription::EMPTY; sessions];
        let config = SessionConfig {
            sender: comp("TICKWIRE"),
            target: comp("CLIENT"),
            precision: TimePrecision::Millis,
            max_skew_ns: 120_000_000_000,
        };
        let mut out = vec![0u8; 8 << 20];
        let mut mds: Vec<MdSession<'_>> = subs
            .chunks_mut(1)
            .map(|s| {
                let mut md = MdSession::new(Session::new(&config, T0), s, 10);
                let mut cw =
                    MessageWriter::new(comp("CLIENT"), comp("TICKWIRE"), TimePrecision::Millis);
                let logon = client_msg(&mut cw, b"A", |b| {
                    b.uint(98, 0)?;
                    b.uint(108, 30)
                });
                let step = md.on_input(T0, &logon, &mut out, &books);
                assert_eq!(step.consumed, logon.len());
                let req = client_msg(&mut cw, b"V", |b| {
                    b.bytes(262, b"ALL")?;
                    b.uint(263, 1)?;
                    b.uint(264, 10)?;
                    b.uint(267, 3)?;
                    b.uint(269, 0)?;
                    b.uint(269, 1)?;
                    b.uint(269, 9)?;
                    b.uint(146, u64::from(SYMBOLS))?;
                    for l in 0..SYMBOLS {
                        b.bytes(55, format!("S{l:05}").as_bytes())?;
                    }
                    Ok(())
                });
                let step = md.on_input(T0, &req, &mut out, &books);
                assert_eq!(step.consumed, req.len());
                assert_eq!(md.subscriptions(), 1, "subscribed");
                while md.flush(T0, &mut out, &books).more {}
                md
            })
            .collect();
        g.throughput(Throughput::Elements(u64::from(SYMBOLS) * sessions as u64));
        let mut shift = 0u32;
        g.bench_function(format!("sessions_{sessions}"), |b| {
            b.iter(|| {
                // One boundary: every symbol's best level moves; every
                // session gets and encodes all 2,000.
                shift = (shift + 1) % 50;
                for l in 0..SYMBOLS {
                    let change = books.on_record(&record(l, shift));
                    for md in mds.iter_mut() {
                        md.on_change(l, &change);
                    }
                }
                let mut bytes = 0;
                for md in mds.iter_mut() {
                    loop {
                        let f = md.flush(T0, &mut out, &books);
                        bytes += f.written;
                        if !f.more {
                            break;
                        }
                    }
                }
                black_box(bytes)
            })
        });
    }
    g.finish();
}

/// A sink that keeps records in a preallocated ring, filled in place, as
/// the host's record ring is (without the other core).
struct RingSink {
    slots: Vec<BookRecord>,
    next: usize,
    depth: usize,
}

impl SnapshotSink for RingSink {
    fn on_snapshot(&mut self, _: &Snapshot<'_>) {}
    fn record_depth(&self) -> usize {
        self.depth
    }
    fn on_record(&mut self, fill: impl FnOnce(&mut BookRecord)) -> bool {
        let n = self.slots.len();
        fill(&mut self.slots[self.next % n]);
        self.next += 1;
        true
    }
}

fn itch(t: u8, locate: u16, ts: u64, body: &[u8]) -> Vec<u8> {
    let mut v = vec![t];
    v.extend_from_slice(&locate.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&ts.to_be_bytes()[2..]);
    v.extend_from_slice(body);
    v
}

fn add_msg(locate: u16, ts: u64, r: u64, side: u8, price: u32) -> Vec<u8> {
    let mut b = r.to_be_bytes().to_vec();
    b.push(side);
    b.extend_from_slice(&100u32.to_be_bytes());
    b.extend_from_slice(b"BENCH   ");
    b.extend_from_slice(&price.to_be_bytes());
    itch(b'A', locate, ts, &b)
}

/// One emission boundary over 2,000 symbols whose books all changed (10+
/// levels a side): the book lcore's work with records (depth 10 and 1)
/// against the same boundary emitting nothing (records off).
fn boundary(c: &mut Criterion) {
    use tickwire::replay::HeapStorage;
    use tickwire_core::engine::{Engine, EngineConfig};
    const SYMBOLS: u16 = 2000;
    const I: u64 = 100_000_000;
    let cfg = EngineConfig {
        max_orders: 1 << 17,
        max_levels: 1 << 17,
        max_locates: usize::from(SYMBOLS) + 1,
        ..EngineConfig::default()
    };
    let mut g = c.benchmark_group("boundary_2000_changed_symbols");
    g.sample_size(20);
    for depth in [0usize, 1, 10] {
        let mut storage = HeapStorage::new(&cfg).expect("storage");
        let mut eng = Engine::new(&cfg, storage.storage()).expect("engine");
        let mut sink = RingSink {
            slots: vec![BookRecord::EMPTY; 16384],
            next: 0,
            depth,
        };
        let mut r = 1u64;
        for l in 1..=SYMBOLS {
            for i in 0..12u32 {
                eng.apply_bytes(&add_msg(l, 1_000, r, b'B', 1_000_000 - i * 100), &mut sink)
                    .expect("add");
                eng.apply_bytes(
                    &add_msg(l, 1_000, r + 1, b'S', 1_000_100 + i * 100),
                    &mut sink,
                )
                .expect("add");
                r += 2;
            }
        }
        let mut ts = I;
        g.bench_function(format!("depth_{depth}"), |b| {
            b.iter(|| {
                // Touch every symbol's book (add then delete one order), then
                // cross the next boundary.
                for l in 1..=SYMBOLS {
                    eng.apply_bytes(&add_msg(l, ts, r, b'B', 900_000), &mut sink)
                        .expect("add");
                    let mut d = r.to_be_bytes().to_vec();
                    d.truncate(8);
                    eng.apply_bytes(&itch(b'D', l, ts, &d), &mut sink)
                        .expect("delete");
                    r += 1;
                }
                ts += I;
                eng.apply_bytes(&itch(b'S', 0, ts, b"O"), &mut sink)
                    .expect("system event");
                eng.emit_pending(usize::MAX, &mut sink);
                black_box(sink.next)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, encode, publisher, boundary);
criterion_main!(benches);
