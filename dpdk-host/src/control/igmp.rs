//! IGMP group membership of the control plane, through smoltcp's
//! interface (smoltcp 0.12, `multicast` feature).
//!
//! What smoltcp does, and so what this gives:
//! - Joining only marks the group; the IGMPv2 Membership Report (to the
//!   group, TTL 1, no Router Alert option) goes out on the next
//!   [`ControlPlane::poll`], once per join (no repeated unsolicited report).
//! - A General Query (group 0.0.0.0 to 224.0.0.1) is answered with one
//!   report per joined group, spread evenly over the query's Max Response
//!   Time (at k * max_resp / (groups + 1)); a Group-Specific Query (to the
//!   group) with one report after a quarter of it. A query with Max Response
//!   Time 0 is IGMPv1 and gets v1 reports; anything else is answered in v2.
//!   IGMPv3 queries are read as v2 ones (no source lists).
//! - Leaving sends an IGMPv2 Leave Group to 224.0.0.2 on the next poll.
//! - Frames to any multicast MAC are accepted; IP packets only for joined
//!   groups (and 224.0.0.1).
//!
//! smoltcp keeps at most 16 groups (`iface-max-multicast-group-count-16`).
//! Reports and leaves are counted as they are handed to the TX queue (see
//! [`DeviceCounters`](super::device::DeviceCounters)), queries as they
//! arrive.

use std::fmt;
use std::net::Ipv4Addr;

use smoltcp::wire::IpAddress;
use tickwire_core::wire::ethernet::ipv4_multicast_mac;

use super::ControlPlane;
use crate::dpdk::{self, Port};

/// Most groups joined at once (smoltcp's table size, set by a feature).
pub const MAX_GROUPS: usize = 16;

/// How long [`ControlPlane::leave_all_multicast_groups`] goes on polling
/// after the leaves were handed to the TX queue.
pub const LEAVE_GRACE: std::time::Duration = std::time::Duration::from_millis(50);

/// Parses a multicast group for `--join` (224.0.0.0/4; the link-local
/// control block 224.0.0.0/24 is refused: those are never joined).
pub fn parse_group(s: &str) -> Result<Ipv4Addr, String> {
    let a: Ipv4Addr = s
        .parse()
        .map_err(|_| format!("{s:?} is not an IPv4 address (expected a group like 239.1.2.3)"))?;
    if !a.is_multicast() {
        return Err(format!(
            "{a} is not an IPv4 multicast group (224.0.0.0 to 239.255.255.255)"
        ));
    }
    if a.octets()[..3] == [224, 0, 0] {
        return Err(format!(
            "{a} is in 224.0.0.0/24, the link-local control block, which is not joined"
        ));
    }
    Ok(a)
}

/// Makes `port` deliver frames to the groups' MACs (01:00:5e + the low 23
/// bits of the group): its multicast MAC filter set to exactly those, or,
/// where the device has no such filter (or refuses the list), all-multicast
/// mode. Returns how, for the log. Nothing is done for no groups. (The
/// host's ports are also promiscuous by default, which lets these frames in
/// on most devices anyway; this makes it so without relying on that.)
pub fn set_port_filter(port: &Port<'_>, groups: &[Ipv4Addr]) -> dpdk::Result<&'static str> {
    if groups.is_empty() {
        return Ok("none");
    }
    let macs: Vec<[u8; 6]> = groups
        .iter()
        .map(|g| ipv4_multicast_mac(g.octets()))
        .collect();
    if let Ok(true) = port.set_mc_addr_list(&macs) {
        return Ok("multicast MAC filter");
    }
    if port.set_allmulticast(true)? {
        return Ok("all-multicast");
    }
    Ok("promiscuous only (no multicast filter, no all-multicast)")
}

/// A join or leave that could not be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupError {
    /// Not an IPv4 multicast address.
    NotMulticast(Ipv4Addr),
    /// The group table is full ([`MAX_GROUPS`]).
    TableFull(Ipv4Addr),
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::NotMulticast(a) => write!(f, "{a} is not an IPv4 multicast group"),
            GroupError::TableFull(a) => write!(
                f,
                "cannot join {a}: already a member of {MAX_GROUPS} groups, the most smoltcp keeps"
            ),
        }
    }
}

impl std::error::Error for GroupError {}

/// Membership counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IgmpCounters {
    /// Groups joined (calls that added a group).
    pub joins: u64,
    /// Groups left (calls that removed a group).
    pub leaves: u64,
    /// Groups joined now.
    pub groups: u64,
}

impl ControlPlane<'_, '_> {
    /// Joins each group (already joined ones are skipped); the membership
    /// reports go out on the next [`ControlPlane::poll`]. Stops at the first
    /// error; the groups before it stay joined.
    pub fn join_multicast_groups(&mut self, groups: &[Ipv4Addr]) -> Result<(), GroupError> {
        for &g in groups {
            self.join_multicast_group(g)?;
        }
        Ok(())
    }

    /// Joins one group (nothing happens if already joined).
    pub fn join_multicast_group(&mut self, group: Ipv4Addr) -> Result<(), GroupError> {
        if !group.is_multicast() {
            return Err(GroupError::NotMulticast(group));
        }
        if self.groups.contains(&group) {
            return Ok(());
        }
        self.iface
            .join_multicast_group(IpAddress::Ipv4(group))
            .map_err(|_| GroupError::TableFull(group))?;
        self.groups.push(group);
        self.igmp.joins += 1;
        Ok(())
    }

    /// Leaves one group (nothing happens if not a member); the Leave Group
    /// message goes out on the next [`ControlPlane::poll`].
    pub fn leave_multicast_group(&mut self, group: Ipv4Addr) -> Result<(), GroupError> {
        if !group.is_multicast() {
            return Err(GroupError::NotMulticast(group));
        }
        let Some(i) = self.groups.iter().position(|&g| g == group) else {
            return Ok(());
        };
        // Only fails for a non-multicast address, excluded above.
        let _ = self.iface.leave_multicast_group(IpAddress::Ipv4(group));
        self.groups.remove(i);
        self.igmp.leaves += 1;
        Ok(())
    }

    /// Leaves each group of the list.
    pub fn leave_multicast_groups(&mut self, groups: &[Ipv4Addr]) -> Result<(), GroupError> {
        for &g in groups {
            self.leave_multicast_group(g)?;
        }
        Ok(())
    }

    /// The groups joined now, in order of joining.
    pub fn multicast_groups(&self) -> &[Ipv4Addr] {
        &self.groups
    }

    /// For shutdown: leaves every group and polls until the Leave Group
    /// messages were handed to the TX queue (a few polls at most; they need
    /// no ARP), then keeps polling for [`LEAVE_GRACE`] so that the device
    /// puts them on the wire before the port stops (a stop right after
    /// `tx_burst` may drop what is still in the TX ring; net_tap's kernel
    /// side drops what it has not processed when the interface goes).
    /// Returns how many leaves went out.
    pub fn leave_all_multicast_groups(&mut self) -> u64 {
        let now_tsc = dpdk::rdtsc();
        let before = self.device.counters().tx_igmp_leaves;
        let groups = std::mem::take(&mut self.groups);
        for &g in &groups {
            // Only fails for a non-multicast address, never joined.
            let _ = self.iface.leave_multicast_group(IpAddress::Ipv4(g));
            self.igmp.leaves += 1;
        }
        let want = groups.len() as u64;
        for _ in 0..8 {
            if self.device.counters().tx_igmp_leaves - before >= want {
                break;
            }
            self.poll(now_tsc);
        }
        if want > 0 {
            let until = std::time::Instant::now() + LEAVE_GRACE;
            while std::time::Instant::now() < until {
                self.poll(dpdk::rdtsc());
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        self.device.counters().tx_igmp_leaves - before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_parsing() {
        assert_eq!(parse_group("239.1.2.3"), Ok(Ipv4Addr::new(239, 1, 2, 3)));
        assert_eq!(parse_group("224.0.1.1"), Ok(Ipv4Addr::new(224, 0, 1, 1)));
        assert!(parse_group("10.0.0.1")
            .unwrap_err()
            .contains("not an IPv4 multicast"));
        assert!(parse_group("224.0.0.1")
            .unwrap_err()
            .contains("224.0.0.0/24"));
        assert!(parse_group("239.1.2")
            .unwrap_err()
            .contains("not an IPv4 address"));
        assert!(parse_group("").is_err());
    }
}
