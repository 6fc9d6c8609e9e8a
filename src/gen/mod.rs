//! Deterministic generator of realistic, specification-correct NASDAQ
//! TotalView-ITCH 5.0 streams, written as a NASDAQ BinaryFILE and/or as
//! MoldUDP64 inside a classic pcap, with optional fault injection.
//!
//! # Stream
//! System Events `O`, `S`, `Q`; one Stock Directory `R` per symbol (locates
//! `1..=N`, alphabetical, unique 1–5 letter tickers); one Stock Trading
//! Action `H` (`T`, trading) per symbol; the order flow; System Events `M`,
//! `E`, `C`. Timestamps never decrease (order flow from 09:30:00 by default).
//! The order flow is ~44% adds (`A`, 10% of them `F`), ~43% deletes `D`, 8%
//! replaces `U`, 3% `E`/`X`/`C`, ~1.6% `P`, and rare `I`, `Q`, `N`, `Y`, `L`,
//! `J`, `h`, `K`, `O`, `B`, `V`, `W`; every type is forced at least once at
//! evenly spaced points if chance has not produced it. Adds versus deletes
//! follow a controller that ramps the live order count up to
//! `live_orders_target` and holds it there. Books are never crossed, every
//! `E`/`C`/`X`/`D`/`U` names a live order and never takes more than its
//! remaining shares, order references (including `U`'s new reference) are
//! unique and strictly increasing. Symbol activity follows a Zipf law.
//!
//! # MoldUDP64 / pcap
//! Sequence numbers start at [`MoldConfig::first_sequence`] (1). Messages are
//! packed while the payload fits `max_payload`, the count fits
//! `max_messages_per_packet` and the first message of the packet is no older
//! than `flush_ns`. Heartbeats (count 0, sequence = next expected) follow
//! every `heartbeat_every` data packets; the file ends with an end-of-session
//! packet (count 0xFFFF, sequence = next expected). A pcap record's
//! timestamp is `capture_midnight_epoch_s` plus the ITCH timestamp of the
//! packet's last message.
//!
//! # Faults
//! * Dropped packets are left out of the file: their sequence numbers are a
//!   gap. Duplicates are byte-identical re-sends of one of the last four data
//!   packets, written right after a data packet.
//! * Frame-level malformed kinds and filtered kinds are *extra* frames
//!   written after a data packet. They consume no sequence number. Their UDP
//!   payload (when they have one) is a "poison" Mold packet claiming the next
//!   sequence number with one `D` for order reference 0, so a handler that
//!   wrongly accepts one shows it.
//! * In-packet malformed kinds ([`MalformedKind::in_packet`]: block overrun,
//!   unknown message type, wrong message length) are data packets of the
//!   real stream whose *last* block is bad. Such a packet has a valid header
//!   with sequence `S` and count `k + 1`: blocks `0..k` are the real
//!   messages `S..S+k-1` (`k >= 0`; they should be applied), and the final
//!   block is an extra, bad message that *consumes sequence number `S+k`*
//!   (listed in [`PcapManifest::bad_block_sequences`]). The next packet
//!   starts at `S+k+1`. No real message is lost or displaced: a handler that
//!   applies the good blocks, rejects the bad one and advances by the header
//!   count sees no gap; the pcap's sequence numbers run to
//!   `total_messages + bad blocks` (minus nothing for drops, which are gaps).
//!   Such packets are never dropped or duplicated, and they are counted
//!   under their malformed kind, not as data packets.
//!
//! The ITCH message stream depends only on the stream settings, never on
//! packet or fault settings, so the BinaryFILE and the pcap agree.

pub mod cli;
mod config;
mod manifest;
mod mold;
mod net;
pub mod rng;
mod stream;

use std::io::Write;

pub use config::{
    midnight_epoch_s, FaultConfig, GenConfig, GenError, MoldConfig, NetConfig, BAD_BLOCK_RESERVE,
    END_OF_DAY_NS, MARKET_OPEN_NS, MAX_SYMBOLS, MIN_MAX_PAYLOAD,
};
pub use manifest::{
    FilteredKind, FrameKind, MalformedKind, Manifest, PacketCounts, PacketRecord, PcapManifest,
};
pub use mold::{END_OF_SESSION_COUNT, MOLD_HEADER_LEN};
pub use stream::{MessageGenerator, SymbolInfo};

use crate::binfile::BinFileWriter;
use crate::itch_encode::MAX_MESSAGE_LEN;

/// Generate the stream into a BinaryFILE writer and/or a pcap writer (wrap
/// files in a `BufWriter`). With `packet_log`, every pcap frame (and every
/// dropped packet) is recorded there in order.
pub fn generate<B: Write, P: Write>(
    cfg: &GenConfig,
    binfile: Option<B>,
    pcap: Option<P>,
    packet_log: Option<&mut Vec<PacketRecord>>,
) -> Result<Manifest, GenError> {
    let mut g = MessageGenerator::new(cfg)?;
    let symbols = g.symbols();
    let mut bin = binfile.map(BinFileWriter::new);
    let mut mold = match pcap {
        Some(w) => Some(mold::MoldPcap::new(
            w,
            cfg.seed,
            &cfg.net,
            &cfg.mold,
            &cfg.faults,
            packet_log,
        )?),
        None => None,
    };
    let mut buf = [0u8; MAX_MESSAGE_LEN];
    let mut first_ts = None;
    for msg in g.by_ref() {
        let n = msg.encode_into(&mut buf);
        let ts = msg.header().timestamp;
        first_ts.get_or_insert(ts);
        if let Some(b) = bin.as_mut() {
            b.write_message(&buf[..n])?;
        }
        if let Some(m) = mold.as_mut() {
            m.push(&buf[..n], ts)?;
        }
    }
    if let Some(b) = bin.as_mut() {
        b.flush()?;
    }
    let pcap = match mold {
        Some(m) => Some(m.finish()?),
        None => None,
    };
    Ok(Manifest {
        seed: cfg.seed,
        total_messages: g.emitted(),
        messages_by_type: Manifest::by_type_from(|t| g.type_count(t)),
        final_live_orders: g.live_orders(),
        live_orders_target: g.live_orders_target(),
        first_timestamp_ns: first_ts.unwrap_or(0),
        last_timestamp_ns: g.timestamp(),
        symbols,
        pcap,
    })
}

/// Generate a BinaryFILE only.
pub fn generate_binfile<W: Write>(cfg: &GenConfig, w: W) -> Result<Manifest, GenError> {
    generate(cfg, Some(w), None::<std::io::Sink>, None)
}

/// Generate a pcap only.
pub fn generate_pcap<W: Write>(cfg: &GenConfig, w: W) -> Result<Manifest, GenError> {
    generate(cfg, None::<std::io::Sink>, Some(w), None)
}

/// Generate a pcap only, recording every frame in `log`.
pub fn generate_pcap_with_log<W: Write>(
    cfg: &GenConfig,
    w: W,
    log: &mut Vec<PacketRecord>,
) -> Result<Manifest, GenError> {
    generate(cfg, None::<std::io::Sink>, Some(w), Some(log))
}
