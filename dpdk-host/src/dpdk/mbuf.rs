//! Owned mbufs and fixed-capacity bursts of them.

use std::fmt;
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};
use std::slice;

use tickwire_sys as sys;

use super::eal::Eal;
use super::error::{Error, Result};
use super::mempool::Mempool;

/// One owned packet mbuf; freed (`rte_pktmbuf_free`) on drop.
///
/// The data accessors cover the first segment (`data_len` bytes at
/// `buf_addr + data_off`), which is the whole packet for the single-segment
/// mbufs tickwire receives (no scatter rx) and builds.
///
/// `repr(transparent)` over the `rte_mbuf` pointer, so a `[Mbuf]` has the
/// layout of a C `struct rte_mbuf *[]`.
#[repr(transparent)]
pub struct Mbuf<'e> {
    ptr: NonNull<sys::rte_mbuf>,
    _eal: PhantomData<&'e Eal>,
}

// SAFETY: an `Mbuf` is the sole owner of its mbuf; DPDK mbufs may be read,
// written and freed from any thread (mempool put is MP-safe).
unsafe impl Send for Mbuf<'_> {}
// SAFETY: `&Mbuf` only allows reading the mbuf (header fields and data), and
// nothing else writes it while the shared borrow exists.
unsafe impl Sync for Mbuf<'_> {}

impl<'e> Mbuf<'e> {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid, initialised packet mbuf from a pool that lives
    /// at least for `'e`, and the caller must own it exclusively: it holds the
    /// (only) reference that the returned `Mbuf` will release, and nothing
    /// else reads or writes the mbuf or its data while the `Mbuf` lives.
    #[inline]
    pub unsafe fn from_raw(ptr: NonNull<sys::rte_mbuf>) -> Self {
        Mbuf {
            ptr,
            _eal: PhantomData,
        }
    }

    /// Gives up ownership without freeing; see [`Mbuf::from_raw`].
    #[inline]
    pub fn into_raw(self) -> NonNull<sys::rte_mbuf> {
        ManuallyDrop::new(self).ptr
    }

    /// The raw mbuf pointer (still owned by `self`).
    #[inline]
    pub fn as_ptr(&self) -> *mut sys::rte_mbuf {
        self.ptr.as_ptr()
    }

    #[inline]
    fn raw(&self) -> &sys::rte_mbuf {
        // SAFETY: `ptr` is a valid mbuf that we own (from_raw's contract);
        // the shared borrow of `self` keeps it alive and unmodified.
        unsafe { self.ptr.as_ref() }
    }

    /// Bytes in this (first) segment.
    #[inline]
    pub fn data_len(&self) -> usize {
        usize::from(self.raw().data_len)
    }

    /// Total packet length over all segments.
    #[inline]
    pub fn pkt_len(&self) -> u32 {
        self.raw().pkt_len
    }

    /// Number of segments.
    #[inline]
    pub fn nb_segs(&self) -> u16 {
        self.raw().nb_segs
    }

    /// Input port (set by rx).
    #[inline]
    pub fn port(&self) -> u16 {
        self.raw().port
    }

    /// Offload flags (`RTE_MBUF_F_*`).
    #[inline]
    pub fn ol_flags(&self) -> u64 {
        self.raw().ol_flags
    }

    /// The RSS hash, if the driver set one (`RTE_MBUF_F_RX_RSS_HASH`).
    #[inline]
    pub fn rss_hash(&self) -> Option<u32> {
        let m = self.raw();
        if m.ol_flags & u64::from(sys::RTE_MBUF_F_RX_RSS_HASH) != 0 {
            // SAFETY: the flag says the driver wrote `hash.rss`; all union
            // members are plain integers, so any bit pattern is valid.
            // (`__bindgen_anon_2` is C's anonymous `union { ... } hash`.)
            Some(unsafe { m.__bindgen_anon_2.hash.rss })
        } else {
            None
        }
    }

    /// Packet type (`RTE_PTYPE_*`) as classified by the driver.
    #[inline]
    pub fn packet_type(&self) -> u32 {
        // SAFETY: all members of this anonymous union are plain integers
        // covering the same 4 bytes, so reading `packet_type` is always valid.
        unsafe { self.raw().__bindgen_anon_1.packet_type }
    }

    /// Free space before the data.
    #[inline]
    pub fn headroom(&self) -> usize {
        usize::from(self.raw().data_off)
    }

    /// Free space after the data in this segment.
    #[inline]
    pub fn tailroom(&self) -> usize {
        let m = self.raw();
        usize::from(m.buf_len) - usize::from(m.data_off) - usize::from(m.data_len)
    }

    #[inline]
    fn data_ptr(&self) -> *mut u8 {
        let m = self.raw();
        // SAFETY: for a valid mbuf, `buf_addr + data_off` is inside the
        // mbuf's buffer (data_off <= buf_len), as rte_pktmbuf_mtod computes.
        unsafe { m.buf_addr.cast::<u8>().add(usize::from(m.data_off)) }
    }

    /// The packet bytes of this segment (`rte_pktmbuf_mtod`, `data_len`).
    #[inline]
    pub fn data(&self) -> &[u8] {
        // SAFETY: `data_len` bytes from `mtod` lie within the mbuf buffer and
        // were written by the driver (rx) or by us (append), i.e. they are
        // initialised; `&self` keeps the mbuf alive and unwritten.
        unsafe { slice::from_raw_parts(self.data_ptr(), self.data_len()) }
    }

    /// Mutable packet bytes of this segment.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`; `&mut self` and exclusive ownership (from_raw's
        // contract) mean nobody else accesses the buffer.
        unsafe { slice::from_raw_parts_mut(self.data_ptr(), self.data_len()) }
    }

    /// Grows the packet by `len` bytes at the tail (`rte_pktmbuf_append`) and
    /// returns the new, uninitialised bytes; `None` without enough tailroom.
    #[inline]
    pub fn append_uninit(&mut self, len: u16) -> Option<&mut [MaybeUninit<u8>]> {
        // SAFETY: we own the mbuf exclusively (`&mut self`); append only
        // updates its lengths and returns a pointer into its buffer, or NULL.
        let p = unsafe { sys::tw_pktmbuf_append(self.ptr.as_ptr(), len) };
        let p = NonNull::new(p)?;
        // SAFETY: append returned `len` bytes inside the buffer, exclusively
        // ours for the borrow; MaybeUninit<u8> needs no initialisation.
        Some(unsafe { slice::from_raw_parts_mut(p.as_ptr().cast(), usize::from(len)) })
    }

    /// The free bytes after the data, to write into before committing them
    /// with [`Mbuf::commit_tail`]. Their contents are unspecified (earlier
    /// packet data or zeros), never uninitialised memory.
    #[inline]
    pub fn tailroom_mut(&mut self) -> &mut [u8] {
        let len = self.tailroom();
        // SAFETY: `data_ptr() + data_len .. + tailroom` lies inside the mbuf's
        // buffer (buf_len bounds it). The buffer is mempool memory that DPDK
        // obtained zero-filled from the kernel (hugetlbfs or anonymous mmap)
        // and that only drivers and this code have written since, so every
        // byte holds a value. `&mut self` gives exclusive access.
        unsafe { slice::from_raw_parts_mut(self.data_ptr().add(self.data_len()), len) }
    }

    /// Makes the first `len` bytes of the tailroom part of the packet (after
    /// writing them through [`Mbuf::tailroom_mut`]); false without room.
    #[inline]
    #[must_use]
    pub fn commit_tail(&mut self, len: u16) -> bool {
        self.append_uninit(len).is_some()
    }

    /// Grows the packet by `len` zeroed bytes and returns them.
    #[inline]
    pub fn append(&mut self, len: u16) -> Option<&mut [u8]> {
        let bytes = self.append_uninit(len)?;
        for b in bytes.iter_mut() {
            b.write(0);
        }
        // SAFETY: every byte was just initialised.
        Some(unsafe { &mut *(ptr::from_mut(bytes) as *mut [u8]) })
    }

    /// Appends a copy of `bytes`; false (nothing appended) without enough
    /// tailroom.
    #[inline]
    #[must_use]
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> bool {
        let Ok(len) = u16::try_from(bytes.len()) else {
            return false;
        };
        match self.append_uninit(len) {
            Some(dst) => {
                // SAFETY: `dst` has exactly `bytes.len()` writable bytes in the
                // mbuf buffer, which cannot overlap the borrowed `bytes` slice
                // since we hold `&mut self` on the mbuf.
                unsafe {
                    ptr::copy_nonoverlapping(bytes.as_ptr(), dst.as_mut_ptr().cast(), bytes.len())
                };
                true
            }
            None => false,
        }
    }

    /// Removes `len` bytes from the tail (`rte_pktmbuf_trim`); false if the
    /// last segment is shorter.
    #[inline]
    #[must_use]
    pub fn trim(&mut self, len: u16) -> bool {
        // SAFETY: exclusive ownership; trim only adjusts lengths.
        unsafe { sys::tw_pktmbuf_trim(self.ptr.as_ptr(), len) == 0 }
    }

    /// Removes `len` bytes from the front (`rte_pktmbuf_adj`); false if the
    /// first segment is shorter.
    #[inline]
    #[must_use]
    pub fn adj(&mut self, len: u16) -> bool {
        if len > self.raw().data_len {
            return false;
        }
        // SAFETY: exclusive ownership (`&mut self`); this is rte_pktmbuf_adj
        // for len <= data_len, which only moves the data start forward within
        // the buffer.
        unsafe {
            let m = self.ptr.as_mut();
            m.data_off += len;
            m.data_len -= len;
            m.pkt_len -= u32::from(len);
        }
        true
    }

    /// Empties the mbuf for reuse (`rte_pktmbuf_reset`).
    #[inline]
    pub fn reset(&mut self) {
        // SAFETY: exclusive ownership; reset rewrites header fields only.
        unsafe { sys::tw_pktmbuf_reset(self.ptr.as_ptr()) }
    }
}

impl Drop for Mbuf<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own this mbuf (and its whole chain); it is released once.
        unsafe { sys::tw_pktmbuf_free(self.ptr.as_ptr()) }
    }
}

impl fmt::Debug for Mbuf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mbuf")
            .field("ptr", &self.ptr)
            .field("data_len", &self.data_len())
            .field("pkt_len", &self.pkt_len())
            .field("port", &self.port())
            .finish()
    }
}

/// A fixed-capacity, inline array of up to `N` owned mbufs, laid out as the
/// `struct rte_mbuf *[N]` that rx/tx bursts take. No heap allocation.
///
/// Derefs to `[Mbuf]`. Dropping or [`clear`](MbufBurst::clear)ing it frees
/// what it still holds with one `rte_pktmbuf_free_bulk`.
pub struct MbufBurst<'e, const N: usize> {
    len: usize,
    bufs: [MaybeUninit<Mbuf<'e>>; N],
}

impl<'e, const N: usize> MbufBurst<'e, N> {
    const CAPACITY_OK: () = assert!(
        N > 0 && N <= u16::MAX as usize,
        "burst size must be 1..=65535"
    );

    /// An empty burst.
    #[inline]
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CAPACITY_OK;
        MbufBurst {
            len: 0,
            bufs: [const { MaybeUninit::uninit() }; N],
        }
    }

    /// Number of mbufs held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `N`.
    #[inline]
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Free slots (`N - len`).
    #[inline]
    pub fn spare(&self) -> usize {
        N - self.len
    }

    /// Adds an mbuf at the end, or gives it back when full.
    #[inline]
    pub fn push(&mut self, m: Mbuf<'e>) -> std::result::Result<(), Mbuf<'e>> {
        if self.len == N {
            return Err(m);
        }
        self.bufs[self.len].write(m);
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the last mbuf.
    #[inline]
    pub fn pop(&mut self) -> Option<Mbuf<'e>> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: slot `len` (the old last) was initialised and, with `len`
        // decremented, is no longer counted, so ownership moves out once.
        Some(unsafe { self.bufs[self.len].assume_init_read() })
    }

    /// Takes the mbuf at `index` out of the burst, shifting the ones after it
    /// down (order kept, like `Vec::remove`); `None` past the end. The burst
    /// no longer owns it, so a later bulk free cannot free it twice.
    #[inline]
    pub fn remove(&mut self, index: usize) -> Option<Mbuf<'e>> {
        if index >= self.len {
            return None;
        }
        // SAFETY: slot `index` is initialised; it is read out once and then
        // overwritten by the shift below (or no longer counted).
        let m = unsafe { self.bufs[index].assume_init_read() };
        let base = self.bufs.as_mut_ptr();
        // SAFETY: source `[index + 1, len)` and destination `[index, len - 1)`
        // lie within the array; `ptr::copy` allows the overlap. The slot at
        // `len - 1` is no longer counted afterwards.
        unsafe { ptr::copy(base.add(index + 1), base.add(index), self.len - index - 1) };
        self.len -= 1;
        Some(m)
    }

    /// Frees every mbuf held (one `rte_pktmbuf_free_bulk`).
    #[inline]
    pub fn clear(&mut self) {
        let n = self.len;
        if n == 0 {
            return;
        }
        self.len = 0;
        // SAFETY: the first `n` slots are owned mbufs laid out as
        // `struct rte_mbuf *[n]` (Mbuf is repr(transparent) over the
        // pointer); `len` is already 0, so they are released exactly once.
        unsafe { sys::tw_pktmbuf_free_bulk(self.raw_mut_ptr(), n as u32) }
    }

    /// Keeps only the mbufs for which `keep` returns true, freeing the rest.
    /// (If `keep` panics, the mbufs not yet visited are leaked, not freed
    /// twice.)
    pub fn retain(&mut self, mut keep: impl FnMut(&Mbuf<'e>) -> bool) {
        let n = self.len;
        self.len = 0;
        let mut kept = 0;
        for i in 0..n {
            // SAFETY: slots < n are initialised and, with `len` = 0, owned by
            // this loop alone; each is read exactly once.
            let m = unsafe { self.bufs[i].assume_init_read() };
            if keep(&m) {
                self.bufs[kept].write(m);
                kept += 1;
                self.len = kept;
            } else {
                drop(m);
            }
        }
    }

    /// Removes all mbufs, yielding them by value; any not consumed are
    /// bulk-freed when the iterator is dropped.
    #[inline]
    pub fn drain(&mut self) -> Drain<'_, 'e, N> {
        let end = self.len;
        self.len = 0;
        Drain {
            burst: self,
            next: 0,
            end,
        }
    }

    /// Allocates `n` mbufs from `pool` into the spare slots, all or nothing
    /// (`rte_pktmbuf_alloc_bulk`). Errors: `ENOSPC` if `n > spare()`,
    /// `ENOENT` if the pool has fewer than `n` free (nothing allocated).
    #[inline]
    pub fn alloc_from(&mut self, pool: &Mempool<'e>, n: usize) -> Result<()> {
        if n > self.spare() {
            return Err(Error::Rte {
                op: "rte_pktmbuf_alloc_bulk",
                errno: libc::ENOSPC,
            });
        }
        // SAFETY: the spare area has room for `n` pointers; on success DPDK
        // wrote `n` fresh, exclusively owned mbufs from `pool` (alive for 'e)
        // there, on failure nothing.
        let ret =
            unsafe { sys::tw_pktmbuf_alloc_bulk(pool.as_ptr(), self.spare_mut_ptr(), n as u32) };
        if ret != 0 {
            return Err(Error::from_ret("rte_pktmbuf_alloc_bulk", ret));
        }
        self.len += n;
        Ok(())
    }

    /// The held mbufs as a C array (`struct rte_mbuf **`), still owned.
    #[inline]
    pub fn as_raw_ptr(&self) -> *const *mut sys::rte_mbuf {
        self.bufs.as_ptr().cast()
    }

    #[inline]
    pub(crate) fn raw_mut_ptr(&mut self) -> *mut *mut sys::rte_mbuf {
        self.bufs.as_mut_ptr().cast()
    }

    /// Pointer to the first free slot; `spare()` pointers fit there.
    #[inline]
    pub(crate) fn spare_mut_ptr(&mut self) -> *mut *mut sys::rte_mbuf {
        // `len <= N`, so this is in bounds or one past the end.
        self.bufs[self.len..].as_mut_ptr().cast()
    }

    /// Marks `n` more slots (written through [`Self::spare_mut_ptr`]) as held.
    ///
    /// # Safety
    ///
    /// `n <= spare()` and the `n` slots after the current length hold mbufs
    /// that this burst now owns exclusively (see [`Mbuf::from_raw`]).
    #[inline]
    pub(crate) unsafe fn add_len(&mut self, n: usize) {
        debug_assert!(n <= self.spare());
        self.len += n;
    }

    /// Forgets the first `n` mbufs (the driver took them) and moves the
    /// remaining ones to the front.
    ///
    /// # Safety
    ///
    /// `n <= len()`, and ownership of the first `n` mbufs has passed
    /// elsewhere (e.g. `rte_eth_tx_burst` accepted them).
    #[inline]
    pub(crate) unsafe fn forget_front(&mut self, n: usize) {
        debug_assert!(n <= self.len);
        let rest = self.len - n;
        if n != 0 && rest != 0 {
            let base = self.bufs.as_mut_ptr();
            // SAFETY: source `[n, len)` and destination `[0, rest)` are within
            // the array; `ptr::copy` allows the overlap. The moved-from slots
            // past `rest` are no longer counted.
            unsafe { ptr::copy(base.add(n), base, rest) };
        }
        self.len = rest;
    }
}

impl<const N: usize> Default for MbufBurst<'_, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'e, const N: usize> Deref for MbufBurst<'e, N> {
    type Target = [Mbuf<'e>];

    #[inline]
    fn deref(&self) -> &[Mbuf<'e>] {
        // SAFETY: the first `len` slots are initialised `Mbuf`s;
        // MaybeUninit<T> has T's layout.
        unsafe { slice::from_raw_parts(self.bufs.as_ptr().cast(), self.len) }
    }
}

impl<'e, const N: usize> DerefMut for MbufBurst<'e, N> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [Mbuf<'e>] {
        // SAFETY: as in `deref`. Through `&mut [Mbuf]` callers can only swap
        // owned values in and out, which keeps every slot initialised.
        unsafe { slice::from_raw_parts_mut(self.bufs.as_mut_ptr().cast(), self.len) }
    }
}

impl<const N: usize> Drop for MbufBurst<'_, N> {
    fn drop(&mut self) {
        self.clear();
    }
}

impl<const N: usize> fmt::Debug for MbufBurst<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MbufBurst")
            .field("len", &self.len)
            .field("capacity", &N)
            .finish()
    }
}

/// By-value iterator from [`MbufBurst::drain`].
pub struct Drain<'b, 'e, const N: usize> {
    burst: &'b mut MbufBurst<'e, N>,
    next: usize,
    end: usize,
}

impl<'e, const N: usize> Iterator for Drain<'_, 'e, N> {
    type Item = Mbuf<'e>;

    #[inline]
    fn next(&mut self) -> Option<Mbuf<'e>> {
        if self.next == self.end {
            return None;
        }
        let i = self.next;
        self.next += 1;
        // SAFETY: slots in [next, end) are initialised and owned by the
        // drain (the burst's len is 0); each is read once.
        Some(unsafe { self.burst.bufs[i].assume_init_read() })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl<const N: usize> ExactSizeIterator for Drain<'_, '_, N> {}

impl<const N: usize> Drop for Drain<'_, '_, N> {
    fn drop(&mut self) {
        let rest = self.end - self.next;
        if rest != 0 {
            // SAFETY: slots [next, end) are still owned, unread mbufs; freed once.
            unsafe {
                sys::tw_pktmbuf_free_bulk(
                    self.burst.bufs[self.next..].as_mut_ptr().cast(),
                    rest as u32,
                )
            }
        }
    }
}

impl<const N: usize> fmt::Debug for Drain<'_, '_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain")
            .field("remaining", &(self.end - self.next))
            .finish()
    }
}
