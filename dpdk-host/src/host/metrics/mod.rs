//! Live metrics and health: per-worker snapshots published at the
//! housekeeping tick ([`snapshot::Slot`]), what the main lcore adds (ports,
//! control plane, FIX publisher), a Prometheus exposition, `/livez` and
//! `/readyz` ([`http`]) and DPDK telemetry commands ([`telemetry`]).
//!
//! Series names are derived from the `--stats-json` report's paths, so that
//! every counter there has one; docs/metrics.md lists them.

pub mod http;
pub mod snapshot;
pub mod telemetry;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::control::ControlCounters;
use crate::dpdk::PortStats;
use snapshot::{Slot, WorkerSnap, BUCKETS_S, FEED_STATES, NB};

/// Parses `--metrics-listen`: `PORT` (on 127.0.0.1) or `ADDR:PORT`.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(p) = s.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p));
    }
    s.parse::<SocketAddr>()
        .map_err(|_| format!("{s:?}: expected PORT or ADDR:PORT (e.g. 9100 or 0.0.0.0:9100)"))
}

/// One port, as the main lcore last read it.
#[derive(Debug, Clone)]
pub struct PortSnap {
    /// Role: rx, tx, control, line_b.
    pub role: &'static str,
    /// DPDK device name.
    pub name: String,
    /// Statistics (None: the read failed).
    pub stats: Option<PortStats>,
    /// Link up.
    pub link_up: bool,
}

/// What the main lcore publishes (under a mutex: main lcore and the HTTP
/// thread only, never a worker).
#[derive(Debug, Default)]
struct MainState {
    tick: Option<Instant>,
    ports: Vec<PortSnap>,
    control: Option<ControlCounters>,
    fix: Option<(tickwire::publish::PublisherCounters, u64)>,
    nats: Option<tickwire::nats::BridgeCounters>,
    fix_listening: bool,
    progress: BTreeMap<(usize, [u8; 10]), Progress>,
}

/// Feed freshness, tracked by whoever observes the slots (the HTTP thread,
/// every 100 ms).
#[derive(Debug, Clone, Copy)]
struct Progress {
    packets: u64,
    gaps: u64,
    last_packet: Option<Instant>,
    last_gap: Option<Instant>,
}

/// Everything the readers share.
#[derive(Debug)]
pub struct Hub {
    /// One slot per worker.
    pub slots: Box<[Slot]>,
    /// TSC frequency.
    pub tsc_hz: u64,
    /// `--stale-after`.
    pub stale_after: Duration,
    /// `--fix-listen` was given: readiness needs the acceptor listening.
    pub fix_expected: bool,
    /// The main lcore runs a loop of its own (false when the one worker
    /// runs on it).
    pub main_loop: bool,
    main: Mutex<MainState>,
}

/// Session key for classic mode (no feed sessions): the engine's view.
const CLASSIC: [u8; 10] = *b"(engine)  ";

impl Hub {
    /// `workers` empty slots.
    pub fn new(
        workers: usize,
        tsc_hz: u64,
        stale_after: Duration,
        fix_expected: bool,
        main_loop: bool,
    ) -> Self {
        Self {
            slots: (0..workers).map(|_| Slot::default()).collect(),
            tsc_hz,
            stale_after,
            fix_expected,
            main_loop,
            main: Mutex::new(MainState::default()),
        }
    }

    fn main(&self) -> std::sync::MutexGuard<'_, MainState> {
        self.main.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The main lcore's tick: its liveness, ports and control plane.
    pub fn main_tick(&self, ports: Vec<PortSnap>, control: Option<(ControlCounters, bool)>) {
        let mut m = self.main();
        m.tick = Some(Instant::now());
        m.ports = ports;
        if let Some((c, listening)) = control {
            m.control = Some(c);
            m.fix_listening = listening;
        }
    }

    /// The FIX publisher's counters and the records it drained.
    pub fn set_fix(&self, c: tickwire::publish::PublisherCounters, drained: u64) {
        self.main().fix = Some((c, drained));
    }

    /// The NATS bridge's counters.
    pub fn set_nats(&self, c: tickwire::nats::BridgeCounters) {
        self.main().nats = Some(c);
    }

    /// Reads every slot.
    pub fn workers(&self) -> Vec<WorkerSnap> {
        self.slots.iter().map(Slot::read).collect()
    }

    /// Updates feed freshness from the slots (call every 100 ms or so).
    pub fn observe(&self) {
        let ws = self.workers();
        let now = Instant::now();
        let mut m = self.main();
        for (i, w) in ws.iter().enumerate() {
            let mut see = |key: [u8; 10], packets: u64, gaps: u64| {
                let p = m.progress.entry((i, key)).or_insert(Progress {
                    packets: 0,
                    gaps: 0,
                    last_packet: None,
                    last_gap: None,
                });
                if packets != p.packets {
                    p.packets = packets;
                    p.last_packet = Some(now);
                }
                if gaps != p.gaps {
                    p.gaps = gaps;
                    p.last_gap = Some(now);
                }
            };
            if w.lines_mode == 1 {
                for s in w.sessions() {
                    let packets = s.lines.iter().map(|l| l.packets).sum();
                    see(s.name, packets, s.counters.gaps);
                }
            } else {
                let c = &w.counters;
                see(
                    CLASSIC,
                    c.packets_applied + c.packets_duplicate + c.packets_gap,
                    c.packets_gap + c.messages_missing,
                );
            }
        }
    }

    /// `/livez`: the reasons it fails (empty: live).
    pub fn liveness(&self) -> Vec<String> {
        let now = crate::dpdk::rdtsc();
        let limit = self.tsc_hz; // 1 s
        let mut bad = Vec::new();
        for (i, w) in self.workers().iter().enumerate() {
            if w.done == 1 {
                bad.push(format!(
                    "worker {i} (lcore {}) has left its poll loop",
                    w.lcore
                ));
            } else if w.tick_tsc == 0 {
                bad.push(format!("worker {i} has not started its poll loop"));
            } else if now.saturating_sub(w.tick_tsc) > limit {
                bad.push(format!(
                    "worker {i} (lcore {}): housekeeping tick stalled for {:.1} s",
                    w.lcore,
                    now.saturating_sub(w.tick_tsc) as f64 / self.tsc_hz.max(1) as f64
                ));
            }
        }
        if self.main_loop {
            match self.main().tick {
                None => bad.push("main lcore loop has not started".into()),
                Some(t) if t.elapsed() > Duration::from_secs(1) => bad.push(format!(
                    "main lcore loop stalled for {:.1} s",
                    t.elapsed().as_secs_f64()
                )),
                Some(_) => {}
            }
        }
        bad
    }

    /// `/readyz`: the failing checks (empty: ready).
    pub fn readiness(&self) -> Vec<String> {
        let ws = self.workers();
        let m = self.main();
        let mut bad = Vec::new();
        for p in &m.ports {
            if !p.link_up {
                bad.push(format!("port {} ({}): link down", p.role, p.name));
            }
        }
        if m.ports.is_empty() {
            bad.push("ports: not read yet".into());
        }
        let stale = self.stale_after;
        let fresh = |i: usize, key: [u8; 10], what: &str, bad: &mut Vec<String>, gaps: bool| match m
            .progress
            .get(&(i, key))
        {
            None => bad.push(format!("{what}: nothing received yet")),
            Some(p) => {
                match p.last_packet {
                    None => bad.push(format!("{what}: nothing received yet")),
                    Some(t) if t.elapsed() > stale => bad.push(format!(
                        "{what}: nothing received for {:.1} s (--stale-after {:?})",
                        t.elapsed().as_secs_f64(),
                        stale
                    )),
                    Some(_) => {}
                }
                if gaps {
                    if let Some(t) = p.last_gap.filter(|t| t.elapsed() <= stale) {
                        bad.push(format!(
                            "{what}: gap {:.1} s ago (within --stale-after)",
                            t.elapsed().as_secs_f64()
                        ));
                    }
                }
            }
        };
        let mut any_session = false;
        for (i, w) in ws.iter().enumerate() {
            if w.lines_mode == 1 {
                for s in w.sessions() {
                    any_session = true;
                    let name = session_name(&s.name);
                    let state = FEED_STATES[usize::from(s.state).min(4)];
                    if state != tickwire_core::feed::FeedState::Synchronized {
                        bad.push(format!("session {name}: {}", state.name()));
                    }
                    fresh(i, s.name, &format!("session {name}"), &mut bad, false);
                }
            } else if ws.len() == 1 || w.rx_packets > 0 {
                any_session = true;
                fresh(i, CLASSIC, &format!("worker {i} feed"), &mut bad, true);
            }
        }
        if !any_session {
            bad.push("feed: no session seen yet".into());
        }
        if self.fix_expected && !m.fix_listening {
            bad.push("FIX acceptor (--fix-listen): not listening".into());
        }
        bad
    }

    /// Every series: (name, kind, help, labels, value), name without
    /// `_total`.
    pub fn series(&self) -> Vec<Series> {
        let ws = self.workers();
        let mut out = Vec::new();
        let hz = self.tsc_hz.max(1) as f64;
        for (i, w) in ws.iter().enumerate() {
            let labels = vec![("worker".to_string(), i.to_string())];
            flatten("tickwire", "", &worker_json(w), &labels, &mut out);
            for (name, h, help) in [
                (
                    "tickwire_latency_burst_to_tx_seconds",
                    &w.latency,
                    "Burst arrival to its output handed to tx_burst (stats JSON: latency_burst_to_tx).",
                ),
                (
                    "tickwire_burst_handling_seconds",
                    &w.burst,
                    "Handling of each non-empty RX burst (stats JSON: burst_handling).",
                ),
                (
                    "tickwire_boundary_stall_seconds",
                    &w.stall,
                    "First output of a frame to back at RX (stats JSON: boundary_stall).",
                ),
            ] {
                // Per bucket (the encoder makes them cumulative).
                let mut buckets = Vec::with_capacity(NB + 1);
                for (k, &n) in h.buckets.iter().enumerate() {
                    buckets.push((BUCKETS_S.get(k).copied().unwrap_or(f64::INFINITY), n));
                }
                out.push(Series {
                    name: name.into(),
                    kind: Kind::Histogram {
                        buckets,
                        sum: h.sum_cycles as f64 / hz,
                        count: h.count,
                    },
                    help: help.into(),
                    labels: labels.clone(),
                });
            }
            if w.lines_mode == 1 {
                for s in w.sessions() {
                    let mut l = labels.clone();
                    l.push(("session".into(), session_name(&s.name)));
                    flatten("tickwire_feed", "", &session_json(s), &l, &mut out);
                    for (k, st) in FEED_STATES.iter().enumerate() {
                        let mut l = l.clone();
                        l.push(("state".into(), st.name().into()));
                        out.push(Series::gauge(
                            "tickwire_feed_state",
                            "1 for the session's current state (stats JSON: feed[].sessions[].state).",
                            l,
                            u64::from(usize::from(s.state) == k),
                        ));
                    }
                }
            }
        }
        let m = self.main();
        for p in &m.ports {
            let l = vec![
                ("port".to_string(), p.role.to_string()),
                ("device".to_string(), p.name.clone()),
            ];
            if let Some(s) = p.stats {
                let v = json!({"ipackets": s.ipackets, "opackets": s.opackets, "ibytes": s.ibytes,
                    "obytes": s.obytes, "imissed": s.imissed, "ierrors": s.ierrors,
                    "oerrors": s.oerrors, "rx_nombuf": s.rx_nombuf});
                flatten(
                    "tickwire_port",
                    &format!("{}_port", p.role),
                    &v,
                    &l,
                    &mut out,
                );
            }
            out.push(Series::gauge(
                "tickwire_port_link_up",
                "1 when the port's link is up.",
                l,
                u64::from(p.link_up),
            ));
        }
        if let Some(c) = m.control {
            let mut v = json!({});
            super::report::add_control(&mut v, Some(c));
            flatten("tickwire_control", "control", &v["control"], &[], &mut out);
            out.push(Series::gauge(
                "tickwire_fix_acceptor_listening",
                "1 while the FIX acceptor has a listening socket.",
                vec![],
                u64::from(m.fix_listening),
            ));
        }
        {
            // Zero without a publisher (no --fix-listen): the families exist.
            let (c, drained) = m.fix.unwrap_or_default();
            let mut v = json!({});
            super::report::add_fix(&mut v, Some((c, drained)));
            flatten(
                "tickwire_publisher",
                "fix_sessions",
                &v["fix_sessions"],
                &[],
                &mut out,
            );
            out.push(Series::gauge(
                "tickwire_fix_sessions",
                "FIX sessions open now (accepted minus closed).",
                vec![],
                c.sessions_accepted.saturating_sub(c.sessions_closed),
            ));
        }
        {
            // Zero without --nats: the families exist.
            let c = m.nats.unwrap_or_default();
            flatten("tickwire_nats", "nats", &c.json(), &[], &mut out);
        }
        out
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn exposition(&self) -> String {
        encode(self.series())
    }

    /// Totals over workers, flattened by stats JSON path (DPDK telemetry).
    pub fn totals(&self) -> BTreeMap<String, u64> {
        let mut t = BTreeMap::new();
        for w in self.workers() {
            let mut v = Vec::new();
            flatten_paths("", &worker_json(&w), &mut v);
            for (k, x) in v {
                *t.entry(k).or_insert(0) += x;
            }
        }
        t
    }
}

/// A session name without its padding.
pub fn session_name(n: &[u8; 10]) -> String {
    String::from_utf8_lossy(n).trim_end().to_string()
}

/// A worker's counters in the stats JSON's shape (its paths name the
/// series).
pub fn worker_json(w: &WorkerSnap) -> Value {
    let mut v = tickwire::report::counters_json(&w.counters);
    v["rx_packets"] = w.rx_packets.into();
    v["rx_bursts"] = w.rx_bursts.into();
    v["rx_multi_segment"] = w.rx_multi_segment.into();
    v["live_orders"] = w.live_orders.into();
    v["control_forwarded"] = w.control_forwarded.into();
    v["control_ring_full"] = w.control_ring_full.into();
    v["book_records_directory_refused"] = w.directory_refused.into();
    let t = &w.tx;
    v["fix"] = json!({
        "sent": t.fix_sent, "dropped": t.fix_dropped, "datagrams_sent": t.datagrams_sent,
        "datagrams_dropped": t.datagrams_dropped, "alloc_failures": t.alloc_failures,
        "too_large": t.too_large, "bytes": t.fix_bytes, "udp_off_snapshots": w.udp_skipped,
    });
    if w.lines_mode == 1 {
        v["feed"] = json!({
            "not_a_line": w.not_a_line, "sessions_refused": w.sessions_refused,
            "requests_refused_channel_full": w.requests_refused,
        });
    }
    v
}

/// A session in `tickwire::report::feed_json`'s shape (name and state
/// aside: labels).
fn session_json(s: &snapshot::SessionSnap) -> Value {
    let c = &s.counters;
    let line = |l: &tickwire_core::feed::LineCounters| {
        json!({"packets": l.packets, "messages": l.messages, "messages_won": l.won,
            "messages_duplicate": l.duplicates, "messages_dropped": l.dropped,
            "messages_gap": l.gap_messages})
    };
    let [a, b, r] = &s.lines;
    json!({
        "next_sequence": s.next_sequence, "held_packets": s.held,
        "messages_applied": c.applied, "messages_lost": c.lost,
        "late_join_skipped": c.late_join_skipped, "gaps": c.gaps, "gaps_filled": c.gaps_filled,
        "gaps_given_up": c.gaps_given_up, "given_up_buffer_full": c.given_up_buffer_full,
        "requests": c.requests, "requested_messages": c.requested_messages,
        "requests_refused": c.requests_refused, "failovers": c.failovers,
        "heartbeats": c.heartbeats, "end_of_session": c.end_of_session, "ended": s.ended,
        "buffer_high_water": c.buffer_high_water, "other_session": c.other_session,
        "malformed": c.malformed,
        "lines": {"a": line(a), "b": line(b), "recovery": line(r)},
    })
}

/// What a series is.
#[derive(Debug, Clone)]
pub enum Kind {
    /// Monotonic.
    Counter(u64),
    /// Current value.
    Gauge(u64),
    /// Cumulative buckets (`le`, count), sum, count.
    Histogram {
        /// (`le`, cumulative count).
        buckets: Vec<(f64, u64)>,
        /// Sum of samples.
        sum: f64,
        /// Samples.
        count: u64,
    },
}

/// One series.
#[derive(Debug, Clone)]
pub struct Series {
    /// Family name (counters without `_total`).
    pub name: String,
    /// Type and value.
    pub kind: Kind,
    /// HELP text.
    pub help: String,
    /// Labels.
    pub labels: Vec<(String, String)>,
}

impl Series {
    fn gauge(name: &str, help: &str, labels: Vec<(String, String)>, v: u64) -> Self {
        Self {
            name: name.into(),
            kind: Kind::Gauge(v),
            help: help.into(),
            labels,
        }
    }
}

/// Leaves that are current values, not counts.
const GAUGES: &[&str] = &[
    "live_orders",
    "tcp_open",
    "pending",
    "igmp_groups",
    "source_port",
    "next_sequence",
    "held_packets",
    "buffer_high_water",
    "ended",
    "queued",
    "in_flight",
    "in_flight_max",
    "connected",
];

/// Objects whose keys become a label.
fn label_map(key: &str) -> Option<&'static str> {
    Some(match key {
        "by_type" => "type",
        "malformed_by_kind" => "kind",
        "filtered_by_reason" => "reason",
        "lines" => "line",
        _ => return None,
    })
}

/// Turns a stats-JSON object into series: `prefix_a_b` for path `a.b`
/// (`json_root` names where it sits in the stats JSON, for the HELP).
fn flatten(
    prefix: &str,
    json_root: &str,
    v: &Value,
    labels: &[(String, String)],
    out: &mut Vec<Series>,
) {
    fn walk(name: &str, path: &str, v: &Value, labels: &[(String, String)], out: &mut Vec<Series>) {
        match v {
            Value::Number(n) => {
                let x = n.as_u64().unwrap_or(0);
                let leaf = path.rsplit('.').next().unwrap_or(path);
                let help = format!("stats JSON: {path}");
                let kind = if GAUGES.contains(&leaf) {
                    Kind::Gauge(x)
                } else {
                    Kind::Counter(x)
                };
                out.push(Series {
                    name: name.to_string(),
                    kind,
                    help,
                    labels: labels.to_vec(),
                });
            }
            Value::Bool(b) => out.push(Series {
                name: name.to_string(),
                kind: Kind::Gauge(u64::from(*b)),
                help: format!("stats JSON: {path}"),
                labels: labels.to_vec(),
            }),
            Value::Object(o) => {
                for (k, x) in o {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    if let (Some(label), Value::Object(inner)) = (label_map(k), x) {
                        // One series per key, the key as a label.
                        let stem = match k.as_str() {
                            "lines" => name.replacen("tickwire_feed", "tickwire_line", 1),
                            _ => format!("{name}_{k}"),
                        };
                        for (kk, xx) in inner {
                            let mut l = labels.to_vec();
                            l.push((label.to_string(), kk.clone()));
                            walk(&stem, &format!("{p}.{{{label}}}"), xx, &l, out);
                        }
                    } else {
                        walk(&format!("{name}_{k}"), &p, x, labels, out);
                    }
                }
            }
            _ => {}
        }
    }
    walk(prefix, json_root, v, labels, out);
}

/// `a.b.c -> n` for every number of `v`.
fn flatten_paths(path: &str, v: &Value, out: &mut Vec<(String, u64)>) {
    match v {
        Value::Number(n) => out.push((path.to_string(), n.as_u64().unwrap_or(0))),
        Value::Object(o) => {
            for (k, x) in o {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten_paths(&p, x, out);
            }
        }
        _ => {}
    }
}

/// Groups series into families and encodes them with prometheus-client.
fn encode(series: Vec<Series>) -> String {
    use prometheus_client::registry::Registry;
    let mut fams: BTreeMap<String, Vec<Series>> = BTreeMap::new();
    for s in series {
        fams.entry(s.name.clone()).or_default().push(s);
    }
    let mut reg = Registry::default();
    reg.register_collector(Box::new(http::Families(fams)));
    let mut out = String::new();
    if prometheus_client::encoding::prometheus_text::encode(&mut out, &reg).is_err() {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen("9100").unwrap().to_string(), "127.0.0.1:9100");
        assert_eq!(
            parse_listen("0.0.0.0:9100").unwrap().to_string(),
            "0.0.0.0:9100"
        );
        assert!(parse_listen("x").is_err());
    }

    #[test]
    fn exposition_has_every_counter() {
        let hub = Hub::new(1, 1_000_000_000, Duration::from_secs(5), false, true);
        let mut w = WorkerSnap::default();
        w.counters.messages_applied = 7;
        w.counters.messages_by_type[0] = 3;
        w.rx_packets = 9;
        w.tx.fix_sent = 2;
        w.latency.count = 1;
        w.latency.buckets[3] = 1;
        // SAFETY: the test is the slot's only writer.
        unsafe { hub.slots[0].publish(&w) };
        let text = hub.exposition();
        for want in [
            "tickwire_messages_applied_total{worker=\"0\"} 7",
            "tickwire_rx_packets_total{worker=\"0\"} 9",
            "tickwire_fix_sent_total{worker=\"0\"} 2",
            "tickwire_messages_by_type_total{worker=\"0\",type=",
            "tickwire_latency_burst_to_tx_seconds_bucket{",
            "# TYPE tickwire_live_orders gauge",
        ] {
            assert!(text.contains(want), "{want} missing from\n{text}");
        }
        assert_eq!(hub.totals()["messages.applied"], 7);
    }
}
