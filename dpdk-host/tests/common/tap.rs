//! Tap-device helpers shared by the tests that run the host on a net_tap
//! it creates: the skip check, per-process subnets and tap names, and the
//! kernel side's address.

use std::process::Command;
use std::time::{Duration, Instant};

use super::{run_with_timeout, Finished};

/// Whether /dev/net/tun exists; says which tests are skipped when not.
pub fn tun_available(what: &str) -> bool {
    if !std::path::Path::new("/dev/net/tun").exists() {
        eprintln!("/dev/net/tun is missing: {what} skipped");
        return false;
    }
    true
}

/// A per-process subnet number N (for 10.X.N.0/24: each test file uses its
/// own X) and a tap name `{tag}{pid}{which}` of at most 15 bytes; `which`
/// differs per test so concurrent tests do not collide.
pub fn subnet(tag: &str, which: u32) -> (u32, String) {
    let n = 10 + (std::process::id() % 80) * 3 + which;
    (n, format!("{tag}{}{which}", std::process::id() % 100_000))
}

/// Runs a tool with a 30 s timeout.
pub fn run_tool(cmd: &mut Command) -> Finished {
    run_with_timeout(cmd, Duration::from_secs(30))
}

/// Waits for the tap to appear, gives its kernel side `addr` (CIDR, e.g.
/// `10.77.12.1/24`) and brings it up.
pub fn configure_kernel_side(iface: &str, addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !run_tool(Command::new("ip").args(["link", "show", iface]))
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "tap {iface} never appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    run_tool(Command::new("ip").args(["addr", "add", addr, "dev", iface]))
        .assert_success("ip addr add");
    run_tool(Command::new("ip").args(["link", "set", iface, "up"])).assert_success("ip link up");
}
