//! DPDK telemetry commands `/tickwire/stats` and `/tickwire/sessions`
//! (`dpdk-telemetry.py`, socket under the EAL runtime directory). DPDK's
//! telemetry thread calls them; they read the same lock-free slots as the
//! HTTP server, through a process-wide handle set while the host runs.

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::{Arc, Once, RwLock};

use tickwire_sys as sys;

use super::snapshot::FEED_STATES;
use super::{session_name, Hub};

/// The hub the callbacks read (None: the host is not running).
static HUB: RwLock<Option<Arc<Hub>>> = RwLock::new(None);
static REGISTER: Once = Once::new();

/// Most entries a telemetry dict holds (RTE_TEL_MAX_DICT_ENTRIES).
const MAX_ENTRIES: usize = 256;

/// While alive, the commands answer from `hub`; afterwards they answer
/// `{"running": 0}`.
pub struct Registration(());

impl Drop for Registration {
    fn drop(&mut self) {
        *HUB.write().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Registers the commands (once per process) and points them at `hub`.
pub fn register(hub: Arc<Hub>) -> Result<Registration, String> {
    *HUB.write().unwrap_or_else(|p| p.into_inner()) = Some(hub);
    let mut err = None;
    REGISTER.call_once(|| {
        for (cmd, f, help) in [
            (
                c"/tickwire/stats",
                stats as unsafe extern "C" fn(_, _, _) -> _,
                c"tickwire counters summed over workers, by stats JSON path ('.' as '_'). No parameters.",
            ),
            (
                c"/tickwire/sessions",
                sessions,
                c"tickwire feed sessions: state and counters per worker and session. No parameters.",
            ),
        ] {
            // SAFETY: both strings are NUL-terminated statics (DPDK copies
            // the command name and keeps the help pointer: 'static); `f`
            // has the telemetry_cb signature and is thread-safe (it reads
            // the hub through a RwLock and lock-free slots).
            let rc = unsafe { sys::rte_telemetry_register_cmd(cmd.as_ptr(), Some(f), help.as_ptr()) };
            if rc != 0 {
                err = Some(format!(
                    "rte_telemetry_register_cmd({}): {rc}",
                    cmd.to_string_lossy()
                ));
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(Registration(())),
    }
}

fn hub() -> Option<Arc<Hub>> {
    HUB.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Adds `name: v` to a dict (names longer than DPDK's limit are cut).
///
/// # Safety
/// `d` must be a valid dict started with `rte_tel_data_start_dict`.
unsafe fn add_u64(d: *mut sys::rte_tel_data, name: &str, v: u64) {
    let name: String = name.chars().take(63).collect();
    if let Ok(c) = CString::new(name) {
        // SAFETY: `d` is valid (caller); `c` is NUL-terminated and copied
        // by DPDK.
        unsafe { sys::rte_tel_data_add_dict_u64(d, c.as_ptr(), v) };
    }
}

/// # Safety
/// As [`add_u64`].
unsafe fn add_str(d: *mut sys::rte_tel_data, name: &str, v: &str) {
    if let (Ok(n), Ok(v)) = (CString::new(name), CString::new(v)) {
        // SAFETY: `d` is valid (caller); both strings are NUL-terminated
        // and copied by DPDK.
        unsafe { sys::rte_tel_data_add_dict_string(d, n.as_ptr(), v.as_ptr()) };
    }
}

/// `/tickwire/stats`.
unsafe extern "C" fn stats(
    _cmd: *const c_char,
    _params: *const c_char,
    d: *mut sys::rte_tel_data,
) -> c_int {
    // SAFETY: DPDK hands a valid, empty rte_tel_data for the reply.
    unsafe { sys::rte_tel_data_start_dict(d) };
    let Some(hub) = hub() else {
        // SAFETY: `d` was started as a dict above.
        unsafe { add_u64(d, "running", 0) };
        return 0;
    };
    let live = hub.liveness().is_empty();
    let ready = hub.readiness().is_empty();
    // SAFETY: `d` was started as a dict above.
    unsafe {
        add_u64(d, "running", 1);
        add_u64(d, "workers", hub.slots.len() as u64);
        add_u64(d, "live", u64::from(live));
        add_u64(d, "ready", u64::from(ready));
    }
    for (k, v) in hub.totals().into_iter().take(MAX_ENTRIES - 4) {
        // DPDK's dict names take letters, digits, '_', '-' (no '.').
        let k = k.replace('.', "_");
        // SAFETY: as above.
        unsafe { add_u64(d, &k, v) };
    }
    0
}

/// One `/tickwire/sessions` entry: name, counters, state.
type Entry = (String, Vec<(&'static str, u64)>, &'static str);

/// `/tickwire/sessions`.
unsafe extern "C" fn sessions(
    _cmd: *const c_char,
    _params: *const c_char,
    d: *mut sys::rte_tel_data,
) -> c_int {
    // SAFETY: DPDK hands a valid, empty rte_tel_data for the reply.
    unsafe { sys::rte_tel_data_start_dict(d) };
    let Some(hub) = hub() else {
        return 0;
    };
    let mut n = 0;
    for (i, w) in hub.workers().iter().enumerate() {
        let mut entries: Vec<Entry> = Vec::new();
        if w.lines_mode == 1 {
            for s in w.sessions() {
                let c = &s.counters;
                let state = FEED_STATES[usize::from(s.state).min(4)].name();
                entries.push((
                    format!("w{i}/{}", session_name(&s.name)),
                    vec![
                        ("next_sequence", s.next_sequence),
                        ("held_packets", s.held),
                        ("messages_applied", c.applied),
                        ("messages_lost", c.lost),
                        ("gaps", c.gaps),
                        ("gaps_filled", c.gaps_filled),
                        ("gaps_given_up", c.gaps_given_up),
                        ("requests", c.requests),
                        ("heartbeats", c.heartbeats),
                        ("end_of_session", c.end_of_session),
                        ("line_a_packets", s.lines[0].packets),
                        ("line_b_packets", s.lines[1].packets),
                        ("recovery_packets", s.lines[2].packets),
                    ],
                    state,
                ));
            }
        } else {
            let c = &w.counters;
            entries.push((
                format!("w{i}"),
                vec![
                    ("packets_applied", c.packets_applied),
                    ("packets_gap", c.packets_gap),
                    ("messages_applied", c.messages_applied),
                    ("messages_missing", c.messages_missing),
                    ("heartbeats", c.heartbeats),
                    ("end_of_session", c.end_of_session),
                ],
                "engine",
            ));
        }
        for (name, counters, state) in entries {
            if n == MAX_ENTRIES {
                return 0;
            }
            // SAFETY: allocates an rte_tel_data (or null, checked).
            let c = unsafe { sys::rte_tel_data_alloc() };
            if c.is_null() {
                return -1;
            }
            // SAFETY: `c` is a fresh rte_tel_data; once added with keep=0,
            // DPDK frees it with the reply; on failure we free it.
            unsafe {
                sys::rte_tel_data_start_dict(c);
                add_str(c, "state", state);
                for (k, v) in counters {
                    add_u64(c, k, v);
                }
                let cname = CString::new(name).unwrap_or_default();
                if sys::rte_tel_data_add_dict_container(d, cname.as_ptr(), c, 0) != 0 {
                    sys::rte_tel_data_free(c);
                }
            }
            n += 1;
        }
    }
    0
}

/// Whether `name` is one of ours (for tests and messages).
pub fn commands() -> [&'static CStr; 2] {
    [c"/tickwire/stats", c"/tickwire/sessions"]
}
