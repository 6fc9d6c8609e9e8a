//! EAL initialisation and cleanup.

use std::ffi::{c_char, c_int, CString};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};

use tickwire_sys as sys;

use super::error::{Error, Result};

/// Set by the first `Eal::init` attempt; DPDK allows only one per process.
static INIT_ATTEMPTED: AtomicBool = AtomicBool::new(false);

/// The initialised DPDK Environment Abstraction Layer.
///
/// Created once per process by [`Eal::init`]. Dropping it waits for all
/// worker lcores to finish ([`rte_eal_mp_wait_lcore`]) and then calls
/// `rte_eal_cleanup`; every DPDK-backed handle (`Port`, `Mempool`, `Mbuf`,
/// `DpdkBox`, ...) borrows the `Eal`, so none can outlive it.
///
/// `Eal` is `Sync` (its `&self` methods are queries, and the ones that must
/// run on the main lcore check it at run time) but not `Send`: it is
/// cleaned up on the thread that initialised it, the main lcore.
///
/// [`rte_eal_mp_wait_lcore`]: sys::rte_eal_mp_wait_lcore
#[derive(Debug)]
pub struct Eal {
    /// The argv handed to `rte_eal_init`, kept alive until cleanup in case
    /// DPDK kept pointers into it.
    _args: Vec<CString>,
    _argv: Vec<*mut c_char>,
    /// `!Send`: cleanup must happen on the main lcore.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: the raw pointers in `Eal` are never dereferenced from Rust; they
// only keep DPDK's argv alive. All `&self` methods call DPDK query functions
// that are safe from any thread after init, or check that they run on the
// main lcore first (see `lcore.rs`).
unsafe impl Sync for Eal {}

impl Eal {
    /// Initialises DPDK with `args`, following the DPDK convention
    /// `tickwire [EAL args] -- [app args]`: `args[0]` is the program name.
    ///
    /// Returns the `Eal` and the number of arguments `rte_eal_init`
    /// consumed (not counting `args[0]`, counting the `--` separator if
    /// present): the application's own arguments are
    /// [`Eal::app_args(args, consumed)`](Eal::app_args).
    ///
    /// The calling thread becomes the main lcore (its CPU affinity is set
    /// by EAL). Only one call per process is allowed, even after a failure
    /// or after the `Eal` was dropped: later calls return
    /// [`Error::AlreadyInitialized`].
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<(Eal, usize)> {
        let cargs = args
            .iter()
            .map(|a| {
                CString::new(a.as_ref()).map_err(|_| {
                    Error::InvalidArgument(format!("EAL argument contains NUL: {:?}", a.as_ref()))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if cargs.is_empty() {
            return Err(Error::InvalidArgument(
                "EAL args need at least the program name".into(),
            ));
        }
        let argc = c_int::try_from(cargs.len())
            .map_err(|_| Error::InvalidArgument("too many EAL arguments".into()))?;
        if INIT_ATTEMPTED.swap(true, Ordering::SeqCst) {
            return Err(Error::AlreadyInitialized);
        }
        // C argv: argc pointers then NULL. getopt permutes the pointer array
        // (not the strings), so it is ours and mutable.
        let mut argv: Vec<*mut c_char> = cargs.iter().map(|c| c.as_ptr().cast_mut()).collect();
        argv.push(std::ptr::null_mut());
        // SAFETY: argv holds argc valid NUL-terminated strings plus a NULL
        // terminator; both vectors are kept alive in the returned `Eal` (and
        // leaked on failure below), so any pointer DPDK retains stays valid.
        // INIT_ATTEMPTED guarantees this is the only rte_eal_init call.
        let ret = unsafe { sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            let err = Error::last("rte_eal_init");
            // A failed init may still have stored argv pointers.
            std::mem::forget(cargs);
            std::mem::forget(argv);
            return Err(err);
        }
        let consumed = usize::try_from(ret).expect("non-negative");
        Ok((
            Eal {
                _args: cargs,
                _argv: argv,
                _not_send: PhantomData,
            },
            consumed,
        ))
    }

    /// The application's arguments after the EAL ones: `args[consumed + 1..]`
    /// (skipping the program name and the `consumed` EAL arguments, which
    /// include the `--` separator).
    pub fn app_args<S>(args: &[S], consumed: usize) -> &[S] {
        args.get(consumed + 1..).unwrap_or(&[])
    }

    /// Whether EAL runs on hugepages (false with `--no-huge`).
    pub fn has_hugepages(&self) -> bool {
        // SAFETY: query of EAL's internal config; valid after init.
        unsafe { sys::rte_eal_has_hugepages() != 0 }
    }

    /// TSC frequency in Hz as measured by EAL (`rte_get_tsc_hz`).
    pub fn tsc_hz(&self) -> u64 {
        // SAFETY: reads a value set during rte_eal_init.
        unsafe { sys::tw_get_tsc_hz() }
    }

    /// Hot-plugs a device after init (`rte_dev_probe`), e.g.
    /// `"net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap"`. Control path only.
    pub fn probe_device(&self, devargs: &str) -> Result<()> {
        let c = CString::new(devargs)
            .map_err(|_| Error::InvalidArgument(format!("devargs contain NUL: {devargs:?}")))?;
        // SAFETY: `c` is a valid NUL-terminated string for the whole call;
        // EAL is initialised (we hold `&Eal`).
        let ret = unsafe { sys::rte_dev_probe(c.as_ptr()) };
        Error::check("rte_dev_probe", ret)
    }

    /// Waits for all worker lcores, then cleans EAL up, reporting
    /// `rte_eal_cleanup`'s error (dropping the `Eal` does the same and
    /// ignores it).
    pub fn cleanup(self) -> Result<()> {
        let ret = self.cleanup_inner();
        std::mem::forget(self);
        Error::check("rte_eal_cleanup", ret)
    }

    fn cleanup_inner(&self) -> c_int {
        // SAFETY: `Eal` is !Send, so this runs on the thread that called
        // rte_eal_init, i.e. the main lcore, which is where
        // rte_eal_mp_wait_lcore must be called. No borrowing handle is alive
        // (they all borrow `self`, and `self` is being consumed/dropped), so
        // after every worker has returned nothing touches DPDK memory any
        // more and rte_eal_cleanup may release it.
        unsafe {
            sys::rte_eal_mp_wait_lcore();
            sys::rte_eal_cleanup()
        }
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        let _ = self.cleanup_inner();
    }
}

#[cfg(test)]
mod tests {
    use super::Eal;

    #[test]
    fn app_args_split() {
        let args = ["prog", "-l", "0", "--", "--feed", "x"];
        // rte_eal_init would return 3 here ("-l", "0", "--").
        assert_eq!(Eal::app_args(&args, 3), &["--feed", "x"]);
        assert!(Eal::app_args(&args, 5).is_empty());
        assert!(Eal::app_args(&args, 99).is_empty());
    }
}
