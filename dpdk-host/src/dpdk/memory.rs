//! Owned, zeroed allocations from DPDK's (hugepage) heap.

use std::fmt;
use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};

use tickwire_sys as sys;
use zerocopy::FromZeros;

use super::eal::Eal;
use super::error::{Error, Result};
use super::mempool::socket_arg;

/// Minimum alignment of every allocation: one cache line, so tables never
/// share a line with a neighbour.
const MIN_ALIGN: usize = 64;

/// Like `Box<T>`/`Box<[T]>`, but the memory comes from
/// `rte_zmalloc_socket` (hugepage-backed, NUMA-local when asked) and is
/// returned with `rte_free` on drop. For big per-socket tables (order
/// books, symbol maps) touched by poll loops.
///
/// Contents start zeroed, so `T` must be [`FromZeros`].
pub struct DpdkBox<'e, T: ?Sized> {
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
    _eal: PhantomData<&'e Eal>,
}

// SAFETY: `DpdkBox` owns its `T` like `Box` does; rte_free may be called
// from any thread.
unsafe impl<T: ?Sized + Send> Send for DpdkBox<'_, T> {}
// SAFETY: shared access only hands out `&T`.
unsafe impl<T: ?Sized + Sync> Sync for DpdkBox<'_, T> {}

fn zmalloc(size: usize, align: usize, socket: Option<u32>) -> Result<NonNull<u8>> {
    let socket = socket_arg(socket)?;
    let align = u32::try_from(align.max(MIN_ALIGN))
        .map_err(|_| Error::InvalidArgument("alignment too large".into()))?;
    // SAFETY: EAL is initialised (callers hold `&Eal`); `align` is a power of
    // two (align_of values and 64 are); a NULL type name is allowed.
    let p = unsafe { sys::rte_zmalloc_socket(ptr::null(), size, align, socket) };
    NonNull::new(p.cast::<u8>()).ok_or(Error::Rte {
        op: "rte_zmalloc_socket",
        errno: libc::ENOMEM,
    })
}

impl<'e, T: FromZeros> DpdkBox<'e, T> {
    /// A zeroed `T` on NUMA `socket` (`None` = any).
    pub fn new_zeroed(_eal: &'e Eal, socket: Option<u32>) -> Result<Self> {
        let ptr = if size_of::<T>() == 0 {
            NonNull::dangling()
        } else {
            zmalloc(size_of::<T>(), align_of::<T>(), socket)?.cast::<T>()
        };
        Ok(DpdkBox {
            ptr,
            _owns: PhantomData,
            _eal: PhantomData,
        })
    }
}

impl<'e, T: FromZeros> DpdkBox<'e, [T]> {
    /// `len` zeroed `T`s on NUMA `socket` (`None` = any).
    pub fn new_zeroed_slice(_eal: &'e Eal, len: usize, socket: Option<u32>) -> Result<Self> {
        let bytes = size_of::<T>()
            .checked_mul(len)
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or_else(|| Error::InvalidArgument(format!("{len} elements overflow")))?;
        let data = if bytes == 0 {
            NonNull::<T>::dangling()
        } else {
            zmalloc(bytes, align_of::<T>(), socket)?.cast::<T>()
        };
        Ok(DpdkBox {
            ptr: NonNull::slice_from_raw_parts(data, len),
            _owns: PhantomData,
            _eal: PhantomData,
        })
    }
}

impl<T: ?Sized> Deref for DpdkBox<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `ptr` is a live, aligned, initialised (all-zero is valid for
        // `T: FromZeros`, and later writes go through `&mut T`) allocation
        // owned by `self`.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for DpdkBox<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the access exclusive.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T: ?Sized> Drop for DpdkBox<'_, T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` points to a live value we own (see `deref`).
        let size = std::mem::size_of_val(unsafe { self.ptr.as_ref() });
        // SAFETY: we own the value; it is dropped exactly once, here.
        unsafe { ptr::drop_in_place(self.ptr.as_ptr()) };
        if size != 0 {
            // SAFETY: non-zero-sized boxes were allocated by
            // rte_zmalloc_socket and are freed once; EAL is still alive ('e).
            unsafe { sys::rte_free(self.ptr.as_ptr().cast()) };
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for DpdkBox<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}
