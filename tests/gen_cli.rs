//! `tickwire gen` front end: files, manifest JSON, summary.

use std::path::PathBuf;

use tickwire::binfile::MappedBinFile;
use tickwire::gen::cli::{run, GenArgs};
use tickwire::pcap::MappedPcap;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tickwire-gen-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn writes_both_files_and_manifest() {
    let dir = tmpdir("both");
    let out = dir.join("day");
    let out_s = out.to_str().unwrap();
    run(&args(&[
        "--seed",
        "3",
        "--symbols",
        "40",
        "--messages",
        "50000",
        "--out",
        out_s,
        "--heartbeat-every",
        "10",
        "--drop-rate",
        "0.01",
        "--dup-rate",
        "0.01",
        "--vlan",
        "42",
        "--malformed-rate",
        "0.02",
        "--filtered-rate",
        "0.02",
        "--quiet",
    ]))
    .unwrap();
    let bin = MappedBinFile::open(dir.join("day.itch")).unwrap();
    let n = bin.messages().collect::<Result<Vec<_>, _>>().unwrap().len();
    assert_eq!(n, 50_000);
    let pcap = MappedPcap::open(dir.join("day.pcap")).unwrap();
    let frames = pcap
        .reader()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .len() as u64;

    let text = std::fs::read_to_string(dir.join("day.manifest.json")).unwrap();
    let j: serde_json::Value = serde_json::from_str(&text).expect("manifest is valid JSON");
    assert_eq!(j["total_messages"], 50_000);
    assert_eq!(j["seed"], 3);
    assert_eq!(j["symbol_count"], 40);
    assert_eq!(j["symbols"].as_array().unwrap().len(), 40);
    let by_type = j["messages_by_type"].as_object().unwrap();
    assert_eq!(by_type.len(), 23);
    assert_eq!(
        by_type.values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
        50_000
    );
    let p = &j["pcap"];
    assert_eq!(p["packets"]["frames"].as_u64(), Some(frames));
    assert_eq!(
        p["packets"]["vlan_tagged"].as_u64(),
        Some(
            frames
                - p["packets"]["malformed"]["truncated_ethernet"]
                    .as_u64()
                    .unwrap()
        )
    );
    assert!(p["packets"]["heartbeat"].as_u64().unwrap() > 0);
    assert_eq!(p["packets"]["end_of_session"], 1);
    assert_eq!(p["session"], "TICKWIRE01");
    let bad = p["bad_block_sequences"].as_array().unwrap().len() as u64;
    assert_eq!(p["last_sequence"].as_u64(), Some(50_000 + bad));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn single_format_and_explicit_manifest() {
    let dir = tmpdir("single");
    let out = dir.join("x.pcap");
    let man = dir.join("m.json");
    run(&args(&[
        "gen",
        "--messages",
        "5000",
        "--symbols",
        "10",
        "--format",
        "pcap",
        "--out",
        out.to_str().unwrap(),
        "--manifest",
        man.to_str().unwrap(),
        "--pcap-nanos",
    ]))
    .unwrap();
    assert!(out.exists());
    assert!(!dir.join("x.itch").exists());
    assert!(man.exists());
    let pcap = MappedPcap::open(&out).unwrap();
    assert_eq!(
        pcap.reader().unwrap().header().resolution,
        tickwire::pcap::TsResolution::Nanos
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn summary_reads_well() {
    use clap::Parser;
    let a = GenArgs::try_parse_from(["x", "--messages", "200000", "--drop-rate", "0.01"]).unwrap();
    let cfg = a.config().unwrap();
    let (mut b, mut p) = (Vec::new(), Vec::new());
    let m = tickwire::gen::generate(&cfg, Some(&mut b), Some(&mut p), None).unwrap();
    let (bp, pp, mp) = a.paths();
    let s = tickwire::gen::cli::summary(&m, &cfg, 1.0, &bp, &pp, &mp);
    println!("{s}");
    assert!(s.contains("200000 messages"));
    assert!(s.contains("mix: adds"));
    assert!(s.contains("dropped"));
}

#[test]
fn bad_output_path_is_an_error_not_a_panic() {
    let e = run(&args(&[
        "--messages",
        "1000",
        "--symbols",
        "5",
        "--out",
        "/nonexistent-dir/x/y",
    ]))
    .unwrap_err();
    assert!(format!("{e:#}").contains("cannot create"), "{e:#}");
}
