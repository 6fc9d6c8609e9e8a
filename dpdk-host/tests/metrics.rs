//! `--metrics-listen`, DPDK telemetry and the Grafana dashboard, on the real
//! binary under the EAL (no hugepages, telemetry on):
//!
//! * a finite net_pcap feed (the host keeps running after it, counters
//!   frozen): `promtool check metrics` accepts `/metrics`; Debian's
//!   `prometheus`, scraping the host every second on loopback, returns the
//!   same value as `--stats-json` for every counter there; `/livez` is 200;
//!   `dpdk-telemetry.py` lists our commands and returns `/tickwire/stats`;
//!   every `expr` of docs/grafana/tickwire.json names only exported series
//!   and Prometheus evaluates it;
//! * a live feed over loopback (net_pcap `rx_iface=lo`, `tickwire send`):
//!   `/readyz` 503 before the feed, 200 while it flows, 503 once nothing
//!   arrived for `--stale-after`, 200 again when it resumes.
//!
//! Needs root, net_pcap, and `promtool`, `prometheus`, `dpdk-telemetry.py`
//! (scripts/setup.sh installs them: `prometheus`, `dpdk-dev`).

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// `NAME{labels} value` lines of an exposition, as (series, value).
fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn sample(text: &str, name: &str) -> Option<f64> {
    samples(text)
        .into_iter()
        .filter(|(k, _)| k == name || k.starts_with(&format!("{name}{{")))
        .map(|(_, v)| v)
        .reduce(|a, b| a + b)
}

fn tool(name: &str) -> Option<String> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn eal(prefix: &EalPrefix) -> Vec<String> {
    // Telemetry on (no --no-telemetry): dpdk-telemetry.py talks to it.
    [
        "--no-huge",
        "-m",
        "1024",
        "--no-pci",
        "-l",
        "0,1",
        "--log-level=warning",
        "--file-prefix",
        prefix.name(),
    ]
    .map(String::from)
    .to_vec()
}

fn json_at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

/// Prometheus' instant query: the value of its only (summed) sample.
fn prom_value(port: u16, expr: &str) -> Result<Option<f64>, String> {
    let q: String = expr
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (code, body) = http_get(port, &format!("/api/v1/query?query={q}"))?;
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    if code != 200 || v["status"] != "success" {
        return Err(format!("{expr}: HTTP {code}: {body}"));
    }
    Ok(v["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok()))
}

/// Metric names an expression uses.
fn names_in(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while let Some(off) = expr[i..].find("tickwire_") {
        let s = i + off;
        let mut e = s;
        while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'_') {
            e += 1;
        }
        if s == 0 || !(b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'_') {
            out.insert(expr[s..e].to_string());
        }
        i = e;
    }
    out
}

fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "expr" {
                    if let Some(s) = x.as_str() {
                        out.push(s.to_string());
                    }
                } else {
                    exprs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| exprs(x, out)),
        _ => {}
    }
}

#[test]
fn metrics_prometheus_telemetry_dashboard() {
    let t0 = Instant::now();
    let (Some(promtool), Some(prometheus), Some(telemetry)) = (
        tool("promtool"),
        tool("prometheus"),
        tool("dpdk-telemetry.py"),
    ) else {
        eprintln!("SKIP: promtool, prometheus or dpdk-telemetry.py missing (run scripts/setup.sh: packages prometheus, dpdk-dev)");
        return;
    };
    let dir = TempDir::new("metrics");
    let prefix = EalPrefix::new("metrics");
    let g = generate(&dir, "feed", &["--messages", "20000", "--symbols", "20"]);
    let port = free_port();
    let stats = dir.join("stats.json");
    let mut host = Guarded::spawn(
        Command::new(BIN)
            .args(eal(&prefix))
            .arg("--vdev")
            .arg(format!(
                "net_pcap0,rx_pcap={},tx_pcap={}",
                g.pcap.display(),
                dir.join("fix.pcap").display()
            ))
            .arg("--")
            .args(["--rx-port", "net_pcap0", "--stats-interval", "0s"])
            // Lines mode: feed session and line series too.
            .args(["--line-a", "net_pcap0"])
            .args(["--max-orders", "100000", "--max-levels", "200000"])
            .args(["--metrics-listen", &port.to_string()])
            .arg("--stats-json")
            .arg(&stats),
    );
    host.wait_for_line("metrics on http://", Duration::from_secs(30))
        .unwrap();

    // The pcap is over once two scrapes 300 ms apart agree.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    let text = loop {
        let (code, body) = http_get(port, "/metrics").unwrap();
        assert_eq!(code, 200);
        let applied = sample(&body, "tickwire_messages_applied_total").unwrap_or(0.0);
        if applied > 0.0
            && sample(&body, "tickwire_rx_packets_total")
                == sample(&last, "tickwire_rx_packets_total")
        {
            break body;
        }
        assert!(Instant::now() < deadline, "feed never settled:\n{body}");
        last = body;
        std::thread::sleep(Duration::from_millis(300));
    };
    let (code, body) = http_get(port, "/livez").unwrap();
    assert_eq!((code, body.as_str()), (200, "live\n"));

    // (a) promtool accepts the exposition.
    let expo = dir.join("metrics.txt");
    std::fs::write(&expo, &text).unwrap();
    let out = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&expo).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // (c) DPDK telemetry: our commands listed, /tickwire/stats answers.
    let mut py = Command::new(&telemetry)
        .args(["-f", prefix.name()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    py.stdin
        .take()
        .unwrap()
        .write_all(b"/\n/tickwire/stats\n/tickwire/sessions\n")
        .unwrap();
    let out = py.wait_with_output().unwrap();
    let tel = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "dpdk-telemetry.py: {tel}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        tel.contains("\"/tickwire/stats\"") && tel.contains("\"/tickwire/sessions\""),
        "{tel}"
    );
    let applied = sample(&text, "tickwire_messages_applied_total").unwrap() as u64;
    assert!(
        tel.contains(&format!("\"messages_applied\": {applied}")),
        "messages_applied {applied} not in telemetry:\n{tel}"
    );
    assert!(tel.contains("\"w0/TICKWIRE01\""), "{tel}");

    // (b) Prometheus scrapes the host every second.
    let pport = free_port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: tickwire\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let prom = Guarded::spawn(
        Command::new(&prometheus)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{pport}")),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(v)) = prom_value(pport, "sum(tickwire_messages_applied_total)") {
            if v as u64 == applied {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "prometheus never scraped the host: {:?}",
            prom.lines()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Every counter family with a stats JSON path, as Prometheus has it.
    let mut checks = Vec::new();
    let mut help = "";
    for l in text.lines() {
        if let Some(h) = l.strip_prefix("# HELP ") {
            help = h;
        } else if let Some(t) = l.strip_prefix("# TYPE ") {
            let (name, kind) = t.split_once(' ').unwrap();
            let path = help
                .split_once("stats JSON: ")
                .map(|(_, p)| p.trim_end_matches('.'));
            if let Some(path) = path.filter(|p| kind == "counter" && !p.contains('{')) {
                let v = prom_value(pport, &format!("sum({name})")).unwrap();
                checks.push((name.to_string(), path.to_string(), v));
            }
        }
    }
    // Dashboard: every expr names exported series and evaluates.
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/grafana/tickwire.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut all = Vec::new();
    exprs(&dash, &mut all);
    assert!(all.len() >= 6, "dashboard has {} exprs", all.len());
    // Sample names, and family names declared (# TYPE) in the scrape.
    let mut exported: BTreeSet<String> = samples(&text)
        .into_iter()
        .map(|(k, _)| k.split('{').next().unwrap().to_string())
        .collect();
    exported.extend(text.lines().filter_map(|l| {
        l.strip_prefix("# TYPE ")
            .and_then(|t| t.split(' ').next())
            .map(String::from)
    }));
    for e in &all {
        let names = names_in(e);
        assert!(!names.is_empty(), "expr names no tickwire series: {e}");
        for n in names {
            assert!(
                exported.contains(&n),
                "dashboard expr {e:?} uses {n}, not exported"
            );
        }
        let q = e
            .replace("$__rate_interval", "5s")
            .replace("$__interval", "5s");
        prom_value(pport, &q).unwrap_or_else(|err| panic!("prometheus rejects {e}: {err}"));
    }
    drop(prom);

    // Stop the host: its --stats-json has the same final counters.
    host.interrupt();
    let (ok, err) = host.wait(Duration::from_secs(30));
    assert!(ok, "host: {err}");
    let v = read_json(&stats);
    let mut compared = 0;
    for (name, path, got) in &checks {
        let want = json_at(&v, path)
            .or_else(|| json_at(&v["workers"][0], path))
            .and_then(Value::as_u64);
        let Some(want) = want else { continue };
        assert_eq!(
            got.map(|g| g as u64).unwrap_or(0),
            want,
            "{name} (stats JSON {path})"
        );
        compared += 1;
    }
    assert!(
        compared >= 40,
        "only {compared} counters compared: {checks:?}"
    );
    for must in [
        "messages.applied",
        "rx_packets",
        "fix.sent",
        "packets.total",
        "rx_port.ipackets",
    ] {
        assert!(
            checks.iter().any(|(_, p, _)| p == must),
            "{must} not compared"
        );
    }
    eprintln!(
        "metrics: {compared} counters equal in Prometheus and --stats-json, {} dashboard exprs, {:.1} s",
        all.len(),
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn readyz_follows_the_feed() {
    let t0 = Instant::now();
    let dir = TempDir::new("readyz");
    let prefix = EalPrefix::new("readyz");
    let g = generate(
        &dir,
        "feed",
        &["--messages", "3000", "--symbols", "5", "--format", "both"],
    );
    // Absorbs the datagrams (no ICMP port unreachable back to the sender).
    let feed_port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _sink = UdpSocket::bind(("127.0.0.1", feed_port));
    let port = free_port();
    let mut host = Guarded::spawn(
        Command::new(BIN)
            .args(eal(&prefix))
            .args(["--no-telemetry", "--vdev"])
            .arg(format!(
                "net_pcap0,rx_iface=lo,tx_pcap={}",
                dir.join("fix.pcap").display()
            ))
            .arg("--")
            .args(["--rx-port", "net_pcap0", "--stats-interval", "0s"])
            .args(["--ports", &feed_port.to_string()])
            .args(["--metrics-listen", &port.to_string(), "--stale-after", "1s"]),
    );
    host.wait_for_line("metrics on http://", Duration::from_secs(30))
        .unwrap();
    let ready = |want: u16, within: Duration| -> String {
        let deadline = Instant::now() + within;
        loop {
            let (code, body) = http_get(port, "/readyz").unwrap();
            if code == want {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "/readyz stayed {code} ({body}), want {want}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let body = ready(503, Duration::from_secs(5));
    assert!(body.contains("nothing received"), "{body}");
    // Live once the worker's poll loop runs (the server starts first).
    let deadline = Instant::now() + Duration::from_secs(5);
    while http_get(port, "/livez").unwrap().0 != 200 {
        assert!(Instant::now() < deadline, "{:?}", http_get(port, "/livez"));
        std::thread::sleep(Duration::from_millis(50));
    }
    let send = || {
        Guarded::spawn(
            Command::new(BIN)
                .args(["send", "--session", "TICKWIRE01", "--rate", "2000"])
                .args(["--line-a", &format!("127.0.0.1:{feed_port}")])
                .arg(&g.itch),
        )
    };
    // Flowing: ready; stopped for --stale-after: not; flowing again: ready.
    let mut s1 = send();
    ready(200, Duration::from_secs(5));
    let _ = s1.wait(Duration::from_secs(10));
    let body = ready(503, Duration::from_secs(5));
    assert!(body.contains("nothing received for"), "{body}");
    let mut s2 = send();
    ready(200, Duration::from_secs(5));
    let _ = s2.wait(Duration::from_secs(10));
    host.interrupt();
    let (ok, err) = host.wait(Duration::from_secs(30));
    assert!(ok, "host: {err}");
    eprintln!("readyz: {:.1} s", t0.elapsed().as_secs_f64());
}
