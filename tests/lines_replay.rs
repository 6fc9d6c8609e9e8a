//! `tickwire replay A.pcap --line-b B.pcap --rerequest-from DAY.itch`: two
//! lines with complementary losses, or losses on both lines recovered from
//! a re-request server, give the loss-free replay's FIX, snapshot for
//! snapshot; what cannot be had is counted lost and the replay goes on.

use std::path::{Path, PathBuf};

use tickwire::gen::{generate, GenConfig};

fn tmpdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("lines-replay-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str]) {
    let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tickwire::replay_cli::run(&v).unwrap_or_else(|e| panic!("replay {args:?}: {e:#}"));
}

fn stats(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Generated stream: `DIR/day.itch` and `DIR/day.pcap`.
fn gen(dir: &Path) -> (PathBuf, PathBuf) {
    let cfg = GenConfig {
        seed: 11,
        symbols: 20,
        messages: 40_000,
        ..GenConfig::default()
    };
    let (mut b, mut pc) = (Vec::new(), Vec::new());
    generate(&cfg, Some(&mut b), Some(&mut pc), None).unwrap();
    let (bp, pp) = (dir.join("day.itch"), dir.join("day.pcap"));
    std::fs::write(&bp, b).unwrap();
    std::fs::write(&pp, pc).unwrap();
    (bp, pp)
}

/// `src` as one line of a pair: without the MoldUDP64 data packets (by
/// index) that `drop` selects, capture times shifted by `shift_ns`.
fn impair(src: &Path, dst: &Path, shift_ns: u64, drop: impl Fn(u64) -> bool) -> u64 {
    let (bytes, dropped) =
        tickwire::pcap::copy_dropping(&std::fs::read(src).unwrap(), &[26400], shift_ns, drop)
            .unwrap();
    std::fs::write(dst, bytes).unwrap();
    dropped
}

fn fix(dir: &Path, name: &str, args: &[&str]) -> (Vec<u8>, serde_json::Value) {
    let out = dir.join(format!("{name}.fix"));
    let st = dir.join(format!("{name}.json"));
    let mut a = vec![
        "--sending-time",
        "event",
        "--interval",
        "1ms",
        "--window",
        "10ms",
        "-q",
        "--out",
        out.to_str().unwrap(),
        "--stats-json",
        st.to_str().unwrap(),
    ];
    a.extend_from_slice(args);
    run(&a);
    (std::fs::read(&out).unwrap(), stats(&st))
}

fn feed0(s: &serde_json::Value) -> &serde_json::Value {
    &s["feed"][0]
}

#[test]
fn complementary_losses_on_two_lines_equal_the_loss_free_replay() {
    let dir = tmpdir("ab");
    let (_itch, pcap) = gen(&dir);
    let (base, base_stats) = fix(&dir, "base", &[pcap.to_str().unwrap()]);
    assert!(base.len() > 10_000);
    let (a, b) = (dir.join("a.pcap"), dir.join("b.pcap"));
    // Every message is on at least one line: runs of loss on each, and
    // every 7th packet (a different one) on both.
    let da = impair(&pcap, &a, 0, |i| {
        i % 7 == 3 || ((100..140).contains(&i) && i % 7 != 5)
    });
    // B 200 us behind (packets are ~50 us apart): A's gaps open and wait.
    let db = impair(&pcap, &b, 200_000, |i| {
        i % 7 == 5 || ((300..320).contains(&i) && i % 7 != 3)
    });
    assert!(da > 100 && db > 100);
    let (got, st) = fix(
        &dir,
        "ab",
        &[a.to_str().unwrap(), "--line-b", b.to_str().unwrap()],
    );
    let f = feed0(&st);
    assert_eq!(f["messages_lost"], 0, "{f:#}");
    assert_eq!(f["state"], "synchronized", "{f:#}");
    assert!(f["gaps_filled"].as_u64().unwrap() > 50, "{f:#}");
    assert!(f["lines"]["b"]["won"].as_u64().unwrap() > 0, "{f:#}");
    assert!(
        f["lines"]["a"]["gap_messages"].as_u64().unwrap() > 0,
        "{f:#}"
    );
    assert_eq!(
        f["messages_applied"], base_stats["messages"]["applied"],
        "{f:#}"
    );
    assert!(st["recovery"]["skew_samples"].as_u64().unwrap() > 0);
    assert!(got == base, "FIX differs from the loss-free replay");
}

#[test]
fn losses_on_both_lines_are_recovered_from_the_server() {
    let dir = tmpdir("rr");
    let (itch, pcap) = gen(&dir);
    let (base, _) = fix(&dir, "base", &[pcap.to_str().unwrap()]);
    let (a, b) = (dir.join("a.pcap"), dir.join("b.pcap"));
    // Both lose every 11th packet, and a long run (a 10,000-message class
    // gap is covered by the property tests; here ~600 messages).
    let both = |i: u64| i % 11 == 4 || (200..260).contains(&i);
    impair(&pcap, &a, 0, |i| both(i) || i % 5 == 1);
    impair(&pcap, &b, 20_000, |i| both(i) || i % 5 == 3);
    let (got, st) = fix(
        &dir,
        "rr",
        &[
            a.to_str().unwrap(),
            "--line-b",
            b.to_str().unwrap(),
            "--rerequest-from",
            itch.to_str().unwrap(),
        ],
    );
    let f = feed0(&st);
    assert_eq!(f["messages_lost"], 0, "{f:#}");
    assert!(f["requests"].as_u64().unwrap() > 0, "{f:#}");
    assert!(f["lines"]["recovery"]["won"].as_u64().unwrap() > 0, "{f:#}");
    assert_eq!(st["books_possibly_stale"], 0);
    assert!(got == base, "FIX differs from the loss-free replay");

    // One line only, the server fills everything.
    let (got1, st1) = fix(
        &dir,
        "r1",
        &[
            a.to_str().unwrap(),
            "--rerequest-from",
            itch.to_str().unwrap(),
        ],
    );
    assert_eq!(feed0(&st1)["messages_lost"], 0, "{:#}", feed0(&st1));
    assert!(got1 == base, "FIX (one line + server) differs");
}

#[test]
fn what_no_route_has_is_counted_lost_and_the_feed_goes_on() {
    let dir = tmpdir("lost");
    let (itch, pcap) = gen(&dir);
    let (a, b) = (dir.join("a.pcap"), dir.join("b.pcap"));
    let both = |i: u64| i == 50 || i == 400;
    impair(&pcap, &a, 0, both);
    impair(&pcap, &b, 20_000, both);
    // No server: the lines cannot fill it.
    let (_, st) = fix(
        &dir,
        "nosrv",
        &[
            a.to_str().unwrap(),
            "--line-b",
            b.to_str().unwrap(),
            "--clean-period",
            "60m",
        ],
    );
    let f = feed0(&st);
    let lost = f["messages_lost"].as_u64().unwrap();
    assert!(lost > 0, "{f:#}");
    assert_eq!(f["gaps_given_up"], 2, "{f:#}");
    assert_eq!(f["state"], "degraded", "{f:#}");
    assert_eq!(st["messages"]["missing"], lost);
    assert!(st["books_possibly_stale"].as_u64().unwrap() > 0);
    // Every sequence number applied or lost.
    let applied = f["messages_applied"].as_u64().unwrap();
    assert_eq!(applied + lost, f["next_sequence"].as_u64().unwrap() - 1);

    // A server whose file stops short: the rest is given up after the
    // recovery timeout, counted, and the replay ends.
    let short = dir.join("short.itch");
    let full = std::fs::read(&itch).unwrap();
    let mut r = tickwire::binfile::BinFileReader::new(&full);
    for _ in 0..100 {
        r.next().unwrap().unwrap();
    }
    std::fs::write(&short, &full[..r.offset()]).unwrap();
    let (_, st) = fix(
        &dir,
        "short",
        &[
            a.to_str().unwrap(),
            "--line-b",
            b.to_str().unwrap(),
            "--rerequest-from",
            short.to_str().unwrap(),
            "--recovery-timeout",
            "50ms",
        ],
    );
    let f = feed0(&st);
    assert_eq!(f["messages_lost"].as_u64().unwrap(), lost, "{f:#}");
    assert!(f["requests"].as_u64().unwrap() >= 2, "{f:#}");
    assert!(st["recovery"]["server_silent"].as_u64().unwrap() >= 2);
}

#[test]
fn late_join_backfills_from_the_server_or_says_so() {
    let dir = tmpdir("late");
    let (itch, pcap) = gen(&dir);
    let (base, base_stats) = fix(&dir, "base", &[pcap.to_str().unwrap()]);
    // Joined after the first 200 data packets went by.
    let late = dir.join("late.pcap");
    impair(&pcap, &late, 0, |i| i < 200);
    let (got, st) = fix(
        &dir,
        "backfill",
        &[
            late.to_str().unwrap(),
            "--rerequest-from",
            itch.to_str().unwrap(),
            "--backfill",
            "--max-request",
            "500",
        ],
    );
    let f = feed0(&st);
    assert_eq!(f["messages_lost"], 0, "{f:#}");
    assert_eq!(f["late_join_skipped"], 0, "{f:#}");
    assert_eq!(
        f["messages_applied"], base_stats["messages"]["applied"],
        "{f:#}"
    );
    assert!(
        f["lines"]["recovery"]["won"].as_u64().unwrap() > 1000,
        "{f:#}"
    );
    assert!(
        got == base,
        "backfilled FIX differs from the loss-free replay"
    );

    // Without --backfill: it starts where it joined, and says so.
    let (_, st) = fix(
        &dir,
        "nobackfill",
        &[
            late.to_str().unwrap(),
            "--rerequest-from",
            itch.to_str().unwrap(),
        ],
    );
    let f = feed0(&st);
    assert!(f["late_join_skipped"].as_u64().unwrap() > 1000, "{f:#}");
    assert_eq!(f["messages_lost"], 0, "{f:#}");
    assert_eq!(f["requests"], 0, "{f:#}");
}
