//! `tickwire plot STATS.json -o latency.svg`: the latency percentile
//! distribution of a host run's `--stats-json`, as an SVG (plotters' SVG
//! backend; text is left to the SVG viewer's fonts, none are read here).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Parser;
use plotters::prelude::*;

/// Draws the latency percentiles (p50, p99, p99.9, max) of a host run's
/// --stats-json: burst-to-TX latency, burst handling and boundary stalls,
/// overall and per worker, on a log scale of nanoseconds.
#[derive(Debug, Parser)]
#[command(name = "tickwire plot", version, about, long_about = None)]
struct PlotArgs {
    /// A stats JSON written by the host's --stats-json.
    stats: PathBuf,
    /// The SVG to write.
    #[arg(short, long, default_value = "latency.svg")]
    out: PathBuf,
    /// Image width in pixels.
    #[arg(long, default_value_t = 960)]
    width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 560)]
    height: u32,
    /// Title (default: the stats file's name).
    #[arg(long)]
    title: Option<String>,
}

/// The percentiles drawn, their JSON keys and axis labels.
pub const POINTS: [(&str, &str); 4] = [
    ("p50_ns", "p50"),
    ("p99_ns", "p99"),
    ("p999_ns", "p99.9"),
    ("max_ns", "max"),
];

/// One line of the plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Samples behind the percentiles.
    pub samples: u64,
    /// Nanoseconds at each of [`POINTS`].
    pub ns: [u64; 4],
}

fn series(name: String, v: &serde_json::Value) -> Option<Series> {
    let samples = v.get("samples")?.as_u64()?;
    if samples == 0 {
        return None;
    }
    let mut ns = [0u64; 4];
    for (slot, (key, _)) in ns.iter_mut().zip(POINTS) {
        *slot = v.get(key)?.as_u64()?;
    }
    Some(Series { name, samples, ns })
}

/// The percentile sets of a stats JSON that have samples: the run's
/// `latency_burst_to_tx`, `burst_handling` and `boundary_stall`, then each
/// worker's `latency` and `boundary_stall`.
pub fn collect(stats: &serde_json::Value) -> Vec<Series> {
    let mut out = Vec::new();
    for key in ["latency_burst_to_tx", "burst_handling", "boundary_stall"] {
        if let Some(s) = stats.get(key).and_then(|v| series(key.to_string(), v)) {
            out.push(s);
        }
    }
    if let Some(workers) = stats.get("workers").and_then(|w| w.as_array()) {
        for (i, w) in workers.iter().enumerate() {
            let id = w
                .get("lcore")
                .and_then(|l| l.as_u64())
                .map_or(format!("worker {i}"), |l| format!("lcore {l}"));
            for key in ["latency", "boundary_stall"] {
                if let Some(s) = w.get(key).and_then(|v| series(format!("{id} {key}"), v)) {
                    out.push(s);
                }
            }
        }
    }
    out
}

/// Renders `series` as an SVG document.
pub fn render_svg(series: &[Series], title: &str, size: (u32, u32)) -> Result<String> {
    if series.is_empty() {
        bail!("nothing to plot");
    }
    let ymax = series.iter().flat_map(|s| s.ns).max().unwrap_or(1).max(10) as f64 * 2.0;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.2f64..3.2f64, (1f64..ymax).log_scale())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("nanoseconds (log)")
            .x_labels(4)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && (0.0..=3.0).contains(&i) {
                    POINTS[i as usize].1.to_string()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for (k, s) in series.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            let pts: Vec<(f64, f64)> =
                s.ns.iter()
                    .enumerate()
                    .map(|(i, &v)| (i as f64, (v.max(1)) as f64))
                    .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .label(format!("{} ({} samples)", s.name, s.samples))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(svg)
}

/// Reads `stats`, draws it to `out`; returns the series drawn.
pub fn plot_file(
    stats: &Path,
    out: &Path,
    title: Option<&str>,
    size: (u32, u32),
) -> Result<Vec<Series>> {
    let text = std::fs::read_to_string(stats)
        .with_context(|| format!("cannot read {}", stats.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", stats.display()))?;
    let series = collect(&v);
    if series.is_empty() {
        let replayer = v.get("input").is_some();
        bail!(
            "{}: no latency percentiles with samples (latency_burst_to_tx, burst_handling, boundary_stall, workers[].latency){}",
            stats.display(),
            if replayer {
                ": this is the replayer's --stats-json, which has no latency (it times the whole run: elapsed_s, messages_per_s); plot the host's --stats-json"
            } else {
                ": plot the host's --stats-json"
            }
        );
    }
    let title = title.map_or_else(
        || {
            format!(
                "latency percentiles: {}",
                stats
                    .file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned())
            )
        },
        str::to_string,
    );
    let svg = render_svg(&series, &title, size)?;
    std::fs::write(out, svg).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(series)
}

/// Entry point: `args` are the arguments after `plot`.
pub fn run(args: &[String]) -> Result<()> {
    let Some(a) = crate::cli::parse::<PlotArgs>("tickwire plot", args)? else {
        return Ok(());
    };
    let s = plot_file(&a.stats, &a.out, a.title.as_deref(), (a.width, a.height))?;
    eprintln!("tickwire plot: {} series -> {}", s.len(), a.out.display());
    Ok(())
}
