//! `rte_ring`s of mbuf pointers: lock-free FIFOs that hand owned mbufs from
//! one lcore to another (workers to the control plane).
//!
//! The ring is always single-consumer; it is single- or multi-producer as
//! chosen at creation. Producer and consumer sides are exclusive handles
//! ([`RingProducer`], [`RingConsumer`]) claimed from the [`Ring`] like port
//! queues: one consumer, and one producer for a single-producer ring, so the
//! SP/SC fast paths can never be entered from two threads at once.

use std::ffi::CString;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use tickwire_sys as sys;

use super::eal::Eal;
use super::error::{Error, Result};
use super::mbuf::{Mbuf, MbufBurst};
use super::mempool::socket_arg;

/// Who may enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Producers {
    /// One producer handle at a time (`RING_F_SP_ENQ`).
    Single,
    /// Any number of producer handles, on any lcores.
    Multi,
}

/// An `rte_ring` carrying owned mbufs. Dropping it frees the mbufs still in
/// it, then the ring (`rte_ring_free`); the handles borrow it, so that cannot
/// happen while anyone enqueues or dequeues.
pub struct Ring<'e> {
    ptr: NonNull<sys::rte_ring>,
    producers: Producers,
    producer_handles: AtomicU32,
    consumer_taken: AtomicBool,
    _eal: PhantomData<&'e Eal>,
}

// SAFETY: the ring pointer is only dereferenced by DPDK through the claimed
// handles, whose exclusivity matches the ring's SP/MP and SC sync modes; the
// claim counters are atomics. Mbufs in the ring are owned by the ring and may
// be freed from any thread.
unsafe impl Send for Ring<'_> {}
// SAFETY: as for `Send`: every `&self` method is either a read-only query
// (`rte_ring_count`) or an atomic claim.
unsafe impl Sync for Ring<'_> {}

impl<'e> Ring<'e> {
    /// Creates a ring named `name` (unique in the process) with `size` slots
    /// (a power of two; it holds `size - 1` mbufs), on NUMA `socket`
    /// (`None` = any), single-consumer and `producers`-producer.
    pub fn new(
        _eal: &'e Eal,
        name: &str,
        size: u32,
        socket: Option<u32>,
        producers: Producers,
    ) -> Result<Self> {
        if !size.is_power_of_two() || size < 2 {
            return Err(Error::InvalidArgument(format!(
                "ring size {size} is not a power of two >= 2"
            )));
        }
        let cname = CString::new(name)
            .map_err(|_| Error::InvalidArgument(format!("ring name contains NUL: {name:?}")))?;
        let mut flags = sys::RING_F_SC_DEQ;
        if producers == Producers::Single {
            flags |= sys::RING_F_SP_ENQ;
        }
        // SAFETY: EAL is initialised (we hold `&Eal`); `cname` is valid for
        // the call (DPDK copies it). Failures return NULL with rte_errno set.
        let ptr = unsafe { sys::rte_ring_create(cname.as_ptr(), size, socket_arg(socket)?, flags) };
        let ptr = NonNull::new(ptr).ok_or_else(|| Error::last("rte_ring_create"))?;
        Ok(Ring {
            ptr,
            producers,
            producer_handles: AtomicU32::new(0),
            consumer_taken: AtomicBool::new(false),
            _eal: PhantomData,
        })
    }

    /// A producer handle. A single-producer ring gives out one at a time
    /// ([`Error::InvalidArgument`] while it exists).
    pub fn producer(&self) -> Result<RingProducer<'_, 'e>> {
        let before = self.producer_handles.fetch_add(1, Ordering::Acquire);
        if self.producers == Producers::Single && before != 0 {
            self.producer_handles.fetch_sub(1, Ordering::Release);
            return Err(Error::InvalidArgument(
                "single-producer ring: a producer handle already exists".into(),
            ));
        }
        Ok(RingProducer { ring: self })
    }

    /// The consumer handle; one at a time.
    pub fn consumer(&self) -> Result<RingConsumer<'_, 'e>> {
        if self.consumer_taken.swap(true, Ordering::Acquire) {
            return Err(Error::InvalidArgument(
                "single-consumer ring: the consumer handle already exists".into(),
            ));
        }
        Ok(RingConsumer { ring: self })
    }

    /// Mbufs in the ring now (a snapshot; others may be changing it).
    pub fn count(&self) -> usize {
        // SAFETY: the ring is live; rte_ring_count only reads its indices.
        unsafe { sys::tw_ring_count(self.ptr.as_ptr()) as usize }
    }

    /// Most mbufs the ring can hold.
    pub fn capacity(&self) -> usize {
        // SAFETY: as for `count`.
        unsafe { sys::tw_ring_capacity(self.ptr.as_ptr()) as usize }
    }
}

impl Drop for Ring<'_> {
    fn drop(&mut self) {
        // No handle exists (they borrow `self`): drain what is left.
        let mut rest: MbufBurst<'_, 64> = MbufBurst::new();
        loop {
            // SAFETY: `&mut self` makes us the only consumer; the spare area
            // of `rest` has room for `spare()` pointers.
            let n = unsafe {
                sys::tw_ring_dequeue_burst(
                    self.ptr.as_ptr(),
                    rest.spare_mut_ptr().cast(),
                    rest.spare() as u32,
                )
            } as usize;
            if n == 0 {
                break;
            }
            // SAFETY: the ring held owned mbufs (only `RingProducer` puts
            // any there); dequeuing moved `n` of them into the spare slots.
            unsafe { rest.add_len(n) };
            rest.clear();
        }
        // SAFETY: the ring is empty and nothing else refers to it.
        unsafe { sys::rte_ring_free(self.ptr.as_ptr()) }
    }
}

impl fmt::Debug for Ring<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("producers", &self.producers)
            .field("count", &self.count())
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// A handle that enqueues mbufs. `Send`: move it to the producing lcore.
pub struct RingProducer<'r, 'e> {
    ring: &'r Ring<'e>,
}

impl<'e> RingProducer<'_, 'e> {
    /// Moves as many mbufs as fit from the front of `burst` into the ring
    /// (`rte_ring_enqueue_burst`); what did not fit moves to the front of
    /// `burst`, still owned. Returns how many went in. Never blocks.
    #[inline]
    pub fn enqueue_burst<const N: usize>(&mut self, burst: &mut MbufBurst<'e, N>) -> usize {
        let len = burst.len() as u32;
        if len == 0 {
            return 0;
        }
        // SAFETY: this handle is a legal producer for the ring's sync mode
        // (claimed in `Ring::producer`); the first `len` slots of `burst`
        // are owned mbuf pointers in C array layout.
        let n = unsafe {
            sys::tw_ring_enqueue_burst(self.ring.ptr.as_ptr(), burst.as_raw_ptr().cast(), len)
        };
        let n = (n as usize).min(len as usize);
        // SAFETY: the ring now owns exactly the first `n` mbufs.
        unsafe { burst.forget_front(n) };
        n
    }

    /// Enqueues one mbuf; gives it back when the ring is full.
    #[inline]
    pub fn enqueue(&mut self, m: Mbuf<'e>) -> std::result::Result<(), Mbuf<'e>> {
        let mut one: MbufBurst<'e, 1> = MbufBurst::new();
        // A fresh burst of capacity 1 has room.
        let _ = one.push(m);
        self.enqueue_burst(&mut one);
        // Still in the burst means the ring was full.
        one.pop().map_or(Ok(()), Err)
    }
}

impl Drop for RingProducer<'_, '_> {
    fn drop(&mut self) {
        self.ring.producer_handles.fetch_sub(1, Ordering::Release);
    }
}

impl fmt::Debug for RingProducer<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingProducer").finish_non_exhaustive()
    }
}

/// The handle that dequeues mbufs. `Send`: move it to the consuming lcore.
pub struct RingConsumer<'r, 'e> {
    ring: &'r Ring<'e>,
}

impl<'e> RingConsumer<'_, 'e> {
    /// Moves up to `burst.spare()` mbufs from the ring into the burst's free
    /// slots (`rte_ring_dequeue_burst`); returns how many.
    #[inline]
    pub fn dequeue_burst<const N: usize>(&mut self, burst: &mut MbufBurst<'e, N>) -> usize {
        let spare = burst.spare() as u32;
        if spare == 0 {
            return 0;
        }
        // SAFETY: this is the ring's only consumer handle; the spare area
        // of `burst` has room for `spare` pointers.
        let n = unsafe {
            sys::tw_ring_dequeue_burst(self.ring.ptr.as_ptr(), burst.spare_mut_ptr().cast(), spare)
        };
        let n = (n as usize).min(spare as usize);
        // SAFETY: the ring only holds owned mbufs (put there by
        // `RingProducer`), whose pools live for 'e; dequeuing handed `n` of
        // them over.
        unsafe { burst.add_len(n) };
        n
    }
}

impl Drop for RingConsumer<'_, '_> {
    fn drop(&mut self) {
        self.ring.consumer_taken.store(false, Ordering::Release);
    }
}

impl fmt::Debug for RingConsumer<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingConsumer").finish_non_exhaustive()
    }
}
