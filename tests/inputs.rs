//! Inputs people have: pcapng written by the real tool (editcap), gzip
//! BinaryFILEs and captures, refusal of anything else, `--ports all`.
//! Each replay of a converted file must equal the replay of the original:
//! the same FIX bytes and the same counters.

use std::path::{Path, PathBuf};
use std::process::Command;

use tickwire::gen::{generate, GenConfig};
use tickwire::pcap::{Packets, PcapReader};

fn tmpdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("inputs-{}-{name}", std::process::id()));
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

fn gen(dir: &Path) -> (PathBuf, PathBuf) {
    let cfg = GenConfig {
        seed: 17,
        symbols: 25,
        messages: 40_000,
        ..GenConfig::default()
    };
    let (mut b, mut pc) = (Vec::new(), Vec::new());
    generate(&cfg, Some(&mut b), Some(&mut pc), None).unwrap();
    let (bp, pp) = (dir.join("day.itch"), dir.join("day.pcap"));
    std::fs::write(&bp, b).unwrap();
    std::fs::write(&pp, pc).unwrap();
    (bp, pp)
}

/// Converts with Wireshark's editcap (the real pcapng writer).
fn editcap_pcapng(src: &Path, dst: &Path) {
    let st = Command::new("editcap")
        .args(["-F", "pcapng", p(src), p(dst)])
        .status()
        .expect("editcap (Debian's wireshark-common; scripts/setup.sh installs tshark)");
    assert!(st.success(), "editcap failed");
    assert_eq!(&std::fs::read(dst).unwrap()[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
}

fn gzip(src: &Path) -> PathBuf {
    let st = Command::new("gzip")
        .args(["-k", "-f", p(src)])
        .status()
        .unwrap();
    assert!(st.success());
    PathBuf::from(format!("{}.gz", p(src)))
}

/// Replays with reproducible FIX; returns the FIX bytes and the stats JSON
/// without what differs by nature (input description, times).
fn replay(dir: &Path, name: &str, input: &Path, extra: &[&str]) -> (Vec<u8>, serde_json::Value) {
    let out = dir.join(format!("{name}.fix"));
    let st = dir.join(format!("{name}.json"));
    let mut a = vec![
        p(input),
        "--sending-time",
        "event",
        "--interval",
        "1ms",
        "--window",
        "10ms",
        "-q",
        "--out",
        p(&out),
        "--stats-json",
        p(&st),
    ];
    a.extend_from_slice(extra);
    run(&a).unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&st).unwrap()).unwrap();
    let m = v.as_object_mut().unwrap();
    for k in ["input", "elapsed_s", "messages_per_s"] {
        m.remove(k);
    }
    (std::fs::read(&out).unwrap(), v)
}

fn input_of(dir: &Path, name: &str) -> serde_json::Value {
    let st = dir.join(format!("{name}.json"));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(st).unwrap()).unwrap();
    v["input"].clone()
}

#[test]
fn pcapng_from_editcap_replays_like_the_pcap_in_us_and_ns() {
    let dir = tmpdir("pcapng");
    let (_, pcap) = gen(&dir);
    let (want_fix, want) = replay(&dir, "pcap", &pcap, &[]);
    assert!(want["messages"]["applied"].as_u64().unwrap() > 30_000);
    assert!(!want_fix.is_empty());

    // The generator's pcap as it is, and a nanosecond copy.
    let (ns, _) =
        tickwire::pcap::copy_dropping(&std::fs::read(&pcap).unwrap(), &[26400], 123, |_| false)
            .unwrap();
    let pcap_ns = dir.join("day-ns.pcap");
    std::fs::write(&pcap_ns, &ns).unwrap();
    for (src, name) in [(&pcap, "a"), (&pcap_ns, "ns")] {
        let ng = dir.join(format!("{name}.pcapng"));
        editcap_pcapng(src, &ng);
        let (fix, got) = replay(&dir, name, &ng, &[]);
        assert_eq!(got, want, "{name}: counters");
        assert!(fix == want_fix, "{name}: FIX bytes differ");
        assert_eq!(input_of(&dir, name)["format"], "PcapNg");

        // Same frames and capture times, to the nanosecond where the source
        // had them (editcap keeps the precision as if_tsresol).
        let src_bytes = std::fs::read(src).unwrap();
        let src_r = PcapReader::new(&src_bytes).unwrap();
        let res = src_r.header().resolution;
        let a: Vec<(u64, Vec<u8>)> = src_r
            .map(|r| r.unwrap())
            .map(|r| (r.ts_nanos(res), r.data.to_vec()))
            .collect();
        let ng_bytes = std::fs::read(&ng).unwrap();
        let ng_r = Packets::new(&ng_bytes).unwrap();
        let nres = ng_r.resolution();
        let b: Vec<(u64, Vec<u8>)> = ng_r
            .map(|r| r.unwrap())
            .map(|r| (r.ts_nanos(nres), r.data.to_vec()))
            .collect();
        assert_eq!(a.len(), b.len());
        assert!(a == b, "{name}: frames or timestamps differ");
    }
    // The ns copy has sub-microsecond digits that survive.
    assert!(PcapReader::new(&ns)
        .unwrap()
        .any(|r| r.unwrap().ts_frac % 1000 != 0));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn gzip_binfile_and_captures_replay_like_the_plain_files() {
    let dir = tmpdir("gzip");
    let (bin, pcap) = gen(&dir);
    let (want_fix, want) = replay(&dir, "bin", &bin, &[]);
    let gz = gzip(&bin);
    let (fix, got) = replay(&dir, "bingz", &gz, &[]);
    assert_eq!(got, want);
    assert!(fix == want_fix, "FIX bytes differ");
    let inp = input_of(&dir, "bingz");
    assert_eq!(
        (inp["format"].as_str(), inp["gzip"].as_bool()),
        (Some("BinFile"), Some(true))
    );

    let (want_fix, want) = replay(&dir, "pcap", &pcap, &[]);
    let gz = gzip(&pcap);
    let (fix, got) = replay(&dir, "pcapgz", &gz, &[]);
    assert_eq!(got, want);
    assert!(fix == want_fix, "FIX bytes differ (pcap.gz)");
    let ng = dir.join("day.pcapng");
    editcap_pcapng(&pcap, &ng);
    let (fix, got) = replay(&dir, "pcapnggz", &gzip(&ng), &[]);
    assert_eq!(got, want);
    assert!(fix == want_fix, "FIX bytes differ (pcapng.gz)");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn truncated_gzip_is_an_error_naming_where_after_processing_the_rest() {
    let dir = tmpdir("gzcut");
    let (bin, _) = gen(&dir);
    let gz = std::fs::read(gzip(&bin)).unwrap();
    let cut = dir.join("cut.itch.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let st = dir.join("cut.json");
    let e = run(&[p(&cut), "--no-fix", "-q", "--stats-json", p(&st)]).unwrap_err();
    let e = format!("{e:#}");
    assert!(e.contains("input ends early: gzip:"), "{e}");
    assert!(e.contains("decompressed bytes (compressed offset"), "{e}");
    assert!(e.contains("everything before it was processed"), "{e}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&st).unwrap()).unwrap();
    let applied = v["messages"]["applied"].as_u64().unwrap();
    assert!(applied > 10_000, "processed before the cut: {applied}");
    assert!(v["input"]["error"].as_str().unwrap().contains("gzip"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn anything_else_is_refused_with_the_expected_formats() {
    let dir = tmpdir("garbage");
    let elf = dir.join("x.bin");
    let mut bytes = b"\x7fELF\x02\x01\x01\0".to_vec();
    bytes.resize(4096, 0x41);
    std::fs::write(&elf, &bytes).unwrap();
    let e = format!("{:#}", run(&[p(&elf), "--no-fix", "-q"]).unwrap_err());
    assert!(
        e.contains("x.bin: not a BinaryFILE, pcap, pcapng or gzip (starts with 0x7f454c46"),
        "{e}"
    );
    // Text, and a gzip of text.
    let txt = dir.join("notes.txt");
    std::fs::write(&txt, "hello, this is not market data\n".repeat(50)).unwrap();
    let e = format!("{:#}", run(&[p(&txt), "--no-fix", "-q"]).unwrap_err());
    assert!(e.contains("not a BinaryFILE, pcap, pcapng or gzip"), "{e}");
    let e = format!(
        "{:#}",
        run(&[p(&gzip(&txt)), "--no-fix", "-q"]).unwrap_err()
    );
    assert!(
        e.contains("gzip whose content is not a BinaryFILE, pcap or pcapng"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn non_ethernet_link_types_are_refused() {
    let dir = tmpdir("linktype");
    let mut w = tickwire::pcap::PcapWriter::new(
        Vec::new(),
        tickwire::pcap::TsResolution::Micros,
        65535,
        113, // Linux cooked capture
    )
    .unwrap();
    w.write_record(1, 0, &[0; 60]).unwrap();
    let f = dir.join("sll.pcap");
    std::fs::write(&f, w.into_inner()).unwrap();
    let e = format!("{:#}", run(&[p(&f), "--no-fix", "-q"]).unwrap_err());
    assert!(e.contains("link type 113 is not Ethernet (1)"), "{e}");
    let ng = dir.join("sll.pcapng");
    editcap_pcapng(&f, &ng);
    let e = format!("{:#}", run(&[p(&ng), "--no-fix", "-q"]).unwrap_err());
    assert!(
        e.contains("pcapng interface 0 has link type 113, not Ethernet (1)"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ports_all_and_empty_consume_every_udp_port() {
    let dir = tmpdir("ports");
    let (_, pcap) = gen(&dir);
    let (_, want) = replay(&dir, "default", &pcap, &[]);
    let (_, none) = replay(&dir, "other", &pcap, &["--ports", "1234"]);
    assert_eq!(none["messages"]["applied"], 0);
    for (name, v) in [("all", "all"), ("empty", ""), ("mixed", "1234,all")] {
        let (_, got) = replay(&dir, name, &pcap, &["--ports", v]);
        assert_eq!(got, want, "--ports {v:?}");
    }
    assert!(run(&[p(&pcap), "--ports", "0"]).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn lines_mode_reads_pcapng_for_either_line() {
    let dir = tmpdir("lines");
    let (_, pcap) = gen(&dir);
    // Line B: every third data packet lost, 2 us later.
    let (b, dropped) =
        tickwire::pcap::copy_dropping(&std::fs::read(&pcap).unwrap(), &[26400], 2_000, |i| {
            i % 3 == 0
        })
        .unwrap();
    assert!(dropped > 0);
    let b_pcap = dir.join("b.pcap");
    std::fs::write(&b_pcap, b).unwrap();
    let (b_ng, a_ng) = (dir.join("b.pcapng"), dir.join("a.pcapng"));
    editcap_pcapng(&b_pcap, &b_ng);
    editcap_pcapng(&pcap, &a_ng);
    let (want_fix, want) = replay(&dir, "pcap", &pcap, &["--line-b", p(&b_pcap)]);
    let (fix, got) = replay(&dir, "ng", &pcap, &["--line-b", p(&b_ng)]);
    assert_eq!(got, want);
    assert!(fix == want_fix, "FIX bytes differ (line B pcapng)");
    let (fix, got) = replay(&dir, "ngng", &a_ng, &["--line-b", p(&b_ng)]);
    assert_eq!(got, want);
    assert!(fix == want_fix, "FIX bytes differ (both pcapng)");
    std::fs::remove_dir_all(&dir).ok();
}
