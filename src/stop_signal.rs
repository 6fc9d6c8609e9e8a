//! SIGINT/SIGTERM as a flag the long-running tools poll, so that they stop
//! between datagrams and still print their counters.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // An atomic store is async-signal-safe.
    STOP.store(true, Ordering::Relaxed);
}

/// Routes SIGINT and SIGTERM to the returned flag (process-wide; later
/// calls return the same flag). A tool checks it between datagrams.
pub fn install() -> &'static AtomicBool {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `on_signal` only stores to an atomic, which is
        // async-signal-safe, and has the signature signal(2) expects.
        unsafe {
            libc::signal(sig, handler);
        }
    }
    &STOP
}
