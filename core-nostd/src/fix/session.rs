//! The FIX 4.4 session layer, acceptor side, sans-IO: the caller passes the
//! time, the bytes received and a buffer for what to send.
//!
//! Market data keeps no message store, so every Logon starts both sequences
//! at 1 (ResetOnLogon) and a ResendRequest is answered with one
//! SequenceReset-GapFill over the whole range. The rules and the QuickFIX
//! acceptance cases they follow are listed at the top of `session/tests.rs`.
//!
//! For the application layer:
//! - Call [`Session::on_input`] until it consumes 0, sending `out[..written]`
//!   after each call *before* anything the application then writes (a
//!   ResendRequest can come with an application message).
//! - [`Event::App`] is returned only while [`SessionState::Active`], for a
//!   message that passed framing, BeginString, CompIDs, SendingTime,
//!   MsgSeqNum (expected, too high, or resent into an open gap: check 43=Y
//!   to skip duplicates), tag-number and MsgType checks, and, for a
//!   MarketDataRequest (V), FIX44.xml's field layout (fields defined for V,
//!   none repeated outside a group, header first). The message borrows the
//!   input: handle it before dropping those bytes.
//! - Answer with [`Session::send`], [`Session::reject`] (see
//!   [`reject_reason`]) or [`Session::business_reject`]
//!   ([`UNSUPPORTED_MSG_TYPE`]); all write nothing unless logged on.
//! - Call [`Session::poll`] at least every few hundred ms; on
//!   [`Event::Closed`] send what was written, then close the connection.

mod dict;
mod inbound;
mod time;

#[cfg(test)]
mod tests;

use super::parse::{frame, parse_tag, parse_uint, Framing, Message};
use super::writer::{Body, MessageWriter};
use super::{format_sending_time, CompId, FixError, Out, TimePrecision};
use time::parse_utc_timestamp;

/// Smallest `out` buffer the session needs for its own answers to one input
/// message or one poll.
pub const MIN_OUT: usize = 1024;
/// A connection that sends no Logon within this time is closed.
pub const LOGON_TIMEOUT_NS: u64 = 10 * NS_PER_S;
/// After our Logout, the peer's Logout is awaited this long.
pub const LOGOUT_TIMEOUT_NS: u64 = 2 * NS_PER_S;
/// Longest TestReqID (112) echoed; longer ones are rejected so the answer
/// always fits [`MIN_OUT`].
pub const MAX_TEST_REQ_ID: usize = 128;
/// HeartBtInt (108) accepted, in seconds.
pub const HEARTBEAT_RANGE_S: core::ops::RangeInclusive<u64> = 1..=3600;

const NS_PER_S: u64 = 1_000_000_000;
/// TestReqID of our TestRequests.
const TEST_REQ_ID: &[u8] = b"TEST";
/// Longest MsgType / tag text echoed in a Reject (372, 371): a garbage value
/// cannot overflow the answer.
const MAX_ECHO: usize = 16;

/// SessionRejectReason (373) values, for [`Session::reject`].
pub mod reject_reason {
    /// Invalid tag number.
    pub const INVALID_TAG: u32 = 0;
    /// Required tag missing.
    pub const REQUIRED_TAG_MISSING: u32 = 1;
    /// Tag not defined for this message type.
    pub const TAG_NOT_DEFINED_FOR_MSG_TYPE: u32 = 2;
    /// Undefined tag.
    pub const UNDEFINED_TAG: u32 = 3;
    /// Tag specified without a value.
    pub const NO_VALUE: u32 = 4;
    /// Value is incorrect (out of range) for this tag.
    pub const VALUE_INCORRECT: u32 = 5;
    /// Incorrect data format for value.
    pub const BAD_FORMAT: u32 = 6;
    /// CompID problem.
    pub const COMP_ID: u32 = 9;
    /// SendingTime accuracy problem.
    pub const SENDING_TIME: u32 = 10;
    /// Invalid MsgType.
    pub const INVALID_MSG_TYPE: u32 = 11;
    /// Tag appears more than once.
    pub const REPEATED_TAG: u32 = 13;
    /// Tag specified out of required order.
    pub const OUT_OF_ORDER: u32 = 14;
    /// Incorrect NumInGroup count for repeating group.
    pub const BAD_NUM_IN_GROUP: u32 = 16;
}

/// BusinessRejectReason (380) for a MsgType the application does not serve,
/// for [`Session::business_reject`].
pub const UNSUPPORTED_MSG_TYPE: u32 = 3;

use reject_reason::{
    BAD_FORMAT as R_BAD_FORMAT, BAD_NUM_IN_GROUP as R_BAD_NUM_IN_GROUP, COMP_ID as R_COMP_ID,
    INVALID_MSG_TYPE as R_INVALID_MSG_TYPE, INVALID_TAG as R_INVALID_TAG, NO_VALUE as R_NO_VALUE,
    OUT_OF_ORDER as R_OUT_OF_ORDER, REPEATED_TAG as R_REPEATED_TAG,
    REQUIRED_TAG_MISSING as R_REQUIRED_MISSING, SENDING_TIME as R_SENDING_TIME,
    TAG_NOT_DEFINED_FOR_MSG_TYPE as R_NOT_FOR_MSG_TYPE, VALUE_INCORRECT as R_VALUE_INCORRECT,
};

/// Session settings.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// Our CompID: SenderCompID (49) of what we send, TargetCompID (56) of
    /// what we receive.
    pub sender: CompId,
    /// The peer's CompID: 49 of what we receive, 56 of what we send.
    pub target: CompId,
    /// SendingTime precision of what we send.
    pub precision: TimePrecision,
    /// SendingTime (52) further than this from our clock is rejected.
    pub max_skew_ns: u64,
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SessionState {
    /// Connected; the first message must be a Logon.
    AwaitingLogon,
    /// Logged on.
    Active,
    /// We sent Logout and wait for the peer's.
    LogoutSent,
    /// Over: the caller closes the connection (after sending what was
    /// written).
    Closed,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CloseReason {
    /// Logout handshake completed (either side started it).
    Logout,
    /// First message was not a valid Logon, or the Logon was refused.
    LogonRefused,
    /// MsgSeqNum too low without PossDupFlag.
    SeqTooLow,
    /// Wrong BeginString or CompIDs.
    BadHeader,
    /// SendingTime too far from our clock.
    ClockSkew,
    /// The peer stayed silent after a TestRequest.
    TestRequestTimeout,
    /// The peer did not answer our Logout in time.
    LogoutTimeout,
    /// No Logon within [`LOGON_TIMEOUT_NS`] of the connection.
    LogonTimeout,
}

impl core::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Logout => "logout",
            Self::LogonRefused => "logon refused",
            Self::SeqTooLow => "MsgSeqNum too low",
            Self::BadHeader => "wrong BeginString or CompID",
            Self::ClockSkew => "SendingTime out of range",
            Self::TestRequestTimeout => "no answer to TestRequest",
            Self::LogoutTimeout => "no answer to Logout",
            Self::LogonTimeout => "no Logon",
        })
    }
}

impl core::error::Error for CloseReason {}

/// What one step produced besides bytes in `out`.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// Nothing for the application.
    None,
    /// The peer logged on (our Logon answer is in `out`).
    LoggedOn,
    /// An application message that passed the session checks, for the
    /// application to handle (it answers through [`Session::send`],
    /// [`Session::reject`] or [`Session::business_reject`]).
    App(Message<'a>),
    /// The session is over; close the connection after sending `out`.
    Closed(CloseReason),
}

/// What a session counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SessionCounters {
    /// Session Rejects (35=3) we sent, for any reason.
    pub rejects_sent: u64,
    /// Session Rejects (35=3) the peer sent us.
    pub rejects_received: u64,
    /// Garbled messages dropped once logged on (bad BodyLength or
    /// CheckSum, 8/9/35 out of order, not FIX), each a run of bytes skipped.
    pub garbled: u64,
}

/// The outcome of [`Session::on_input`] or [`Session::poll`].
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    /// Input bytes consumed (0: a whole message is not there yet).
    pub consumed: usize,
    /// Bytes written to `out`, to be sent in order.
    pub written: usize,
    /// What happened.
    pub event: Event<'a>,
}

/// One FIX session (one connection), acceptor side.
#[derive(Debug, Clone)]
pub struct Session {
    writer: MessageWriter,
    config: SessionConfig,
    state: SessionState,
    /// MsgSeqNum expected next from the peer.
    next_in: u64,
    /// Sequence numbers asked for by our ResendRequest and not yet seen
    /// (inclusive). One request (16=0, "to infinity") covers later gaps too,
    /// so a gap is asked for once.
    gap: Option<(u64, u64)>,
    heartbeat_ns: u64,
    last_sent_ns: u64,
    last_recv_ns: u64,
    /// When our TestRequest went out, while unanswered.
    test_request_ns: Option<u64>,
    /// Start of the logon or logout timeout.
    timer_ns: u64,
    /// Reported when the session closes (set when our Logout goes out).
    close_reason: CloseReason,
    counters: SessionCounters,
}

/// The caller's output buffer and how much of it is written.
struct Sink<'o> {
    out: &'o mut [u8],
    pos: usize,
}

/// RefTagID (371) of a Reject: a number, or the text of a tag that is not one.
#[derive(Clone, Copy)]
enum TagRef<'t> {
    None,
    Num(u32),
    Text(&'t [u8]),
}

/// How a MsgSeqNum fitted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SeqFit {
    /// The expected one, or one we asked for again.
    InOrder,
    /// One of the numbers our ResendRequest asked for.
    InGap,
    /// Beyond the expected one: a ResendRequest was sent (or is pending).
    TooHigh,
}

/// Reverse routing of a reject, as QuickFIX's acceptor does: the peer's
/// OnBehalfOf (115, 116, 144) becomes our DeliverTo (128, 129, 145) and its
/// DeliverTo our OnBehalfOf; pairs in the order they are written
/// (ascending, after 56).
const REVERSE_ROUTE: [(u32, u32); 6] = [
    (115, 128),
    (116, 129),
    (128, 115),
    (129, 116),
    (144, 145),
    (145, 144),
];

fn reverse_route(h: &mut Body<'_, '_>, msg: &Message<'_>) -> Result<(), FixError> {
    for (ours, theirs) in REVERSE_ROUTE {
        if let Some(v) = msg.get(theirs).filter(|v| !v.is_empty()) {
            // Routing IDs are CompIDs: up to 32 bytes, not the echo clip.
            h.bytes(ours, v.get(..super::MAX_COMP_ID).unwrap_or(v))?;
        }
    }
    Ok(())
}

fn clip(v: &[u8]) -> &[u8] {
    v.get(..MAX_ECHO).unwrap_or(v)
}

impl Session {
    /// A connection just accepted.
    pub fn new(config: &SessionConfig, now_ns: u64) -> Self {
        Self {
            writer: MessageWriter::new(config.sender, config.target, config.precision),
            config: *config,
            state: SessionState::AwaitingLogon,
            next_in: 1,
            gap: None,
            heartbeat_ns: 0,
            last_sent_ns: now_ns,
            last_recv_ns: now_ns,
            test_request_ns: None,
            timer_ns: now_ns,
            close_reason: CloseReason::Logout,
            counters: SessionCounters::default(),
        }
    }

    /// Before the Logon, which peer this session serves: an acceptor that
    /// admits several client CompIDs picks it from the Logon's
    /// SenderCompID. Ignored once a Logon has been handled.
    pub fn set_target(&mut self, target: CompId) {
        if self.state == SessionState::AwaitingLogon {
            self.config.target = target;
            self.writer = MessageWriter::new(self.config.sender, target, self.config.precision);
        }
    }

    /// What this session counted.
    pub fn counters(&self) -> &SessionCounters {
        &self.counters
    }

    /// The peer's CompID (49 of what we receive).
    pub fn target(&self) -> CompId {
        self.config.target
    }

    /// Handles at most one message from the front of `input`.
    ///
    /// Once the session is closed, all input is consumed and ignored and the
    /// event is `Closed` again.
    pub fn on_input<'a>(&mut self, now_ns: u64, input: &'a [u8], out: &mut [u8]) -> Step<'a> {
        if self.state == SessionState::Closed {
            return Step {
                consumed: input.len(),
                written: 0,
                event: Event::Closed(self.close_reason),
            };
        }
        let n = match frame(input) {
            Framing::Complete(n) => n,
            // Before logon, garbled bytes are not a Logon: close, unanswered
            // (QuickFIX drops a connection whose Logon does not parse).
            Framing::Garbled(_) if self.state == SessionState::AwaitingLogon => {
                return Step {
                    consumed: input.len(),
                    written: 0,
                    event: self.close(CloseReason::LogonRefused),
                };
            }
            // Garbled bytes are dropped: no answer, no sequence number used.
            Framing::Garbled(n) => {
                self.counters.garbled += 1;
                return Self::nothing(n.min(input.len()));
            }
            Framing::Incomplete => return Self::nothing(0),
        };
        let Some(bytes) = input.get(..n) else {
            return Self::nothing(0);
        };
        self.last_recv_ns = now_ns;
        self.test_request_ns = None;
        let mut sink = Sink { out, pos: 0 };
        let event = self.handle(now_ns, bytes, &mut sink);
        Step {
            consumed: n,
            written: sink.pos,
            event,
        }
    }

    /// Timers: Heartbeat, TestRequest, silence and logout timeouts. Writes at
    /// most one message.
    pub fn poll(&mut self, now_ns: u64, out: &mut [u8]) -> Step<'static> {
        let mut sink = Sink { out, pos: 0 };
        let since = |t: u64| now_ns.saturating_sub(t);
        let event = match self.state {
            SessionState::Closed => Event::Closed(self.close_reason),
            SessionState::AwaitingLogon if since(self.timer_ns) >= LOGON_TIMEOUT_NS => {
                self.close(CloseReason::LogonTimeout)
            }
            SessionState::LogoutSent if since(self.timer_ns) >= LOGOUT_TIMEOUT_NS => {
                self.close(CloseReason::LogoutTimeout)
            }
            SessionState::Active => {
                let hb = self.heartbeat_ns;
                match self.test_request_ns {
                    Some(t) if since(t) >= hb => self.close(CloseReason::TestRequestTimeout),
                    // Silence for HeartBtInt plus 20 %: ask for a sign of life.
                    None if since(self.last_recv_ns) >= hb + hb / 5 => {
                        self.emit(now_ns, &mut sink, b"1", |b| b.bytes(112, TEST_REQ_ID));
                        self.test_request_ns = Some(now_ns);
                        Event::None
                    }
                    _ => {
                        if since(self.last_sent_ns) >= hb {
                            self.emit(now_ns, &mut sink, b"0", |_| Ok(()));
                        }
                        Event::None
                    }
                }
            }
            _ => Event::None,
        };
        Step {
            consumed: 0,
            written: sink.pos,
            event,
        }
    }

    /// Where the session is.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// HeartBtInt agreed at logon (ns), 0 before.
    pub fn heartbeat_ns(&self) -> u64 {
        self.heartbeat_ns
    }

    /// MsgSeqNum expected next from the peer.
    pub fn next_in_seq(&self) -> u64 {
        self.next_in
    }

    /// MsgSeqNum of our next message.
    pub fn next_out_seq(&self) -> u64 {
        self.writer.next_seq()
    }

    /// Sends an application message (35=W, 35=Y). Writes nothing (`Ok(0)`)
    /// unless the session is logged on.
    pub fn send(
        &mut self,
        now_ns: u64,
        msg_type: &[u8],
        out: &mut [u8],
        body: impl FnOnce(&mut Body<'_, '_>) -> Result<(), FixError>,
    ) -> Result<usize, FixError> {
        if self.state != SessionState::Active {
            return Ok(0);
        }
        let n = self.writer.write(now_ns, msg_type, out, body)?;
        self.last_sent_ns = now_ns;
        Ok(n)
    }

    /// Session-level Reject (35=3) of the message `msg`. Writes nothing
    /// (`Ok(0)`) before logon or after close.
    pub fn reject(
        &mut self,
        now_ns: u64,
        msg: &Message<'_>,
        ref_tag: Option<u32>,
        reason: u32,
        text: &[u8],
        out: &mut [u8],
    ) -> Result<usize, FixError> {
        if !self.can_send() {
            return Ok(0);
        }
        let tag = ref_tag.map_or(TagRef::None, TagRef::Num);
        let n = self.write_reject(now_ns, out, msg, tag, reason, text)?;
        self.last_sent_ns = now_ns;
        Ok(n)
    }

    /// BusinessMessageReject (35=j) of `msg`. Writes nothing (`Ok(0)`)
    /// before logon or after close.
    pub fn business_reject(
        &mut self,
        now_ns: u64,
        msg: &Message<'_>,
        reason: u32,
        text: &[u8],
        out: &mut [u8],
    ) -> Result<usize, FixError> {
        if !self.can_send() {
            return Ok(0);
        }
        let seq = msg.seq_num();
        let typ = clip(msg.msg_type());
        let n = self.writer.write_with(
            now_ns,
            b"j",
            out,
            false,
            |h| reverse_route(h, msg),
            |b| {
                if let Some(s) = seq {
                    b.uint(45, s)?;
                }
                if !text.is_empty() {
                    b.bytes(58, text)?;
                }
                if !typ.is_empty() {
                    b.bytes(372, typ)?;
                }
                b.uint(380, u64::from(reason))
            },
        )?;
        self.last_sent_ns = now_ns;
        Ok(n)
    }

    /// Starts a Logout from our side (e.g. a slow consumer): the session
    /// waits for the peer's Logout ([`SessionState::LogoutSent`]) and closes
    /// on it or after [`LOGOUT_TIMEOUT_NS`]. Before logon the session just
    /// closes; when a Logout is already out, nothing is written.
    pub fn logout(&mut self, now_ns: u64, text: &[u8], out: &mut [u8]) -> Result<usize, FixError> {
        match self.state {
            SessionState::AwaitingLogon => {
                self.close(CloseReason::Logout);
                Ok(0)
            }
            SessionState::LogoutSent | SessionState::Closed => Ok(0),
            SessionState::Active => {
                let n = self.write_logout(now_ns, out, text)?;
                self.last_sent_ns = now_ns;
                self.enter_logout_sent(now_ns, CloseReason::Logout);
                Ok(n)
            }
        }
    }

    fn nothing(consumed: usize) -> Step<'static> {
        Step {
            consumed,
            written: 0,
            event: Event::None,
        }
    }

    fn can_send(&self) -> bool {
        matches!(self.state, SessionState::Active | SessionState::LogoutSent)
    }

    fn close(&mut self, reason: CloseReason) -> Event<'static> {
        self.state = SessionState::Closed;
        self.close_reason = reason;
        Event::Closed(reason)
    }

    fn enter_logout_sent(&mut self, now_ns: u64, reason: CloseReason) {
        self.state = SessionState::LogoutSent;
        self.timer_ns = now_ns;
        self.close_reason = reason;
    }

    /// Writes one message after what `sink` holds. A buffer below
    /// [`MIN_OUT`] can make it fail; then the message is dropped.
    fn emit(
        &mut self,
        now_ns: u64,
        sink: &mut Sink<'_>,
        msg_type: &[u8],
        body: impl FnOnce(&mut Body<'_, '_>) -> Result<(), FixError>,
    ) {
        let Some(buf) = sink.out.get_mut(sink.pos..) else {
            return;
        };
        if let Ok(n) = self.writer.write(now_ns, msg_type, buf, body) {
            sink.pos += n;
            self.last_sent_ns = now_ns;
        }
    }

    fn write_logout(
        &mut self,
        now_ns: u64,
        out: &mut [u8],
        text: &[u8],
    ) -> Result<usize, FixError> {
        self.writer.write(now_ns, b"5", out, |b| {
            if text.is_empty() {
                Ok(())
            } else {
                b.bytes(58, text)
            }
        })
    }

    fn write_reject(
        &mut self,
        now_ns: u64,
        out: &mut [u8],
        msg: &Message<'_>,
        tag: TagRef<'_>,
        reason: u32,
        text: &[u8],
    ) -> Result<usize, FixError> {
        // RefSeqNum is required: 0 when the message had none.
        let seq = msg.seq_num().unwrap_or(0);
        let typ = clip(msg.msg_type());
        let n = self.writer.write_with(
            now_ns,
            b"3",
            out,
            false,
            |h| reverse_route(h, msg),
            |b| {
                b.uint(45, seq)?;
                if !text.is_empty() {
                    b.bytes(58, text)?;
                }
                match tag {
                    TagRef::None => {}
                    TagRef::Num(t) => b.uint(371, u64::from(t))?,
                    // An empty tag ("=x") has no text to refer to.
                    TagRef::Text([]) => {}
                    TagRef::Text(t) => b.bytes(371, clip(t))?,
                }
                if !typ.is_empty() {
                    b.bytes(372, typ)?;
                }
                b.uint(373, u64::from(reason))
            },
        )?;
        self.counters.rejects_sent += 1;
        Ok(n)
    }

    /// A session Reject of `msg` after what `sink` holds.
    fn emit_reject(
        &mut self,
        now_ns: u64,
        sink: &mut Sink<'_>,
        msg: &Message<'_>,
        tag: TagRef<'_>,
        reason: u32,
    ) {
        let text: &[u8] = match reason {
            R_INVALID_TAG => b"Invalid tag number",
            R_REQUIRED_MISSING => b"Required tag missing",
            R_NO_VALUE => b"Tag specified without a value",
            R_VALUE_INCORRECT => b"Value is incorrect (out of range) for this tag",
            R_BAD_FORMAT => b"Incorrect data format for value",
            R_COMP_ID => b"CompID problem",
            R_SENDING_TIME => b"SendingTime accuracy problem",
            R_INVALID_MSG_TYPE => b"Invalid MsgType",
            R_NOT_FOR_MSG_TYPE => b"Tag not defined for this message type",
            R_REPEATED_TAG => b"Tag appears more than once",
            R_OUT_OF_ORDER => b"Tag specified out of required order",
            R_BAD_NUM_IN_GROUP => b"Incorrect NumInGroup count for repeating group",
            _ => b"",
        };
        let Some(buf) = sink.out.get_mut(sink.pos..) else {
            return;
        };
        if let Ok(n) = self.write_reject(now_ns, buf, msg, tag, reason, text) {
            sink.pos += n;
            self.last_sent_ns = now_ns;
        }
    }

    /// Our Logout after what `sink` holds; the session then waits for the
    /// peer's. When a Logout is already out, nothing more is sent.
    fn start_logout(&mut self, now_ns: u64, sink: &mut Sink<'_>, text: &[u8], reason: CloseReason) {
        if self.state == SessionState::LogoutSent {
            return;
        }
        self.emit(now_ns, sink, b"5", |b| {
            if text.is_empty() {
                Ok(())
            } else {
                b.bytes(58, text)
            }
        });
        self.enter_logout_sent(now_ns, reason);
    }

    /// Logout with `text`, then close at once.
    fn logout_and_close(
        &mut self,
        now_ns: u64,
        sink: &mut Sink<'_>,
        text: &[u8],
        reason: CloseReason,
    ) -> Event<'static> {
        self.emit(now_ns, sink, b"5", |b| b.bytes(58, text));
        self.close(reason)
    }

    /// SendingTime (52) present, well formed and within `max_skew_ns`.
    fn sending_time(&self, now_ns: u64, msg: &Message<'_>) -> Option<u64> {
        let t = msg.get(52).and_then(parse_utc_timestamp)?;
        (t.abs_diff(now_ns) <= self.config.max_skew_ns).then_some(t)
    }

    fn comp_ids_match(&self, msg: &Message<'_>) -> bool {
        msg.get(49) == Some(self.config.target.as_bytes())
            && msg.get(56) == Some(self.config.sender.as_bytes())
    }
}
