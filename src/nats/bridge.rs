//! The bridge: a std thread (a current-thread tokio runtime) that publishes
//! book records to NATS, fed by a bounded channel. The side that offers
//! records (the host's publisher on the main lcore) never waits: a full
//! channel drops the record and counts it. See README, "NATS".

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use async_nats::jetstream::{self, context::PublishAckFuture};
use async_nats::{Client, HeaderMap, Subject};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tickwire_core::bus::{self, BusRecord};
use tickwire_core::engine::BookRecord;
use tokio::sync::mpsc;

use super::changes::ChangeFilter;
use super::subject::Subjects;

/// Header carrying the wall time (ns since the Unix epoch) at which the
/// bridge published a record (`--nats-stamp`), for latency measurements.
pub const SENT_HEADER: &str = "Tickwire-Sent-Ns";

/// Payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The compact binary record (docs/bus-record.md).
    Binary,
    /// Its JSON form (docs/bus-record.schema.json), for humans and scripts.
    Json,
}

/// A JetStream stream to publish into, created if absent.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// Stream name.
    pub name: String,
    /// Replicas (1 to 5; at most the cluster's size).
    pub replicas: usize,
    /// Oldest message kept (zero: no limit).
    pub max_age: Duration,
    /// Most bytes kept (-1: no limit).
    pub max_bytes: i64,
    /// Window in which the server drops a publish whose Nats-Msg-Id it has
    /// already stored.
    pub duplicate_window: Duration,
}

/// What the bridge does.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Server URLs (several: a cluster; the client fails over among them
    /// and learns the others from the servers).
    pub servers: Vec<String>,
    /// JetStream: publish with acknowledgements into this stream.
    pub stream: Option<StreamSettings>,
    /// Subject prefix.
    pub prefix: String,
    /// Session token in subjects (default: the record's MoldUDP64 session).
    pub session: Option<String>,
    /// Levels per side in each record (1: top of book).
    pub depth: usize,
    /// Publish a record only when its levels (to `depth`), VWAP, volume or
    /// stale flag changed since the last one of its locate.
    pub changes_only: bool,
    /// Payload format.
    pub format: Format,
    /// Records the channel into the bridge holds.
    pub ring: usize,
    /// JetStream publishes awaiting their acknowledgement, at most.
    pub max_in_flight: usize,
    /// How long an acknowledgement may take.
    pub ack_timeout: Duration,
    /// Publishes of a record whose acknowledgement failed, after the first
    /// (same Nats-Msg-Id, so the stream keeps one copy).
    pub retries: u32,
    /// Add the [`SENT_HEADER`] header.
    pub stamp: bool,
    /// How long the first connection (and stream set-up) may take.
    pub connect_timeout: Duration,
    /// Client name the servers show.
    pub client_name: String,
    /// CPUs the bridge thread runs on (None: those of the thread that
    /// starts it). The host keeps it off the poll loops' CPUs.
    pub cpus: Option<Vec<usize>>,
}

/// What the bridge did. Every record offered is dropped, queued or
/// published; with JetStream every record published is then in flight,
/// acknowledged or failed (`published = acked + failed + in_flight`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeCounters {
    /// Records offered to the bridge (each got the next `pub_seq`).
    pub offered: u64,
    /// Records not published because nothing changed (`changes_only`);
    /// they take no `pub_seq`.
    pub unchanged: u64,
    /// Records dropped because the channel into the bridge was full (the
    /// bridge could not keep up, or the servers were away too long).
    pub dropped: u64,
    /// Records taken from the channel and handed to the client.
    pub published: u64,
    /// JetStream: records the stream acknowledged.
    pub acked: u64,
    /// JetStream: of those, acknowledged as duplicates (a retry of a
    /// publish the stream had already stored).
    pub acked_duplicate: u64,
    /// JetStream: publishes retried after a failed acknowledgement.
    pub retried: u64,
    /// Records published but given up: no attempt was acknowledged in time
    /// (JetStream; the stream may still hold one, its ack lost or late), or
    /// the client refused the publish.
    pub failed: u64,
    /// Payload bytes handed to the client (retries included).
    pub bytes: u64,
    /// JetStream publishes awaiting acknowledgement now.
    pub in_flight: u64,
    /// The most ever in flight at once.
    pub in_flight_max: u64,
    /// Connections made (the first one included).
    pub connects: u64,
    /// Connections lost.
    pub disconnects: u64,
    /// Connected now.
    pub connected: bool,
}

impl BridgeCounters {
    /// Connections made after the first.
    pub fn reconnects(&self) -> u64 {
        self.connects.saturating_sub(1)
    }

    /// Records still in the channel (offered, not yet taken by the bridge).
    pub fn queued(&self) -> u64 {
        self.offered.saturating_sub(self.dropped + self.published)
    }

    /// As JSON, for the stats file (and so the metrics).
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "offered": self.offered,
            "unchanged": self.unchanged,
            "dropped": self.dropped,
            "queued": self.queued(),
            "published": self.published,
            "acked": self.acked,
            "acked_duplicate": self.acked_duplicate,
            "retried": self.retried,
            "failed": self.failed,
            "bytes": self.bytes,
            "in_flight": self.in_flight,
            "in_flight_max": self.in_flight_max,
            "connects": self.connects,
            "reconnects": self.reconnects(),
            "disconnects": self.disconnects,
            "connected": u64::from(self.connected),
        })
    }
}

#[derive(Debug, Default)]
struct Shared {
    offered: AtomicU64,
    unchanged: AtomicU64,
    dropped: AtomicU64,
    published: AtomicU64,
    acked: AtomicU64,
    acked_duplicate: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    in_flight: AtomicU64,
    in_flight_max: AtomicU64,
    connects: AtomicU64,
    disconnects: AtomicU64,
    connected: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl Shared {
    fn counters(&self) -> BridgeCounters {
        BridgeCounters {
            offered: self.offered.load(Relaxed),
            unchanged: self.unchanged.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            published: self.published.load(Relaxed),
            acked: self.acked.load(Relaxed),
            acked_duplicate: self.acked_duplicate.load(Relaxed),
            retried: self.retried.load(Relaxed),
            failed: self.failed.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            in_flight_max: self.in_flight_max.load(Relaxed),
            connects: self.connects.load(Relaxed),
            disconnects: self.disconnects.load(Relaxed),
            connected: self.connected.load(Relaxed),
        }
    }

    fn error(&self, e: impl std::fmt::Display) {
        if let Ok(mut g) = self.last_error.lock() {
            *g = Some(e.to_string());
        }
    }
}

struct Item {
    pub_seq: u64,
    record: BookRecord,
}

/// The offering side (one per publisher).
pub struct BridgeTx {
    tx: mpsc::Sender<Item>,
    next_seq: u64,
    filter: Option<ChangeFilter>,
    shared: Arc<Shared>,
}

impl BridgeTx {
    /// Hands `r` to the bridge without waiting: false if the channel was
    /// full (the record is dropped and counted). Records the change filter
    /// holds back count as unchanged and return true.
    pub fn offer(&mut self, r: &BookRecord) -> bool {
        let Some(item) = self.admit(r) else {
            return true;
        };
        match self.tx.try_send(item) {
            Ok(()) => true,
            Err(_) => {
                self.shared.dropped.fetch_add(1, Relaxed);
                false
            }
        }
    }

    /// Like [`BridgeTx::offer`], but waits until `deadline` for room (the
    /// host's last records, once the feed is over).
    pub fn offer_until(&mut self, r: &BookRecord, deadline: std::time::Instant) -> bool {
        let Some(mut item) = self.admit(r) else {
            return true;
        };
        loop {
            match self.tx.try_send(item) {
                Ok(()) => return true,
                Err(mpsc::error::TrySendError::Full(back))
                    if std::time::Instant::now() < deadline =>
                {
                    item = back;
                    std::thread::sleep(Duration::from_micros(100));
                }
                Err(_) => {
                    self.shared.dropped.fetch_add(1, Relaxed);
                    return false;
                }
            }
        }
    }

    /// Hands `r` to the bridge, waiting for room (the replayer: loading a
    /// day into a stream loses nothing). Fails only if the bridge stopped.
    pub fn send(&mut self, r: &BookRecord) -> Result<()> {
        let Some(item) = self.admit(r) else {
            return Ok(());
        };
        if self.tx.blocking_send(item).is_err() {
            self.shared.dropped.fetch_add(1, Relaxed);
            bail!("the NATS bridge stopped");
        }
        Ok(())
    }

    fn admit(&mut self, r: &BookRecord) -> Option<Item> {
        if let Some(f) = &mut self.filter {
            if !f.changed(r) {
                self.shared.unchanged.fetch_add(1, Relaxed);
                return None;
            }
        }
        self.next_seq += 1;
        self.shared.offered.fetch_add(1, Relaxed);
        Some(Item {
            pub_seq: self.next_seq,
            record: *r,
        })
    }
}

/// Reads the bridge's counters from anywhere (metrics).
#[derive(Debug, Clone)]
pub struct BridgeWatch(Arc<Shared>);

impl BridgeWatch {
    /// The counters so far.
    pub fn counters(&self) -> BridgeCounters {
        self.0.counters()
    }

    /// The last publish or connection error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.0.last_error.lock().ok().and_then(|g| g.clone())
    }
}

/// The bridge thread.
pub struct Bridge {
    thread: JoinHandle<()>,
    shared: Arc<Shared>,
    /// How long `finish` waits for the last publishes.
    drain_limit: Duration,
}

impl Bridge {
    /// Connects (within `connect_timeout`), sets up the stream, and starts
    /// the thread. Fails with the reason if no server could be reached.
    pub fn start(cfg: BridgeConfig) -> Result<(BridgeTx, Bridge)> {
        if cfg.servers.is_empty() {
            bail!("no NATS server given");
        }
        super::subject::check_prefix(&cfg.prefix).map_err(|e| anyhow!("--nats-prefix: {e}"))?;
        let shared = Arc::new(Shared::default());
        let (tx, rx) = mpsc::channel(cfg.ring.max(1));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        // Connecting and setting up the stream, each bounded by the timeout.
        let wait = cfg.connect_timeout * 3 + Duration::from_secs(5);
        let filter = cfg.changes_only.then(|| ChangeFilter::new(cfg.depth));
        // Every attempt of the last record, and the flush.
        let drain_limit = cfg.ack_timeout * (cfg.retries + 1) + Duration::from_secs(5);
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("nats-bridge".into())
            .spawn(move || run(cfg, rx, thread_shared, ready_tx))
            .context("starting the NATS bridge thread")?;
        match ready_rx.recv_timeout(wait) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                bail!("{e}");
            }
            Err(_) => bail!("NATS: no answer from the bridge thread within {wait:?}"),
        }
        Ok((
            BridgeTx {
                tx,
                next_seq: 0,
                filter,
                shared: Arc::clone(&shared),
            },
            Bridge {
                thread,
                shared,
                drain_limit,
            },
        ))
    }

    /// A handle on the counters.
    pub fn watch(&self) -> BridgeWatch {
        BridgeWatch(Arc::clone(&self.shared))
    }

    /// Closes the channel (dropping `tx`), waits for the bridge to publish
    /// what is queued and for the acknowledgements in flight, and returns
    /// the final counters. With every server away the client cannot take
    /// publishes: past the time the last record's attempts take (ack
    /// timeout × (retries + 1) + 5 s) the bridge is left behind, and what it
    /// still held shows as `queued` and `in_flight`.
    pub fn finish(self, tx: BridgeTx) -> BridgeCounters {
        drop(tx);
        let deadline = std::time::Instant::now() + self.drain_limit;
        while !self.thread.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.thread.is_finished() {
            let _ = self.thread.join();
        } else {
            self.shared.error(format!(
                "gave up waiting for the last publishes after {:?}",
                self.drain_limit
            ));
        }
        self.shared.counters()
    }
}

/// Reconnect delay: 10 ms doubling per attempt, at most 2 s.
fn backoff(attempts: usize) -> Duration {
    Duration::from_millis((10u64 << attempts.min(8)).min(2_000))
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn run(
    cfg: BridgeConfig,
    rx: mpsc::Receiver<Item>,
    shared: Arc<Shared>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    if let Some(cpus) = &cfg.cpus {
        if let Err(e) = crate::affinity::set_current(cpus) {
            shared.error(format!("CPU affinity {cpus:?}: {e}"));
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(format!("NATS bridge runtime: {e}")));
            return;
        }
    };
    rt.block_on(async move {
        let sink = match connect(&cfg, &shared).await {
            Ok(s) => s,
            Err(e) => {
                let _ = ready.send(Err(format!("{e:#}")));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        publish_loop(cfg, rx, &shared, sink).await;
    });
}

/// Where records go: core NATS, or a JetStream stream through `js`.
struct Sink {
    client: Client,
    js: Option<jetstream::Context>,
}

async fn connect(cfg: &BridgeConfig, shared: &Arc<Shared>) -> Result<Sink> {
    let events = Arc::clone(shared);
    let opts = async_nats::ConnectOptions::new()
        .name(&cfg.client_name)
        .connection_timeout(cfg.connect_timeout)
        .max_reconnects(None)
        .reconnect_delay_callback(backoff)
        .event_callback(move |e| {
            let s = Arc::clone(&events);
            async move {
                match e {
                    async_nats::Event::Connected => {
                        s.connects.fetch_add(1, Relaxed);
                        s.connected.store(true, Relaxed);
                    }
                    async_nats::Event::Disconnected => {
                        s.disconnects.fetch_add(1, Relaxed);
                        s.connected.store(false, Relaxed);
                    }
                    other => s.error(other),
                }
            }
        });
    let servers = cfg.servers.join(", ");
    let client = tokio::time::timeout(cfg.connect_timeout, opts.connect(cfg.servers.as_slice()))
        .await
        .map_err(|_| {
            anyhow!(
                "NATS: no server of {servers} answered within {:?}",
                cfg.connect_timeout
            )
        })?
        .with_context(|| format!("NATS: cannot connect to {servers}"))?;
    let Some(st) = &cfg.stream else {
        return Ok(Sink { client, js: None });
    };
    let js = jetstream::ContextBuilder::new()
        .timeout(cfg.ack_timeout)
        .max_ack_inflight(cfg.max_in_flight.max(1))
        .backpressure_on_inflight(true)
        .build(client.clone());
    let config = jetstream::stream::Config {
        name: st.name.clone(),
        subjects: vec![format!("{}.>", cfg.prefix)],
        max_age: st.max_age,
        max_bytes: st.max_bytes,
        num_replicas: st.replicas,
        duplicate_window: st.duplicate_window,
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    };
    let mut stream = tokio::time::timeout(cfg.connect_timeout, js.get_or_create_stream(config))
        .await
        .map_err(|_| anyhow!("NATS: stream {:?}: no answer within {:?} (is JetStream enabled on {servers}?)", st.name, cfg.connect_timeout))?
        .map_err(|e| {
            let text = e.to_string();
            let hint = if text.contains("overlap") {
                format!("another stream already takes {}.>: name that stream, or use another --nats-prefix", cfg.prefix)
            } else if text.contains("insufficient") {
                "the servers' JetStream storage (max_file_store) is taken: lower --nats-max-bytes or give the servers more".into()
            } else {
                "is JetStream enabled on the servers, and --nats-replicas at most the cluster's size?".into()
            };
            anyhow!("NATS: cannot create or find stream {:?} on {servers}: {text} ({hint})", st.name)
        })?;
    let info = tokio::time::timeout(cfg.connect_timeout, stream.info())
        .await
        .map_err(|_| {
            anyhow!(
                "NATS: stream {:?}: no answer within {:?}",
                st.name,
                cfg.connect_timeout
            )
        })?
        .map_err(|e| anyhow!("NATS: stream {:?}: {e}", st.name))?;
    let probe = format!("{}.{}.X", cfg.prefix, cfg.session.as_deref().unwrap_or("S"));
    if !info
        .config
        .subjects
        .iter()
        .any(|p| super::subject::matches(p, &probe))
    {
        bail!(
            "NATS: stream {:?} exists but takes {:?}, not the subjects {}.> this bridge publishes (use another --nats-stream or --nats-prefix)",
            st.name,
            info.config.subjects,
            cfg.prefix
        );
    }
    Ok(Sink {
        client,
        js: Some(js),
    })
}

/// A publish awaiting its acknowledgement, with what a retry needs.
struct Attempt {
    subject: Subject,
    payload: bytes::Bytes,
    msg_id: String,
    tries: u32,
}

type AckFuture =
    Pin<Box<dyn Future<Output = (Attempt, Result<jetstream::publish::PublishAck, String>)>>>;

fn await_ack(a: Attempt, ack: PublishAckFuture) -> AckFuture {
    Box::pin(async move {
        let r = ack.await.map_err(|e| e.to_string());
        (a, r)
    })
}

/// The record's JetStream message id: the same record published again (a
/// retry, or a second tickwire publishing the same MoldUDP64 session into
/// the stream with the same depth and format) is stored once. Input that is
/// not MoldUDP64 has no session to name it, so the bridge's start time
/// stands in.
fn msg_id(r: &BookRecord, run_id: u64, cfg: &BridgeConfig) -> String {
    let form = match cfg.format {
        Format::Binary => 'b',
        Format::Json => 'j',
    };
    let tail = format!("{}:{}:{}{form}", r.boundary_ns, r.locate, cfg.depth);
    if r.origin.session == [0; 10] {
        format!("run{run_id}:{tail}")
    } else {
        let mut s = String::with_capacity(48);
        super::subject::push_token(&mut s, &r.origin.session);
        format!("{s}:{tail}")
    }
}

fn encode(cfg: &BridgeConfig, item: &Item, buf: &mut [u8]) -> Result<bytes::Bytes> {
    let n = bus::encode(&item.record, item.pub_seq, cfg.depth, buf)
        .map_err(|e| anyhow!("encoding a record: {e}"))?;
    let bin = &buf[..n];
    Ok(match cfg.format {
        Format::Binary => bytes::Bytes::copy_from_slice(bin),
        Format::Json => {
            let view = BusRecord::new_checked(bin).map_err(|e| anyhow!("{e}"))?;
            serde_json::to_vec(&crate::bus_json::to_json(&view))?.into()
        }
    })
}

async fn publish_loop(
    cfg: BridgeConfig,
    mut rx: mpsc::Receiver<Item>,
    shared: &Shared,
    sink: Sink,
) {
    let mut subjects = Subjects::new(&cfg.prefix, cfg.session.as_deref());
    let mut buf = vec![0u8; bus::MAX_LEN];
    let mut acks: FuturesUnordered<AckFuture> = FuturesUnordered::new();
    let max = cfg.max_in_flight.max(1);
    let run_id = now_ns();
    let mut open = true;
    loop {
        let item = tokio::select! {
            biased;
            Some((attempt, result)) = acks.next(), if !acks.is_empty() => {
                shared.in_flight.store(acks.len() as u64, Relaxed);
                match result {
                    Ok(ack) => {
                        shared.acked.fetch_add(1, Relaxed);
                        if ack.duplicate {
                            shared.acked_duplicate.fetch_add(1, Relaxed);
                        }
                    }
                    Err(e) if attempt.tries <= cfg.retries => {
                        shared.error(format!("acknowledgement: {e}"));
                        shared.retried.fetch_add(1, Relaxed);
                        if let Some(js) = &sink.js {
                            send_js(js, attempt, cfg.stamp, shared, &mut acks).await;
                        }
                    }
                    Err(e) => {
                        shared.error(format!("acknowledgement: {e}"));
                        shared.failed.fetch_add(1, Relaxed);
                    }
                }
                continue;
            }
            item = rx.recv(), if open && acks.len() < max => item,
            else => break,
        };
        let Some(item) = item else {
            open = false;
            continue;
        };
        shared.published.fetch_add(1, Relaxed);
        let payload = match encode(&cfg, &item, &mut buf) {
            Ok(p) => p,
            Err(e) => {
                shared.error(e);
                shared.failed.fetch_add(1, Relaxed);
                continue;
            }
        };
        let subject = Subject::from(subjects.of(&item.record));
        match &sink.js {
            None => {
                let client = &sink.client;
                shared.bytes.fetch_add(payload.len() as u64, Relaxed);
                let r = if cfg.stamp {
                    let mut h = HeaderMap::new();
                    h.insert(SENT_HEADER, now_ns().to_string().as_str());
                    client.publish_with_headers(subject, h, payload).await
                } else {
                    client.publish(subject, payload).await
                };
                if let Err(e) = r {
                    shared.error(format!("publish: {e}"));
                    shared.failed.fetch_add(1, Relaxed);
                }
            }
            Some(js) => {
                let attempt = Attempt {
                    subject,
                    payload,
                    msg_id: msg_id(&item.record, run_id, &cfg),
                    tries: 0,
                };
                send_js(js, attempt, cfg.stamp, shared, &mut acks).await;
            }
        }
    }
    match tokio::time::timeout(Duration::from_secs(5), sink.client.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => shared.error(format!("flush: {e}")),
        Err(_) => shared.error("flush: no answer within 5 s"),
    }
    shared.in_flight.store(0, Relaxed);
}

/// Sends one JetStream publish and queues its acknowledgement.
async fn send_js(
    js: &jetstream::Context,
    mut attempt: Attempt,
    stamp: bool,
    shared: &Shared,
    acks: &mut FuturesUnordered<AckFuture>,
) {
    let mut msg = jetstream::message::PublishMessage::build()
        .payload(attempt.payload.clone())
        .message_id(&attempt.msg_id);
    if stamp {
        msg = msg.header(SENT_HEADER, now_ns().to_string().as_str());
    }
    shared
        .bytes
        .fetch_add(attempt.payload.len() as u64, Relaxed);
    match js.send_publish(attempt.subject.clone(), msg).await {
        Ok(ack) => {
            attempt.tries += 1;
            acks.push(await_ack(attempt, ack));
            let n = acks.len() as u64;
            shared.in_flight.store(n, Relaxed);
            shared.in_flight_max.fetch_max(n, Relaxed);
        }
        Err(e) => {
            shared.error(format!("publish: {e}"));
            shared.failed.fetch_add(1, Relaxed);
        }
    }
}
