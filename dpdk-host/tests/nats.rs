//! Book records published to real `nats-server` processes (Debian's, started
//! by each test on free loopback ports, their store in the test's temp dir,
//! killed at the end) and read back:
//!
//! * the replayer into a JetStream stream: read from the start by a consumer
//!   in this test, decoded with `tickwire_core::bus::BusRecord`, the records
//!   equal, in order, those the engine hands an in-process sink on the same
//!   input; `pub_seq` and the stream sequence count 1..=N; the bridge's
//!   counters account for every record; the same input again is
//!   acknowledged as duplicates (Nats-Msg-Id) and stored once;
//! * the DPDK host over net_pcap (two lcores, `--no-huge`) into a stream:
//!   the same records as the engine's (a boundary's records may come in
//!   another locate order: the engine writes them lazily), no record
//!   refused, its `nats` stats reconciled;
//! * core NATS: `tickwire subscribe` sees every record live (binary and
//!   `--nats-format json` payloads);
//! * a three-node JetStream cluster with `--nats-replicas 3`: every node
//!   stores the N records, and after the stream leader is killed (SIGKILL)
//!   a consumer through another node still reads all of them;
//! * `--nats-depth 1 --nats-changes-only`: top-of-book changes only, exactly
//!   those a filter written here keeps;
//! * bad arguments (no server, a mute one, too many replicas, more bytes
//!   than JetStream can reserve, a stream taking other subjects, subjects
//!   another stream takes, a bad prefix, the host on one lcore): non-zero
//!   exit, one clear message naming the URL, stream or option.
//!
//! Every test has its own servers, temp dir and EAL prefix, all removed
//! when it ends, passed or failed. Needs `nats-server` (scripts/setup.sh)
//! and, for the host, what the EAL wants (root) and DPDK's net_pcap PMD.

mod common;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::DeliverPolicy};
use common::nats::{cluster3, free_port, NatsServer};
use common::*;
use futures_util::StreamExt;
use serde_json::Value;
use tickwire::replay::{replay, HeapStorage, ReplayOptions};
use tickwire_core::bus::BusRecord;
use tickwire_core::engine::{BookRecord, EngineConfig, Snapshot, SnapshotSink};

/// Engine sizes given to the replayer, the host and the reference.
const ENGINE: [&str; 4] = ["--max-orders", "100000", "--max-levels", "200000"];

/// ~4 s of event time: ~40 boundaries; with 12 symbols, several hundred
/// records.
const GEN: [&str; 6] = [
    "--seed",
    "17",
    "--messages",
    "40000",
    "--mean-gap-ns",
    "100000",
];

// ---------------------------------------------------------------------------
// Records, compared by what they show.

/// One level: price, orders, shares.
type Lvl = (u64, u64, u64);

/// What a record shows, from whichever form it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    session: Option<String>,
    symbol: String,
    locate: u16,
    seq: u64,
    event_ns: u64,
    boundary_ns: u64,
    vwap: Option<u64>,
    volume: u64,
    stale: bool,
    bids: Vec<Lvl>,
    asks: Vec<Lvl>,
}

fn session_text(s: &[u8; 10]) -> Option<String> {
    if s.iter().all(|&b| b == 0) {
        return None;
    }
    let n = s.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    Some(String::from_utf8_lossy(&s[..n]).into_owned())
}

impl Rec {
    /// The engine's record as published at `depth` levels per side.
    fn from_book(r: &BookRecord, depth: usize) -> Rec {
        let side = |l: &[tickwire_core::book::Level]| -> Vec<Lvl> {
            l.iter()
                .take(depth)
                .map(|l| (u64::from(l.price), u64::from(l.orders), l.shares))
                .collect()
        };
        Rec {
            session: session_text(&r.origin.session),
            symbol: String::from_utf8_lossy(r.symbol()).into_owned(),
            locate: r.locate,
            seq: r.origin.seq,
            event_ns: r.origin.event_ns,
            boundary_ns: r.boundary_ns,
            vwap: (r.volume > 0).then_some(r.vwap),
            volume: r.volume,
            stale: r.stale,
            bids: side(r.bids()),
            asks: side(r.asks()),
        }
    }

    /// A binary bus record: (pub_seq, what it shows).
    fn from_bus(payload: &[u8]) -> (u64, Rec) {
        let b = BusRecord::new_checked(payload)
            .unwrap_or_else(|e| panic!("undecodable bus record ({e}): {payload:02x?}"));
        let side = |l: tickwire_core::bus::Levels<'_>| -> Vec<Lvl> {
            l.map(|l| (u64::from(l.price), u64::from(l.orders), l.shares))
                .collect()
        };
        let rec = Rec {
            session: session_text(b.session()),
            symbol: String::from_utf8_lossy(b.symbol()).into_owned(),
            locate: b.locate(),
            seq: b.seq(),
            event_ns: b.event_ns(),
            boundary_ns: b.boundary_ns(),
            vwap: b.vwap(),
            volume: b.volume(),
            stale: b.stale(),
            bids: side(b.bids()),
            asks: side(b.asks()),
        };
        (b.pub_seq(), rec)
    }

    /// The JSON form (docs/bus-record.md): (pub_seq, what it shows).
    fn from_json(v: &Value) -> (u64, Rec) {
        let n = |k: &str| {
            v[k].as_u64()
                .unwrap_or_else(|| panic!("{k} is not a number in {v}"))
        };
        let side = |k: &str| -> Vec<Lvl> {
            v[k].as_array()
                .unwrap_or_else(|| panic!("{k} is not an array in {v}"))
                .iter()
                .map(|l| {
                    (
                        price4(l["price"].as_str().expect("price string")),
                        l["orders"].as_u64().expect("orders"),
                        l["shares"].as_u64().expect("shares"),
                    )
                })
                .collect()
        };
        assert_eq!(v["v"], 1, "version in {v}");
        let rec = Rec {
            session: v["session"].as_str().map(String::from),
            symbol: v["symbol"].as_str().expect("symbol").to_owned(),
            locate: u16::try_from(n("locate")).expect("locate"),
            seq: n("seq"),
            event_ns: n("event_ns"),
            boundary_ns: n("boundary_ns"),
            vwap: v["vwap"].as_str().map(price4),
            volume: n("volume"),
            stale: v["stale"].as_bool().expect("stale"),
            bids: side("bids"),
            asks: side("asks"),
        };
        (n("pub_seq"), rec)
    }

    /// The subject the bridge publishes it on with the default prefix.
    fn subject(&self) -> String {
        format!(
            "md.{}.{}",
            self.session.as_deref().unwrap_or("itch"),
            self.symbol
        )
    }
}

/// "123.4500" as Price(4) (exactly four decimals).
fn price4(s: &str) -> u64 {
    let (int, frac) = s.split_once('.').unwrap_or_else(|| panic!("price {s:?}"));
    assert_eq!(frac.len(), 4, "price {s:?}");
    int.parse::<u64>().unwrap() * 10_000 + frac.parse::<u64>().unwrap()
}

/// Asserts `got` (pub_seq, record) equals `want` in order, pub_seq 1..=N.
fn assert_records(what: &str, got: &[(u64, Rec)], want: &[Rec]) {
    for (i, ((seq, g), w)) in got.iter().zip(want).enumerate() {
        assert_eq!(*seq, i as u64 + 1, "{what}: pub_seq of record #{i}");
        assert_eq!(g, w, "{what}: record #{i} differs");
    }
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} records, expected {}",
        got.len(),
        want.len()
    );
}

// ---------------------------------------------------------------------------
// The reference: the engine in this process.

/// Collects every record at full depth.
struct Collect(Vec<BookRecord>);

impl SnapshotSink for Collect {
    fn on_snapshot(&mut self, _: &Snapshot<'_>) {}

    fn record_depth(&self) -> usize {
        10
    }

    fn on_record(&mut self, fill: impl FnOnce(&mut BookRecord)) -> bool {
        let mut r = BookRecord::EMPTY;
        fill(&mut r);
        self.0.push(r);
        true
    }
}

/// The records the engine emits on `pcap` with the CLI's defaults and
/// [`ENGINE`]'s sizes.
fn reference(pcap: &Path) -> Vec<BookRecord> {
    let data = std::fs::read(pcap).unwrap();
    let engine = EngineConfig {
        max_orders: 100_000,
        max_levels: 200_000,
        ..EngineConfig::default()
    };
    let opts = ReplayOptions {
        engine,
        ports: vec![26400],
        progress: false,
        checkpoint_every: None,
    };
    let mut storage = HeapStorage::new(&engine).unwrap();
    let mut sink = Collect(Vec::new());
    let report = replay(&data, &opts, &mut storage, &mut sink, None).unwrap();
    assert_eq!(report.counters.records, sink.0.len() as u64);
    assert_eq!(report.counters.records_refused, 0);
    sink.0
}

/// A generated pcap of `symbols` symbols and its reference records
/// (checked to be plenty).
fn input(dir: &TempDir, symbols: &str) -> (PathBuf, Vec<BookRecord>) {
    let mut args = GEN.to_vec();
    args.extend(["--symbols", symbols]);
    let g = generate(dir, "feed", &args);
    let refs = reference(&g.pcap);
    assert!(
        refs.len() >= 300,
        "only {} reference records: the input is too small to test anything",
        refs.len()
    );
    (g.pcap, refs)
}

fn recs(refs: &[BookRecord], depth: usize) -> Vec<Rec> {
    refs.iter().map(|r| Rec::from_book(r, depth)).collect()
}

// ---------------------------------------------------------------------------
// Servers, processes, consumers.

/// One healthy JetStream server in `dir`.
fn server(dir: &TempDir) -> NatsServer {
    let s = NatsServer::start(dir.path(), "s0", None);
    s.wait_healthy(Duration::from_secs(20));
    s
}

/// GET `path` from a server's monitoring port, as JSON.
fn monitor(http_port: u16, path: &str) -> Option<Value> {
    let (_, body) = http_get(http_port, path).ok()?;
    serde_json::from_str(&body).ok()
}

/// `tickwire replay PCAP --no-fix` with `args`; the run and its stats JSON
/// (if written).
fn replay_nats(dir: &TempDir, name: &str, pcap: &Path, args: &[&str]) -> (Finished, Value) {
    let stats = dir.join(format!("{name}.json"));
    let run = run_with_timeout(
        Command::new(BIN)
            .arg("replay")
            .arg(pcap)
            .args(["--no-fix", "--no-progress"])
            .args(ENGINE)
            .arg("--stats-json")
            .arg(&stats)
            .args(args),
        Duration::from_secs(60),
    );
    let v = if stats.exists() {
        read_json(&stats)
    } else {
        Value::Null
    };
    (run, v)
}

/// The bridge's counters in a stats file, checked for a run that stored
/// everything in a stream: offered == published == acked == `n`, nothing
/// dropped, failed, duplicated, retried, queued or in flight.
fn assert_all_acked(stats: &Value, n: usize) {
    assert_nats_counters(stats, n as u64, 0);
}

/// Like [`assert_all_acked`], but every acknowledgement says duplicate.
fn assert_all_acked_duplicates(stats: &Value, n: usize) {
    assert_nats_counters(stats, n as u64, n as u64);
}

fn assert_nats_counters(stats: &Value, n: u64, duplicates: u64) {
    let c = &stats["nats"];
    assert!(c.is_object(), "no nats block in {stats}");
    for (k, want) in [
        ("offered", n),
        ("published", n),
        ("acked", n),
        ("dropped", 0),
        ("failed", 0),
        ("acked_duplicate", duplicates),
        ("retried", 0),
        ("queued", 0),
        ("in_flight", 0),
    ] {
        assert_eq!(c[k].as_u64(), Some(want), "nats.{k} in {c}");
    }
    assert!(c["connects"].as_u64() >= Some(1), "nats.connects in {c}");
}

/// A child we started, killed on drop if still running; stdout to a file.
struct Bg {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Bg {
    fn spawn(cmd: &mut Command, dir: &TempDir, name: &str) -> Bg {
        let out = dir.join(format!("{name}.stdout"));
        let err = dir.join(format!("{name}.stderr"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        Bg { child, out, err }
    }

    /// Waits for a successful exit; returns stdout.
    fn finish(&mut self, what: &str, timeout: Duration) -> String {
        let status = wait_deadline(&mut self.child, Instant::now() + timeout);
        let stderr = std::fs::read_to_string(&self.err).unwrap_or_default();
        match status {
            Some(s) if s.success() => std::fs::read_to_string(&self.out).unwrap(),
            Some(s) => panic!("{what} failed ({s}):\n{stderr}"),
            None => panic!("{what} did not finish within {timeout:?}:\n{stderr}"),
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `tickwire subscribe --nats URL md.> --json ...` and waits until
/// the server shows its subscription.
fn start_subscriber(dir: &TempDir, s: &NatsServer, name: &str, stats: &Path) -> Bg {
    let mut bg = Bg::spawn(
        Command::new(BIN)
            .args(["subscribe", "--nats", &s.url(), "md.>", "--json"])
            .args(["--idle-exit", "4s", "--stats-json"])
            .arg(stats),
        dir,
        name,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let subscribed = monitor(s.http_port, "/connz?subs=1").is_some_and(|v| {
            v["connections"].as_array().is_some_and(|cs| {
                cs.iter().any(|c| {
                    c["name"] == "tickwire subscribe" && c["subscriptions"].as_u64() >= Some(1)
                })
            })
        });
        if subscribed {
            return bg;
        }
        assert!(
            matches!(bg.child.try_wait(), Ok(None)),
            "tickwire subscribe exited: {}",
            std::fs::read_to_string(&bg.err).unwrap_or_default()
        );
        assert!(
            Instant::now() < deadline,
            "tickwire subscribe not subscribed within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Parses `tickwire subscribe --json` output: (subject, pub_seq, record)
/// per line.
fn subscribe_lines(out: &str) -> Vec<(String, Value)> {
    out.lines()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line ({e}): {l}"));
            let subject = v["subject"].as_str().expect("subject").to_owned();
            (subject, v)
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One message read back: subject, stream sequence (JetStream), payload.
type Msg = (String, Option<u64>, Vec<u8>);

/// Reads stream `stream` from its first message through `servers` with an
/// ordered consumer, until `want` messages came and 500 ms more brought
/// nothing, or 3 s of silence, or `timeout`. Failures (no leader yet after
/// a kill, say) start the read over until `timeout`.
fn read_stream(servers: &[String], stream: &str, want: usize, timeout: Duration) -> Vec<Msg> {
    let deadline = Instant::now() + timeout;
    runtime().block_on(async {
        let mut last_err = String::new();
        while Instant::now() < deadline {
            match read_stream_once(servers, stream, want, deadline).await {
                Ok(msgs) => return msgs,
                Err(e) => {
                    eprintln!("reading stream {stream}: {e}; again");
                    last_err = e;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
        panic!("reading stream {stream} through {servers:?}: {last_err}")
    })
}

async fn read_stream_once(
    servers: &[String],
    stream: &str,
    want: usize,
    deadline: Instant,
) -> Result<Vec<Msg>, String> {
    let client = async_nats::ConnectOptions::new()
        .name("tickwire test consumer")
        .connection_timeout(Duration::from_secs(2))
        .connect(servers)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // Short requests: after a kill, retried until a leader answers.
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(client);
    let st = js
        .get_stream(stream)
        .await
        .map_err(|e| format!("get_stream: {e}"))?;
    let consumer = st
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: "md.>".into(),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("create_consumer: {e}"))?;
    let mut msgs = consumer
        .messages()
        .await
        .map_err(|e| format!("messages: {e}"))?;
    let mut out: Vec<Msg> = Vec::new();
    loop {
        let idle = if out.len() >= want {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(3)
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(idle.min(left), msgs.next()).await {
            Ok(Some(Ok(m))) => {
                let seq = m.info().map_err(|e| format!("info: {e}"))?.stream_sequence;
                out.push((m.subject.to_string(), Some(seq), m.payload.to_vec()));
            }
            Ok(Some(Err(e))) => return Err(format!("after {} messages: {e}", out.len())),
            Ok(None) | Err(_) => return Ok(out),
        }
    }
}

/// A core NATS subscription made in this process (on its own thread),
/// registered with the server when this returns; `collect` gets what came
/// until 3 s of silence after the first message (30 s without any).
struct CoreSub {
    thread: std::thread::JoinHandle<Vec<Msg>>,
}

impl CoreSub {
    fn start(url: String, subject: &'static str) -> CoreSub {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let thread = std::thread::spawn(move || {
            runtime().block_on(async move {
                let run = async {
                    let c = async_nats::connect(url.as_str()).await?;
                    let sub = c.subscribe(subject).await?;
                    c.flush().await?;
                    Ok::<_, Box<dyn std::error::Error>>((c, sub))
                };
                let (_client, mut sub) = match run.await {
                    Ok(x) => x,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return Vec::new();
                    }
                };
                let _ = ready_tx.send(Ok(()));
                let mut out = Vec::new();
                loop {
                    let idle = if out.is_empty() {
                        Duration::from_secs(30)
                    } else {
                        Duration::from_secs(3)
                    };
                    match tokio::time::timeout(idle, sub.next()).await {
                        Ok(Some(m)) => out.push((m.subject.to_string(), None, m.payload.to_vec())),
                        Ok(None) | Err(_) => return out,
                    }
                }
            })
        });
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => CoreSub { thread },
            Ok(Err(e)) => panic!("core subscription: {e}"),
            Err(_) => panic!("core subscription: not ready within 10 s"),
        }
    }

    fn collect(self) -> Vec<Msg> {
        self.thread.join().expect("subscriber thread")
    }
}

/// Decodes binary messages read back, checking each subject and (from a
/// stream) the stream sequence 1..=N: (pub_seq, record) per message.
fn decode_binary(what: &str, msgs: &[Msg]) -> Vec<(u64, Rec)> {
    let mut got = Vec::new();
    for (i, (subject, seq, payload)) in msgs.iter().enumerate() {
        if let Some(s) = seq {
            assert_eq!(*s, i as u64 + 1, "{what}: stream sequence of message #{i}");
        }
        let (pub_seq, r) = Rec::from_bus(payload);
        assert_eq!(subject, &r.subject(), "{what}: subject of message #{i}");
        got.push((pub_seq, r));
    }
    got
}

/// Checks messages read back against the reference, in order.
fn check_binary(what: &str, msgs: &[Msg], want: &[Rec]) {
    assert_records(what, &decode_binary(what, msgs), want);
}

/// Like [`assert_records`], but within one boundary the records of
/// different locates may come in any order (the engine writes a boundary's
/// records lazily: the replayer when a message is about to change a locate,
/// the host's poll loop also when idle, in locate order). pub_seq still
/// counts 1..=N, each locate's records keep their boundary order, and the
/// records are the same, one per (boundary, locate).
fn assert_records_any_order_within_boundaries(what: &str, got: &[(u64, Rec)], want: &[Rec]) {
    for (i, (seq, _)) in got.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1, "{what}: pub_seq of record #{i}");
    }
    let mut last: HashMap<u16, u64> = HashMap::new();
    let mut prev_boundary = 0;
    for (i, (_, r)) in got.iter().enumerate() {
        assert!(
            r.boundary_ns >= prev_boundary,
            "{what}: record #{i} is of an earlier boundary than #{}: {r:?}",
            i - 1
        );
        prev_boundary = r.boundary_ns;
        if let Some(b) = last.insert(r.locate, r.boundary_ns) {
            assert!(
                b < r.boundary_ns,
                "{what}: record #{i} repeats or goes back on locate {}'s boundary {b}: {r:?}",
                r.locate
            );
        }
    }
    let key = |r: &Rec| (r.boundary_ns, r.locate);
    let mut g: Vec<Rec> = got.iter().map(|(_, r)| r.clone()).collect();
    let mut w = want.to_vec();
    g.sort_by_key(key);
    w.sort_by_key(key);
    for (i, (g, w)) in g.iter().zip(&w).enumerate() {
        assert_eq!(g, w, "{what}: record #{i} by (boundary, locate) differs");
    }
    assert_eq!(
        g.len(),
        w.len(),
        "{what}: {} records, expected {}",
        g.len(),
        w.len()
    );
}

// ---------------------------------------------------------------------------
// The tests.

#[test]
fn replay_records_reach_a_stream_and_equal_the_engines() {
    let t0 = Instant::now();
    let dir = TempDir::new("nats-replay");
    let s = server(&dir);
    let (pcap, refs) = input(&dir, "12");
    let want = recs(&refs, 10);

    let (run, stats) = replay_nats(
        &dir,
        "replay",
        &pcap,
        &["--nats", &s.url(), "--nats-stream", "TW1"],
    );
    run.assert_success("tickwire replay --nats");
    assert_eq!(u(&stats, "book_records"), refs.len() as u64);
    assert_all_acked(&stats, refs.len());
    assert_eq!(u(&stats, "nats.unchanged"), 0);

    let msgs = read_stream(&[s.url()], "TW1", want.len(), Duration::from_secs(30));
    check_binary("stream TW1", &msgs, &want);

    // The same input again: every record has the same Nats-Msg-Id
    // (session, boundary, locate), so the stream acknowledges each as a
    // duplicate and keeps one copy.
    let (run, again) = replay_nats(
        &dir,
        "again",
        &pcap,
        &["--nats", &s.url(), "--nats-stream", "TW1"],
    );
    run.assert_success("tickwire replay --nats, again");
    assert_all_acked_duplicates(&again, refs.len());
    let msgs = read_stream(&[s.url()], "TW1", want.len(), Duration::from_secs(30));
    check_binary("stream TW1 after a second run", &msgs, &want);
    // Ten levels were asked for and some books are that deep.
    assert!(want
        .iter()
        .any(|r| r.bids.len() == 10 || r.asks.len() == 10));
    eprintln!(
        "{} records through stream TW1 in {:.1} s",
        want.len(),
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn host_over_net_pcap_publishes_what_the_replayer_computes() {
    let t0 = Instant::now();
    let dir = TempDir::new("nats-host");
    let prefix = EalPrefix::new("nats-host");
    let s = server(&dir);
    let (pcap, refs) = input(&dir, "12");
    let want = recs(&refs, 10);

    let mut eal = eal_no_huge(&prefix);
    let l = eal
        .iter()
        .position(|a| a == "-l")
        .expect("-l in the EAL args");
    eal[l + 1] = "0,1".into();
    let stats = dir.join("host.json");
    let run = run_with_timeout(
        Command::new(BIN)
            .args(&eal)
            .arg("--vdev")
            .arg(format!(
                "net_pcap0,rx_pcap={},tx_pcap={}",
                pcap.display(),
                dir.join("tx.pcap").display()
            ))
            .arg("--")
            .args(["--rx-port", "net_pcap0", "--idle-exit", "1s"])
            .args(["--stats-interval", "0s", "--record-ring", "65536"])
            .args(ENGINE)
            .args(["--nats", &s.url(), "--nats-stream", "TW2"])
            .arg("--stats-json")
            .arg(&stats),
        Duration::from_secs(120),
    );
    run.assert_success("tickwire host --nats");
    let h = read_json(&stats);
    assert_eq!(
        u(&h, "book_records_refused"),
        0,
        "a refused record comes out at a later boundary: the comparison needs none"
    );
    assert_eq!(u(&h, "book_records"), refs.len() as u64, "host vs engine");
    assert_all_acked(&h, refs.len());
    let c = &h["nats"];
    // Every record offered is dropped, queued or published; every one
    // published is acknowledged, failed or in flight.
    assert_eq!(
        u(c, "offered"),
        u(c, "dropped") + u(c, "queued") + u(c, "published")
    );
    assert_eq!(
        u(c, "published"),
        u(c, "acked") + u(c, "failed") + u(c, "in_flight")
    );
    // Directory entries pass through the rings too.
    assert!(u(c, "ring_slots_drained") >= refs.len() as u64, "{c}");
    assert_eq!(c["last_error"], Value::Null, "{c}");

    let msgs = read_stream(&[s.url()], "TW2", want.len(), Duration::from_secs(30));
    let got = decode_binary("host into stream TW2", &msgs);
    assert_records_any_order_within_boundaries("host into stream TW2", &got, &want);
    eprintln!(
        "host: {} records in {:.1} s",
        want.len(),
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn core_nats_subscribers_see_records_live() {
    let t0 = Instant::now();
    let dir = TempDir::new("nats-core");
    let s = server(&dir);
    let (pcap, refs) = input(&dir, "12");
    let want = recs(&refs, 10);
    let n = want.len() as u64;

    // Binary payloads, decoded by tickwire subscribe.
    let sub_stats = dir.join("sub.json");
    let mut sub = start_subscriber(&dir, &s, "sub", &sub_stats);
    let (run, stats) = replay_nats(&dir, "core", &pcap, &["--nats", &s.url()]);
    run.assert_success("tickwire replay --nats (core)");
    let c = &stats["nats"];
    for (k, v) in [
        ("offered", n),
        ("published", n),
        ("dropped", 0),
        ("failed", 0),
    ] {
        assert_eq!(c[k].as_u64(), Some(v), "nats.{k} in {c}");
    }
    assert_eq!(u(c, "acked"), 0, "core NATS has no acknowledgements: {c}");
    let out = sub.finish("tickwire subscribe", Duration::from_secs(30));
    let lines = subscribe_lines(&out);
    let got: Vec<(u64, Rec)> = lines
        .iter()
        .map(|(subject, v)| {
            let (seq, r) = Rec::from_json(v);
            assert_eq!(subject, &r.subject(), "subject of pub_seq {seq}");
            (seq, r)
        })
        .collect();
    assert_records("tickwire subscribe (core)", &got, &want);
    let ss = read_json(&sub_stats);
    for (k, v) in [
        ("messages", n),
        ("undecodable", 0),
        ("pub_seq_first", 1),
        ("pub_seq_last", n),
        ("pub_seq_duplicates", 0),
        ("pub_seq_missing", 0),
    ] {
        assert_eq!(ss[k].as_u64(), Some(v), "subscribe stats {k} in {ss}");
    }

    // JSON payloads: raw here, printed by tickwire subscribe.
    let raw = CoreSub::start(s.url(), "md.>");
    let sub_stats = dir.join("sub-json.json");
    let mut sub = start_subscriber(&dir, &s, "sub-json", &sub_stats);
    let (run, stats) = replay_nats(
        &dir,
        "core-json",
        &pcap,
        &["--nats", &s.url(), "--nats-format", "json"],
    );
    run.assert_success("tickwire replay --nats --nats-format json");
    assert_eq!(u(&stats, "nats.published"), n);
    let msgs = raw.collect();
    let mut got = Vec::new();
    let mut payloads = Vec::new();
    for (i, (subject, _, p)) in msgs.iter().enumerate() {
        let v: Value = serde_json::from_slice(p).unwrap_or_else(|e| {
            panic!(
                "payload #{i} is not JSON ({e}): {:?}",
                String::from_utf8_lossy(p)
            )
        });
        assert!(v.is_object() && p.starts_with(b"{"), "payload #{i}: {v}");
        let (seq, r) = Rec::from_json(&v);
        assert_eq!(subject, &r.subject(), "subject of JSON payload #{i}");
        got.push((seq, r));
        payloads.push(v);
    }
    assert_records("JSON payloads (core)", &got, &want);
    let out = sub.finish(
        "tickwire subscribe (JSON payloads)",
        Duration::from_secs(30),
    );
    let lines = subscribe_lines(&out);
    assert_eq!(
        lines.len(),
        payloads.len(),
        "subscribe printed every payload"
    );
    for (i, ((subject, mut v), p)) in lines.into_iter().zip(&payloads).enumerate() {
        assert_eq!(
            v.as_object_mut().unwrap().remove("subject"),
            Some(subject.into())
        );
        assert_eq!(&v, p, "subscribe line #{i} vs the payload");
    }
    let ss = read_json(&sub_stats);
    assert_eq!(ss["messages"].as_u64(), Some(n), "{ss}");
    assert_eq!(ss["undecodable"].as_u64(), Some(0), "{ss}");
    assert_eq!(ss["pub_seq_missing"].as_u64(), Some(0), "{ss}");
    eprintln!(
        "core: {n} records twice in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}

/// Stream `name` as one node's /jsz reports it (None: not there).
fn jsz_stream(s: &NatsServer, name: &str) -> Option<Value> {
    let v = monitor(s.http_port, "/jsz?accounts=true&streams=true")?;
    v["account_details"]
        .as_array()?
        .iter()
        .filter_map(|a| a["stream_detail"].as_array())
        .flatten()
        .find(|st| st["name"] == name)
        .cloned()
}

#[test]
fn three_node_jetstream_cluster_replicates() {
    let t0 = Instant::now();
    let dir = TempDir::new("nats-cluster");
    let mut servers = cluster3(dir.path());
    let (pcap, refs) = input(&dir, "12");
    let want = recs(&refs, 10);
    let n = want.len() as u64;
    let urls: Vec<String> = servers.iter().map(NatsServer::url).collect();

    let (run, stats) = replay_nats(
        &dir,
        "cluster",
        &pcap,
        &[
            "--nats",
            &urls.join(","),
            "--nats-stream",
            "TW4",
            "--nats-replicas",
            "3",
            // A replicated ack waits for a quorum: generous on a busy CI box.
            "--nats-ack-timeout",
            "10s",
            "--nats-connect-timeout",
            "20s",
        ],
    );
    run.assert_success("tickwire replay --nats-replicas 3");
    assert_all_acked(&stats, want.len());

    // Every node holds the N messages (replicas catch up asynchronously).
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut leader = None;
    for s in &servers {
        loop {
            let st = jsz_stream(s, "TW4");
            let msgs = st.as_ref().and_then(|st| st["state"]["messages"].as_u64());
            if msgs == Some(n) {
                let st = st.unwrap();
                if let Some(l) = st["cluster"]["leader"].as_str() {
                    leader = Some(l.to_owned());
                }
                let replicas = st["cluster"]["replicas"].as_array().map_or(0, Vec::len);
                assert_eq!(replicas, 2, "the leader and two replicas: {st}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {} reports stream TW4 with {msgs:?} messages, expected {n}: {st:?}; its /jsz: {:?}",
                s.port,
                monitor(s.http_port, "/jsz?accounts=true&streams=true")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // Kill the stream's leader (n0, n1 or n2); read through another node.
    let leader = leader.expect("a stream leader in /jsz");
    let k: usize = leader
        .strip_prefix('n')
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("leader {leader:?} is none of n0, n1, n2"));
    let replicated = t0.elapsed();
    servers[k].kill();
    let other = &servers[(k + 1) % 3];
    let msgs = read_stream(&[other.url()], "TW4", want.len(), Duration::from_secs(40));
    check_binary("stream TW4 after its leader died", &msgs, &want);
    eprintln!(
        "cluster: {n} records stored on 3 nodes after {:.1} s, leader {leader} killed, read back after {:.1} s",
        replicated.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn changes_only_top_of_book() {
    let dir = TempDir::new("nats-changes");
    let s = server(&dir);
    // Many quiet symbols: boundaries where a locate's window still holds
    // executions but nothing it shows at depth 1 changed.
    let (pcap, refs) = input(&dir, "100");
    // The filter, written here: a locate's record goes out when its best
    // levels, VWAP, volume or stale flag differ from its last one out.
    let mut last: HashMap<u16, Rec> = HashMap::new();
    let mut want = Vec::new();
    for r in &refs {
        let top = Rec::from_book(r, 1);
        let shown = |x: &Rec| (x.bids.clone(), x.asks.clone(), x.vwap, x.volume, x.stale);
        if last.get(&r.locate).map(shown) != Some(shown(&top)) {
            last.insert(r.locate, top.clone());
            want.push(top);
        }
    }
    let held = refs.len() - want.len();
    assert!(
        held > 0 && !want.is_empty(),
        "the filter must hold some records back and pass others ({held} of {})",
        refs.len()
    );

    let (run, stats) = replay_nats(
        &dir,
        "changes",
        &pcap,
        &[
            "--nats",
            &s.url(),
            "--nats-stream",
            "TW5",
            "--nats-depth",
            "1",
            "--nats-changes-only",
        ],
    );
    run.assert_success("tickwire replay --nats-changes-only");
    assert_all_acked(&stats, want.len());
    assert_eq!(u(&stats, "nats.unchanged"), held as u64);

    let msgs = read_stream(&[s.url()], "TW5", want.len(), Duration::from_secs(30));
    check_binary("stream TW5 (changes only)", &msgs, &want);
    let mut seen: HashMap<u16, Rec> = HashMap::new();
    for (i, (_, _, p)) in msgs.iter().enumerate() {
        let (_, r) = Rec::from_bus(p);
        assert!(r.bids.len() <= 1 && r.asks.len() <= 1, "record #{i}: {r:?}");
        if let Some(prev) = seen.get(&r.locate) {
            let same = prev.bids == r.bids
                && prev.asks == r.asks
                && prev.vwap == r.vwap
                && prev.volume == r.volume
                && prev.stale == r.stale;
            assert!(!same, "record #{i} shows nothing new: {r:?}");
        }
        seen.insert(r.locate, r);
    }
}

#[test]
fn bad_nats_arguments_fail_clearly() {
    let dir = TempDir::new("nats-bad");
    let g = generate(
        &dir,
        "small",
        &["--seed", "3", "--symbols", "4", "--messages", "2000"],
    );
    let fails = |name: &str, args: &[&str], needles: &[&str]| -> Finished {
        let (run, _) = replay_nats(&dir, name, &g.pcap, args);
        eprintln!("{name}: {} in {:?}", run.stderr.trim(), run.elapsed);
        assert!(!run.status.success(), "{name}: succeeded:\n{}", run.stderr);
        for n in needles {
            assert!(
                run.stderr.contains(n),
                "{name}: the message does not name {n:?}:\n{}",
                run.stderr
            );
        }
        run
    };

    // Nobody listens.
    let nobody = format!("nats://127.0.0.1:{}", free_port());
    let run = fails(
        "nobody",
        &["--nats", &nobody, "--nats-connect-timeout", "1s"],
        &[&nobody],
    );
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?} with a 1 s connect timeout",
        run.elapsed
    );
    let run = fails(
        "nobody-stream",
        &[
            "--nats",
            &nobody,
            "--nats-stream",
            "TW6",
            "--nats-connect-timeout",
            "1s",
        ],
        &[&nobody],
    );
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);

    // Something listens but never speaks NATS: the connect timeout.
    let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mute_url = format!("nats://{}", mute.local_addr().unwrap());
    let run = fails(
        "mute",
        &["--nats", &mute_url, "--nats-connect-timeout", "1s"],
        &[&mute_url],
    );
    assert!(
        run.elapsed >= Duration::from_millis(900) && run.elapsed < Duration::from_secs(5),
        "took {:?} with a 1 s connect timeout",
        run.elapsed
    );
    drop(mute);

    let s = server(&dir);
    let url = s.url();
    // More replicas than servers.
    fails(
        "replicas",
        &[
            "--nats",
            &url,
            "--nats-stream",
            "TWR",
            "--nats-replicas",
            "3",
        ],
        &["\"TWR\"", "replicas"],
    );
    // More bytes than the server's JetStream storage (1 GB) may reserve.
    fails(
        "max-bytes",
        &[
            "--nats",
            &url,
            "--nats-stream",
            "TWBIG",
            "--nats-max-bytes",
            "2000000000",
        ],
        &["\"TWBIG\"", "--nats-max-bytes"],
    );
    // Each stream below reserves this much of the server's storage.
    let small = ["--nats-max-bytes", "10000000"];
    // A stream that takes other subjects.
    let (run, _) = replay_nats(
        &dir,
        "other",
        &g.pcap,
        &[
            &[
                "--nats",
                &url,
                "--nats-stream",
                "TWSAME",
                "--nats-prefix",
                "other",
            ][..],
            &small,
        ]
        .concat(),
    );
    run.assert_success("tickwire replay --nats-prefix other");
    fails(
        "same",
        &[
            "--nats",
            &url,
            "--nats-stream",
            "TWSAME",
            "--nats-prefix",
            "md",
        ],
        &["\"TWSAME\"", "other.>"],
    );
    // A new stream whose subjects another stream already takes.
    let (run, _) = replay_nats(
        &dir,
        "md-first",
        &g.pcap,
        &[&["--nats", &url, "--nats-stream", "TWMD"][..], &small].concat(),
    );
    run.assert_success("tickwire replay --nats-stream TWMD");
    fails(
        "overlap",
        &[&["--nats", &url, "--nats-stream", "TWMD2"][..], &small].concat(),
        &["\"TWMD2\"", "overlap", "md.>"],
    );
    // A prefix that is no subject prefix.
    fails(
        "prefix",
        &["--nats", &url, "--nats-prefix", "bad..prefix"],
        &["--nats-prefix", "bad..prefix"],
    );

    // The host needs a worker lcore besides the main one for --nats.
    let prefix = EalPrefix::new("nats-bad");
    let run = run_with_timeout(
        Command::new(BIN)
            .args(eal_no_huge(&prefix))
            .arg("--vdev")
            .arg(format!(
                "net_pcap0,rx_pcap={},tx_pcap={}",
                g.pcap.display(),
                dir.join("tx.pcap").display()
            ))
            .arg("--")
            .args(["--rx-port", "net_pcap0", "--idle-exit", "1s"])
            .args(["--nats", &url]),
        Duration::from_secs(60),
    );
    assert!(!run.status.success(), "host on one lcore with --nats ran");
    assert!(
        run.stderr.contains("--nats") && run.stderr.contains("-l 0,1"),
        "host on one lcore: {}",
        run.stderr
    );
}
