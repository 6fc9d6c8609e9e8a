//! `--metrics-listen`: a small HTTP/1.1 server on a std thread (kernel TCP,
//! one request per connection): `/metrics`, `/livez`, `/readyz`. It also
//! observes the workers' slots every 100 ms for feed freshness.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::{Hub, Kind, Series};

/// Series grouped by family name, encoded on each scrape.
#[derive(Debug)]
pub(super) struct Families(pub BTreeMap<String, Vec<Series>>);

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for (name, list) in &self.0 {
            let Some(first) = list.first() else { continue };
            let t = match first.kind {
                Kind::Counter(_) => MetricType::Counter,
                Kind::Gauge(_) => MetricType::Gauge,
                Kind::Histogram { .. } => MetricType::Histogram,
            };
            let mut m = encoder.encode_descriptor(name, &first.help, None, t)?;
            for s in list {
                let mut e = m.encode_family(&s.labels)?;
                match (&s.kind, t) {
                    (Kind::Counter(v), MetricType::Counter) => {
                        e.encode_counter::<NoLabelSet, _, u64>(v, None)?
                    }
                    (Kind::Gauge(v), MetricType::Gauge) => e.encode_gauge(&(*v as i64))?,
                    (
                        Kind::Histogram {
                            buckets,
                            sum,
                            count,
                        },
                        MetricType::Histogram,
                    ) => e.encode_histogram::<NoLabelSet>(*sum, *count, buckets, None)?,
                    // A family's series share its first one's type.
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// The running server; stops and joins on drop.
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Binds `addr` and serves `hub` from a new thread.
pub fn spawn(hub: Arc<Hub>, addr: SocketAddr) -> std::io::Result<Server> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("tw-metrics".into())
        .spawn(move || serve(&listener, &hub, &stop2))?;
    Ok(Server {
        stop,
        thread: Some(thread),
        addr,
    })
}

fn serve(listener: &TcpListener, hub: &Hub, stop: &AtomicBool) {
    let mut next_observe = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next_observe {
            hub.observe();
            next_observe = Instant::now() + Duration::from_millis(100);
        }
        match listener.accept() {
            Ok((s, _)) => {
                let _ = handle(s, hub);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn handle(mut s: TcpStream, hub: &Hub) -> std::io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, ctype, body) = if method != "GET" && method != "HEAD" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        )
    } else {
        match path {
            "/metrics" => (
                "200 OK",
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                hub.exposition(),
            ),
            "/livez" => health(hub.liveness(), "live"),
            "/readyz" => health(hub.readiness(), "ready"),
            _ => (
                "404 Not Found",
                "text/plain",
                "not found: /metrics, /livez, /readyz\n".into(),
            ),
        }
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(body.as_bytes());
    }
    s.write_all(&out)?;
    s.flush()
}

fn health(failing: Vec<String>, ok: &str) -> (&'static str, &'static str, String) {
    if failing.is_empty() {
        ("200 OK", "text/plain", format!("{ok}\n"))
    } else {
        (
            "503 Service Unavailable",
            "text/plain",
            failing.join("\n") + "\n",
        )
    }
}
