//! Safe wrappers over DPDK 22.11 (`tickwire-sys`).
//!
//! Ownership model, in one place:
//!
//! * [`Eal`] is the process-wide EAL (one `rte_eal_init` per process). Every
//!   other handle borrows it for `'e`, so nothing DPDK-backed can outlive
//!   `rte_eal_cleanup`, which runs when the `Eal` is dropped.
//! * [`Mempool`] is a `Copy` handle; pools are never freed implicitly (mbufs
//!   may sit in NIC rings or on other lcores). They are released by
//!   `rte_eal_cleanup`.
//! * [`Mbuf`] owns one mbuf and frees it on drop; [`MbufBurst`] owns up to
//!   `N` and bulk-frees whatever it still holds on drop. A tx burst removes
//!   exactly the mbufs the driver accepted, so nothing is freed twice.
//! * [`Port`] configures/starts an ethdev port and stops/closes it on drop;
//!   its [`RxQueue`]/[`TxQueue`] handles are exclusive (one per queue at a
//!   time), which is DPDK's threading rule for the burst functions.
//! * [`Ring`] is an `rte_ring` of owned mbufs (single consumer, single or
//!   multi producer); its [`RingProducer`]/[`RingConsumer`] handles are
//!   exclusive where the ring's sync mode needs them to be. Enqueued mbufs
//!   belong to the ring until dequeued; dropping the ring frees them.
//! * Worker lcores run closures through [`Eal::launch`] (`'static`) or
//!   [`Eal::scope`] (may borrow ports, pools, ...), with panics caught at the
//!   FFI boundary.
//!
//! Per-packet paths ([`RxQueue::rx_burst`], [`TxQueue::tx_burst`],
//! [`MbufBurst::clear`], [`Mbuf::data`]) neither allocate, lock nor make
//! syscalls.

mod eal;
mod error;
pub mod lcore;
mod mbuf;
mod memory;
mod mempool;
mod port;
mod ring;
pub mod signal;

pub use eal::Eal;
pub use error::{Error, Result};
pub use lcore::{LcoreJoinHandle, LcoreScope, ScopedLcoreJoinHandle};
pub use mbuf::{Drain, Mbuf, MbufBurst};
pub use memory::DpdkBox;
pub use mempool::Mempool;
pub use port::{LinkStatus, Port, PortConfig, PortIds, PortStats, RxQueue, TxQueue};
pub use ring::{Producers, Ring, RingConsumer, RingProducer};

/// Raw bindings, for what the safe layer does not cover yet.
pub use tickwire_sys as sys;

/// TSC cycles now (`rte_rdtsc`).
#[inline]
pub fn rdtsc() -> u64 {
    // Inline on x86_64 (the shim is a call the optimiser cannot see
    // through); the same instruction rte_rdtsc executes.
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: rdtsc only reads the time-stamp counter; no memory access.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: rte_rdtsc only reads the cycle counter; no memory access.
        unsafe { sys::tw_rdtsc() }
    }
}

/// Prefetch the cache line at `p` into all cache levels (`rte_prefetch0`).
/// A hint only: any address is allowed, nothing is dereferenced.
#[inline]
pub fn prefetch0<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: prefetcht0 never faults and does not access memory
        // architecturally; any pointer value is acceptable.
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: as above; rte_prefetch0 is the same hint.
        unsafe { sys::tw_prefetch0(p.cast()) }
    }
}
