//! The control plane: a smoltcp interface on a DPDK port, run by the main
//! lcore, that answers ARP and ICMP echo and accepts TCP connections for the
//! FIX publisher, while the workers keep the feed's hot path to themselves.
//!
//! Frames reach it either through the workers' forwarding ring (when it
//! shares the feed's RX port: everything that is not MoldUDP64 for the feed)
//! or straight from queue 0 of a port of its own. It sends on a TX queue of
//! its own. The socket set is open: owners may add UDP sockets next to the
//! FIX listener. It joins and leaves IGMP groups ([`igmp`]) and sends the
//! workers' MoldUDP64 re-requests ([`recovery`], [`rerequest`]).

pub mod device;
pub mod forward;
pub mod igmp;
pub mod listener;
pub mod recovery;
pub mod rerequest;
pub mod sessions;
pub mod settings;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::iface::{
    Config, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet,
};
use smoltcp::socket::{tcp, AnySocket};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint};

use device::{DeviceCounters, MbufDevice};
use igmp::IgmpCounters;
use listener::Listener;
use rerequest::{RecoveryCounters, Rerequests};
pub use settings::ControlSettings;
use settings::Ipv4Cidr;

/// Most frames handled per [`ControlPlane::poll`].
const RX_BUDGET: usize = 64;

/// One accepted TCP connection. Stable for the connection's life and never
/// reused within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u32);

impl ConnId {
    /// The number (1, 2, ... in order of acceptance).
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// The connection is gone (closed, reset or aborted), or, on receive, the
/// peer has closed its side and every byte it sent has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnClosed;

impl fmt::Display for ConnClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection closed")
    }
}

impl std::error::Error for ConnClosed {}

/// Control-plane counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ControlCounters {
    /// Frames in, out, and failed sends (see [`DeviceCounters`]).
    pub device: DeviceCounters,
    /// TCP connections accepted.
    pub tcp_accepted: u64,
    /// TCP connections gone (closed by either side, reset or aborted).
    pub tcp_closed: u64,
    /// TCP connections open now.
    pub tcp_open: u64,
    /// Frames the workers moved into the forwarding ring (ring path only).
    pub ring_forwarded: u64,
    /// Frames the workers dropped because the ring was full.
    pub ring_full: u64,
    /// IGMP group membership.
    pub igmp: IgmpCounters,
    /// MoldUDP64 re-requests.
    pub recovery: RecoveryCounters,
}

/// The control plane on one port.
pub struct ControlPlane<'q, 'e> {
    device: MbufDevice<'q, 'e>,
    iface: Interface,
    sockets: SocketSet<'static>,
    listener: Option<Listener>,
    conns: BTreeMap<ConnId, SocketHandle>,
    accepted: Vec<ConnId>,
    next_conn: u32,
    tsc_hz: u64,
    tsc_base: u64,
    tcp_accepted: u64,
    tcp_closed: u64,
    ring: Option<&'q forward::ForwardRing<'e>>,
    /// Our address and subnet, and whether there is a default route.
    subnet: Ipv4Cidr,
    has_gateway: bool,
    /// Groups joined, in order.
    groups: Vec<Ipv4Addr>,
    igmp: IgmpCounters,
    rerequests: Option<Rerequests>,
}

impl<'q, 'e> ControlPlane<'q, 'e> {
    /// An interface with `mac` and the settings' address and route, over
    /// `device`; `ring` is the workers' forwarding ring when frames come
    /// through one (its counters are reported). `now_tsc`/`tsc_hz` give the
    /// clock that [`ControlPlane::poll`] is then called with.
    pub fn new(
        mut device: MbufDevice<'q, 'e>,
        mac: [u8; 6],
        settings: &ControlSettings,
        ring: Option<&'q forward::ForwardRing<'e>>,
        now_tsc: u64,
        tsc_hz: u64,
    ) -> Self {
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        // Initial TCP sequence numbers and ephemeral ports come from this.
        config.random_seed = now_tsc
            ^ u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0x5a, 0xa5]);
        let mut iface = Interface::new(config, &mut device, Instant::from_micros(0));
        iface.update_ip_addrs(|addrs| {
            // A fresh interface has room for at least one address.
            let _ = addrs.push(IpCidr::new(
                IpAddress::from(settings.ip),
                settings.prefix_len,
            ));
        });
        if let Some(gw) = settings.gateway {
            // Only fails when the route table is full; it is empty here.
            let _ = iface.routes_mut().add_default_ipv4_route(gw);
        }
        let mut cp = ControlPlane {
            device,
            iface,
            sockets: SocketSet::new(Vec::new()),
            listener: settings.fix_listen.map(Listener::new),
            conns: BTreeMap::new(),
            accepted: Vec::new(),
            next_conn: 1,
            tsc_hz: tsc_hz.max(1),
            tsc_base: now_tsc,
            tcp_accepted: 0,
            tcp_closed: 0,
            ring,
            subnet: Ipv4Cidr {
                addr: settings.ip,
                prefix_len: settings.prefix_len,
            },
            has_gateway: settings.gateway.is_some(),
            groups: Vec::new(),
            igmp: IgmpCounters::default(),
            rerequests: None,
        };
        if let Some(l) = cp.listener.as_mut() {
            l.arm(&mut cp.sockets, 0);
        }
        cp
    }

    fn instant(&self, now_tsc: u64) -> Instant {
        let us =
            u128::from(now_tsc.wrapping_sub(self.tsc_base)) * 1_000_000 / u128::from(self.tsc_hz);
        Instant::from_micros(us as i64)
    }

    /// Receives what arrived (up to 64 frames), takes the re-requests
    /// waiting in the channels, runs smoltcp (ARP, ICMP, IGMP, TCP timers,
    /// socket I/O), sends what it produced, then hands over completed
    /// handshakes and retires finished connections. Returns true when anything moved
    /// (a frame in or out, a socket changed state), false when idle.
    pub fn poll(&mut self, now_tsc: u64) -> bool {
        let before = self.device.counters();
        let ts = self.instant(now_tsc);
        let mut changed = false;
        // Bounded: a flood of control traffic must not starve the hook (the
        // FIX publisher) that runs between polls.
        for _ in 0..RX_BUDGET {
            match self
                .iface
                .poll_ingress_single(ts, &mut self.device, &mut self.sockets)
            {
                PollIngressSingleResult::None => break,
                PollIngressSingleResult::PacketProcessed => {}
                PollIngressSingleResult::SocketStateChanged => changed = true,
            }
        }
        self.rerequests_drain();
        let pending = self.rerequests_pending();
        changed |= self
            .iface
            .poll_egress(ts, &mut self.device, &mut self.sockets)
            == PollResult::SocketStateChanged;
        self.rerequests_after_egress(ts, pending);
        self.reap();
        if let Some(l) = self.listener.as_mut() {
            for h in l.take_established(&mut self.sockets) {
                let id = ConnId(self.next_conn);
                self.next_conn += 1;
                self.conns.insert(id, h);
                self.accepted.push(id);
                self.tcp_accepted += 1;
            }
            l.arm(&mut self.sockets, self.conns.len());
        }
        let after = self.device.counters();
        changed || before.rx_frames != after.rx_frames || before.tx_frames != after.tx_frames
    }

    /// Removes connections that reached `Closed` or `TimeWait` (nothing more
    /// can be read or sent; their ids stay dead).
    fn reap(&mut self) {
        let sockets = &mut self.sockets;
        let mut gone = 0;
        self.conns.retain(|_, &mut h| {
            let s = sockets.get::<tcp::Socket<'static>>(h);
            let done = matches!(s.state(), tcp::State::Closed | tcp::State::TimeWait);
            if done {
                sockets.remove(h);
                gone += 1;
            }
            !done
        });
        self.tcp_closed += gone;
    }

    /// Connections accepted since the last call, oldest first.
    pub fn accepted(&mut self) -> std::vec::Drain<'_, ConnId> {
        self.accepted.drain(..)
    }

    fn socket(&self, c: ConnId) -> Option<&tcp::Socket<'static>> {
        let h = *self.conns.get(&c)?;
        Some(self.sockets.get::<tcp::Socket<'static>>(h))
    }

    fn socket_mut(&mut self, c: ConnId) -> Option<&mut tcp::Socket<'static>> {
        let h = *self.conns.get(&c)?;
        Some(self.sockets.get_mut::<tcp::Socket<'static>>(h))
    }

    /// Reads what the peer sent into `buf`; `Ok(0)` when nothing is waiting
    /// now. `Err(ConnClosed)` once the connection is gone, or the peer closed
    /// its side and everything it sent has been read.
    pub fn recv(&mut self, c: ConnId, buf: &mut [u8]) -> Result<usize, ConnClosed> {
        let s = self.socket_mut(c).ok_or(ConnClosed)?;
        if s.can_recv() {
            return s.recv_slice(buf).map_err(|_| ConnClosed);
        }
        if s.may_recv() {
            Ok(0)
        } else {
            Err(ConnClosed)
        }
    }

    /// Queues as much of `data` as fits in the connection's TX buffer;
    /// returns how much (possibly 0, possibly short). It goes out on the
    /// next polls. `Err(ConnClosed)` once it can no longer send.
    pub fn send(&mut self, c: ConnId, data: &[u8]) -> Result<usize, ConnClosed> {
        let s = self.socket_mut(c).ok_or(ConnClosed)?;
        if !s.may_send() {
            return Err(ConnClosed);
        }
        s.send_slice(data).map_err(|_| ConnClosed)
    }

    /// Free bytes in the connection's TX buffer (0 when it is gone).
    pub fn send_capacity(&self, c: ConnId) -> usize {
        self.socket(c)
            .filter(|s| s.may_send())
            .map_or(0, |s| s.send_capacity() - s.send_queue())
    }

    /// Closes gracefully: a FIN after the data already queued.
    pub fn close(&mut self, c: ConnId) {
        if let Some(s) = self.socket_mut(c) {
            s.close();
        }
    }

    /// Resets the connection now, dropping queued data.
    pub fn abort(&mut self, c: ConnId) {
        if let Some(s) = self.socket_mut(c) {
            s.abort();
        }
    }

    /// Whether the connection can still carry data in at least one
    /// direction.
    pub fn is_open(&self, c: ConnId) -> bool {
        self.socket(c).is_some_and(|s| s.is_active())
    }

    /// The peer's address.
    pub fn peer(&self, c: ConnId) -> Option<SocketAddrV4> {
        let IpEndpoint { addr, port } = self.socket(c)?.remote_endpoint()?;
        let IpAddress::Ipv4(ip) = addr;
        Some(SocketAddrV4::new(ip, port))
    }

    /// Connections open now, oldest first.
    pub fn connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.conns.keys().copied()
    }

    /// Whether the FIX acceptor (--fix-listen) has a socket listening now
    /// (false without one).
    pub fn fix_listening(&self) -> bool {
        self.listener.as_ref().is_some_and(|l| l.listening() > 0)
    }

    /// The counters so far.
    pub fn counters(&self) -> ControlCounters {
        ControlCounters {
            device: self.device.counters(),
            tcp_accepted: self.tcp_accepted,
            tcp_closed: self.tcp_closed,
            tcp_open: self.conns.len() as u64,
            ring_forwarded: self.ring.map_or(0, |r| r.forwarded()),
            ring_full: self.ring.map_or(0, |r| r.ring_full()),
            igmp: IgmpCounters {
                groups: self.groups.len() as u64,
                ..self.igmp
            },
            recovery: self.recovery_counters(),
        }
    }

    /// The smoltcp interface (addresses, routes). Join and leave groups
    /// with [`ControlPlane::join_multicast_group`] and friends, which count
    /// them and keep the list.
    pub fn interface(&mut self) -> &mut Interface {
        &mut self.iface
    }

    /// Adds a socket of the owner's (UDP for recovery, ...); it is polled
    /// with the others. Reach it again through [`ControlPlane::sockets`].
    pub fn add_socket<T: AnySocket<'static>>(&mut self, socket: T) -> SocketHandle {
        self.sockets.add(socket)
    }

    /// The socket set. Sockets of the FIX listener and its connections are
    /// in it too: leave those to the methods above.
    pub fn sockets(&mut self) -> &mut SocketSet<'static> {
        &mut self.sockets
    }
}

impl fmt::Debug for ControlPlane<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlPlane")
            .field("addrs", &self.iface.ip_addrs())
            .field(
                "listening",
                &self.listener.as_ref().map(Listener::listening),
            )
            .field("connections", &self.conns.len())
            .finish_non_exhaustive()
    }
}
