//! Error type for the DPDK layer.

use std::ffi::CStr;
use std::fmt;

use tickwire_sys as sys;

/// Result alias for the DPDK layer.
pub type Result<T> = std::result::Result<T, Error>;

/// Errors from the DPDK layer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A DPDK call failed. `errno` is positive: `rte_errno`, or the negated
    /// return value of calls that return `-errno`.
    Rte {
        /// The DPDK function that failed.
        op: &'static str,
        /// Positive errno (may be a DPDK-specific `E_RTE_*` value).
        errno: i32,
    },
    /// `Eal::init` was already called in this process (DPDK allows one
    /// `rte_eal_init` per process, even after `rte_eal_cleanup`).
    AlreadyInitialized,
    /// This operation must run on the EAL main lcore.
    NotMainLcore,
    /// An argument was rejected before calling DPDK.
    InvalidArgument(String),
    /// No ethdev port with this name.
    PortNotFound(String),
    /// The rx/tx queue handle is already held elsewhere.
    QueueBusy {
        /// Port id.
        port: u16,
        /// Queue id.
        queue: u16,
    },
}

impl Error {
    /// Builds [`Error::Rte`] from the calling thread's `rte_errno`.
    pub(crate) fn last(op: &'static str) -> Self {
        // SAFETY: reads this thread's rte_errno (a C __thread int); no
        // preconditions.
        let errno = unsafe { sys::tw_errno() };
        Error::Rte { op, errno }
    }

    /// Builds [`Error::Rte`] from a `-errno` return value.
    pub(crate) fn from_ret(op: &'static str, ret: i32) -> Self {
        Error::Rte {
            op,
            errno: ret.saturating_neg(),
        }
    }

    /// Maps a DPDK `0 / -errno` return value.
    pub(crate) fn check(op: &'static str, ret: i32) -> Result<()> {
        if ret < 0 {
            Err(Self::from_ret(op, ret))
        } else {
            Ok(())
        }
    }

    /// The errno, for [`Error::Rte`].
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Rte { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// Text for `errno`: DPDK's own codes via `rte_strerror`, the rest via the
/// thread-safe `strerror_r` that `std::io::Error` uses.
pub(crate) fn errno_text(errno: i32) -> String {
    let rte_min = sys::RTE_MIN_ERRNO as i32;
    let rte_max = sys::RTE_MAX_ERRNO as i32;
    if errno > rte_min && errno < rte_max {
        // SAFETY: rte_strerror needs no EAL; for DPDK's own codes it returns a
        // pointer to a static NUL-terminated string, which is copied at once.
        let s = unsafe { CStr::from_ptr(sys::rte_strerror(errno)) };
        s.to_string_lossy().into_owned()
    } else {
        // Format without the " (os error N)" suffix.
        let text = std::io::Error::from_raw_os_error(errno).to_string();
        match text.rfind(" (os error") {
            Some(i) => text[..i].to_owned(),
            None => text,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Rte { op, errno } => write!(f, "{op}: {} (errno {errno})", errno_text(*errno)),
            Error::AlreadyInitialized => f.write_str(
                "EAL already initialised in this process (one rte_eal_init per process)",
            ),
            Error::NotMainLcore => f.write_str("must be called on the EAL main lcore"),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::PortNotFound(name) => write!(f, "no ethdev port named {name:?}"),
            Error::QueueBusy { port, queue } => {
                write!(f, "port {port} queue {queue} is already in use")
            }
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_uses_strerror() {
        let e = Error::from_ret("rte_eth_dev_start", -12);
        assert_eq!(e.errno(), Some(12));
        let s = e.to_string();
        assert!(s.starts_with("rte_eth_dev_start: "), "{s}");
        assert!(s.contains("memory"), "{s}");
        assert!(s.ends_with("(errno 12)"), "{s}");
    }

    #[test]
    fn display_dpdk_specific_errno() {
        let e = Error::Rte {
            op: "rte_eal_init",
            errno: sys::E_RTE_SECONDARY as i32,
        };
        assert!(e.to_string().contains("secondary"), "{e}");
    }

    #[test]
    fn rte_errno_roundtrip() {
        // SAFETY: writes this thread's rte_errno; no other preconditions.
        unsafe { sys::tw_set_errno(libc::EEXIST) };
        assert_eq!(Error::last("x").errno(), Some(libc::EEXIST));
    }
}
