//! A process-wide quit flag set by SIGINT/SIGTERM.
//!
//! Poll loops check [`quit_requested`] (one relaxed atomic load) every
//! iteration or every few bursts. The handler only stores to a lock-free
//! `AtomicBool`, which is async-signal-safe. It is installed with
//! `SA_RESETHAND`: the first Ctrl-C asks for a clean shutdown, a second one
//! gets the default action and kills the process if the shutdown hangs.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

// The handler must not take a lock: require native byte atomics.
#[cfg(not(target_has_atomic = "8"))]
compile_error!("signal.rs needs lock-free AtomicBool");

static QUIT: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signum: libc::c_int) {
    // Async-signal-safe: a single lock-free atomic store, no allocation.
    QUIT.store(true, Ordering::Relaxed);
}

/// Installs the handler for SIGINT and SIGTERM (idempotent).
pub fn install() -> io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `sigaction` is plain old data; all-zero is a valid initial
        // value (empty mask, no flags) before we fill it in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
        // SAFETY: `action.sa_mask` is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: `action` is fully initialised and `on_signal` is an
        // `extern "C" fn(c_int)` that only does async-signal-safe work; a null
        // old-action pointer is allowed.
        let ret = unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// True once SIGINT/SIGTERM arrived or [`request_quit`] was called.
#[inline]
pub fn quit_requested() -> bool {
    QUIT.load(Ordering::Relaxed)
}

/// Sets the quit flag from code (e.g. a fatal error on one lcore).
pub fn request_quit() {
    QUIT.store(true, Ordering::Relaxed);
}

/// The flag itself, e.g. to hand to code that takes an `&AtomicBool`.
pub fn quit_flag() -> &'static AtomicBool {
    &QUIT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigterm_sets_flag() {
        install().unwrap();
        assert!(!quit_requested());
        // SAFETY: raising a signal whose handler we just installed; the handler
        // only stores to an atomic.
        assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0);
        assert!(quit_requested());
        QUIT.store(false, Ordering::Relaxed);
        // SA_RESETHAND reset SIGTERM to default: reinstall so a stray SIGTERM
        // does not kill the test binary.
        install().unwrap();
    }
}
