//! The FIX market-data publisher: book records in, FIX sessions out, over
//! any byte transport (kernel TCP in the replayer, smoltcp sockets on the
//! DPDK host). The session and market-data logic is the core's
//! ([`tickwire_core::fix::md`]); this holds the connections, their buffers
//! and the counters.

use std::fmt::Debug;

use tickwire_core::engine::BookRecord;
use tickwire_core::fix::md::{index_len, BookSlot, BookStore, MdCounters, MdSession, Subscription};
use tickwire_core::fix::parse::{frame, Framing, Message};
use tickwire_core::fix::session::{Event, Session, SessionConfig, SessionState};
use tickwire_core::fix::CompId;

/// A connection the transport reports as gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// Byte streams the publisher serves sessions over.
pub trait Transport {
    /// A connection's handle.
    type Conn: Copy + Eq + Debug;
    /// Reads what has arrived (0: nothing now).
    fn recv(&mut self, c: Self::Conn, buf: &mut [u8]) -> Result<usize, Closed>;
    /// Queues bytes to send; returns how many were taken (may be short).
    fn send(&mut self, c: Self::Conn, data: &[u8]) -> Result<usize, Closed>;
    /// Bytes `send` would take now.
    fn send_capacity(&self, c: Self::Conn) -> usize;
    /// Closes after what was queued has gone.
    fn close(&mut self, c: Self::Conn);
    /// Drops the connection at once (a reset): for a peer that no longer
    /// reads, whose queued bytes would never go.
    fn abort(&mut self, c: Self::Conn);
}

/// Publisher settings.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// Session settings shared by every connection (`session.target` is
    /// the first of `clients`).
    pub session: SessionConfig,
    /// The client CompIDs that may log on (their SenderCompID, our 56).
    pub clients: Vec<CompId>,
    /// Each client CompID in one session at a time: a Logon from a CompID
    /// logged on already over another connection is refused (closed
    /// unanswered, as QuickFIX does). Off: connections are sessions, and
    /// several may share CompIDs.
    pub one_session_per_client: bool,
    /// Most concurrent connections; more are closed at once and counted.
    pub max_sessions: usize,
    /// Open MarketDataRequests per session.
    pub requests_per_session: usize,
    /// Levels per side served (1..=RECORD_DEPTH).
    pub max_depth: u8,
    /// Locates covered.
    pub max_locates: usize,
}

/// Storage a publisher borrows: the book store and every session's
/// subscription slots.
pub struct PublisherStorage {
    slots: Vec<BookSlot>,
    index: Vec<u32>,
    subs: Vec<Subscription>,
}

impl PublisherStorage {
    /// Storage for `config`.
    pub fn new(config: &PublisherConfig) -> Self {
        let locates = config.max_locates.clamp(1, 65_536);
        Self {
            slots: vec![BookSlot::default(); locates],
            index: vec![0; index_len(locates)],
            subs: vec![
                Subscription::EMPTY;
                config.max_sessions.max(1) * config.requests_per_session.max(1)
            ],
        }
    }
}

/// Counters over the publisher's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublisherCounters {
    /// Connections accepted into a session.
    pub sessions_accepted: u64,
    /// Connections closed at once: --fix-max-sessions reached.
    pub sessions_refused: u64,
    /// Sessions ended (any reason).
    pub sessions_closed: u64,
    /// Sessions that logged on.
    pub logons: u64,
    /// Logons refused because their CompID was logged on already on
    /// another connection (closed without an answer).
    pub duplicate_logons: u64,
    /// Records received.
    pub records: u64,
    /// Records that changed something.
    pub records_changed: u64,
    /// Market-data counters of sessions already closed.
    pub closed_md: MdCounters,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
}

const SCRATCH: usize = 64 * 1024;
/// Room for the largest message the parser frames (BodyLength up to 64 KiB
/// plus header and trailer) with space to spare.
const INPUT_MAX: usize = 96 * 1024;

struct Conn<'s, C> {
    id: C,
    md: MdSession<'s>,
    /// Received bytes: `input[..input_len]` (allocated once, at accept).
    input: Box<[u8]>,
    input_len: usize,
    /// Written but not yet taken by the transport (admin messages are never
    /// dropped; snapshots are written only when this is empty).
    backlog: Vec<u8>,
    logged_on: bool,
    /// The client CompID its Logon named (one of `PublisherConfig::clients`).
    client: Option<CompId>,
}

/// The publisher, for connections of type `C` (any [`Transport`] with
/// `Conn = C` drives it).
pub struct Publisher<'s, C> {
    config: PublisherConfig,
    books: BookStore<'s>,
    free: Vec<&'s mut [Subscription]>,
    conns: Vec<Conn<'s, C>>,
    scratch: Vec<u8>,
    counters: PublisherCounters,
    answered: bool,
    last_boundary: Option<u64>,
}

impl<'s, C: Copy + Eq + Debug> Publisher<'s, C> {
    /// A publisher over `storage`.
    pub fn new(config: PublisherConfig, storage: &'s mut PublisherStorage) -> anyhow::Result<Self> {
        let books = BookStore::new(&mut storage.slots, &mut storage.index)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let free = storage
            .subs
            .chunks_mut(config.requests_per_session.max(1))
            .collect();
        Ok(Self {
            config,
            books,
            free,
            conns: Vec::new(),
            scratch: vec![0; SCRATCH],
            counters: PublisherCounters::default(),
            answered: false,
            last_boundary: None,
        })
    }

    /// Counters, with the live sessions' market-data counters added in.
    pub fn counters(&self) -> PublisherCounters {
        let mut c = self.counters;
        for conn in &self.conns {
            add_md(&mut c.closed_md, conn.md.counters());
        }
        c
    }

    /// Open sessions.
    pub fn sessions(&self) -> usize {
        self.conns.len()
    }

    /// Whether a MarketDataRequest has been accepted and its snapshots
    /// handed to the transport.
    pub fn request_answered(&self) -> bool {
        self.answered
    }

    /// Whether any session has snapshots or bytes waiting.
    pub fn has_backlog(&self) -> bool {
        self.conns
            .iter()
            .any(|c| !c.backlog.is_empty() || c.md.has_pending())
    }

    /// The boundary of the last record taken.
    pub fn last_boundary(&self) -> Option<u64> {
        self.last_boundary
    }

    /// Whether the next boundary's records may be taken now: every session
    /// has written what earlier boundaries gave it, or has been waiting for
    /// room longer than `grace_ns` (a slow consumer: it is conflated, and
    /// delays the others at most that long).
    pub fn ready_for_boundary(&self, now_ns: u64, grace_ns: u64) -> bool {
        self.conns.iter().all(|c| {
            (!c.md.has_pending() && c.backlog.is_empty())
                || c.md
                    .blocked_since()
                    .is_some_and(|t| now_ns.saturating_sub(t) > grace_ns)
                || c.md.session().state() != SessionState::Active
        })
    }

    /// A directory message.
    pub fn on_directory(&mut self, locate: u16, symbol: &[u8]) {
        self.books.on_directory(locate, symbol);
    }

    /// A book record from the engine. The first record of a new boundary
    /// first writes what the previous boundary left pending, so that every
    /// boundary's changes reach a session that keeps up (only one that does
    /// not is conflated).
    pub fn on_record<T: Transport<Conn = C>>(
        &mut self,
        transport: &mut T,
        now_ns: u64,
        r: &BookRecord,
    ) {
        if self.last_boundary != Some(r.boundary_ns) {
            if self.last_boundary.is_some() {
                self.flush(transport, now_ns);
            }
            self.last_boundary = Some(r.boundary_ns);
        }
        self.counters.records += 1;
        let change = self.books.on_record(r);
        if change.any() {
            self.counters.records_changed += 1;
            for c in &mut self.conns {
                c.md.on_change(r.locate, &change);
            }
        }
    }

    /// Writes every session's backlog and pending snapshots, as far as the
    /// transport takes them (closed connections are found by the next poll).
    pub fn flush<T: Transport<Conn = C>>(&mut self, transport: &mut T, now_ns: u64) {
        let Self {
            conns,
            books,
            scratch,
            counters,
            ..
        } = self;
        for conn in conns.iter_mut() {
            write_out(transport, conn, books, scratch, counters, now_ns);
        }
    }

    /// A connection the transport accepted.
    pub fn accept<T: Transport<Conn = C>>(&mut self, transport: &mut T, id: C, now_ns: u64) {
        let Some(subs) = self.free.pop() else {
            self.counters.sessions_refused += 1;
            transport.close(id);
            return;
        };
        self.counters.sessions_accepted += 1;
        let session = Session::new(&self.config.session, now_ns);
        self.conns.push(Conn {
            id,
            md: MdSession::new(session, subs, self.config.max_depth),
            input: vec![0; INPUT_MAX].into_boxed_slice(),
            input_len: 0,
            backlog: Vec::new(),
            logged_on: false,
            client: None,
        });
    }

    /// Reads, answers, runs timers and writes pending snapshots on every
    /// connection.
    pub fn poll<T: Transport<Conn = C>>(&mut self, transport: &mut T, now_ns: u64) {
        let mut i = 0;
        while i < self.conns.len() {
            let keep = self.poll_conn(i, transport, now_ns);
            if keep {
                i += 1;
            } else {
                let conn = self.conns.swap_remove(i);
                // Whoever ended it, the transport lets go of it too (a peer
                // that closed without a Logout leaves our side half open).
                if conn.md.counters().slow_consumer_logouts > 0 {
                    transport.abort(conn.id);
                } else {
                    transport.close(conn.id);
                }
                add_md(&mut self.counters.closed_md, conn.md.counters());
                self.counters.sessions_closed += 1;
                let (_, subs) = conn.md.into_parts();
                self.free.push(subs);
            }
        }
    }

    /// One connection; false when it is over.
    fn poll_conn<T: Transport<Conn = C>>(
        &mut self,
        i: usize,
        transport: &mut T,
        now_ns: u64,
    ) -> bool {
        let Self {
            config,
            conns,
            books,
            scratch,
            counters,
            answered,
            ..
        } = self;
        let conn = &mut conns[i];
        // Read.
        let mut gone = false;
        while conn.input_len < conn.input.len() {
            match transport.recv(conn.id, &mut conn.input[conn.input_len..]) {
                Ok(0) => break,
                Ok(n) => {
                    conn.input_len += n;
                    counters.bytes_received += n as u64;
                }
                Err(Closed) => {
                    gone = true;
                    break;
                }
            }
        }
        if !gone && conn.client.is_none() && !conn.logged_on {
            if let Some(client) = logon_client(&conn.input[..conn.input_len], &config.clients) {
                // One session per client CompID: a second Logon while the
                // first is logged on is dropped unanswered (QuickFIX's
                // duplicate identity rule).
                let taken = config.one_session_per_client
                    && conns.iter().enumerate().any(|(j, c)| {
                        j != i
                            && c.client == Some(client)
                            && c.logged_on
                            && c.md.session().state() != SessionState::Closed
                    });
                if taken {
                    counters.duplicate_logons += 1;
                    return false;
                }
                let conn = &mut conns[i];
                conn.client = Some(client);
                conn.md.set_client(client);
            }
        }
        let conn = &mut conns[i];
        // Answer whole messages.
        let mut consumed_total = 0;
        loop {
            let rest = &conn.input[consumed_total..conn.input_len];
            if rest.is_empty() || conn.md.must_close() {
                break;
            }
            let step = conn.md.on_input(now_ns, rest, scratch, books);
            conn.backlog.extend_from_slice(&scratch[..step.written]);
            if matches!(step.event, Event::LoggedOn) && !conn.logged_on {
                conn.logged_on = true;
                counters.logons += 1;
            }
            if step.consumed == 0 {
                break;
            }
            consumed_total += step.consumed;
        }
        conn.input.copy_within(consumed_total..conn.input_len, 0);
        conn.input_len -= consumed_total;
        let step = conn.md.poll(now_ns, scratch);
        conn.backlog.extend_from_slice(&scratch[..step.written]);
        if !gone && !write_out(transport, conn, books, scratch, counters, now_ns) {
            gone = true;
        }
        if conn.md.counters().requests > 0 && !conn.md.has_pending() && conn.backlog.is_empty() {
            *answered = true;
        }
        if gone {
            return false;
        }
        if conn.md.must_close() {
            // Whatever is left of the backlog (a Logout) goes best effort;
            // `poll` closes (or, for a consumer stuck behind unread data,
            // resets) the connection.
            return false;
        }
        true
    }
}

/// `--target CLIENT[,CLIENT2…]`: the client CompIDs that may log on, in
/// order (the first is also the 56 of the UDP datagrams); no duplicates.
pub fn parse_clients(list: &str) -> anyhow::Result<Vec<CompId>> {
    let mut out: Vec<CompId> = Vec::new();
    for name in list.split(',') {
        let id = CompId::new(name.as_bytes())
            .map_err(|e| anyhow::anyhow!("--target {name:?}: {e} (a CompID: 1 to 32 printable ASCII characters, no '=' or ',')"))?;
        if out.contains(&id) {
            anyhow::bail!("--target: {name:?} is listed twice");
        }
        out.push(id);
    }
    Ok(out)
}

/// The first CompID of a `--target` list: the 56 of messages that are not
/// sessions (the UDP datagrams, FIX to a file).
pub fn first_client(list: &str) -> &str {
    list.split(',').next().unwrap_or(list)
}

/// The allowed client CompID a Logon at the front of `input` names in its
/// SenderCompID, if it is one.
fn logon_client(input: &[u8], clients: &[CompId]) -> Option<CompId> {
    let Framing::Complete(n) = frame(input) else {
        return None;
    };
    let m = Message::new_checked(input.get(..n)?).ok()?;
    if m.msg_type() != b"A" {
        return None;
    }
    let sender = m.get(49)?;
    clients.iter().copied().find(|c| c.as_bytes() == sender)
}

/// Writes the backlog, then pending snapshots into what the transport can
/// take now; false when the connection is gone.
fn write_out<C: Copy, T: Transport<Conn = C>>(
    transport: &mut T,
    conn: &mut Conn<'_, C>,
    books: &BookStore<'_>,
    scratch: &mut [u8],
    counters: &mut PublisherCounters,
    now_ns: u64,
) -> bool {
    if !drain(transport, conn, counters) {
        return false;
    }
    while conn.md.has_pending() {
        let cap = if conn.backlog.is_empty() {
            transport.send_capacity(conn.id).min(scratch.len())
        } else {
            0
        };
        // With no room this records that the session is blocked (the
        // slow-consumer clock).
        let f = conn.md.flush(now_ns, &mut scratch[..cap], books);
        conn.backlog.extend_from_slice(&scratch[..f.written]);
        if !drain(transport, conn, counters) {
            return false;
        }
        if f.written == 0 || !f.more {
            break;
        }
    }
    conn.md.output_waiting(now_ns, !conn.backlog.is_empty());
    true
}

/// Sends as much of the backlog as the transport takes; false when the
/// connection is gone.
fn drain<C: Copy, T: Transport<Conn = C>>(
    transport: &mut T,
    conn: &mut Conn<'_, C>,
    counters: &mut PublisherCounters,
) -> bool {
    let mut sent = 0;
    while sent < conn.backlog.len() {
        match transport.send(conn.id, &conn.backlog[sent..]) {
            Ok(0) => break,
            Ok(n) => sent += n,
            Err(Closed) => return false,
        }
    }
    counters.bytes_sent += sent as u64;
    conn.backlog.drain(..sent);
    true
}

fn add_md(total: &mut MdCounters, c: &MdCounters) {
    total.requests += c.requests;
    total.request_rejects += c.request_rejects;
    total.session_rejects += c.session_rejects;
    total.rejects_received += c.rejects_received;
    total.garbled += c.garbled;
    total.business_rejects += c.business_rejects;
    total.snapshots += c.snapshots;
    total.conflated += c.conflated;
    total.slow_consumer_logouts += c.slow_consumer_logouts;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_lists() {
        let ids = parse_clients("CLIENT,CLIENT2").unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[1].as_bytes(), b"CLIENT2");
        assert_eq!(first_client("CLIENT,CLIENT2"), "CLIENT");
        for (bad, why) in [
            ("CLIENT,CLIENT", "listed twice"),
            ("CLIENT,", "CompID"),
            ("A=B", "CompID"),
        ] {
            let e = parse_clients(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn a_logon_names_its_client() {
        let clients = parse_clients("CLIENT,CLIENT2").unwrap();
        let logon = |sender: &str| {
            let body = format!("35=A\x0134=1\x0149={sender}\x0152=20240315-14:30:00\x0156=TICKWIRE\x0198=0\x01108=30\x01");
            let head = format!("8=FIX.4.4\x019={}\x01", body.len());
            let sum: u32 = head.bytes().chain(body.bytes()).map(u32::from).sum();
            format!("{head}{body}10={:03}\x01", sum % 256).into_bytes()
        };
        let got = logon_client(&logon("CLIENT2"), &clients).unwrap();
        assert_eq!(got.as_bytes(), b"CLIENT2");
        assert!(logon_client(&logon("OTHER"), &clients).is_none());
        let whole = logon("CLIENT");
        assert!(logon_client(&whole[..whole.len() - 1], &clients).is_none());
    }
}
