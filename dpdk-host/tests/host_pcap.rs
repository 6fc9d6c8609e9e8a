//! The real `tickwire` binary under the EAL (no hugepages), fed generated
//! pcaps through net_pcap (`rx_pcap`) and recording its FIX output in a pcap
//! (`tx_pcap`):
//!
//! * clean stream: the FIX in the TX pcap equals the replayer's on the same
//!   input, field by field except SendingTime (52) and CheckSum (10); every
//!   message's BodyLength and CheckSum recomputed here, in both outputs;
//! * dirty stream (duplicates, gaps, VLAN, malformed and filtered frames):
//!   the same FIX equality, and the host's counters reconciled exactly with
//!   the generator's ground truth (manifest and packet log);
//! * bad arguments and start-up failures: one message, non-zero exit;
//! * `--version` and `-- --help`.
//!
//! Every test has its own temp dir and `--file-prefix`, both removed at the
//! end. Needs root (or what the EAL wants) and DPDK's net_pcap PMD.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use common::*;
use serde_json::Value;
use tickwire::gen::cli::GenArgs;
use tickwire::gen::{FilteredKind, FrameKind, MalformedKind, PacketRecord};

/// Engine sizes given to both the host and the replayer (the generator's
/// books stay far below them).
const ENGINE: [&str; 4] = ["--max-orders", "100000", "--max-levels", "200000"];

/// Runs the host over `rx_pcap`, FIX into `tx_pcap`; returns the run and its
/// `--stats-json`.
fn run_host(
    dir: &TempDir,
    prefix: &EalPrefix,
    rx_pcap: &Path,
    tx_pcap: &Path,
    app: &[&str],
) -> (Finished, Value) {
    let stats = dir.join(format!("{}.host.json", prefix.name()));
    let mut cmd = Command::new(BIN);
    cmd.args(eal_no_huge(prefix))
        .arg("--vdev")
        .arg(format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            rx_pcap.display(),
            tx_pcap.display()
        ))
        .arg("--")
        .args(["--rx-port", "net_pcap0", "--idle-exit", "1s"])
        .args(["--stats-interval", "0s"])
        .arg("--stats-json")
        .arg(&stats)
        .args(ENGINE)
        .args(app);
    let run = run_with_timeout(&mut cmd, Duration::from_secs(180));
    run.assert_success("tickwire host");
    let v = read_json(&stats);
    (run, v)
}

/// The counters the host and the replayer share (same engine, same input).
fn shared_counters(v: &Value) -> Value {
    serde_json::json!({
        "packets": v["packets"],
        "messages": v["messages"],
        "malformed_by_kind": v["malformed_by_kind"],
        "book": v["book"],
        "vwap_executions": v["vwap_executions"],
        "snapshots": v["snapshots"],
    })
}

/// Host-side bookkeeping that must hold on any run over a pcap.
fn check_host_bookkeeping(
    h: &Value,
    frames: u64,
    fix_msgs: usize,
    datagrams: usize,
    fix_bytes: usize,
) {
    assert_eq!(
        u(h, "rx_packets"),
        frames,
        "rx_packets == frames in the pcap"
    );
    assert_eq!(
        u(h, "rx_port.ipackets"),
        frames,
        "port ipackets == frames in the pcap"
    );
    assert_eq!(
        u(h, "packets.total"),
        u(h, "rx_packets"),
        "every frame classified once"
    );
    assert_eq!(h["reconciled"]["rx_equals_classified"], true);
    assert_eq!(
        h["reconciled"]["fix_snapshots_equal_sent_plus_dropped"],
        true
    );
    assert_eq!(u(h, "fix.dropped"), 0, "no FIX message dropped");
    assert_eq!(u(h, "fix.alloc_failures"), 0);
    assert_eq!(u(h, "fix.too_large"), 0);
    assert_eq!(u(h, "fix.sent"), u(h, "snapshots"), "fix.sent == snapshots");
    assert_eq!(
        u(h, "fix.sent"),
        fix_msgs as u64,
        "fix.sent == FIX messages in the TX pcap"
    );
    assert_eq!(
        u(h, "fix.datagrams_sent"),
        datagrams as u64,
        "datagrams_sent == TX frames"
    );
    assert_eq!(
        u(h, "tx_port.opackets"),
        datagrams as u64,
        "port opackets == TX frames"
    );
    assert_eq!(
        u(h, "fix.bytes"),
        fix_bytes as u64,
        "fix.bytes == FIX bytes in the TX pcap"
    );
    assert_eq!(h["hugepages"], false);
}

/// The host's TX pcap: every frame a FIX datagram from 10.0.0.1:30000 to
/// 239.1.1.1:30001 (MAC 01:00:5e:01:01:01) holding whole messages within
/// `mtu - 28` bytes. Returns the FIX bytes and the datagram count.
fn host_fix_output(tx_pcap: &Path, mtu: usize) -> (Vec<u8>, usize) {
    let bytes = std::fs::read(tx_pcap).unwrap();
    let (dgrams, others) = udp_datagrams(&bytes);
    assert!(
        others.is_empty(),
        "non-UDP frames in the TX pcap: {others:?}"
    );
    for d in &dgrams {
        assert_eq!((d.src_ip, d.src_port), ([10, 0, 0, 1], 30000));
        assert_eq!((d.dst_ip, d.dst_port), ([239, 1, 1, 1], 30001));
        assert_eq!(d.dst_mac, [0x01, 0x00, 0x5e, 0x01, 0x01, 0x01]);
        assert_eq!(d.vlan, None);
    }
    fix_from_capture(&bytes, 30001, mtu - 28)
}

#[test]
fn clean_stream_fix_equals_replayer() {
    let t0 = Instant::now();
    let dir = TempDir::new("clean");
    let prefix = EalPrefix::new("clean");
    // 300k messages over ~6 s of event time: ~60 boundaries x 50 symbols.
    let g = generate(
        &dir,
        "clean",
        &[
            "--seed",
            "11",
            "--symbols",
            "50",
            "--messages",
            "300000",
            "--mean-gap-ns",
            "20000",
            "--flush-ns",
            "1000000",
        ],
    );
    let m = &g.manifest;
    let frames = u(m, "pcap.packets.frames");
    let tx = dir.join("fix-out.pcap");
    let (_run, h) = run_host(&dir, &prefix, &g.pcap, &tx, &[]);
    let rep = replay(&dir, "clean", &g.pcap, &ENGINE);

    let (host_fix, datagrams) = host_fix_output(&tx, 1500);
    let host_msgs = fix_messages("host", &host_fix);
    let rep_msgs = fix_messages("replayer", &rep.fix);
    assert!(
        host_msgs.len() > 2000,
        "only {} FIX messages",
        host_msgs.len()
    );
    check_snapshot_layout("host", &host_msgs, 3);
    check_snapshot_layout("replayer", &rep_msgs, 3);
    assert_fix_equal("host vs replayer", &host_msgs, &rep_msgs, &[52, 10]);
    assert_eq!(u(&rep.stats, "fix.messages"), rep_msgs.len() as u64);

    check_host_bookkeeping(&h, frames, host_msgs.len(), datagrams, host_fix.len());
    assert_eq!(
        shared_counters(&h),
        shared_counters(&rep.stats),
        "host and replayer counters"
    );
    // A clean stream: every frame a data packet applied in order.
    assert_eq!(u(&h, "packets.applied"), frames);
    assert_eq!(u(&h, "messages.applied"), u(m, "total_messages"));
    for k in ["duplicate", "gap_opening", "filtered", "malformed"] {
        assert_eq!(u(&h, &format!("packets.{k}")), 0, "packets.{k}");
    }
    for k in ["duplicate", "missing", "malformed"] {
        assert_eq!(u(&h, &format!("messages.{k}")), 0, "messages.{k}");
    }
    assert_eq!(u(&h, "packets.end_of_session"), 1);
    assert_eq!(
        h["messages"]["by_type"],
        manifest_by_type(m),
        "messages by type"
    );
    // The one worker ran on the main lcore and stopped on --idle-exit.
    assert_eq!(h["workers"][0]["idle_exit"], true);
    eprintln!(
        "clean: {frames} frames, {} FIX messages in {datagrams} datagrams, {:.1} s",
        host_msgs.len(),
        t0.elapsed().as_secs_f64()
    );
}

/// The manifest's messages_by_type without zero entries (as the engine
/// reports them).
fn manifest_by_type(m: &Value) -> Value {
    let o: serde_json::Map<String, Value> = m["messages_by_type"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, n)| n.as_u64() != Some(0))
        .map(|(k, n)| (k.clone(), n.clone()))
        .collect();
    Value::Object(o)
}

/// The engine's name for each generator malformed kind (see
/// tickwire_core::engine::WIRE_ERROR_NAMES and docs/semantics.md).
fn engine_error_name(k: MalformedKind) -> &'static str {
    match k {
        MalformedKind::TruncatedEthernet => "ethernet_truncated",
        MalformedKind::TruncatedVlan => "vlan_truncated",
        MalformedKind::Ipv4BadVersion => "ipv4_bad_version",
        MalformedKind::Ipv4IhlTooSmall => "ipv4_bad_header_length",
        MalformedKind::Ipv4TotalLenExceedsFrame => "ipv4_bad_total_length",
        MalformedKind::Ipv4Fragment => "ipv4_fragment",
        MalformedKind::UdpLenExceedsIp | MalformedKind::UdpLenTooSmall => "udp_bad_length",
        MalformedKind::MoldHeaderTruncated => "mold_truncated",
        MalformedKind::BlockOverrun => "mold_block_overrun",
        MalformedKind::UnknownMessageType => "itch_unknown_type",
        MalformedKind::WrongMessageLength => "itch_bad_length",
    }
}

/// What the host must report for a generated pcap, derived from the
/// generator's packet log and BinaryFILE by the rules of docs/semantics.md.
#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    packets: BTreeMap<&'static str, u64>,
    messages: BTreeMap<&'static str, u64>,
    malformed_by_kind: BTreeMap<String, u64>,
    filtered_by_reason: BTreeMap<&'static str, u64>,
    by_type: BTreeMap<String, u64>,
}

fn sequenced(kind: FrameKind) -> bool {
    match kind {
        FrameKind::Data | FrameKind::Heartbeat | FrameKind::EndOfSession | FrameKind::Duplicate => {
            true
        }
        FrameKind::Malformed(k) => k.in_packet(),
        FrameKind::Dropped | FrameKind::Filtered(_) => false,
    }
}

/// The ITCH message types of a BinaryFILE, in order.
fn binfile_types(itch: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut i = 0;
    while i < itch.len() {
        let len = usize::from(u16::from_be_bytes([itch[i], itch[i + 1]]));
        types.push(itch[i + 2]);
        i += 2 + len;
    }
    assert_eq!(i, itch.len(), "BinaryFILE framing");
    types
}

/// Ground truth, from the manifest, the packet log and the BinaryFILE alone
/// (never from the engine). Every count here is exact:
///
/// * filtered / frame-level malformed frames never reach sequencing;
/// * a duplicate is a byte copy of a data packet already in the file, so all
///   its messages are below the expected sequence: a duplicate packet, its
///   count in duplicate messages;
/// * a run of dropped packets is a gap opened by the next sequenced packet
///   (data, heartbeat or end of session), missing = the run's messages; when
///   that packet is a corrupted (in-packet malformed) one it still opens the
///   gap and counts the missing messages, but counts as malformed
///   (precedence: malformed, duplicate, gap-opening, applied);
/// * a corrupted packet (count k+1) applies its k good messages and counts one
///   malformed message, whatever the kind (unknown type and wrong length are
///   skipped by their block length; an overrun is the last block, so "it and
///   the rest of the count" is one);
/// * drops before the first received packet are not a gap (the expected
///   sequence starts at the first packet) and their messages are neither
///   applied nor missing.
fn expected_from_ground_truth(m: &Value, log: &[PacketRecord], itch: &[u8]) -> Expected {
    let p = &m["pcap"];
    let mut e = Expected::default();
    let total = |path: &str| -> u64 {
        p["packets"][path]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };

    // Data packets by (sequence, count), to check that duplicates copy them.
    let mut data_seen: HashSet<(u64, u16)> = HashSet::new();
    let (mut gap_packets, mut missing, mut lost_before_first) = (0u64, 0u64, 0u64);
    let (mut in_packet, mut in_packet_good, mut dup_msgs) = (0u64, 0u64, 0u64);
    let mut pending_run: u64 = 0; // messages in the current run of drops
    let mut run_open = false;
    let (mut drop_runs, mut runs_closed_by_malformed) = (0u64, 0u64);
    let mut any_sequenced = false;
    let mut dropped_ranges = Vec::new();
    let mut first_seq = None;
    for r in log {
        if r.kind == FrameKind::Dropped {
            assert_eq!(r.frame_index, None);
            dropped_ranges.push((r.sequence, r.sequence + u64::from(r.count)));
            if any_sequenced {
                pending_run += u64::from(r.count);
                run_open = true;
            } else {
                lost_before_first += u64::from(r.count);
            }
            continue;
        }
        assert!(r.frame_index.is_some());
        if !sequenced(r.kind) {
            continue;
        }
        first_seq.get_or_insert(r.sequence);
        any_sequenced = true;
        if run_open {
            missing += pending_run;
            drop_runs += 1;
            if matches!(r.kind, FrameKind::Malformed(_)) {
                runs_closed_by_malformed += 1;
            } else {
                gap_packets += 1;
            }
            assert!(
                r.kind != FrameKind::Duplicate,
                "a duplicate right after a drop would not be all duplicates"
            );
            pending_run = 0;
            run_open = false;
        }
        match r.kind {
            FrameKind::Data => {
                data_seen.insert((r.sequence, r.count));
            }
            FrameKind::Duplicate => {
                assert!(
                    data_seen.contains(&(r.sequence, r.count)),
                    "duplicate {r:?} copies no earlier data packet"
                );
                dup_msgs += u64::from(r.count);
            }
            FrameKind::Malformed(_) => {
                assert!(r.count >= 1);
                in_packet += 1;
                in_packet_good += u64::from(r.count) - 1;
            }
            _ => {}
        }
    }
    assert!(!run_open, "the end-of-session packet closes every gap");
    eprintln!(
        "ground truth: {} dropped packets in {drop_runs} runs, {runs_closed_by_malformed} of them \
         closed by a corrupted packet (malformed, not gap-opening); {lost_before_first} messages \
         dropped before the first packet",
        dropped_ranges.len()
    );
    // The seed is chosen so that the stream has both edge cases: consecutive
    // drops (one gap) and a gap closed by a corrupted packet.
    assert!(
        drop_runs < dropped_ranges.len() as u64 && runs_closed_by_malformed > 0,
        "the stream no longer has consecutive drops and a gap closed by a corrupted packet: \
         pick another --seed"
    );

    let c = &p["packets"];
    let frames = u(c, "frames");
    let data = u(c, "data");
    let (hb, eos, dup) = (u(c, "heartbeat"), u(c, "end_of_session"), u(c, "duplicate"));
    let malformed_total = total("malformed");
    let filtered_total = total("filtered");
    let lost = u(p, "messages_lost_to_drops");
    assert_eq!(lost, missing + lost_before_first);
    assert_eq!(
        frames,
        data + hb + eos + dup + malformed_total + filtered_total,
        "manifest frame kinds add up"
    );
    e.packets.insert("total", frames);
    e.packets.insert("filtered", filtered_total);
    e.packets.insert("malformed", malformed_total);
    e.packets.insert("duplicate", dup);
    e.packets.insert("gap_opening", gap_packets);
    // Data, heartbeat and end-of-session packets are applied or gap-opening.
    e.packets.insert("applied", data + hb + eos - gap_packets);
    e.packets.insert("heartbeats", hb);
    e.packets.insert("end_of_session", eos);

    e.messages.insert("duplicate", dup_msgs);
    e.messages.insert("missing", missing);
    e.messages.insert("malformed", in_packet);
    e.messages.insert("applied", u(m, "total_messages") - lost);

    for k in MalformedKind::ALL {
        let n = u(&c["malformed"], k.name());
        if n > 0 {
            *e.malformed_by_kind
                .entry(engine_error_name(k).into())
                .or_default() += n;
        }
    }
    for (k, name) in [
        (FilteredKind::NonIpv4, "not_ipv4"),
        (FilteredKind::NonUdp, "not_udp"),
        (FilteredKind::OtherUdpPort, "other_port"),
    ] {
        e.filtered_by_reason
            .insert(name, u(&c["filtered"], k.name()));
    }

    // Applied messages by type: the BinaryFILE's messages, numbered with the
    // pcap's sequence numbers (bad blocks take numbers of their own), less
    // those only in dropped packets.
    let bad: HashSet<u64> = p["bad_block_sequences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(bad.len() as u64, in_packet);
    let types = binfile_types(itch);
    assert_eq!(types.len() as u64, u(m, "total_messages"));
    let dropped = |s: u64| dropped_ranges.iter().any(|&(a, b)| (a..b).contains(&s));
    let mut seq = u(p, "first_sequence");
    let mut applied_from_file = 0u64;
    for t in types {
        while bad.contains(&seq) {
            seq += 1;
        }
        if !dropped(seq) {
            *e.by_type.entry((t as char).to_string()).or_default() += 1;
            applied_from_file += 1;
        }
        seq += 1;
    }
    assert_eq!(
        seq,
        u(p, "next_sequence"),
        "sequence numbering of the BinaryFILE"
    );
    assert_eq!(applied_from_file, u(m, "total_messages") - lost);
    let from_data: u64 = log
        .iter()
        .filter(|r| r.kind == FrameKind::Data)
        .map(|r| u64::from(r.count))
        .sum();
    assert_eq!(
        from_data + in_packet_good,
        applied_from_file,
        "data + good blocks == applied"
    );
    assert_eq!(first_seq, Some(u(p, "first_sequence") + lost_before_first));
    e
}

/// The same expectation, read back from the host's stats.
fn expected_from_stats(h: &Value) -> Expected {
    let mut e = Expected::default();
    for k in [
        "total",
        "filtered",
        "malformed",
        "duplicate",
        "gap_opening",
        "applied",
        "heartbeats",
        "end_of_session",
    ] {
        e.packets.insert(k, u(h, &format!("packets.{k}")));
    }
    for k in ["duplicate", "missing", "malformed", "applied"] {
        e.messages.insert(k, u(h, &format!("messages.{k}")));
    }
    for (k, v) in h["malformed_by_kind"].as_object().unwrap() {
        e.malformed_by_kind.insert(k.clone(), v.as_u64().unwrap());
    }
    for k in ["not_ipv4", "not_udp", "other_port"] {
        e.filtered_by_reason
            .insert(k, u(h, &format!("packets.filtered_by_reason.{k}")));
    }
    for (k, v) in h["messages"]["by_type"].as_object().unwrap() {
        e.by_type.insert(k.clone(), v.as_u64().unwrap());
    }
    e
}

#[test]
fn dirty_stream_fix_equals_replayer_and_counters_match_ground_truth() {
    let t0 = Instant::now();
    let dir = TempDir::new("dirty");
    let prefix = EalPrefix::new("dirty");
    let gen_args = [
        "--seed",
        "21",
        "--symbols",
        "50",
        "--messages",
        "400000",
        "--mean-gap-ns",
        "5000",
        "--dup-rate",
        "0.02",
        "--drop-rate",
        "0.005",
        "--vlan-rate",
        "0.2",
        "--malformed-rate",
        "0.005",
        "--filtered-rate",
        "0.005",
        "--heartbeat-every",
        "50",
    ];
    let g = generate(&dir, "dirty", &gen_args);
    let m = &g.manifest;

    // The generator's own packet log for the same arguments (the library
    // behind `tickwire gen`); the pcap it writes must be the CLI's, byte for
    // byte, so the log describes the file the host reads.
    let cfg = GenArgs::try_parse_from(std::iter::once("tickwire gen").chain(gen_args))
        .unwrap()
        .config()
        .unwrap();
    let mut pcap_bytes = Vec::new();
    let mut log = Vec::new();
    let lib_manifest =
        tickwire::gen::generate_pcap_with_log(&cfg, &mut pcap_bytes, &mut log).unwrap();
    assert!(
        pcap_bytes == std::fs::read(&g.pcap).unwrap(),
        "library and CLI generate the same pcap"
    );
    assert_eq!(
        &serde_json::from_str::<Value>(&lib_manifest.to_json()).unwrap(),
        m
    );

    // The stream really is dirty: every fault kind is present.
    let c = &m["pcap"]["packets"];
    for k in ["duplicate", "dropped", "vlan_tagged", "heartbeat"] {
        assert!(u(c, k) > 0, "no {k} frames");
    }
    for k in MalformedKind::ALL {
        assert!(u(&c["malformed"], k.name()) > 0, "no {} frames", k.name());
    }
    for k in FilteredKind::ALL {
        assert!(u(&c["filtered"], k.name()) > 0, "no {} frames", k.name());
    }

    let want = expected_from_ground_truth(m, &log, &std::fs::read(&g.itch).unwrap());

    let tx = dir.join("fix-out.pcap");
    let app = ["--mtu", "576", "--time-precision", "us"];
    let (_run, h) = run_host(&dir, &prefix, &g.pcap, &tx, &app);
    let rep = replay(
        &dir,
        "dirty",
        &g.pcap,
        &[&ENGINE[..], &["--time-precision", "us"]].concat(),
    );

    // Counters: exactly the ground truth, and the replayer's.
    let got = expected_from_stats(&h);
    eprintln!("dirty: expected from ground truth: {want:?}");
    assert_eq!(got, want, "host counters vs generator ground truth");
    assert_eq!(
        u(&h, "rx_packets"),
        u(c, "frames"),
        "rx_packets == manifest frames"
    );
    assert_eq!(u(&h, "packets.sessions_refused"), 0);
    assert_eq!(
        shared_counters(&h),
        shared_counters(&rep.stats),
        "host and replayer counters"
    );

    // FIX: equal to the replayer's, framed and checksummed correctly.
    let (host_fix, datagrams) = host_fix_output(&tx, 576);
    let host_msgs = fix_messages("host", &host_fix);
    let rep_msgs = fix_messages("replayer", &rep.fix);
    assert!(
        host_msgs.len() > 500,
        "only {} FIX messages",
        host_msgs.len()
    );
    check_snapshot_layout("host", &host_msgs, 6);
    check_snapshot_layout("replayer", &rep_msgs, 6);
    assert_fix_equal("host vs replayer", &host_msgs, &rep_msgs, &[52, 10]);
    check_host_bookkeeping(
        &h,
        u(c, "frames"),
        host_msgs.len(),
        datagrams,
        host_fix.len(),
    );
    eprintln!(
        "dirty: {} frames ({} dup, {} dropped, {} malformed, {} filtered, {} vlan), {} FIX messages in {datagrams} datagrams, {:.1} s",
        u(c, "frames"),
        u(c, "duplicate"),
        u(c, "dropped"),
        want.packets["malformed"],
        want.packets["filtered"],
        u(c, "vlan_tagged"),
        host_msgs.len(),
        t0.elapsed().as_secs_f64()
    );
}

/// A failed run: non-zero exit and exactly one `tickwire: error:` line
/// containing every one of `needles`.
fn assert_one_error(run: &Finished, what: &str, needles: &[&str]) {
    assert_eq!(
        run.status.code(),
        Some(1),
        "{what}: exit status {} (stderr: {})",
        run.status,
        run.stderr
    );
    let errors = lines_starting(&run.stderr, "tickwire: error:");
    assert_eq!(
        errors.len(),
        1,
        "{what}: one error line expected, stderr:\n{}",
        run.stderr
    );
    for n in needles {
        assert!(
            run.stderr.contains(n),
            "{what}: {n:?} not in the error:\n{}",
            run.stderr
        );
    }
    assert!(
        !run.stdout.contains("tickwire: error"),
        "{what}: error on stdout"
    );
    assert!(
        !run.stderr.contains("panicked"),
        "{what}: panic:\n{}",
        run.stderr
    );
}

#[test]
fn bad_arguments_and_failures_exit_non_zero_with_one_message() {
    let dir = TempDir::new("badargs");
    let g = generate(&dir, "small", &["--messages", "2000", "--symbols", "5"]);
    let tx = dir.join("tx.pcap");
    let vdev = |rx: &Path| {
        format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            rx.display(),
            tx.display()
        )
    };
    let host = |prefix: &EalPrefix, vdev: String, app: &[&str]| {
        run_with_timeout(
            Command::new(BIN)
                .args(eal_no_huge(prefix))
                .args(["--vdev", &vdev, "--"])
                .args(app),
            Duration::from_secs(60),
        )
    };

    // App arguments are parsed before the EAL starts: no runtime directory.
    let p = EalPrefix::new("bad-unknown");
    let run = host(
        &p,
        vdev(&g.pcap),
        &["--rx-port", "net_pcap0", "--no-such-flag"],
    );
    assert_one_error(&run, "unknown app argument", &["--no-such-flag"]);
    assert!(
        !p.runtime_dir().exists(),
        "EAL started despite a bad argument"
    );
    assert!(!run.stderr.contains("EAL:"), "EAL started: {}", run.stderr);

    let p = EalPrefix::new("bad-mtu");
    let run = host(
        &p,
        vdev(&g.pcap),
        &["--rx-port", "net_pcap0", "--mtu", "10"],
    );
    assert_one_error(&run, "--mtu 10", &["--mtu", "10", "576"]);
    assert!(!p.runtime_dir().exists(), "EAL started despite a bad --mtu");

    // Failures once the EAL runs: the port names DPDK found are listed.
    let p = EalPrefix::new("bad-port");
    let run = host(&p, vdev(&g.pcap), &["--rx-port", "nosuch"]);
    assert_one_error(&run, "--rx-port nosuch", &["\"nosuch\"", "net_pcap0"]);

    // A missing rx_pcap: the PMD's probe fails (DPDK says which file), and
    // the host stops with one error about the port.
    let p = EalPrefix::new("bad-file");
    let missing = dir.join("does-not-exist.pcap");
    let run = host(
        &p,
        vdev(&missing),
        &["--rx-port", "net_pcap0", "--idle-exit", "1s"],
    );
    let missing_s = missing.display().to_string();
    assert_one_error(&run, "missing rx_pcap", &[&missing_s, "net_pcap0"]);
    assert!(
        !tx.exists() || std::fs::metadata(&tx).unwrap().len() <= 24,
        "no FIX written"
    );
}

#[test]
fn version_prints_dpdk_version_and_commit() {
    let run = run_with_timeout(Command::new(BIN).arg("--version"), Duration::from_secs(30));
    run.assert_success("tickwire --version");
    let field = |name: &str| -> String {
        run.stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name:?} line in:\n{}", run.stdout))
            .trim()
            .to_string()
    };
    let dpdk = field("dpdk (pkg-config at build):");
    assert!(
        dpdk.starts_with(|c: char| c.is_ascii_digit()),
        "DPDK version {dpdk:?}"
    );
    if let Ok(o) = Command::new("pkg-config")
        .args(["--modversion", "libdpdk"])
        .output()
    {
        if o.status.success() {
            assert_eq!(
                dpdk,
                String::from_utf8_lossy(&o.stdout).trim(),
                "DPDK version"
            );
        }
    }
    let commit = field("commit:");
    let hash = commit.strip_suffix("-dirty").unwrap_or(&commit);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let head = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        // Built from a git checkout with commits: the binary must name HEAD.
        Some(head) => assert!(
            hash.len() >= 7 && head.starts_with(hash),
            "`tickwire --version` says commit {commit:?}, the checkout is at {head}; \
             the build script's provenance is stale (see build.rs rerun-if-changed)"
        ),
        None => assert!(
            hash == "unknown" || hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "commit {commit:?}"
        ),
    }
}

#[test]
fn app_help_exits_zero_without_starting_the_eal() {
    let p = EalPrefix::new("help");
    let run = run_with_timeout(
        Command::new(BIN)
            .args(eal_no_huge(&p))
            .args(["--", "--help"]),
        Duration::from_secs(30),
    );
    run.assert_success("tickwire -- --help");
    for opt in [
        "--rx-port",
        "--tx-port",
        "--idle-exit",
        "--stats-json",
        "--mtu",
    ] {
        assert!(
            run.stdout.contains(opt),
            "{opt} not in the help:\n{}",
            run.stdout
        );
    }
    assert!(!run.stderr.contains("EAL:"), "EAL started: {}", run.stderr);
    assert!(
        !p.runtime_dir().exists(),
        "EAL runtime directory created for --help"
    );
}
