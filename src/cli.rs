//! What every `tickwire` subcommand does with its arguments.

/// Parses `args` (without the program name) as `T`, named `name` in messages.
/// `Ok(None)` when `--help` or `--version` was printed; an error carrying
/// clap's message (without its own `error: ` prefix, which the binary adds)
/// for bad arguments.
pub fn parse<T: clap::Parser>(name: &str, args: &[String]) -> anyhow::Result<Option<T>> {
    match T::try_parse_from(std::iter::once(name.to_owned()).chain(args.iter().cloned())) {
        Ok(a) => Ok(Some(a)),
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                print!("{e}");
                return Ok(None);
            }
            anyhow::bail!(
                "{}",
                e.render()
                    .to_string()
                    .trim_end()
                    .trim_start_matches("error: ")
            )
        }
    }
}

/// Value parser for a probability between 0 and 1.
pub fn parse_probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{s:?} is not a probability between 0 and 1")),
    }
}

/// Value parser for a MoldUDP64 payload limit: room for the 20-byte header
/// and one block, at most a UDP datagram over IPv4.
pub fn parse_max_payload(s: &str) -> Result<usize, String> {
    use crate::mold_packet::{HEADER_LEN, MAX_UDP_PAYLOAD};
    match s.parse::<usize>() {
        Ok(n) if (HEADER_LEN + 2..=MAX_UDP_PAYLOAD).contains(&n) => Ok(n),
        _ => Err(format!(
            "{s:?}: the payload limit is {} to {MAX_UDP_PAYLOAD} bytes",
            HEADER_LEN + 2
        )),
    }
}

/// The value [`parse_port`] gives `all` (and an empty `--ports ""`): port 0,
/// which no UDP datagram is addressed to. [`normalize_ports`] turns a list
/// holding it into the empty list, which the engine reads as every port.
pub const ALL_PORTS: u16 = 0;

/// Value parser for one element of a comma-separated `--ports` list: a UDP
/// port 1 to 65535, or `all` (also an empty value) for every port.
pub fn parse_port(s: &str) -> Result<u16, String> {
    match s.trim() {
        "all" | "" => Ok(ALL_PORTS),
        t => match t.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("{s:?} is not a UDP port (1 to 65535) or `all`")),
            Ok(p) => Ok(p),
        },
    }
}

/// After parsing: a `--ports` list naming `all` (or empty) anywhere means
/// every port, the empty list.
pub fn normalize_ports(ports: &mut Vec<u16>) {
    if ports.contains(&ALL_PORTS) {
        ports.clear();
    }
}
