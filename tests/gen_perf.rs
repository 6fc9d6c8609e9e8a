//! Generation speed. Run in release:
//! `cargo test --release -p tickwire --test gen_perf -- --ignored --nocapture`
//! (TICKWIRE_PERF_MESSAGES overrides the 5,000,000 messages).

use std::fs::File;
use std::io::BufWriter;
use std::time::Instant;

use tickwire::gen::{generate, GenConfig};

#[test]
#[ignore = "timing run; use --release -- --ignored"]
fn five_million_messages() {
    let n: u64 = std::env::var("TICKWIRE_PERF_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000_000);
    let dir = std::env::temp_dir().join(format!("tickwire-gen-perf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (symbols, label) in [(50u32, "50 symbols"), (2_000, "2000 symbols")] {
        let cfg = GenConfig {
            seed: 1,
            symbols,
            messages: n,
            ..GenConfig::default()
        };
        for both in [false, true] {
            let t0 = Instant::now();
            let bin = BufWriter::with_capacity(1 << 20, File::create(dir.join("p.itch")).unwrap());
            let m = if both {
                let pcap =
                    BufWriter::with_capacity(1 << 20, File::create(dir.join("p.pcap")).unwrap());
                generate(&cfg, Some(bin), Some(pcap), None).unwrap()
            } else {
                generate(&cfg, Some(bin), None::<std::io::Sink>, None).unwrap()
            };
            let s = t0.elapsed().as_secs_f64();
            println!(
                "{label}, {}: {} messages in {s:.2} s ({:.1} M msg/s), live orders {} (target {})",
                if both {
                    "binfile + pcap"
                } else {
                    "binfile only"
                },
                m.total_messages,
                m.total_messages as f64 / s / 1e6,
                m.final_live_orders,
                m.live_orders_target
            );
            assert_eq!(m.total_messages, n);
            if !cfg!(debug_assertions) {
                assert!(s < 30.0, "too slow: {s:.1} s");
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
