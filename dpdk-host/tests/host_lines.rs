//! Lines mode on the real host: line A on one net_pcap port, line B on
//! another, each missing packets the other has. The FIX the host sends must
//! equal the replayer's on the loss-free stream (SendingTime 52 and CheckSum
//! 10 aside), with nothing counted lost; and when both lines miss the same
//! packets (no server), the loss is counted, the session degraded and the
//! host keeps going to the end.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

const ENGINE: [&str; 4] = ["--max-orders", "100000", "--max-levels", "200000"];

/// `src` without the MoldUDP64 data packets (by index) that `drop`
/// selects.
fn impair(src: &Path, dst: &Path, drop: impl Fn(u64) -> bool) -> u64 {
    let (bytes, dropped) =
        tickwire::pcap::copy_dropping(&std::fs::read(src).unwrap(), &[26400], 0, drop).unwrap();
    std::fs::write(dst, bytes).unwrap();
    dropped
}

/// The host with line A on net_pcap0 (RX, FIX out) and line B on net_pcap1.
fn run_lines(dir: &TempDir, tag: &str, a: &Path, b: &Path, app: &[&str]) -> (Value, Vec<u8>) {
    let prefix = EalPrefix::new(tag);
    let stats = dir.join(format!("{tag}.json"));
    let tx = dir.join(format!("{tag}.fix.pcap"));
    let mut cmd = Command::new(BIN);
    cmd.args(eal_no_huge(&prefix))
        .arg("--vdev")
        .arg(format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            a.display(),
            tx.display()
        ))
        .arg("--vdev")
        .arg(format!("net_pcap1,rx_pcap={}", b.display()))
        .arg("--")
        .args(["--rx-port", "net_pcap0", "--line-b", "net_pcap1"])
        .args(["--idle-exit", "1s", "--stats-interval", "0s"])
        .arg("--stats-json")
        .arg(&stats)
        .args(ENGINE)
        .args(app);
    let run = run_with_timeout(&mut cmd, Duration::from_secs(180));
    run.assert_success("tickwire host (lines)");
    let bytes = std::fs::read(&tx).unwrap();
    let (fix, _) = fix_from_capture(&bytes, 30001, 1500 - 28);
    (read_json(&stats), fix)
}

#[test]
fn two_ports_with_complementary_losses_equal_the_loss_free_replay() {
    let dir = TempDir::new("lines");
    let g = generate(
        &dir,
        "day",
        &[
            "--seed",
            "21",
            "--symbols",
            "30",
            "--messages",
            "120000",
            "--mean-gap-ns",
            "20000",
            "--flush-ns",
            "1000000",
        ],
    );
    let rep = replay(&dir, "base", &g.pcap, &ENGINE);
    let want = fix_messages("replayer", &rep.fix);
    assert!(want.len() > 500, "only {} FIX messages", want.len());

    let (a, b) = (dir.join("a.pcap"), dir.join("b.pcap"));
    // Every packet is on at least one line.
    let da = impair(&g.pcap, &a, |i| {
        i % 9 == 2 || ((500..520).contains(&i) && i % 9 != 6)
    });
    let db = impair(&g.pcap, &b, |i| {
        i % 9 == 6 || ((900..930).contains(&i) && i % 9 != 2)
    });
    assert!(da > 100 && db > 100);
    // net_pcap reads both files as fast as the worker polls, so one line
    // can run far ahead of the other: a generous window and buffer.
    let wide = [
        "--arbitration-window",
        "5s",
        "--arbitration-packets",
        "100000",
        "--reorder-buffer",
        "8192",
        "--mbufs",
        "16383",
    ];
    let (h, fix) = run_lines(&dir, "ab", &a, &b, &wide);
    let f = &h["feed"][0]["sessions"][0];
    assert_eq!(f["messages_lost"], 0, "{f:#}");
    assert_eq!(f["state"], "synchronized", "{f:#}");
    assert_eq!(f["ended"], true, "{f:#}");
    assert!(u(f, "lines.b.won") > 0, "{f:#}");
    assert!(u(f, "lines.a.won") > 0, "{f:#}");
    assert_eq!(
        u(f, "messages_applied"),
        u(&rep.stats, "messages.applied"),
        "{f:#}"
    );
    assert_eq!(h["reconciled"]["rx_equals_classified"], true, "{h:#}");
    let got = fix_messages("host", &fix);
    check_snapshot_layout("host", &got, 3);
    assert_fix_equal("host (lines) vs loss-free replay", &got, &want, &[52, 10]);

    // The same packets missing on both lines, no server: counted lost,
    // degraded, books stale, and the host runs to the end.
    let both = |i: u64| i == 300 || i == 1200;
    let (a2, b2) = (dir.join("a2.pcap"), dir.join("b2.pcap"));
    impair(&g.pcap, &a2, |i| both(i) || i % 9 == 2);
    impair(&g.pcap, &b2, |i| both(i) || i % 9 == 6);
    let mut args = wide.to_vec();
    args.extend(["--clean-period", "30m"]);
    // A tight window this time: the gaps are given up after it.
    args[1] = "20ms";
    let (h2, _) = run_lines(&dir, "lost", &a2, &b2, &args);
    let f2 = &h2["feed"][0]["sessions"][0];
    let lost = u(f2, "messages_lost");
    assert!(lost > 0, "{f2:#}");
    assert_eq!(f2["state"], "degraded", "{f2:#}");
    assert_eq!(u(&h2, "messages.missing"), lost, "{h2:#}");
    assert!(u(&h2, "books_possibly_stale") > 0, "{h2:#}");
    assert_eq!(
        u(f2, "messages_applied") + lost,
        u(f2, "next_sequence") - 1,
        "{f2:#}"
    );
}
