//! The final report: worker reports aggregated into the stats JSON and
//! the human summary.

use super::*;
use serde_json::{json, Value};

fn add(a: &mut Counters, b: &Counters) {
    macro_rules! sum { ($($f:ident),*) => { $( a.$f += b.$f; )* } }
    sum!(
        packets_applied,
        packets_duplicate,
        packets_gap,
        packets_filtered,
        packets_malformed,
        heartbeats,
        end_of_session,
        sessions_refused,
        messages_applied,
        messages_duplicate,
        messages_missing,
        messages_malformed,
        unknown_ref,
        oversized_reductions,
        duplicate_ref,
        rejected_adds,
        orders_refused_full,
        levels_refused_full,
        locate_out_of_range,
        book_mismatch,
        vwap_executions,
        implausible_shares,
        implausible_price,
        vwap_overflow,
        timestamp_backwards,
        timestamp_out_of_day,
        snapshots,
        snapshots_skipped_overflow,
        snapshots_skipped_no_volume,
        records,
        records_refused,
        loss_events,
        books_possibly_stale
    );
    for (x, y) in a.filtered_by_reason.iter_mut().zip(b.filtered_by_reason) {
        *x += y;
    }
    for (x, y) in a.malformed_by_kind.iter_mut().zip(b.malformed_by_kind) {
        *x += y;
    }
    for (x, y) in a.messages_by_type.iter_mut().zip(b.messages_by_type) {
        *x += y;
    }
}

fn percentiles(h: &hdrhistogram::Histogram<u64>, tsc_hz: u64) -> Value {
    let ns = |c: u64| (u128::from(c) * 1_000_000_000 / u128::from(tsc_hz.max(1))) as u64;
    json!({
        "samples": h.len(),
        "p50_ns": ns(h.value_at_quantile(0.50)),
        "p99_ns": ns(h.value_at_quantile(0.99)),
        "p999_ns": ns(h.value_at_quantile(0.999)),
        "max_ns": ns(h.max()),
        "mean_ns": (h.mean() * 1e9 / tsc_hz.max(1) as f64) as u64,
    })
}

/// Builds the final JSON summary.
pub fn build(
    reports: &[WorkerReport],
    tsc_hz: u64,
    elapsed: Duration,
    rx_stats: Option<crate::dpdk::PortStats>,
    tx_stats: Option<crate::dpdk::PortStats>,
    hugepages: bool,
    storage_bytes: usize,
) -> Value {
    let mut total = Counters::default();
    let mut lat = super::worker::histogram(tsc_hz)
        .unwrap_or_else(|_| hdrhistogram::Histogram::new(3).expect("sigfig 3 is valid"));
    let mut burst = lat.clone();
    let mut stall = lat.clone();
    let (mut udp_skipped, mut directory_refused) = (0u64, 0u64);
    let (
        mut rx,
        mut fix_sent,
        mut fix_dropped,
        mut dgrams,
        mut dgrams_dropped,
        mut alloc_fail,
        mut too_large,
        mut fix_bytes,
        mut busy,
    ) = (0, 0, 0, 0, 0, 0, 0, 0, 0u64);
    let mut workers = Vec::new();
    let mut feeds = Vec::new();
    let mut feed_packets = 0u64;
    for r in reports {
        add(&mut total, &r.counters);
        if let Some(f) = &r.feed {
            // Lines mode: MoldUDP64 frames are the feed's, classified
            // per line; the engine counted the rest.
            let lines: u64 = f
                .sessions
                .iter()
                .map(|s| {
                    ["a", "b", "recovery"]
                        .iter()
                        .map(|l| s["lines"][l]["packets"].as_u64().unwrap_or(0))
                        .sum::<u64>()
                        + s["other_session"].as_u64().unwrap_or(0)
                        + s["malformed"].as_u64().unwrap_or(0)
                })
                .sum();
            feed_packets += lines + f.not_a_line + f.sessions_refused;
            let ns = |h: &hdrhistogram::Histogram<u64>| {
                json!({
                    "samples": h.len(),
                    "p50_ns": h.value_at_quantile(0.5),
                    "p99_ns": h.value_at_quantile(0.99),
                    "p999_ns": h.value_at_quantile(0.999),
                    "max_ns": h.max(),
                })
            };
            feeds.push(json!({
                "lcore": r.lcore,
                "sessions": f.sessions,
                "not_a_line": f.not_a_line,
                "sessions_refused": f.sessions_refused,
                "requests_refused_channel_full": f.requests_refused,
                "ab_skew": ns(&f.skew_ns),
                "recovery_time": ns(&f.recovery_ns),
            }));
        }
        let _ = lat.add(&r.latency_cycles);
        let _ = burst.add(&r.burst_cycles);
        let _ = stall.add(&r.boundary_stall_cycles);
        udp_skipped += r.udp_skipped;
        directory_refused += r.directory_refused;
        rx += r.rx_packets;
        fix_sent += r.tx.fix_sent;
        fix_dropped += r.tx.fix_dropped;
        dgrams += r.tx.datagrams_sent;
        dgrams_dropped += r.tx.datagrams_dropped;
        alloc_fail += r.tx.alloc_failures;
        too_large += r.tx.too_large;
        fix_bytes += r.tx.fix_bytes;
        busy = busy.max(r.busy_span_cycles);
        let span_s = r.busy_span_cycles as f64 / tsc_hz.max(1) as f64;
        workers.push(json!({
            "lcore": r.lcore, "queue": r.queue, "rx_packets": r.rx_packets, "rx_bursts": r.rx_bursts,
            "rx_multi_segment": r.rx_multi_segment,
            "messages_applied": r.counters.messages_applied, "live_orders": r.live_orders,
            "busy_span_s": span_s,
            "messages_per_s": if span_s > 0.0 { r.counters.messages_applied as f64 / span_s } else { 0.0 },
            "fix_sent": r.tx.fix_sent, "fix_dropped": r.tx.fix_dropped, "idle_exit": r.idle_exit,
            "session_ended": r.session_ended,
            "control_forwarded": r.control_forwarded, "control_ring_full": r.control_ring_full,
            "latency": percentiles(&r.latency_cycles, tsc_hz),
            "boundary_stall": percentiles(&r.boundary_stall_cycles, tsc_hz),
        }));
    }
    let mut v = tickwire::report::counters_json(&total);
    let reconciled = rx == total.packets_total() + feed_packets;
    if !feeds.is_empty() {
        v["feed"] = feeds.into();
    }
    let busy_s = busy as f64 / tsc_hz.max(1) as f64;
    v["rx_packets"] = rx.into();
    v["reconciled"] = json!({
        "rx_equals_classified": reconciled,
        "fix_snapshots_equal_sent_plus_dropped": total.snapshots == fix_sent + fix_dropped + udp_skipped,
    });
    v["fix"] = json!({
        "sent": fix_sent, "dropped": fix_dropped, "datagrams_sent": dgrams, "datagrams_dropped": dgrams_dropped,
        "alloc_failures": alloc_fail, "too_large": too_large, "bytes": fix_bytes,
    });
    v["latency_burst_to_tx"] = percentiles(&lat, tsc_hz);
    v["burst_handling"] = percentiles(&burst, tsc_hz);
    v["boundary_stall"] = percentiles(&stall, tsc_hz);
    v["fix"]["udp_off_snapshots"] = udp_skipped.into();
    v["book_records_directory_refused"] = directory_refused.into();
    v["fix_sessions"] = Value::Null;
    v["workers"] = workers.into();
    v["elapsed_s"] = elapsed.as_secs_f64().into();
    v["busy_span_s"] = busy_s.into();
    v["messages_per_s"] = (if busy_s > 0.0 {
        total.messages_applied as f64 / busy_s
    } else {
        0.0
    })
    .into();
    v["hugepages"] = hugepages.into();
    v["engine_storage_bytes_per_worker"] = storage_bytes.into();
    v["tsc_hz"] = tsc_hz.into();
    let port = |s: Option<crate::dpdk::PortStats>| match s {
        Some(s) => {
            json!({"ipackets": s.ipackets, "opackets": s.opackets, "imissed": s.imissed, "ierrors": s.ierrors, "oerrors": s.oerrors, "rx_nombuf": s.rx_nombuf})
        }
        None => Value::Null,
    };
    v["rx_port"] = port(rx_stats);
    v["tx_port"] = port(tx_stats);
    v["counters_human"] = tickwire::report::summary(&total).into();
    v["control"] = Value::Null;
    v
}

/// Adds the FIX publisher's counters (`fix_sessions`) and the records it
/// took off the rings.
pub fn add_fix(v: &mut Value, p: Option<(tickwire::publish::PublisherCounters, u64)>) {
    if let Some((c, drained)) = p {
        let mut j = tickwire::report::publisher_json(&c);
        j["ring_slots_drained"] = drained.into();
        v["fix_sessions"] = j;
    }
}

/// Adds the NATS bridge's final counters (`nats`; null when it is off):
/// with `ring_slots_drained` when the main lcore moved records to it
/// itself (no FIX publisher), and the last error the bridge saw.
pub fn add_nats(
    v: &mut Value,
    nats: Option<(tickwire::nats::BridgeCounters, Option<String>)>,
    drained: Option<u64>,
) {
    v["nats"] = match nats {
        Some((c, last_error)) => {
            let mut j = c.json();
            if let Some(d) = drained {
                j["ring_slots_drained"] = d.into();
            }
            j["last_error"] = last_error.into();
            j
        }
        None => Value::Null,
    };
}

/// Adds the control plane's counters to the summary (`control`; null
/// when it is off). Frames the workers forwarded are also counted
/// filtered or malformed: the control plane's share of them, not extra
/// frames.
pub fn add_control(v: &mut Value, control: Option<crate::control::ControlCounters>) {
    v["control"] = match control {
        Some(c) => json!({
            "rx_frames": c.device.rx_frames, "rx_arp": c.device.rx_arp,
            "rx_icmp": c.device.rx_icmp, "rx_tcp": c.device.rx_tcp,
            "tx_frames": c.device.tx_frames, "tx_failures": c.device.tx_failures,
            "tcp_accepted": c.tcp_accepted, "tcp_closed": c.tcp_closed, "tcp_open": c.tcp_open,
            "forwarded": c.ring_forwarded, "ring_full": c.ring_full,
            "rx_igmp": c.device.rx_igmp, "tx_igmp_reports": c.device.tx_igmp_reports,
            "tx_igmp_leaves": c.device.tx_igmp_leaves, "tx_udp": c.device.tx_udp,
            "igmp_joins": c.igmp.joins, "igmp_leaves": c.igmp.leaves, "igmp_groups": c.igmp.groups,
            "recovery": crate::control::rerequest::counters_json(&c.recovery),
        }),
        None => Value::Null,
    };
}

/// The final report for people.
pub fn human(v: &Value) -> String {
    let c = &v["control"];
    let control = if c.is_null() {
        String::new()
    } else {
        format!(
            "\ncontrol   {} frames in ({} ARP, {} ICMP, {} TCP), {} out, {} TX failures; TCP {} accepted, {} closed; {} forwarded by workers, {} dropped on a full ring",
            c["rx_frames"], c["rx_arp"], c["rx_icmp"], c["rx_tcp"], c["tx_frames"],
            c["tx_failures"], c["tcp_accepted"], c["tcp_closed"], c["forwarded"], c["ring_full"]
        ) + &format!(
            "\nmulticast {} joined, {} left, {} IGMP in, {} reports and {} leaves out\nrerequest {}",
            c["igmp_joins"], c["igmp_leaves"], c["rx_igmp"], c["tx_igmp_reports"],
            c["tx_igmp_leaves"], crate::control::rerequest::human(&c["recovery"])
        )
    };
    let base = format!(
        "tickwire: done in {:.3} s: {} frames received, counters {}\n{}\nfix       {} sent, {} dropped in {} datagrams\nlatency   burst arrival -> tx_burst: p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns ({} flushes)\nrate      {:.2} M msg/s over the busy span of {:.3} s",
        v["elapsed_s"].as_f64().unwrap_or(0.0),
        v["rx_packets"],
        if v["reconciled"]["rx_equals_classified"].as_bool() == Some(true) {
            "reconcile (every frame classified once)"
        } else {
            "DO NOT reconcile"
        },
        v["counters_human"].as_str().unwrap_or(""),
        v["fix"]["sent"],
        v["fix"]["dropped"],
        v["fix"]["datagrams_sent"],
        v["latency_burst_to_tx"]["p50_ns"],
        v["latency_burst_to_tx"]["p99_ns"],
        v["latency_burst_to_tx"]["p999_ns"],
        v["latency_burst_to_tx"]["max_ns"],
        v["latency_burst_to_tx"]["samples"],
        v["messages_per_s"].as_f64().unwrap_or(0.0) / 1e6,
        v["busy_span_s"].as_f64().unwrap_or(0.0),
    );
    let n = &v["nats"];
    let nats = if n.is_null() {
        String::new()
    } else {
        format!(
            "\nnats      {} records offered, {} published, {} acknowledged, {} retried, {} failed, {} dropped; {} reconnects{}",
            n["offered"], n["published"], n["acked"], n["retried"], n["failed"], n["dropped"], n["reconnects"],
            n["last_error"].as_str().map(|e| format!("; last error: {e}")).unwrap_or_default()
        )
    };
    base + &control + &nats
}
