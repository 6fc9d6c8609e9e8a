//! FIX 4.4 market-data sessions served by `tickwire replay --fix-listen`
//! over loopback, driven by real clients: QuickFIX from PyPI
//! (scripts/fix_client.py validates every message against its FIX44.xml)
//! and a raw-socket client for what QuickFIX would never send.
//!
//! The Python venv is `$TICKWIRE_VENV`, else `target/pyenv` (made by
//! scripts/setup.sh with QuickFIX in it); without it these tests fail.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use tickwire::gen::{generate, GenConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let venv = std::env::var_os("TICKWIRE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/pyenv"));
    let py = venv.join("bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import quickfix"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{} cannot import quickfix: run scripts/setup.sh (it builds QuickFIX into the venv)",
        py.display()
    );
    py
}

fn tmpdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fix-replay-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Day {
    itch: PathBuf,
    symbols: PathBuf,
    /// locate → symbol
    names: BTreeMap<u16, String>,
}

/// A generated day as a BinaryFILE: `messages` messages 200 µs apart on
/// average, plus a final system event 2 s after the last one so that a last
/// boundary follows every book change (the final books then reach the
/// clients).
fn day(dir: &Path, messages: u64, gap_ns: u64) -> Day {
    let cfg = GenConfig {
        seed: 11,
        symbols: 20,
        messages,
        mean_gap_ns: gap_ns,
        ..GenConfig::default()
    };
    let mut bin = Vec::new();
    let m = generate(&cfg, Some(&mut bin), None::<&mut Vec<u8>>, None).unwrap();
    let ts = m.last_timestamp_ns + 2_000_000_000;
    let mut s = vec![b'S', 0, 0, 0, 0];
    s.extend_from_slice(&ts.to_be_bytes()[2..]);
    s.push(b'C');
    bin.extend_from_slice(&(s.len() as u16).to_be_bytes());
    bin.extend_from_slice(&s);
    let itch = dir.join("day.itch");
    std::fs::write(&itch, bin).unwrap();
    let names: BTreeMap<u16, String> = m
        .symbols
        .iter()
        .map(|s| {
            (
                s.locate,
                String::from_utf8_lossy(&s.stock).trim().to_string(),
            )
        })
        .collect();
    let symbols = dir.join("symbols.txt");
    std::fs::write(
        &symbols,
        names.values().cloned().collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    Day {
        itch,
        symbols,
        names,
    }
}

/// The tests run one at a time: each starts a server and Python clients
/// with timing expectations, which a machine of 2 cores cannot keep for
/// several at once.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the replayer serving on `port`, in this process.
fn serve(itch: &Path, port: u16, extra: &[&str], stats: &Path) -> JoinHandle<anyhow::Result<()>> {
    let mut args: Vec<String> = vec![
        itch.to_str().unwrap().into(),
        "--fix-listen".into(),
        format!("127.0.0.1:{port}"),
        "--stats-json".into(),
        stats.to_str().unwrap().into(),
        "--quiet".into(),
        "--max-locates".into(),
        "64".into(),
        "--max-orders".into(),
        "100000".into(),
        "--max-levels".into(),
        "100000".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let h = std::thread::spawn(move || tickwire::replay_cli::run(&args));
    // Listening happens before anything else; give it a moment.
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    h
}

fn client(dir: &Path, tag: &str, port: u16, args: &[&str]) -> (Output, Value) {
    let summary = dir.join(format!("{tag}.summary.json"));
    let out = Command::new(python())
        .arg(root().join("scripts/fix_client.py"))
        .args(["--port", &port.to_string(), "-q", "--summary"])
        .arg(&summary)
        .args(["--keep-logs"])
        .arg(dir.join(format!("{tag}.logs")))
        .args(args)
        .output()
        .unwrap();
    let s = std::fs::read_to_string(&summary).unwrap_or_else(|_| {
        panic!(
            "no summary from {tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, serde_json::from_str(&s).unwrap())
}

fn assert_ok(tag: &str, out: &Output, summary: &Value) {
    assert!(
        out.status.success() && summary["ok"] == true,
        "{tag} failed: {}\nstderr: {}",
        summary["errors"],
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_w(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Final best bid/offer per locate from the engine's checkpoint dump:
/// `CHK k locate bid_px bid_qty ask_px ask_qty` (`-` when absent).
fn final_books(itch: &Path, dir: &Path) -> BTreeMap<u16, (String, String)> {
    let chk = dir.join("chk.txt");
    tickwire::replay_cli::run(&[
        itch.to_str().unwrap().to_string(),
        "--no-fix".into(),
        "--quiet".into(),
        "--checkpoints".into(),
        "1000000000".into(),
        "--checkpoint-out".into(),
        chk.to_str().unwrap().into(),
    ])
    .unwrap();
    let px = |s: &str| {
        s.parse::<u64>().map_or_else(
            |_| "-".to_string(),
            |v| format!("{}.{:04}", v / 10_000, v % 10_000),
        )
    };
    std::fs::read_to_string(chk)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 7 && f[0] == "CHK").then(|| {
                (
                    f[2].parse().unwrap(),
                    (
                        format!("{}x{}", px(f[3]), f[4]),
                        format!("{}x{}", px(f[5]), f[6]),
                    ),
                )
            })
        })
        .collect()
}

/// Best bid and offer a 35=W shows, as `price x size` (`-x-` when none).
fn top(w: &Value) -> (String, String) {
    let best = |t: &str| {
        w["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == t)
            .map_or("-x-".to_string(), |e| {
                format!(
                    "{}x{}",
                    e["price"].as_str().unwrap(),
                    e["size"].as_str().unwrap()
                )
            })
    };
    (best("0"), best("1"))
}

#[test]
fn quickfix_clients_subscribe_and_the_stream_ends_at_the_final_books() {
    let _one_at_a_time = serial();
    let dir = tmpdir("stream");
    let d = day(&dir, 20_000, 200_000);
    let port = free_port();
    let stats = dir.join("stats.json");
    // Paced at real time (about 6 s of event time), so that the second
    // client joins while the first one's stream is flowing.
    let server = serve(
        &d.itch,
        port,
        &[
            "--wait-for-subscription",
            "--speed",
            "1x",
            "--linger",
            "3s",
            "--target",
            "CLIENT,CLIENT2",
        ],
        &stats,
    );
    // Two clients at once: one full depth with VWAP, one top of book.
    let sym = d.symbols.to_str().unwrap().to_string();
    let (a_out, b_out) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    let (dir_a, dir_b) = (dir.clone(), dir.clone());
    let (sa, sb) = (sym.clone(), sym);
    let (wa, wb) = (a_out.clone(), b_out.clone());
    let a = std::thread::spawn(move || {
        client(
            &dir_a,
            "a",
            port,
            &[
                "--symbols-file",
                &sa,
                "--depth",
                "0",
                "--types",
                "0,1,9",
                "--subscription",
                "1",
                "--md-req-id",
                "full",
                "--out",
                wa.to_str().unwrap(),
                "--idle-timeout",
                "3",
                "--timeout",
                "60",
            ],
        )
    });
    std::thread::sleep(Duration::from_millis(1500));
    let b = std::thread::spawn(move || {
        client(
            &dir_b,
            "b",
            port,
            &[
                "--symbols-file",
                &sb,
                "--depth",
                "1",
                "--types",
                "0,1",
                "--subscription",
                "1",
                "--md-req-id",
                "top",
                "--sender",
                "CLIENT2",
                "--out",
                wb.to_str().unwrap(),
                "--idle-timeout",
                "3",
                "--timeout",
                "60",
            ],
        )
    });
    let (oa, sa) = a.join().unwrap();
    let (ob, sb) = b.join().unwrap();
    // Client failures first: a server still holding for a subscription
    // would never end.
    assert_ok("client a", &oa, &sa);
    assert_ok("client b", &ob, &sb);
    server.join().unwrap().unwrap();

    let books = final_books(&d.itch, &dir);
    for (tag, path, depth) in [("a", &a_out, 10usize), ("b", &b_out, 1)] {
        let ws = read_w(path);
        let mut last: BTreeMap<String, &Value> = BTreeMap::new();
        for w in &ws {
            let bids = w["entries"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["type"] == "0")
                .count();
            assert!(bids <= depth, "{tag}: {w}");
            last.insert(w["symbol"].as_str().unwrap().to_string(), w);
        }
        assert!(
            ws.len() > 3 * d.names.len(),
            "{tag}: updates flowed ({} W)",
            ws.len()
        );
        assert_final_books(tag, &last, &d, &books);
    }
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let f = &s["fix_sessions"];
    assert_eq!(
        (f["logons"].as_u64(), f["requests"].as_u64()),
        (Some(2), Some(2)),
        "{f}"
    );
    assert_eq!(f["conflated"].as_u64(), Some(0), "{f}");
    let total = read_w(&a_out).len() + read_w(&b_out).len();
    assert_eq!(f["snapshots"].as_u64(), Some(total as u64), "{f}");
}

#[test]
fn session_scenarios_with_quickfix() {
    let _one_at_a_time = serial();
    let dir = tmpdir("scenarios");
    let d = day(&dir, 5_000, 200_000);
    let port = free_port();
    let stats = dir.join("stats.json");
    let server = serve(
        &d.itch,
        port,
        &["--wait-for-subscription", "--linger", "3s"],
        &stats,
    );
    let first = d.names.values().next().unwrap().clone();
    // An unknown symbol: 35=Y with 281=0 (and the input stays held).
    let (out, s) = client(
        &dir,
        "unknown",
        port,
        &[
            "--symbols",
            "NOSUCH",
            "--subscription",
            "1",
            "--expect-reject",
            "--idle-timeout",
            "1",
            "--timeout",
            "20",
        ],
    );
    assert_ok("unknown symbol", &out, &s);
    assert_eq!(s["md_rejects"][0]["reason"], "0", "{}", s["md_rejects"]);
    // TestRequest, ResendRequest, then our Logout: each answered.
    let (out, s) = client(
        &dir,
        "scen",
        port,
        &[
            "--symbols",
            &first,
            "--subscription",
            "1",
            "--send-test-request",
            "PING42",
            "--send-resend-request",
            "1,0",
            "--logout-after",
            "4",
            "--timeout",
            "30",
        ],
    );
    assert_ok("scenarios", &out, &s);
    assert!(
        s["test_request"]["answered_at"].is_number(),
        "{}",
        s["test_request"]
    );
    let resets = s["resend_request"]["sequence_resets"].as_array().unwrap();
    assert_eq!(resets.len(), 1, "{}", s["resend_request"]);
    assert_eq!(
        (
            resets[0]["gap_fill"].as_str(),
            resets[0]["poss_dup"].as_str(),
            resets[0]["msg_seq_num"].as_u64()
        ),
        (Some("Y"), Some("Y"), Some(1))
    );
    let sent_seq = s["resend_request"]["sent_seq"].as_u64().unwrap();
    assert!(
        resets[0]["new_seq_no"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 1,
        "{sent_seq}"
    );
    assert_eq!(s["logout"]["initiated_by"], "client (--logout-after)");
    assert_eq!(
        s["logout"]["server_logouts"][0]["answer_to_ours"], true,
        "{}",
        s["logout"]
    );
    server.join().unwrap().unwrap();
}

/// At --speed max the replay waits for its clients, but not for one that
/// stops reading: past --slow-consumer-grace it is conflated on its own, and
/// after two HeartBtInt logged out and dropped, while the other subscriber's
/// stream still ends at the final books.
#[test]
fn a_client_that_stops_reading_does_not_hold_a_max_speed_replay() {
    let _one_at_a_time = serial();
    let dir = tmpdir("slow");
    let d = day(&dir, 10_000, 200_000);
    let port = free_port();
    let stats = dir.join("stats.json");
    let server = serve(
        &d.itch,
        port,
        &[
            "--wait-for-subscription",
            "--interval",
            "1ms",
            "--window",
            "10ms",
            "--slow-consumer-grace",
            "1s",
            "--linger",
            "3s",
            "--target",
            "CLIENT,SLOW",
        ],
        &stats,
    );
    let mut request = String::from(
        "35=V|34={seq}|49=SLOW|56=TICKWIRE|52={now}|262=SLOW|263=1|264=10|267=3|269=0|269=1|269=9|",
    );
    request.push_str(&format!("146={}|", d.names.len()));
    for n in d.names.values() {
        request.push_str(&format!("55={n}|"));
    }
    // The slow client's request releases the input; it reads 2,000 bytes,
    // then nothing, while it keeps heartbeating (so only the slow-consumer
    // rule can end it).
    let slow = std::thread::spawn(move || {
        raw(
            port,
            &[
                "--send",
                "35=A|34={seq}|49=SLOW|56=TICKWIRE|52={now}|98=0|108=1|141=Y|",
                "--send",
                &request,
                "--delay",
                "0.1",
                "--rcvbuf",
                "4096",
                "--stop-reading-after",
                "2000",
                "--keepalive",
                "35=0|34={seq}|49=SLOW|56=TICKWIRE|52={now}|",
                "--keepalive-every",
                "0.3",
                "--expect-close",
                "--timeout",
                "30",
            ],
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    let sym = d.symbols.to_str().unwrap().to_string();
    let w_out = dir.join("n.jsonl");
    let (out, s) = client(
        &dir,
        "normal",
        port,
        &[
            "--symbols-file",
            &sym,
            "--depth",
            "1",
            "--types",
            "0,1",
            "--subscription",
            "1",
            "--out",
            w_out.to_str().unwrap(),
            "--idle-timeout",
            "3",
            "--timeout",
            "90",
        ],
    );
    let so = slow.join().unwrap();
    assert_ok("normal subscriber next to a stuck one", &out, &s);
    // Dropped by the server (a reset: a Logout queued behind unread data
    // never arrives) well before the client's own 30 s timeout.
    assert!(so.starts_with("exit Some(0)"), "{so}");
    assert!(so.contains("STALL ") && so.contains("CLOSED"), "{so}");
    server.join().unwrap().unwrap();

    let books = final_books(&d.itch, &dir);
    let ws = read_w(&w_out);
    let last: BTreeMap<String, &Value> = ws
        .iter()
        .map(|w| (w["symbol"].as_str().unwrap().to_string(), w))
        .collect();
    assert_final_books("normal", &last, &d, &books);
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let f = &s["fix_sessions"];
    assert_eq!(f["slow_consumer_logouts"].as_u64(), Some(1), "{f}");
    assert!(f["conflated"].as_u64().unwrap() > 0, "{f}");
}

/// With --one-session-per-client, one session per client CompID at a time
/// (QuickFIX's duplicate identity rule): a second Logon as CLIENT while
/// CLIENT is logged on is dropped unanswered; CLIENT2 logs on beside it;
/// once the first is gone, CLIENT logs on again. Without it (the default),
/// connections are sessions and two may share CompIDs.
#[test]
fn one_session_per_client_comp_id() {
    let _one_at_a_time = serial();
    let dir = tmpdir("identity");
    let d = day(&dir, 2_000, 200_000);
    let port = free_port();
    let stats = dir.join("stats.json");
    let server = serve(
        &d.itch,
        port,
        &[
            "--wait-for-subscription",
            "--linger",
            "2s",
            "--target",
            "CLIENT,CLIENT2",
            "--one-session-per-client",
        ],
        &stats,
    );
    let first = std::thread::spawn(move || {
        raw(
            port,
            &["--send", LOGON, "--expect-no-close", "--timeout", "3"],
        )
    });
    std::thread::sleep(Duration::from_millis(700));
    let dup = raw(port, &["--send", LOGON, "--expect-close", "--timeout", "3"]);
    assert!(dup.starts_with("exit Some(0)"), "{dup}");
    assert_eq!(
        received(&dup),
        "",
        "a duplicate Logon gets no answer: {dup}"
    );
    let other = raw(
        port,
        &[
            "--send",
            "35=A|34={seq}|49=CLIENT2|56=TICKWIRE|52={now}|98=0|108=30|141=Y|",
            "--expect",
            "35=A\\|.*56=CLIENT2",
            "--timeout",
            "3",
        ],
    );
    assert!(other.starts_with("exit Some(0)"), "{other}");
    let first = first.join().unwrap();
    assert!(first.starts_with("exit Some(0)"), "{first}");
    assert!(received(&first).contains("35=A"), "{first}");
    let again = raw(
        port,
        &["--send", LOGON, "--expect", "35=A\\|", "--timeout", "3"],
    );
    assert!(again.starts_with("exit Some(0)"), "{again}");
    // Release the held input so the replay ends.
    let f = &release_and_finish(port, &d, server, &stats)["fix_sessions"];
    assert_eq!(f["duplicate_logons"].as_u64(), Some(1), "{f}");
    assert_eq!(f["logons"].as_u64(), Some(4), "{f}");

    // The default: two connections logged on as CLIENT at once.
    let port = free_port();
    let server = serve(
        &d.itch,
        port,
        &["--wait-for-subscription", "--linger", "1s"],
        &stats,
    );
    let first = std::thread::spawn(move || {
        raw(
            port,
            &["--send", LOGON, "--expect-no-close", "--timeout", "2"],
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    let second = raw(
        port,
        &["--send", LOGON, "--expect", "35=A\\|", "--timeout", "2"],
    );
    assert!(second.starts_with("exit Some(0)"), "{second}");
    let first = first.join().unwrap();
    assert!(received(&first).contains("35=A"), "{first}");
    let f = &release_and_finish(port, &d, server, &stats)["fix_sessions"];
    assert_eq!(
        (f["duplicate_logons"].as_u64(), f["logons"].as_u64()),
        (Some(0), Some(3)),
        "{f}"
    );
}

/// Every symbol's last 35=W shows its final book.
fn assert_final_books(
    tag: &str,
    last: &BTreeMap<String, &Value>,
    d: &Day,
    books: &BTreeMap<u16, (String, String)>,
) {
    assert_eq!(last.len(), d.names.len(), "{tag}: every symbol answered");
    for (locate, name) in &d.names {
        let want = books
            .get(locate)
            .cloned()
            .unwrap_or(("-x-".into(), "-x-".into()));
        assert_eq!(
            top(last[name]),
            want,
            "{tag}: final book of {name} (locate {locate})"
        );
    }
}

/// A snapshot request releases a --wait-for-subscription replay; waits for
/// it to end and returns its stats.
fn release_and_finish(
    port: u16,
    d: &Day,
    server: JoinHandle<anyhow::Result<()>>,
    stats: &Path,
) -> Value {
    let o = raw(
        port,
        &[
            "--send",
            LOGON,
            "--send",
            &format!(
                "35=V|34={{seq}}|49=CLIENT|56=TICKWIRE|52={{now}}|262=R|263=0|264=1|267=1|269=0|146=1|55={}|",
                d.names.values().next().unwrap()
            ),
            "--expect",
            "35=W",
            "--timeout",
            "3",
        ],
    );
    assert!(o.starts_with("exit Some(0)"), "{o}");
    server.join().unwrap().unwrap();
    serde_json::from_str(&std::fs::read_to_string(stats).unwrap()).unwrap()
}

fn raw(port: u16, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg(root().join("scripts/fix_raw.py"))
        .args(["--port", &port.to_string()])
        .args(args)
        .output()
        .unwrap();
    format!(
        "exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The RECV lines of a fix_raw.py transcript.
fn received(transcript: &str) -> String {
    transcript
        .lines()
        .filter(|l| l.starts_with("RECV"))
        .collect::<Vec<_>>()
        .join("\n")
}

const LOGON: &str = "35=A|34={seq}|49=CLIENT|56=TICKWIRE|52={now}|98=0|108=30|141=Y|";

#[test]
fn raw_clients_garbage_bad_logons_and_low_sequence_numbers() {
    let _one_at_a_time = serial();
    let dir = tmpdir("raw");
    let d = day(&dir, 2_000, 200_000);
    let port = free_port();
    let stats = dir.join("stats.json");
    // No --wait-for-subscription: the replay runs, then serves on while
    // clients keep coming.
    let server = serve(&d.itch, port, &["--linger", "10s"], &stats);
    // Garbage between messages is ignored; the session answers a
    // TestRequest after it.
    let o = raw(
        port,
        &[
            "--send",
            LOGON,
            "--send",
            "\\x00\\x01garbage=1|8=FIX.4.4|9=5|35=0|10=000|",
            "--send",
            "35=1|34={seq}|49=CLIENT|56=TICKWIRE|52={now}|112=AFTER|",
            "--expect",
            "35=0\\|.*112=AFTER",
            "--timeout",
            "5",
        ],
    );
    assert!(o.starts_with("exit Some(0)"), "{o}");
    // A wrong checksum is garbled: ignored, no answer, sequence not used.
    let o = raw(
        port,
        &[
            "--send",
            LOGON,
            "--send",
            "35=1|34=2|49=CLIENT|56=TICKWIRE|52={now}|112=BAD|10=000|",
            "--send",
            "35=1|34=2|49=CLIENT|56=TICKWIRE|52={now}|112=GOOD|",
            "--expect",
            "112=GOOD",
            "--timeout",
            "5",
        ],
    );
    assert!(
        o.starts_with("exit Some(0)") && !received(&o).contains("112=BAD"),
        "{o}"
    );
    // The first message must be a Logon.
    let o = raw(
        port,
        &[
            "--send",
            "35=1|34=1|49=CLIENT|56=TICKWIRE|52={now}|112=X|",
            "--expect-close",
            "--timeout",
            "5",
        ],
    );
    assert!(
        o.starts_with("exit Some(0)") && !received(&o).contains("35=A"),
        "{o}"
    );
    // Wrong CompIDs at logon: no session.
    let o = raw(
        port,
        &[
            "--send",
            "35=A|34=1|49=INTRUDER|56=TICKWIRE|52={now}|98=0|108=30|",
            "--expect-close",
            "--timeout",
            "5",
        ],
    );
    assert!(
        o.starts_with("exit Some(0)") && !received(&o).contains("|35=A|"),
        "{o}"
    );
    // HeartBtInt out of range: Logout with a reason.
    let o = raw(
        port,
        &[
            "--send",
            "35=A|34=1|49=CLIENT|56=TICKWIRE|52={now}|98=0|108=0|",
            "--expect",
            "35=5\\|",
            "--expect-close",
            "--timeout",
            "5",
        ],
    );
    assert!(o.starts_with("exit Some(0)"), "{o}");
    // Sequence too low without PossDup: Logout naming both numbers.
    let o = raw(
        port,
        &[
            "--send",
            LOGON,
            "--send",
            "35=0|34=2|49=CLIENT|56=TICKWIRE|52={now}|",
            "--send",
            "35=0|34=2|49=CLIENT|56=TICKWIRE|52={now}|",
            "--expect",
            "58=MsgSeqNum too low, expecting 3 but received 2",
            "--expect-close",
            "--timeout",
            "5",
        ],
    );
    assert!(o.starts_with("exit Some(0)"), "{o}");
    // Too high: processed, and a ResendRequest for the gap.
    let o = raw(
        port,
        &[
            "--send",
            LOGON,
            "--send",
            "35=1|34=5|49=CLIENT|56=TICKWIRE|52={now}|112=HIGH|",
            "--expect",
            "35=2\\|.*7=2\\|16=0\\|",
            "--expect",
            "112=HIGH",
            "--timeout",
            "5",
        ],
    );
    assert!(o.starts_with("exit Some(0)"), "{o}");
    server.join().unwrap().unwrap();
}
