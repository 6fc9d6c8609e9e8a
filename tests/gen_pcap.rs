//! MoldUDP64/pcap output of `tickwire::gen`, checked by an independent walk
//! of the file written here (and by Wireshark's dissector through tshark).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

use tickwire::binfile::BinFileReader;
use tickwire::gen::{
    generate, FaultConfig, FilteredKind, FrameKind, GenConfig, MalformedKind, Manifest,
    PacketRecord,
};
use tickwire::pcap::{PcapReader, TsResolution};

const PORT: u16 = 26_400;

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}
fn be64(b: &[u8], i: usize) -> u64 {
    u64::from_be_bytes(b[i..i + 8].try_into().unwrap())
}

fn spec_len(t: u8) -> Option<usize> {
    Some(match t {
        b'S' | b'W' => 12,
        b'R' => 39,
        b'H' => 25,
        b'Y' | b'N' => 20,
        b'L' => 26,
        b'V' | b'J' | b'U' => 35,
        b'K' => 28,
        b'h' => 21,
        b'A' | b'C' => 36,
        b'F' | b'Q' => 40,
        b'E' => 31,
        b'X' => 23,
        b'D' | b'B' => 19,
        b'P' => 44,
        b'I' => 50,
        b'O' => 48,
        _ => return None,
    })
}

fn ip_checksum_ok(h: &[u8]) -> bool {
    let mut s: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s == 0xffff
}

#[derive(Debug, Clone, PartialEq)]
enum Class {
    Malformed(&'static str),
    Filtered(&'static str),
    Mold {
        seq: u64,
        count: u16,
        /// (offset, len) of the good messages inside the frame.
        msgs: Vec<(usize, usize)>,
        bad: Option<&'static str>,
        payload_len: usize,
    },
}

/// Classify one Ethernet frame the way a strict feed handler would.
fn classify(f: &[u8]) -> Class {
    use Class::*;
    if f.len() < 14 {
        return Malformed("truncated_ethernet");
    }
    let mut et = be16(f, 12);
    let mut off = 14;
    if et == 0x8100 {
        if f.len() < 18 {
            return Malformed("truncated_vlan");
        }
        et = be16(f, 16);
        off = 18;
    }
    if et != 0x0800 {
        return Filtered("non_ipv4");
    }
    let ip = &f[off..];
    assert!(ip.len() >= 20, "generator never writes a short IPv4 header");
    if ip[0] >> 4 != 4 {
        return Malformed("ipv4_bad_version");
    }
    let ihl = usize::from(ip[0] & 0xf) * 4;
    if ihl < 20 {
        return Malformed("ipv4_ihl_too_small");
    }
    let total = usize::from(be16(ip, 2));
    if total > ip.len() {
        return Malformed("ipv4_total_len_exceeds_frame");
    }
    assert!(ip_checksum_ok(&ip[..ihl]), "IPv4 header checksum");
    if be16(ip, 6) & 0x3fff != 0 {
        return Malformed("ipv4_fragment");
    }
    if ip[9] != 17 {
        return Filtered("non_udp");
    }
    let udp = &ip[ihl..total];
    let ulen = usize::from(be16(udp, 4));
    if ulen < 8 {
        return Malformed("udp_len_too_small");
    }
    if ulen > udp.len() {
        return Malformed("udp_len_exceeds_ip");
    }
    if be16(udp, 2) != PORT {
        return Filtered("other_udp_port");
    }
    let base = off + ihl + 8;
    let p = &udp[8..ulen];
    if p.len() < 20 {
        return Malformed("mold_header_truncated");
    }
    let seq = be64(p, 10);
    let count = be16(p, 18);
    let mut msgs = Vec::new();
    let mut bad = None;
    if count != 0 && count != 0xFFFF {
        let mut at = 20;
        for _ in 0..count {
            if at + 2 > p.len() {
                bad = Some("block_overrun");
                break;
            }
            let len = usize::from(be16(p, at));
            if at + 2 + len > p.len() {
                bad = Some("block_overrun");
                break;
            }
            let m = &p[at + 2..at + 2 + len];
            match m.first().and_then(|&t| spec_len(t)) {
                None => {
                    bad = Some("unknown_message_type");
                    break;
                }
                Some(l) if l != len => {
                    bad = Some("wrong_message_length");
                    break;
                }
                Some(_) => msgs.push((base + at + 2, len)),
            }
            at += 2 + len;
        }
        if bad.is_none() {
            assert_eq!(at, p.len(), "trailing bytes after the last block");
        }
    }
    Mold {
        seq,
        count,
        msgs,
        bad,
        payload_len: p.len(),
    }
}

#[derive(Debug, Default)]
struct Walk {
    frames: u64,
    data: u64,
    heartbeat: u64,
    eos: u64,
    duplicate: u64,
    vlan: u64,
    gap_events: u64,
    lost: u64,
    malformed: BTreeMap<&'static str, u64>,
    filtered: BTreeMap<&'static str, u64>,
    /// Good messages received in sequence order (duplicates skipped).
    msgs: Vec<(u64, Vec<u8>)>,
    bad_seqs: Vec<u64>,
    classes: Vec<Class>,
    final_seq: u64,
    max_payload_seen: usize,
    max_count_seen: u16,
}

fn walk(pcap: &[u8], first_seq: u64) -> Walk {
    let mut w = Walk::default();
    let mut expected = first_seq;
    let mut data_frames: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut last_ts = 0u64;
    let r = PcapReader::new(pcap).unwrap();
    let res = r.header().resolution;
    for rec in r {
        let rec = rec.unwrap();
        let f = rec.data;
        let t = rec.ts_nanos(res);
        assert!(t >= last_ts, "pcap timestamps go backwards");
        last_ts = t;
        w.frames += 1;
        if f.len() >= 14 && be16(f, 12) == 0x8100 {
            w.vlan += 1;
        }
        let c = classify(f);
        match &c {
            Class::Malformed(k) => *w.malformed.entry(k).or_default() += 1,
            Class::Filtered(k) => *w.filtered.entry(k).or_default() += 1,
            Class::Mold {
                seq,
                count,
                msgs,
                bad,
                payload_len,
            } => {
                let (seq, count) = (*seq, *count);
                if count == 0 || count == 0xFFFF {
                    if count == 0 {
                        w.heartbeat += 1;
                    } else {
                        w.eos += 1;
                        w.final_seq = seq;
                    }
                    assert!(seq >= expected, "control packet sequence went back");
                    if seq > expected {
                        w.gap_events += 1;
                        w.lost += seq - expected;
                        expected = seq;
                    }
                } else if seq + u64::from(count) <= expected {
                    assert!(bad.is_none(), "corrupted packets are never duplicated");
                    assert_eq!(
                        data_frames.get(&seq).map(Vec::as_slice),
                        Some(f),
                        "duplicate differs from original"
                    );
                    w.duplicate += 1;
                } else {
                    assert!(
                        seq >= expected,
                        "partial overlap at {seq} (expected {expected})"
                    );
                    if seq > expected {
                        w.gap_events += 1;
                        w.lost += seq - expected;
                    }
                    w.max_payload_seen = w.max_payload_seen.max(*payload_len);
                    w.max_count_seen = w.max_count_seen.max(count);
                    for (i, &(o, l)) in msgs.iter().enumerate() {
                        w.msgs.push((seq + i as u64, f[o..o + l].to_vec()));
                    }
                    match bad {
                        Some(k) => {
                            assert_eq!(
                                msgs.len() + 1,
                                usize::from(count),
                                "the bad block is the last one"
                            );
                            *w.malformed.entry(k).or_default() += 1;
                            w.bad_seqs.push(seq + u64::from(count) - 1);
                        }
                        None => {
                            w.data += 1;
                            data_frames.insert(seq, f.to_vec());
                        }
                    }
                    expected = seq + u64::from(count);
                }
            }
        }
        w.classes.push(c);
    }
    w
}

fn both(cfg: &GenConfig) -> (Vec<u8>, Vec<u8>, Manifest, Vec<PacketRecord>) {
    let (mut b, mut p, mut log) = (Vec::new(), Vec::new(), Vec::new());
    let m = generate(cfg, Some(&mut b), Some(&mut p), Some(&mut log)).unwrap();
    (b, p, m, log)
}

/// The received messages equal the BinaryFILE's, with bad blocks taking
/// sequence numbers of their own.
fn check_messages_match(bin: &[u8], w: &Walk) {
    let all: Vec<&[u8]> = BinFileReader::new(bin).map(Result::unwrap).collect();
    let mut bad = w.bad_seqs.clone();
    bad.sort_unstable();
    for (seq, m) in &w.msgs {
        let before = bad.partition_point(|&b| b < *seq) as u64;
        let idx = (seq - 1 - before) as usize;
        assert_eq!(all[idx], &m[..], "message at sequence {seq}");
    }
}

#[test]
fn clean_stream_is_contiguous_and_matches_binfile() {
    let mut cfg = GenConfig {
        seed: 4,
        symbols: 20,
        messages: 60_000,
        ..GenConfig::default()
    };
    cfg.mold.heartbeat_every = 25;
    let (bin, pcap, m, log) = both(&cfg);
    let w = walk(&pcap, 1);
    assert_eq!(w.lost, 0);
    assert_eq!(w.duplicate, 0);
    assert!(w.malformed.is_empty() && w.filtered.is_empty());
    assert_eq!(w.msgs.len(), 60_000);
    for (i, (seq, _)) in w.msgs.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
    }
    assert_eq!(w.final_seq, 60_001);
    assert!(matches!(
        w.classes.last(),
        Some(Class::Mold { count: 0xFFFF, .. })
    ));
    assert!(w.max_payload_seen <= 1400);
    check_messages_match(&bin, &w);
    let p = m.pcap.as_ref().unwrap();
    assert_eq!(
        (p.first_sequence, p.last_sequence, p.next_sequence),
        (1, 60_000, 60_001)
    );
    assert_eq!(p.packets.data, w.data);
    assert_eq!(p.packets.heartbeat, w.heartbeat);
    assert!(w.heartbeat >= w.data / 25 && w.heartbeat > 0);
    assert_eq!(p.packets.frames, w.frames);
    assert_eq!(log.len() as u64, w.frames);

    // Addressing and headers of a data frame.
    let mut r = PcapReader::new(&pcap).unwrap();
    let rec = r.next().unwrap().unwrap();
    let f = rec.data;
    assert_eq!(&f[0..6], &[0x01, 0x00, 0x5e, 0x36, 0x0c, 0x6f]);
    assert_eq!(be16(f, 12), 0x0800);
    assert_eq!(be16(f, 20) & 0x4000, 0x4000, "DF");
    assert_eq!(f[22], 32, "TTL");
    assert_eq!(&f[30..34], &[233, 54, 12, 111]);
    assert_eq!(be16(f, 36), PORT);
    assert_eq!(&f[42..52], b"TICKWIRE01");
    // pcap time = capture midnight + ITCH timestamp of the last message.
    if let Class::Mold { msgs, .. } = &w.classes[0] {
        let (o, _) = *msgs.last().unwrap();
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(&f[o + 5..o + 11]);
        let itch_ns = u64::from_be_bytes(b);
        let want = (1_704_153_600 * 1_000_000_000 + itch_ns) / 1_000;
        assert_eq!(rec.ts_nanos(TsResolution::Micros) / 1_000, want);
    } else {
        panic!("first frame is data");
    }
}

fn faulty(seed: u64) -> GenConfig {
    let mut cfg = GenConfig {
        seed,
        symbols: 30,
        messages: 120_000,
        ..GenConfig::default()
    };
    cfg.mold.heartbeat_every = 40;
    cfg.faults = FaultConfig {
        dup_rate: 0.03,
        drop_rate: 0.02,
        vlan_id: Some(321),
        vlan_rate: 0.3,
        malformed_rate: 0.08,
        filtered_rate: 0.05,
    };
    cfg
}

#[test]
fn faults_manifest_matches_independent_walk() {
    let cfg = faulty(8);
    let (bin, pcap, m, log) = both(&cfg);
    let p = m.pcap.as_ref().unwrap();
    let c = &p.packets;
    let w = walk(&pcap, 1);
    assert_eq!(c.frames, w.frames);
    assert_eq!(c.data, w.data);
    assert_eq!(c.heartbeat, w.heartbeat);
    assert_eq!(c.end_of_session, w.eos);
    assert_eq!(c.duplicate, w.duplicate);
    assert_eq!(c.vlan_tagged, w.vlan);
    assert_eq!(p.messages_lost_to_drops, w.lost);
    assert!(w.gap_events <= c.dropped && (c.dropped == 0) == (w.gap_events == 0));
    for k in MalformedKind::ALL {
        assert_eq!(
            c.malformed(k),
            w.malformed.get(k.name()).copied().unwrap_or(0),
            "{}",
            k.name()
        );
        assert!(c.malformed(k) > 0, "kind {} never injected", k.name());
    }
    for k in FilteredKind::ALL {
        assert_eq!(
            c.filtered(k),
            w.filtered.get(k.name()).copied().unwrap_or(0),
            "{}",
            k.name()
        );
        assert!(c.filtered(k) > 0);
    }
    assert!(c.duplicate > 0 && c.dropped > 0 && c.vlan_tagged > 0 && c.vlan_tagged < c.frames);
    assert_eq!(p.bad_block_sequences, w.bad_seqs);
    assert_eq!(w.final_seq, p.next_sequence);
    assert_eq!(
        p.next_sequence - 1,
        m.total_messages + w.bad_seqs.len() as u64
    );
    assert_eq!(
        w.msgs.len() as u64,
        m.total_messages - p.messages_lost_to_drops
    );
    check_messages_match(&bin, &w);

    // The generator's own packet log agrees with the walk, frame by frame.
    let written: Vec<&PacketRecord> = log.iter().filter(|r| r.frame_index.is_some()).collect();
    assert_eq!(written.len() as u64, w.frames);
    assert_eq!(
        log.iter().filter(|r| r.kind == FrameKind::Dropped).count() as u64,
        c.dropped
    );
    let dropped_msgs: u64 = log
        .iter()
        .filter(|r| r.kind == FrameKind::Dropped)
        .map(|r| u64::from(r.count))
        .sum();
    assert_eq!(dropped_msgs, p.messages_lost_to_drops);
    for (i, (r, cl)) in written.iter().zip(&w.classes).enumerate() {
        assert_eq!(r.frame_index, Some(i as u64));
        let ok = match (r.kind, cl) {
            (FrameKind::Malformed(k), Class::Malformed(n)) => k.name() == *n,
            (
                FrameKind::Malformed(k),
                Class::Mold {
                    bad: Some(n),
                    seq,
                    count,
                    ..
                },
            ) => k.name() == *n && *seq == r.sequence && *count == r.count,
            (FrameKind::Filtered(k), Class::Filtered(n)) => k.name() == *n,
            (
                FrameKind::Data
                | FrameKind::Duplicate
                | FrameKind::Heartbeat
                | FrameKind::EndOfSession,
                Class::Mold {
                    seq,
                    count,
                    bad: None,
                    ..
                },
            ) => *seq == r.sequence && *count == r.count,
            _ => false,
        };
        assert!(ok, "frame {i}: log {r:?} vs walk {cl:?}");
    }
}

#[test]
fn tight_packets_with_corruption() {
    let mut cfg = faulty(13);
    cfg.messages = 30_000;
    cfg.mold.max_payload = 200;
    cfg.mold.max_messages_per_packet = 3;
    cfg.faults.malformed_rate = 0.4;
    let (bin, pcap, m, _) = both(&cfg);
    let w = walk(&pcap, 1);
    assert!(w.max_payload_seen <= 200, "{}", w.max_payload_seen);
    assert!(w.max_count_seen <= 3);
    let p = m.pcap.as_ref().unwrap();
    assert_eq!(p.bad_block_sequences, w.bad_seqs);
    assert_eq!(p.messages_lost_to_drops, w.lost);
    check_messages_match(&bin, &w);

    // One message per packet: corrupted packets carry the bad block alone.
    cfg.mold.max_messages_per_packet = 1;
    let (bin, pcap, m, _) = both(&cfg);
    let w = walk(&pcap, 1);
    assert!(w.max_count_seen <= 1);
    assert_eq!(m.pcap.unwrap().bad_block_sequences, w.bad_seqs);
    check_messages_match(&bin, &w);
}

#[test]
fn nanosecond_pcap() {
    let mut cfg = GenConfig {
        seed: 2,
        symbols: 5,
        messages: 3_000,
        ..GenConfig::default()
    };
    cfg.mold.pcap_nanos = true;
    let (_, pcap, _, log) = both(&cfg);
    let r = PcapReader::new(&pcap).unwrap();
    assert_eq!(r.header().resolution, TsResolution::Nanos);
    for (rec, l) in r.zip(&log) {
        assert_eq!(rec.unwrap().ts_nanos(TsResolution::Nanos), l.ts_ns);
    }
}

fn tshark_path() -> Option<String> {
    if Path::new("/usr/bin/tshark").exists() {
        return Some("/usr/bin/tshark".into());
    }
    let out = Command::new("sh")
        .args(["-c", "command -v tshark"])
        .output()
        .ok()?;
    let p = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!p.is_empty()).then_some(p)
}

#[test]
fn tshark_reads_same_sequences_and_counts() {
    if std::env::var("TICKWIRE_SKIP_TSHARK").as_deref() == Ok("1") {
        eprintln!("TICKWIRE_SKIP_TSHARK=1: skipping the tshark cross-check");
        return;
    }
    let tshark = tshark_path().unwrap_or_else(|| {
        panic!("tshark not found: install it (apt-get install tshark) or set TICKWIRE_SKIP_TSHARK=1 to skip")
    });
    let mut cfg = faulty(17);
    cfg.messages = 20_000;
    let (_, pcap, _, log) = both(&cfg);
    let dir = std::env::temp_dir().join(format!("tickwire-gen-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("faulty.pcap");
    std::fs::write(&file, &pcap).unwrap();
    let out = Command::new(&tshark)
        .arg("-r")
        .arg(&file)
        .args(["-d", "udp.port==26400,moldudp64", "-T", "fields"])
        .args([
            "-e",
            "frame.number",
            "-e",
            "moldudp64.sequence",
            "-e",
            "moldudp64.count",
        ])
        .output()
        .expect("run tshark");
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows: HashMap<u64, (String, String)> = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let n: u64 = f[0].parse().unwrap();
        rows.insert(
            n,
            (
                f.get(1).unwrap_or(&"").to_string(),
                f.get(2).unwrap_or(&"").to_string(),
            ),
        );
    }
    let written: Vec<&PacketRecord> = log.iter().filter(|r| r.frame_index.is_some()).collect();
    assert_eq!(
        rows.len(),
        written.len(),
        "tshark saw a different number of frames"
    );
    let mut checked = 0;
    for r in written {
        let n = r.frame_index.unwrap() + 1;
        let (seq, count) = &rows[&n];
        let mold = match r.kind {
            FrameKind::Data
            | FrameKind::Duplicate
            | FrameKind::Heartbeat
            | FrameKind::EndOfSession => true,
            FrameKind::Malformed(k) => k.in_packet(),
            FrameKind::Filtered(FilteredKind::OtherUdpPort | FilteredKind::NonIpv4) => {
                assert!(
                    seq.is_empty(),
                    "frame {n}: tshark decoded a filtered frame as MoldUDP64"
                );
                false
            }
            _ => false,
        };
        if mold {
            assert_eq!(
                seq,
                &r.sequence.to_string(),
                "frame {n} ({:?}) sequence",
                r.kind
            );
            assert_eq!(
                count,
                &r.count.to_string(),
                "frame {n} ({:?}) count",
                r.kind
            );
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} frames cross-checked");
}

#[test]
fn extreme_settings_stay_consistent() {
    let base = GenConfig {
        seed: 99,
        symbols: 3,
        messages: 3_000,
        ..GenConfig::default()
    };
    let mut cases = Vec::new();
    for (drop, dup, mal, filt, vlan) in [
        (1.0, 0.0, 0.0, 0.0, 0.0),
        (0.0, 1.0, 1.0, 1.0, 1.0),
        (0.5, 0.5, 0.5, 0.5, 0.5),
        (1.0, 1.0, 1.0, 1.0, 1.0),
    ] {
        for (payload, max_msgs) in [
            (tickwire::gen::MIN_MAX_PAYLOAD, 65_534),
            (1400, 1),
            (9000, 2),
        ] {
            let mut c = base.clone();
            c.faults = FaultConfig {
                dup_rate: dup,
                drop_rate: drop,
                vlan_id: Some(7),
                vlan_rate: vlan,
                malformed_rate: mal,
                filtered_rate: filt,
            };
            c.mold.max_payload = payload;
            c.mold.max_messages_per_packet = max_msgs;
            c.mold.heartbeat_every = 1;
            cases.push(c);
        }
    }
    // Smallest possible streams: no order flow, and one order-flow message.
    let mut tiny = base.clone();
    tiny.messages = tiny.min_messages();
    cases.push(tiny.clone());
    tiny.messages += 1;
    cases.push(tiny);
    for c in cases {
        let (bin, pcap, m, log) = both(&c);
        let w = walk(&pcap, 1);
        let p = m.pcap.as_ref().unwrap();
        assert!(w.max_payload_seen <= c.mold.max_payload);
        assert!(w.max_count_seen <= c.mold.max_messages_per_packet);
        assert_eq!(p.messages_lost_to_drops, w.lost, "{c:?}");
        assert_eq!(p.bad_block_sequences, w.bad_seqs);
        assert_eq!(p.packets.frames, w.frames);
        assert_eq!(p.packets.duplicate, w.duplicate);
        assert_eq!(w.final_seq, p.next_sequence);
        assert_eq!(
            log.iter().filter(|r| r.frame_index.is_some()).count() as u64,
            w.frames
        );
        assert_eq!(w.msgs.len() as u64 + w.lost, m.total_messages);
        check_messages_match(&bin, &w);
    }
}
