//! `tickwire`: the kernel-bypass feed handler, and the offline tools.
//!
//! `tickwire [EAL args] -- [app args]` runs the DPDK host; `tickwire gen`,
//! `tickwire replay`, `tickwire send`, `tickwire rerequest-server`,
//! `tickwire plot`, `tickwire subscribe` and `tickwire --version` are the
//! offline tools.

use std::process::ExitCode;

const USAGE: &str = "\
tickwire: kernel-bypass NASDAQ TotalView-ITCH 5.0 feed handler
(MoldUDP64 over UDP -> full-depth books, top of book, VWAP -> FIX 4.4 snapshots, NATS)

USAGE:
    tickwire [EAL args] -- [app args]     run the DPDK feed handler
    tickwire gen [options]                generate a realistic ITCH 5.0 stream (BinaryFILE / pcap)
    tickwire replay FILE [options]        run the engine over a BinaryFILE, pcap or pcapng (or .gz), write FIX
    tickwire send FILE [options]          publish a BinaryFILE as MoldUDP64 over UDP (A/B, impaired)
    tickwire rerequest-server FILE [opts] answer MoldUDP64 re-requests from a BinaryFILE
    tickwire plot STATS.json -o X.svg     draw a host run's latency percentiles as SVG
    tickwire subscribe --nats URL SUBJECT print the book records published to NATS, decoded
    tickwire --version                    build provenance and DPDK version
    tickwire --help                       this text; `tickwire -- --help` for the host's app args

Each subcommand takes --help.";

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so `tickwire replay x | head` would panic on the
    // closed pipe; take the default action (quiet exit) like other Unix tools.
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is
    // a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("gen") => tickwire::gen::cli::run(&args[2..]),
        Some("replay") => tickwire::replay_cli::run(&args[2..]),
        Some("send") => tickwire::send::cli::run(&args[2..]),
        Some("rerequest-server") => tickwire::rerequest::cli::run(&args[2..]),
        Some("plot") => tickwire::plot::run(&args[2..]),
        Some("subscribe") => tickwire::nats::subscribe::run(&args[2..]),
        Some("--version" | "-V" | "version") => {
            println!("{}", tickwire::provenance::summary());
            Ok(())
        }
        Some("--help" | "-h" | "help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(_) => tickwire_host::host::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tickwire: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
