//! CPU affinity of the calling thread (Linux `sched_{get,set}affinity`),
//! so that a helper thread started after DPDK pinned the main thread to its
//! lcore can run elsewhere.

use std::io;

/// The CPUs the calling thread may run on (None if the call failed).
pub fn current() -> Option<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed; pid
    // 0 is the calling thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return None;
    }
    Some(
        (0..libc::CPU_SETSIZE as usize)
            // SAFETY: `cpu` is below CPU_SETSIZE, the set's capacity.
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
            .collect(),
    )
}

/// Restricts the calling thread to `cpus` (ignoring those beyond the set's
/// capacity).
pub fn set_current(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: as in `current`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus.iter().filter(|&&c| c < libc::CPU_SETSIZE as usize) {
        // SAFETY: `cpu` is below CPU_SETSIZE.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the
    // calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_thread_can_narrow_and_read_back_its_affinity() {
        let all = super::current().expect("sched_getaffinity");
        assert!(!all.is_empty());
        let first = all[0];
        std::thread::spawn(move || {
            super::set_current(&[first]).expect("sched_setaffinity");
            assert_eq!(super::current(), Some(vec![first]));
        })
        .join()
        .unwrap();
        // The spawning thread is untouched.
        assert_eq!(super::current(), Some(all));
    }
}
