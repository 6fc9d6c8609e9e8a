//! A gzip BinaryFILE is replayed as a stream: memory stays bounded however
//! large the decompressed file. Its own test binary, so that no other test's
//! allocations move this process's high-water mark.

use std::io::Write;
use std::path::PathBuf;

/// This process's peak resident set (VmHWM), bytes.
fn vm_hwm() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn a_large_gzip_binfile_is_streamed_in_bounded_memory() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("gz-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 4 MiB of system events ('S', 12 bytes each), gzip-compressed once and
    // written as 64 members: a 256 MiB BinaryFILE in a small .gz (gzip -d
    // reads all members, and so does tickwire).
    let msg: [u8; 14] = [0, 12, b'S', 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, b'O'];
    let per_member = (4 << 20) / msg.len();
    let mut plain = Vec::with_capacity(per_member * msg.len());
    for _ in 0..per_member {
        plain.extend_from_slice(&msg);
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&plain).unwrap();
    let member = enc.finish().unwrap();
    drop(plain);
    let members = 64u64;
    let gz = dir.join("big.itch.gz");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&gz).unwrap());
    for _ in 0..members {
        f.write_all(&member).unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let decompressed = members * (per_member * msg.len()) as u64;

    let before = vm_hwm();
    let st = dir.join("stats.json");
    let args: Vec<String> = [
        gz.to_str().unwrap(),
        "--no-fix",
        "-q",
        "--max-orders",
        "1024",
        "--max-levels",
        "4096",
        "--stats-json",
        st.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    tickwire::replay_cli::run(&args).unwrap();
    let grew = vm_hwm().saturating_sub(before);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&st).unwrap()).unwrap();
    assert_eq!(
        v["input"]["records"].as_u64().unwrap(),
        members * per_member as u64
    );
    eprintln!(
        "{decompressed} bytes decompressed, {} on disk, peak RSS grew {grew} bytes",
        std::fs::metadata(&gz).unwrap().len()
    );
    // The stream holds 4 MiB (plus the engine's few tables); reading the file
    // whole would take 256 MiB.
    assert!(grew < 48 << 20, "peak RSS grew by {grew} bytes");
    std::fs::remove_dir_all(&dir).ok();
}
