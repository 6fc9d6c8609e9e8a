//! Helpers shared by the host's integration tests (`host_pcap.rs`,
//! `host_veth.rs`, ...): temporary directories and EAL runtime directories that
//! clean up after themselves, running the real `tickwire` binary with a
//! timeout, the generator and the replayer, an independent FIX 4.4 parser
//! (BodyLength and CheckSum recomputed here), and an independent
//! Ethernet/IPv4/UDP walk of pcap files.
//!
//! Only one EAL may live in a process, so every test runs the binary.
#![allow(dead_code)] // each test crate uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tickwire::pcap::PcapReader;

pub mod nats;
pub mod netns;
pub mod tap;

/// An HTTP/1.1 GET on loopback: (status, body).
pub fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).map_err(|e| e.to_string())?;
    let (head, body) = buf.split_once("\r\n\r\n").ok_or("no header end")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("no status")?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Ok((status, body.to_string()));
    }
    // Go's net/http (nats-server's monitoring) chunks large bodies.
    let (mut rest, mut out) = (body, String::new());
    loop {
        let (size, after) = rest.split_once("\r\n").ok_or("truncated chunk")?;
        let size =
            usize::from_str_radix(size.trim(), 16).map_err(|e| format!("chunk size: {e}"))?;
        if size == 0 {
            return Ok((status, out));
        }
        out.push_str(after.get(..size).ok_or("short chunk")?);
        rest = after.get(size + 2..).ok_or("chunk without CRLF")?;
    }
}

/// The release binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_tickwire");

/// SOH, the FIX field separator.
pub const SOH: u8 = 0x01;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh directory under the system temp dir, removed on drop (kept when
/// `TICKWIRE_KEEP_TEST_FILES=1`, for debugging).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A new empty directory whose name carries `tag`, the pid and a counter.
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "tickwire-host-test-{tag}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside it.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("TICKWIRE_KEEP_TEST_FILES").is_some_and(|v| v == "1") {
            eprintln!("keeping {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Whether we run as root (EAL then keeps its runtime files in /var/run/dpdk).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Where the EAL keeps per-prefix runtime directories.
pub fn eal_runtime_root() -> PathBuf {
    if running_as_root() {
        PathBuf::from("/var/run/dpdk")
    } else {
        std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join("dpdk")
    }
}

/// A unique `--file-prefix`; its EAL runtime directory is removed on drop.
#[derive(Debug)]
pub struct EalPrefix {
    name: String,
}

impl EalPrefix {
    /// `twt-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> EalPrefix {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = EalPrefix {
            name: format!("twt-{tag}-{}-{n}", std::process::id()),
        };
        let _ = std::fs::remove_dir_all(p.runtime_dir());
        p
    }

    /// The prefix.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/var/run/dpdk/<prefix>` (or the non-root equivalent).
    pub fn runtime_dir(&self) -> PathBuf {
        eal_runtime_root().join(&self.name)
    }
}

impl Drop for EalPrefix {
    fn drop(&mut self) {
        // The EAL leaves config/fbarray files behind even after a clean exit.
        let _ = std::fs::remove_dir_all(self.runtime_dir());
    }
}

/// EAL arguments for a test run without hugepages, PCI or telemetry, on
/// lcore 0 only, with a unique file prefix.
pub fn eal_no_huge(prefix: &EalPrefix) -> Vec<String> {
    [
        "--no-huge",
        "-m",
        "1024",
        "--no-pci",
        "--no-telemetry",
        "-l",
        "0",
        "--log-level=warning",
        "--file-prefix",
        prefix.name(),
    ]
    .map(String::from)
    .to_vec()
}

/// What a finished child left.
#[derive(Debug)]
pub struct Finished {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Finished {
    /// Panics with the output when the command failed.
    pub fn assert_success(&self, what: &str) -> &Self {
        assert!(
            self.status.success(),
            "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
}

fn drain<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        buf
    })
}

/// Runs `cmd` to completion with stdout/stderr captured; kills it (by its
/// own pid) and panics after `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Finished {
    let t0 = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_deadline(&mut child, t0 + timeout);
    let stdout = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    match status {
        Some(status) => Finished {
            status,
            stdout,
            stderr,
            elapsed: t0.elapsed(),
        },
        None => panic!(
            "{cmd:?} did not finish within {timeout:?}; killed.\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        ),
    }
}

/// Waits for `child` until `deadline`; kills and reaps it then (None).
pub fn wait_deadline(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for a child: {e}"),
        }
    }
}

/// A child we started; killed (by its own pid) and reaped on drop if it is
/// still running.
pub struct Guarded {
    child: Child,
    stderr: mpsc::Receiver<String>,
    lines: Vec<String>,
}

impl Guarded {
    /// Spawns with stderr read line by line on a thread.
    pub fn spawn(cmd: &mut Command) -> Guarded {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Guarded {
            child,
            stderr: rx,
            lines: Vec::new(),
        }
    }

    /// Waits until a stderr line contains `needle`.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(needle);
                    self.lines.push(l);
                    if hit {
                        return Ok(());
                    }
                }
                Err(_) => {
                    return Err(format!(
                        "no {needle:?} within {timeout:?}; stderr so far:\n{}",
                        self.lines.join("\n")
                    ))
                }
            }
        }
    }

    /// The stderr lines read so far.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// Waits for the exit; returns (success, all stderr).
    pub fn wait(&mut self, timeout: Duration) -> (bool, String) {
        let status = wait_deadline(&mut self.child, Instant::now() + timeout);
        // The reader thread ends at EOF once the child is gone.
        while let Ok(l) = self.stderr.recv_timeout(Duration::from_secs(2)) {
            self.lines.push(l);
        }
        let text = self.lines.join("\n");
        match status {
            Some(s) => (s.success(), text),
            None => (false, format!("killed after {timeout:?}\n{text}")),
        }
    }

    /// SIGINT (tcpdump flushes and exits; tickwire stops and reports).
    pub fn interrupt(&self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) with the pid of our own, not yet reaped child (so the
        // pid cannot have been reused) and a valid signal number.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads and parses a JSON file.
pub fn read_json(p: &Path) -> Value {
    let s = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("parse {}: {e}", p.display()))
}

/// The unsigned integer at a dotted path (`packets.total`); panics if absent.
pub fn u(v: &Value, path: &str) -> u64 {
    let mut cur = v;
    for k in path.split('.') {
        cur = &cur[k];
    }
    cur.as_u64()
        .unwrap_or_else(|| panic!("{path} is not an unsigned integer in {v:#}"))
}

/// A generated stream: the files `tickwire gen` wrote and its manifest.
#[derive(Debug)]
pub struct Generated {
    /// `<out>.pcap`.
    pub pcap: PathBuf,
    /// `<out>.itch` (when the format includes it).
    pub itch: PathBuf,
    /// `<out>.manifest.json`, parsed.
    pub manifest: Value,
}

/// Runs `tickwire gen ARGS --out DIR/NAME --quiet`.
pub fn generate(dir: &TempDir, name: &str, args: &[&str]) -> Generated {
    let out = dir.join(name);
    run_with_timeout(
        Command::new(BIN)
            .arg("gen")
            .args(args)
            .arg("--out")
            .arg(&out)
            .arg("--quiet"),
        Duration::from_secs(120),
    )
    .assert_success("tickwire gen");
    let with = |ext: &str| {
        let mut s = out.clone().into_os_string();
        s.push(ext);
        PathBuf::from(s)
    };
    Generated {
        pcap: with(".pcap"),
        itch: with(".itch"),
        manifest: read_json(&with(".manifest.json")),
    }
}

/// The replayer's output on one input.
#[derive(Debug)]
pub struct Replayed {
    /// Raw FIX bytes.
    pub fix: Vec<u8>,
    /// Its `--stats-json`.
    pub stats: Value,
}

/// Runs `tickwire replay INPUT --out DIR/NAME.fix --stats-json ... EXTRA`.
pub fn replay(dir: &TempDir, name: &str, input: &Path, extra: &[&str]) -> Replayed {
    let fix = dir.join(format!("{name}.fix"));
    let stats = dir.join(format!("{name}.replay.json"));
    run_with_timeout(
        Command::new(BIN)
            .arg("replay")
            .arg(input)
            .arg("--out")
            .arg(&fix)
            .arg("--stats-json")
            .arg(&stats)
            .arg("--quiet")
            .args(extra),
        Duration::from_secs(300),
    )
    .assert_success("tickwire replay");
    Replayed {
        fix: std::fs::read(&fix).unwrap(),
        stats: read_json(&stats),
    }
}

// ---------------------------------------------------------------------------
// FIX 4.4, parsed independently of tickwire_core::fix.

/// One FIX message, checked and split into fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixMsg {
    /// The whole message, SOH included.
    pub raw: Vec<u8>,
    /// (tag, value) in order, 8 to 10 included.
    pub fields: Vec<(u32, Vec<u8>)>,
}

impl FixMsg {
    /// The value of the first `tag`.
    pub fn get(&self, tag: u32) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_slice())
    }

    /// MsgSeqNum (34).
    pub fn seq(&self) -> u64 {
        let v = self.get(34).expect("34 present");
        std::str::from_utf8(v).unwrap().parse().unwrap()
    }

    /// The fields without the ignored tags.
    pub fn without(&self, ignore: &[u32]) -> Vec<(u32, &[u8])> {
        self.fields
            .iter()
            .filter(|(t, _)| !ignore.contains(t))
            .map(|(t, v)| (*t, v.as_slice()))
            .collect()
    }
}

/// The message with SOH shown as `|`.
pub fn printable(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).replace('\u{1}', "|")
}

const BEGIN: &[u8] = b"8=FIX.4.4\x01";

/// Splits a byte stream of concatenated FIX messages at each `8=FIX.4.4|`
/// that starts the stream or follows a SOH.
pub fn split_fix(stream: &[u8]) -> Vec<&[u8]> {
    if stream.is_empty() {
        return Vec::new();
    }
    assert!(
        stream.starts_with(BEGIN),
        "FIX stream does not start with 8=FIX.4.4: {:?}",
        printable(&stream[..stream.len().min(80)])
    );
    let mut starts = vec![0];
    for i in 1..stream.len() {
        if stream[i - 1] == SOH && stream[i..].starts_with(BEGIN) {
            starts.push(i);
        }
    }
    starts.push(stream.len());
    starts.windows(2).map(|w| &stream[w[0]..w[1]]).collect()
}

/// Parses one message and checks its framing: 8=FIX.4.4 first, 9 second with
/// the exact body length (bytes after 9's SOH up to `10=`), 35 third, 10 last
/// with the byte sum mod 256 of everything before it in three digits, every
/// field `tag=value|` with a numeric tag and a non-empty value.
pub fn parse_fix(raw: &[u8]) -> Result<FixMsg, String> {
    if !raw.starts_with(BEGIN) {
        return Err("does not start with 8=FIX.4.4|".into());
    }
    if raw.len() < BEGIN.len() + 7 || raw[raw.len() - 1] != SOH {
        return Err("does not end with a SOH".into());
    }
    let trailer = raw.len() - 7; // "10=ddd|"
    if &raw[trailer..trailer + 3] != b"10=" || raw[trailer - 1] != SOH {
        return Err("last field is not 10=ddd".into());
    }
    let declared_sum = std::str::from_utf8(&raw[trailer + 3..trailer + 6])
        .ok()
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or("CheckSum is not three digits")?;
    let sum = raw[..trailer].iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
    if sum != declared_sum {
        return Err(format!(
            "CheckSum: declared {declared_sum:03}, computed {sum:03}"
        ));
    }
    let rest = &raw[BEGIN.len()..];
    if !rest.starts_with(b"9=") {
        return Err("second field is not 9".into());
    }
    let soh = rest.iter().position(|&b| b == SOH).ok_or("9 has no SOH")?;
    let len_txt = std::str::from_utf8(&rest[2..soh]).map_err(|_| "9 is not ASCII")?;
    if len_txt.is_empty() || !len_txt.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("BodyLength {len_txt:?} is not a number"));
    }
    let declared_len: usize = len_txt.parse().map_err(|_| "9 overflows")?;
    let body_start = BEGIN.len() + soh + 1;
    let body_len = trailer - body_start;
    if body_len != declared_len {
        return Err(format!(
            "BodyLength: declared {declared_len}, actual {body_len}"
        ));
    }
    let mut fields = Vec::new();
    for f in raw[..raw.len() - 1].split(|&b| b == SOH) {
        let eq = f
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| format!("field {:?} has no '='", printable(f)))?;
        let tag = std::str::from_utf8(&f[..eq])
            .ok()
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<u32>().ok())
            .ok_or_else(|| format!("field {:?} has no numeric tag", printable(f)))?;
        if eq + 1 == f.len() {
            return Err(format!("tag {tag} has an empty value"));
        }
        fields.push((tag, f[eq + 1..].to_vec()));
    }
    let tags: Vec<u32> = fields.iter().map(|f| f.0).collect();
    if tags.get(2) != Some(&35) {
        return Err(format!("third field is not 35 (tags {tags:?})"));
    }
    Ok(FixMsg {
        raw: raw.to_vec(),
        fields,
    })
}

/// Splits and parses a stream; panics naming `what` and the message index on
/// the first bad message.
pub fn fix_messages(what: &str, stream: &[u8]) -> Vec<FixMsg> {
    split_fix(stream)
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            parse_fix(m).unwrap_or_else(|e| {
                panic!("{what}: FIX message #{i} is bad: {e}\n{}", printable(m))
            })
        })
        .collect()
}

/// Checks the snapshot layout of docs/semantics.md: 35=W, 49/56, 34 counting
/// 1..=N, 52 as YYYYMMDD-HH:MM:SS with `frac_digits` fractional digits, 55,
/// 268 entries of 269/270/271 with 4-decimal prices, the VWAP entry last.
pub fn check_snapshot_layout(what: &str, msgs: &[FixMsg], frac_digits: usize) {
    for (i, m) in msgs.iter().enumerate() {
        let ctx = || format!("{what}: message #{i}: {}", printable(&m.raw));
        let tags: Vec<u32> = m.fields.iter().map(|f| f.0).collect();
        assert_eq!(&tags[..8], &[8, 9, 35, 49, 56, 34, 52, 55], "{}", ctx());
        assert_eq!(m.get(35), Some(&b"W"[..]), "{}", ctx());
        assert_eq!(
            m.seq(),
            i as u64 + 1,
            "MsgSeqNum must count from 1: {}",
            ctx()
        );
        let t = std::str::from_utf8(m.get(52).unwrap()).unwrap();
        let ok = t.len() == 18 + frac_digits
            && t.as_bytes()[8] == b'-'
            && t.as_bytes()[11] == b':'
            && t.as_bytes()[14] == b':'
            && t.as_bytes()[17] == b'.'
            && t.bytes()
                .enumerate()
                .all(|(j, b)| matches!(j, 8 | 11 | 14 | 17) || b.is_ascii_digit());
        assert!(ok, "SendingTime {t:?} with {frac_digits} digits: {}", ctx());
        let n: usize = std::str::from_utf8(m.get(268).unwrap())
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=3).contains(&n), "{}", ctx());
        let entries = &m.fields[9..m.fields.len() - 1];
        assert_eq!(entries.len(), 3 * n, "{}", ctx());
        for (k, e) in entries.chunks(3).enumerate() {
            assert_eq!((e[0].0, e[1].0, e[2].0), (269, 270, 271), "{}", ctx());
            let px = std::str::from_utf8(&e[1].1).unwrap();
            let (int, frac) = px.split_once('.').unwrap_or_else(|| panic!("{}", ctx()));
            assert!(
                !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) && frac.len() == 4,
                "price {px:?}: {}",
                ctx()
            );
            if k + 1 == n {
                assert_eq!(e[0].1, b"9", "VWAP entry last: {}", ctx());
            }
        }
    }
}

/// Asserts two FIX sequences are equal field by field except `ignore`;
/// reports the first difference readably.
pub fn assert_fix_equal(what: &str, got: &[FixMsg], want: &[FixMsg], ignore: &[u32]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g.without(ignore) != w.without(ignore) {
            panic!(
                "{what}: FIX message #{i} differs (ignoring tags {ignore:?}):\n  got  {}\n  want {}",
                printable(&g.raw),
                printable(&w.raw)
            );
        }
    }
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} FIX messages, expected {}",
        got.len(),
        want.len()
    );
}

// ---------------------------------------------------------------------------
// Ethernet / IPv4 / UDP, walked independently of tickwire_core::wire.

/// One UDP datagram found in a pcap.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// VLAN id when tagged.
    pub vlan: Option<u16>,
    /// Source IPv4.
    pub src_ip: [u8; 4],
    /// Destination IPv4.
    pub dst_ip: [u8; 4],
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

fn ones_complement_sum(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        acc += u32::from(*b) << 8;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// Every UDP/IPv4 datagram in a pcap held in memory, in file order, whatever
/// its ports. Panics on a bad IPv4 header checksum, inconsistent lengths, a
/// fragment, or a wrong non-zero UDP checksum; other frames (ARP, IPv6, ...)
/// are returned in `others` as their index.
pub fn udp_datagrams(pcap: &[u8]) -> (Vec<Datagram>, Vec<usize>) {
    let reader = PcapReader::new(pcap).expect("pcap header");
    let mut out = Vec::new();
    let mut others = Vec::new();
    for (i, rec) in reader.enumerate() {
        let f = rec.expect("pcap record").data;
        let ctx = |why: &str| format!("frame #{i}: {why}");
        assert!(f.len() >= 14, "{}", ctx("shorter than Ethernet"));
        let mut dst_mac = [0u8; 6];
        dst_mac.copy_from_slice(&f[..6]);
        let (mut et, mut off, mut vlan) = (u16::from_be_bytes([f[12], f[13]]), 14, None);
        if et == 0x8100 {
            vlan = Some(u16::from_be_bytes([f[14], f[15]]) & 0x0fff);
            et = u16::from_be_bytes([f[16], f[17]]);
            off = 18;
        }
        if et != 0x0800 || f.get(off + 9) != Some(&17) {
            others.push(i);
            continue;
        }
        let ip = &f[off..];
        assert_eq!(ip[0] >> 4, 4, "{}", ctx("IP version"));
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        assert!(
            ihl >= 20 && total >= ihl + 8 && total <= ip.len(),
            "{}",
            ctx("IPv4 lengths")
        );
        assert_eq!(
            ones_complement_sum(&ip[..ihl], 0),
            0xffff,
            "{}",
            ctx("IPv4 header checksum")
        );
        let frag = u16::from_be_bytes([ip[6], ip[7]]);
        assert_eq!(frag & 0x3fff, 0, "{}", ctx("IPv4 fragment"));
        let udp = &ip[ihl..total];
        let ulen = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        assert_eq!(
            ulen,
            udp.len(),
            "{}",
            ctx("UDP length vs IPv4 total length")
        );
        let csum = u16::from_be_bytes([udp[6], udp[7]]);
        if csum != 0 {
            let mut pseudo = Vec::with_capacity(12);
            pseudo.extend_from_slice(&ip[12..20]);
            pseudo.extend_from_slice(&[0, 17]);
            pseudo.extend_from_slice(&(ulen as u16).to_be_bytes());
            let s = ones_complement_sum(udp, ones_complement_sum(&pseudo, 0));
            assert_eq!(s, 0xffff, "{}", ctx("UDP checksum"));
        }
        out.push(Datagram {
            dst_mac,
            vlan,
            src_ip: ip[12..16].try_into().unwrap(),
            dst_ip: ip[16..20].try_into().unwrap(),
            src_port: u16::from_be_bytes([udp[0], udp[1]]),
            dst_port: u16::from_be_bytes([udp[2], udp[3]]),
            payload: udp[8..].to_vec(),
        });
    }
    (out, others)
}

/// The host's FIX output in a capture: datagrams to `dst_port`, each checked
/// to hold whole FIX messages only and to fit `max_payload`; returns the
/// concatenated FIX bytes and the datagram count.
pub fn fix_from_capture(pcap: &[u8], dst_port: u16, max_payload: usize) -> (Vec<u8>, usize) {
    let (dgrams, _) = udp_datagrams(pcap);
    let mut fix = Vec::new();
    let mut n = 0;
    for (i, d) in dgrams.iter().filter(|d| d.dst_port == dst_port).enumerate() {
        assert!(
            d.payload.len() <= max_payload,
            "datagram #{i}: {} bytes of FIX, above {max_payload}",
            d.payload.len()
        );
        // Whole messages only: the payload splits into valid messages.
        let msgs = split_fix(&d.payload);
        assert!(!msgs.is_empty(), "datagram #{i} is empty");
        for m in msgs {
            parse_fix(m).unwrap_or_else(|e| {
                panic!(
                    "datagram #{i} holds a partial or bad FIX message: {e}: {}",
                    printable(m)
                )
            });
        }
        fix.extend_from_slice(&d.payload);
        n += 1;
    }
    (fix, n)
}

/// The first line of `stderr` starting with `prefix`, and how many there are.
pub fn lines_starting(stderr: &str, prefix: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(String::from)
        .collect()
}

impl Guarded {
    /// Whether the child has exited (reaped then; `wait` returns at once).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}
