//! Two network namespaces joined by a veth pair, for the tests that run the
//! host over a real kernel network (`host_veth.rs`, `host_lines_veth.rs`).
//! Everything is created inside the namespaces (nothing touches the root
//! namespace) and removed on drop, also when the test fails.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::run_with_timeout;

/// Runs `ip ARGS`; panics with its stderr on failure.
pub fn ip(args: &[&str]) {
    let run = run_with_timeout(Command::new("ip").args(args), Duration::from_secs(30));
    assert!(
        run.status.success(),
        "ip {}: {}{}",
        args.join(" "),
        run.stderr,
        run.stdout
    );
}

/// Whether a veth test should run: false (with a message) when
/// TICKWIRE_SKIP_NETNS=1; otherwise it panics, saying what is missing,
/// unless `ip netns` works and tcpdump is installed.
pub fn netns_test_enabled(what: &str) -> bool {
    if std::env::var_os("TICKWIRE_SKIP_NETNS").is_some_and(|v| v == "1") {
        eprintln!("TICKWIRE_SKIP_NETNS=1: {what} skipped");
        return false;
    }
    let netns_ok = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| o.status.success());
    assert!(
        matches!(netns_ok, Ok(true)),
        "this test needs `ip netns` (iproute2) and root to build a veth pair between two \
         network namespaces ({netns_ok:?}); set TICKWIRE_SKIP_NETNS=1 to skip it"
    );
    let tcpdump_ok = Command::new("tcpdump").arg("--version").output().is_ok();
    assert!(
        tcpdump_ok,
        "this test needs tcpdump (apt-get install tcpdump)"
    );
    true
}

/// Two namespaces and the veth pair between them; all removed on drop.
pub struct Topology {
    /// The host's namespace.
    pub host_ns: String,
    /// The feed's namespace (sender, servers, tcpdump).
    pub feed_ns: String,
    /// The host's end of the veth pair (no kernel address).
    pub host_if: String,
    /// The feed's end, with `feed_cidr`.
    pub feed_if: String,
}

impl Topology {
    /// `tickwire-test-<pid>-{host,feed}` joined by `twh<pid>`/`twf<pid>`;
    /// the feed end gets `feed_cidr` (e.g. 10.99.0.2/24) and the multicast
    /// route. IPv6 is off on both ends, so that the only frames on the wire
    /// are the test's.
    pub fn create(feed_cidr: &str) -> Topology {
        let pid = std::process::id();
        let t = Topology {
            host_ns: format!("tickwire-test-{pid}-host"),
            feed_ns: format!("tickwire-test-{pid}-feed"),
            host_if: format!("twh{pid}"),
            feed_if: format!("twf{pid}"),
        };
        t.remove(); // leftovers of a killed earlier run with this pid
        ip(&["netns", "add", &t.host_ns]);
        ip(&["netns", "add", &t.feed_ns]);
        // Both ends are created straight inside their namespaces.
        ip(&[
            "link", "add", &t.host_if, "netns", &t.host_ns, "type", "veth", "peer", "name",
            &t.feed_if, "netns", &t.feed_ns,
        ]);
        for (ns, ifname) in [(&t.host_ns, &t.host_if), (&t.feed_ns, &t.feed_if)] {
            t.no_ipv6(ns, ifname);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        ip(&[
            "-n", &t.feed_ns, "addr", "add", feed_cidr, "dev", &t.feed_if,
        ]);
        ip(&["-n", &t.host_ns, "link", "set", &t.host_if, "up"]);
        ip(&["-n", &t.feed_ns, "link", "set", &t.feed_if, "up"]);
        ip(&[
            "-n",
            &t.feed_ns,
            "route",
            "add",
            "224.0.0.0/4",
            "dev",
            &t.feed_if,
        ]);
        t
    }

    fn no_ipv6(&self, ns: &str, ifname: &str) {
        // No IPv6 (router solicitations, MLD).
        let _ = Command::new("ip")
            .args(["netns", "exec", ns, "sysctl", "-qw"])
            .args([
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
                &format!("net.ipv6.conf.{ifname}.disable_ipv6=1"),
            ])
            .output();
    }

    /// A macvlan `twc<pid>` on the host's veth end, up, without IPv6 or a
    /// kernel address: a second interface on the same wire, with a MAC of
    /// its own. Returns its name and MAC.
    pub fn add_macvlan(&self) -> (String, [u8; 6]) {
        let name = format!("twc{}", std::process::id());
        ip(&[
            "-n",
            &self.host_ns,
            "link",
            "add",
            &name,
            "link",
            &self.host_if,
            "type",
            "macvlan",
            "mode",
            "private",
        ]);
        self.no_ipv6(&self.host_ns, &name);
        ip(&["-n", &self.host_ns, "link", "set", &name, "up"]);
        let show = run_with_timeout(
            Command::new("ip").args(["-n", &self.host_ns, "-o", "link", "show", "dev", &name]),
            Duration::from_secs(30),
        );
        let text = show.stdout;
        let mac = text
            .split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_else(|| panic!("no MAC for {name} in {text:?}"));
        let mut out = [0u8; 6];
        for (o, h) in out.iter_mut().zip(mac.split(':')) {
            *o = u8::from_str_radix(h, 16).unwrap_or_else(|e| panic!("MAC {mac}: {e}"));
        }
        (name, out)
    }

    fn remove(&self) {
        let quiet = |args: &[&str]| {
            let _ = Command::new("ip")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        quiet(&["-n", &self.host_ns, "link", "del", &self.host_if]);
        quiet(&["netns", "del", &self.host_ns]);
        quiet(&["netns", "del", &self.feed_ns]);
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.remove();
        let listed = Command::new("ip").args(["netns", "list"]).output();
        if let Ok(o) = listed {
            let s = String::from_utf8_lossy(&o.stdout);
            if s.contains(&self.host_ns) || s.contains(&self.feed_ns) {
                eprintln!("warning: namespaces still listed after cleanup:\n{s}");
            }
        }
    }
}
