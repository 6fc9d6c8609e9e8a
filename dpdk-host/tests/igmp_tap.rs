//! IGMP membership and MoldUDP64 re-requests of the control plane against
//! the real kernel stack: the `tickwire` binary runs with a DPDK `net_tap`
//! port (the control plane on the feed's RX port, fed by the workers' ring).
//!
//! - `--join 239.1.2.3 --join 239.1.2.4`: `tcpdump -i any` (started before
//!   the host, since the reports go out as soon as the control plane runs)
//!   sees an IGMPv2 Membership Report per group at start; a General Query
//!   crafted here on a raw socket (IGMP type 0x11 to 224.0.0.1, TTL 1,
//!   Router Alert option) is answered by a report per group within its Max
//!   Response Time, a Group-Specific Query by a report for that group only;
//!   SIGINT makes it send a Leave Group per group to 224.0.0.2.
//! - `--control-send-request`: the request pushed through the workers'
//!   re-request channel arrives at a kernel UDP socket as exactly the
//!   20-byte MoldUDP64 request, from the --rerequest-source-port, once ARP
//!   resolved; one to an on-link address nobody answers ARP for is dropped
//!   as unresolved after 5 s, one off-subnet without a gateway as
//!   unroutable.
//!
//! Needs root, /dev/net/tun and tcpdump; skips (saying why) without
//! /dev/net/tun.

mod common;

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::tap::*;
use common::*;
use serde_json::Value;
use tickwire::pcap::PcapReader;

fn eal_args(prefix: &EalPrefix, iface: &str) -> Vec<String> {
    [
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
        "--vdev",
        &format!("net_tap0,iface={iface}"),
    ]
    .map(String::from)
    .to_vec()
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn checksum(data: &[u8]) -> u16 {
    let mut acc: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Sends an IGMPv2 Membership Query out of `iface` from `src`: General
/// (group 0.0.0.0, to 224.0.0.1) or Group-Specific (to the group), TTL 1,
/// with the Router Alert option, Max Response Time in tenths of a second.
fn send_query(iface: &str, src: Ipv4Addr, group: Ipv4Addr, max_resp_tenths: u8) {
    let dst = if group.is_unspecified() {
        Ipv4Addr::new(224, 0, 0, 1)
    } else {
        group
    };
    let mut igmp = [0u8; 8];
    igmp[0] = 0x11;
    igmp[1] = max_resp_tenths;
    igmp[4..8].copy_from_slice(&group.octets());
    let c = checksum(&igmp);
    igmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut ip = [0u8; 32];
    ip[0] = 0x46; // IPv4, 6 words: one of options
    ip[1] = 0xc0; // internetwork control
    ip[2..4].copy_from_slice(&32u16.to_be_bytes());
    ip[6] = 0x40; // DF
    ip[8] = 1; // TTL
    ip[9] = 2; // IGMP
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    ip[20..24].copy_from_slice(&[0x94, 0x04, 0, 0]); // Router Alert
    let c = checksum(&ip[..24]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip[24..].copy_from_slice(&igmp);

    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
    // SAFETY: `iface` bytes are valid for their length for the call.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            iface.as_ptr().cast(),
            iface.len() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "SO_BINDTODEVICE: {}", std::io::Error::last_os_error());
    let to = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(dst.octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `ip` and `to` are valid for the lengths given; fd is ours.
    let n = unsafe {
        libc::sendto(
            fd,
            ip.as_ptr().cast(),
            ip.len(),
            0,
            (&to as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    let err = std::io::Error::last_os_error();
    // SAFETY: closing the descriptor we opened, once.
    unsafe { libc::close(fd) };
    assert_eq!(n, ip.len() as isize, "sendto: {err}");
}

/// One IGMP message from the capture.
#[derive(Debug, Clone)]
struct Igmp {
    ts_us: u64,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    kind: u8,
    group: Ipv4Addr,
}

/// The IGMP messages in a `tcpdump -i any` capture (Linux cooked v1 or v2),
/// with the IPv4 and IGMP checksums checked.
fn igmp_messages(pcap: &[u8]) -> Vec<Igmp> {
    let reader = PcapReader::new(pcap).expect("pcap header");
    let linktype = reader.header().linktype;
    let res = reader.header().resolution;
    let (skip, proto_at) = match linktype {
        113 => (16, 14),
        276 => (20, 0),
        1 => (14, 12),
        other => panic!("unexpected link type {other}"),
    };
    let mut out = Vec::new();
    for rec in reader {
        let Ok(rec) = rec else { break };
        let f = rec.data;
        if f.len() < skip + 28 || f[proto_at..proto_at + 2] != [0x08, 0x00] {
            continue;
        }
        let ip = &f[skip..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        if ip[9] != 2 || ip.len() < ihl + 8 {
            continue;
        }
        assert_eq!(checksum(&ip[..ihl]), 0, "IPv4 header checksum: {ip:02x?}");
        let igmp = &ip[ihl..ihl + 8];
        assert_eq!(checksum(igmp), 0, "IGMP checksum: {ip:02x?}");
        let addr = |b: &[u8]| Ipv4Addr::new(b[0], b[1], b[2], b[3]);
        out.push(Igmp {
            ts_us: rec.ts_nanos(res) / 1000,
            src: addr(&ip[12..16]),
            dst: addr(&ip[16..20]),
            ttl: ip[8],
            kind: igmp[0],
            group: addr(&igmp[4..8]),
        });
    }
    out
}

fn stop(host: &mut Guarded) -> String {
    host.interrupt();
    let (ok, text) = host.wait(Duration::from_secs(30));
    assert!(ok, "tickwire did not exit cleanly after SIGINT:\n{text}");
    text
}

#[test]
fn tap_igmp_join_queries_and_leave() {
    if !tun_available("IGMP tap tests") {
        return;
    }
    let (net, iface) = subnet("twi", 0);
    let dir = TempDir::new("igmp");
    let prefix = EalPrefix::new("igmp");
    let stats = dir.join("stats.json");
    let capture = dir.join("igmp.pcap");
    let ours = Ipv4Addr::new(10, 78, net as u8, 2);
    let kernel = Ipv4Addr::new(10, 78, net as u8, 1);
    let (g3, g4) = (Ipv4Addr::new(239, 1, 2, 3), Ipv4Addr::new(239, 1, 2, 4));

    let mut dump = Guarded::spawn(
        Command::new("tcpdump")
            .args(["-i", "any", "--immediate-mode", "-U", "-n", "-w"])
            .arg(&capture)
            .arg(format!("igmp and src net 10.78.{net}.0/24")),
    );
    dump.wait_for_line("listening on", Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("tcpdump: {e}"));

    let mut host = Guarded::spawn(
        Command::new(BIN)
            .args(eal_args(&prefix, &iface))
            .arg("--")
            .args(["--rx-port", "net_tap0", "--ip", &format!("{ours}/24")])
            .args(["--join", "239.1.2.3", "--join", "239.1.2.4"])
            .args(["--stats-interval", "0", "--stats-json"])
            .arg(&stats),
    );
    host.wait_for_line("multicast groups joined", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    configure_kernel_side(&iface, &format!("10.78.{net}.1/24"));
    std::thread::sleep(Duration::from_millis(500));

    // General query, Max Response Time 1 s: smoltcp spreads the two reports
    // over it (at 1/3 and 2/3).
    let t_general = now_us();
    send_query(&iface, kernel, Ipv4Addr::UNSPECIFIED, 10);
    std::thread::sleep(Duration::from_millis(1500));
    // Group-specific query for 239.1.2.4, 0.8 s: one report after 0.2 s.
    let t_specific = now_us();
    send_query(&iface, kernel, g4, 8);
    std::thread::sleep(Duration::from_millis(1000));

    let t_stop = now_us();
    let text = stop(&mut host);
    // The leaves travel through the tap before tcpdump stops (in immediate
    // mode: otherwise the last second of packets may still wait in the
    // kernel's capture ring when it exits).
    std::thread::sleep(Duration::from_millis(500));
    dump.interrupt();
    let (ok, dump_text) = dump.wait(Duration::from_secs(10));
    assert!(ok, "tcpdump failed:\n{dump_text}");

    let all = igmp_messages(&std::fs::read(&capture).unwrap());
    let from_us: Vec<&Igmp> = all.iter().filter(|m| m.src == ours).collect();
    let show = || format!("{from_us:#?}\nhost:\n{text}");
    for m in &from_us {
        assert_eq!(m.ttl, 1, "TTL: {}", show());
    }
    let reports = |from: u64, to: u64| -> Vec<Ipv4Addr> {
        let mut v: Vec<Ipv4Addr> = from_us
            .iter()
            .filter(|m| m.kind == 0x16 && (from..to).contains(&m.ts_us))
            .inspect(|m| assert_eq!(m.dst, m.group, "a report goes to its group"))
            .map(|m| m.group)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        reports(0, t_general),
        vec![g3, g4],
        "one IGMPv2 report per group at start: {}",
        show()
    );
    assert_eq!(
        reports(t_general, t_specific),
        vec![g3, g4],
        "the general query answered for each group: {}",
        show()
    );
    let answered = from_us
        .iter()
        .filter(|m| m.kind == 0x16 && (t_general..t_specific).contains(&m.ts_us))
        .all(|m| m.ts_us - t_general <= 1_300_000);
    assert!(answered, "within the max response time: {}", show());
    assert_eq!(
        reports(t_specific, t_stop),
        vec![g4],
        "the group-specific query answered for its group only: {}",
        show()
    );
    assert!(reports(t_stop, u64::MAX).is_empty(), "{}", show());
    let mut leaves: Vec<Ipv4Addr> = from_us
        .iter()
        .filter(|m| m.kind == 0x17)
        .inspect(|m| {
            assert_eq!(m.dst, Ipv4Addr::new(224, 0, 0, 2), "{}", show());
            assert!(m.ts_us >= t_stop, "leave before SIGINT: {}", show());
        })
        .map(|m| m.group)
        .collect();
    leaves.sort();
    assert_eq!(leaves, vec![g3, g4], "a Leave Group per group: {}", show());
    // The queries we sent were captured too.
    assert_eq!(
        all.iter()
            .filter(|m| m.src == kernel && m.kind == 0x11)
            .count(),
        2,
        "{all:#?}"
    );

    let v: Value = read_json(&stats);
    let c = &v["control"];
    assert_eq!(u(c, "igmp_joins"), 2, "{c:#}");
    assert_eq!(u(c, "igmp_leaves"), 2, "{c:#}");
    assert_eq!(u(c, "igmp_groups"), 0, "{c:#}");
    assert_eq!(u(c, "tx_igmp_reports"), 5, "{c:#}");
    assert_eq!(u(c, "tx_igmp_leaves"), 2, "{c:#}");
    assert!(u(c, "rx_igmp") >= 2, "{c:#}");
    assert_eq!(u(c, "tx_failures"), 0, "{c:#}");
    assert!(text.contains("multicast 2 joined, 2 left"), "{text}");
}

#[test]
fn tap_rerequest_datagram_reaches_the_server() {
    if !tun_available("IGMP tap tests") {
        return;
    }
    let (net, iface) = subnet("twi", 1);
    let dir = TempDir::new("rereq");
    let prefix = EalPrefix::new("rereq");
    let stats = dir.join("stats.json");
    let ours = Ipv4Addr::new(10, 78, net as u8, 2);
    const SOURCE_PORT: u16 = 26400;
    // The server: bound before the host starts, so that the datagram,
    // which leaves as soon as ARP resolves, always finds it.
    let server_port = 20_000 + (std::process::id() % 20_000) as u16;
    let server = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, server_port))
        .unwrap_or_else(|e| panic!("bind UDP {server_port}: {e}"));
    server
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();

    let good = format!("10.78.{net}.1:{server_port},SESSION001,123456789012,7");
    // On-link, but nobody answers ARP for it: dropped after 5 s.
    let silent = format!("10.78.{net}.99:{server_port},SESSION001,5,1");
    // Off-subnet with no --gateway: never sent.
    let unroutable = format!("192.0.2.1:{server_port},SESSION001,5,1");
    let mut host = Guarded::spawn(
        Command::new(BIN)
            .args(eal_args(&prefix, &iface))
            .arg("--")
            .args(["--rx-port", "net_tap0", "--ip", &format!("{ours}/24")])
            .args(["--rerequest-source-port", &SOURCE_PORT.to_string()])
            .args(["--control-send-request", &good])
            .args(["--control-send-request", &silent])
            .args(["--control-send-request", &unroutable])
            .args(["--stats-interval", "0", "--stats-json"])
            .arg(&stats),
    );
    host.wait_for_line("re-requests from UDP port", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    configure_kernel_side(&iface, &format!("10.78.{net}.1/24"));

    let mut buf = [0u8; 64];
    let (n, from) = recv_from_retrying(&server, &mut buf)
        .unwrap_or_else(|e| panic!("no re-request arrived: {e}\n{}", host.lines().join("\n")));
    let mut want = Vec::new();
    want.extend_from_slice(b"SESSION001");
    want.extend_from_slice(&123_456_789_012u64.to_be_bytes());
    want.extend_from_slice(&7u16.to_be_bytes());
    assert_eq!(&buf[..n], &want[..], "the MoldUDP64 request, byte for byte");
    assert_eq!(from, SocketAddrV4::new(ours, SOURCE_PORT).into());

    // The silent one is dropped 5 s after it became first in line.
    let wait = Duration::from_secs(7).saturating_sub(started.elapsed());
    std::thread::sleep(wait);
    let text = stop(&mut host);
    server
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(
        recv_from_retrying(&server, &mut buf).is_err(),
        "a second datagram"
    );

    let v: Value = read_json(&stats);
    let c = &v["control"];
    let r = &c["recovery"];
    assert_eq!(u(r, "source_port"), u64::from(SOURCE_PORT), "{r:#}");
    assert_eq!(u(r, "requests"), 3, "{r:#}");
    assert_eq!(u(r, "sent"), 1, "{r:#}");
    assert_eq!(u(r, "unroutable"), 1, "{r:#}");
    assert_eq!(u(r, "unresolved"), 1, "{r:#}\n{text}");
    assert_eq!(u(r, "pending"), 0, "{r:#}");
    assert_eq!(u(r, "channel_full"), 0, "{r:#}");
    assert_eq!(u(r, "socket_full"), 0, "{r:#}");
    assert_eq!(u(c, "tx_udp"), 1, "{c:#}");
    assert!(text.contains("rerequest 3 taken, 1 sent"), "{text}");
}

/// `recv_from`, again after a signal interrupted it (seen once in CI:
/// EINTR while waiting for the re-request); a timeout still ends it.
fn recv_from_retrying(
    socket: &std::net::UdpSocket,
    buf: &mut [u8],
) -> std::io::Result<(usize, std::net::SocketAddr)> {
    loop {
        match socket.recv_from(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}
