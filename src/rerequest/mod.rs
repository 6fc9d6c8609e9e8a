//! `tickwire rerequest-server`: a MoldUDP64 re-request server answering from
//! a BinaryFILE, as NASDAQ's does: each 20-byte request (session, sequence,
//! count) gets one downstream packet, unicast back to the request's source,
//! holding as many of the requested messages as fit; a request it cannot
//! serve gets no answer at all. Impairments (dropped requests, late
//! answers) let a receiver's recovery be tested against a flaky server.

pub mod cli;

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::gen::rng::Rng;
use crate::mold_packet::{Request, DEFAULT_MAX_PAYLOAD};
use crate::mold_store::MoldStore;

/// Longest wait in `recv`, so that stop conditions are checked promptly.
const MAX_WAIT: Duration = Duration::from_millis(20);

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Largest answer payload, header included.
    pub max_payload: usize,
    /// Chance that a well-formed request is ignored.
    pub drop_requests: f64,
    /// The first this many well-formed requests are ignored.
    pub drop_first: u64,
    /// Seed for `drop_requests`.
    pub seed: u64,
    /// Each answer goes this long after its request came.
    pub answer_delay: Duration,
    /// Stop this long after starting.
    pub exit_after: Option<Duration>,
    /// Stop once this many requests (datagrams) have come and their
    /// answers have gone.
    pub stop_after_requests: Option<u64>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_payload: DEFAULT_MAX_PAYLOAD,
            drop_requests: 0.0,
            drop_first: 0,
            seed: 1,
            answer_delay: Duration::ZERO,
            exit_after: None,
            stop_after_requests: None,
        }
    }
}

/// What the server did. Every datagram received is one request, and ends up
/// exactly one of answered, send_errors, silent, dropped, malformed or
/// pending_at_exit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerCounters {
    /// Datagrams received.
    pub requests: u64,
    /// Requests answered with a packet.
    pub answered: u64,
    /// Well-formed requests with nothing to send (sequence 0 or past the
    /// end, count 0).
    pub silent: u64,
    /// Well-formed requests ignored on purpose (`drop_first`, `drop_requests`).
    pub dropped: u64,
    /// Datagrams not exactly 20 bytes, or for another session.
    pub malformed: u64,
    /// Answers still waiting for their delay when the server stopped.
    pub pending_at_exit: u64,
    /// Answers that could not be sent (the error is not fatal).
    pub send_errors: u64,
    /// Messages in the answers sent.
    pub messages_sent: u64,
    /// Payload bytes of the answers sent.
    pub bytes_sent: u64,
}

impl ServerCounters {
    /// The counters as JSON (what `tickwire rerequest-server` prints).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests,
            "answered": self.answered,
            "silent": self.silent,
            "dropped": self.dropped,
            "malformed": self.malformed,
            "pending_at_exit": self.pending_at_exit,
            "send_errors": self.send_errors,
            "messages_sent": self.messages_sent,
            "bytes_sent": self.bytes_sent,
        })
    }
}

/// An answer waiting for its time.
#[derive(Debug)]
struct Pending {
    due: Instant,
    to: SocketAddr,
    packet: Vec<u8>,
    count: u16,
}

/// A bound re-request server over one store.
#[derive(Debug)]
pub struct RerequestServer<'s, B: AsRef<[u8]>> {
    sock: UdpSocket,
    store: &'s MoldStore<B>,
    opts: ServerOptions,
    rng: Rng,
    pending: VecDeque<Pending>,
    counters: ServerCounters,
    valid_seen: u64,
}

impl<'s, B: AsRef<[u8]>> RerequestServer<'s, B> {
    /// Binds `listen` (port 0: any free port, see [`Self::local_addr`]).
    pub fn bind(store: &'s MoldStore<B>, listen: SocketAddr, opts: ServerOptions) -> Result<Self> {
        let sock = UdpSocket::bind(listen)
            .with_context(|| format!("--listen {listen}: cannot bind a UDP socket"))?;
        Ok(RerequestServer {
            sock,
            store,
            rng: Rng::new(opts.seed, 0x5E4E_5E4E),
            opts,
            pending: VecDeque::new(),
            counters: ServerCounters::default(),
            valid_seen: 0,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// Counters so far.
    pub fn counters(&self) -> &ServerCounters {
        &self.counters
    }

    /// Serves until `stop` is set, `exit_after` has passed, or
    /// `stop_after_requests` requests have been handled; returns the
    /// counters.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<ServerCounters> {
        let start = Instant::now();
        let deadline = self.opts.exit_after.map(|d| start + d);
        let mut buf = vec![0u8; 2048];
        loop {
            let now = Instant::now();
            self.send_due(now);
            let enough = self
                .opts
                .stop_after_requests
                .is_some_and(|n| self.counters.requests >= n);
            if stop.load(Ordering::Relaxed)
                || deadline.is_some_and(|d| now >= d)
                || (enough && self.pending.is_empty())
            {
                break;
            }
            let mut wait = MAX_WAIT;
            if let Some(p) = self.pending.front() {
                wait = wait.min(p.due.saturating_duration_since(now));
            }
            if let Some(d) = deadline {
                wait = wait.min(d.saturating_duration_since(now));
            }
            if enough {
                // Only the delayed answers are left to send.
                std::thread::sleep(wait);
                continue;
            }
            self.sock
                .set_read_timeout(Some(wait.max(Duration::from_micros(100))))
                .context("cannot set the socket's read timeout")?;
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) => self.handle(&buf[..n], from, Instant::now()),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionReset
                    ) => {}
                Err(e) => return Err(e).context("receiving requests"),
            }
        }
        self.counters.pending_at_exit = self.pending.len() as u64;
        self.pending.clear();
        Ok(self.counters.clone())
    }

    /// Classifies one datagram and queues its answer.
    fn handle(&mut self, datagram: &[u8], from: SocketAddr, now: Instant) {
        self.counters.requests += 1;
        let Some(req) = Request::parse(datagram).filter(|r| r.session == *self.store.session())
        else {
            self.counters.malformed += 1;
            return;
        };
        self.valid_seen += 1;
        if self.valid_seen <= self.opts.drop_first || self.rng.chance(self.opts.drop_requests) {
            self.counters.dropped += 1;
            return;
        }
        let mut packet = Vec::new();
        match self.store.answer_into(
            &req.session,
            req.sequence,
            req.count,
            self.opts.max_payload,
            &mut packet,
        ) {
            None => self.counters.silent += 1,
            Some(count) => self.pending.push_back(Pending {
                due: now + self.opts.answer_delay,
                to: from,
                packet,
                count,
            }),
        }
    }

    /// Sends every queued answer whose time has come.
    fn send_due(&mut self, now: Instant) {
        while self.pending.front().is_some_and(|p| p.due <= now) {
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            match self.sock.send_to(&p.packet, p.to) {
                Ok(_) => {
                    self.counters.answered += 1;
                    self.counters.messages_sent += u64::from(p.count);
                    self.counters.bytes_sent += p.packet.len() as u64;
                }
                Err(_) => self.counters.send_errors += 1,
            }
        }
    }
}
