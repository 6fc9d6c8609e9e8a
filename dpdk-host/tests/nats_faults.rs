//! The host's NATS bridge when the server goes away: a real `nats-server`
//! (Debian's, one JetStream server with its store in the test's temp dir) is
//! SIGKILLed while the host publishes and restarted (same port, same store)
//! about 1.5 s later.
//!
//! The host reads a live feed over loopback (net_pcap `rx_iface=lo`, as in
//! metrics.rs): `tickwire send` paces a generated day (40,000 messages, 50
//! symbols) at 6,000 messages/s to a UDP port on 127.0.0.1, and the host
//! (`--interval 10ms`, so book records flow all the time) stops at the end
//! of session; it reaches nats-server on 127.0.0.1 from the root namespace.
//!
//! 1. `server_killed_mid_run_is_survived_and_counted` (`--nats-stream`,
//!    `--nats-ring 256`, `--nats-ack-timeout 500ms`, `--nats-retries 1`):
//!    - the feed path never waited for NATS: every message applied, no gap;
//!    - the stats' `nats`: connects >= 2, reconnects and disconnects >= 1,
//!      connected at the end, nothing in flight or queued, offered ==
//!      dropped + published, published == acked + failed, and something was
//!      dropped, failed or retried (else the fault was not exercised);
//!    - the stream read from its start (`tickwire subscribe --stream`): no
//!      pub_seq twice, none above `offered`, at most dropped + failed of
//!      1..=offered missing, and at least acked - acked_duplicate stored;
//!    - `/metrics` while it runs: `tickwire_nats_offered_total` > 0 and
//!      `tickwire_nats_connected` 1 before the kill, 0 within a second of it,
//!      1 again (with `tickwire_nats_connects_total` >= 2) after the
//!      restart; `promtool check metrics` accepts the exposition.
//! 2. `core_nats_outage_is_survived_and_counted` (no stream, at most once):
//!    the host goes on through the outage, reconnects (seen on /metrics),
//!    publishes again afterwards, and its counters add up (offered ==
//!    dropped + published, nothing acknowledged).
//!
//! The runs are serialized (each busy-polls two lcores). Servers, processes,
//! temp dirs and EAL runtime dirs are cleaned up on drop, also on failure.
//! Needs root (net_pcap on lo), nats-server and promtool (scripts/setup.sh).

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

use common::nats::{free_port, NatsServer};
use common::*;
use serde_json::Value;

const STREAM: &str = "TWFAULTS";
const MESSAGES: u64 = 40_000;
const RATE: &str = "6000";
/// From the sender's start: the kill, then the restart.
const KILL_AT: Duration = Duration::from_millis(1500);
const OUTAGE: Duration = Duration::from_millis(1500);

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The value of an unlabelled series in an exposition.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse().ok())
}

fn scrape(port: u16) -> String {
    let (code, body) = http_get(port, "/metrics").expect("GET /metrics");
    assert_eq!(code, 200, "/metrics: {body}");
    body
}

/// Scrapes until `ok` holds for the exposition, up to `within`.
fn scrape_until(port: u16, within: Duration, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + within;
    loop {
        let body = scrape(port);
        if ok(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/metrics: {what} not seen within {within:?}:\n{}",
            nats_lines(&body)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn nats_lines(body: &str) -> String {
    body.lines()
        .filter(|l| l.starts_with("tickwire_nats_"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn promtool_accepts(dir: &TempDir, text: &str) {
    let expo = dir.join("metrics.txt");
    std::fs::write(&expo, text).unwrap();
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&expo).unwrap())
        .output()
        .expect("promtool (scripts/setup.sh installs Debian's prometheus)");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What one run left.
struct Run {
    /// The host's stats JSON.
    host: Value,
    /// Its stderr.
    host_err: String,
    server: NatsServer,
    dir: TempDir,
}

/// Runs the host on a paced loopback feed publishing to a fresh server
/// (`nats_args` after `--nats URL`), kills the server KILL_AT after the
/// sender starts and restarts it OUTAGE later, and checks /metrics on the
/// way. Returns once the host stopped at the end of session.
fn run(tag: &str, nats_args: &[&str]) -> Run {
    let dir = TempDir::new(&format!("nats-faults-{tag}"));
    let g = generate(
        &dir,
        "day",
        &[
            "--seed",
            "3",
            "--symbols",
            "50",
            "--messages",
            &MESSAGES.to_string(),
            "--mean-gap-ns",
            "50000",
        ],
    );
    assert_eq!(u(&g.manifest, "total_messages"), MESSAGES);
    let session = g.manifest["pcap"]["session"]
        .as_str()
        .expect("session")
        .to_string();
    let mut server = NatsServer::start(dir.path(), "n0", None);
    server.wait_healthy(Duration::from_secs(20));

    // Takes the datagrams (no ICMP port unreachable back to the sender);
    // the host sees them on lo.
    let sink = UdpSocket::bind("127.0.0.1:0").expect("feed sink");
    let feed_port = sink.local_addr().unwrap().port();
    let metrics_port = free_port();
    let prefix = EalPrefix::new(&format!("natsf-{tag}"));
    let stats = dir.join("host.json");
    let mut eal = eal_no_huge(&prefix);
    let l = eal.iter().position(|a| a == "-l").expect("-l");
    // --nats: the main lcore moves the records, a worker polls the feed.
    eal[l + 1] = "0,1".into();
    let mut host = Guarded::spawn(
        Command::new(BIN)
            .args(&eal)
            .args(["--vdev", "net_pcap0,rx_iface=lo"])
            .arg("--")
            .args(["--rx-port", "net_pcap0", "--no-udp-output"])
            .args(["--ports", &feed_port.to_string()])
            .args(["--interval", "10ms"])
            .args(["--max-orders", "100000", "--max-levels", "200000"])
            .args(["--exit-on-end-of-session", "--idle-exit", "20s"])
            .args(["--stats-interval", "0s", "--stats-json"])
            .arg(&stats)
            .args(["--metrics-listen", &metrics_port.to_string()])
            .args(["--nats", &server.url()])
            .args(nats_args),
    );
    host.wait_for_line("metrics on http://", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("host did not start: {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while http_get(metrics_port, "/livez").map(|r| r.0) != Ok(200) {
        assert!(Instant::now() < deadline, "host never live");
        std::thread::sleep(Duration::from_millis(50));
    }

    let t0 = Instant::now();
    let mut sender = Guarded::spawn(
        Command::new(BIN)
            .arg("send")
            .arg(&g.itch)
            .args(["--session", &session, "--rate", RATE])
            .args(["--line-a", &format!("127.0.0.1:{feed_port}")])
            .args(["--end-of-session", "--linger", "1s"]),
    );

    // Publishing and connected, before the kill.
    std::thread::sleep(KILL_AT.saturating_sub(Duration::from_millis(500)));
    let before = scrape_until(
        metrics_port,
        Duration::from_millis(400),
        "records offered while connected",
        |b| {
            sample(b, "tickwire_nats_offered_total").is_some_and(|v| v > 0.0)
                && sample(b, "tickwire_nats_connected") == Some(1.0)
        },
    );
    promtool_accepts(&dir, &before);
    std::thread::sleep(KILL_AT.saturating_sub(t0.elapsed()));
    server.kill();
    let killed = Instant::now();
    eprintln!(
        "{tag}: server killed {:.2} s into the feed",
        t0.elapsed().as_secs_f64()
    );
    scrape_until(
        metrics_port,
        Duration::from_secs(1),
        "connected 0 after the kill",
        |b| sample(b, "tickwire_nats_connected") == Some(0.0),
    );
    std::thread::sleep(OUTAGE.saturating_sub(killed.elapsed()));
    server.restart();
    server.wait_healthy(Duration::from_secs(20));
    eprintln!(
        "{tag}: server back {:.2} s into the feed",
        t0.elapsed().as_secs_f64()
    );
    // Backoff at most 2 s, then the client reconnects.
    let back = scrape_until(metrics_port, Duration::from_secs(4), "reconnected", |b| {
        sample(b, "tickwire_nats_connected") == Some(1.0)
            && sample(b, "tickwire_nats_connects_total").is_some_and(|v| v >= 2.0)
    });
    let published_back = sample(&back, "tickwire_nats_published_total").unwrap_or(0.0);
    // Publishing again after the reconnect (the feed still runs).
    scrape_until(
        metrics_port,
        Duration::from_secs(2),
        "publishing after the reconnect",
        |b| sample(b, "tickwire_nats_published_total").is_some_and(|v| v > published_back),
    );
    let sent_for = t0.elapsed();

    let (ok, err) = sender.wait(Duration::from_secs(30));
    assert!(ok, "tickwire send: {err}");
    assert!(
        t0.elapsed() > KILL_AT + OUTAGE + Duration::from_secs(1),
        "the feed ended {:.2} s in, before the outage was over ({sent_for:?})",
        t0.elapsed().as_secs_f64()
    );
    let (ok, host_err) = host.wait(Duration::from_secs(30));
    assert!(
        ok,
        "host failed or did not stop at the end of session:\n{host_err}"
    );
    drop(sink);
    eprintln!(
        "{tag}: feed and host done {:.2} s after the sender started",
        t0.elapsed().as_secs_f64()
    );
    Run {
        host: read_json(&stats),
        host_err,
        server,
        dir,
    }
}

/// Checks shared by both runs: the feed was processed whole, the bridge
/// went through a disconnect and a reconnect, and its counters add up.
fn check_common(r: &Run) -> Value {
    let h = &r.host;
    let ctx = || format!("host stats:\n{h:#}\nstderr:\n{}", r.host_err);
    assert_eq!(u(h, "messages.applied"), MESSAGES, "{}", ctx());
    assert_eq!(u(h, "messages.missing"), 0, "{}", ctx());
    assert_eq!(u(h, "packets.gap_opening"), 0, "{}", ctx());
    assert_eq!(u(h, "packets.end_of_session"), 1, "{}", ctx());
    let n = h["nats"].clone();
    assert!(n.is_object(), "no nats in the stats: {}", ctx());
    let c = |k: &str| u(&n, k);
    assert!(c("offered") > 0, "{}", ctx());
    assert!(c("connects") >= 2 && c("reconnects") >= 1, "{}", ctx());
    assert!(c("disconnects") >= 1, "{}", ctx());
    assert_eq!(c("connected"), 1, "{}", ctx());
    assert_eq!(c("in_flight"), 0, "{}", ctx());
    assert_eq!(c("queued"), 0, "{}", ctx());
    assert_eq!(
        c("offered"),
        c("dropped") + c("published"),
        "offered == dropped + published: {}",
        ctx()
    );
    n
}

#[test]
fn server_killed_mid_run_is_survived_and_counted() {
    let _s = serial();
    let t0 = Instant::now();
    let r = run(
        "js",
        &[
            "--nats-stream",
            STREAM,
            "--nats-ring",
            "256",
            "--nats-ack-timeout",
            "500ms",
            "--nats-retries",
            "1",
        ],
    );
    let n = check_common(&r);
    let c = |k: &str| u(&n, k);
    eprintln!("js: nats {n}");
    assert_eq!(
        c("published"),
        c("acked") + c("failed"),
        "published == acked + failed: {n:#}"
    );
    assert!(
        c("dropped") + c("failed") + c("retried") > 0,
        "nothing dropped, failed or retried: the outage was not felt\n{n:#}"
    );

    // The stream from its start.
    let sub_stats = r.dir.join("sub.json");
    run_with_timeout(
        Command::new(BIN)
            .args(["subscribe", "--nats", &r.server.url(), "md.>"])
            .args(["--stream", STREAM, "--quiet", "--idle-exit", "2s"])
            .arg("--stats-json")
            .arg(&sub_stats),
        Duration::from_secs(60),
    )
    .assert_success("tickwire subscribe --stream");
    let s = read_json(&sub_stats);
    eprintln!("js: stream {s}");
    let ctx = || {
        format!(
            "stream:\n{s:#}\nbridge:\n{n:#}\nserver log:\n{}",
            r.server.log()
        )
    };
    assert_eq!(u(&s, "undecodable"), 0, "{}", ctx());
    assert_eq!(u(&s, "pub_seq_duplicates"), 0, "{}", ctx());
    let stored = u(&s, "messages");
    assert!(stored > 0, "{}", ctx());
    assert!(u(&s, "pub_seq_first") >= 1, "{}", ctx());
    assert!(u(&s, "pub_seq_last") <= c("offered"), "{}", ctx());
    // Distinct pub_seqs stored; the rest of 1..=offered is missing.
    let missing = c("offered") - stored;
    assert!(
        missing <= c("dropped") + c("failed"),
        "{missing} records missing from the stream, only {} counted lost\n{}",
        c("dropped") + c("failed"),
        ctx()
    );
    assert!(
        stored >= c("acked") - c("acked_duplicate"),
        "{stored} stored, {} acknowledged as new\n{}",
        c("acked") - c("acked_duplicate"),
        ctx()
    );
    eprintln!(
        "js: {missing} missing of {} offered (dropped {}, failed {}, retried {}), {:.1} s",
        c("offered"),
        c("dropped"),
        c("failed"),
        c("retried"),
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn core_nats_outage_is_survived_and_counted() {
    let _s = serial();
    let t0 = Instant::now();
    let r = run("core", &["--nats-ring", "256"]);
    let n = check_common(&r);
    eprintln!("core: nats {n}");
    let c = |k: &str| u(&n, k);
    assert_eq!(c("acked") + c("retried") + c("in_flight_max"), 0, "{n:#}");
    assert!(c("published") > 0, "{n:#}");
    eprintln!("core: {:.1} s", t0.elapsed().as_secs_f64());
}
