//! Ethdev ports and their rx/tx queues.

use std::ffi::{c_char, CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};

use tickwire_sys as sys;

use super::eal::Eal;
use super::error::{Error, Result};
use super::mbuf::{Mbuf, MbufBurst};
use super::mempool::Mempool;

/// Ports currently owned by a [`Port`]: two `Port`s for one port id would
/// let two threads poll the same queue.
static PORT_CLAIMED: [AtomicBool; sys::RTE_MAX_ETHPORTS as usize] =
    [const { AtomicBool::new(false) }; sys::RTE_MAX_ETHPORTS as usize];

/// Releases a port claim on drop (also on `Port::configure` errors).
struct PortClaim(u16);

impl PortClaim {
    fn new(port_id: u16) -> Result<Self> {
        let flag = PORT_CLAIMED
            .get(usize::from(port_id))
            .ok_or_else(|| Error::InvalidArgument(format!("port id {port_id} out of range")))?;
        if flag.swap(true, Ordering::Acquire) {
            return Err(Error::InvalidArgument(format!(
                "port {port_id} is already owned by another Port"
            )));
        }
        Ok(PortClaim(port_id))
    }
}

impl Drop for PortClaim {
    fn drop(&mut self) {
        PORT_CLAIMED[usize::from(self.0)].store(false, Ordering::Release);
    }
}

/// Iterator over valid ethdev port ids (`RTE_ETH_FOREACH_DEV`-like, via
/// `rte_eth_find_next`).
#[derive(Debug)]
pub struct PortIds<'e> {
    next: u16,
    _eal: PhantomData<&'e Eal>,
}

impl Iterator for PortIds<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        if u32::from(self.next) >= sys::RTE_MAX_ETHPORTS {
            return None;
        }
        // SAFETY: EAL is initialised (we borrow it); the call only scans the
        // ethdev table and returns RTE_MAX_ETHPORTS when there is no more.
        let id = unsafe { sys::rte_eth_find_next(self.next) };
        if u32::from(id) >= sys::RTE_MAX_ETHPORTS {
            self.next = sys::RTE_MAX_ETHPORTS as u16;
            return None;
        }
        self.next = id + 1;
        Some(id)
    }
}

impl Eal {
    /// Number of usable ethdev ports (`rte_eth_dev_count_avail`).
    pub fn port_count(&self) -> u16 {
        // SAFETY: EAL is initialised; read-only query.
        unsafe { sys::rte_eth_dev_count_avail() }
    }

    /// Ids of all valid ports.
    pub fn port_ids(&self) -> PortIds<'_> {
        PortIds {
            next: 0,
            _eal: PhantomData,
        }
    }

    /// Port id by device name, e.g. `"net_null0"` or a PCI address
    /// (`rte_eth_dev_get_port_by_name`).
    pub fn port_by_name(&self, name: &str) -> Result<u16> {
        let cname = CString::new(name).map_err(|_| Error::PortNotFound(name.to_owned()))?;
        let mut id = 0u16;
        // SAFETY: `cname` is valid for the call and `id` is a writable u16.
        let ret = unsafe { sys::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) };
        if ret == 0 {
            Ok(id)
        } else {
            Err(Error::PortNotFound(name.to_owned()))
        }
    }

    /// Device name of a port (`rte_eth_dev_get_name_by_port`).
    pub fn port_name(&self, port_id: u16) -> Result<String> {
        let mut buf = [0 as c_char; sys::RTE_ETH_NAME_MAX_LEN as usize];
        // SAFETY: DPDK writes at most RTE_ETH_NAME_MAX_LEN bytes including
        // the NUL into `buf`, which has exactly that size.
        let ret = unsafe { sys::rte_eth_dev_get_name_by_port(port_id, buf.as_mut_ptr()) };
        Error::check("rte_eth_dev_get_name_by_port", ret)?;
        // SAFETY: on success `buf` holds a NUL-terminated string.
        Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned())
    }
}

/// How to configure a port. `Default`: 1 rx + 1 tx queue, 1024 descriptors
/// each, promiscuous, RSS over IP/UDP/TCP when there are several rx queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// Number of rx queues (>= 1).
    pub rx_queues: u16,
    /// Number of tx queues (>= 1).
    pub tx_queues: u16,
    /// Rx ring size per queue (adjusted to the device's limits).
    pub rx_descriptors: u16,
    /// Tx ring size per queue (adjusted to the device's limits).
    pub tx_descriptors: u16,
    /// Enable promiscuous mode after configuration.
    pub promiscuous: bool,
    /// Spread rx over queues by RSS when `rx_queues > 1` (hash types are
    /// masked by what the device supports).
    pub rss: bool,
    /// Enable `RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE` if supported (all tx mbufs
    /// from one pool, refcnt 1: true for tickwire's own tx).
    pub tx_fast_free: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            rx_queues: 1,
            tx_queues: 1,
            rx_descriptors: 1024,
            tx_descriptors: 1024,
            promiscuous: true,
            rss: true,
            tx_fast_free: false,
        }
    }
}

/// Basic port counters (`struct rte_eth_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Rx packets dropped by the hardware (rx ring full).
    pub imissed: u64,
    /// Receive errors.
    pub ierrors: u64,
    /// Transmit errors.
    pub oerrors: u64,
    /// Rx mbuf allocation failures.
    pub rx_nombuf: u64,
}

/// Link state (`rte_eth_link_get_nowait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    /// Link up.
    pub up: bool,
    /// Speed in Mb/s (0 if unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// A configured ethdev port. Dropping it stops (if started) and closes it
/// (for virtual devices, closing releases the port id for good).
///
/// At most one `Port` exists per port id at a time.
///
/// Queue handles ([`RxQueue`], [`TxQueue`]) borrow the port, so it can be
/// stopped only when no queue is in use.
pub struct Port<'e> {
    /// Released after `Drop::drop` closed the port (fields drop last).
    _claim: PortClaim,
    id: u16,
    socket: Option<u32>,
    started: bool,
    rx_taken: Box<[AtomicBool]>,
    tx_taken: Box<[AtomicBool]>,
    _eal: PhantomData<&'e Eal>,
}

impl<'e> Port<'e> {
    /// Configures `port_id` with `conf` and sets up its queues. Rx queue `q`
    /// takes mbufs from `pools[q]`, or from `pools[0]` if only one pool is
    /// given. Queues are placed on the port's NUMA socket. The port is not
    /// started; call [`Port::start`].
    pub fn configure(
        _eal: &'e Eal,
        port_id: u16,
        conf: &PortConfig,
        pools: &[Mempool<'e>],
    ) -> Result<Self> {
        if conf.rx_queues == 0 || conf.tx_queues == 0 {
            return Err(Error::InvalidArgument(
                "need at least one rx and one tx queue".into(),
            ));
        }
        if pools.len() != 1 && pools.len() != usize::from(conf.rx_queues) {
            return Err(Error::InvalidArgument(format!(
                "{} pools for {} rx queues (give 1 or one per queue)",
                pools.len(),
                conf.rx_queues
            )));
        }
        // SAFETY: plain query; returns 0 for an invalid port id.
        if unsafe { sys::rte_eth_dev_is_valid_port(port_id) } == 0 {
            return Err(Error::InvalidArgument(format!("no ethdev port {port_id}")));
        }
        let claim = PortClaim::new(port_id)?;

        let mut info = MaybeUninit::<sys::rte_eth_dev_info>::zeroed();
        // SAFETY: `info` is a writable rte_eth_dev_info; DPDK fills it.
        let ret = unsafe { sys::rte_eth_dev_info_get(port_id, info.as_mut_ptr()) };
        Error::check("rte_eth_dev_info_get", ret)?;
        // SAFETY: rte_eth_dev_info_get succeeded and initialised it (it is
        // also valid zeroed: integers and nullable pointers).
        let info = unsafe { info.assume_init() };
        if conf.rx_queues > info.max_rx_queues || conf.tx_queues > info.max_tx_queues {
            return Err(Error::InvalidArgument(format!(
                "port {port_id} supports at most {} rx / {} tx queues",
                info.max_rx_queues, info.max_tx_queues
            )));
        }

        let mut eth_conf = sys::rte_eth_conf::default();
        if conf.rss && conf.rx_queues > 1 {
            let hf = (u64::from(sys::RTE_ETH_RSS_IP)
                | u64::from(sys::RTE_ETH_RSS_UDP)
                | u64::from(sys::RTE_ETH_RSS_TCP))
                & info.flow_type_rss_offloads;
            if hf != 0 {
                eth_conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
                eth_conf.rx_adv_conf.rss_conf.rss_hf = hf;
            }
        }
        let fast_free = u64::from(sys::RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE);
        if conf.tx_fast_free && info.tx_offload_capa & fast_free != 0 {
            eth_conf.txmode.offloads |= fast_free;
        }
        // SAFETY: `eth_conf` is a valid, fully initialised configuration that
        // DPDK copies.
        let ret = unsafe {
            sys::rte_eth_dev_configure(port_id, conf.rx_queues, conf.tx_queues, &eth_conf)
        };
        Error::check("rte_eth_dev_configure", ret)?;

        let (mut nb_rxd, mut nb_txd) = (conf.rx_descriptors, conf.tx_descriptors);
        // SAFETY: both pointers are valid, writable u16s.
        let ret =
            unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &mut nb_rxd, &mut nb_txd) };
        Error::check("rte_eth_dev_adjust_nb_rx_tx_desc", ret)?;

        // SAFETY: plain query; -1 (SOCKET_ID_ANY) when unknown.
        let socket_raw = unsafe { sys::rte_eth_dev_socket_id(port_id) };
        let socket = u32::try_from(socket_raw).ok();
        let socket_arg = socket.unwrap_or(sys::SOCKET_ID_ANY as u32);

        let mut rxconf = info.default_rxconf;
        rxconf.offloads = eth_conf.rxmode.offloads;
        for q in 0..conf.rx_queues {
            let pool = pools.get(usize::from(q)).unwrap_or(&pools[0]);
            // SAFETY: the port is configured with `rx_queues` queues; `rxconf`
            // is valid and copied; the pool lives for 'e, i.e. at least as long
            // as this port (which borrows the same EAL and is closed on drop).
            let ret = unsafe {
                sys::rte_eth_rx_queue_setup(port_id, q, nb_rxd, socket_arg, &rxconf, pool.as_ptr())
            };
            Error::check("rte_eth_rx_queue_setup", ret)?;
        }
        let mut txconf = info.default_txconf;
        txconf.offloads = eth_conf.txmode.offloads;
        for q in 0..conf.tx_queues {
            // SAFETY: as above; `txconf` is valid and copied.
            let ret =
                unsafe { sys::rte_eth_tx_queue_setup(port_id, q, nb_txd, socket_arg, &txconf) };
            Error::check("rte_eth_tx_queue_setup", ret)?;
        }

        let port = Port {
            _claim: claim,
            id: port_id,
            socket,
            started: false,
            rx_taken: (0..conf.rx_queues)
                .map(|_| AtomicBool::new(false))
                .collect(),
            tx_taken: (0..conf.tx_queues)
                .map(|_| AtomicBool::new(false))
                .collect(),
            _eal: PhantomData,
        };
        if conf.promiscuous {
            port.set_promiscuous(true)?;
        }
        Ok(port)
    }

    /// Port id.
    #[inline]
    pub fn id(&self) -> u16 {
        self.id
    }

    /// NUMA socket of the device, if known.
    pub fn socket(&self) -> Option<u32> {
        self.socket
    }

    /// Number of rx queues.
    pub fn rx_queue_count(&self) -> u16 {
        self.rx_taken.len() as u16
    }

    /// Number of tx queues.
    pub fn tx_queue_count(&self) -> u16 {
        self.tx_taken.len() as u16
    }

    /// Starts the port (`rte_eth_dev_start`).
    pub fn start(&mut self) -> Result<()> {
        // SAFETY: the port is configured with all queues set up.
        let ret = unsafe { sys::rte_eth_dev_start(self.id) };
        Error::check("rte_eth_dev_start", ret)?;
        self.started = true;
        Ok(())
    }

    /// Stops the port (`rte_eth_dev_stop`). `&mut self` guarantees no queue
    /// handle is polling it.
    pub fn stop(&mut self) -> Result<()> {
        if !self.started {
            return Ok(());
        }
        // SAFETY: no RxQueue/TxQueue borrows the port (we hold &mut).
        let ret = unsafe { sys::rte_eth_dev_stop(self.id) };
        Error::check("rte_eth_dev_stop", ret)?;
        self.started = false;
        Ok(())
    }

    /// Whether [`Port::start`] succeeded and the port was not stopped since.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Turns promiscuous mode on or off.
    pub fn set_promiscuous(&self, on: bool) -> Result<()> {
        // SAFETY: control call on a valid port id.
        let ret = unsafe {
            if on {
                sys::rte_eth_promiscuous_enable(self.id)
            } else {
                sys::rte_eth_promiscuous_disable(self.id)
            }
        };
        // Some virtual devices do not implement it.
        if ret == -libc::ENOTSUP {
            return Ok(());
        }
        Error::check("rte_eth_promiscuous_enable/disable", ret)
    }

    /// Turns all-multicast mode on or off: the NIC then delivers every
    /// multicast frame whatever its group. `Ok(false)` when the device does
    /// not implement it.
    pub fn set_allmulticast(&self, on: bool) -> Result<bool> {
        // SAFETY: control call on a valid port id, no pointers.
        let ret = unsafe {
            if on {
                sys::rte_eth_allmulticast_enable(self.id)
            } else {
                sys::rte_eth_allmulticast_disable(self.id)
            }
        };
        if ret == -libc::ENOTSUP {
            return Ok(false);
        }
        Error::check("rte_eth_allmulticast_enable/disable", ret)?;
        Ok(true)
    }

    /// Replaces the NIC's multicast MAC filter with `macs` (an empty list
    /// clears it), so that frames to these group MACs are delivered without
    /// promiscuous or all-multicast mode. `Ok(false)` when the device has no
    /// such filter (then see [`Port::set_allmulticast`]).
    pub fn set_mc_addr_list(&self, macs: &[[u8; 6]]) -> Result<bool> {
        let mut list: Vec<sys::rte_ether_addr> = macs
            .iter()
            .map(|&addr_bytes| sys::rte_ether_addr { addr_bytes })
            .collect();
        let n = u32::try_from(list.len())
            .map_err(|_| Error::InvalidArgument("too many multicast addresses".into()))?;
        let ptr = if list.is_empty() {
            std::ptr::null_mut()
        } else {
            list.as_mut_ptr()
        };
        // SAFETY: `ptr` is null with n == 0 (which DPDK documents as
        // "flush the list") or points to `n` initialised rte_ether_addr that
        // live for the call; DPDK copies them and keeps no pointer.
        let ret = unsafe { sys::rte_eth_dev_set_mc_addr_list(self.id, ptr, n) };
        if ret == -libc::ENOTSUP {
            return Ok(false);
        }
        Error::check("rte_eth_dev_set_mc_addr_list", ret)?;
        Ok(true)
    }

    /// The port's MAC address.
    pub fn mac_address(&self) -> Result<[u8; 6]> {
        let mut mac = sys::rte_ether_addr::default();
        // SAFETY: `mac` is a writable rte_ether_addr.
        let ret = unsafe { sys::rte_eth_macaddr_get(self.id, &mut mac) };
        Error::check("rte_eth_macaddr_get", ret)?;
        Ok(mac.addr_bytes)
    }

    /// Basic counters (`rte_eth_stats_get`).
    pub fn stats(&self) -> Result<PortStats> {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: `s` is a writable rte_eth_stats.
        let ret = unsafe { sys::rte_eth_stats_get(self.id, &mut s) };
        Error::check("rte_eth_stats_get", ret)?;
        Ok(PortStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    /// Resets the counters (`rte_eth_stats_reset`).
    pub fn reset_stats(&self) -> Result<()> {
        // SAFETY: control call on a valid port id.
        let ret = unsafe { sys::rte_eth_stats_reset(self.id) };
        Error::check("rte_eth_stats_reset", ret)
    }

    /// Link state without waiting (`rte_eth_link_get_nowait`).
    pub fn link(&self) -> Result<LinkStatus> {
        let mut l = sys::rte_eth_link::default();
        // SAFETY: `l` is a writable rte_eth_link.
        let ret = unsafe { sys::rte_eth_link_get_nowait(self.id, &mut l) };
        Error::check("rte_eth_link_get_nowait", ret)?;
        Ok(LinkStatus {
            up: u32::from(l.link_status()) == sys::RTE_ETH_LINK_UP,
            speed_mbps: l.link_speed,
            full_duplex: u32::from(l.link_duplex()) == sys::RTE_ETH_LINK_FULL_DUPLEX,
        })
    }

    /// Exclusive handle to rx queue `queue`; [`Error::QueueBusy`] while
    /// another handle to it exists.
    pub fn rx_queue(&self, queue: u16) -> Result<RxQueue<'_, 'e>> {
        claim(&self.rx_taken, self.id, queue)?;
        Ok(RxQueue { port: self, queue })
    }

    /// Exclusive handle to tx queue `queue`; [`Error::QueueBusy`] while
    /// another handle to it exists.
    pub fn tx_queue(&self, queue: u16) -> Result<TxQueue<'_, 'e>> {
        claim(&self.tx_taken, self.id, queue)?;
        Ok(TxQueue { port: self, queue })
    }
}

fn claim(flags: &[AtomicBool], port: u16, queue: u16) -> Result<()> {
    let flag = flags.get(usize::from(queue)).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "port {port} has no queue {queue} (has {})",
            flags.len()
        ))
    })?;
    if flag.swap(true, Ordering::Acquire) {
        return Err(Error::QueueBusy { port, queue });
    }
    Ok(())
}

impl Drop for Port<'_> {
    fn drop(&mut self) {
        let _ = self.stop();
        // SAFETY: the port is stopped and no queue handle exists (they borrow
        // `self`); close releases its queues, returning any mbufs still in
        // the rings to their pools (alive for 'e).
        unsafe { sys::rte_eth_dev_close(self.id) };
    }
}

impl fmt::Debug for Port<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Port")
            .field("id", &self.id)
            .field("socket", &self.socket)
            .field("started", &self.started)
            .field("rx_queues", &self.rx_taken.len())
            .field("tx_queues", &self.tx_taken.len())
            .finish()
    }
}

/// Exclusive handle to one rx queue (DPDK's burst functions are not
/// thread-safe per queue). `Send`: move it to the lcore that polls it.
pub struct RxQueue<'p, 'e> {
    port: &'p Port<'e>,
    queue: u16,
}

impl<'e> RxQueue<'_, 'e> {
    /// Receives up to `burst.spare()` packets into the burst's free slots
    /// (`rte_eth_rx_burst`); returns how many arrived.
    #[inline]
    pub fn rx_burst<const N: usize>(&mut self, burst: &mut MbufBurst<'e, N>) -> usize {
        let spare = burst.spare() as u16; // N <= u16::MAX
        if spare == 0 {
            return 0;
        }
        // SAFETY: we hold the only handle to this (port, queue); the spare
        // area has room for `spare` pointers.
        let n =
            unsafe { sys::tw_eth_rx_burst(self.port.id, self.queue, burst.spare_mut_ptr(), spare) };
        let n = usize::from(n).min(usize::from(spare));
        // SAFETY: the driver wrote `n` mbufs into the spare slots and handed
        // over ownership; they come from this port's rx pools (alive for 'e).
        unsafe { burst.add_len(n) };
        n
    }

    /// Port id.
    #[inline]
    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    /// Queue id.
    #[inline]
    pub fn queue_id(&self) -> u16 {
        self.queue
    }
}

impl Drop for RxQueue<'_, '_> {
    fn drop(&mut self) {
        self.port.rx_taken[usize::from(self.queue)].store(false, Ordering::Release);
    }
}

impl fmt::Debug for RxQueue<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RxQueue")
            .field("port", &self.port.id)
            .field("queue", &self.queue)
            .finish()
    }
}

/// Exclusive handle to one tx queue. `Send`: move it to the lcore that uses it.
pub struct TxQueue<'p, 'e> {
    port: &'p Port<'e>,
    queue: u16,
}

impl<'e> TxQueue<'_, 'e> {
    /// Offers the whole burst to `rte_eth_tx_burst`. The first `n` mbufs
    /// (the return value) now belong to the driver and are removed from the
    /// burst; the unsent rest moves to the front of `burst`, still owned, to
    /// retry or drop. Nothing is ever freed twice.
    #[inline]
    pub fn tx_burst<const N: usize>(&mut self, burst: &mut MbufBurst<'e, N>) -> usize {
        let len = burst.len() as u16; // N <= u16::MAX
        if len == 0 {
            return 0;
        }
        // SAFETY: we hold the only handle to this (port, queue); the burst's
        // first `len` slots are owned mbufs in C array layout.
        let sent =
            unsafe { sys::tw_eth_tx_burst(self.port.id, self.queue, burst.raw_mut_ptr(), len) };
        let sent = usize::from(sent.min(len));
        // SAFETY: tx_burst took ownership of exactly the first `sent` mbufs.
        unsafe { burst.forget_front(sent) };
        sent
    }

    /// [`tx_burst`](Self::tx_burst), then frees whatever was not sent (one
    /// `rte_pktmbuf_free_bulk`). Returns how many were sent.
    #[inline]
    pub fn tx_burst_or_drop<const N: usize>(&mut self, burst: &mut MbufBurst<'e, N>) -> usize {
        let sent = self.tx_burst(burst);
        burst.clear();
        sent
    }

    /// Sends one mbuf; gives it back if the queue is full.
    #[inline]
    pub fn tx_one(&mut self, m: Mbuf<'e>) -> std::result::Result<(), Mbuf<'e>> {
        let mut p = m.into_raw().as_ptr();
        // SAFETY: exclusive (port, queue) handle; `p` is one owned mbuf.
        let sent = unsafe { sys::tw_eth_tx_burst(self.port.id, self.queue, &mut p, 1) };
        if sent == 1 {
            Ok(())
        } else {
            // SAFETY: the driver did not take it; we still own it, and `p`
            // is the same non-null pointer.
            Err(unsafe { Mbuf::from_raw(std::ptr::NonNull::new_unchecked(p)) })
        }
    }

    /// Port id.
    #[inline]
    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    /// Queue id.
    #[inline]
    pub fn queue_id(&self) -> u16 {
        self.queue
    }
}

impl Drop for TxQueue<'_, '_> {
    fn drop(&mut self) {
        self.port.tx_taken[usize::from(self.queue)].store(false, Ordering::Release);
    }
}

impl fmt::Debug for TxQueue<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxQueue")
            .field("port", &self.port.id)
            .field("queue", &self.queue)
            .finish()
    }
}
