//! The control plane's side of MoldUDP64 re-requests: it drains the
//! workers' [`RecoveryRx`] channels on every poll and sends each request as
//! a UDP datagram from one smoltcp UDP socket bound to our address and the
//! re-request source port.
//!
//! Answers (downstream MoldUDP64 packets, unicast to our address) come back
//! to that source port. On the feed's RX port the workers consume them if
//! the port is among their `--ports`, which is why the source port should
//! be the feed's UDP port; any answer that reaches the control plane
//! instead is read and counted (`answers_ignored`), never parsed.
//!
//! smoltcp resolves the server's (or the gateway's) MAC by ARP: a request
//! queued before that stays in the socket's buffer and is sent once ARP
//! answers. If nothing from the socket could be sent for
//! [`UNRESOLVED_TIMEOUT`] (no ARP answer, or no route), everything waiting
//! is dropped and counted `unresolved`, so one unreachable server does not
//! hold the others' requests for ever. Every request taken off a channel is
//! counted exactly once: `requests = sent + socket_full + unroutable +
//! unresolved + pending`.

use std::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpEndpoint, IpListenEndpoint};

use super::recovery::{RecoveryRequest, RecoveryRx, REQUEST_LEN};
use super::settings::Ipv4Cidr;
use super::ControlPlane;

/// Requests the socket holds while waiting for ARP or the TX queue.
const SOCKET_SLOTS: usize = 256;
/// Answers held before they are read and counted.
const ANSWER_SLOTS: usize = 8;
/// How long requests may wait without anything leaving the socket before
/// they are dropped (smoltcp asks ARP again every second meanwhile).
pub const UNRESOLVED_TIMEOUT: Duration = Duration::from_secs(5);
/// Most requests moved from the channels into the socket per poll.
const DRAIN_BUDGET: usize = 64;

/// Re-request counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryCounters {
    /// The UDP source port the requests go out from (0: not attached).
    pub source_port: u16,
    /// Requests taken off the channels.
    pub requests: u64,
    /// Handed to the TX queue as datagrams (a refusal there counts as a
    /// device `tx_failures`).
    pub sent: u64,
    /// Refused by a full channel (on the worker's side).
    pub channel_full: u64,
    /// Dropped: the socket's buffer was full (requests waiting for ARP).
    pub socket_full: u64,
    /// Dropped: the server is neither on our subnet nor reachable through
    /// a gateway, or cannot be sent to.
    pub unroutable: u64,
    /// Dropped after waiting [`UNRESOLVED_TIMEOUT`] with nothing sent (ARP
    /// never answered).
    pub unresolved: u64,
    /// Waiting in the socket now (for ARP, or at shutdown: never sent).
    pub pending: u64,
    /// Datagrams that arrived on the source port and were discarded.
    pub answers_ignored: u64,
}

/// The counters as JSON (the `control.recovery` object of `--stats-json`).
pub fn counters_json(c: &RecoveryCounters) -> serde_json::Value {
    serde_json::json!({
        "source_port": c.source_port, "requests": c.requests, "sent": c.sent,
        "channel_full": c.channel_full, "socket_full": c.socket_full,
        "unroutable": c.unroutable, "unresolved": c.unresolved, "pending": c.pending,
        "answers_ignored": c.answers_ignored,
    })
}

/// One line for people from [`counters_json`]'s object.
pub fn human(v: &serde_json::Value) -> String {
    format!(
        "{} taken, {} sent, {} pending; dropped: {} channel full, {} socket full, {} unroutable, {} unresolved; {} answers ignored (UDP port {})",
        v["requests"], v["sent"], v["pending"], v["channel_full"], v["socket_full"],
        v["unroutable"], v["unresolved"], v["answers_ignored"], v["source_port"]
    )
}

/// The sender's state inside the control plane.
pub(super) struct Rerequests {
    handle: SocketHandle,
    local: SocketAddrV4,
    channels: Vec<RecoveryRx>,
    subnet: Ipv4Cidr,
    has_gateway: bool,
    counters: RecoveryCounters,
    /// When the oldest waiting request last saw no progress.
    stalled_since: Option<Instant>,
}

fn socket_new() -> udp::Socket<'static> {
    udp::Socket::new(
        udp::PacketBuffer::new(
            vec![udp::PacketMetadata::EMPTY; ANSWER_SLOTS],
            vec![0; ANSWER_SLOTS * 1500],
        ),
        // Every payload is REQUEST_LEN bytes and the ring a whole multiple of
        // it, so it never pads and its byte count / REQUEST_LEN is the
        // number of requests waiting.
        udp::PacketBuffer::new(
            vec![udp::PacketMetadata::EMPTY; SOCKET_SLOTS],
            vec![0; SOCKET_SLOTS * REQUEST_LEN],
        ),
    )
}

impl ControlPlane<'_, '_> {
    /// Starts sending re-requests from `source_port` (0: an ephemeral port
    /// from 49152 to 65535, derived from `seed`) for every channel in
    /// `channels`; more can be added with the same call later (the port is
    /// then kept). Returns the source port.
    pub fn attach_recovery(
        &mut self,
        source_port: u16,
        channels: Vec<RecoveryRx>,
        seed: u64,
    ) -> u16 {
        if let Some(r) = self.rerequests.as_mut() {
            r.channels.extend(channels);
            return r.local.port();
        }
        let port = if source_port != 0 {
            source_port
        } else {
            49152 + (seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 50) as u16
        };
        let mut s = socket_new();
        let ip = self.subnet.addr;
        // Only fails for port 0 or an open socket; neither is the case.
        let _ = s.bind(IpListenEndpoint {
            addr: Some(IpAddress::Ipv4(ip)),
            port,
        });
        let handle = self.sockets.add(s);
        self.rerequests = Some(Rerequests {
            handle,
            local: SocketAddrV4::new(ip, port),
            channels,
            subnet: self.subnet,
            has_gateway: self.has_gateway,
            counters: RecoveryCounters {
                source_port: port,
                ..RecoveryCounters::default()
            },
            stalled_since: None,
        });
        port
    }

    /// The re-request counters (all 0 when not attached).
    pub fn recovery_counters(&self) -> RecoveryCounters {
        match &self.rerequests {
            Some(r) => {
                let mut c = r.counters;
                c.channel_full = r.channels.iter().map(RecoveryRx::refused).sum();
                c.pending = r.pending(&self.sockets) as u64;
                // Every request taken is exactly one of these.
                c.sent = c
                    .requests
                    .saturating_sub(c.socket_full + c.unroutable + c.unresolved + c.pending);
                c
            }
            None => RecoveryCounters::default(),
        }
    }

    /// Before egress: moves waiting requests into the socket.
    pub(super) fn rerequests_drain(&mut self) {
        if let Some(r) = self.rerequests.as_mut() {
            r.drain(&mut self.sockets);
        }
    }

    /// After egress: reads answers, drops what waited too long.
    pub(super) fn rerequests_after_egress(&mut self, now: Instant, pending_before: usize) {
        if let Some(r) = self.rerequests.as_mut() {
            r.after_egress(&mut self.sockets, now, pending_before);
        }
    }

    /// Requests in the socket now.
    pub(super) fn rerequests_pending(&self) -> usize {
        self.rerequests
            .as_ref()
            .map_or(0, |r| r.pending(&self.sockets))
    }
}

/// Whether smoltcp can send to `to`: on our subnet, through the gateway, or
/// a multicast group (no ARP needed).
fn routable(subnet: &Ipv4Cidr, has_gateway: bool, to: Ipv4Addr) -> bool {
    !to.is_unspecified()
        && !to.is_broadcast()
        && (to.is_multicast() || subnet.contains(to) || has_gateway)
}

impl Rerequests {
    fn pending(&self, sockets: &smoltcp::iface::SocketSet<'static>) -> usize {
        sockets
            .get::<udp::Socket<'static>>(self.handle)
            .send_queue()
            / REQUEST_LEN
    }

    fn drain(&mut self, sockets: &mut smoltcp::iface::SocketSet<'static>) {
        let s = sockets.get_mut::<udp::Socket<'static>>(self.handle);
        let mut budget = DRAIN_BUDGET;
        for ch in &mut self.channels {
            while budget > 0 {
                let Some(RecoveryRequest { server, payload }) = ch.try_recv() else {
                    break;
                };
                budget -= 1;
                self.counters.requests += 1;
                if !routable(&self.subnet, self.has_gateway, *server.ip()) || server.port() == 0 {
                    self.counters.unroutable += 1;
                    continue;
                }
                let to = IpEndpoint::new(IpAddress::Ipv4(*server.ip()), server.port());
                match s.send_slice(&payload, to) {
                    Ok(()) => {}
                    Err(udp::SendError::BufferFull) => self.counters.socket_full += 1,
                    Err(udp::SendError::Unaddressable) => self.counters.unroutable += 1,
                }
            }
        }
    }

    fn after_egress(
        &mut self,
        sockets: &mut smoltcp::iface::SocketSet<'static>,
        now: Instant,
        pending_before: usize,
    ) {
        let s = sockets.get_mut::<udp::Socket<'static>>(self.handle);
        while s.recv().is_ok() {
            self.counters.answers_ignored += 1;
        }
        let pending = s.send_queue() / REQUEST_LEN;
        if pending == 0 {
            self.stalled_since = None;
            return;
        }
        if pending < pending_before {
            // Some left: wait afresh for the rest.
            self.stalled_since = Some(now);
            return;
        }
        let since = *self.stalled_since.get_or_insert(now);
        if now - since >= UNRESOLVED_TIMEOUT {
            // Drop everything waiting: close resets both buffers.
            self.counters.unresolved += pending as u64;
            s.close();
            let _ = s.bind(IpListenEndpoint {
                addr: Some(IpAddress::Ipv4(*self.local.ip())),
                port: self.local.port(),
            });
            self.stalled_since = None;
        }
    }
}
