//! Lcores: ids, sockets, and launching closures on worker lcores.
//!
//! [`Eal::launch`] runs a `'static` closure on a worker lcore;
//! [`Eal::scope`] runs closures that may borrow from the caller (ports,
//! queues, pools, tables) and waits for all of them before returning, like
//! [`std::thread::scope`]. Panics in the closures are caught at the FFI
//! boundary with `catch_unwind` and handed back by `join` (with
//! `panic = "abort"` they abort the process, as everywhere).
//!
//! Launching and joining must happen on the main lcore (the thread that
//! called [`Eal::init`]).

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_int, c_uint, c_void};
use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use tickwire_sys as sys;

use super::eal::Eal;
use super::error::{Error, Result};

/// The calling thread's lcore id (`rte_lcore_id`); `None` on non-EAL threads.
#[inline]
pub fn current() -> Option<u32> {
    // SAFETY: reads this thread's per-lcore variable (a C __thread), which
    // is LCORE_ID_ANY on threads EAL did not create or adopt.
    let id = unsafe { sys::tw_lcore_id() };
    (id != sys::LCORE_ID_ANY).then_some(id)
}

/// NUMA socket of the calling thread (`rte_socket_id`); `None` if unknown.
#[inline]
pub fn current_socket() -> Option<u32> {
    // SAFETY: reads per-thread state; SOCKET_ID_ANY off EAL threads.
    let s = unsafe { sys::tw_socket_id() };
    i32::try_from(s).ok().filter(|&s| s >= 0).map(|s| s as u32)
}

/// Iterator over enabled worker lcores (`RTE_LCORE_FOREACH_WORKER`).
#[derive(Debug)]
pub struct WorkerLcores<'e> {
    prev: c_uint,
    _eal: PhantomData<&'e Eal>,
}

impl Iterator for WorkerLcores<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        // SAFETY: EAL is initialised; rte_get_next_lcore only reads the lcore
        // table and returns RTE_MAX_LCORE at the end (-1 starts the walk).
        let next = unsafe { sys::rte_get_next_lcore(self.prev, 1, 0) };
        if next >= sys::RTE_MAX_LCORE {
            self.prev = sys::RTE_MAX_LCORE;
            return None;
        }
        self.prev = next;
        Some(next)
    }
}

type Slot<T> = Arc<Mutex<Option<std::thread::Result<T>>>>;

struct Packet<F, T> {
    f: F,
    slot: Slot<T>,
}

/// Runs on the worker lcore. Never unwinds into C.
unsafe extern "C" fn trampoline<F, T>(arg: *mut c_void) -> c_int
where
    F: FnOnce() -> T,
{
    let run = AssertUnwindSafe(|| {
        // SAFETY: `arg` is the `Box<Packet<F, T>>` leaked by `launch_raw` for
        // exactly this one call; we take it back once.
        let packet = unsafe { Box::from_raw(arg.cast::<Packet<F, T>>()) };
        let Packet { f, slot } = *packet;
        let result = catch_unwind(AssertUnwindSafe(f));
        let code = if result.is_ok() { 0 } else { -1 };
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        code
    });
    // Anything that still unwinds (a panic payload whose Drop panics, ...)
    // must not cross the C frame.
    catch_unwind(run).unwrap_or_else(|_| std::process::abort())
}

impl Eal {
    /// The main lcore's id (`rte_get_main_lcore`).
    pub fn main_lcore(&self) -> u32 {
        // SAFETY: EAL is initialised; read-only query.
        unsafe { sys::rte_get_main_lcore() }
    }

    /// Number of enabled lcores, main included (`rte_lcore_count`).
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: EAL is initialised; read-only query.
        unsafe { sys::rte_lcore_count() }
    }

    /// Enabled worker lcores (all but the main one), ascending.
    pub fn worker_lcores(&self) -> WorkerLcores<'_> {
        WorkerLcores {
            prev: c_uint::MAX, // rte_get_next_lcore(-1, ...) starts at 0
            _eal: PhantomData,
        }
    }

    /// Whether `lcore` is enabled in this EAL (`rte_lcore_is_enabled`).
    pub fn lcore_enabled(&self, lcore: u32) -> bool {
        // SAFETY: bounds-checked by DPDK (returns 0 for >= RTE_MAX_LCORE).
        unsafe { sys::rte_lcore_is_enabled(lcore) != 0 }
    }

    /// NUMA socket of an enabled lcore (`rte_lcore_to_socket_id`).
    pub fn lcore_socket(&self, lcore: u32) -> Option<u32> {
        if !self.lcore_enabled(lcore) {
            return None;
        }
        // SAFETY: `lcore < RTE_MAX_LCORE` (it is enabled), so the table
        // lookup is in bounds.
        Some(unsafe { sys::rte_lcore_to_socket_id(lcore) })
    }

    /// The CPU an enabled lcore's thread runs on (`rte_lcore_to_cpu_id`).
    pub fn lcore_cpu(&self, lcore: u32) -> Option<u32> {
        if !self.lcore_enabled(lcore) {
            return None;
        }
        // SAFETY: `lcore < RTE_MAX_LCORE` (it is enabled), so the table
        // lookup is in bounds.
        let cpu = unsafe { sys::rte_lcore_to_cpu_id(lcore as i32) };
        u32::try_from(cpu).ok()
    }

    fn check_launch(&self, lcore: u32) -> Result<()> {
        let main = self.main_lcore();
        if current() != Some(main) {
            return Err(Error::NotMainLcore);
        }
        if lcore == main || !self.lcore_enabled(lcore) {
            return Err(Error::InvalidArgument(format!(
                "lcore {lcore} is not an enabled worker lcore"
            )));
        }
        Ok(())
    }

    /// Launches `f` (boxed with its result slot) on `lcore`.
    ///
    /// # Safety
    ///
    /// Everything `f` borrows must stay valid until the lcore is waited for
    /// (`rte_eal_wait_lcore`).
    unsafe fn launch_raw<F, T>(&self, lcore: u32, f: F) -> Result<Slot<T>>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        self.check_launch(lcore)?;
        let slot: Slot<T> = Arc::new(Mutex::new(None));
        let arg = Box::into_raw(Box::new(Packet {
            f,
            slot: Arc::clone(&slot),
        }));
        // SAFETY: we are on the main lcore and `lcore` is an enabled worker.
        // `trampoline::<F, T>` matches `arg`'s type and reclaims it exactly
        // once; `F` and `T` are Send, so running/dropping them on the worker
        // is fine; the caller keeps `f`'s borrows alive until the wait.
        let ret =
            unsafe { sys::rte_eal_remote_launch(Some(trampoline::<F, T>), arg.cast(), lcore) };
        if ret != 0 {
            // SAFETY: launch failed (e.g. -EBUSY), so the worker never saw
            // `arg`; reclaim and drop it here.
            drop(unsafe { Box::from_raw(arg) });
            return Err(Error::from_ret("rte_eal_remote_launch", ret));
        }
        Ok(slot)
    }

    /// Runs `f` on worker `lcore` (`rte_eal_remote_launch`). Fails with
    /// `EBUSY` if that lcore is still running something. The `Eal` waits for
    /// every worker when dropped, so an unjoined launch is still finished
    /// before cleanup.
    pub fn launch<F, T>(&self, lcore: u32, f: F) -> Result<LcoreJoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // SAFETY: `f` and `T` are 'static: they borrow nothing that could end
        // before the wait.
        let slot = unsafe { self.launch_raw(lcore, f)? };
        Ok(LcoreJoinHandle {
            lcore,
            slot,
            _main_only: PhantomData,
        })
    }

    /// Runs `f` with a [`LcoreScope`] on which closures borrowing from the
    /// caller can be launched on worker lcores; waits for all of them before
    /// returning (also when `f` panics, after which the panic resumes).
    pub fn scope<'env, F, R>(&'env self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope LcoreScope<'scope, 'env>) -> R,
    {
        let scope = LcoreScope {
            eal: self,
            running: RefCell::new(Vec::new()),
            _scope: PhantomData,
            _env: PhantomData,
        };
        let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
        scope.wait_all();
        match result {
            Ok(r) => r,
            Err(payload) => resume_unwind(payload),
        }
    }
}

fn wait_lcore(lcore: u32) -> c_int {
    // SAFETY: called on the main lcore (join handles and scopes are !Send
    // and created there) for an lcore we launched.
    unsafe { sys::rte_eal_wait_lcore(lcore) }
}

fn take<T>(slot: &Slot<T>) -> std::thread::Result<T> {
    slot.lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("lcore returned without storing a result")
}

/// Handle to a closure launched by [`Eal::launch`].
pub struct LcoreJoinHandle<T> {
    lcore: u32,
    slot: Slot<T>,
    /// !Send: joining must happen on the main lcore.
    _main_only: PhantomData<*const ()>,
}

impl<T> LcoreJoinHandle<T> {
    /// The lcore it runs on.
    pub fn lcore(&self) -> u32 {
        self.lcore
    }

    /// Waits for the closure (`rte_eal_wait_lcore`, which spins) and returns
    /// its result, or the panic payload if it panicked.
    pub fn join(self) -> std::result::Result<T, Box<dyn Any + Send + 'static>> {
        wait_lcore(self.lcore);
        take(&self.slot)
    }
}

impl<T> fmt::Debug for LcoreJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LcoreJoinHandle")
            .field("lcore", &self.lcore)
            .finish()
    }
}

/// Scope from [`Eal::scope`]: closures launched on it may borrow anything
/// that outlives the scope.
pub struct LcoreScope<'scope, 'env: 'scope> {
    eal: &'env Eal,
    /// Lcores launched in this scope and not yet joined. (A `RefCell` is
    /// enough: the scope lives on the main lcore and is `!Sync`.)
    running: RefCell<Vec<u32>>,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope> LcoreScope<'scope, '_> {
    /// Runs `f` on worker `lcore`; `f` may borrow from outside the scope.
    pub fn launch<F, T>(&'scope self, lcore: u32, f: F) -> Result<ScopedLcoreJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        // SAFETY: the scope waits for every lcore launched on it before
        // `Eal::scope` returns (`wait_all`, also on panic), and `f`/`T` only
        // borrow data that outlives 'scope. A leaked handle does not skip the
        // wait, since the lcore stays in `running`.
        let slot = unsafe { self.eal.launch_raw(lcore, f)? };
        self.running.borrow_mut().push(lcore);
        Ok(ScopedLcoreJoinHandle {
            running: &self.running,
            lcore,
            slot,
        })
    }

    fn wait_all(&self) {
        for lcore in self.running.take() {
            wait_lcore(lcore);
        }
    }
}

impl fmt::Debug for LcoreScope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LcoreScope")
            .field("running", &self.running.borrow())
            .finish()
    }
}

/// Handle to a closure launched by [`LcoreScope::launch`].
pub struct ScopedLcoreJoinHandle<'scope, T> {
    running: &'scope RefCell<Vec<u32>>,
    lcore: u32,
    slot: Slot<T>,
}

impl<T> ScopedLcoreJoinHandle<'_, T> {
    /// The lcore it runs on.
    pub fn lcore(&self) -> u32 {
        self.lcore
    }

    /// Waits for the closure and returns its result or panic payload.
    pub fn join(self) -> std::result::Result<T, Box<dyn Any + Send + 'static>> {
        wait_lcore(self.lcore);
        let mut running = self.running.borrow_mut();
        if let Some(i) = running.iter().position(|&l| l == self.lcore) {
            running.swap_remove(i);
        }
        drop(running);
        take(&self.slot)
    }
}

impl<T> fmt::Debug for ScopedLcoreJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedLcoreJoinHandle")
            .field("lcore", &self.lcore)
            .finish()
    }
}
