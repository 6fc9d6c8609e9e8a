//! ITCH stream properties of `tickwire::gen`, checked by an independent
//! decoder written here from the ITCH 5.0 specification.

use std::collections::{BTreeMap, HashMap, HashSet};

use tickwire::binfile::BinFileReader;
use tickwire::gen::{generate, generate_binfile, FaultConfig, GenConfig, Manifest};

/// Specification lengths, typed in again here (independent of the encoder).
const SPEC: [(u8, usize); 23] = [
    (b'S', 12),
    (b'R', 39),
    (b'H', 25),
    (b'Y', 20),
    (b'L', 26),
    (b'V', 35),
    (b'W', 12),
    (b'K', 28),
    (b'J', 35),
    (b'h', 21),
    (b'A', 36),
    (b'F', 40),
    (b'E', 31),
    (b'C', 36),
    (b'X', 23),
    (b'D', 19),
    (b'U', 35),
    (b'P', 44),
    (b'Q', 40),
    (b'B', 19),
    (b'I', 50),
    (b'N', 20),
    (b'O', 48),
];

fn spec_len(t: u8) -> Option<usize> {
    SPEC.iter().find(|x| x.0 == t).map(|x| x.1)
}

fn u16at(m: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([m[i], m[i + 1]])
}
fn u32at(m: &[u8], i: usize) -> u32 {
    u32::from_be_bytes(m[i..i + 4].try_into().unwrap())
}
fn u64at(m: &[u8], i: usize) -> u64 {
    u64::from_be_bytes(m[i..i + 8].try_into().unwrap())
}
fn ts(m: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[2..].copy_from_slice(&m[5..11]);
    u64::from_be_bytes(b)
}

fn binfile(cfg: &GenConfig) -> (Vec<u8>, Manifest) {
    let mut out = Vec::new();
    let m = generate_binfile(cfg, &mut out).unwrap();
    (out, m)
}

fn messages(f: &[u8]) -> Vec<&[u8]> {
    BinFileReader::new(f)
        .map(|r| r.expect("well-formed BinaryFILE"))
        .collect()
}

fn cfg(seed: u64, symbols: u32, messages: u64, live: Option<u64>) -> GenConfig {
    GenConfig {
        seed,
        symbols,
        messages,
        live_orders_target: live,
        ..GenConfig::default()
    }
}

#[test]
fn same_seed_same_bytes_different_seed_different() {
    let mut c = cfg(42, 20, 30_000, None);
    c.faults = FaultConfig {
        dup_rate: 0.05,
        drop_rate: 0.05,
        vlan_id: Some(12),
        vlan_rate: 0.5,
        malformed_rate: 0.1,
        filtered_rate: 0.1,
    };
    let run = |c: &GenConfig| {
        let (mut b, mut p) = (Vec::new(), Vec::new());
        let m = generate(c, Some(&mut b), Some(&mut p), None).unwrap();
        (b, p, m)
    };
    let (b1, p1, m1) = run(&c);
    let (b2, p2, m2) = run(&c);
    assert_eq!(b1, b2);
    assert_eq!(p1, p2);
    assert_eq!(m1, m2);
    assert_eq!(m1.to_json(), m2.to_json());
    c.seed = 43;
    let (b3, p3, _) = run(&c);
    assert_ne!(b1, b3);
    assert_ne!(p1, p3);
    // The message stream does not depend on packet or fault settings.
    let mut clean = cfg(42, 20, 30_000, None);
    clean.mold.max_payload = 300;
    assert_eq!(binfile(&clean).0, b1);
}

#[test]
fn exact_lengths_and_all_23_types() {
    let (f, m) = binfile(&cfg(7, 50, 200_000, None));
    let msgs = messages(&f);
    assert_eq!(msgs.len(), 200_000);
    assert_eq!(m.total_messages, 200_000);
    let mut counts: HashMap<u8, u64> = HashMap::new();
    for msg in &msgs {
        let t = msg[0];
        assert_eq!(
            Some(msg.len()),
            spec_len(t),
            "type {:?} has length {}",
            t as char,
            msg.len()
        );
        *counts.entry(t).or_default() += 1;
    }
    for (t, _) in SPEC {
        assert!(
            counts.get(&t).copied().unwrap_or(0) > 0,
            "type {:?} missing",
            t as char
        );
        assert_eq!(m.count(t), counts[&t], "manifest count for {:?}", t as char);
    }
    assert_eq!(counts.len(), 23);
}

#[test]
fn small_stream_still_has_every_type() {
    let (f, _) = binfile(&cfg(3, 5, 2_000, Some(100)));
    let types: HashSet<u8> = messages(&f).iter().map(|m| m[0]).collect();
    assert_eq!(types.len(), 23, "{types:?}");
}

#[test]
fn structure_timestamps_and_directory() {
    let n = 300u32;
    let (f, m) = binfile(&cfg(11, n, 100_000, None));
    let msgs = messages(&f);
    let ev = |m: &[u8]| (m[0], m[11]);
    assert_eq!(ev(msgs[0]), (b'S', b'O'));
    assert_eq!(ev(msgs[1]), (b'S', b'S'));
    assert_eq!(ev(msgs[2]), (b'S', b'Q'));
    let l = msgs.len();
    assert_eq!(ev(msgs[l - 3]), (b'S', b'M'));
    assert_eq!(ev(msgs[l - 2]), (b'S', b'E'));
    assert_eq!(ev(msgs[l - 1]), (b'S', b'C'));
    let mut tickers = HashSet::new();
    for i in 0..n as usize {
        let r = msgs[3 + i];
        assert_eq!(r[0], b'R');
        assert_eq!(usize::from(u16at(r, 1)), i + 1);
        let stock = &r[11..19];
        assert!(tickers.insert(stock.to_vec()), "duplicate ticker");
        let s = std::str::from_utf8(stock).unwrap();
        let name = s.trim_end();
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase()),
            "{s:?}"
        );
        assert!(s[name.len()..].bytes().all(|b| b == b' '));
        assert_eq!(u32at(r, 21), 100, "round lot size");
        assert_eq!(&m.symbols[i].stock[..], stock);
        let h = msgs[3 + n as usize + i];
        assert_eq!(
            (h[0], usize::from(u16at(h, 1)), &h[11..19], h[19]),
            (b'H', i + 1, stock, b'T')
        );
    }
    // Alphabetical locates.
    let names: Vec<_> = (0..n as usize)
        .map(|i| msgs[3 + i][11..19].to_vec())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // Monotonic timestamps starting before 09:30 and within the day.
    let mut last = 0;
    for msg in &msgs {
        let t = ts(msg);
        assert!(t >= last, "timestamp went backwards");
        last = t;
    }
    assert!(ts(msgs[0]) < 34_200_000_000_000 && ts(msgs[2]) == 34_200_000_000_000);
    assert!(last < 86_400_000_000_000);
    assert_eq!(m.first_timestamp_ns, ts(msgs[0]));
    assert_eq!(m.last_timestamp_ns, last);
}

/// Independent book replay: no crossed book, every reference live, shares
/// never over-executed, references unique and strictly increasing.
fn replay(msgs: &[&[u8]], nsym: usize) -> (usize, Vec<usize>) {
    struct O {
        locate: u16,
        bid: bool,
        price: u32,
        shares: u32,
    }
    let mut orders: HashMap<u64, O> = HashMap::new();
    let mut bids: Vec<BTreeMap<u32, u32>> = vec![BTreeMap::new(); nsym + 1];
    let mut asks: Vec<BTreeMap<u32, u32>> = vec![BTreeMap::new(); nsym + 1];
    let mut stocks: HashMap<u16, Vec<u8>> = HashMap::new();
    let mut last_ref = 0u64;
    let mut max_match = 0u64;
    let mut per_symbol_adds = vec![0usize; nsym + 1];

    fn add_level(side: &mut BTreeMap<u32, u32>, p: u32) {
        *side.entry(p).or_default() += 1;
    }
    fn del_level(side: &mut BTreeMap<u32, u32>, p: u32) {
        let c = side.get_mut(&p).expect("level exists");
        *c -= 1;
        if *c == 0 {
            side.remove(&p);
        }
    }
    for (i, m) in msgs.iter().enumerate() {
        let locate = u16at(m, 1);
        let t = m[0];
        let mut touched = None;
        match t {
            b'R' => {
                stocks.insert(locate, m[11..19].to_vec());
            }
            b'A' | b'F' => {
                let r = u64at(m, 11);
                assert!(r > last_ref, "msg {i}: ref {r} not above {last_ref}");
                last_ref = r;
                let bid = match m[19] {
                    b'B' => true,
                    b'S' => false,
                    s => panic!("msg {i}: bad side {s}"),
                };
                let shares = u32at(m, 20);
                let price = u32at(m, 32);
                assert!(
                    shares > 0 && price > 0 && price.is_multiple_of(100),
                    "msg {i}: shares {shares} price {price}"
                );
                assert_eq!(
                    stocks.get(&locate).map(Vec::as_slice),
                    Some(&m[24..32]),
                    "msg {i}: stock/locate"
                );
                if t == b'F' {
                    assert!(m[36..40].iter().all(|b| b.is_ascii_uppercase()), "MPID");
                }
                add_level(
                    if bid {
                        &mut bids[locate as usize]
                    } else {
                        &mut asks[locate as usize]
                    },
                    price,
                );
                orders.insert(
                    r,
                    O {
                        locate,
                        bid,
                        price,
                        shares,
                    },
                );
                per_symbol_adds[locate as usize] += 1;
                touched = Some(locate);
            }
            b'E' | b'C' | b'X' => {
                let r = u64at(m, 11);
                let n = u32at(m, 19);
                let o = orders
                    .get_mut(&r)
                    .unwrap_or_else(|| panic!("msg {i}: {} on dead order {r}", t as char));
                assert_eq!(o.locate, locate, "msg {i}: locate");
                assert!(n > 0 && n <= o.shares, "msg {i}: {n} of {}", o.shares);
                if t != b'X' {
                    let mn = u64at(m, 23);
                    assert!(mn > max_match, "match numbers increase");
                    max_match = mn;
                }
                if t == b'C' {
                    assert!(matches!(m[31], b'Y' | b'N'));
                }
                o.shares -= n;
                if o.shares == 0 {
                    let o = orders.remove(&r).unwrap();
                    let side = if o.bid {
                        &mut bids[locate as usize]
                    } else {
                        &mut asks[locate as usize]
                    };
                    del_level(side, o.price);
                }
            }
            b'D' => {
                let r = u64at(m, 11);
                let o = orders
                    .remove(&r)
                    .unwrap_or_else(|| panic!("msg {i}: D on dead order {r}"));
                assert_eq!(o.locate, locate);
                del_level(
                    if o.bid {
                        &mut bids[locate as usize]
                    } else {
                        &mut asks[locate as usize]
                    },
                    o.price,
                );
            }
            b'U' => {
                let (old, new) = (u64at(m, 11), u64at(m, 19));
                let o = orders
                    .remove(&old)
                    .unwrap_or_else(|| panic!("msg {i}: U on dead order {old}"));
                assert_eq!(o.locate, locate);
                assert!(new > last_ref, "msg {i}: U new ref not increasing");
                last_ref = new;
                let (shares, price) = (u32at(m, 27), u32at(m, 31));
                assert!(shares > 0 && price > 0 && price.is_multiple_of(100));
                let (b, a) = (&mut bids[locate as usize], &mut asks[locate as usize]);
                let side = if o.bid { b } else { a };
                del_level(side, o.price);
                add_level(side, price);
                orders.insert(
                    new,
                    O {
                        locate,
                        bid: o.bid,
                        price,
                        shares,
                    },
                );
                touched = Some(locate);
            }
            b'P' | b'Q' => {
                let mn = if t == b'P' {
                    u64at(m, 36)
                } else {
                    u64at(m, 31)
                };
                assert!(mn > max_match, "match numbers increase");
                max_match = mn;
            }
            b'B' => assert!(
                u64at(m, 11) <= max_match && u64at(m, 11) > 0,
                "B names a past match"
            ),
            _ => {}
        }
        if let Some(l) = touched {
            let bb = bids[l as usize].keys().next_back();
            let ba = asks[l as usize].keys().next();
            if let (Some(b), Some(a)) = (bb, ba) {
                assert!(b < a, "msg {i}: locate {l} crossed: bid {b} >= ask {a}");
            }
        }
    }
    (orders.len(), per_symbol_adds)
}

#[test]
fn books_consistent_and_live_orders_near_target() {
    let c = cfg(5, 50, 400_000, Some(20_000));
    let (f, m) = binfile(&c);
    let msgs = messages(&f);
    let (live, adds) = replay(&msgs, 50);
    assert_eq!(live as u64, m.final_live_orders);
    let dev = (live as f64 - 20_000.0).abs() / 20_000.0;
    assert!(dev < 0.05, "live orders {live} vs target 20000");
    // Zipf: the busiest symbol is much busier than the median one.
    let mut a = adds[1..].to_vec();
    a.sort_unstable();
    assert!(
        a[a.len() - 1] > 8 * a[a.len() / 2],
        "activity not skewed: {a:?}"
    );
}

#[test]
fn many_symbols_books_consistent() {
    let (f, m) = binfile(&cfg(9, 2_000, 150_000, Some(10_000)));
    let (live, _) = replay(&messages(&f), 2_000);
    assert_eq!(live as u64, m.final_live_orders);
    assert_eq!(m.symbols.len(), 2_000);
}

#[test]
fn mix_close_to_targets() {
    let c = cfg(21, 50, 600_000, Some(5_000));
    let (_, m) = binfile(&c);
    let flow = (m.total_messages - c.min_messages()) as f64;
    let pct = |ts: &[u8]| 100.0 * ts.iter().map(|&t| m.count(t)).sum::<u64>() as f64 / flow;
    let within = |name: &str, v: f64, target: f64, tol: f64| {
        assert!(
            (v - target).abs() <= tol,
            "{name}: {v:.2}% vs target {target}% ± {tol}"
        );
    };
    within("adds", pct(b"AF"), 44.0, 2.0);
    within("deletes", pct(b"D"), 43.0, 2.0);
    within("replaces", pct(b"U"), 8.0, 1.0);
    within("E/C/X", pct(b"ECX"), 3.0, 0.5);
    within("P", pct(b"P"), 1.65, 0.5);
    within("rest", pct(b"QBINYLVWKJhO"), 0.35, 0.3);
    let f_share = m.count(b'F') as f64 / (m.count(b'A') + m.count(b'F')) as f64;
    assert!((0.07..0.13).contains(&f_share), "F share of adds {f_share}");
}

#[test]
fn default_live_target_scales_with_symbols() {
    let small = cfg(1, 50, 5_000_000, None);
    assert_eq!(small.effective_live_orders_target(), 40_000);
    let big = cfg(1, 2_000, 5_000_000, None);
    let t = big.effective_live_orders_target();
    assert!((450_000..=550_000).contains(&t), "{t}");
}

#[test]
fn config_errors_are_reported() {
    let mut buf = Vec::new();
    assert!(generate_binfile(&cfg(1, 50, 10, None), &mut buf).is_err());
    let mut c = cfg(1, 5, 1000, None);
    c.faults.drop_rate = 1.5;
    let e = tickwire::gen::generate_pcap(&c, &mut buf)
        .unwrap_err()
        .to_string();
    assert!(e.contains("drop rate"), "{e}");
    c.faults.drop_rate = 0.0;
    c.mold.max_payload = 50;
    assert!(tickwire::gen::generate_pcap(&c, &mut buf).is_err());
}

#[test]
fn maximum_symbol_count() {
    let n = tickwire::gen::MAX_SYMBOLS;
    let (f, m) = binfile(&cfg(31, n, 200_000, None));
    let msgs = messages(&f);
    assert_eq!(msgs.len(), 200_000);
    let (live, _) = replay(&msgs, n as usize);
    assert_eq!(live as u64, m.final_live_orders);
    let uniq: HashSet<_> = m.symbols.iter().map(|s| s.stock).collect();
    assert_eq!(uniq.len(), n as usize);
    assert_eq!(m.symbols.last().unwrap().locate, 65_535);
}
