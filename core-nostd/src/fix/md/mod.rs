//! The market-data application on top of a FIX session: MarketDataRequest
//! (35=V) in, MarketDataSnapshotFullRefresh (35=W) and
//! MarketDataRequestReject (35=Y) out, subscriptions with conflation.
//!
//! Sans-IO like the session: the caller passes time, bytes and buffers.
//! Changes reach a session through [`MdSession::on_change`], which only
//! marks the (subscription, locate) pending; [`MdSession::flush`] writes the
//! latest state of every pending one. A consumer that cannot take its
//! updates therefore gets the newest state per symbol, never a backlog
//! (conflation), and one stuck for two HeartBtInt is logged out.

mod book_store;
mod request;
#[cfg(test)]
mod tests;

pub use book_store::{index_len, BookSlot, BookStore, Change, StoreError};

use crate::engine::BookRecord;

use super::parse::Message;
use super::session::{Session, SessionState, Step};
use super::writer::Body;
use super::{CompId, FixError};
use request::{parse_request, Request, RequestError};

/// MDEntryType 0 (bid) wanted.
pub const ENTRY_BID: u8 = 1;
/// MDEntryType 1 (offer) wanted.
pub const ENTRY_OFFER: u8 = 2;
/// MDEntryType 9 (VWAP) wanted.
pub const ENTRY_VWAP: u8 = 4;
/// Longest MDReqID (262) served; a longer one is refused (35=Y echoing it,
/// or a session Reject 373=5 beyond [`MAX_ECHOED_MD_REQ_ID`]).
pub const MAX_MD_REQ_ID: usize = 64;
/// Longest over-long MDReqID echoed in the 35=Y that refuses it: the Y must
/// fit what [`MIN_OUT`] leaves after the session's own answer.
pub const MAX_ECHOED_MD_REQ_ID: usize = 512;
/// Smallest `out` for [`MdSession::on_input`]: the session's own answer and
/// a reject.
pub const MIN_OUT: usize = 2 * super::session::MIN_OUT;

const WORDS: usize = 65_536 / 64;

/// One subscription (or snapshot request still being answered).
#[derive(Clone)]
pub struct Subscription {
    in_use: bool,
    updates: bool,
    depth: u8,
    types: u8,
    id_len: u8,
    id: [u8; MAX_MD_REQ_ID],
    pending_count: u32,
    symbols: [u64; WORDS],
    pending: [u64; WORDS],
}

impl Subscription {
    /// An unused slot.
    pub const EMPTY: Self = Self {
        in_use: false,
        updates: false,
        depth: 0,
        types: 0,
        id_len: 0,
        id: [0; MAX_MD_REQ_ID],
        pending_count: 0,
        symbols: [0; WORDS],
        pending: [0; WORDS],
    };

    /// MDReqID.
    pub fn id(&self) -> &[u8] {
        self.id.get(..usize::from(self.id_len)).unwrap_or(&[])
    }

    fn clear(&mut self) {
        self.in_use = false;
        self.pending_count = 0;
        self.symbols = [0; WORDS];
        self.pending = [0; WORDS];
    }

    #[inline]
    fn has(&self, locate: u16) -> bool {
        let l = usize::from(locate);
        self.symbols
            .get(l >> 6)
            .is_some_and(|w| w & (1 << (l & 63)) != 0)
    }

    /// Marks a locate pending; false when it already was (conflated).
    #[inline]
    fn mark(&mut self, locate: u16) -> bool {
        let l = usize::from(locate);
        let Some(w) = self.pending.get_mut(l >> 6) else {
            return true;
        };
        let bit = 1u64 << (l & 63);
        if *w & bit != 0 {
            return false;
        }
        *w |= bit;
        self.pending_count += 1;
        true
    }
}

impl core::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Subscription")
            .field("in_use", &self.in_use)
            .field("id", &self.id())
            .field("depth", &self.depth)
            .field("types", &self.types)
            .field("pending", &self.pending_count)
            .finish()
    }
}

/// What a market-data session counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MdCounters {
    /// MarketDataRequests accepted (subscriptions, snapshots, disables).
    pub requests: u64,
    /// MarketDataRequestRejects (35=Y) sent.
    pub request_rejects: u64,
    /// Session Rejects (35=3) sent, for any reason (bad requests and the
    /// session's own checks).
    pub session_rejects: u64,
    /// Session Rejects (35=3) received from the client.
    pub rejects_received: u64,
    /// Garbled messages dropped once logged on.
    pub garbled: u64,
    /// BusinessMessageRejects (35=j) sent.
    pub business_rejects: u64,
    /// Snapshots (35=W) sent.
    pub snapshots: u64,
    /// Updates folded into one still pending (slow consumer).
    pub conflated: u64,
    /// Logged out for staying blocked longer than two HeartBtInt.
    pub slow_consumer_logouts: u64,
}

/// What [`MdSession::flush`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flush {
    /// Bytes written to `out`.
    pub written: usize,
    /// Snapshots still pending (they did not fit).
    pub more: bool,
}

/// A FIX session serving market data.
#[derive(Debug)]
pub struct MdSession<'s> {
    session: Session,
    subs: &'s mut [Subscription],
    max_depth: u8,
    counters: MdCounters,
    blocked_since: Option<u64>,
    must_close: bool,
}

impl<'s> MdSession<'s> {
    /// A session over `subs` (its subscription slots, cleared here) serving
    /// up to `max_depth` levels per side (at most
    /// [`crate::engine::RECORD_DEPTH`]).
    pub fn new(session: Session, subs: &'s mut [Subscription], max_depth: u8) -> Self {
        subs.iter_mut().for_each(Subscription::clear);
        Self {
            session,
            subs,
            max_depth: max_depth.clamp(1, crate::engine::RECORD_DEPTH as u8),
            counters: MdCounters::default(),
            blocked_since: None,
            must_close: false,
        }
    }

    /// Before the Logon, which client CompID this session serves (see
    /// [`Session::set_target`]).
    pub fn set_client(&mut self, client: CompId) {
        self.session.set_target(client);
    }

    /// Gives back the session and the subscription slots (for reuse by the
    /// next connection).
    pub fn into_parts(self) -> (Session, &'s mut [Subscription]) {
        (self.session, self.subs)
    }

    /// The FIX session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Counters.
    pub fn counters(&self) -> &MdCounters {
        &self.counters
    }

    /// Active subscriptions (263=1).
    pub fn subscriptions(&self) -> usize {
        self.subs.iter().filter(|s| s.in_use && s.updates).count()
    }

    /// The connection must be closed once `out` has been sent (logged out or
    /// failed).
    pub fn must_close(&self) -> bool {
        self.must_close || self.session.state() == SessionState::Closed
    }

    /// Handles at most one message from `input`, like [`Session::on_input`],
    /// answering MarketDataRequests and rejecting what we do not serve.
    /// `out` needs [`MIN_OUT`] bytes.
    pub fn on_input<'a>(
        &mut self,
        now_ns: u64,
        input: &'a [u8],
        out: &mut [u8],
        books: &BookStore<'_>,
    ) -> Step<'a> {
        let mut step = self.session.on_input(now_ns, input, out);
        if let super::session::Event::App(msg) = step.event {
            let rest = out.get_mut(step.written..).unwrap_or_default();
            if let Ok(n) = self.on_app(now_ns, &msg, rest, books) {
                step.written += n;
            }
        }
        let c = self.session.counters();
        self.counters.session_rejects = c.rejects_sent;
        self.counters.rejects_received = c.rejects_received;
        self.counters.garbled = c.garbled;
        step
    }

    /// Session timers, and the slow-consumer rule.
    pub fn poll(&mut self, now_ns: u64, out: &mut [u8]) -> Step<'static> {
        let mut step = self.session.poll(now_ns, out);
        let limit = self.session.heartbeat_ns().saturating_mul(2);
        if let Some(since) = self.blocked_since {
            if limit > 0 && now_ns.saturating_sub(since) > limit && !self.must_close {
                self.must_close = true;
                self.counters.slow_consumer_logouts += 1;
                let rest = out.get_mut(step.written..).unwrap_or_default();
                if let Ok(n) = self.session.logout(
                    now_ns,
                    b"slow consumer: updates could not be delivered for two HeartBtInt",
                    rest,
                ) {
                    step.written += n;
                }
            }
        }
        step
    }

    /// A locate changed: marks it pending on every subscription that sees
    /// the change.
    pub fn on_change(&mut self, locate: u16, change: &Change) {
        if !change.any() {
            return;
        }
        for s in self.subs.iter_mut() {
            if s.in_use
                && s.updates
                && s.has(locate)
                && change.visible(s.depth, s.types)
                && !s.mark(locate)
            {
                self.counters.conflated += 1;
            }
        }
    }

    /// Since when (ns) snapshots have been waiting for room, if they are.
    pub fn blocked_since(&self) -> Option<u64> {
        self.blocked_since
    }

    /// Tells the session whether its connection still holds bytes it
    /// wrote and the peer has not taken (the caller's backlog). While it
    /// does, the slow-consumer clock runs even with nothing pending: a
    /// consumer whose snapshots were all written but never read is blocked
    /// too. Once it does not and nothing is pending, the clock stops.
    pub fn output_waiting(&mut self, now_ns: u64, waiting: bool) {
        if waiting {
            if self.session.state() == SessionState::Active && !self.must_close {
                self.blocked_since.get_or_insert(now_ns);
            }
        } else if !self.has_pending() {
            self.blocked_since = None;
        }
    }

    /// Whether snapshots are waiting to be written.
    pub fn has_pending(&self) -> bool {
        self.subs.iter().any(|s| s.in_use && s.pending_count > 0)
    }

    /// Writes pending snapshots (the latest state of each) into `out` while
    /// whole messages fit. Call it with what the connection can take now; a
    /// session that keeps snapshots waiting for two HeartBtInt is logged out
    /// by [`MdSession::poll`].
    pub fn flush(&mut self, now_ns: u64, out: &mut [u8], books: &BookStore<'_>) -> Flush {
        let mut pos = 0;
        let mut more = false;
        if self.session.state() != SessionState::Active || self.must_close {
            return Flush {
                written: 0,
                more: false,
            };
        }
        'subs: for si in 0..self.subs.len() {
            let Some(sub) = self.subs.get(si) else {
                break;
            };
            if !sub.in_use || sub.pending_count == 0 {
                continue;
            }
            for wi in 0..WORDS {
                let mut word = self.subs[si].pending[wi];
                while word != 0 {
                    let bit = word.trailing_zeros() as usize;
                    let locate = (wi * 64 + bit) as u16;
                    let Some(slot) = books.get(locate) else {
                        word &= word - 1;
                        continue;
                    };
                    let sub = &self.subs[si];
                    let (id, depth, types) = (sub.id, sub.depth, sub.types);
                    let id = &id[..usize::from(sub.id_len)];
                    let rest = out.get_mut(pos..).unwrap_or_default();
                    match self.session.send(now_ns, b"W", rest, |b| {
                        write_snapshot(b, id, &slot.record, depth, types)
                    }) {
                        Ok(n) => {
                            pos += n;
                            self.counters.snapshots += 1;
                            word &= word - 1;
                            let sub = &mut self.subs[si];
                            sub.pending[wi] &= !(1u64 << bit);
                            sub.pending_count -= 1;
                        }
                        Err(_) => {
                            more = true;
                            break 'subs;
                        }
                    }
                }
            }
            let sub = &mut self.subs[si];
            if !sub.updates && sub.pending_count == 0 {
                sub.clear(); // a snapshot request, answered
            }
        }
        if more {
            self.blocked_since.get_or_insert(now_ns);
        } else {
            self.blocked_since = None;
        }
        Flush { written: pos, more }
    }

    fn on_app(
        &mut self,
        now_ns: u64,
        msg: &Message<'_>,
        out: &mut [u8],
        books: &BookStore<'_>,
    ) -> Result<usize, FixError> {
        if msg.msg_type() != b"V" {
            self.counters.business_rejects += 1;
            return self.session.business_reject(
                now_ns,
                msg,
                3,
                // QuickFIX's text (case 2r); 380=3 says the rest.
                b"Unsupported Message Type",
                out,
            );
        }
        match parse_request(msg, self.max_depth) {
            Err(RequestError::Session { tag, reason, text }) => {
                // Counted by the session (synced in `on_input`).
                self.session.reject(now_ns, msg, tag, reason, text, out)
            }
            Err(RequestError::Md { id, reason, text }) => {
                self.md_reject(now_ns, id, reason, text, out)
            }
            Ok(req) => self.on_request(now_ns, msg, &req, out, books),
        }
    }

    fn on_request(
        &mut self,
        now_ns: u64,
        msg: &Message<'_>,
        req: &Request<'_>,
        out: &mut [u8],
        books: &BookStore<'_>,
    ) -> Result<usize, FixError> {
        let existing = self.subs.iter().position(|s| s.in_use && s.id() == req.id);
        if req.kind == 2 {
            return match existing {
                Some(i) => {
                    self.subs[i].clear();
                    self.counters.requests += 1;
                    Ok(0)
                }
                None => self.md_reject(
                    now_ns,
                    req.id,
                    None,
                    b"no active request with this MDReqID",
                    out,
                ),
            };
        }
        if existing.is_some() {
            return self.md_reject(now_ns, req.id, Some(b'1'), b"duplicate MDReqID", out);
        }
        // Every symbol must be known before anything is subscribed.
        for sym in req.symbols(msg) {
            if books.lookup(sym).is_none() {
                let mut text = [0u8; 48];
                let n = unknown_symbol_text(sym, &mut text);
                return self.md_reject(now_ns, req.id, Some(b'0'), &text[..n], out);
            }
        }
        let Some(slot) = self.subs.iter().position(|s| !s.in_use) else {
            return self.md_reject(
                now_ns,
                req.id,
                None,
                b"too many open requests on this session",
                out,
            );
        };
        let sub = &mut self.subs[slot];
        sub.clear();
        sub.in_use = true;
        sub.updates = req.kind == 1;
        sub.depth = req.depth;
        sub.types = req.types;
        // parse_request refused longer IDs: the whole ID is kept.
        let n = req.id.len().min(MAX_MD_REQ_ID);
        debug_assert_eq!(n, req.id.len());
        sub.id[..n].copy_from_slice(&req.id[..n]);
        sub.id_len = n as u8;
        for sym in req.symbols(msg) {
            if let Some(l) = books.lookup(sym) {
                let li = usize::from(l);
                sub.symbols[li >> 6] |= 1 << (li & 63);
                sub.mark(l);
            }
        }
        self.counters.requests += 1;
        Ok(0)
    }

    fn md_reject(
        &mut self,
        now_ns: u64,
        id: &[u8],
        reason: Option<u8>,
        text: &[u8],
        out: &mut [u8],
    ) -> Result<usize, FixError> {
        self.counters.request_rejects += 1;
        self.session.send(now_ns, b"Y", out, |b| {
            b.bytes(262, id)?;
            if let Some(r) = reason {
                b.bytes(281, &[r])?;
            }
            b.bytes(58, text)
        })
    }
}

fn unknown_symbol_text(sym: &[u8], buf: &mut [u8; 48]) -> usize {
    let head = b"unknown symbol ";
    buf[..head.len()].copy_from_slice(head);
    let n = sym.len().min(buf.len() - head.len());
    buf[head.len()..head.len() + n].copy_from_slice(&sym[..n]);
    head.len() + n
}

/// The body of a 35=W: 262, 55, 268, then bids best first, offers best
/// first, then the VWAP entry when the window holds executions.
pub fn write_snapshot(
    b: &mut Body<'_, '_>,
    md_req_id: &[u8],
    r: &BookRecord,
    depth: u8,
    types: u8,
) -> Result<(), FixError> {
    let depth = usize::from(depth);
    let bids = if types & ENTRY_BID != 0 {
        r.bids()
    } else {
        &[]
    };
    let asks = if types & ENTRY_OFFER != 0 {
        r.asks()
    } else {
        &[]
    };
    let (bids, asks) = (
        &bids[..bids.len().min(depth)],
        &asks[..asks.len().min(depth)],
    );
    let vwap = types & ENTRY_VWAP != 0 && r.volume > 0;
    b.bytes(262, md_req_id)?;
    b.bytes(55, r.symbol())?;
    b.uint_after(
        b"268=",
        (bids.len() + asks.len() + usize::from(vwap)) as u64,
    )?;
    // Prebuilt tag prefixes: an entry is five fields, a 10-level book 20
    // entries, so formatting tag numbers would be a third of the work.
    for (kind, side) in [(&b"269=0\x01270="[..], bids), (&b"269=1\x01270="[..], asks)] {
        for (i, l) in side.iter().enumerate() {
            b.price4_after(kind, u64::from(l.price))?;
            b.uint_after(b"271=", l.shares)?;
            b.uint_after(b"346=", u64::from(l.orders))?;
            b.uint_after(b"290=", i as u64 + 1)?;
        }
    }
    if vwap {
        b.price4_after(b"269=9\x01270=", r.vwap)?;
        b.uint_after(b"271=", r.volume)?;
    }
    Ok(())
}
