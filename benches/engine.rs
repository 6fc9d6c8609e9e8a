//! Engine pieces, each on its own: book operations (through the engine's
//! message path), VWAP windows, FIX encoding, and the whole engine over an
//! in-memory generated BinaryFILE. Reported per operation / message.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tickwire::binfile::BinFileReader;
use tickwire::gen::{generate, GenConfig};
use tickwire::replay::HeapStorage;
use tickwire_core::engine::{Engine, EngineConfig, Quote, Snapshot};
use tickwire_core::fix::{FixSession, TimePrecision};
use tickwire_core::vwap::{VwapBucket, WindowGeometry};

fn msg(t: u8, locate: u16, ts: u64, body: &[u8]) -> Vec<u8> {
    let mut v = vec![t];
    v.extend_from_slice(&locate.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&ts.to_be_bytes()[2..]);
    v.extend_from_slice(body);
    v
}

fn add(locate: u16, r: u64, side: u8, shares: u32, price: u32) -> Vec<u8> {
    let mut b = r.to_be_bytes().to_vec();
    b.push(side);
    b.extend_from_slice(&shares.to_be_bytes());
    b.extend_from_slice(b"BENCH   ");
    b.extend_from_slice(&price.to_be_bytes());
    msg(b'A', locate, 1, &b)
}

fn with_ref(t: u8, r: u64, tail: &[u8]) -> Vec<u8> {
    let mut b = r.to_be_bytes().to_vec();
    b.extend_from_slice(tail);
    msg(t, 1, 1, &b)
}

fn small_config() -> EngineConfig {
    EngineConfig {
        max_orders: 1 << 16,
        max_levels: 1 << 16,
        max_locates: 64,
        ..EngineConfig::default()
    }
}

fn book(c: &mut Criterion) {
    let cfg = small_config();
    let mut storage = HeapStorage::new(&cfg).expect("storage");
    let mut eng = Engine::new(&cfg, storage.storage()).expect("engine");
    let mut sink = |_: &Snapshot<'_>| {};
    // 1,000 orders on 2 sides within 20 ticks of the top of one symbol.
    let adds: Vec<Vec<u8>> = (0..1000u64)
        .map(|i| {
            let bid = i % 2 == 0;
            let px = if bid {
                1_000_000 - (i % 20) as u32 * 100
            } else {
                1_000_100 + (i % 20) as u32 * 100
            };
            add(1, 1 + i, if bid { b'B' } else { b'S' }, 100, px)
        })
        .collect();
    let deletes: Vec<Vec<u8>> = (0..1000u64).map(|i| with_ref(b'D', 1 + i, &[])).collect();
    let executes: Vec<Vec<u8>> = (0..1000u64)
        .map(|i| {
            with_ref(
                b'E',
                1 + i,
                &[&40u32.to_be_bytes()[..], &7u64.to_be_bytes()[..]].concat(),
            )
        })
        .collect();
    let mut g = c.benchmark_group("book");
    g.throughput(Throughput::Elements(2000));
    g.bench_function("add_then_delete", |b| {
        b.iter(|| {
            for m in adds.iter().chain(&deletes) {
                let _ = eng.on_message(black_box(m), &mut sink);
            }
        })
    });
    g.throughput(Throughput::Elements(3000));
    g.bench_function("add_execute_delete", |b| {
        b.iter(|| {
            for m in adds.iter().chain(&executes).chain(&deletes) {
                let _ = eng.on_message(black_box(m), &mut sink);
            }
        })
    });
    g.finish();
    assert_eq!(eng.live_orders(), 0);
}

fn vwap(c: &mut Criterion) {
    let g = WindowGeometry::new(100_000_000, 1_000_000_000, 256).expect("geometry");
    let mut ring = vec![VwapBucket::default(); g.buckets];
    let mut grp = c.benchmark_group("vwap");
    grp.throughput(Throughput::Elements(1));
    let mut ts = 0u64;
    grp.bench_function("record_execution", |b| {
        b.iter(|| {
            ts += 1_000_003;
            g.record(&mut ring, black_box(ts), 1_234_500, 100);
        })
    });
    grp.bench_function("window_sum", |b| {
        b.iter(|| black_box(g.window_sum(&ring, black_box(ts / 100_000_000 * 100_000_000))))
    });
    grp.finish();
}

fn fix(c: &mut Criterion) {
    let snap = Snapshot {
        boundary_ns: 36_000_000_000_000,
        locate: 7,
        symbol: b"AAPL",
        bid: Some(Quote {
            price: 1_793_100,
            shares: 300,
        }),
        ask: Some(Quote {
            price: 1_793_200,
            shares: 200,
        }),
        vwap: 1_793_150,
        volume: 12_345,
    };
    let mut s = FixSession::new(b"TICKWIRE", b"CLIENT", TimePrecision::Micros).expect("session");
    let mut buf = [0u8; 512];
    let mut g = c.benchmark_group("fix");
    g.throughput(Throughput::Elements(1));
    // Snapshots of one boundary share their SendingTime (formatted once).
    g.bench_function("encode_snapshot_same_time", |b| {
        b.iter(|| {
            black_box(s.encode_snapshot(black_box(&snap), 1_710_513_000_123_456_789, &mut buf))
        })
    });
    // A new SendingTime for every message: the time is formatted each time.
    let mut t = 1_710_513_000_123_456_789u64;
    g.bench_function("encode_snapshot_new_time", |b| {
        b.iter(|| {
            t += 1_000;
            black_box(s.encode_snapshot(black_box(&snap), t, &mut buf))
        })
    });
    g.finish();
}

fn whole_engine(c: &mut Criterion) {
    let gen = GenConfig {
        seed: 3,
        symbols: 50,
        messages: 1_000_000,
        ..GenConfig::default()
    };
    let mut file = Vec::new();
    generate(&gen, Some(&mut file), None::<Vec<u8>>, None).expect("generator");
    let msgs: Vec<&[u8]> = BinFileReader::new(&file)
        .map(|m| m.expect("message"))
        .collect();
    let cfg = EngineConfig {
        max_orders: 1 << 20,
        max_levels: 1 << 20,
        max_locates: 64,
        ..EngineConfig::default()
    };
    let mut storage = HeapStorage::new(&cfg).expect("storage");
    let mut s = FixSession::new(b"TICKWIRE", b"CLIENT", TimePrecision::Millis).expect("session");
    let mut buf = [0u8; 512];
    let mut fix_bytes = 0usize;
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.sample_size(10);
    g.bench_function("binfile_50_symbols_with_fix", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut sink = |snap: &Snapshot<'_>| {
                    fix_bytes += s.encode_snapshot(snap, 0, &mut buf).unwrap_or(0);
                };
                let mut eng = Engine::new(&cfg, storage.storage()).expect("engine");
                for m in &msgs {
                    let _ = eng.on_message(m, &mut sink);
                }
                eng.counters().messages_applied
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
    black_box(fix_bytes);
}

/// What lines mode costs: the same MoldUDP64 packets (a generated pcap,
/// 1M messages, 50 symbols, snapshots encoded) through the engine's own
/// sequencing (`on_frame`), and through `feed::Sequencer` (one line, and
/// two lines where every packet also arrives on B and is dropped as a
/// duplicate) in front of the engine.
fn feed(c: &mut Criterion) {
    use tickwire_core::engine::EngineDeliver;
    use tickwire_core::feed::{FeedConfig, Held, Line, Sequencer};
    use tickwire_core::wire::{classify_frame, Frame};
    let gen = GenConfig {
        seed: 3,
        symbols: 50,
        messages: 1_000_000,
        ..GenConfig::default()
    };
    let mut pcap = Vec::new();
    generate(&gen, None::<Vec<u8>>, Some(&mut pcap), None).expect("generator");
    let frames: Vec<&[u8]> = tickwire::pcap::PcapReader::new(&pcap)
        .expect("pcap")
        .map(|r| r.expect("record").data)
        .collect();
    let packets: Vec<&[u8]> = frames
        .iter()
        .filter_map(|f| match classify_frame(f, &[26400]) {
            Ok(Frame::Mold { packet, .. }) => Some(packet.into_inner()),
            _ => None,
        })
        .collect();
    let cfg = EngineConfig {
        max_orders: 1 << 20,
        max_levels: 1 << 20,
        max_locates: 64,
        ..EngineConfig::default()
    };
    let mut storage = HeapStorage::new(&cfg).expect("storage");
    let mut s = FixSession::new(b"TICKWIRE", b"CLIENT", TimePrecision::Millis).expect("session");
    let mut buf = [0u8; 512];
    let mut fix_bytes = 0usize;
    let mut slots: Vec<Option<Held<&[u8]>>> = (0..4096).map(|_| None).collect();
    let mut g = c.benchmark_group("feed");
    g.throughput(Throughput::Elements(gen.messages));
    g.sample_size(10);
    g.bench_function("engine_sequencing", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut sink = |snap: &Snapshot<'_>| {
                    fix_bytes += s.encode_snapshot(snap, 0, &mut buf).unwrap_or(0);
                };
                let mut eng = Engine::new(&cfg, storage.storage()).expect("engine");
                for f in &frames {
                    let _ = eng.on_frame(f, &[26400], &mut sink);
                }
                eng.counters().messages_applied
            },
            BatchSize::PerIteration,
        )
    });
    for (name, lines) in [("sequencer_line_a", 1u8), ("sequencer_a_and_b", 2)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || (),
                |()| {
                    let mut sink = |snap: &Snapshot<'_>| {
                        fix_bytes += s.encode_snapshot(snap, 0, &mut buf).unwrap_or(0);
                    };
                    let mut eng = Engine::new(&cfg, storage.storage()).expect("engine");
                    let feed = FeedConfig {
                        lines,
                        ..FeedConfig::SINGLE
                    };
                    let mut seq = Sequencer::new(feed, &mut slots);
                    for (i, p) in packets.iter().enumerate() {
                        let mut d = EngineDeliver {
                            engine: &mut eng,
                            sink: &mut sink,
                        };
                        let t = i as u64 * 1_000;
                        let _ = seq.on_packet(t, Line::A, *p, &mut d);
                        if lines == 2 {
                            let _ = seq.on_packet(t + 100, Line::B, *p, &mut d);
                        }
                    }
                    eng.counters().messages_applied
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
    black_box(fix_bytes);
}

criterion_group!(benches, book, vwap, fix, whole_engine, feed);
criterion_main!(benches);
