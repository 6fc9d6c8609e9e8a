//! A hand-written vector, every error, depth truncation, and property tests:
//! encode/decode round trips, and no input panics the view.

use super::*;
use crate::book::Level;
use crate::engine::{BookRecord, Origin};
use proptest::prelude::*;
use std::vec::Vec;

fn lv(price: u32, orders: u32, shares: u64) -> Level {
    Level {
        price,
        orders,
        shares,
    }
}

/// 2 bids, 1 ask, a VWAP, stale, session "SESSION001".
fn record() -> BookRecord {
    let mut r = BookRecord::EMPTY;
    r.boundary_ns = 34_200_001_000_000;
    r.vwap = 1_012_500;
    r.volume = 300;
    r.origin = Origin {
        session: *b"SESSION001",
        seq: 0x0102_0304_0506_0708,
        event_ns: 34_200_000_000_000,
    };
    r.locate = 0x0102;
    r.stale = true;
    r.symbol[..4].copy_from_slice(b"AAPL");
    r.symbol_len = 4;
    r.bid_count = 2;
    r.bids[0] = lv(1_012_600, 3, 500);
    r.bids[1] = lv(1_012_500, 1, 100);
    r.ask_count = 1;
    r.asks[0] = lv(1_012_700, 2, 200);
    r
}

/// `record()` with pub_seq 7, written out by hand.
#[rustfmt::skip]
const VECTOR: [u8; 128] = [
    // magic "TW", version 1, flags VWAP | stale
    b'T', b'W', 0x01, 0x03,
    // locate 0x0102, bid_count 2, ask_count 1
    0x02, 0x01, 0x02, 0x01,
    // symbol "AAPL    "
    b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ',
    // session "SESSION001"
    b'S', b'E', b'S', b'S', b'I', b'O', b'N', b'0', b'0', b'1',
    // header_len 80
    0x50, 0x00,
    // reserved
    0x00, 0x00, 0x00, 0x00,
    // pub_seq 7
    0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // seq 0x0102030405060708
    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
    // event_ns 34_200_000_000_000 (09:30:00)
    0x00, 0xf0, 0xd9, 0xce, 0x1a, 0x1f, 0x00, 0x00,
    // boundary_ns 34_200_001_000_000
    0x40, 0x32, 0xe9, 0xce, 0x1a, 0x1f, 0x00, 0x00,
    // vwap 1_012_500 (101.2500)
    0x14, 0x73, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00,
    // volume 300
    0x2c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // bid 1: 101.2600, 3 orders, 500 shares
    0x78, 0x73, 0x0f, 0x00, 0x03, 0x00, 0x00, 0x00,
    0xf4, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // bid 2: 101.2500, 1 order, 100 shares
    0x14, 0x73, 0x0f, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // ask 1: 101.2700, 2 orders, 200 shares
    0xdc, 0x73, 0x0f, 0x00, 0x02, 0x00, 0x00, 0x00,
    0xc8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

#[test]
fn layout() {
    assert_eq!(core::mem::size_of::<BusHeader>(), HEADER_LEN);
    assert_eq!(core::mem::align_of::<BusHeader>(), 1);
    assert_eq!(core::mem::size_of::<WireLevel>(), LEVEL_LEN);
    assert_eq!(core::mem::align_of::<WireLevel>(), 1);
    assert_eq!(MAX_LEN, 400);
    assert_eq!(record_len(3), VECTOR.len());
}

#[test]
fn vector_encode() {
    let mut buf = [0xaau8; MAX_LEN];
    let n = encode(&record(), 7, RECORD_DEPTH, &mut buf).unwrap();
    assert_eq!(&buf[..n], &VECTOR[..]);
    // Bytes past the record are not touched.
    assert!(buf[n..].iter().all(|&b| b == 0xaa));
}

#[test]
fn vector_decode() {
    let r = BusRecord::new_checked(&VECTOR[..]).unwrap();
    assert_eq!((r.version(), r.flags()), (1, 0x03));
    assert!(r.has_vwap() && r.stale() && !r.has_unknown_flags());
    assert_eq!(r.locate(), 0x0102);
    assert_eq!((r.bid_count(), r.ask_count()), (2, 1));
    assert_eq!(r.symbol(), b"AAPL");
    assert_eq!(r.session(), b"SESSION001");
    assert_eq!(r.header_len(), 80);
    assert_eq!(r.pub_seq(), 7);
    assert_eq!(r.seq(), 0x0102_0304_0506_0708);
    assert_eq!(r.event_ns(), 34_200_000_000_000);
    assert_eq!(r.boundary_ns(), 34_200_001_000_000);
    assert_eq!(r.vwap(), Some(1_012_500));
    assert_eq!(r.volume(), 300);
    let bids: Vec<_> = r.bids().collect();
    let asks: Vec<_> = r.asks().collect();
    assert_eq!(bids, [lv(1_012_600, 3, 500), lv(1_012_500, 1, 100)]);
    assert_eq!(asks, [lv(1_012_700, 2, 200)]);
    assert_eq!(r.bids().len(), 2);
    assert_eq!(r.to_book_record(), record());
}

#[test]
fn no_vwap_no_stale() {
    let mut rec = record();
    rec.volume = 0;
    rec.vwap = 99; // not meaningful without volume: written as 0
    rec.stale = false;
    let mut buf = [0u8; MAX_LEN];
    let n = encode(&rec, 1, RECORD_DEPTH, &mut buf).unwrap();
    assert_eq!(buf[3], 0);
    assert_eq!(buf[64..72], [0; 8]);
    let r = BusRecord::new_checked(&buf[..n]).unwrap();
    assert!(!r.has_vwap() && !r.stale());
    assert_eq!((r.vwap(), r.volume()), (None, 0));
    let back = r.to_book_record();
    assert_eq!(back, BookRecord { vwap: 0, ..rec });
}

#[test]
fn depth_truncation() {
    let mut rec = record();
    rec.bid_count = 10;
    for (i, l) in rec.bids.iter_mut().enumerate() {
        *l = lv(2_000_000 - i as u32, 1, 100);
    }
    let mut buf = [0u8; MAX_LEN];
    for depth in 0..=12 {
        let n = encode(&rec, 1, depth, &mut buf).unwrap();
        let (nb, na) = (depth.min(10), depth.min(1));
        assert_eq!(n, record_len(nb + na), "depth {depth}");
        let r = BusRecord::new_checked(&buf[..n]).unwrap();
        assert_eq!((r.bid_count() as usize, r.ask_count() as usize), (nb, na));
        assert!(r.bids().eq(rec.bids[..nb].iter().copied()));
        assert!(r.asks().eq(rec.asks[..na].iter().copied()));
    }
    // Top of book.
    let n = encode(&rec, 1, 1, &mut buf).unwrap();
    assert_eq!(n, HEADER_LEN + 2 * LEVEL_LEN);
    let top = BusRecord::new_checked(&buf[..n]).unwrap().to_book_record();
    assert_eq!((top.bids(), top.asks()), (&rec.bids[..1], &rec.asks[..1]));
}

#[test]
fn counts_past_record_depth_are_clamped_when_encoding() {
    let mut rec = record();
    rec.bid_count = 200;
    let mut buf = [0u8; MAX_LEN];
    let n = encode(&rec, 1, usize::MAX, &mut buf).unwrap();
    assert_eq!(n, record_len(RECORD_DEPTH + 1));
    assert_eq!(BusRecord::new_checked(&buf[..n]).unwrap().bid_count(), 10);
}

#[test]
fn symbols() {
    let mut rec = record();
    let mut buf = [0u8; MAX_LEN];
    for sym in [&b""[..], b"A", b"BRK A", b"ABCDEFGH"] {
        rec.symbol = [0; 8];
        rec.symbol[..sym.len()].copy_from_slice(sym);
        rec.symbol_len = sym.len() as u8;
        let n = encode(&rec, 1, RECORD_DEPTH, &mut buf).unwrap();
        let mut padded = [b' '; 8];
        padded[..sym.len()].copy_from_slice(sym);
        assert_eq!(buf[8..16], padded);
        let r = BusRecord::new_checked(&buf[..n]).unwrap();
        assert_eq!(r.symbol(), sym);
        assert_eq!(r.to_book_record(), rec);
    }
}

#[test]
fn buffer_too_small() {
    for len in 0..VECTOR.len() {
        let mut buf = [0u8; MAX_LEN];
        assert_eq!(
            encode(&record(), 7, RECORD_DEPTH, &mut buf[..len]),
            Err(BusError::BufferTooSmall)
        );
    }
    let mut buf = [0u8; 128];
    assert_eq!(encode(&record(), 7, RECORD_DEPTH, &mut buf), Ok(128));
}

fn patched(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = VECTOR.to_vec();
    f(&mut v);
    v
}

#[test]
fn errors() {
    let check = |b: &[u8]| BusRecord::new_checked(b).map(|_| ()).unwrap_err();
    for n in 0..HEADER_LEN {
        assert_eq!(check(&VECTOR[..n]), BusError::Truncated);
    }
    assert_eq!(check(&patched(|v| v[0] = b't')), BusError::BadMagic);
    assert_eq!(check(&patched(|v| v[1] = b'X')), BusError::BadMagic);
    assert_eq!(
        check(&patched(|v| v[2] = 2)),
        BusError::UnsupportedVersion(2)
    );
    assert_eq!(
        check(&patched(|v| v[2] = 0)),
        BusError::UnsupportedVersion(0)
    );
    assert_eq!(check(&patched(|v| v[26] = 79)), BusError::BadHeaderLength);
    assert_eq!(check(&patched(|v| v[26] = 0)), BusError::BadHeaderLength);
    assert_eq!(check(&patched(|v| v[6] = 11)), BusError::TooManyLevels);
    assert_eq!(check(&patched(|v| v[7] = 255)), BusError::TooManyLevels);
    // One byte short, one byte over, a level short, a level over.
    assert_eq!(check(&VECTOR[..127]), BusError::LengthMismatch);
    assert_eq!(check(&patched(|v| v.push(0))), BusError::LengthMismatch);
    assert_eq!(check(&VECTOR[..112]), BusError::LengthMismatch);
    assert_eq!(check(&patched(|v| v[7] = 2)), BusError::LengthMismatch);
    // header_len past the buffer.
    assert_eq!(check(&patched(|v| v[26] = 0xff)), BusError::LengthMismatch);
    // Flag without volume; volume without flag; a VWAP without the flag.
    assert_eq!(check(&patched(|v| v[72..80].fill(0))), BusError::BadVwap);
    assert_eq!(check(&patched(|v| v[3] = 0x02)), BusError::BadVwap);
    assert_eq!(
        check(&patched(|v| {
            v[3] = 0x02;
            v[72..80].fill(0);
        })),
        BusError::BadVwap
    );
    // Without the VWAP and without volume, a zero VWAP is fine.
    let ok = patched(|v| {
        v[3] = 0x02;
        v[64..80].fill(0);
    });
    assert!(BusRecord::new_checked(&ok[..]).is_ok());
}

#[test]
fn errors_display() {
    for e in [
        BusError::Truncated,
        BusError::BadMagic,
        BusError::UnsupportedVersion(9),
        BusError::BadHeaderLength,
        BusError::TooManyLevels,
        BusError::LengthMismatch,
        BusError::BadVwap,
        BusError::BufferTooSmall,
    ] {
        let text = std::format!("{e}");
        assert!(!text.is_empty() && e.name().starts_with("bus_"));
        let _: &dyn core::error::Error = &e;
    }
    assert!(std::format!("{}", BusError::UnsupportedVersion(9)).contains('9'));
}

#[test]
fn readers_skip_a_longer_header_and_ignore_unknown_bits() {
    // A later compatible writer: 4 more header bytes, header_len 84, a new
    // flag bit, reserved bytes used.
    let mut v = VECTOR[..80].to_vec();
    v[26] = 84;
    v[3] |= 0x80;
    v[28..32].copy_from_slice(b"xyzw");
    v.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    v.extend_from_slice(&VECTOR[80..]);
    let r = BusRecord::new_checked(&v[..]).unwrap();
    assert_eq!(r.header_len(), 84);
    assert!(r.has_unknown_flags() && r.has_vwap() && r.stale());
    assert_eq!(r.to_book_record(), record());
    // Re-encoding gives the canonical v1 form.
    let mut buf = [0u8; MAX_LEN];
    let n = encode(&r.to_book_record(), r.pub_seq(), RECORD_DEPTH, &mut buf).unwrap();
    assert_eq!(&buf[..n], &VECTOR[..]);
}

#[test]
fn unchecked_views_do_not_panic() {
    for n in 0..VECTOR.len() {
        let r = BusRecord::new_unchecked(&VECTOR[..n]);
        touch(&r);
    }
    // Counts past the buffer and past RECORD_DEPTH, header_len 0 and huge.
    for (i, b) in [(6, 255u8), (7, 255), (26, 0), (27, 0xff)] {
        let v = patched(|v| v[i] = b);
        let r = BusRecord::new_unchecked(&v[..]);
        touch(&r);
        let rec = r.to_book_record();
        assert!(usize::from(rec.bid_count) <= RECORD_DEPTH);
        assert!(usize::from(rec.ask_count) <= RECORD_DEPTH);
    }
}

/// Calls every accessor.
fn touch<T: AsRef<[u8]>>(r: &BusRecord<T>) {
    let _ = (r.version(), r.flags(), r.has_vwap(), r.stale());
    let _ = (r.locate(), r.bid_count(), r.ask_count(), r.symbol());
    let _ = (r.session(), r.header_len(), r.pub_seq(), r.seq());
    let _ = (r.event_ns(), r.boundary_ns(), r.vwap(), r.volume());
    let _ = (r.has_unknown_flags(), r.header());
    assert!(r.bids().len() <= 255 && r.bids().count() == r.bids().len());
    assert!(r.asks().count() == r.asks().len());
    let _ = r.to_book_record();
}

/// What a valid record re-encodes to: the v1 header (header_len 80,
/// reserved 0, unknown flag bits clear) and the levels.
fn canonical(bytes: &[u8], header_len: usize) -> Vec<u8> {
    let mut v = bytes[..HEADER_LEN].to_vec();
    v[3] &= FLAGS_KNOWN;
    v[26..28].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
    v[28..32].fill(0);
    v.extend_from_slice(&bytes[header_len..]);
    v
}

fn level() -> impl Strategy<Value = Level> {
    (any::<u32>(), any::<u32>(), any::<u64>()).prop_map(|(p, o, s)| lv(p, o, s))
}

/// Records whose encode/decode round trip is exact: symbol without trailing
/// spaces and zero past its length, unused slots zero, vwap 0 without volume.
fn round_trip_record() -> impl Strategy<Value = BookRecord> {
    (
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<[u8; 10]>()),
        (any::<u64>(), any::<u64>(), any::<u16>(), any::<bool>()),
        proptest::collection::vec(any::<u8>(), 0..=8),
        proptest::collection::vec(level(), 0..=RECORD_DEPTH),
        proptest::collection::vec(level(), 0..=RECORD_DEPTH),
    )
        .prop_map(
            |((boundary_ns, vwap, volume, session), (seq, event_ns, locate, stale), sym, b, a)| {
                let mut r = BookRecord::EMPTY;
                r.boundary_ns = boundary_ns;
                r.volume = if volume % 3 == 0 { 0 } else { volume }; // often 0
                r.vwap = if r.volume > 0 { vwap } else { 0 };
                r.origin = Origin {
                    session,
                    seq,
                    event_ns,
                };
                r.locate = locate;
                r.stale = stale;
                let sym_len = sym.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
                r.symbol[..sym_len].copy_from_slice(&sym[..sym_len]);
                r.symbol_len = sym_len as u8;
                r.bids[..b.len()].copy_from_slice(&b);
                r.bid_count = b.len() as u8;
                r.asks[..a.len()].copy_from_slice(&a);
                r.ask_count = a.len() as u8;
                r
            },
        )
}

proptest! {
    #[test]
    fn round_trip(rec in round_trip_record(), pub_seq in any::<u64>()) {
        let mut buf = [0u8; MAX_LEN];
        let n = encode(&rec, pub_seq, RECORD_DEPTH, &mut buf).unwrap();
        prop_assert_eq!(n, record_len(rec.bids().len() + rec.asks().len()));
        let r = BusRecord::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(r.pub_seq(), pub_seq);
        prop_assert_eq!(r.to_book_record(), rec);
    }

    #[test]
    fn round_trip_at_any_depth(rec in round_trip_record(), depth in 0usize..12) {
        let mut buf = [0u8; MAX_LEN];
        let n = encode(&rec, 1, depth, &mut buf).unwrap();
        let back = BusRecord::new_checked(&buf[..n]).unwrap().to_book_record();
        prop_assert_eq!(back.bids(), &rec.bids()[..rec.bids().len().min(depth)]);
        prop_assert_eq!(back.asks(), &rec.asks()[..rec.asks().len().min(depth)]);
        prop_assert_eq!(BookRecord { bids: rec.bids, asks: rec.asks, bid_count: rec.bid_count, ask_count: rec.ask_count, ..back }, rec);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        touch(&BusRecord::new_unchecked(&bytes[..]));
        if let Ok(r) = BusRecord::new_checked(&bytes[..]) {
            touch(&r);
        }
    }

    /// Valid-looking records with fields, counts and lengths perturbed:
    /// every valid one re-encodes to its canonical form.
    #[test]
    fn perturbed_records(
        rec in round_trip_record(),
        edits in proptest::collection::vec((0usize..MAX_LEN + 8, any::<u8>()), 0..4),
        extra in proptest::collection::vec(any::<u8>(), 0..8),
        cut in 0usize..16,
    ) {
        let mut buf = [0u8; MAX_LEN];
        let n = encode(&rec, 5, RECORD_DEPTH, &mut buf).unwrap();
        let mut v = buf[..n].to_vec();
        v.extend_from_slice(&extra);
        for (i, b) in edits {
            if let Some(x) = v.get_mut(i) {
                *x = b;
            }
        }
        v.truncate(v.len().saturating_sub(cut));
        touch(&BusRecord::new_unchecked(&v[..]));
        if let Ok(r) = BusRecord::new_checked(&v[..]) {
            touch(&r);
            let mut out = [0u8; MAX_LEN];
            let m = encode(&r.to_book_record(), r.pub_seq(), RECORD_DEPTH, &mut out).unwrap();
            prop_assert_eq!(&out[..m], &canonical(&v, r.header_len())[..]);
        }
    }
}
