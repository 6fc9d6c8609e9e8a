//! The control plane against the real kernel stack: the `tickwire` binary
//! runs with a DPDK `net_tap` port whose kernel side gets an address, and
//! the kernel's own tools talk to it: `ping` (ICMP echo), `arping` and the
//! neighbour table (ARP with our MAC), TCP connects to the FIX port (one,
//! then several at once, then again after they closed, which needs the
//! listening sockets re-armed), 1 MiB echoed through `--control-echo`
//! (the ControlPlane's recv/send API). Both ways frames reach the control plane are
//! covered: through the workers' ring when it shares the feed's RX port, and
//! polled directly on a port of its own next to a `net_pcap` feed.
//!
//! Needs root and /dev/net/tun; skips (saying why) without /dev/net/tun.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::tap::*;
use common::*;
use serde_json::Value;

const FIX_PORT: u16 = 9878;
const MAX_SESSIONS: usize = 6;

/// The MAC the host printed for its control plane.
fn control_mac(host: &Guarded) -> String {
    let line = host
        .lines()
        .iter()
        .find(|l| l.contains("control plane on port"))
        .cloned()
        .unwrap_or_default();
    let mac = line
        .split_whitespace()
        .skip_while(|w| *w != "MAC")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC in {line:?}"))
        .trim_end_matches(',')
        .to_string();
    assert_eq!(mac.len(), 17, "MAC {mac:?} in {line:?}");
    mac
}

fn connect(addr: SocketAddrV4) -> TcpStream {
    TcpStream::connect_timeout(&SocketAddr::V4(addr), Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("TCP connect to {addr}: {e}"))
}

/// Pings, arpings and connects; returns how many TCP connections were made.
fn exercise(iface: &str, net: u32, mac: &str) -> u64 {
    let ip = format!("10.77.{net}.2");
    let ping = run_tool(Command::new("ping").args(["-c", "3", "-W", "1", "-I", iface, &ip]));
    ping.assert_success("ping");
    assert!(ping.stdout.contains("3 received"), "{}", ping.stdout);

    let neigh = run_tool(Command::new("ip").args(["neigh", "show", &ip, "dev", iface]));
    assert!(
        neigh.stdout.to_lowercase().contains(mac),
        "neighbour entry {:?} lacks our MAC {mac}",
        neigh.stdout
    );
    let arping = run_tool(Command::new("arping").args(["-c", "2", "-w", "5", "-i", iface, &ip]));
    arping.assert_success("arping");
    assert!(
        arping.stdout.to_lowercase().contains(mac),
        "arping replies not from {mac}:\n{}",
        arping.stdout
    );

    let fix = SocketAddrV4::new(ip.parse::<Ipv4Addr>().unwrap(), FIX_PORT);
    let mut made = 0;
    drop(connect(fix));
    made += 1;
    echo_round_trip(connect(fix));
    made += 1;
    // Every session slot at once, twice: the second round only connects if
    // the first round's sockets were retired and listeners re-armed.
    std::thread::sleep(Duration::from_millis(200));
    for round in 0..2 {
        let conns: Vec<TcpStream> = (0..MAX_SESSIONS).map(|_| connect(fix)).collect();
        made += conns.len() as u64;
        for c in &conns {
            c.set_nodelay(true).unwrap();
            assert!(
                c.peer_addr().is_ok(),
                "round {round}: connection not established"
            );
        }
        // One more than --fix-max-sessions: no socket listens, so a reset.
        let over = TcpStream::connect_timeout(&SocketAddr::V4(fix), Duration::from_secs(3));
        assert_eq!(
            over.as_ref().map_err(|e| e.kind()).err(),
            Some(std::io::ErrorKind::ConnectionRefused),
            "round {round}: session {} of {MAX_SESSIONS}: {over:?}",
            MAX_SESSIONS + 1
        );
        drop(conns);
        // Closes travel (FIN, our FIN, last ACK) before the next round.
        std::thread::sleep(Duration::from_millis(500));
    }
    made
}

/// Sends 1 MiB through `--control-echo` while reading it back on another
/// thread: many segments both ways, windows filling up, the send buffer
/// limiting what the echo reads. Then closes and sees the server close too.
fn echo_round_trip(conn: TcpStream) {
    const LEN: usize = 1 << 20;
    let data: Vec<u8> = (0..LEN).map(|i| (i * 7 + i / 251) as u8).collect();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = conn.try_clone().unwrap();
    let sent = data.clone();
    let w = std::thread::spawn(move || {
        for chunk in sent.chunks(1000) {
            writer.write_all(chunk).unwrap();
        }
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut back = Vec::with_capacity(LEN);
    (&conn)
        .read_to_end(&mut back)
        .unwrap_or_else(|e| panic!("echo: read {} of {LEN} bytes, then {e}", back.len()));
    w.join().unwrap();
    assert_eq!(back.len(), LEN, "echoed length; then the server closed");
    assert!(back == data, "echoed bytes differ");
}

fn check_stats(v: &Value, connects: u64, ring: bool) {
    let c = &v["control"];
    assert!(!c.is_null(), "no control counters in {v:#}");
    assert!(u(c, "rx_icmp") >= 3, "{c:#}");
    assert!(u(c, "rx_arp") >= 1, "{c:#}");
    assert!(u(c, "rx_tcp") >= 3 * connects, "{c:#}");
    assert!(u(c, "tx_frames") >= 3 + 2 + 2 * connects, "{c:#}");
    assert_eq!(u(c, "tx_failures"), 0, "{c:#}");
    assert_eq!(u(c, "tcp_accepted"), connects, "{c:#}");
    assert_eq!(u(c, "tcp_closed"), connects, "{c:#}");
    assert_eq!(u(c, "tcp_open"), 0, "{c:#}");
    assert_eq!(u(c, "ring_full"), 0, "{c:#}");
    if ring {
        // net_tap needs as many RX as TX queues, so the port also has an RX
        // queue paired with the control plane's TX queue, which it polls
        // too; the kernel steers a flow to the queue our replies came from.
        // So the first frames of each flow (ARP, SYNs, the first echo) come
        // through the workers' ring, later ones mostly directly.
        assert!(
            u(c, "forwarded") >= 1,
            "nothing came through the ring: {c:#}"
        );
        // Every forwarded frame is one the engine counted filtered/malformed.

        assert!(
            u(v, "packets.filtered") + u(v, "packets.malformed") >= u(c, "forwarded"),
            "{v:#}"
        );
    } else {
        assert_eq!(u(c, "forwarded"), 0, "{c:#}");
    }
    assert_eq!(v["reconciled"]["rx_equals_classified"], true, "{v:#}");
}

fn eal_args(prefix: &EalPrefix, vdevs: &[String]) -> Vec<String> {
    let mut a: Vec<String> = [
        "--no-huge",
        "-m",
        "512",
        "--no-pci",
        "--no-telemetry",
        "-l",
        "0,1",
        "--log-level=warning",
        "--file-prefix",
        prefix.name(),
    ]
    .map(String::from)
    .to_vec();
    for v in vdevs {
        a.push("--vdev".into());
        a.push(v.clone());
    }
    a
}

fn run_case(tag: &str, which: u32, extra_vdevs: Vec<String>, app: &[&str], ring: bool) {
    let (net, iface) = subnet("twc", which);
    let dir = TempDir::new(tag);
    let prefix = EalPrefix::new(tag);
    let stats = dir.join("stats.json");
    let ip = format!("10.77.{net}.2");
    let mut vdevs = vec![format!("net_tap0,iface={iface}")];
    vdevs.extend(extra_vdevs);
    let mut cmd = Command::new(BIN);
    cmd.args(eal_args(&prefix, &vdevs))
        .arg("--")
        .args(app)
        .args(["--ip", &format!("{ip}/24")])
        // A default route via the kernel side: set up, unused by the tests.
        .args(["--gateway", &format!("10.77.{net}.1")])
        .args(["--fix-listen", &format!("{ip}:{FIX_PORT}")])
        .args(["--fix-max-sessions", &MAX_SESSIONS.to_string()])
        .arg("--control-echo")
        .args(["--stats-interval", "0", "--stats-json"])
        .arg(&stats);
    let mut host = Guarded::spawn(&mut cmd);
    host.wait_for_line("control plane on port", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let mac = control_mac(&host);
    configure_kernel_side(&iface, &format!("10.77.{net}.1/24"));
    let connects = exercise(&iface, net, &mac);
    host.interrupt();
    let (ok, text) = host.wait(Duration::from_secs(30));
    assert!(ok, "tickwire did not exit cleanly after SIGINT:\n{text}");
    assert!(
        text.contains("control   "),
        "no control line in the report:\n{text}"
    );
    check_stats(&read_json(&stats), connects, ring);
}

/// A `net_pcap0` feed replaying a small generated stream (FIX output, if
/// it goes there, to a capture beside it).
fn pcap_feed(dir: &TempDir) -> String {
    let g = generate(dir, "feed", &["--messages", "2000", "--symbols", "5"]);
    format!(
        "net_pcap0,rx_pcap={},tx_pcap={}",
        g.pcap.display(),
        dir.join("fix.pcap").display()
    )
}

/// Control plane on the feed's RX port: frames reach it through the ring.
#[test]
fn tap_control_plane_through_the_workers_ring() {
    if !tun_available("control-plane tap tests") {
        return;
    }
    run_case("ctlring", 0, Vec::new(), &["--rx-port", "net_tap0"], true);
}

/// Control plane on a port of its own, polled directly, next to a pcap feed.
#[test]
fn tap_control_plane_on_its_own_port() {
    if !tun_available("control-plane tap tests") {
        return;
    }
    let dir = TempDir::new("ctlport-feed");
    run_case(
        "ctlport",
        1,
        vec![pcap_feed(&dir)],
        &["--rx-port", "net_pcap0", "--control-port", "net_tap0"],
        false,
    );
}

/// Control plane on the FIX output port (`--tx-port`): it polls that port's
/// RX queue and sends on a TX queue past the workers' ones.
#[test]
fn tap_control_plane_on_the_tx_port() {
    if !tun_available("control-plane tap tests") {
        return;
    }
    let dir = TempDir::new("ctltx-feed");
    run_case(
        "ctltx",
        2,
        vec![pcap_feed(&dir)],
        &[
            "--rx-port",
            "net_pcap0",
            "--tx-port",
            "net_tap0",
            "--control-port",
            "net_tap0",
        ],
        false,
    );
}
