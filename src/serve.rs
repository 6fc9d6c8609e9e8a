//! `tickwire replay FILE --fix-listen ADDR:PORT`: the replayer as a FIX
//! market-data server over kernel TCP (std::net, non-blocking, one thread),
//! with the same core session and market-data code as the DPDK host.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tickwire_core::engine::{BookRecord, Engine, Snapshot, SnapshotSink};
use tickwire_core::wire::{classify_frame, Frame};

use crate::pcap::Packets;
use crate::publish::{
    Closed, Publisher, PublisherConfig, PublisherCounters, PublisherStorage, Transport,
};
use crate::replay::{HeapStorage, InputFormat, ReplayOptions};

/// Kernel TCP connections, non-blocking.
pub struct TcpTransport {
    listener: TcpListener,
    conns: HashMap<u64, TcpStream>,
    next: u64,
}

/// What [`TcpTransport::send_capacity`] reports: the kernel does not say,
/// so offer this much and let a short `send` tell the rest.
const KERNEL_SEND_WINDOW: usize = 256 * 1024;

impl TcpTransport {
    /// Listens on `addr`.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(Self {
            listener,
            conns: HashMap::new(),
            next: 1,
        })
    }

    /// The bound address (the port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Connections accepted since the last call.
    pub fn accept_new(&mut self) -> Vec<u64> {
        let mut out = Vec::new();
        while let Ok((s, _)) = self.listener.accept() {
            if s.set_nonblocking(true).is_err() {
                continue;
            }
            let _ = s.set_nodelay(true);
            let id = self.next;
            self.next += 1;
            self.conns.insert(id, s);
            out.push(id);
        }
        out
    }
}

impl Transport for TcpTransport {
    type Conn = u64;

    fn recv(&mut self, c: u64, buf: &mut [u8]) -> Result<usize, Closed> {
        let s = self.conns.get_mut(&c).ok_or(Closed)?;
        match s.read(buf) {
            Ok(0) if !buf.is_empty() => Err(Closed),
            Ok(n) => Ok(n),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                Ok(0)
            }
            Err(_) => Err(Closed),
        }
    }

    fn send(&mut self, c: u64, data: &[u8]) -> Result<usize, Closed> {
        let s = self.conns.get_mut(&c).ok_or(Closed)?;
        match s.write(data) {
            Ok(n) => Ok(n),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                Ok(0)
            }
            Err(_) => Err(Closed),
        }
    }

    fn send_capacity(&self, c: u64) -> usize {
        if self.conns.contains_key(&c) {
            KERNEL_SEND_WINDOW
        } else {
            0
        }
    }

    fn abort(&mut self, c: u64) {
        if let Some(s) = self.conns.remove(&c) {
            // Linger 0 would send a reset; std has no setter for it, so shut
            // both ways: the peer sees the end at once, unread data or not.
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    fn close(&mut self, c: u64) {
        if let Some(s) = self.conns.remove(&c) {
            // What was written is already in the kernel's buffer: a
            // shutdown sends it, then FIN.
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
    }
}

/// Replay pacing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the engine goes; waits for subscribed sessions to take
    /// each boundary's snapshots (a file can wait; a stuck client is logged
    /// out after two HeartBtInt and the replay goes on).
    Max,
    /// Event time scaled by this factor (1.0 real time, 10.0 ten times
    /// faster); slow clients are conflated as on the host.
    Factor(f64),
}

/// Parses `max`, `1x`, `10x`, `0.5x` (or without the x).
pub fn parse_speed(s: &str) -> Result<Speed, String> {
    if s == "max" {
        return Ok(Speed::Max);
    }
    let f: f64 = s
        .trim_end_matches('x')
        .parse()
        .map_err(|_| format!("--speed {s:?}: expected max or a factor like 1x, 10x, 0.5x"))?;
    if !(f.is_finite() && f > 0.0) {
        return Err(format!("--speed {s:?}: the factor must be positive"));
    }
    Ok(Speed::Factor(f))
}

/// Serving options.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Hold the input before the first order-book message until a
    /// MarketDataRequest has been answered.
    pub wait_for_subscription: bool,
    /// Pacing.
    pub speed: Speed,
    /// After the input ends, serve on until no session has been open for
    /// this long.
    pub linger: Duration,
    /// At [`Speed::Max`], how long a session that has not taken the last
    /// boundary's snapshots holds the input.
    pub slow_consumer_grace: Duration,
    /// Sessions and market data.
    pub publisher: PublisherConfig,
}

/// What a serving replay did.
#[derive(Debug, Clone)]
pub struct ServeReport {
    /// Engine counters.
    pub counters: tickwire_core::engine::Counters,
    /// Publisher counters.
    pub publisher: PublisherCounters,
    /// Input units (messages or frames).
    pub records: u64,
    /// Time from start to the end of the input.
    pub elapsed: Duration,
    /// Why the input ended early, if it did.
    pub input_error: Option<String>,
}

/// The engine's sink: records and directory entries straight to the
/// publisher (one thread, no ring needed).
struct PublishSink<'p, 's> {
    publisher: &'p mut Publisher<'s, u64>,
    transport: &'p mut TcpTransport,
    depth: usize,
    records: u64,
}

impl SnapshotSink for PublishSink<'_, '_> {
    fn on_snapshot(&mut self, _: &Snapshot<'_>) {}
    fn record_depth(&self) -> usize {
        self.depth
    }
    fn on_record(&mut self, fill: impl FnOnce(&mut BookRecord)) -> bool {
        let mut r = BookRecord::EMPTY;
        fill(&mut r);
        // The clock is read per record, not per message.
        self.publisher.on_record(self.transport, now_ns(), &r);
        self.records += 1;
        true
    }
    fn on_directory(&mut self, locate: u16, symbol: &[u8; 8]) {
        self.publisher.on_directory(locate, symbol);
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// An ITCH message's type and timestamp (ns since midnight).
fn type_and_ts(msg: &[u8]) -> Option<(u8, u64)> {
    let t = *msg.first()?;
    let ts = msg.get(5..11)?;
    let mut b = [0u8; 8];
    b[2..].copy_from_slice(ts);
    Some((t, u64::from_be_bytes(b)))
}

/// Types that touch an order book or trade: what `--wait-for-subscription`
/// holds back.
fn is_book_message(t: u8) -> bool {
    matches!(
        t,
        b'A' | b'F' | b'E' | b'C' | b'X' | b'D' | b'U' | b'P' | b'Q'
    )
}

/// One unit of input: a BinaryFILE message or a pcap frame.
enum Unit<'a> {
    Message(&'a [u8]),
    Frame(&'a [u8]),
}

impl Unit<'_> {
    /// Whether it holds a book message, and its first timestamp.
    fn peek(&self, ports: &[u16]) -> (bool, Option<u64>) {
        match self {
            Unit::Message(m) => match type_and_ts(m) {
                Some((t, ts)) => (is_book_message(t), Some(ts)),
                None => (false, None),
            },
            Unit::Frame(f) => {
                let Ok(Frame::Mold { packet, .. }) = classify_frame(f, ports) else {
                    return (false, None);
                };
                let mut first_ts = None;
                let mut book = false;
                for m in packet.messages().flatten() {
                    if let Some((t, ts)) = type_and_ts(m) {
                        first_ts.get_or_insert(ts);
                        book |= is_book_message(t);
                    }
                }
                (book, first_ts)
            }
        }
    }
}

/// Serves FIX sessions while replaying `data`.
pub fn serve(
    data: &[u8],
    opts: &ReplayOptions,
    sopts: &ServeOptions,
    storage: &mut HeapStorage,
    mut transport: TcpTransport,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<ServeReport> {
    let format = match crate::input::detect(data) {
        Ok(crate::input::Detected::Plain(f)) => f,
        Ok(crate::input::Detected::Gzip) => anyhow::bail!("gzip input: decompress it first"),
        Err(e) => anyhow::bail!("{e}"),
    };
    let mut engine =
        Engine::new(&opts.engine, storage.storage()).map_err(|e| anyhow::anyhow!("engine: {e}"))?;
    let mut pstore = PublisherStorage::new(&sopts.publisher);
    let mut publisher = Publisher::new(sopts.publisher.clone(), &mut pstore)?;
    let depth = usize::from(sopts.publisher.max_depth);

    // Units of input, lazily.
    let mut bin_pos = 0usize;
    let mut pcap = match format {
        InputFormat::Pcap | InputFormat::PcapNg => {
            Some(Packets::new(data).map_err(|e| anyhow::anyhow!("{format}: {e}"))?)
        }
        InputFormat::BinFile => None,
    };
    let mut next_unit = move || -> Option<Result<Unit<'_>, String>> {
        match pcap.as_mut() {
            Some(r) => Some(
                r.next()?
                    .map(|rec| Unit::Frame(rec.data))
                    .map_err(|e| e.to_string()),
            ),
            None => {
                let rest = data.get(bin_pos..)?;
                let truncated = || format!("BinaryFILE truncated at offset {bin_pos}");
                let [a, b, body @ ..] = rest else {
                    return (!rest.is_empty()).then(|| Err(truncated()));
                };
                let len = usize::from(u16::from_be_bytes([*a, *b]));
                let Some(msg) = body.get(..len) else {
                    return Some(Err(truncated()));
                };
                bin_pos += 2 + len;
                Some(Ok(Unit::Message(msg)))
            }
        }
    };

    let started = Instant::now();
    let mut held = sopts.wait_for_subscription;
    let mut pace_base: Option<(u64, Instant)> = None;
    let mut records = 0u64;
    let mut since_poll = 0u32;
    let poll = |publisher: &mut Publisher<'_, u64>, transport: &mut TcpTransport| {
        let now = now_ns();
        for c in transport.accept_new() {
            publisher.accept(transport, c, now);
        }
        publisher.poll(transport, now);
    };
    if held {
        log(&format!(
            "tickwire replay: serving FIX on {}; holding the input at the first order-book message until a MarketDataRequest is answered",
            transport.local_addr().map_or_else(|_| sopts.listen.to_string(), |a| a.to_string())
        ));
    }
    let mut input_error = None;
    while let Some(unit) = next_unit() {
        let unit = match unit {
            Ok(u) => u,
            Err(e) => {
                log(&format!(
                    "tickwire replay: input ends early: {e} (everything before it was replayed)"
                ));
                input_error = Some(e);
                break;
            }
        };
        let (book, ts) = unit.peek(&opts.ports);
        if held && book {
            while !publisher.request_answered() {
                poll(&mut publisher, &mut transport);
                std::thread::sleep(Duration::from_micros(200));
            }
            held = false;
            log("tickwire replay: MarketDataRequest answered; replaying");
        }
        if let (Speed::Factor(f), Some(ts)) = (sopts.speed, ts) {
            if !held {
                let (t0, w0) = *pace_base.get_or_insert((ts, Instant::now()));
                let due = w0 + Duration::from_secs_f64(ts.saturating_sub(t0) as f64 / 1e9 / f);
                while Instant::now() < due {
                    poll(&mut publisher, &mut transport);
                    let left = due.saturating_duration_since(Instant::now());
                    std::thread::sleep(left.min(Duration::from_micros(500)));
                }
            }
        }
        let mut sink = PublishSink {
            publisher: &mut publisher,
            transport: &mut transport,
            depth,
            records: 0,
        };
        match unit {
            Unit::Message(m) => {
                let _ = engine.on_message(m, &mut sink);
            }
            Unit::Frame(f) => {
                engine.on_frame(f, &opts.ports, &mut sink);
            }
        }
        // One thread: every owed record goes out at once.
        engine.emit_pending(usize::MAX, &mut sink);
        let emitted = sink.records > 0;
        records += 1;
        since_poll += 1;
        if emitted || since_poll >= 256 {
            since_poll = 0;
            poll(&mut publisher, &mut transport);
            if emitted && sopts.speed == Speed::Max {
                // A file can wait for its clients, up to the grace each: a
                // session that takes nothing for longer is conflated on its
                // own (and logged out after two HeartBtInt).
                let grace = u64::try_from(sopts.slow_consumer_grace.as_nanos()).unwrap_or(u64::MAX);
                while publisher.has_backlog() && !publisher.ready_for_boundary(now_ns(), grace) {
                    std::thread::sleep(Duration::from_micros(50));
                    poll(&mut publisher, &mut transport);
                }
            }
        }
    }
    let elapsed = started.elapsed();
    log(&format!(
        "tickwire replay: input done after {:.3} s; {} session(s) open; serving until none has been open for {:?}",
        elapsed.as_secs_f64(),
        publisher.sessions(),
        sopts.linger
    ));
    // Serve on (new connections too) until no session has been open for
    // the linger time.
    let mut idle_since: Option<Instant> = None;
    loop {
        poll(&mut publisher, &mut transport);
        if publisher.sessions() > 0 {
            idle_since = None;
        } else if idle_since.get_or_insert_with(Instant::now).elapsed() >= sopts.linger {
            break;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    Ok(ServeReport {
        counters: *engine.counters(),
        publisher: publisher.counters(),
        records,
        elapsed,
        input_error,
    })
}
