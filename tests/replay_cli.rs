//! `tickwire replay` front end (`tickwire::replay_cli::run`): FIX and stats
//! JSON on generated input, and bad input giving errors, never panics.

use std::path::{Path, PathBuf};

use tickwire::gen::{generate, FaultConfig, GenConfig};
use tickwire::pcap::PcapReader;

fn tmpdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("replay-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn run(args: &[&str]) -> anyhow::Result<()> {
    let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tickwire::replay_cli::run(&v)
}

/// Runs and expects an error; returns its full text (with causes).
fn run_err(args: &[&str]) -> String {
    match run(args) {
        Ok(()) => panic!("expected an error from {args:?}"),
        Err(e) => format!("{e:#}"),
    }
}

fn stats(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).expect("stats are valid JSON")
}

/// Writes a generated stream as `DIR/NAME.itch` and `DIR/NAME.pcap`.
fn gen_files(dir: &Path, name: &str, cfg: &GenConfig) -> (PathBuf, PathBuf) {
    let (mut b, mut pc) = (Vec::new(), Vec::new());
    generate(cfg, Some(&mut b), Some(&mut pc), None).unwrap();
    let (bp, pp) = (
        dir.join(format!("{name}.itch")),
        dir.join(format!("{name}.pcap")),
    );
    std::fs::write(&bp, b).unwrap();
    std::fs::write(&pp, pc).unwrap();
    (bp, pp)
}

fn small() -> GenConfig {
    GenConfig {
        seed: 5,
        symbols: 30,
        messages: 60_000,
        ..GenConfig::default()
    }
}

/// Splits FIX output at SOH-terminated `10=NNN` and checks each message's
/// BodyLength (9) and CheckSum (10). Returns the messages.
fn fix_messages(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 7 <= bytes.len() {
        if bytes[i] == 1 && bytes[i + 1..].starts_with(b"10=") && bytes.get(i + 7) == Some(&1) {
            let msg = &bytes[start..i + 8];
            let body_start = msg.iter().position(|&b| b == 1).unwrap() + 1; // after 8=FIX.4.4
            let len_end = body_start + msg[body_start..].iter().position(|&b| b == 1).unwrap();
            let declared: usize = std::str::from_utf8(&msg[body_start + 2..len_end])
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(declared, i + 1 - (start + len_end + 1), "BodyLength");
            let sum = msg[..msg.len() - 7]
                .iter()
                .fold(0u32, |a, &b| a + u32::from(b))
                % 256;
            assert_eq!(
                format!("{sum:03}").as_bytes(),
                &msg[msg.len() - 4..msg.len() - 1]
            );
            assert!(msg.starts_with(b"8=FIX.4.4\x019="));
            out.push(msg);
            start = i + 8;
            i = start;
        } else {
            i += 1;
        }
    }
    assert_eq!(
        start,
        bytes.len(),
        "trailing bytes after the last FIX message"
    );
    out
}

#[test]
fn writes_fix_and_stats_json() {
    let dir = tmpdir("ok");
    let (bin, pcap) = gen_files(&dir, "day", &small());
    let (fix_b, fix_p) = (dir.join("b.fix"), dir.join("p.fix"));
    let (st_b, st_p) = (dir.join("b.json"), dir.join("p.json"));
    for (input, fix, st) in [(&bin, &fix_b, &st_b), (&pcap, &fix_p, &st_p)] {
        run(&[
            p(input),
            "--out",
            p(fix),
            "--stats-json",
            p(st),
            "--sending-time",
            "event",
            "--date",
            "2024-01-02",
            "--sender",
            "TW",
            "--target",
            "CL",
            "--interval",
            "10ms",
            "--quiet",
        ])
        .unwrap();
    }
    let (jb, jp) = (stats(&st_b), stats(&st_p));
    assert_eq!(jb["input"]["format"], "BinFile");
    assert_eq!(jp["input"]["format"], "Pcap");
    assert_eq!(jb["messages"]["applied"], 60_000);
    assert_eq!(jp["messages"]["applied"], 60_000);
    assert_eq!(jb["input"]["records"], 60_000);
    assert!(jb["input"]["error"].is_null());
    assert_eq!(jp["packets"]["end_of_session"], 1);
    let snaps = jb["snapshots"].as_u64().unwrap();
    assert!(snaps > 0);
    assert_eq!(jb["fix"]["messages"].as_u64(), Some(snaps));
    assert!(jb["elapsed_s"].as_f64().unwrap() > 0.0);
    assert!(jb["storage_bytes"].as_u64().unwrap() > 0);

    // The FIX file: well-formed messages, one per snapshot, and the same from
    // the BinaryFILE and the pcap (event time makes it reproducible).
    let fb = std::fs::read(&fix_b).unwrap();
    let fp = std::fs::read(&fix_p).unwrap();
    assert_eq!(jb["fix"]["bytes"].as_u64(), Some(fb.len() as u64));
    let msgs = fix_messages(&fb);
    assert_eq!(msgs.len() as u64, snaps);
    let first = String::from_utf8_lossy(msgs[0]);
    assert!(
        first.contains("\x0135=W\x0149=TW\x0156=CL\x0134=1\x0152=20240102-09:30:"),
        "{first:?}"
    );
    assert!(first.contains("\x01269=9\x01"), "{first:?}");
    assert_eq!(fb, fp, "BinaryFILE and pcap give the same FIX");

    // Deterministic: the same run again gives the same bytes.
    let again = dir.join("again.fix");
    run(&[
        p(&bin),
        "--out",
        p(&again),
        "--sending-time",
        "event",
        "--sender",
        "TW",
        "--target",
        "CL",
        "--interval",
        "10ms",
        "--quiet",
    ])
    .unwrap();
    assert_eq!(std::fs::read(&again).unwrap(), fb);

    // --no-fix still counts snapshots, writes no FIX.
    let st = dir.join("nofix.json");
    run(&[
        p(&bin),
        "--no-fix",
        "--interval",
        "10ms",
        "--stats-json",
        p(&st),
        "--quiet",
    ])
    .unwrap();
    let j = stats(&st);
    assert_eq!(j["snapshots"].as_u64(), Some(snaps));
    assert_eq!(j["fix"]["messages"], 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn missing_file_is_an_error() {
    let e = run_err(&["/nonexistent/tickwire/x.itch", "--quiet"]);
    assert!(
        e.contains("cannot open /nonexistent/tickwire/x.itch"),
        "{e}"
    );
}

#[test]
fn empty_file_is_an_error() {
    let dir = tmpdir("empty");
    let f = dir.join("empty.itch");
    std::fs::write(&f, b"").unwrap();
    let e = run_err(&[p(&f), "--quiet", "--no-fix"]);
    assert!(e.contains("is empty"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn truncated_binfile_reports_truncation_after_processing_the_rest() {
    let dir = tmpdir("trunc");
    let cfg = small();
    let mut data = Vec::new();
    generate(&cfg, Some(&mut data), None::<std::io::Sink>, None).unwrap();
    // Cut inside a message about two thirds in, and count the whole messages before it.
    let cut_target = data.len() * 2 / 3;
    let (mut pos, mut whole) = (0usize, 0u64);
    while pos + 2 + usize::from(u16::from_be_bytes([data[pos], data[pos + 1]])) <= cut_target {
        pos += 2 + usize::from(u16::from_be_bytes([data[pos], data[pos + 1]]));
        whole += 1;
    }
    let cut = pos + 5; // length prefix and 3 bytes of the next message
    let f = dir.join("trunc.itch");
    std::fs::write(&f, &data[..cut]).unwrap();
    let (fix, st) = (dir.join("t.fix"), dir.join("t.json"));
    let e = run_err(&[
        p(&f),
        "--out",
        p(&fix),
        "--stats-json",
        p(&st),
        "--sending-time",
        "event",
        "--interval",
        "10ms",
        "--quiet",
    ]);
    assert!(e.contains("truncated"), "{e}");
    assert!(e.contains("everything before it was processed"), "{e}");
    let j = stats(&st);
    assert_eq!(j["messages"]["applied"].as_u64(), Some(whole));
    assert_eq!(j["input"]["records"].as_u64(), Some(whole));
    assert!(j["input"]["error"].as_str().unwrap().contains("truncated"));
    // The FIX for what came before was written and flushed.
    let snaps = j["snapshots"].as_u64().unwrap();
    assert!(snaps > 0);
    assert_eq!(
        fix_messages(&std::fs::read(&fix).unwrap()).len() as u64,
        snaps
    );

    // A single byte left where a length prefix should be.
    let f1 = dir.join("trunc1.itch");
    std::fs::write(&f1, &data[..pos + 1]).unwrap();
    let e = run_err(&[p(&f1), "--no-fix", "--quiet"]);
    assert!(
        e.contains("truncated") && e.contains("length prefix"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// xorshift64*: random bytes without a dependency.
fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn random_bytes_give_an_error_or_counts_never_a_panic() {
    let dir = tmpdir("random");
    for seed in 1..=8u64 {
        for &len in &[1usize, 2, 3, 17, 1000, 100_000] {
            let mut data = random_bytes(seed, len);
            if seed % 2 == 0 && len >= 4 {
                // Half of them pose as a pcap (little-endian µs magic).
                data[..4].copy_from_slice(&[0xd4, 0xc3, 0xb2, 0xa1]);
            }
            let f = dir.join(format!("r{seed}-{len}.bin"));
            std::fs::write(&f, &data).unwrap();
            let st = dir.join(format!("r{seed}-{len}.json"));
            let r = std::panic::catch_unwind(|| {
                run(&[
                    p(&f),
                    "--no-fix",
                    "--stats-json",
                    p(&st),
                    "--quiet",
                    // Small tables: 49 runs stay quick.
                    "--max-orders",
                    "65536",
                    "--max-levels",
                    "65536",
                ])
            });
            let r = r.unwrap_or_else(|_| {
                panic!("replay panicked on random input seed {seed} len {len}")
            });
            match r {
                // Whatever framed cleanly was counted, nothing was applied as good data silently.
                Ok(()) => {
                    let j = stats(&st);
                    let m = &j["messages"];
                    let total = m["applied"].as_u64().unwrap() + m["malformed"].as_u64().unwrap();
                    assert!(total > 0 || j["packets"]["total"].as_u64().unwrap() > 0 || len < 3);
                }
                Err(e) => {
                    let e = format!("{e:#}");
                    assert!(
                        e.contains("truncated") || e.contains("pcap") || e.contains("corrupt"),
                        "seed {seed} len {len}: unexpected error {e}"
                    );
                }
            }
        }
    }
    // Random bytes behind a valid pcap global header: records are garbage.
    let mut hdr = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    hdr.extend_from_slice(&[0; 8]);
    hdr.extend_from_slice(&65_535u32.to_le_bytes());
    hdr.extend_from_slice(&1u32.to_le_bytes());
    hdr.extend(random_bytes(99, 50_000));
    let f = dir.join("hdr-random.pcap");
    std::fs::write(&f, &hdr).unwrap();
    let e = run_err(&[p(&f), "--no-fix", "--quiet"]);
    assert!(e.contains("pcap"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn pcap_with_corrupt_record_header_is_an_error_after_the_good_records() {
    let dir = tmpdir("pcap");
    let mut cfg = small();
    cfg.faults = FaultConfig::default();
    let mut data = Vec::new();
    generate(&cfg, None::<std::io::Sink>, Some(&mut data), None).unwrap();
    // Offsets of the record headers.
    let mut reader = PcapReader::new(&data).unwrap();
    let mut offsets = vec![reader.offset()];
    while let Some(r) = reader.next() {
        r.unwrap();
        offsets.push(reader.offset());
    }
    let records = offsets.len() - 1;
    let bad = records / 2;
    let off = offsets[bad];

    // incl_len of record `bad` set to 0xffffffff: corrupt.
    let mut corrupt = data.clone();
    corrupt[off + 8..off + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let f = dir.join("corrupt.pcap");
    std::fs::write(&f, &corrupt).unwrap();
    let st = dir.join("c.json");
    let e = run_err(&[p(&f), "--no-fix", "--stats-json", p(&st), "--quiet"]);
    assert!(
        e.contains("corrupt pcap record") && e.contains(&format!("offset {off}")),
        "{e}"
    );
    assert!(e.contains("everything before it was processed"), "{e}");
    let j = stats(&st);
    assert_eq!(j["input"]["records"].as_u64(), Some(bad as u64));
    assert_eq!(j["packets"]["total"].as_u64(), Some(bad as u64));
    assert!(j["messages"]["applied"].as_u64().unwrap() > 0);

    // incl_len a little too large for what is left: truncated record data.
    let mut short = data.clone();
    let last = offsets[records - 1];
    short[last + 8..last + 12].copy_from_slice(&60_000u32.to_le_bytes());
    let f = dir.join("short.pcap");
    std::fs::write(&f, &short).unwrap();
    let e = run_err(&[p(&f), "--no-fix", "--quiet"]);
    assert!(e.contains("truncated"), "{e}");

    // The file ends inside a record header.
    let f = dir.join("hdrcut.pcap");
    std::fs::write(&f, &data[..offsets[bad] + 7]).unwrap();
    let e = run_err(&[p(&f), "--no-fix", "--quiet"]);
    assert!(
        e.contains("record header") && e.contains("truncated"),
        "{e}"
    );

    // Only part of the global header.
    let f = dir.join("ghdr.pcap");
    std::fs::write(&f, &data[..10]).unwrap();
    let e = run_err(&[p(&f), "--no-fix", "--quiet"]);
    assert!(e.contains("pcap"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_options_are_errors() {
    let dir = tmpdir("opts");
    let (bin, _) = gen_files(
        &dir,
        "o",
        &GenConfig {
            messages: 2_000,
            symbols: 5,
            ..GenConfig::default()
        },
    );
    let b = p(&bin);

    let e = run_err(&[b, "--interval", "0ms", "--quiet"]);
    assert!(e.contains("interval"), "{e}");
    let e = run_err(&[b, "--window", "0s", "--quiet"]);
    assert!(e.contains("window"), "{e}");
    let e = run_err(&[b, "--interval", "7ms", "--window", "1s", "--quiet"]);
    assert!(e.contains("256"), "window needs 1000 buckets: {e}");
    let e = run_err(&[b, "--interval", "100", "--quiet"]);
    assert!(e.contains("unit"), "{e}");
    let e = run_err(&[b, "--sender", "A=B", "--quiet"]);
    assert!(e.contains("--sender"), "{e}");
    let e = run_err(&[b, "--target", "", "--quiet"]);
    assert!(e.contains("--target"), "{e}");
    let e = run_err(&[b, "--time-precision", "ps", "--quiet"]);
    assert!(e.contains("ms, us or ns"), "{e}");
    let e = run_err(&[
        b,
        "--sending-time",
        "event",
        "--date",
        "2023-02-29",
        "--quiet",
    ]);
    assert!(e.contains("2023-02-29"), "{e}");
    let e = run_err(&[b, "--max-orders", "0", "--quiet"]);
    assert!(e.contains("capacities"), "{e}");
    let e = run_err(&[b, "--max-locates", "70000", "--quiet"]);
    assert!(e.contains("capacities"), "{e}");
    let e = run_err(&[b, "--out", "/nonexistent/dir/x.fix", "--quiet"]);
    assert!(e.contains("cannot create"), "{e}");
    let e = run_err(&[b, "--bogus"]);
    assert!(e.contains("--bogus"), "{e}");
    let e = run_err(&[]);
    assert!(e.contains("INPUT") || e.contains("input"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
