//! `tickwire send` and `tickwire rerequest-server` over loopback UDP: what
//! arrives is parsed as MoldUDP64 and compared with the BinaryFILE, message
//! by message, including exactly which sequences impairments removed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tickwire::binfile::BinFileReader;
use tickwire::gen::{generate_binfile, GenConfig};
use tickwire::mold_packet::{Request, HEADER_LEN};
use tickwire::mold_store::MoldStore;
use tickwire::rerequest::{RerequestServer, ServerOptions};
use tickwire_core::wire::MoldPacket;

const SESSION: &str = "TESTSESS01";

fn tmpdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("send-tools-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A generated BinaryFILE of `messages` messages and its messages.
fn gen_file(dir: &Path, messages: u64) -> (PathBuf, Vec<Vec<u8>>) {
    let cfg = GenConfig {
        seed: 11,
        symbols: 20,
        messages,
        ..GenConfig::default()
    };
    let mut bytes = Vec::new();
    generate_binfile(&cfg, &mut bytes).unwrap();
    let path = dir.join("feed.itch");
    std::fs::write(&path, &bytes).unwrap();
    let msgs = BinFileReader::new(&bytes)
        .map(|m| m.unwrap().to_vec())
        .collect();
    (path, msgs)
}

/// What one receiving socket saw, datagram by datagram, parsed.
#[derive(Debug, Default)]
struct Received {
    /// Data packets: (sequence, messages).
    data: Vec<(u64, Vec<Vec<u8>>)>,
    /// Heartbeats' sequence numbers.
    heartbeats: Vec<u64>,
    /// End-of-session packets' sequence numbers.
    end_of_session: Vec<u64>,
    /// Arrival time of each data packet.
    data_times: Vec<Instant>,
}

impl Received {
    /// Every message received, by sequence (duplicates must agree).
    fn by_sequence(&self) -> BTreeMap<u64, Vec<u8>> {
        let mut m = BTreeMap::new();
        for (seq, msgs) in &self.data {
            for (i, msg) in msgs.iter().enumerate() {
                if let Some(old) = m.insert(seq + i as u64, msg.clone()) {
                    assert_eq!(
                        &old,
                        msg,
                        "two different messages for sequence {}",
                        seq + i as u64
                    );
                }
            }
        }
        m
    }
}

/// Reads datagrams from `sock` until the `end_packets`th end-of-session
/// packet (or 10 s), then parses them as MoldUDP64. The loop only copies,
/// so a busy machine does not make the socket buffer overflow.
fn receive(sock: UdpSocket, end_packets: usize) -> JoinHandle<Received> {
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut raw = Vec::new();
        let mut ends = 0;
        let mut buf = [0u8; 2048];
        let give_up = Instant::now() + Duration::from_secs(10);
        while ends < end_packets && Instant::now() < give_up {
            let Ok(n) = sock.recv(&mut buf) else { continue };
            ends += usize::from(n >= HEADER_LEN && buf[18..20] == [0xff, 0xff]);
            raw.push((buf[..n].to_vec(), Instant::now()));
        }
        let mut r = Received::default();
        for (d, at) in raw {
            let pkt = MoldPacket::new_checked(&d[..]).expect("a MoldUDP64 packet");
            assert_eq!(pkt.session(), SESSION.as_bytes());
            if pkt.is_end_of_session() {
                r.end_of_session.push(pkt.sequence());
            } else if pkt.is_heartbeat() {
                r.heartbeats.push(pkt.sequence());
            } else {
                assert!(d.len() <= 1400, "payload {} over 1400", d.len());
                let msgs: Vec<Vec<u8>> = pkt.messages().map(|m| m.unwrap().to_vec()).collect();
                assert_eq!(msgs.len(), usize::from(pkt.count()));
                r.data.push((pkt.sequence(), msgs));
                r.data_times.push(at);
            }
        }
        r
    })
}

/// Checks that exactly `missing` of `1..=total` did not arrive and that
/// every message that did equals the file's.
fn check_delivery(r: &Received, msgs: &[Vec<u8>], missing: &BTreeSet<u64>) {
    let got = r.by_sequence();
    let keys: BTreeSet<u64> = got.keys().copied().collect();
    let all: BTreeSet<u64> = (1..=msgs.len() as u64).collect();
    let absent: Vec<u64> = all.difference(&keys).copied().collect();
    let want: Vec<u64> = missing.iter().copied().collect();
    assert!(
        absent == want,
        "missing {} sequences, wanted {}: first missing {:?}, first wanted {:?}",
        absent.len(),
        want.len(),
        &absent[..absent.len().min(10)],
        &want[..want.len().min(10)]
    );
    for (seq, m) in &got {
        assert_eq!(m, &msgs[*seq as usize - 1], "sequence {seq}");
    }
}

fn receiver() -> (UdpSocket, String) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let a = s.local_addr().unwrap().to_string();
    (s, a)
}

fn send(a: &[&str]) -> serde_json::Value {
    tickwire::send::cli::run_with(&args(a))
        .unwrap()
        .unwrap()
        .to_json()
}

#[test]
fn one_line_delivers_the_file() {
    let dir = tmpdir("one");
    let (file, msgs) = gen_file(&dir, 3000);
    let (sock, addr) = receiver();
    let rx = receive(sock, 1);
    let s = send(&[
        p(&file),
        "--session",
        SESSION,
        "--line-a",
        &addr,
        "--rate",
        "200000",
        "--end-of-session",
    ]);
    let r = rx.join().unwrap();
    check_delivery(&r, &msgs, &BTreeSet::new());
    // Packets arrive in order, back to back.
    let mut next = 1;
    for (seq, m) in &r.data {
        assert_eq!(*seq, next);
        next += m.len() as u64;
    }
    assert_eq!(r.end_of_session, [3001]);
    let a = &s["lines"]["a"];
    assert_eq!(s["file_messages"], 3000);
    assert_eq!(s["next_sequence"], 3001);
    assert_eq!(a["messages"], 3000);
    assert_eq!(a["messages_sent"], 3000);
    assert_eq!(a["data_packets"].as_u64(), Some(r.data.len() as u64));
    assert_eq!(a["packets_sent"].as_u64(), Some(r.data.len() as u64));
    assert_eq!(a["end_of_session"], 1);
    assert_eq!(a["destination"].as_str(), Some(addr.as_str()));
}

#[test]
fn drop_ranges_remove_exactly_their_packets_per_line() {
    let dir = tmpdir("drops");
    let (file, msgs) = gen_file(&dir, 3000);
    let (sa, addr_a) = receiver();
    let (sb, addr_b) = receiver();
    let (ra, rb) = (receive(sa, 1), receive(sb, 1));
    let s = send(&[
        p(&file),
        "--session",
        SESSION,
        "--line-a",
        &addr_a,
        "--line-b",
        &addr_b,
        "--max-messages",
        "1",
        "--b-max-messages",
        "7",
        "--drop-a",
        "100-199,1500-1599,3000",
        "--drop-b",
        "150-160",
        "--rate",
        "30000",
        "--end-of-session",
    ]);
    let (ra, rb) = (ra.join().unwrap(), rb.join().unwrap());
    // A: one message a packet, so exactly the ranges are missing.
    let missing_a: BTreeSet<u64> = (100..=199).chain(1500..=1599).chain([3000]).collect();
    // B: packets of 7 from sequence 1; 150-160 touches 148-154 and 155-161.
    let missing_b: BTreeSet<u64> = (148..=161).collect();
    for (r, missing) in [(&ra, &missing_a), (&rb, &missing_b)] {
        check_delivery(r, &msgs, missing);
        assert_eq!(r.end_of_session, [3001]);
    }
    assert!(rb.data.iter().all(|(_, m)| m.len() == 7 || m.len() == 4));
    let (a, b) = (&s["lines"]["a"], &s["lines"]["b"]);
    assert_eq!(a["packets_dropped"], 201);
    assert_eq!(a["messages_dropped"], 201);
    assert_eq!(a["dropped_by_range"], 201);
    assert_eq!(a["messages_sent"], 2799);
    assert_eq!(b["packets_dropped"], 2);
    assert_eq!(b["messages_dropped"], 14);
    assert_eq!(b["data_packets"], 429);
}

#[test]
fn duplicates_and_reordering_are_seeded_and_lose_nothing() {
    let dir = tmpdir("dup");
    let (file, msgs) = gen_file(&dir, 2000);
    let run = || {
        let (sock, addr) = receiver();
        let rx = receive(sock, 1);
        let s = send(&[
            p(&file),
            "--session",
            SESSION,
            "--line-a",
            &addr,
            "--max-messages",
            "5",
            "--duplicate-a",
            "0.2",
            "--reorder-a",
            "0.2",
            "--seed",
            "3",
            "--rate",
            "50000",
            "--end-of-session",
        ]);
        (s, rx.join().unwrap())
    };
    let (s1, r1) = run();
    let (s2, _) = run();
    let a = &s1["lines"]["a"];
    let without_dest = |v: &serde_json::Value| {
        let mut v = v.clone();
        v["destination"] = serde_json::Value::Null;
        v
    };
    assert_eq!(
        without_dest(a),
        without_dest(&s2["lines"]["a"]),
        "same seed, same impairments"
    );
    let (dups, reord) = (
        a["duplicated"].as_u64().unwrap(),
        a["reordered"].as_u64().unwrap(),
    );
    assert!(dups > 0 && reord > 0, "{a}");
    assert_eq!(a["packets_sent"].as_u64(), Some(400 + dups));
    assert_eq!(r1.data.len() as u64, 400 + dups);
    let out_of_order = r1.data.windows(2).filter(|w| w[1].0 < w[0].0).count() as u64;
    assert!(out_of_order >= reord, "{out_of_order} < {reord}");
    check_delivery(&r1, &msgs, &BTreeSet::new());
}

/// Writes a BinaryFILE of 'S' system events at these timestamps (ns).
fn event_file(dir: &Path, stamps: &[u64]) -> PathBuf {
    let mut w = tickwire::binfile::BinFileWriter::new(Vec::new());
    for ts in stamps {
        let mut m = vec![b'S', 0, 0, 0, 0];
        m.extend_from_slice(&ts.to_be_bytes()[2..]);
        m.push(b'Q');
        w.write_message(&m).unwrap();
    }
    let path = dir.join("events.itch");
    std::fs::write(&path, w.into_inner()).unwrap();
    path
}

#[test]
fn event_time_heartbeats_and_lingering_end_of_session() {
    let dir = tmpdir("event");
    let t0 = 34_200_000_000_000;
    let file = event_file(&dir, &[t0, t0 + 1_000, t0 + 300_000_000]);
    let (sock, addr) = receiver();
    let rx = receive(sock, 3);
    let s = send(&[
        p(&file),
        "--session",
        SESSION,
        "--line-a",
        &addr,
        "--event-time",
        "--speed",
        "1x",
        "--heartbeat-interval",
        "100ms",
        "--end-of-session",
        "--linger",
        "250ms",
    ]);
    let r = rx.join().unwrap();
    // The first two messages share a packet (1 us apart); the third is 300 ms later.
    assert_eq!(r.data.len(), 2);
    assert_eq!((r.data[0].0, r.data[0].1.len()), (1, 2));
    assert_eq!(r.data[1].0, 3);
    let gap = r.data_times[1] - r.data_times[0];
    assert!(gap >= Duration::from_millis(280), "{gap:?}");
    // Idle meanwhile: heartbeats carrying the next sequence.
    assert!(r.heartbeats.len() >= 2, "{:?}", r.heartbeats);
    assert!(r.heartbeats.iter().all(|s| *s == 3));
    // One at the end, then one per heartbeat interval while lingering (3
    // on time; a loaded machine may fit only 2 in the 250 ms).
    assert!(
        (2..=3).contains(&r.end_of_session.len()),
        "{:?}",
        r.end_of_session
    );
    assert!(r.end_of_session.iter().all(|s| *s == 4));
    let a = &s["lines"]["a"];
    assert_eq!(a["heartbeats"].as_u64(), Some(r.heartbeats.len() as u64));
    assert_eq!(
        a["end_of_session"].as_u64(),
        Some(r.end_of_session.len() as u64)
    );
}

/// Sends requests from a fresh socket and collects the answers, with how
/// long after the last request each came, until 300 ms pass without one.
fn ask_timed(server: SocketAddr, requests: &[Vec<u8>]) -> Vec<(Vec<u8>, Duration)> {
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    for r in requests {
        c.send_to(r, server).unwrap();
    }
    let sent = Instant::now();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while let Ok(n) = c.recv(&mut buf) {
        out.push((buf[..n].to_vec(), sent.elapsed()));
    }
    out
}

fn ask(server: SocketAddr, requests: &[Vec<u8>]) -> Vec<Vec<u8>> {
    ask_timed(server, requests)
        .into_iter()
        .map(|(a, _)| a)
        .collect()
}

fn request(session: &str, sequence: u64, count: u16) -> Vec<u8> {
    let mut s = [b' '; 10];
    s[..session.len()].copy_from_slice(session.as_bytes());
    Request {
        session: s,
        sequence,
        count,
    }
    .to_bytes()
    .to_vec()
}

/// The downstream packet for messages `first..first+n` built by hand.
fn expected(msgs: &[Vec<u8>], first: u64, n: usize) -> Vec<u8> {
    let mut v = SESSION.as_bytes().to_vec();
    v.extend_from_slice(&first.to_be_bytes());
    v.extend_from_slice(&(n as u16).to_be_bytes());
    for m in &msgs[first as usize - 1..first as usize - 1 + n] {
        v.extend_from_slice(&(m.len() as u16).to_be_bytes());
        v.extend_from_slice(m);
    }
    v
}

#[test]
fn rerequest_server_answers_exact_bytes_and_is_silent_otherwise() {
    let dir = tmpdir("rereq");
    let (file, msgs) = gen_file(&dir, 500);
    let mut session = [b' '; 10];
    session.copy_from_slice(SESSION.as_bytes());
    let store = MoldStore::open(&file, session).unwrap();
    let opts = ServerOptions {
        stop_after_requests: Some(7),
        ..ServerOptions::default()
    };
    let mut server = RerequestServer::bind(&store, "127.0.0.1:0".parse().unwrap(), opts).unwrap();
    let addr = server.local_addr().unwrap();
    let answers = std::thread::scope(|sc| {
        let h = sc.spawn(|| server.run(&std::sync::atomic::AtomicBool::new(false)));
        let answers = ask(
            addr,
            &[
                request(SESSION, 10, 5),
                request(SESSION, 1, 65534),
                request(SESSION, 500, 10),
                request(SESSION, 501, 1),
                request(SESSION, 0, 1),
                request("OTHERSESS1", 10, 5),
                vec![0; 19],
            ],
        );
        let c = h.join().unwrap().unwrap();
        (answers, c)
    });
    let (answers, c) = answers;
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0], expected(&msgs, 10, 5));
    // As many whole messages from 1 as fit 1,400 bytes.
    let mut len = HEADER_LEN;
    let fit = msgs
        .iter()
        .take_while(|m| {
            len += 2 + m.len();
            len <= 1400
        })
        .count();
    assert_eq!(answers[1], expected(&msgs, 1, fit));
    assert!(answers[1].len() <= 1400 && answers[1].len() + 2 + msgs[fit].len() > 1400);
    assert_eq!(answers[2], expected(&msgs, 500, 1));
    assert_eq!(
        (c.requests, c.answered, c.silent, c.malformed, c.dropped),
        (7, 3, 2, 2, 0)
    );
    assert_eq!(c.messages_sent, 5 + fit as u64 + 1);
}

/// Waits until something listens on UDP `addr` (our own bind fails).
fn wait_bound(addr: &str) {
    let give_up = Instant::now() + Duration::from_secs(10);
    while UdpSocket::bind(addr).is_ok() {
        assert!(Instant::now() < give_up, "server never bound {addr}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn rerequest_cli_drops_first_delays_and_stops_after_requests() {
    let dir = tmpdir("rereq-cli");
    let (file, msgs) = gen_file(&dir, 200);
    let addr = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().to_string()
    };
    let a = args(&[
        p(&file),
        "--listen",
        &addr,
        "--session",
        SESSION,
        "--drop-first",
        "2",
        "--answer-delay",
        "100ms",
        "--stop-after-requests",
        "3",
        "--max-payload",
        "100",
    ]);
    let h = std::thread::spawn(move || tickwire::rerequest::cli::run_with(&a));
    wait_bound(&addr);
    let answers = ask_timed(
        addr.parse().unwrap(),
        &[
            request(SESSION, 1, 3),
            request(SESSION, 1, 3),
            request(SESSION, 7, 300),
        ],
    );
    let c = h.join().unwrap().unwrap().unwrap();
    assert_eq!(answers.len(), 1);
    let (answer, after) = &answers[0];
    assert!(
        *after >= Duration::from_millis(90),
        "answered after {after:?}"
    );
    let pkt = MoldPacket::new_checked(&answer[..]).unwrap();
    assert_eq!(pkt.sequence(), 7);
    let n = usize::from(pkt.count());
    assert!(answer.len() <= 100 && n >= 1);
    assert_eq!(answer, &expected(&msgs, 7, n));
    assert_eq!((c.requests, c.dropped, c.answered), (3, 2, 1));
}

#[test]
fn help_and_bad_arguments() {
    assert!(tickwire::send::cli::run_with(&args(&["--help"]))
        .unwrap()
        .is_none());
    assert!(tickwire::rerequest::cli::run_with(&args(&["--help"]))
        .unwrap()
        .is_none());
    let dir = tmpdir("bad");
    let err = |r: anyhow::Result<Option<tickwire::send::SendSummary>>| match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{e:#}"),
    };
    let missing = dir.join("missing.itch");
    let e = err(tickwire::send::cli::run_with(&args(&[
        p(&missing),
        "--session",
        SESSION,
        "--line-a",
        "127.0.0.1:9",
    ])));
    assert!(e.contains("missing.itch"), "{e}");
    let e = err(tickwire::send::cli::run_with(&args(&[
        p(&missing),
        "--session",
        SESSION,
        "--line-a",
        "127.0.0.1:9",
        "--loss-b",
        "0.1",
    ])));
    assert!(e.contains("--loss-b needs --line-b"), "{e}");
    let e = err(tickwire::send::cli::run_with(&args(&[
        p(&missing),
        "--session",
        SESSION,
        "--line-a",
        "233.1.1.1",
    ])));
    assert!(e.contains("GROUP:PORT"), "{e}");
    let truncated = dir.join("truncated.itch");
    std::fs::write(&truncated, [0u8, 5, b'S', 1]).unwrap();
    let e = match tickwire::rerequest::cli::run_with(&args(&[
        p(&truncated),
        "--listen",
        "127.0.0.1:0",
        "--session",
        SESSION,
    ])) {
        Ok(_) => panic!("expected an error"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        e.contains("truncated.itch") && e.contains("offset 0"),
        "{e}"
    );
}
