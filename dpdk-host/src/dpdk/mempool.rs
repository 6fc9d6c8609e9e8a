//! Packet-mbuf pools.

use std::ffi::{c_int, CStr, CString};
use std::marker::PhantomData;
use std::ptr::NonNull;

use tickwire_sys as sys;

use super::eal::Eal;
use super::error::{Error, Result};
use super::mbuf::Mbuf;

/// Converts an optional NUMA socket to DPDK's `int` (`SOCKET_ID_ANY` = -1).
pub(crate) fn socket_arg(socket: Option<u32>) -> Result<c_int> {
    match socket {
        None => Ok(sys::SOCKET_ID_ANY),
        Some(s) => c_int::try_from(s)
            .map_err(|_| Error::InvalidArgument(format!("socket id {s} out of range"))),
    }
}

/// A handle to a DPDK packet-mbuf mempool (`rte_pktmbuf_pool_create`).
///
/// `Copy`: it is a pointer valid for the EAL's lifetime `'e`. Pools are not
/// freed when handles go away, because mbufs from them may still sit in
/// device rings or on other lcores; `rte_eal_cleanup` releases them. Use
/// the `unsafe` [`Mempool::free`] to return one earlier.
#[derive(Debug, Clone, Copy)]
pub struct Mempool<'e> {
    ptr: NonNull<sys::rte_mempool>,
    _eal: PhantomData<&'e Eal>,
}

// SAFETY: a pktmbuf pool created with the default ops ("ring_mp_mc") is
// multi-producer/multi-consumer safe; its per-lcore caches are indexed by
// the calling thread's lcore id, and non-EAL threads bypass the cache.
// The handle itself is a plain pointer.
unsafe impl Send for Mempool<'_> {}
// SAFETY: see `Send`; every `&self` operation is a thread-safe DPDK call.
unsafe impl Sync for Mempool<'_> {}

impl<'e> Mempool<'e> {
    /// Creates a pktmbuf pool of `n` mbufs (best: 2^k - 1) with a per-lcore
    /// cache of `cache_size` (<= 512, and `n` should be a multiple of it
    /// roughly), `data_room` bytes of buffer per mbuf including
    /// `RTE_PKTMBUF_HEADROOM` (use [`Mempool::DEFAULT_DATA_ROOM`]), on NUMA
    /// `socket` (`None` = any). `name` must be unique in the process.
    pub fn pktmbuf(
        eal: &'e Eal,
        name: &str,
        n: u32,
        cache_size: u32,
        data_room: u16,
        socket: Option<u32>,
    ) -> Result<Self> {
        Self::pktmbuf_with_priv(eal, name, n, cache_size, 0, data_room, socket)
    }

    /// Default mbuf data room: 2048 bytes of data + `RTE_PKTMBUF_HEADROOM`.
    pub const DEFAULT_DATA_ROOM: u16 = sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16;

    /// As [`Mempool::pktmbuf`], with `priv_size` bytes of application
    /// private area per mbuf (a multiple of 8).
    pub fn pktmbuf_with_priv(
        _eal: &'e Eal,
        name: &str,
        n: u32,
        cache_size: u32,
        priv_size: u16,
        data_room: u16,
        socket: Option<u32>,
    ) -> Result<Self> {
        let cname = CString::new(name)
            .map_err(|_| Error::InvalidArgument(format!("pool name contains NUL: {name:?}")))?;
        let socket = socket_arg(socket)?;
        // SAFETY: EAL is initialised (we hold `&Eal`); `cname` is a valid
        // NUL-terminated string for the call (DPDK copies the name). Invalid
        // sizes are reported through a NULL return and rte_errno.
        let ptr = unsafe {
            sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                n,
                cache_size,
                priv_size,
                data_room,
                socket,
            )
        };
        NonNull::new(ptr)
            .map(|ptr| Mempool {
                ptr,
                _eal: PhantomData,
            })
            .ok_or_else(|| Error::last("rte_pktmbuf_pool_create"))
    }

    /// Finds an existing pool by name (`rte_mempool_lookup`).
    pub fn lookup(_eal: &'e Eal, name: &str) -> Option<Self> {
        let cname = CString::new(name).ok()?;
        // SAFETY: EAL is initialised; `cname` is valid for the call.
        let ptr = unsafe { sys::rte_mempool_lookup(cname.as_ptr()) };
        NonNull::new(ptr).map(|ptr| Mempool {
            ptr,
            _eal: PhantomData,
        })
    }

    /// Allocates one mbuf (`rte_pktmbuf_alloc`), reset and empty.
    /// `None` when the pool is exhausted.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf<'e>> {
        // SAFETY: `self.ptr` is a live pktmbuf pool for 'e.
        let m = unsafe { sys::tw_pktmbuf_alloc(self.ptr.as_ptr()) };
        // SAFETY: a non-NULL result is a fresh mbuf with refcnt 1 that nobody
        // else references; it belongs to this pool, which lives for 'e.
        NonNull::new(m).map(|m| unsafe { Mbuf::from_raw(m) })
    }

    /// Number of free mbufs (including those in per-lcore caches).
    pub fn avail_count(&self) -> u32 {
        // SAFETY: `self.ptr` is a live mempool; the call only reads counters.
        unsafe { sys::rte_mempool_avail_count(self.ptr.as_ptr()) }
    }

    /// Number of mbufs currently allocated.
    pub fn in_use_count(&self) -> u32 {
        // SAFETY: as for `avail_count`.
        unsafe { sys::rte_mempool_in_use_count(self.ptr.as_ptr()) }
    }

    /// The pool's name.
    pub fn name(&self) -> String {
        // SAFETY: `name` is a NUL-terminated char array inside the live
        // mempool header, never modified after creation.
        unsafe { CStr::from_ptr(self.ptr.as_ref().name.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    /// The raw pool pointer (valid for `'e`).
    #[inline]
    pub fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.ptr.as_ptr()
    }

    /// Returns the pool's memory to DPDK (`rte_mempool_free`).
    ///
    /// # Safety
    ///
    /// No copy of this handle may be used afterwards, no mbuf from the pool
    /// may be alive (in Rust, in a device ring, or on another lcore), and no
    /// configured rx queue may still refer to it (stop/close its ports first).
    pub unsafe fn free(self) {
        // SAFETY: the caller guarantees nothing references the pool any more.
        unsafe { sys::rte_mempool_free(self.ptr.as_ptr()) }
    }
}
