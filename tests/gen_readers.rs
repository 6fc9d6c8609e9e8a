//! The pcap and BinaryFILE readers never panic, whatever the bytes, and
//! report truncation as errors.

use proptest::prelude::*;
use tickwire::binfile::{BinFileError, BinFileReader};
use tickwire::gen::{generate, GenConfig};
use tickwire::pcap::{PcapError, PcapReader, MAGIC_MICROS, MAGIC_NANOS};

fn sample() -> (Vec<u8>, Vec<u8>) {
    static S: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    S.get_or_init(make).clone()
}

fn make() -> (Vec<u8>, Vec<u8>) {
    let mut cfg = GenConfig {
        seed: 77,
        symbols: 4,
        messages: 400,
        ..GenConfig::default()
    };
    cfg.faults.malformed_rate = 0.5;
    cfg.faults.filtered_rate = 0.3;
    let (mut b, mut p) = (Vec::new(), Vec::new());
    generate(&cfg, Some(&mut b), Some(&mut p), None).unwrap();
    (b, p)
}

fn drain_pcap(bytes: &[u8]) -> (usize, Option<PcapError>) {
    match PcapReader::new(bytes) {
        Err(e) => (0, Some(e)),
        Ok(r) => {
            let mut n = 0;
            for rec in r {
                match rec {
                    Ok(rec) => {
                        let _ = rec.data.len();
                        n += 1;
                    }
                    Err(e) => return (n, Some(e)),
                }
            }
            (n, None)
        }
    }
}

fn drain_bin(bytes: &[u8]) -> (usize, Option<BinFileError>) {
    let mut n = 0;
    for m in BinFileReader::new(bytes) {
        match m {
            Ok(_) => n += 1,
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

#[test]
fn every_truncation_is_an_error_or_a_record_boundary() {
    let (bin, pcap) = sample();
    let (full_recs, e) = drain_pcap(&pcap);
    assert!(e.is_none());
    let (full_msgs, e) = drain_bin(&bin);
    assert!(e.is_none() && full_msgs == 400);
    // Record boundaries of the pcap.
    let mut bounds = vec![24usize];
    for rec in PcapReader::new(&pcap).unwrap() {
        bounds.push(bounds.last().unwrap() + 16 + rec.unwrap().data.len());
    }
    for cut in 0..pcap.len() {
        let (n, e) = drain_pcap(&pcap[..cut]);
        assert!(n <= full_recs);
        if cut < 24 {
            assert!(matches!(e, Some(PcapError::TruncatedFileHeader { .. })));
        } else {
            assert_eq!(e.is_none(), bounds.contains(&cut), "cut at {cut}");
        }
    }
    let mut at = 0usize;
    let mut bin_bounds = vec![0usize];
    while at < bin.len() {
        at += 2 + usize::from(u16::from_be_bytes([bin[at], bin[at + 1]]));
        bin_bounds.push(at);
    }
    for cut in 0..bin.len() {
        let (n, e) = drain_bin(&bin[..cut]);
        assert!(n <= full_msgs);
        assert_eq!(e.is_none(), bin_bounds.contains(&cut), "cut at {cut}");
    }
}

#[test]
fn byte_swapped_pcap_reads_the_same() {
    let (_, pcap) = sample();
    // Rewrite the file big-endian: swap every header field.
    let mut be = pcap.clone();
    let swap32 = |b: &mut [u8], i: usize| b[i..i + 4].reverse();
    swap32(&mut be, 0);
    be[4..6].reverse();
    be[6..8].reverse();
    for i in [8, 12, 16, 20] {
        swap32(&mut be, i);
    }
    let mut at = 24;
    while at < be.len() {
        let incl = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        for i in 0..4 {
            swap32(&mut be, at + 4 * i);
        }
        at += 16 + incl;
    }
    let a: Vec<_> = PcapReader::new(&pcap)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let r = PcapReader::new(&be).unwrap();
    assert!(r.header().big_endian);
    let b: Vec<_> = r.map(Result::unwrap).collect();
    assert_eq!(a, b);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn pcap_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        drain_pcap(&bytes);
    }

    #[test]
    fn pcap_reader_never_panics_with_valid_magic(
        magic in prop_oneof![Just(MAGIC_MICROS), Just(MAGIC_NANOS)],
        big in any::<bool>(),
        rest in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut f = if big { magic.to_be_bytes().to_vec() } else { magic.to_le_bytes().to_vec() };
        f.extend_from_slice(&rest);
        let (_, e) = drain_pcap(&f);
        if let Some(e) = e {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn pcap_reader_survives_corruption(pos in any::<prop::sample::Index>(), val in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let (_, pcap) = sample();
        let mut f = pcap.clone();
        let i = pos.index(f.len());
        f[i] = val;
        let c = cut.index(f.len() + 1);
        drain_pcap(&f[..c]);
    }

    #[test]
    fn binfile_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (n, e) = drain_bin(&bytes);
        prop_assert!(n <= bytes.len() / 2 + 1);
        if let Some(e) = e {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
