//! Issue 9: hostile but structurally valid feeds through the whole engine,
//! checked against a model of the contract (see `hostile/harness.rs`, shared
//! with the `engine` fuzz target). Run in debug: overflow checks are on.

#[path = "hostile/harness.rs"]
mod harness;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn hostile_feed_never_corrupts_silently(data in proptest::collection::vec(any::<u8>(), 0..1200)) {
        harness::run(&data);
    }
}

/// The committed fuzz seeds (fuzz/corpus/engine) pass too.
#[test]
fn fuzz_seeds() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/engine");
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("fuzz/corpus/engine") {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        harness::run(&data);
        n += 1;
    }
    assert!(n > 0);
}

/// The generator reaches every refusal (and emits snapshots): a sweep of
/// pseudo-random inputs moves each counter the model checks.
#[test]
fn generator_reaches_every_refusal() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut total = tickwire_core::engine::Counters::default();
    for case in 0..200 {
        let data: Vec<u8> = (0..400 + case)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let c = harness::run(&data);
        total.unknown_ref += c.unknown_ref;
        total.oversized_reductions += c.oversized_reductions;
        total.duplicate_ref += c.duplicate_ref;
        total.rejected_adds += c.rejected_adds;
        total.orders_refused_full += c.orders_refused_full;
        total.levels_refused_full += c.levels_refused_full;
        total.locate_out_of_range += c.locate_out_of_range;
        total.implausible_shares += c.implausible_shares;
        total.implausible_price += c.implausible_price;
        total.timestamp_backwards += c.timestamp_backwards;
        total.timestamp_out_of_day += c.timestamp_out_of_day;
        total.vwap_executions += c.vwap_executions;
        total.snapshots += c.snapshots;
        total.messages_applied += c.messages_applied;
    }
    std::println!("{total:#?}");
    let t = &total;
    for (name, n) in [
        ("unknown_ref", t.unknown_ref),
        ("oversized_reductions", t.oversized_reductions),
        ("duplicate_ref", t.duplicate_ref),
        ("rejected_adds", t.rejected_adds),
        ("orders_refused_full", t.orders_refused_full),
        ("levels_refused_full", t.levels_refused_full),
        ("locate_out_of_range", t.locate_out_of_range),
        ("implausible_shares", t.implausible_shares),
        ("implausible_price", t.implausible_price),
        ("timestamp_backwards", t.timestamp_backwards),
        ("timestamp_out_of_day", t.timestamp_out_of_day),
        ("vwap_executions", t.vwap_executions),
        ("snapshots", t.snapshots),
    ] {
        assert!(n > 0, "{name} never moved");
    }
}
