//! A TCP listener for smoltcp: a pool of listening sockets.
//!
//! A smoltcp TCP socket is one connection; listening on a port means having
//! a socket in `Listen` that a SYN turns into that connection. To accept up
//! to N concurrent connections the pool keeps `N - active` sockets
//! listening, hands each over once its handshake completes, and re-arms a
//! fresh one in its place.

use std::net::SocketAddrV4;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{IpAddress, IpListenEndpoint};

/// How the listener's sockets are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenConfig {
    /// Local address and port.
    pub addr: SocketAddrV4,
    /// Most concurrent connections.
    pub max_sessions: usize,
    /// TX buffer per connection, bytes.
    pub tx_buffer: usize,
    /// RX buffer per connection, bytes.
    pub rx_buffer: usize,
}

/// The listening sockets of one endpoint.
#[derive(Debug)]
pub struct Listener {
    cfg: ListenConfig,
    listening: Vec<SocketHandle>,
}

impl Listener {
    /// A listener with no sockets yet; [`Listener::arm`] adds them.
    pub fn new(cfg: ListenConfig) -> Self {
        Listener {
            cfg,
            listening: Vec::with_capacity(cfg.max_sessions),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &ListenConfig {
        &self.cfg
    }

    fn endpoint(&self) -> IpListenEndpoint {
        IpListenEndpoint {
            addr: Some(IpAddress::from(*self.cfg.addr.ip())),
            port: self.cfg.addr.port(),
        }
    }

    /// Adds listening sockets until `active` connections plus the listening
    /// ones reach the session limit.
    pub fn arm(&mut self, sockets: &mut SocketSet<'static>, active: usize) {
        while self.listening.len() + active < self.cfg.max_sessions {
            let mut s = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; self.cfg.rx_buffer]),
                tcp::SocketBuffer::new(vec![0; self.cfg.tx_buffer]),
            );
            // FIX messages go out as written: no Nagle, no delayed ACKs.
            s.set_nagle_enabled(false);
            s.set_ack_delay(None);
            if s.listen(self.endpoint()).is_err() {
                // Only a port 0 or an open socket fail; neither happens here.
                return;
            }
            self.listening.push(sockets.add(s));
        }
    }

    /// Moves out the sockets whose handshake completed (in order), re-listens
    /// the ones a reset sent back to `Closed`. The caller owns what it gets.
    pub fn take_established(&mut self, sockets: &mut SocketSet<'static>) -> Vec<SocketHandle> {
        let ep = self.endpoint();
        let mut out = Vec::new();
        self.listening.retain(|&h| {
            let s = sockets.get_mut::<tcp::Socket<'static>>(h);
            match s.state() {
                tcp::State::Listen | tcp::State::SynReceived => true,
                tcp::State::Closed => {
                    // Failed handshake: listen again on the same buffers.
                    let _ = s.listen(ep);
                    true
                }
                _ => {
                    out.push(h);
                    false
                }
            }
        });
        out
    }

    /// Sockets listening now.
    pub fn listening(&self) -> usize {
        self.listening.len()
    }
}
