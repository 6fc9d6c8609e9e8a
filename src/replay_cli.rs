//! `tickwire replay`: command-line front end of [`crate::replay`].

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Parser;
use tickwire_core::engine::EngineConfig;
use tickwire_core::fix::FixSession;

use crate::nats::sink::RecordTee;
use crate::replay::{
    parse_duration_ns, parse_precision, replay, FixWriter, HeapStorage, ReplayOptions, SendingClock,
};

/// Replays a NASDAQ TotalView-ITCH 5.0 BinaryFILE or a MoldUDP64 pcap through
/// the tickwire engine (full-depth books, VWAP windows) and writes one FIX 4.4
/// MarketDataSnapshotFullRefresh (35=W) per snapshot. See docs/semantics.md for
/// the exact rules.
#[derive(Debug, Parser)]
#[command(name = "tickwire replay", version, about, long_about = None)]
struct ReplayArgs {
    /// Input file: BinaryFILE (2-byte length before each message), classic
    /// pcap, pcapng, or any of them gzip-compressed (told from the content;
    /// anything else is refused). Plain files are memory-mapped, a gzip
    /// BinaryFILE is decompressed as a stream (bounded memory).
    input: PathBuf,
    /// Where FIX goes: a path, or - for stdout.
    #[arg(short, long, default_value = "-")]
    out: String,
    /// Emission interval (boundaries at its multiples of event time).
    #[arg(long, default_value = "100ms", value_parser = parse_duration_ns)]
    interval: u64,
    /// VWAP window.
    #[arg(long, default_value = "1s", value_parser = parse_duration_ns)]
    window: u64,
    /// FIX SenderCompID (49).
    #[arg(long, default_value = "TICKWIRE")]
    sender: String,
    /// FIX TargetCompID (56). With --fix-listen, a comma-separated list of
    /// the client CompIDs that may log on (their 49), each in one session
    /// at a time; the first is the 56 of FIX written to a file.
    #[arg(long, default_value = "CLIENT")]
    target: String,
    /// SendingTime (52) precision: ms, us or ns.
    #[arg(long, default_value = "ms", value_parser = parse_precision)]
    time_precision: tickwire_core::fix::TimePrecision,
    /// SendingTime source: `wall` (now) or `event` (--date midnight + the
    /// boundary; reproducible output).
    #[arg(long, default_value = "wall", value_parser = ["wall", "event"])]
    sending_time: String,
    /// Trading day for `--sending-time event`, YYYY-MM-DD (UTC midnight).
    #[arg(long, default_value = "2024-01-02")]
    date: String,
    /// Most live orders (the order table takes 48 bytes per order).
    #[arg(long, default_value_t = EngineConfig::default().max_orders)]
    max_orders: usize,
    /// Price-level arena size in levels (16 bytes each).
    #[arg(long, default_value_t = EngineConfig::default().max_levels)]
    max_levels: usize,
    /// Stock locates covered, 1 to 65536.
    #[arg(long, default_value_t = EngineConfig::default().max_locates)]
    max_locates: usize,
    /// UDP destination ports consumed from a capture (comma separated), or
    /// `all` (also an empty "") for every UDP port.
    #[arg(long, default_value = "26400", value_delimiter = ',', value_parser = crate::cli::parse_port)]
    ports: Vec<u16>,
    /// Write the final counters as JSON here.
    #[arg(long)]
    stats_json: Option<PathBuf>,
    /// Print `CHK k locate bid_px bid_qty ask_px ask_qty` lines every N
    /// messages of a BinaryFILE (and at the end), for cross-checks.
    #[arg(long)]
    checkpoints: Option<u64>,
    /// Where the CHK lines go (default stdout; use with --out FILE).
    #[arg(long)]
    checkpoint_out: Option<PathBuf>,
    /// No FIX output at all (for timing the engine alone).
    #[arg(long)]
    no_fix: bool,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    /// No summary on stderr.
    #[arg(short, long)]
    quiet: bool,

    /// Line B of the same feed (a pcap): merged with the input (line A) by
    /// capture time; the first arrival of each message wins, a gap on one
    /// line waits --arbitration-window for the other.
    #[arg(long, help_heading = "Lines and recovery")]
    line_b: Option<PathBuf>,
    /// Answer the feed's own MoldUDP64 re-requests from this BinaryFILE
    /// (message i is sequence i+1), in capture time, one datagram of at most
    /// 1,400 payload bytes per request, as NASDAQ's re-request server.
    #[arg(long, help_heading = "Lines and recovery")]
    rerequest_from: Option<PathBuf>,
    /// Session name the --rerequest-from file answers for (default: the
    /// session of the first MoldUDP64 packet).
    #[arg(long, help_heading = "Lines and recovery")]
    rerequest_session: Option<String>,
    /// Capture time from a request to its answer.
    #[arg(long, default_value = "100us", value_parser = parse_duration_ns, help_heading = "Lines and recovery")]
    rerequest_latency: u64,
    #[command(flatten)]
    recovery: crate::feed_args::RecoveryArgs,

    /// Serve FIX 4.4 market-data sessions on this address (e.g.
    /// 127.0.0.1:9878) instead of writing FIX to --out: clients log on,
    /// subscribe with 35=V and receive 35=W as the replay runs.
    #[arg(long, help_heading = "FIX sessions")]
    fix_listen: Option<std::net::SocketAddr>,
    /// Apply the start of the day (system events, stock directory) and hold
    /// the input at the first order-book message until a MarketDataRequest
    /// has been answered.
    #[arg(long, help_heading = "FIX sessions")]
    wait_for_subscription: bool,
    /// Pace by event time: max (as fast as clients take it), 1x (real
    /// time), 10x, 0.5x.
    #[arg(long, default_value = "max", value_parser = crate::serve::parse_speed, help_heading = "FIX sessions")]
    speed: crate::serve::Speed,
    /// At --speed max, how long the replay waits for a session that has
    /// not taken the last boundary's snapshots; past it, that session is
    /// conflated on its own and the others go on (one stuck for two
    /// HeartBtInt is logged out).
    #[arg(long, default_value = "5s", value_parser = parse_duration_ns, help_heading = "FIX sessions")]
    slow_consumer_grace: u64,
    /// Most book levels per side a subscription can ask for (264=0 means
    /// this many), 1 to 10.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(1..=10), help_heading = "FIX sessions")]
    max_depth: u8,
    /// Most concurrent FIX sessions (connections).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..), help_heading = "FIX sessions")]
    fix_max_sessions: u16,
    /// One session per client CompID, as a FIX engine keys sessions: a
    /// Logon from a CompID logged on over another connection is closed
    /// unanswered (counted duplicate_logons). Without it, several
    /// connections may log on with the same CompIDs (--fix-max-sessions
    /// counts connections).
    #[arg(long, help_heading = "FIX sessions")]
    one_session_per_client: bool,
    /// Open MarketDataRequests per session.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024), help_heading = "FIX sessions")]
    fix_max_requests: u16,
    /// After the input ends, keep serving (new connections too) until no
    /// session has been open for this long.
    #[arg(long, default_value = "5s", value_parser = parse_duration_ns, help_heading = "FIX sessions")]
    linger: u64,

    #[command(flatten)]
    nats: crate::nats::NatsArgs,
}

fn midnight_from_date(date: &str) -> Result<u64> {
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        bail!("--date {date:?}: expected YYYY-MM-DD")
    };
    let (y, m, d): (i32, u32, u32) = (
        y.parse()
            .with_context(|| format!("--date {date:?}: bad year"))?,
        m.parse()
            .with_context(|| format!("--date {date:?}: bad month"))?,
        d.parse()
            .with_context(|| format!("--date {date:?}: bad day"))?,
    );
    crate::gen::midnight_epoch_s(y, m, d)
        .with_context(|| format!("--date {date:?} is not a valid date"))
}

/// Entry point: `args` are the arguments after `replay`.
pub fn run(args: &[String]) -> Result<()> {
    let Some(mut a) = crate::cli::parse::<ReplayArgs>("tickwire replay", args)? else {
        return Ok(());
    };
    crate::cli::normalize_ports(&mut a.ports);
    let engine = EngineConfig {
        interval_ns: a.interval,
        window_ns: a.window,
        max_orders: a.max_orders,
        max_levels: a.max_levels,
        max_locates: a.max_locates,
    };
    let sizes = engine.storage_sizes().map_err(|e| anyhow::anyhow!("{e}"))?;
    let session = FixSession::new(
        a.sender.as_bytes(),
        crate::publish::first_client(&a.target).as_bytes(),
        a.time_precision,
    )
    .map_err(|e| anyhow::anyhow!("--sender/--target: {e}"))?;
    let clock = match a.sending_time.as_str() {
        "event" => SendingClock::Event {
            midnight_epoch_s: midnight_from_date(&a.date)?,
        },
        _ => SendingClock::Wall,
    };
    let mut input = crate::input::Input::open(&a.input)?;
    let len = input.file_bytes;
    let mut storage = HeapStorage::new(&engine)?;

    let out: Box<dyn Write> = match a.out.as_str() {
        "-" => Box::new(BufWriter::with_capacity(1 << 20, io::stdout().lock())),
        p => Box::new(BufWriter::with_capacity(
            1 << 20,
            File::create(p).with_context(|| format!("cannot create {p}"))?,
        )),
    };
    let mut chk_out: Option<Box<dyn Write>> = match (&a.checkpoints, &a.checkpoint_out) {
        (Some(_), Some(p)) => Some(Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ))),
        (Some(_), None) => Some(Box::new(BufWriter::new(io::stdout()))),
        _ => None,
    };
    let opts = ReplayOptions {
        engine,
        ports: a.ports.clone(),
        progress: !a.no_progress && !a.quiet,
        checkpoint_every: a.checkpoints,
    };
    if a.nats.enabled() && a.fix_listen.is_some() {
        bail!(
            "--nats does not combine with --fix-listen in the replayer (the DPDK host does both)"
        );
    }
    let mut nats = match a.nats.enabled() {
        true => Some(crate::nats::Bridge::start(
            a.nats.config("tickwire replay"),
        )?),
        false => None,
    };
    let depth = usize::from(a.nats.nats_depth);
    if a.line_b.is_some() || a.rerequest_from.is_some() || a.recovery.backfill {
        if a.fix_listen.is_some() || a.checkpoints.is_some() {
            bail!("--line-b/--rerequest-from/--backfill do not combine with --fix-listen or --checkpoints yet");
        }
        if !input.format.is_capture() {
            bail!(
                "{}: --line-b/--rerequest-from need a capture of MoldUDP64 (line A: pcap or pcapng), not a {}",
                a.input.display(),
                input.describe()
            );
        }
        let map = input.load()?;
        return lines_cli(&a, map, &opts, &mut storage, session, clock, out, len, nats);
    }
    if let Some(listen) = a.fix_listen {
        let map = input.load()?;
        return serve_cli(&a, listen, map, &opts, &mut storage, len, sizes.bytes());
    }
    let chk_ref: Option<&mut dyn Write> = chk_out.as_mut().map(|b| b.as_mut() as &mut dyn Write);
    let nats_tx = nats.as_mut().map(|(tx, _)| tx);
    let (mut report, fix_messages, fix_bytes, nats_error) = if a.no_fix {
        let mut count = 0u64;
        let mut inner = |_: &tickwire_core::engine::Snapshot<'_>| count += 1;
        let mut sink = RecordTee::new(&mut inner, nats_tx, depth);
        let r = replay_input(&input, &opts, &mut storage, &mut sink, chk_ref)?;
        (r, 0, 0, sink.error)
    } else {
        let mut w = FixWriter::new(session, clock, out);
        let mut sink = RecordTee::new(&mut w, nats_tx, depth);
        let r = replay_input(&input, &opts, &mut storage, &mut sink, chk_ref)?;
        let nats_error = sink.error;
        let (m, b) = (w.messages, w.bytes);
        w.finish().context("writing FIX output")?;
        (r, m, b, nats_error)
    };
    let nats = finish_nats(nats, nats_error);
    if let Some(e) = input.decompress_error() {
        // The decompressed capture ends where the gzip broke: say that first.
        report.input_error = Some(match report.input_error.take() {
            Some(r) => format!("{e}; so {r}"),
            None => e.to_string(),
        });
    }
    if let Some(mut c) = chk_out {
        c.flush().context("writing checkpoints")?;
    }
    if let Some(p) = &a.stats_json {
        let mut v = crate::report::counters_json(&report.counters);
        v["input"] = serde_json::json!({
            "path": a.input.display().to_string(),
            "format": format!("{:?}", report.format),
            "gzip": input.gzip,
            "bytes": len,
            "records": report.records,
            "error": report.input_error,
        });
        v["fix"] = serde_json::json!({ "messages": fix_messages, "bytes": fix_bytes });
        if let Some((c, _)) = &nats {
            v["nats"] = c.json();
        }
        v["elapsed_s"] = report.elapsed.as_secs_f64().into();
        v["messages_per_s"] = report.messages_per_sec().into();
        v["live_orders"] = report.live_orders.into();
        v["storage_bytes"] = sizes.bytes().into();
        std::fs::write(p, serde_json::to_string_pretty(&v)? + "\n")
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if !a.quiet {
        let c = &report.counters;
        let msgs = c.messages_applied + c.messages_malformed;
        eprintln!(
            "replayed {} ({}, {} bytes, {} records) in {:.3} s: {:.2} M msg/s, {:.1} ns/msg",
            a.input.display(),
            input.describe(),
            len,
            report.records,
            report.elapsed.as_secs_f64(),
            report.messages_per_sec() / 1e6,
            report.elapsed.as_nanos() as f64 / msgs.max(1) as f64
        );
        eprintln!("{}", crate::report::summary(c));
        eprintln!("fix       {fix_messages} messages, {fix_bytes} bytes; live orders at end {}; engine storage {:.1} MiB", report.live_orders, sizes.bytes() as f64 / (1 << 20) as f64);
        if let Some((c, _)) = &nats {
            eprintln!("{}", nats_summary(c));
        }
    }
    if let Some(e) = report.input_error {
        bail!(
            "{}: input ends early: {e} (everything before it was processed)",
            a.input.display()
        );
    }
    nats_outcome(nats)
}

/// Stops the bridge once the replay is over: its final counters, and why
/// some records were not stored, if any were not.
fn finish_nats(
    nats: Option<(crate::nats::BridgeTx, crate::nats::Bridge)>,
    stopped: Option<anyhow::Error>,
) -> Option<(crate::nats::BridgeCounters, Option<String>)> {
    let (tx, bridge) = nats?;
    let watch = bridge.watch();
    let c = bridge.finish(tx);
    let last = watch.last_error();
    let why = match stopped {
        Some(e) => Some(format!("{e:#}")),
        None if c.failed + c.dropped + c.queued() + c.in_flight > 0 => Some(format!(
            "{} of {} records were not stored ({} failed, {} dropped, {} never published, {} unacknowledged); last error: {}",
            c.failed + c.dropped + c.queued() + c.in_flight,
            c.offered,
            c.failed,
            c.dropped,
            c.queued(),
            c.in_flight,
            last.as_deref().unwrap_or("none")
        )),
        None => None,
    };
    Some((c, why))
}

fn nats_summary(c: &crate::nats::BridgeCounters) -> String {
    format!(
        "nats      {} records offered, {} published, {} acknowledged ({} duplicates), {} retried, {} failed, {} dropped, {} unchanged; {} reconnects",
        c.offered, c.published, c.acked, c.acked_duplicate, c.retried, c.failed, c.dropped, c.unchanged, c.reconnects()
    )
}

fn nats_outcome(nats: Option<(crate::nats::BridgeCounters, Option<String>)>) -> Result<()> {
    match nats {
        Some((_, Some(why))) => bail!("NATS: {why}"),
        _ => Ok(()),
    }
}

/// Replays an opened input: from memory, or a gzip BinaryFILE as a stream.
fn replay_input<S: tickwire_core::engine::SnapshotSink>(
    input: &crate::input::Input,
    opts: &ReplayOptions,
    storage: &mut HeapStorage,
    sink: &mut S,
    chk: Option<&mut dyn Write>,
) -> Result<crate::replay::ReplayReport> {
    match input.bytes() {
        Some(data) => replay(data, opts, storage, sink, chk),
        None => {
            let s = crate::input::gz_stream(&input.path)
                .with_context(|| format!("cannot open {}", input.path.display()))?;
            crate::replay::replay_binfile_stream(s, opts, storage, sink, chk, |s, e, at| {
                format!(
                    "gzip: {e} after {at} decompressed bytes (compressed offset {})",
                    crate::input::gz_position(s)
                )
            })
        }
    }
}

fn serve_cli(
    a: &ReplayArgs,
    listen: std::net::SocketAddr,
    data: &[u8],
    opts: &ReplayOptions,
    storage: &mut HeapStorage,
    len: u64,
    storage_bytes: usize,
) -> Result<()> {
    use tickwire_core::fix::session::SessionConfig;
    use tickwire_core::fix::CompId;
    let comp = |s: &str, flag: &str| {
        CompId::new(s.as_bytes()).map_err(|e| anyhow::anyhow!("{flag} {s:?}: {e}"))
    };
    let clients = crate::publish::parse_clients(&a.target)?;
    let publisher = crate::publish::PublisherConfig {
        session: SessionConfig {
            sender: comp(&a.sender, "--sender")?,
            target: clients[0],
            precision: a.time_precision,
            max_skew_ns: 120_000_000_000,
        },
        clients,
        one_session_per_client: a.one_session_per_client,
        max_sessions: usize::from(a.fix_max_sessions),
        requests_per_session: usize::from(a.fix_max_requests),
        max_depth: a.max_depth,
        max_locates: a.max_locates,
    };
    let transport = crate::serve::TcpTransport::bind(listen)
        .with_context(|| format!("--fix-listen {listen}: cannot listen"))?;
    let bound = transport.local_addr().unwrap_or(listen);
    let sopts = crate::serve::ServeOptions {
        listen: bound,
        wait_for_subscription: a.wait_for_subscription,
        speed: a.speed,
        linger: std::time::Duration::from_nanos(a.linger),
        slow_consumer_grace: std::time::Duration::from_nanos(a.slow_consumer_grace),
        publisher,
    };
    if !a.quiet {
        eprintln!("tickwire replay: FIX acceptor listening on {bound} (SenderCompID {}, clients log on as {})", a.sender, a.target);
    }
    let quiet = a.quiet;
    let mut log = |m: &str| {
        if !quiet {
            eprintln!("{m}");
        }
    };
    let r = crate::serve::serve(data, opts, &sopts, storage, transport, &mut log)?;
    let p = &r.publisher;
    if let Some(path) = &a.stats_json {
        let mut v = crate::report::counters_json(&r.counters);
        v["input"] = serde_json::json!({
            "path": a.input.display().to_string(),
            "bytes": len,
            "records": r.records,
            "error": r.input_error,
        });
        v["fix_sessions"] = crate::report::publisher_json(p);
        v["elapsed_s"] = r.elapsed.as_secs_f64().into();
        v["storage_bytes"] = storage_bytes.into();
        std::fs::write(path, serde_json::to_string_pretty(&v)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !a.quiet {
        eprintln!("{}", crate::report::summary(&r.counters));
        eprintln!(
            "fix       sessions {} accepted, {} refused, {} logons ({} duplicate refused); {} snapshots, {} conflated, {} requests, {} rejected (35=Y), {} slow-consumer logouts",
            p.sessions_accepted,
            p.sessions_refused,
            p.logons,
            p.duplicate_logons,
            p.closed_md.snapshots,
            p.closed_md.conflated,
            p.closed_md.requests,
            p.closed_md.request_rejects,
            p.closed_md.slow_consumer_logouts
        );
    }
    if let Some(e) = r.input_error {
        bail!(
            "{}: input ends early: {e} (everything before it was replayed and served)",
            a.input.display()
        );
    }
    Ok(())
}

/// The first MoldUDP64 session name in a pcap.
fn first_session(pcap: &[u8], ports: &[u16]) -> Option<[u8; 10]> {
    let r = crate::pcap::Packets::new(pcap).ok()?;
    r.flatten().find_map(
        |rec| match tickwire_core::wire::classify_frame(rec.data, ports) {
            Ok(tickwire_core::wire::Frame::Mold { packet, .. }) => Some(*packet.session()),
            _ => None,
        },
    )
}

#[allow(clippy::too_many_arguments)]
fn lines_cli(
    a: &ReplayArgs,
    map: &[u8],
    opts: &crate::replay::ReplayOptions,
    storage: &mut HeapStorage,
    session: FixSession,
    clock: SendingClock,
    out: Box<dyn Write>,
    len: u64,
    mut nats: Option<(crate::nats::BridgeTx, crate::nats::Bridge)>,
) -> Result<()> {
    let depth = usize::from(a.nats.nats_depth);
    let mut b_input = match &a.line_b {
        Some(p) => {
            let m = crate::input::Input::open(p).context("--line-b")?;
            if !m.format.is_capture() {
                bail!(
                    "--line-b {}: not a pcap or pcapng but a {}",
                    p.display(),
                    m.describe()
                );
            }
            Some(m)
        }
        None => None,
    };
    let b_map = match b_input.as_mut() {
        Some(m) => Some(m.load()?),
        None => None,
    };
    let store = match &a.rerequest_from {
        Some(p) => {
            let name = match &a.rerequest_session {
                Some(s) => crate::mold_packet::session_name(s)
                    .map_err(|e| anyhow::anyhow!("--rerequest-session: {e}"))?,
                None => first_session(map, &opts.ports)
                    .or_else(|| b_map.and_then(|b| first_session(b, &opts.ports)))
                    .unwrap_or(*b"          "),
            };
            Some(crate::mold_store::MoldStore::open(p, name).context("--rerequest-from")?)
        }
        None => None,
    };
    let server = store.as_ref().map(|s| crate::lines::SimulatedServer {
        source: s,
        latency_ns: a.rerequest_latency,
    });
    let lines = if b_map.is_some() { 2 } else { 1 };
    let cfg = crate::lines::LinesConfig {
        feed: a.recovery.config(lines, u8::from(server.is_some())),
        reorder_buffer: a.recovery.reorder_buffer as usize,
    };
    let nats_tx = nats.as_mut().map(|(tx, _)| tx);
    let (report, fix_messages, fix_bytes, nats_error) = if a.no_fix {
        let mut count = 0u64;
        let mut inner = |_: &tickwire_core::engine::Snapshot<'_>| count += 1;
        let mut sink = RecordTee::new(&mut inner, nats_tx, depth);
        let r = crate::lines::replay_lines(map, b_map, server, cfg, opts, storage, &mut sink)?;
        (r, 0, 0, sink.error)
    } else {
        let mut w = FixWriter::new(session, clock, out);
        let mut sink = RecordTee::new(&mut w, nats_tx, depth);
        let r = crate::lines::replay_lines(map, b_map, server, cfg, opts, storage, &mut sink)?;
        let nats_error = sink.error;
        let (m, b) = (w.messages, w.bytes);
        w.finish().context("writing FIX output")?;
        (r, m, b, nats_error)
    };
    let nats = finish_nats(nats, nats_error);
    let feed: Vec<serde_json::Value> = report.sessions.iter().map(|s| s.json.clone()).collect();
    let pct = |v: &[u64], p: f64| -> u64 {
        if v.is_empty() {
            return 0;
        }
        let mut s = v.to_vec();
        s.sort_unstable();
        s[((s.len() - 1) as f64 * p).round() as usize]
    };
    let recovery = serde_json::json!({
        "gaps_closed": report.recoveries_ns.len(),
        "recovery_ns_p50": pct(&report.recoveries_ns, 0.5),
        "recovery_ns_p99": pct(&report.recoveries_ns, 0.99),
        "skew_samples": report.skews_ns.len(),
        "skew_ns_p50": pct(&report.skews_ns, 0.5),
        "skew_ns_p99": pct(&report.skews_ns, 0.99),
        "server_answered": report.answered,
        "server_silent": report.silent,
    });
    if let Some(p) = &a.stats_json {
        let mut v = crate::report::counters_json(&report.counters);
        v["input"] = serde_json::json!({
            "path": a.input.display().to_string(),
            "line_b": a.line_b.as_ref().map(|p| p.display().to_string()),
            "rerequest_from": a.rerequest_from.as_ref().map(|p| p.display().to_string()),
            "format": format!("{:?}", crate::input::Format::Pcap),
            "bytes": len,
            "records_a": report.records[0],
            "records_b": report.records[1],
        });
        v["feed"] = feed.clone().into();
        v["recovery"] = recovery.clone();
        v["fix"] = serde_json::json!({ "messages": fix_messages, "bytes": fix_bytes });
        if let Some((c, _)) = &nats {
            v["nats"] = c.json();
        }
        v["elapsed_s"] = report.elapsed.as_secs_f64().into();
        v["live_orders"] = report.live_orders.into();
        std::fs::write(p, serde_json::to_string_pretty(&v)? + "\n")
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if !a.quiet {
        eprintln!(
            "replayed {} (line A {} records, line B {} records) in {:.3} s",
            a.input.display(),
            report.records[0],
            report.records[1],
            report.elapsed.as_secs_f64()
        );
        eprintln!("{}", crate::report::summary(&report.counters));
        for f in &feed {
            eprintln!("feed      {f}");
        }
        eprintln!("recovery  {recovery}");
        eprintln!("fix       {fix_messages} messages, {fix_bytes} bytes");
        if let Some((c, _)) = &nats {
            eprintln!("{}", nats_summary(c));
        }
    }
    nats_outcome(nats)
}
