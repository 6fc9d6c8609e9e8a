//! UDP sockets set up for MoldUDP64 publishing: multicast TTL, loopback and
//! outgoing interface, which std only partly covers.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;

use anyhow::{Context, Result};

/// Opens the publishing socket: bound to `bind` (port chosen by the
/// kernel), TTL `ttl` for unicast and multicast, multicast loopback on (so
/// a receiver on the same host sees the feed), and, when `bind` is a
/// specific address, IP_MULTICAST_IF set to it so multicast leaves through
/// that interface rather than the default route's.
pub fn publisher(bind: Ipv4Addr, ttl: u8) -> Result<UdpSocket> {
    let sock = UdpSocket::bind(SocketAddrV4::new(bind, 0))
        .with_context(|| format!("--bind {bind}: cannot bind a UDP socket"))?;
    sock.set_ttl(u32::from(ttl))
        .with_context(|| format!("--ttl {ttl}"))?;
    sock.set_multicast_ttl_v4(u32::from(ttl))
        .with_context(|| format!("--ttl {ttl} (multicast)"))?;
    sock.set_multicast_loop_v4(true)
        .context("cannot turn multicast loopback on")?;
    if !bind.is_unspecified() {
        set_multicast_if(&sock, bind)
            .with_context(|| format!("--bind {bind}: cannot use it as the multicast interface"))?;
    }
    Ok(sock)
}

/// IP_MULTICAST_IF: the local address whose interface multicast leaves by.
pub fn set_multicast_if(sock: &UdpSocket, addr: Ipv4Addr) -> std::io::Result<()> {
    let a = libc::in_addr {
        s_addr: u32::from_ne_bytes(addr.octets()),
    };
    // SAFETY: the fd is a live socket owned by `sock`; the option value
    // points at an in_addr that outlives the call, with its exact size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&a as *const libc::in_addr).cast(),
            std::mem::size_of::<libc::in_addr>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
