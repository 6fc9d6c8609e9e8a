//! MoldUDP64 packetizer writing a pcap, with fault injection.

use std::io::{self, Write};

use super::config::{FaultConfig, MoldConfig, NetConfig, BAD_BLOCK_RESERVE};
use super::manifest::{FilteredKind, FrameKind, MalformedKind, PacketRecord, PcapManifest};
use super::net::{FrameBuilder, ETH_VLAN};
use super::rng::Rng;
use crate::itch_encode::{message_len, ALL_TYPES};
use crate::pcap::{PcapWriter, TsResolution};

/// MoldUDP64 header length.
pub const MOLD_HEADER_LEN: usize = crate::mold_packet::HEADER_LEN;
/// Count of an end-of-session packet.
pub const END_OF_SESSION_COUNT: u16 = crate::mold_packet::COUNT_END_OF_SESSION;
/// Data packets kept for re-sending as duplicates.
const DUP_RING: usize = 4;
/// Types that ITCH 5.0 does not define, used for the unknown-type fault.
const UNKNOWN_TYPES: [u8; 8] = [b'Z', b'T', b'G', b'a', b'z', b'M', 0x00, 0xFF];

#[derive(Debug)]
struct Saved {
    frame: Vec<u8>,
    seq: u64,
    count: u16,
}

/// Packs messages into MoldUDP64 packets and writes them as pcap frames.
#[derive(Debug)]
pub(crate) struct MoldPcap<'l, W: Write> {
    w: PcapWriter<W>,
    fb: FrameBuilder,
    rng: Rng,
    mold: MoldConfig,
    faults: FaultConfig,
    midnight_ns: u64,
    payload: Vec<u8>,
    frame: Vec<u8>,
    poison: Vec<u8>,
    pkt_count: u16,
    pkt_seq: u64,
    pkt_first_ts: u64,
    pkt_last_ts: u64,
    corrupt: Option<MalformedKind>,
    pending_corrupt: Option<MalformedKind>,
    next_seq: u64,
    ring: Vec<Saved>,
    ring_next: usize,
    malformed_cycle: usize,
    filtered_cycle: usize,
    since_heartbeat: u32,
    m: PcapManifest,
    log: Option<&'l mut Vec<PacketRecord>>,
}

impl<'l, W: Write> MoldPcap<'l, W> {
    pub(crate) fn new(
        w: W,
        seed: u64,
        net: &NetConfig,
        mold: &MoldConfig,
        faults: &FaultConfig,
        log: Option<&'l mut Vec<PacketRecord>>,
    ) -> io::Result<Self> {
        let res = if mold.pcap_nanos {
            TsResolution::Nanos
        } else {
            TsResolution::Micros
        };
        let mut rng = Rng::new(seed, 3);
        let malformed_cycle = rng.below(MalformedKind::ALL.len() as u64) as usize;
        let filtered_cycle = rng.below(FilteredKind::ALL.len() as u64) as usize;
        Ok(MoldPcap {
            w: PcapWriter::ethernet(w, res)?,
            fb: FrameBuilder::new(net),
            rng,
            mold: mold.clone(),
            faults: faults.clone(),
            midnight_ns: mold.capture_midnight_epoch_s.saturating_mul(1_000_000_000),
            payload: Vec::with_capacity(mold.max_payload + BAD_BLOCK_RESERVE),
            frame: Vec::with_capacity(mold.max_payload + 128),
            poison: Vec::with_capacity(64),
            pkt_count: 0,
            pkt_seq: mold.first_sequence,
            pkt_first_ts: 0,
            pkt_last_ts: 0,
            corrupt: None,
            pending_corrupt: None,
            next_seq: mold.first_sequence,
            ring: Vec::with_capacity(DUP_RING),
            ring_next: 0,
            malformed_cycle,
            filtered_cycle,
            since_heartbeat: 0,
            m: PcapManifest {
                session: String::from_utf8_lossy(&mold.session).into_owned(),
                first_sequence: mold.first_sequence,
                nanosecond_timestamps: mold.pcap_nanos,
                ..PcapManifest::default()
            },
            log,
        })
    }

    /// Add one encoded ITCH message with its timestamp (ns since midnight).
    #[inline]
    pub(crate) fn push(&mut self, msg: &[u8], ts: u64) -> io::Result<()> {
        let blk = 2 + msg.len();
        if self.pkt_count > 0 {
            let corrupt = self.corrupt.is_some();
            let reserve = if corrupt { BAD_BLOCK_RESERVE } else { 0 };
            let max_count = self.mold.max_messages_per_packet - u16::from(corrupt);
            if self.payload.len() + blk + reserve > self.mold.max_payload
                || self.pkt_count >= max_count
                || ts.saturating_sub(self.pkt_first_ts) > self.mold.flush_ns
            {
                self.flush()?;
            }
        }
        if self.pkt_count == 0 {
            self.start(ts);
            // A corrupted packet needs room for one good message next to its
            // bad block; when the count limit leaves none, it goes alone.
            while self.corrupt.is_some() && self.mold.max_messages_per_packet <= 1 {
                self.pkt_last_ts = ts;
                self.flush()?;
                self.start(ts);
            }
        }
        self.payload
            .extend_from_slice(&(msg.len() as u16).to_be_bytes());
        self.payload.extend_from_slice(msg);
        self.pkt_count += 1;
        self.next_seq += 1;
        self.pkt_last_ts = ts;
        Ok(())
    }

    fn start(&mut self, ts: u64) {
        self.payload.clear();
        self.payload.extend_from_slice(&[0; MOLD_HEADER_LEN]);
        self.pkt_seq = self.next_seq;
        self.pkt_first_ts = ts;
        self.corrupt = self.pending_corrupt.take();
    }

    fn header(&mut self, seq: u64, count: u16) {
        let h = crate::mold_packet::control_packet(&self.mold.session, seq, count);
        self.payload[..MOLD_HEADER_LEN].copy_from_slice(&h);
    }

    fn vlan(&mut self) -> Option<u16> {
        let id = self.faults.vlan_id?;
        self.rng.chance(self.faults.vlan_rate).then_some(id)
    }

    /// Write `self.frame` as the next pcap record.
    fn emit(&mut self, kind: FrameKind, seq: u64, count: u16) -> io::Result<()> {
        let ts_ns = self.midnight_ns + self.pkt_last_ts;
        self.w.write_packet_ns(ts_ns, &self.frame)?;
        let c = &mut self.m.packets;
        let index = c.frames;
        c.frames += 1;
        let vlan = self.frame.len() >= 14 && self.frame[12..14] == ETH_VLAN.to_be_bytes();
        c.vlan_tagged += u64::from(vlan);
        match kind {
            FrameKind::Data => c.data += 1,
            FrameKind::Heartbeat => c.heartbeat += 1,
            FrameKind::EndOfSession => c.end_of_session += 1,
            FrameKind::Duplicate => c.duplicate += 1,
            FrameKind::Dropped => c.dropped += 1,
            FrameKind::Malformed(k) => c.malformed[k.index()] += 1,
            FrameKind::Filtered(k) => c.filtered[k.index()] += 1,
        }
        if let Some(log) = self.log.as_deref_mut() {
            log.push(PacketRecord {
                frame_index: Some(index),
                kind,
                sequence: seq,
                count,
                vlan,
                ts_ns,
            });
        }
        Ok(())
    }

    /// Build the UDP frame around `self.payload`.
    fn build(&mut self) {
        let vlan = self.vlan();
        let port = self.fb.dst_port();
        self.fb.udp(&mut self.frame, vlan, port, &self.payload);
    }

    fn flush(&mut self) -> io::Result<()> {
        let n = self.pkt_count;
        let seq = self.pkt_seq;
        match self.corrupt.take() {
            Some(kind) => {
                // Good messages seq..seq+n-1, then the bad block, which takes
                // sequence number seq+n (== next_seq) and is counted.
                self.header(seq, n + 1);
                self.bad_block(kind);
                self.m.bad_block_sequences.push(self.next_seq);
                self.next_seq += 1;
                self.build();
                self.emit(FrameKind::Malformed(kind), seq, n + 1)?;
            }
            None if self.rng.chance(self.faults.drop_rate) => {
                self.m.packets.dropped += 1;
                self.m.messages_lost_to_drops += u64::from(n);
                if let Some(log) = self.log.as_deref_mut() {
                    log.push(PacketRecord {
                        frame_index: None,
                        kind: FrameKind::Dropped,
                        sequence: seq,
                        count: n,
                        vlan: false,
                        ts_ns: self.midnight_ns + self.pkt_last_ts,
                    });
                }
            }
            None => {
                self.header(seq, n);
                self.build();
                self.emit(FrameKind::Data, seq, n)?;
                self.save_for_dup(seq, n);
                if self.rng.chance(self.faults.dup_rate) {
                    let i = self.rng.below(self.ring.len() as u64) as usize;
                    std::mem::swap(&mut self.frame, &mut self.ring[i].frame);
                    let (s, c) = (self.ring[i].seq, self.ring[i].count);
                    let r = self.emit(FrameKind::Duplicate, s, c);
                    std::mem::swap(&mut self.frame, &mut self.ring[i].frame);
                    r?;
                }
            }
        }
        self.pkt_count = 0;
        self.after_packet()
    }

    fn save_for_dup(&mut self, seq: u64, count: u16) {
        if self.ring.len() < DUP_RING {
            self.ring.push(Saved {
                frame: self.frame.clone(),
                seq,
                count,
            });
        } else {
            let s = &mut self.ring[self.ring_next];
            s.frame.clear();
            s.frame.extend_from_slice(&self.frame);
            s.seq = seq;
            s.count = count;
            self.ring_next = (self.ring_next + 1) % DUP_RING;
        }
    }

    /// A Mold packet with a single Order Delete for order 0 (never a live
    /// order) claiming the next sequence number: what a parser that fails to
    /// reject a malformed or foreign frame would wrongly apply.
    fn build_poison(&mut self) {
        let p = &mut self.poison;
        p.clear();
        p.extend_from_slice(&self.mold.session);
        p.extend_from_slice(&self.next_seq.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        p.extend_from_slice(&19u16.to_be_bytes());
        p.push(b'D');
        p.extend_from_slice(&[0, 0, 0, 0]);
        p.extend_from_slice(&self.pkt_last_ts.to_be_bytes()[2..8]);
        p.extend_from_slice(&0u64.to_be_bytes());
    }

    fn after_packet(&mut self) -> io::Result<()> {
        if self.rng.chance(self.faults.malformed_rate) {
            let kind = MalformedKind::ALL[self.malformed_cycle % MalformedKind::ALL.len()];
            self.malformed_cycle += 1;
            if kind.in_packet() {
                // Applied to the next data packet (if the stream has one).
                if self.pending_corrupt.is_none() {
                    self.pending_corrupt = Some(kind);
                }
            } else {
                self.build_poison();
                let vlan = self.vlan();
                let tag = self.faults.vlan_id.unwrap_or(100);
                self.fb.malformed(
                    &mut self.frame,
                    vlan,
                    tag,
                    kind,
                    &self.poison,
                    &mut self.rng,
                );
                self.emit(FrameKind::Malformed(kind), 0, 0)?;
            }
        }
        if self.rng.chance(self.faults.filtered_rate) {
            let kind = FilteredKind::ALL[self.filtered_cycle % FilteredKind::ALL.len()];
            self.filtered_cycle += 1;
            self.build_poison();
            let vlan = self.vlan();
            self.fb.filtered(&mut self.frame, vlan, kind, &self.poison);
            self.emit(FrameKind::Filtered(kind), 0, 0)?;
        }
        if self.mold.heartbeat_every > 0 {
            self.since_heartbeat += 1;
            if self.since_heartbeat >= self.mold.heartbeat_every {
                self.since_heartbeat = 0;
                self.control_packet(0, FrameKind::Heartbeat)?;
            }
        }
        Ok(())
    }

    fn control_packet(&mut self, count: u16, kind: FrameKind) -> io::Result<()> {
        self.payload.clear();
        self.payload.extend_from_slice(&[0; MOLD_HEADER_LEN]);
        let seq = self.next_seq;
        self.header(seq, count);
        self.build();
        self.emit(kind, seq, count)
    }

    /// Append the bad last block of a corrupted packet (at most
    /// `BAD_BLOCK_RESERVE` bytes).
    fn bad_block(&mut self, kind: MalformedKind) {
        let mut msg = [0u8; 64];
        // A plausible header: type, locate, tracking, timestamp.
        msg[1..3].copy_from_slice(&1u16.to_be_bytes());
        msg[5..11].copy_from_slice(&self.pkt_last_ts.to_be_bytes()[2..8]);
        for (i, b) in msg.iter_mut().enumerate().skip(11) {
            *b = (i as u8).wrapping_mul(37);
        }
        let p = &mut self.payload;
        match kind {
            MalformedKind::UnknownMessageType => {
                msg[0] = self.rng.pick(&UNKNOWN_TYPES);
                let len = self.rng.range(12, 50) as usize;
                p.extend_from_slice(&(len as u16).to_be_bytes());
                p.extend_from_slice(&msg[..len]);
            }
            MalformedKind::WrongMessageLength => {
                let t = self.rng.pick(&ALL_TYPES);
                msg[0] = t;
                let spec = message_len(t).unwrap_or(12) as i64;
                let mut delta = self.rng.range(1, 10) as i64;
                if self.rng.chance(0.5) {
                    delta = -delta;
                }
                let len = (spec + delta).clamp(1, 64) as usize;
                p.extend_from_slice(&(len as u16).to_be_bytes());
                p.extend_from_slice(&msg[..len]);
            }
            _ => {
                // Block overrun: the length claims more bytes than remain.
                msg[0] = b'A';
                let present = self.rng.range(0, 30) as usize;
                let claim = present + self.rng.range(1, 60) as usize;
                p.extend_from_slice(&(claim as u16).to_be_bytes());
                p.extend_from_slice(&msg[..present]);
            }
        }
    }

    /// Flush the last packet, send end-of-session and return the manifest.
    pub(crate) fn finish(mut self) -> io::Result<PcapManifest> {
        if self.pkt_count > 0 {
            self.flush()?;
        }
        self.control_packet(END_OF_SESSION_COUNT, FrameKind::EndOfSession)?;
        self.w.flush()?;
        let mut m = std::mem::take(&mut self.m);
        m.next_sequence = self.next_seq;
        m.last_sequence = self.next_seq.saturating_sub(1);
        Ok(m)
    }
}
