//! Wire layer: walking MoldUDP64 packets and decoding every ITCH message of a
//! generated stream (1M messages, 50 symbols; `TW_BENCH_MSGS` overrides),
//! reported per message (criterion's elements are messages).
//!
//! - `decode_fields`: walk every message block of every packet and decode each
//!   message, validated, into `itch::Fields` (type, locate, timestamp,
//!   references, side, shares, price, printable), all fields used. The
//!   headline number.
//! - `typed_views`: the same walk with `Message::parse` (typed zero-copy view)
//!   and the type-specific fields a book reads.
//! - `typed_views_header_only`: `Message::parse` and the header only.
//! - `walk_blocks_only`: the MoldUDP64 block walk alone.
//! - `frames_decode_fields`: from whole Ethernet frames (Ethernet, IPv4, UDP,
//!   MoldUDP64, ITCH).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tickwire::gen::{generate, GenConfig};
use tickwire::pcap::PcapReader;
use tickwire_core::wire::itch::{decode_fields, Message};
use tickwire_core::wire::{classify_frame, Frame, MoldPacket};

struct Stream {
    frames: Vec<u8>,
    frame_ranges: Vec<(usize, usize)>,
    payloads: Vec<u8>,
    payload_ranges: Vec<(usize, usize)>,
    messages: u64,
}

fn stream(messages: u64) -> Stream {
    let cfg = GenConfig {
        seed: 11,
        messages,
        symbols: 50,
        ..GenConfig::default()
    };
    let mut pcap = Vec::new();
    generate(&cfg, None::<Vec<u8>>, Some(&mut pcap), None).expect("generator");
    let mut s = Stream {
        frames: Vec::new(),
        frame_ranges: Vec::new(),
        payloads: Vec::new(),
        payload_ranges: Vec::new(),
        messages: 0,
    };
    for rec in PcapReader::new(&pcap).expect("pcap") {
        let data = rec.expect("record").data;
        let start = s.frames.len();
        s.frames.extend_from_slice(data);
        s.frame_ranges.push((start, s.frames.len()));
        if let Ok(Frame::Mold { packet, .. }) = classify_frame(data, &[26400]) {
            let start = s.payloads.len();
            let whole = data.len() - packet.payload().len() - 20;
            s.payloads.extend_from_slice(&data[whole..]);
            s.payload_ranges.push((start, s.payloads.len()));
            s.messages += u64::from(packet.message_count());
        }
    }
    s
}

/// Reads the fields a book would use, so decoding is not optimised away.
#[inline(always)]
fn decode(msg: &[u8]) -> u64 {
    match Message::parse(msg) {
        Ok(Message::AddOrder(a)) => {
            a.order_ref.get()
                ^ u64::from(a.shares.get())
                ^ u64::from(a.price.get())
                ^ u64::from(a.side)
        }
        Ok(Message::AddOrderMpid(a)) => {
            a.order_ref.get() ^ u64::from(a.shares.get()) ^ u64::from(a.price.get())
        }
        Ok(Message::OrderDelete(d)) => d.order_ref.get(),
        Ok(Message::OrderReplace(u)) => {
            u.original_order_ref.get() ^ u.new_order_ref.get() ^ u64::from(u.price.get())
        }
        Ok(Message::OrderExecuted(e)) => e.order_ref.get() ^ u64::from(e.executed_shares.get()),
        Ok(Message::OrderExecutedWithPrice(c)) => {
            c.order_ref.get() ^ u64::from(c.execution_price.get())
        }
        Ok(Message::OrderCancel(x)) => x.order_ref.get() ^ u64::from(x.cancelled_shares.get()),
        Ok(Message::Trade(p)) => u64::from(p.price.get()) ^ u64::from(p.shares.get()),
        Ok(m) => m.header().timestamp_ns(),
        Err(_) => 1,
    }
}

/// Branch-free decode into the fixed record; every field is used.
#[inline(always)]
fn fold_fields(msg: &[u8]) -> u64 {
    match decode_fields(msg) {
        Ok(f) => {
            f.timestamp_ns
                ^ f.order_ref
                ^ f.new_order_ref
                ^ f.shares
                ^ u64::from(f.price)
                ^ u64::from(f.stock_locate)
                ^ u64::from(f.side)
                ^ u64::from(f.printable)
        }
        Err(_) => 1,
    }
}

/// Walks every message block of every MoldUDP64 payload, folding `f` of each.
#[inline(always)]
fn walk_payloads(s: &Stream, f: impl Fn(&[u8]) -> u64) -> u64 {
    let mut acc = 0u64;
    for &(start, end) in &s.payload_ranges {
        let Ok(p) = MoldPacket::new_checked(&s.payloads[start..end]) else {
            continue;
        };
        for m in p.messages().flatten() {
            acc = acc.wrapping_add(f(m));
        }
    }
    acc
}

fn bench(c: &mut Criterion) {
    let n: u64 = std::env::var("TW_BENCH_MSGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let s = stream(n);
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(s.messages));
    g.sample_size(20);
    g.bench_function("typed_views", |b| {
        b.iter(|| black_box(walk_payloads(&s, decode)))
    });
    g.bench_function("decode_fields", |b| {
        b.iter(|| black_box(walk_payloads(&s, fold_fields)))
    });
    g.bench_function("typed_views_header_only", |b| {
        b.iter(|| {
            black_box(walk_payloads(&s, |m| match Message::parse(m) {
                Ok(msg) => msg.header().timestamp_ns() ^ u64::from(msg.header().stock_locate()),
                Err(_) => 1,
            }))
        })
    });
    g.bench_function("walk_blocks_only", |b| {
        b.iter(|| {
            black_box(walk_payloads(&s, |m| {
                u64::from(m.first().copied().unwrap_or(0))
            }))
        })
    });
    g.bench_function("frames_decode_fields", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for &(start, end) in &s.frame_ranges {
                if let Ok(Frame::Mold { packet, .. }) =
                    classify_frame(&s.frames[start..end], &[26400])
                {
                    for m in packet.messages().flatten() {
                        acc = acc.wrapping_add(fold_fields(m));
                    }
                }
            }
            black_box(acc)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
