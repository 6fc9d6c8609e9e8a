//! The host over a real kernel network: two network namespaces joined by a
//! veth pair. The host runs in one, on its end through DPDK's af_packet PMD;
//! in the other, a normal UDP socket sends the MoldUDP64 payloads of a
//! generated pcap to the multicast group 233.54.12.111:26400 and tcpdump
//! records what comes back on UDP port 30001. The captured FIX must equal the
//! replayer's output on the same generated stream (SendingTime 52 and
//! CheckSum 10 aside), every message's BodyLength and CheckSum recomputed here.
//!
//! Nothing touches the root namespace; namespaces, links and the EAL runtime
//! directory are removed even when the test fails (drop guards). Needs root,
//! iproute2 (`ip netns`) and tcpdump; without `ip netns` the test fails with a
//! clear message unless TICKWIRE_SKIP_NETNS=1.

mod common;

use std::fs::File;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::netns::{netns_test_enabled, Topology};
use common::*;
use serde_json::Value;

const ENGINE: [&str; 4] = ["--max-orders", "100000", "--max-levels", "200000"];
const GROUP: Ipv4Addr = Ipv4Addr::new(233, 54, 12, 111);
const FEED_PORT: u16 = 26400;
const FEED_ADDR: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);

/// Sends `payloads` as UDP datagrams to GROUP:FEED_PORT from a socket in the
/// namespace `ns`, on a thread of its own that enters the namespace (setns
/// changes only the calling thread) and, when there is more than one CPU,
/// runs on the last one (the host polls CPU 0). Every `burst` datagrams it
/// sleeps `pause`, so that neither the veth backlog nor the af_packet ring
/// overflows.
fn send_in_netns(ns: &str, payloads: Vec<Vec<u8>>, burst: usize, pause: Duration) -> usize {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || -> std::io::Result<usize> {
        let f = File::open(&path)?;
        // SAFETY: setns(2) on an open namespace file descriptor with the
        // matching type; it changes the network namespace of this thread only,
        // which ends when this closure returns.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cpus > 1 {
            // SAFETY: cpu_set_t is plain data for which all-zero is the empty
            // set; CPU_SET writes inside it (cpus - 1 < CPU_SETSIZE), and
            // sched_setaffinity(0, ...) reads it for the calling thread.
            unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpus - 1, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            }
        }
        let sock = UdpSocket::bind((FEED_ADDR, 0))?;
        sock.set_multicast_ttl_v4(1)?;
        sock.set_multicast_loop_v4(false)?;
        for (i, p) in payloads.iter().enumerate() {
            sock.send_to(p, (GROUP, FEED_PORT))?;
            if (i + 1) % burst == 0 {
                std::thread::sleep(pause);
            }
        }
        Ok(payloads.len())
    })
    .join()
    .expect("sender thread")
    .unwrap_or_else(|e| panic!("sending in namespace {ns}: {e}"))
}

/// One run: tcpdump in the feed namespace, the host in the host namespace,
/// the feed sent, the host gone idle, tcpdump stopped. Returns the host's
/// stats and the capture.
fn attempt(
    topo: &Topology,
    dir: &TempDir,
    n: u32,
    payloads: &[Vec<u8>],
    burst: usize,
    pause: Duration,
) -> (Value, Vec<u8>) {
    let cap = dir.join(format!("capture-{n}.pcap"));
    let stats = dir.join(format!("host-{n}.json"));
    let prefix = EalPrefix::new(&format!("veth{n}"));

    let mut tcpdump = Guarded::spawn(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &topo.feed_ns,
                "tcpdump",
                "-i",
                &topo.feed_if,
            ])
            .args(["-U", "-n", "-Z", "root", "-w"])
            .arg(&cap)
            .args(["udp", "port", "30001"]),
    );
    tcpdump
        .wait_for_line("listening on", Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("tcpdump: {e}"));

    let mut host = Guarded::spawn(
        Command::new("ip")
            .args(["netns", "exec", &topo.host_ns, BIN])
            .args(eal_no_huge(&prefix))
            .arg("--vdev")
            // One queue pair; a deeper ring than the default 512 frames.
            .arg(format!(
                "net_af_packet0,iface={},qpairs=1,blocksz=4096,framesz=2048,framecnt=4096",
                topo.host_if
            ))
            .arg("--")
            .args(["--rx-port", "net_af_packet0", "--idle-exit", "2s"])
            .args(["--stats-interval", "0s", "--stats-json"])
            .arg(&stats)
            .args(ENGINE),
    );
    host.wait_for_line("worker(s) on lcore(s)", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("host did not start: {e}"));

    let sent = send_in_netns(&topo.feed_ns, payloads.to_vec(), burst, pause);
    assert_eq!(sent, payloads.len());

    let (ok, host_err) = host.wait(Duration::from_secs(120));
    assert!(ok, "host failed:\n{host_err}");
    std::thread::sleep(Duration::from_millis(300));
    tcpdump.interrupt();
    let (_, tcpdump_err) = tcpdump.wait(Duration::from_secs(20));
    assert!(
        tcpdump_err
            .lines()
            .any(|l| l.trim() == "0 packets dropped by kernel"),
        "tcpdump dropped packets or did not report:\n{tcpdump_err}"
    );
    (
        read_json(&stats),
        std::fs::read(&cap).expect("capture file"),
    )
}

#[test]
fn veth_multicast_feed_to_fix_capture() {
    if !netns_test_enabled("veth test") {
        return;
    }

    let t0 = Instant::now();
    let dir = TempDir::new("veth");
    // ~2 s of event time: 20 boundaries x 20 symbols; ~2.5k datagrams.
    let g = generate(
        &dir,
        "veth",
        &[
            "--seed",
            "9",
            "--symbols",
            "20",
            "--messages",
            "100000",
            "--mean-gap-ns",
            "20000",
            "--flush-ns",
            "1000000",
        ],
    );
    let m = &g.manifest;
    let frames = u(m, "pcap.packets.frames");
    assert_eq!(u(m, "pcap.packets.data") + 1, frames, "a clean stream");
    let (dgrams, others) = udp_datagrams(&std::fs::read(&g.pcap).unwrap());
    assert!(others.is_empty());
    let payloads: Vec<Vec<u8>> = dgrams.into_iter().map(|d| d.payload).collect();
    assert_eq!(payloads.len() as u64, frames);

    let rep = replay(&dir, "veth", &g.pcap, &ENGINE);
    let want = fix_messages("replayer", &rep.fix);
    assert!(want.len() > 200, "only {} FIX messages", want.len());

    let topo = Topology::create(&format!("{FEED_ADDR}/24"));
    // The kernel path may drop a frame under load (veth backlog, af_packet
    // ring); that is not the host's doing, so a run that saw fewer frames
    // than were sent is retried, slower.
    let mut last = String::new();
    for n in 0..3u32 {
        let (burst, pause) = (32 >> n, Duration::from_micros(500 << n));
        let (h, capture) = attempt(&topo, &dir, n, &payloads, burst, pause);
        let received = u(&h, "packets.total") - u(&h, "packets.filtered");
        if received != frames || u(&h, "packets.gap_opening") > 0 {
            last = format!(
                "attempt {n}: {received} of {frames} feed frames reached the host, gaps {}",
                u(&h, "packets.gap_opening")
            );
            eprintln!("{last}; retrying");
            continue;
        }
        assert_eq!(u(&h, "packets.applied"), frames);
        assert_eq!(u(&h, "packets.malformed"), 0);
        assert_eq!(u(&h, "messages.applied"), u(m, "total_messages"));
        assert_eq!(u(&h, "messages.duplicate") + u(&h, "messages.missing"), 0);
        assert_eq!(u(&h, "packets.total"), u(&h, "rx_packets"));
        assert_eq!(u(&h, "fix.dropped"), 0);
        assert_eq!(u(&h, "fix.sent"), u(&h, "snapshots"));

        let (fix, datagrams) = fix_from_capture(&capture, 30001, 1500 - 28);
        let got = fix_messages("host over veth", &fix);
        check_snapshot_layout("host over veth", &got, 3);
        assert_fix_equal("host over veth vs replayer", &got, &want, &[52, 10]);
        assert_eq!(
            datagrams as u64,
            u(&h, "fix.datagrams_sent"),
            "every datagram captured"
        );
        assert_eq!(got.len() as u64, u(&h, "fix.sent"));
        eprintln!(
            "veth: attempt {n}: {frames} datagrams in, {} FIX messages in {datagrams} datagrams out, \
             {} filtered, latency p50 {} ns p99 {} ns, {:.1} s",
            got.len(),
            u(&h, "packets.filtered"),
            u(&h, "latency_burst_to_tx.p50_ns"),
            u(&h, "latency_burst_to_tx.p99_ns"),
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
        return;
    }
    panic!("the kernel path lost frames on every attempt; last: {last}");
}
