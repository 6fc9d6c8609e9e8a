//! `tickwire plot`: a real host run's stats JSON (tests/fixtures, written by
//! scripts/perf-host.sh's publish-inline run) drawn as SVG that parses as XML
//! and holds a point per percentile per series, at the right heights.

use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/host-stats-publish-inline.json")
}

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&d).unwrap();
    d.join(format!("plot-{}-{name}", std::process::id()))
}

fn run(args: &[&str]) -> anyhow::Result<()> {
    let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tickwire::plot::run(&v)
}

#[test]
fn host_stats_render_as_svg_with_every_point() {
    let out = tmp("latency.svg");
    run(&[fixture().to_str().unwrap(), "-o", out.to_str().unwrap()]).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");

    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    let series = tickwire::plot::collect(&stats);
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "latency_burst_to_tx",
            "burst_handling",
            "boundary_stall",
            "lcore 1 latency",
            "lcore 1 boundary_stall"
        ]
    );
    assert_eq!(series[0].ns, [422_733, 560_528, 560_528, 560_528]);

    // One circle per percentile per series.
    let circles: Vec<(f64, f64)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .map(|n| {
            let f = |a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
            (f("cx"), f("cy"))
        })
        .collect();
    assert_eq!(circles.len(), 4 * series.len());
    // burst_handling (the second series): p50 38 us is drawn lower (a larger
    // y) than its max 617 us, and the four are left to right.
    let bh = &circles[4..8];
    assert!(bh[0].1 > bh[3].1, "{bh:?}");
    assert!(bh.windows(2).all(|w| w[0].0 < w[1].0), "{bh:?}");
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::to_string))
        .collect();
    for want in [
        "p50",
        "p99",
        "p99.9",
        "max",
        "burst_handling (6006 samples)",
    ] {
        assert!(
            texts.iter().any(|t| t.trim() == want),
            "no text {want:?} in {texts:?}"
        );
    }
    std::fs::remove_file(&out).ok();
}

#[test]
fn replayer_stats_are_refused_saying_why() {
    let stats = tmp("replayer.json");
    std::fs::write(
        &stats,
        r#"{"messages_applied": 5, "input": {"path": "x.itch"}, "elapsed_s": 0.1}"#,
    )
    .unwrap();
    let out = tmp("none.svg");
    let e = format!(
        "{:#}",
        run(&[stats.to_str().unwrap(), "-o", out.to_str().unwrap()]).unwrap_err()
    );
    assert!(
        e.contains("the replayer's --stats-json, which has no latency"),
        "{e}"
    );
    assert!(!out.exists());
    std::fs::remove_file(&stats).ok();
}
