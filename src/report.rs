//! Human and JSON renderings of the engine's counters, shared by the replayer
//! and the DPDK host.

use serde_json::{json, Map, Value};
use tickwire_core::engine::{Counters, WIRE_ERROR_NAMES};
use tickwire_core::wire::itch::ALL_TYPES;

/// The counters as a JSON object.
pub fn counters_json(c: &Counters) -> Value {
    let by_kind: Map<String, Value> = WIRE_ERROR_NAMES
        .iter()
        .zip(c.malformed_by_kind)
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| ((*k).into(), n.into()))
        .collect();
    let by_type: Map<String, Value> = ALL_TYPES
        .iter()
        .zip(c.messages_by_type)
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| ((*t as char).to_string(), n.into()))
        .collect();
    json!({
        "packets": {
            "total": c.packets_total(),
            "applied": c.packets_applied,
            "duplicate": c.packets_duplicate,
            "gap_opening": c.packets_gap,
            "filtered": c.packets_filtered,
            "malformed": c.packets_malformed,
            "heartbeats": c.heartbeats,
            "end_of_session": c.end_of_session,
            "sessions_refused": c.sessions_refused,
            "filtered_by_reason": {
                "not_ipv4": c.filtered_by_reason[0],
                "not_udp": c.filtered_by_reason[1],
                "other_port": c.filtered_by_reason[2],
            },
        },
        "malformed_by_kind": by_kind,
        "messages": {
            "applied": c.messages_applied,
            "duplicate": c.messages_duplicate,
            "missing": c.messages_missing,
            "malformed": c.messages_malformed,
            "by_type": by_type,
        },
        "book": {
            "unknown_ref": c.unknown_ref,
            "oversized_reductions": c.oversized_reductions,
            "duplicate_ref": c.duplicate_ref,
            "rejected_adds": c.rejected_adds,
            "orders_refused_full": c.orders_refused_full,
            "levels_refused_full": c.levels_refused_full,
            "locate_out_of_range": c.locate_out_of_range,
            "book_mismatch": c.book_mismatch,
        },
        "vwap_executions": c.vwap_executions,
        "hostile": {
            "implausible_shares": c.implausible_shares,
            "implausible_price": c.implausible_price,
            "vwap_overflow": c.vwap_overflow,
            "timestamp_backwards": c.timestamp_backwards,
            "timestamp_out_of_day": c.timestamp_out_of_day,
            "snapshots_skipped_overflow": c.snapshots_skipped_overflow,
            "snapshots_skipped_no_volume": c.snapshots_skipped_no_volume,
        },
        "snapshots": c.snapshots,
        "book_records": c.records,
        "book_records_refused": c.records_refused,
        "loss_events": c.loss_events,
        "books_possibly_stale": c.books_possibly_stale,
    })
}

/// One feed session (lines and recovery) as JSON: state, counters, and
/// per-line counters.
pub fn feed_json<P: AsRef<[u8]>>(s: &tickwire_core::feed::Sequencer<'_, P>) -> Value {
    let c = s.counters();
    let line = |l: &tickwire_core::feed::LineCounters| {
        json!({
            "packets": l.packets,
            "messages": l.messages,
            "won": l.won,
            "duplicates": l.duplicates,
            "dropped": l.dropped,
            "gap_messages": l.gap_messages,
        })
    };
    let [a, b, r] = s.line_counters();
    json!({
        "session": String::from_utf8_lossy(s.session()).trim_end().to_string(),
        "state": s.state().name(),
        "next_sequence": s.expected(),
        "held_packets": s.held(),
        "messages_applied": c.applied,
        "messages_lost": c.lost,
        "late_join_skipped": c.late_join_skipped,
        "gaps": c.gaps,
        "gaps_filled": c.gaps_filled,
        "gaps_given_up": c.gaps_given_up,
        "given_up_buffer_full": c.given_up_buffer_full,
        "requests": c.requests,
        "requested_messages": c.requested_messages,
        "requests_refused": c.requests_refused,
        "failovers": c.failovers,
        "heartbeats": c.heartbeats,
        "end_of_session": c.end_of_session,
        "ended": s.ended(),
        "buffer_high_water": c.buffer_high_water,
        "other_session": c.other_session,
        "malformed": c.malformed,
        "lines": { "a": line(a), "b": line(b), "recovery": line(r) },
    })
}

/// A few lines for people, as the replayer and host print at the end.
pub fn summary(c: &Counters) -> String {
    let mut s = String::new();
    if c.packets_total() > 0 {
        s += &format!(
            "packets   {:>12} total: {} applied, {} duplicate, {} gap-opening, {} filtered, {} malformed ({} heartbeats, {} end-of-session)\n",
            c.packets_total(),
            c.packets_applied,
            c.packets_duplicate,
            c.packets_gap,
            c.packets_filtered,
            c.packets_malformed,
            c.heartbeats,
            c.end_of_session
        );
    }
    s += &format!(
        "messages  {:>12} applied, {} duplicate, {} missing (gaps), {} malformed\n",
        c.messages_applied, c.messages_duplicate, c.messages_missing, c.messages_malformed
    );
    let types: Vec<String> = ALL_TYPES
        .iter()
        .zip(c.messages_by_type)
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| format!("{}={n}", *t as char))
        .collect();
    s += &format!("by type   {}\n", types.join(" "));
    let kinds: Vec<String> = WIRE_ERROR_NAMES
        .iter()
        .zip(c.malformed_by_kind)
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    if !kinds.is_empty() {
        s += &format!("malformed {}\n", kinds.join(" "));
    }
    s += &format!(
        "book      unknown_ref={} oversized={} duplicate_ref={} rejected_adds={} refused_full(orders={} levels={}) mismatch={}\n",
        c.unknown_ref,
        c.oversized_reductions,
        c.duplicate_ref,
        c.rejected_adds,
        c.orders_refused_full,
        c.levels_refused_full,
        c.book_mismatch
    );
    s += &format!(
        "vwap      {} executions, {} snapshots",
        c.vwap_executions, c.snapshots
    );
    let hostile = [
        ("implausible_shares", c.implausible_shares),
        ("implausible_price", c.implausible_price),
        ("vwap_overflow", c.vwap_overflow),
        ("timestamp_backwards", c.timestamp_backwards),
        ("timestamp_out_of_day", c.timestamp_out_of_day),
        ("snapshots_skipped_overflow", c.snapshots_skipped_overflow),
        ("snapshots_skipped_no_volume", c.snapshots_skipped_no_volume),
    ];
    let hostile: Vec<String> = hostile
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    if !hostile.is_empty() {
        s += &format!("\nrefused   {}", hostile.join(" "));
    }
    s
}

/// The FIX publisher's counters as JSON.
pub fn publisher_json(p: &crate::publish::PublisherCounters) -> serde_json::Value {
    let m = &p.closed_md;
    serde_json::json!({
        "sessions_accepted": p.sessions_accepted,
        "sessions_refused": p.sessions_refused,
        "sessions_closed": p.sessions_closed,
        "logons": p.logons,
        "duplicate_logons": p.duplicate_logons,
        "records": p.records,
        "records_changed": p.records_changed,
        "bytes_sent": p.bytes_sent,
        "bytes_received": p.bytes_received,
        "requests": m.requests,
        "request_rejects": m.request_rejects,
        "session_rejects": m.session_rejects,
        "rejects_received": m.rejects_received,
        "garbled": m.garbled,
        "business_rejects": m.business_rejects,
        "snapshots": m.snapshots,
        "conflated": m.conflated,
        "slow_consumer_logouts": m.slow_consumer_logouts,
    })
}
