//! `tickwire subscribe`: what a consumer of the records sees, decoded.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use async_nats::jetstream::{self, consumer::DeliverPolicy};
use clap::Parser;
use futures_util::StreamExt;
use tickwire_core::bus::BusRecord;

use super::bridge::SENT_HEADER;
use crate::replay::parse_duration_ns;

/// Subscribes to tickwire's records on NATS and prints them, one per line,
/// decoding the binary form (the JSON form is printed as it is). With
/// --stream, reads a JetStream stream from its first message (or only new
/// ones with --new) through an ephemeral ordered consumer.
#[derive(Debug, Parser)]
#[command(name = "tickwire subscribe", version, about, long_about = None)]
struct SubscribeArgs {
    /// Subject, wildcards allowed: md.> (everything), md.*.AAPL (one symbol
    /// of any session).
    subject: String,
    /// NATS server URL; repeat (or separate by commas) for a cluster.
    #[arg(
        long = "nats",
        value_name = "URL",
        value_delimiter = ',',
        required = true
    )]
    servers: Vec<String>,
    /// Read this JetStream stream (replayable history) instead of live core
    /// NATS.
    #[arg(long, value_name = "NAME")]
    stream: Option<String>,
    /// With --stream: only messages stored from now on.
    #[arg(long, requires = "stream")]
    new: bool,
    /// One JSON object per line (the record's JSON form plus "subject" and,
    /// from a stream, "stream_seq").
    #[arg(long)]
    json: bool,
    /// Print nothing per message (for --stats-json or --latency only).
    #[arg(long)]
    quiet: bool,
    /// Stop after this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// Stop when no message has come for this long (e.g. 2s).
    #[arg(long, value_parser = parse_duration_ns)]
    idle_exit: Option<u64>,
    /// Measure publish-to-receive latency from the Tickwire-Sent-Ns header
    /// (the publisher needs --nats-stamp; same clock: same machine or
    /// synchronized clocks); percentiles go to stderr and --stats-json.
    #[arg(long)]
    latency: bool,
    /// Write a summary as JSON here at the end: messages, undecodable
    /// payloads, pub_seq duplicates and gaps (meaningful for one publisher
    /// run), latency percentiles.
    #[arg(long)]
    stats_json: Option<PathBuf>,
    /// How long connecting may take.
    #[arg(long, default_value = "5s", value_parser = parse_duration_ns)]
    connect_timeout: u64,
}

/// Entry point: `args` are the arguments after `subscribe`.
pub fn run(args: &[String]) -> Result<()> {
    let Some(a) = crate::cli::parse::<SubscribeArgs>("tickwire subscribe", args)? else {
        return Ok(());
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(subscribe(a))
}

/// What a subscription saw.
#[derive(Debug, Default)]
struct Summary {
    messages: u64,
    undecodable: u64,
    pub_seqs: Vec<u64>,
    latencies_ns: Vec<u64>,
    no_stamp: u64,
}

impl Summary {
    fn json(&mut self) -> serde_json::Value {
        self.pub_seqs.sort_unstable();
        let n = self.pub_seqs.len();
        self.pub_seqs.dedup();
        let duplicates = n - self.pub_seqs.len();
        let (first, last) = (
            self.pub_seqs.first().copied(),
            self.pub_seqs.last().copied(),
        );
        let missing = match (first, last) {
            (Some(f), Some(l)) => (l - f + 1) - self.pub_seqs.len() as u64,
            _ => 0,
        };
        let mut lat = serde_json::Value::Null;
        if !self.latencies_ns.is_empty() {
            self.latencies_ns.sort_unstable();
            let p = |q: f64| {
                let v = &self.latencies_ns;
                v[((v.len() - 1) as f64 * q).round() as usize]
            };
            lat = serde_json::json!({
                "samples": self.latencies_ns.len(),
                "p50_ns": p(0.5), "p99_ns": p(0.99), "p999_ns": p(0.999),
                "max_ns": self.latencies_ns.last(),
            });
        }
        serde_json::json!({
            "messages": self.messages,
            "undecodable": self.undecodable,
            "pub_seq_first": first,
            "pub_seq_last": last,
            "pub_seq_duplicates": duplicates,
            "pub_seq_missing": missing,
            "latency": lat,
            "without_stamp": self.no_stamp,
        })
    }
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One message: printed, counted.
fn on_message(
    a: &SubscribeArgs,
    out: &mut impl Write,
    sum: &mut Summary,
    subject: &str,
    headers: Option<&async_nats::HeaderMap>,
    payload: &[u8],
    stream_seq: Option<u64>,
) -> io::Result<()> {
    let received = wall_ns();
    sum.messages += 1;
    if a.latency {
        match headers
            .and_then(|h| h.get(SENT_HEADER))
            .and_then(|v| v.as_str().parse::<u64>().ok())
        {
            Some(sent) => sum.latencies_ns.push(received.saturating_sub(sent)),
            None => sum.no_stamp += 1,
        }
    }
    let decoded = match BusRecord::new_checked(payload) {
        Ok(r) => {
            sum.pub_seqs.push(r.pub_seq());
            Some(crate::bus_json::to_json(&r))
        }
        Err(e) => match serde_json::from_slice::<serde_json::Value>(payload) {
            Ok(v) if v.get("pub_seq").is_some() => {
                if let Some(s) = v["pub_seq"].as_u64() {
                    sum.pub_seqs.push(s);
                }
                Some(v)
            }
            _ => {
                sum.undecodable += 1;
                if !a.quiet {
                    writeln!(out, "{subject} undecodable ({e}): {} bytes", payload.len())?;
                }
                None
            }
        },
    };
    let Some(mut v) = decoded else {
        return Ok(());
    };
    if a.quiet {
        return Ok(());
    }
    if a.json {
        v["subject"] = subject.into();
        if let Some(s) = stream_seq {
            v["stream_seq"] = s.into();
        }
        serde_json::to_writer(&mut *out, &v)?;
        return writeln!(out);
    }
    writeln!(out, "{subject} {}", human(&v))
}

/// `pub_seq=12 seq=345 at=09:30:00.123456789 for=09:30:00.200000000 bids
/// 10.0000x100/3 ... asks ... vwap=10.0100 volume=500 stale`.
fn human(v: &serde_json::Value) -> String {
    let time = |ns: &serde_json::Value| {
        let ns = ns.as_u64().unwrap_or(0);
        let s = ns / 1_000_000_000;
        format!(
            "{:02}:{:02}:{:02}.{:09}",
            s / 3600,
            s / 60 % 60,
            s % 60,
            ns % 1_000_000_000
        )
    };
    let side = |levels: &serde_json::Value| -> String {
        let l: Vec<String> = levels
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|l| {
                        format!(
                            "{}x{}/{}",
                            l["price"].as_str().unwrap_or("?"),
                            l["shares"],
                            l["orders"]
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if l.is_empty() {
            "-".into()
        } else {
            l.join(" ")
        }
    };
    let mut s = format!(
        "pub_seq={} seq={} at={} for={} bids {} asks {}",
        v["pub_seq"],
        v["seq"],
        time(&v["event_ns"]),
        time(&v["boundary_ns"]),
        side(&v["bids"]),
        side(&v["asks"])
    );
    if let Some(vwap) = v["vwap"].as_str() {
        s += &format!(" vwap={vwap} volume={}", v["volume"]);
    }
    if v["stale"].as_bool() == Some(true) {
        s += " stale";
    }
    s
}

async fn subscribe(a: SubscribeArgs) -> Result<()> {
    let servers = a.servers.join(", ");
    let timeout = Duration::from_nanos(a.connect_timeout);
    let client = tokio::time::timeout(
        timeout,
        async_nats::ConnectOptions::new()
            .name("tickwire subscribe")
            .connection_timeout(timeout)
            .connect(a.servers.as_slice()),
    )
    .await
    .map_err(|_| anyhow!("NATS: no server of {servers} answered within {timeout:?}"))?
    .with_context(|| format!("NATS: cannot connect to {servers}"))?;
    let stop = crate::stop_signal::install();
    let idle = a.idle_exit.map(Duration::from_nanos);
    let mut out = BufWriter::new(io::stdout().lock());
    let mut sum = Summary::default();
    let limit = a.count.unwrap_or(u64::MAX);
    let started = Instant::now();
    // Wakes at least every 100 ms to notice a signal.
    let tick = Duration::from_millis(100);
    let mut last = Instant::now();
    // Both sources as one stream of (message, stream sequence).
    type Incoming = Result<(async_nats::Message, Option<u64>)>;
    let mut messages: std::pin::Pin<Box<dyn futures_util::Stream<Item = Incoming> + Send>> =
        match &a.stream {
            None => {
                let sub = client
                    .subscribe(a.subject.clone())
                    .await
                    .with_context(|| format!("subscribing to {}", a.subject))?;
                client.flush().await.context("NATS: flush")?;
                Box::pin(sub.map(|m| Ok((m, None))))
            }
            Some(name) => {
                let js = jetstream::new(client.clone());
                let stream = tokio::time::timeout(timeout, js.get_stream(name))
                    .await
                    .map_err(|_| anyhow!("NATS: stream {name:?}: no answer within {timeout:?}"))?
                    .map_err(|e| anyhow!("NATS: stream {name:?}: {e}"))?;
                let consumer = stream
                    .create_consumer(jetstream::consumer::pull::OrderedConfig {
                        filter_subject: a.subject.clone(),
                        deliver_policy: if a.new {
                            DeliverPolicy::New
                        } else {
                            DeliverPolicy::All
                        },
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| anyhow!("NATS: a consumer of stream {name:?}: {e}"))?;
                let msgs = consumer
                    .messages()
                    .await
                    .map_err(|e| anyhow!("NATS: reading stream {name:?}: {e}"))?;
                let name = name.clone();
                Box::pin(msgs.map(move |m| match m {
                    Ok(m) => {
                        let seq = m.info().ok().map(|i| i.stream_sequence);
                        Ok((m.split().0, seq))
                    }
                    Err(e) => Err(anyhow!("NATS: reading stream {name:?}: {e}")),
                }))
            }
        };
    while sum.messages < limit && !stop.load(std::sync::atomic::Ordering::Relaxed) {
        match tokio::time::timeout(tick, messages.next()).await {
            Ok(Some(m)) => {
                let (m, seq) = m?;
                last = Instant::now();
                on_message(
                    &a,
                    &mut out,
                    &mut sum,
                    &m.subject,
                    m.headers.as_ref(),
                    &m.payload,
                    seq,
                )?;
            }
            Ok(None) => break,
            Err(_) => {}
        }
        if idle.is_some_and(|d| last.elapsed() >= d) {
            break;
        }
    }
    out.flush()?;
    let v = sum.json();
    if a.latency {
        eprintln!(
            "tickwire subscribe: {} messages in {:.3} s; latency {}",
            sum.messages,
            started.elapsed().as_secs_f64(),
            v["latency"]
        );
    }
    if let Some(p) = &a.stats_json {
        std::fs::write(p, serde_json::to_string_pretty(&v)? + "\n")
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}
