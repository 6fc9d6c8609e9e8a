//! Lines mode and recovery over a real kernel network. Two network
//! namespaces joined by a veth pair: in the feed namespace (10.99.1.2),
//! `tickwire send` publishes a generated day as MoldUDP64 on two multicast
//! lines with deterministic per-line drops, `tickwire rerequest-server`
//! answers re-requests, and tcpdump records IGMP and the host's FIX output
//! (UDP port 30001); in the host namespace the host reads the lines through
//! DPDK's af_packet PMD on its veth end and runs its control plane
//! (10.99.1.1/24: ARP, IGMP joins of both groups, re-requests from UDP port
//! 26400, answers back to the workers).
//!
//! 1. Some ranges are dropped on both lines (only the server has them),
//!    others on one line only. The captured FIX equals the replayer's on
//!    the loss-free BinaryFILE (SendingTime 52 and CheckSum 10 aside),
//!    nothing is lost, the server's answers won at least the doubly dropped
//!    messages, and IGMPv2 Membership Reports for both groups, from the
//!    control plane's address and MAC, were on the wire.
//! 2. The server stops after its first request: the remaining doubly
//!    dropped ranges are given up after --recovery-timeout, counted lost
//!    (equal to the engine's `messages.missing`), the session is degraded,
//!    and the host still applies everything after them and stops at the end
//!    of session.
//!
//! The control plane runs on a second af_packet port bound to a macvlan of
//! the host's veth end (the same wire, a MAC of its own), not on the feed's
//! port: af_packet has one TX queue per queue pair, the control plane needs
//! a TX queue of its own, and with two queue pairs (or two af_packet ports
//! on the same interface, which share one PACKET_FANOUT group) the kernel
//! hashes each flow to one of the sockets, so a line or the answers would
//! land where the workers never poll. Frames sent by the control plane are
//! seen by the workers' socket as outgoing frames and counted filtered.
//!
//! Nothing touches the root namespace; namespaces, links, processes and the
//! EAL runtime directory are removed even when the test fails (drop guards).
//! Needs root, iproute2 (`ip netns`) and tcpdump; without `ip netns` the test
//! fails with a clear message unless TICKWIRE_SKIP_NETNS=1.

mod common;

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::netns::{netns_test_enabled, Topology};
use common::*;
use serde_json::Value;
use tickwire::pcap::PcapReader;

const ENGINE: [&str; 4] = ["--max-orders", "100000", "--max-levels", "200000"];
const LINE_A: &str = "233.54.12.111:26400";
const LINE_B: &str = "233.54.12.112:26400";
const GROUPS: [Ipv4Addr; 2] = [
    Ipv4Addr::new(233, 54, 12, 111),
    Ipv4Addr::new(233, 54, 12, 112),
];
const FEED_ADDR: &str = "10.99.1.2";
const HOST_ADDR: Ipv4Addr = Ipv4Addr::new(10, 99, 1, 1);
const SERVER: &str = "10.99.1.2:26401";
const MESSAGES: u64 = 40_000;
/// Messages 100 to 120 a line (at most 1,400 bytes a packet, 1 ms batches
/// at 100,000 messages/s): a drop range takes whole packets.
const RATE: &str = "100000";
/// Dropped on line A only, line B only, and on both (inclusive ranges).
const DROP_A: [(u64, u64); 5] = [
    (1000, 1099),
    (5000, 5199),
    (12000, 12049),
    (20000, 20049),
    (30000, 30099),
];
const DROP_B: [(u64, u64); 5] = [
    (1050, 1149),
    (8000, 8099),
    (12000, 12049),
    (20000, 20049),
    (30000, 30099),
];

fn ranges(r: &[(u64, u64)]) -> String {
    r.iter()
        .map(|(a, b)| format!("{a}-{b}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// How many sequence numbers both lines drop: the packets carrying them are
/// on neither line, so at least these messages can only come from the server.
fn dropped_on_both() -> u64 {
    DROP_A
        .iter()
        .flat_map(|a| DROP_B.iter().map(move |b| (a, b)))
        .map(|((a0, a1), (b0, b1))| (a1.min(b1) + 1).saturating_sub(*a0.max(b0)))
        .sum()
}

/// Panics with `what` and the JSON when `ok` is false.
#[track_caller]
fn ensure(ok: bool, what: &str, json: &Value) {
    assert!(ok, "{what}\n{json:#}");
}

/// An IGMPv2 Membership Report (type 0x16) in a capture: source MAC and
/// address, destination address, group. IPv4 and IGMP checksums verified.
#[derive(Debug, PartialEq, Eq)]
struct Report {
    src_mac: [u8; 6],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    group: Ipv4Addr,
}

fn ones_complement_ok(data: &[u8]) -> bool {
    let mut acc: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc == 0xffff
}

fn igmp_reports(pcap: &[u8]) -> Vec<Report> {
    let mut out = Vec::new();
    for (i, rec) in PcapReader::new(pcap).expect("pcap header").enumerate() {
        let f = rec.expect("pcap record").data;
        if f.len() < 34 || f[12..14] != [0x08, 0x00] || f[14 + 9] != 2 {
            continue;
        }
        let ip = &f[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        assert!(
            ihl >= 20 && total >= ihl + 8 && total <= ip.len(),
            "frame #{i}: IGMP lengths"
        );
        assert!(ones_complement_ok(&ip[..ihl]), "frame #{i}: IPv4 checksum");
        let igmp = &ip[ihl..total];
        assert!(ones_complement_ok(igmp), "frame #{i}: IGMP checksum");
        if igmp[0] == 0x16 {
            let addr = |b: &[u8]| Ipv4Addr::new(b[0], b[1], b[2], b[3]);
            out.push(Report {
                src_mac: f[6..12].try_into().unwrap(),
                src: addr(&ip[12..16]),
                dst: addr(&ip[16..20]),
                group: addr(&igmp[4..8]),
            });
        }
    }
    out
}

/// What one run left: the host's stats, the server's counters, the sender's
/// summary and the capture.
struct Run {
    host: Value,
    server: Value,
    sender: Value,
    capture: Vec<u8>,
}

/// What every run shares.
#[derive(Clone, Copy)]
struct Net<'a> {
    topo: &'a Topology,
    /// The control plane's interface (a macvlan of the host's veth end).
    ctl_if: &'a str,
    dir: &'a TempDir,
    itch: &'a Path,
    session: &'a str,
}

/// One run: tcpdump and the re-request server in the feed namespace, the
/// host in the host namespace, then the feed sent with the drops; the host
/// must stop by itself at the end of session.
fn run(net: &Net<'_>, tag: &str, server_args: &[&str], host_args: &[&str]) -> Run {
    let Net {
        topo,
        ctl_if,
        dir,
        itch,
        session,
    } = *net;
    let cap = dir.join(format!("{tag}.pcap"));
    let stats = dir.join(format!("{tag}.host.json"));
    let server_stats = dir.join(format!("{tag}.server.json"));
    let prefix = EalPrefix::new(&format!("lveth-{tag}"));
    let in_feed_ns = |program: &str| {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &topo.feed_ns, program]);
        c
    };

    // tcpdump first: the IGMP reports go out as soon as the control plane runs.
    let mut tcpdump = Guarded::spawn(
        in_feed_ns("tcpdump")
            .args(["-i", &topo.feed_if, "-U", "-n", "-Z", "root", "-w"])
            .arg(&cap)
            .args(["igmp", "or", "(udp", "and", "port", "30001)"]),
    );
    tcpdump
        .wait_for_line("listening on", Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("tcpdump: {e}"));

    let mut server = Guarded::spawn(
        in_feed_ns(BIN)
            .arg("rerequest-server")
            .arg(itch)
            .args(["--listen", SERVER, "--session", session, "--stats-json"])
            .arg(&server_stats)
            .args(server_args),
    );

    let mut eal = eal_no_huge(&prefix);
    // The control plane takes the main lcore, the worker another one.
    let l = eal
        .iter()
        .position(|a| a == "-l")
        .expect("-l in the EAL args");
    eal[l + 1] = "0,1".into();
    let mut host = Guarded::spawn(
        Command::new("ip")
            .args(["netns", "exec", &topo.host_ns, BIN])
            .args(&eal)
            .arg("--vdev")
            .arg(format!(
                "net_af_packet0,iface={},qpairs=1,blocksz=4096,framesz=2048,framecnt=4096",
                topo.host_if
            ))
            .arg("--vdev")
            .arg(format!("net_af_packet1,iface={ctl_if},qpairs=1"))
            .arg("--")
            .args(["--rx-port", "net_af_packet0"])
            .args(["--control-port", "net_af_packet1"])
            .args(["--ip", &format!("{HOST_ADDR}/24")])
            .args(["--line-a", LINE_A, "--line-b", LINE_B])
            .args(["--rerequest", SERVER, "--rerequest-source-port", "26400"])
            // The end of session stops it; idle-exit only if that never
            // comes (then `ended` is false and the test fails, not hangs).
            .args(["--exit-on-end-of-session", "--idle-exit", "5s"])
            .args(["--stats-interval", "0s", "--stats-json"])
            .arg(&stats)
            .args(ENGINE)
            .args(host_args),
    );
    host.wait_for_line("multicast groups joined", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("host did not start: {e}"));
    std::thread::sleep(Duration::from_millis(200));

    let sent = run_with_timeout(
        in_feed_ns(BIN)
            .arg("send")
            .arg(itch)
            .args(["--session", session, "--line-a", LINE_A, "--line-b", LINE_B])
            .args(["--bind", FEED_ADDR, "--rate", RATE])
            .args(["--drop-a", &ranges(&DROP_A), "--drop-b", &ranges(&DROP_B)])
            .args(["--end-of-session", "--linger", "1s"])
            .args(["--heartbeat-interval", "100ms"]),
        Duration::from_secs(30),
    );
    sent.assert_success("tickwire send");
    let sender: Value = serde_json::from_str(&sent.stdout)
        .unwrap_or_else(|e| panic!("sender summary: {e}\n{}", sent.stdout));

    // It has had the end of session for a second (the linger) by now.
    let (ok, host_err) = host.wait(Duration::from_secs(10));
    assert!(
        ok,
        "host failed or did not stop at the end of session:\n{host_err}"
    );
    eprintln!("{tag}: host:\n{host_err}");
    std::thread::sleep(Duration::from_millis(300));
    tcpdump.interrupt();
    let (_, tcpdump_err) = tcpdump.wait(Duration::from_secs(20));
    assert!(
        tcpdump_err
            .lines()
            .any(|l| l.trim() == "0 packets dropped by kernel"),
        "tcpdump dropped packets or did not report:\n{tcpdump_err}"
    );
    if !server.has_exited() {
        server.interrupt();
    }
    let (ok, server_err) = server.wait(Duration::from_secs(10));
    assert!(ok, "re-request server failed:\n{server_err}");
    Run {
        host: read_json(&stats),
        server: read_json(&server_stats),
        sender,
        capture: std::fs::read(&cap).expect("capture file"),
    }
}

#[test]
fn veth_lines_recovered_by_the_rerequest_server() {
    if !netns_test_enabled("veth lines test") {
        return;
    }
    let t0 = Instant::now();
    let dir = TempDir::new("lines-veth");
    // ~2 s of event time, 6 symbols, 20 boundaries: 120 snapshots.
    let g = generate(
        &dir,
        "day",
        &[
            "--seed",
            "5",
            "--symbols",
            "6",
            "--messages",
            &MESSAGES.to_string(),
            "--mean-gap-ns",
            "50000",
            "--flush-ns",
            "1000000",
        ],
    );
    let m = &g.manifest;
    assert_eq!(u(m, "total_messages"), MESSAGES);
    let session = m["pcap"]["session"].as_str().expect("session").to_string();
    // What `tickwire send` publishes is the BinaryFILE: the loss-free
    // reference is the replayer on it.
    let rep = replay(&dir, "base", &g.itch, &ENGINE);
    let want = fix_messages("replayer", &rep.fix);
    assert!(want.len() > 100, "only {} FIX messages", want.len());
    let both = dropped_on_both();

    let topo = Topology::create(&format!("{FEED_ADDR}/24"));
    let (ctl_if, ctl_mac) = topo.add_macvlan();

    // 1. Everything recovered: from the other line, or from the server.
    let net = Net {
        topo: &topo,
        ctl_if: &ctl_if,
        dir: &dir,
        itch: &g.itch,
        session: &session,
    };
    let r = run(&net, "recovered", &[], &[]);
    let h = &r.host;
    let f = &h["feed"][0]["sessions"][0];
    ensure(f["messages_lost"] == 0, "nothing lost", h);
    ensure(f["state"] == "synchronized", "synchronized", h);
    ensure(f["ended"] == true, "the session ended", h);
    ensure(
        u(f, "messages_applied") == MESSAGES,
        "every message applied",
        h,
    );
    ensure(u(f, "next_sequence") == MESSAGES + 1, "next sequence", h);
    ensure(u(f, "requests") > 0, "re-requests sent", h);
    ensure(u(f, "gaps_given_up") == 0, "no gap given up", h);
    ensure(
        u(f, "lines.a.won") > 0 && u(f, "lines.b.won") > 0,
        "both lines won",
        h,
    );
    ensure(
        u(f, "lines.recovery.won") >= both,
        &format!("the server won at least the {both} messages dropped on both lines"),
        h,
    );
    ensure(
        u(f, "lines.a.won") + u(f, "lines.b.won") + u(f, "lines.recovery.won") == MESSAGES,
        "won once each",
        h,
    );
    ensure(u(h, "messages.applied") == MESSAGES, "engine applied", h);
    ensure(u(h, "messages.missing") == 0, "engine missing", h);
    ensure(u(h, "books_possibly_stale") == 0, "no stale book", h);
    ensure(
        h["reconciled"]["rx_equals_classified"] == true,
        "reconciled",
        h,
    );
    ensure(u(h, "control.igmp_joins") == 2, "two groups joined", h);
    ensure(u(h, "control.tx_igmp_reports") >= 2, "reports sent", h);
    ensure(
        u(h, "control.recovery.sent") == u(f, "requests"),
        "every request sent",
        h,
    );
    let srv = &r.server;
    ensure(
        u(srv, "requests") == u(h, "control.recovery.sent")
            && u(srv, "answered") == u(srv, "requests"),
        "the server got and answered every request",
        &serde_json::json!({"server": srv, "host": h}),
    );
    ensure(
        u(&r.sender, "lines.a.messages_dropped") > both
            && u(&r.sender, "lines.b.messages_dropped") > both,
        "the sender dropped the ranges",
        &r.sender,
    );
    ensure(u(h, "fix.dropped") == 0, "no FIX dropped", h);
    ensure(u(h, "fix.sent") == u(h, "snapshots"), "FIX sent", h);

    let (fix, datagrams) = fix_from_capture(&r.capture, 30001, 1500 - 28);
    let got = fix_messages("host over veth (lines)", &fix);
    check_snapshot_layout("host over veth (lines)", &got, 3);
    assert_fix_equal(
        "host over veth (lines, recovered) vs loss-free replay",
        &got,
        &want,
        &[52, 10],
    );
    assert_eq!(
        datagrams as u64,
        u(h, "fix.datagrams_sent"),
        "every datagram captured"
    );

    let reports = igmp_reports(&r.capture);
    for g in GROUPS {
        let want = Report {
            src_mac: ctl_mac,
            src: HOST_ADDR,
            dst: g,
            group: g,
        };
        assert!(
            reports.contains(&want),
            "no IGMPv2 report for {g} from the control plane ({HOST_ADDR}, MAC {ctl_mac:02x?}) on \
             the wire; reports seen: {reports:?}"
        );
    }
    eprintln!(
        "lines over veth: recovered: {} requests, won a/b/recovery {}/{}/{}, {} FIX messages, {} IGMP reports, {:.1} s",
        u(f, "requests"),
        u(f, "lines.a.won"),
        u(f, "lines.b.won"),
        u(f, "lines.recovery.won"),
        got.len(),
        reports.len(),
        t0.elapsed().as_secs_f64()
    );

    // 2. The server stops after its first request: what it did not send is
    // given up, and the host carries on to the end of session.
    let r = run(
        &net,
        "degraded",
        &["--stop-after-requests", "1"],
        &["--recovery-timeout", "200ms", "--clean-period", "30m"],
    );
    let h = &r.host;
    let f = &h["feed"][0]["sessions"][0];
    let srv = &r.server;
    ensure(
        u(srv, "requests") == 1 && u(srv, "answered") == 1,
        "the server answered one request and stopped",
        srv,
    );
    let lost = u(f, "messages_lost");
    ensure(lost > 0, "messages lost", h);
    ensure(
        u(h, "messages.missing") == lost,
        "lost == engine missing",
        h,
    );
    ensure(f["state"] == "degraded", "degraded", h);
    ensure(u(f, "gaps_given_up") > 0, "gaps given up", h);
    ensure(u(h, "books_possibly_stale") > 0, "books possibly stale", h);
    ensure(f["ended"] == true, "the session ended", h);
    ensure(u(f, "next_sequence") == MESSAGES + 1, "next sequence", h);
    ensure(
        u(f, "messages_applied") + lost == MESSAGES,
        "applied + lost == all",
        h,
    );
    ensure(u(f, "lines.recovery.won") > 0, "the first answer won", h);
    ensure(
        lost + u(f, "lines.recovery.won") >= both,
        "what both lines dropped came from the server or was lost",
        h,
    );
    ensure(
        lost <= u(f, "lines.a.gap_messages").min(u(f, "lines.b.gap_messages")),
        "only what both lines missed is lost",
        h,
    );
    ensure(
        h["workers"][0]["session_ended"] == true && h["workers"][0]["idle_exit"] == false,
        "stopped at the end of session, not idle",
        h,
    );
    // The day's closing system events (its last messages) were applied.
    ensure(
        h["messages"]["by_type"]["S"] == rep.stats["messages"]["by_type"]["S"],
        "every system event applied",
        &serde_json::json!({"host": h, "replay": rep.stats}),
    );
    ensure(u(h, "fix.sent") > 0, "FIX still sent", h);
    eprintln!(
        "lines over veth: degraded: {lost} lost in {} gaps given up, {} requests, {:.1} s",
        u(f, "gaps_given_up"),
        u(f, "requests"),
        t0.elapsed().as_secs_f64()
    );
    drop(topo);
    assert!(
        !Path::new(&format!(
            "/var/run/netns/tickwire-test-{}-host",
            std::process::id()
        ))
        .exists(),
        "host namespace removed"
    );
}
