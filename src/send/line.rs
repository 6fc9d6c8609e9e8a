//! One publishing line (A or B): its packets, impairments and counters.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::impair::{Fate, Impairer};
use super::pace::Pacer;
use crate::mold_packet::{control_packet, Packet, PacketCutter, SessionName, COUNT_END_OF_SESSION};

/// What one line did; the summary prints these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineCounters {
    /// Data packets cut for this line (whatever became of them).
    pub data_packets: u64,
    /// Messages in those packets.
    pub messages: u64,
    /// Data datagrams that went out, duplicates included.
    pub packets_sent: u64,
    /// Messages in data packets that went out (a duplicate counts once).
    pub messages_sent: u64,
    /// Data packets dropped (`dropped_by_range` + `lost`).
    pub packets_dropped: u64,
    /// Messages in dropped packets.
    pub messages_dropped: u64,
    /// Packets dropped because they carry a sequence of a drop range.
    pub dropped_by_range: u64,
    /// Packets lost by chance.
    pub lost: u64,
    /// Packets sent a second time.
    pub duplicated: u64,
    /// Packets sent after the packet that followed them.
    pub reordered: u64,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// End-of-session packets sent.
    pub end_of_session: u64,
    /// UDP payload bytes sent, all datagrams.
    pub bytes_sent: u64,
}

impl LineCounters {
    /// The counters as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "data_packets": self.data_packets,
            "messages": self.messages,
            "packets_sent": self.packets_sent,
            "messages_sent": self.messages_sent,
            "packets_dropped": self.packets_dropped,
            "messages_dropped": self.messages_dropped,
            "dropped_by_range": self.dropped_by_range,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "reordered": self.reordered,
            "heartbeats": self.heartbeats,
            "end_of_session": self.end_of_session,
            "bytes_sent": self.bytes_sent,
        })
    }
}

/// A packet held back to go out after the next one.
#[derive(Debug)]
struct Held {
    bytes: Vec<u8>,
    count: u16,
    duplicate: bool,
}

/// A line being published.
#[derive(Debug)]
pub(crate) struct Line<'a> {
    pub(crate) name: &'static str,
    pub(crate) dest: SocketAddr,
    session: SessionName,
    cutter: PacketCutter<'a>,
    impairer: Impairer,
    /// The next packet and when it is due (ns after the start; `None`: now).
    pub(crate) next: Option<(Packet<'a>, Option<u64>)>,
    held: Option<Held>,
    pub(crate) last_sent: Instant,
    pub(crate) counters: LineCounters,
    buf: Vec<u8>,
}

impl<'a> Line<'a> {
    pub(crate) fn new(
        name: &'static str,
        dest: SocketAddr,
        session: SessionName,
        cutter: PacketCutter<'a>,
        impairer: Impairer,
    ) -> Self {
        Line {
            name,
            dest,
            session,
            cutter,
            impairer,
            next: None,
            held: None,
            last_sent: Instant::now(),
            counters: LineCounters::default(),
            buf: Vec::new(),
        }
    }

    /// Cuts the next packet. Paced, a message joins only if it is due
    /// within `window_ns` of the packet's first message, and the packet is
    /// due when its last message is.
    pub(crate) fn refill(&mut self, pacer: &Pacer, window_ns: u64) {
        let mut first_due: Option<u64> = None;
        let mut last_due: Option<u64> = None;
        let mut started = false;
        let p = self.cutter.next_packet_while(|seq, msg| {
            let due = pacer.due_ns(seq, msg);
            if !started {
                started = true;
                (first_due, last_due) = (due, due);
                return true;
            }
            match (first_due, due) {
                (Some(f), Some(d)) if d.saturating_sub(f) > window_ns => false,
                (None, Some(d)) => {
                    (first_due, last_due) = (Some(d), Some(d));
                    true
                }
                (_, Some(d)) => {
                    last_due = Some(last_due.map_or(d, |l| l.max(d)));
                    true
                }
                (_, None) => true,
            }
        });
        self.next = p.map(|p| (p, last_due));
    }

    /// The sequence after every packet published so far.
    pub(crate) fn next_sequence(&self) -> u64 {
        match &self.next {
            Some((p, _)) => p.sequence,
            None => self.cutter.next_sequence(),
        }
    }

    fn send(&mut self, sock: &UdpSocket, bytes: &[u8]) -> Result<()> {
        send_retrying(sock, bytes, self.dest)
            .with_context(|| format!("line {}: sending to {}", self.name, self.dest))?;
        self.counters.bytes_sent += bytes.len() as u64;
        self.last_sent = Instant::now();
        Ok(())
    }

    fn send_data(&mut self, sock: &UdpSocket, bytes: &[u8], count: u16, dup: bool) -> Result<()> {
        self.send(sock, bytes)?;
        self.counters.packets_sent += 1;
        self.counters.messages_sent += u64::from(count);
        if dup {
            self.send(sock, bytes)?;
            self.counters.packets_sent += 1;
            self.counters.duplicated += 1;
        }
        Ok(())
    }

    /// Publishes the pending packet (`self.next`) through the impairments.
    pub(crate) fn publish(&mut self, sock: &UdpSocket) -> Result<()> {
        let Some((p, _)) = self.next.take() else {
            return Ok(());
        };
        self.counters.data_packets += 1;
        self.counters.messages += u64::from(p.count);
        let fate = self.impairer.fate(p.sequence, p.end_sequence() - 1);
        let (duplicate, reorder) = match fate {
            Fate::DroppedByRange | Fate::Lost => {
                if fate == Fate::Lost {
                    self.counters.lost += 1;
                } else {
                    self.counters.dropped_by_range += 1;
                }
                self.counters.packets_dropped += 1;
                self.counters.messages_dropped += u64::from(p.count);
                return Ok(());
            }
            Fate::Sent { duplicate, reorder } => (duplicate, reorder),
        };
        let mut buf = std::mem::take(&mut self.buf);
        p.write_into(&self.session, &mut buf);
        if reorder && self.held.is_none() {
            self.held = Some(Held {
                bytes: buf,
                count: p.count,
                duplicate,
            });
            return Ok(());
        }
        let r = self.send_data(sock, &buf, p.count, duplicate);
        self.buf = buf;
        r?;
        if let Some(h) = self.held.take() {
            self.counters.reordered += 1;
            self.send_data(sock, &h.bytes, h.count, h.duplicate)?;
        }
        Ok(())
    }

    /// Sends a held-back packet now (before a heartbeat, or at the end).
    pub(crate) fn release_held(&mut self, sock: &UdpSocket) -> Result<()> {
        if let Some(h) = self.held.take() {
            self.send_data(sock, &h.bytes, h.count, h.duplicate)?;
        }
        Ok(())
    }

    /// Sends a heartbeat (`COUNT_HEARTBEAT`) or end-of-session packet
    /// carrying the next sequence number.
    pub(crate) fn control(&mut self, sock: &UdpSocket, count: u16) -> Result<()> {
        self.release_held(sock)?;
        let pkt = control_packet(&self.session, self.next_sequence(), count);
        self.send(sock, &pkt)?;
        if count == COUNT_END_OF_SESSION {
            self.counters.end_of_session += 1;
        } else {
            self.counters.heartbeats += 1;
        }
        Ok(())
    }
}

/// `send_to`, waiting out a full socket buffer (ENOBUFS, EAGAIN) for up to
/// a second: at full speed the kernel can run short for a moment.
fn send_retrying(sock: &UdpSocket, bytes: &[u8], dest: SocketAddr) -> io::Result<()> {
    let mut tries = 0;
    loop {
        match sock.send_to(bytes, dest) {
            Ok(_) => return Ok(()),
            Err(e)
                if tries < 10_000
                    && (e.kind() == io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::ENOBUFS)) =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_micros(100));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
