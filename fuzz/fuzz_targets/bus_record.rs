#![no_main]
//! Bus records from arbitrary bytes: the view never panics (checked or
//! not), and a valid record re-encodes to its canonical v1 form: the input
//! with header_len 80 (header bytes past 80 dropped), reserved bytes 0 and
//! the flag bits v1 does not define clear. The canonical form decodes to the
//! same record again.
use libfuzzer_sys::fuzz_target;
use tickwire_core::bus::{encode, BusRecord, FLAGS_KNOWN, HEADER_LEN, MAX_LEN};
use tickwire_core::engine::RECORD_DEPTH;

fuzz_target!(|data: &[u8]| {
    let unchecked = BusRecord::new_unchecked(data);
    let _ = (
        unchecked.symbol(),
        unchecked.vwap(),
        unchecked.to_book_record(),
    );
    let _ = (unchecked.bids().count(), unchecked.asks().count());
    let Ok(r) = BusRecord::new_checked(data) else {
        return;
    };
    let record = r.to_book_record();
    let mut out = [0u8; MAX_LEN];
    let n = encode(&record, r.pub_seq(), RECORD_DEPTH, &mut out).expect("MAX_LEN holds any record");

    let mut canonical = [0u8; MAX_LEN];
    canonical[..HEADER_LEN].copy_from_slice(&data[..HEADER_LEN]);
    canonical[3] &= FLAGS_KNOWN;
    canonical[26..28].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
    canonical[28..32].fill(0);
    let levels = &data[r.header_len()..];
    canonical[HEADER_LEN..HEADER_LEN + levels.len()].copy_from_slice(levels);
    assert_eq!(&out[..n], &canonical[..HEADER_LEN + levels.len()]);

    let again = BusRecord::new_checked(&out[..n]).expect("the canonical form is valid");
    assert_eq!(again.to_book_record(), record);
    assert_eq!(again.pub_seq(), r.pub_seq());
});
