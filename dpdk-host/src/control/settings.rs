//! What the control plane is asked to be: address, route, FIX listener,
//! multicast groups, re-request source port; parsed and checked for
//! consistency before the EAL starts.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::igmp::MAX_GROUPS;
use super::listener::ListenConfig;
use super::recovery::RecoveryRequest;

/// Default TX buffer per FIX connection: room for a burst of snapshots.
pub const DEFAULT_TCP_TX_BUFFER: usize = 256 * 1024;
/// Default RX buffer per FIX connection: clients send little (logon,
/// heartbeats, requests).
pub const DEFAULT_TCP_RX_BUFFER: usize = 16 * 1024;
/// Default concurrent FIX sessions.
pub const DEFAULT_MAX_SESSIONS: usize = 64;

/// An IPv4 address with its prefix length (`10.77.1.2/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// The address.
    pub addr: Ipv4Addr,
    /// Prefix length, 1 to 32.
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    /// Whether `ip` is in this subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = u32::MAX << (32 - u32::from(self.prefix_len));
        u32::from(ip) & mask == u32::from(self.addr) & mask
    }
}

/// Parses `ADDR/PREFIX` for a host address: a unicast IPv4 address and a
/// prefix of 1 to 32 (the prefix is required: a guessed one would answer
/// ARP for the wrong subnet).
pub fn parse_cidr(s: &str) -> Result<Ipv4Cidr, String> {
    let (a, p) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?}: expected ADDR/PREFIX, e.g. 10.0.0.2/24"))?;
    let addr: Ipv4Addr = a
        .parse()
        .map_err(|_| format!("{s:?}: {a:?} is not an IPv4 address"))?;
    let prefix_len: u8 = p
        .parse()
        .ok()
        .filter(|p| (1..=32).contains(p))
        .ok_or_else(|| format!("{s:?}: prefix {p:?} is not a number from 1 to 32"))?;
    if addr.is_unspecified() || addr.is_multicast() || addr.is_broadcast() {
        return Err(format!(
            "{s:?}: {addr} cannot be a host address (unspecified, multicast or broadcast)"
        ));
    }
    Ok(Ipv4Cidr { addr, prefix_len })
}

/// Parses `IP:PORT` with a port other than 0.
pub fn parse_listen(s: &str) -> Result<SocketAddrV4, String> {
    let a: SocketAddrV4 = s
        .parse()
        .map_err(|_| format!("{s:?}: expected IPv4:PORT, e.g. 10.0.0.2:9878"))?;
    if a.port() == 0 {
        return Err(format!("{s:?}: port 0 cannot be listened on"));
    }
    Ok(a)
}

/// The control plane's settings, checked for consistency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlSettings {
    /// Our address.
    pub ip: Ipv4Addr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// Default route, if any.
    pub gateway: Option<Ipv4Addr>,
    /// The FIX listener, if any.
    pub fix_listen: Option<ListenConfig>,
    /// Port to run on (name or id); `None`: the feed's RX port.
    pub port: Option<String>,
    /// Multicast groups joined at start and left at shutdown (no
    /// duplicates, in order).
    pub joins: Vec<Ipv4Addr>,
    /// UDP source port of re-requests (0: an ephemeral one).
    pub rerequest_source_port: u16,
    /// Re-requests the main lcore sends through the channel at start (a
    /// bring-up and test aid).
    pub send_requests: Vec<RecoveryRequest>,
}

/// The raw inputs, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct ControlInputs<'a> {
    /// `--ip`.
    pub ip: Option<Ipv4Cidr>,
    /// `--gateway`.
    pub gateway: Option<Ipv4Addr>,
    /// `--fix-listen`.
    pub fix_listen: Option<SocketAddrV4>,
    /// `--fix-max-sessions`.
    pub max_sessions: usize,
    /// `--fix-tx-buffer`.
    pub tx_buffer: usize,
    /// `--fix-rx-buffer`.
    pub rx_buffer: usize,
    /// `--control-port`.
    pub port: Option<&'a str>,
    /// `--join`.
    pub joins: &'a [Ipv4Addr],
    /// `--rerequest-source-port`.
    pub rerequest_source_port: Option<u16>,
    /// `--control-send-request`.
    pub send_requests: &'a [RecoveryRequest],
}

impl ControlSettings {
    /// Checks the inputs: `None` when the control plane is off (no `--ip`),
    /// an error naming the option for every inconsistent combination.
    pub fn from_inputs(i: &ControlInputs<'_>) -> Result<Option<Self>, String> {
        let Some(cidr) = i.ip else {
            for (given, name) in [
                (i.gateway.is_some(), "--gateway"),
                (i.fix_listen.is_some(), "--fix-listen"),
                (i.port.is_some(), "--control-port"),
                (!i.joins.is_empty(), "--join"),
                (i.rerequest_source_port.is_some(), "--rerequest-source-port"),
                (!i.send_requests.is_empty(), "--control-send-request"),
            ] {
                if given {
                    return Err(format!(
                        "{name} needs the control plane: give it an address with --ip ADDR/PREFIX"
                    ));
                }
            }
            return Ok(None);
        };
        if let Some(gw) = i.gateway {
            if gw == cidr.addr {
                return Err(format!("--gateway {gw} is our own --ip address"));
            }
            if !cidr.contains(gw) {
                return Err(format!(
                    "--gateway {gw} is not in --ip's subnet {}/{}: it could never be reached",
                    cidr.addr, cidr.prefix_len
                ));
            }
        }
        if !(1..=4096).contains(&i.max_sessions) {
            return Err(format!(
                "--fix-max-sessions {}: expected 1 to 4096",
                i.max_sessions
            ));
        }
        for (n, name) in [
            (i.tx_buffer, "--fix-tx-buffer"),
            (i.rx_buffer, "--fix-rx-buffer"),
        ] {
            if !(1024..=(1 << 30)).contains(&n) {
                return Err(format!("{name} {n}: expected 1024 bytes to 1 GiB"));
            }
        }
        let fix_listen = match i.fix_listen {
            Some(a) if *a.ip() != cidr.addr => {
                return Err(format!(
                    "--fix-listen {a}: the address must be our --ip address {}",
                    cidr.addr
                ))
            }
            Some(addr) => Some(ListenConfig {
                addr,
                max_sessions: i.max_sessions,
                tx_buffer: i.tx_buffer,
                rx_buffer: i.rx_buffer,
            }),
            None => None,
        };
        let mut joins: Vec<Ipv4Addr> = Vec::new();
        for &g in i.joins {
            if !g.is_multicast() {
                return Err(format!("--join {g}: not an IPv4 multicast group"));
            }
            if !joins.contains(&g) {
                joins.push(g);
            }
        }
        if joins.len() > MAX_GROUPS {
            return Err(format!(
                "--join: {} groups given, at most {MAX_GROUPS} can be joined",
                joins.len()
            ));
        }
        Ok(Some(ControlSettings {
            ip: cidr.addr,
            prefix_len: cidr.prefix_len,
            gateway: i.gateway,
            fix_listen,
            port: i.port.map(str::to_owned),
            joins,
            rerequest_source_port: i.rerequest_source_port.unwrap_or(0),
            send_requests: i.send_requests.to_vec(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(ip: &str) -> ControlInputs<'static> {
        ControlInputs {
            ip: Some(parse_cidr(ip).unwrap()),
            max_sessions: DEFAULT_MAX_SESSIONS,
            tx_buffer: DEFAULT_TCP_TX_BUFFER,
            rx_buffer: DEFAULT_TCP_RX_BUFFER,
            ..ControlInputs::default()
        }
    }

    #[test]
    fn cidr_parsing() {
        let c = parse_cidr("10.77.1.2/24").unwrap();
        assert_eq!(c.addr, Ipv4Addr::new(10, 77, 1, 2));
        assert_eq!(c.prefix_len, 24);
        assert!(c.contains(Ipv4Addr::new(10, 77, 1, 1)));
        assert!(!c.contains(Ipv4Addr::new(10, 77, 2, 1)));
        assert!(parse_cidr("10.0.0.1/32")
            .unwrap()
            .contains(Ipv4Addr::new(10, 0, 0, 1)));
        for bad in [
            "10.0.0.1",
            "10.0.0.1/0",
            "10.0.0.1/33",
            "10.0.0.1/x",
            "10.0.0/24",
            "0.0.0.0/8",
            "239.1.1.1/24",
            "255.255.255.255/32",
            "",
        ] {
            assert!(parse_cidr(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_cidr("10.0.0/24").unwrap_err().contains("not an IPv4"));
    }

    #[test]
    fn listen_parsing() {
        assert_eq!(
            parse_listen("10.0.0.2:9878").unwrap(),
            "10.0.0.2:9878".parse().unwrap()
        );
        for bad in [
            "10.0.0.2",
            "10.0.0.2:0",
            "10.0.0.2:70000",
            ":9878",
            "[::1]:9878",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn off_without_ip_and_options_need_it() {
        assert_eq!(
            ControlSettings::from_inputs(&ControlInputs::default()),
            Ok(None)
        );
        let i = ControlInputs {
            fix_listen: Some("10.0.0.2:9878".parse().unwrap()),
            ..ControlInputs::default()
        };
        let e = ControlSettings::from_inputs(&i).unwrap_err();
        assert!(e.contains("--fix-listen") && e.contains("--ip"), "{e}");
        let i = ControlInputs {
            port: Some("1"),
            ..ControlInputs::default()
        };
        assert!(ControlSettings::from_inputs(&i)
            .unwrap_err()
            .contains("--control-port"));
    }

    #[test]
    fn consistency_checks() {
        let mut i = inputs("10.0.0.2/24");
        i.fix_listen = Some("10.0.0.3:9878".parse().unwrap());
        assert!(ControlSettings::from_inputs(&i)
            .unwrap_err()
            .contains("must be our --ip"));
        i.fix_listen = Some("10.0.0.2:9878".parse().unwrap());
        i.gateway = Some(Ipv4Addr::new(10, 0, 1, 1));
        assert!(ControlSettings::from_inputs(&i)
            .unwrap_err()
            .contains("not in --ip's subnet"));
        i.gateway = Some(Ipv4Addr::new(10, 0, 0, 2));
        assert!(ControlSettings::from_inputs(&i)
            .unwrap_err()
            .contains("our own"));
        i.gateway = Some(Ipv4Addr::new(10, 0, 0, 1));
        i.max_sessions = 0;
        assert!(ControlSettings::from_inputs(&i)
            .unwrap_err()
            .contains("--fix-max-sessions"));
        i.max_sessions = 8;
        i.tx_buffer = 10;
        assert!(ControlSettings::from_inputs(&i)
            .unwrap_err()
            .contains("--fix-tx-buffer"));
        i.tx_buffer = DEFAULT_TCP_TX_BUFFER;
        let s = ControlSettings::from_inputs(&i).unwrap().unwrap();
        assert_eq!(s.gateway, Some(Ipv4Addr::new(10, 0, 0, 1)));
        let l = s.fix_listen.unwrap();
        assert_eq!((l.max_sessions, l.addr.port()), (8, 9878));
        assert_eq!(s.port, None);
        assert!(s.joins.is_empty());
        assert_eq!(s.rerequest_source_port, 0);
    }

    #[test]
    fn joins_and_rerequests() {
        let g = |d| Ipv4Addr::new(239, 1, 2, d);
        let groups = [g(3), g(4), g(3)];
        let mut i = inputs("10.0.0.2/24");
        i.joins = &groups;
        i.rerequest_source_port = Some(26400);
        let s = ControlSettings::from_inputs(&i).unwrap().unwrap();
        assert_eq!(s.joins, vec![g(3), g(4)]);
        assert_eq!(s.rerequest_source_port, 26400);
        let many: Vec<Ipv4Addr> = (0..=MAX_GROUPS as u8).map(g).collect();
        i.joins = &many;
        let e = ControlSettings::from_inputs(&i).unwrap_err();
        assert!(e.contains("--join") && e.contains("at most"), "{e}");
        let unicast = [Ipv4Addr::new(10, 0, 0, 9)];
        i.joins = &unicast;
        assert!(ControlSettings::from_inputs(&i)
            .unwrap_err()
            .contains("--join 10.0.0.9"));
        for (joins, port, name) in [
            (&groups[..], None, "--join"),
            (&[][..], Some(1), "--rerequest-source-port"),
        ] {
            let i = ControlInputs {
                joins,
                rerequest_source_port: port,
                ..ControlInputs::default()
            };
            let e = ControlSettings::from_inputs(&i).unwrap_err();
            assert!(e.contains(name) && e.contains("--ip"), "{e}");
        }
    }
}
