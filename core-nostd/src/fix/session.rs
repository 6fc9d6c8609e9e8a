//! The FIX 4.4 session layer, acceptor side, sans-IO: the caller passes the
//! time, the bytes received and a buffer for what to send.
//!
//! Market data keeps no message store, so every Logon starts both sequences
//! at 1 (ResetOnLogon) and a ResendRequest is answered with one
//! SequenceReset-GapFill over the whole range. The rules and the QuickFIX
//! acceptance cases they follow are listed at the top of `session/tests.rs`.

mod dict;
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
pub const LOGOUT_TIMEOUT_NS: u64 = 10 * NS_PER_S;
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

// SessionRejectReason (373) values used here.
const R_INVALID_TAG: u32 = 0;
const R_REQUIRED_MISSING: u32 = 1;
const R_NO_VALUE: u32 = 4;
const R_VALUE_INCORRECT: u32 = 5;
const R_BAD_FORMAT: u32 = 6;
const R_COMP_ID: u32 = 9;
const R_SENDING_TIME: u32 = 10;
const R_INVALID_MSG_TYPE: u32 = 11;

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
        }
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
            // Garbled bytes are dropped: no answer, no sequence number used.
            Framing::Garbled(n) => return Self::nothing(n.min(input.len())),
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
        let n = self.writer.write(now_ns, b"j", out, |b| {
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
        })?;
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
        self.writer.write(now_ns, b"3", out, |b| {
            b.uint(45, seq)?;
            if !text.is_empty() {
                b.bytes(58, text)?;
            }
            match tag {
                TagRef::None => {}
                TagRef::Num(t) => b.uint(371, u64::from(t))?,
                TagRef::Text(t) => b.bytes(371, clip(t))?,
            }
            if !typ.is_empty() {
                b.bytes(372, typ)?;
            }
            b.uint(373, u64::from(reason))
        })
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

    /// One framed message.
    fn handle<'a>(&mut self, now_ns: u64, bytes: &'a [u8], sink: &mut Sink<'_>) -> Event<'a> {
        let checked = Message::new_checked(bytes);
        let parse_ok = checked.is_ok();
        let msg = checked.unwrap_or(Message::unchecked(bytes));
        let typ = msg.msg_type();

        if !bytes.starts_with(b"8=FIX.4.4\x01") {
            return match self.state {
                SessionState::AwaitingLogon => self.close(CloseReason::BadHeader),
                _ if typ == b"5" => self.on_logout(now_ns, sink),
                _ => {
                    self.start_logout(
                        now_ns,
                        sink,
                        b"Incorrect BeginString",
                        CloseReason::BadHeader,
                    );
                    Event::None
                }
            };
        }
        if self.state == SessionState::AwaitingLogon {
            if typ != b"A" {
                return self.close(CloseReason::LogonRefused);
            }
            return self.on_logon(now_ns, &msg, parse_ok, sink);
        }
        if typ == b"A" {
            // A Logon on a live session: 141=Y resets both sequences (as
            // QuickFIX does); any other is refused.
            if msg.get(141) == Some(b"Y") {
                return self.on_logon(now_ns, &msg, parse_ok, sink);
            }
            return self.logout_and_close(
                now_ns,
                sink,
                b"Logon already received",
                CloseReason::LogonRefused,
            );
        }

        let Some(seq) = msg.seq_num() else {
            // Without a MsgSeqNum the message cannot be counted: reject it.
            let reason = if msg.get(34).is_some() {
                R_BAD_FORMAT
            } else {
                R_REQUIRED_MISSING
            };
            self.emit_reject(now_ns, sink, &msg, TagRef::Num(34), reason);
            return Event::None;
        };
        let Some(sending_ns) = self.sending_time(now_ns, &msg) else {
            self.emit_reject(now_ns, sink, &msg, TagRef::None, R_SENDING_TIME);
            self.start_logout(now_ns, sink, b"", CloseReason::ClockSkew);
            return Event::None;
        };
        if !parse_ok {
            // A field without a value or with a tag that is not a number:
            // counted, rejected.
            if let Err(e) = self.fit_seq(now_ns, &msg, seq, sending_ns, sink) {
                return e;
            }
            let bad = msg
                .raw_fields()
                .find(|f| parse_tag(f.tag).is_none() || f.value.is_empty());
            let (tag, reason) = match bad {
                Some(f) if parse_tag(f.tag).is_none() => (TagRef::Text(f.tag), R_INVALID_TAG),
                Some(f) => (TagRef::Text(f.tag), R_NO_VALUE),
                None => (TagRef::None, R_BAD_FORMAT),
            };
            self.emit_reject(now_ns, sink, &msg, tag, reason);
            return Event::None;
        }
        for tag in [49, 56] {
            if msg.get(tag).is_none() {
                if let Err(e) = self.fit_seq(now_ns, &msg, seq, sending_ns, sink) {
                    return e;
                }
                self.emit_reject(now_ns, sink, &msg, TagRef::Num(tag), R_REQUIRED_MISSING);
                return Event::None;
            }
        }
        if !self.comp_ids_match(&msg) {
            self.emit_reject(now_ns, sink, &msg, TagRef::None, R_COMP_ID);
            self.start_logout(now_ns, sink, b"", CloseReason::BadHeader);
            return Event::None;
        }

        // ResendRequest and Logout are honoured whatever their MsgSeqNum (as
        // QuickFIX does); a SequenceReset-Reset sets it.
        let gap_fill = msg.get(123) == Some(b"Y");
        let fit = match typ {
            b"2" | b"5" => {
                self.count_exempt(seq);
                SeqFit::InOrder
            }
            b"4" if !gap_fill => SeqFit::InOrder,
            _ => match self.fit_seq(now_ns, &msg, seq, sending_ns, sink) {
                Ok(f) => f,
                Err(e) => return e,
            },
        };

        if let Some(reject) = self.validate(&msg) {
            let (tag, reason) = reject;
            self.emit_reject(now_ns, sink, &msg, tag, reason);
            return Event::None;
        }

        match typ {
            b"0" | b"3" => Event::None,
            b"1" => {
                let id = msg.get(112).unwrap_or(&[]);
                self.emit(now_ns, sink, b"0", |b| b.bytes(112, id));
                Event::None
            }
            b"2" => self.on_resend_request(now_ns, &msg, sink),
            b"4" => self.on_sequence_reset(now_ns, &msg, seq, gap_fill, fit, sink),
            b"5" => self.on_logout(now_ns, sink),
            _ if self.state == SessionState::Active => Event::App(msg),
            // After our Logout, application messages are dropped.
            _ => Event::None,
        }
    }

    /// A Logon: the first message, or a reset (141=Y) on a live session.
    fn on_logon<'a>(
        &mut self,
        now_ns: u64,
        msg: &Message<'a>,
        parse_ok: bool,
        sink: &mut Sink<'_>,
    ) -> Event<'a> {
        // A Logon that cannot be trusted gets no answer (QuickFIX 1c, 1d).
        if !parse_ok || !self.comp_ids_match(msg) {
            return self.close(if parse_ok {
                CloseReason::BadHeader
            } else {
                CloseReason::LogonRefused
            });
        }
        if self.sending_time(now_ns, msg).is_none() {
            return self.close(CloseReason::ClockSkew);
        }
        let Some(seq) = msg.seq_num() else {
            return self.close(CloseReason::LogonRefused);
        };
        // Every Logon starts both sides at 1 (no message store to resend from).
        self.writer.set_next_seq(1);
        self.next_in = 1;
        self.gap = None;
        if msg.get(98) != Some(b"0") {
            return self.logout_and_close(
                now_ns,
                sink,
                b"EncryptMethod must be 0",
                CloseReason::LogonRefused,
            );
        }
        let hb = msg
            .get(108)
            .and_then(parse_uint)
            .filter(|s| HEARTBEAT_RANGE_S.contains(s));
        let Some(hb) = hb else {
            return self.logout_and_close(
                now_ns,
                sink,
                b"HeartBtInt must be 1 to 3600",
                CloseReason::LogonRefused,
            );
        };
        if seq == 0 {
            return self.logout_and_close(
                now_ns,
                sink,
                b"MsgSeqNum too low, expecting 1 but received 0",
                CloseReason::SeqTooLow,
            );
        }
        let reset = msg.get(141) == Some(b"Y");
        self.heartbeat_ns = hb * NS_PER_S;
        self.state = SessionState::Active;
        self.test_request_ns = None;
        self.emit(now_ns, sink, b"A", |b| {
            b.uint(98, 0)?;
            b.uint(108, hb)?;
            if reset {
                b.flag(141, true)?;
            }
            Ok(())
        });
        self.next_in = 2;
        if seq > 1 {
            // Processed, and the messages before it asked for.
            self.request_resend(now_ns, 1, seq, sink);
        }
        Event::LoggedOn
    }

    /// Asks for `from..to` (16=0: everything from `from`) unless a request is
    /// still open, which already covers it; expects `to + 1` next.
    fn request_resend(&mut self, now_ns: u64, from: u64, to: u64, sink: &mut Sink<'_>) {
        let last = to.saturating_sub(1);
        match &mut self.gap {
            Some((_, hi)) => *hi = last,
            None => {
                self.emit(now_ns, sink, b"2", |b| {
                    b.uint(7, from)?;
                    b.uint(16, 0)
                });
                self.gap = Some((from, last));
            }
        }
        self.next_in = to.saturating_add(1);
    }

    /// Counts `seq` as received if it is the one expected or one asked for.
    fn count_exempt(&mut self, seq: u64) {
        if seq == self.next_in {
            self.next_in += 1;
        } else {
            self.fill_gap(seq);
        }
    }

    fn in_gap(&self, seq: u64) -> bool {
        self.gap.is_some_and(|(lo, hi)| (lo..=hi).contains(&seq))
    }

    /// `seq` arrived from the requested range: the numbers up to it are no
    /// longer awaited.
    fn fill_gap(&mut self, seq: u64) {
        if let Some((lo, hi)) = self.gap {
            if (lo..=hi).contains(&seq) {
                self.gap = (seq < hi).then_some((seq + 1, hi));
            }
        }
    }

    /// The MsgSeqNum rules. `Err` ends the handling of the message with
    /// that event (ignored duplicate, Reject, or Logout).
    fn fit_seq(
        &mut self,
        now_ns: u64,
        msg: &Message<'_>,
        seq: u64,
        sending_ns: u64,
        sink: &mut Sink<'_>,
    ) -> Result<SeqFit, Event<'static>> {
        if seq == self.next_in {
            self.next_in += 1;
            return Ok(SeqFit::InOrder);
        }
        if self.in_gap(seq) {
            self.fill_gap(seq);
            return Ok(SeqFit::InGap);
        }
        if seq > self.next_in {
            self.request_resend(now_ns, self.next_in, seq, sink);
            return Ok(SeqFit::TooHigh);
        }
        // Too low.
        if msg.get(43) == Some(b"Y") {
            if msg.msg_type() != b"4" {
                let Some(orig) = msg.get(122) else {
                    self.emit_reject(now_ns, sink, msg, TagRef::Num(122), R_REQUIRED_MISSING);
                    return Err(Event::None);
                };
                match parse_utc_timestamp(orig) {
                    None => {
                        self.emit_reject(now_ns, sink, msg, TagRef::Num(122), R_BAD_FORMAT);
                        return Err(Event::None);
                    }
                    Some(o) if o > sending_ns => {
                        self.emit_reject(now_ns, sink, msg, TagRef::None, R_SENDING_TIME);
                        self.start_logout(now_ns, sink, b"", CloseReason::ClockSkew);
                        return Err(Event::None);
                    }
                    Some(_) => {}
                }
            }
            // A possible duplicate of what we had: ignored.
            return Err(Event::None);
        }
        let mut text = [0u8; 96];
        let mut o = Out {
            buf: &mut text,
            pos: 0,
        };
        let _ = o
            .put(b"MsgSeqNum too low, expecting ")
            .and_then(|()| o.uint(self.next_in))
            .and_then(|()| o.put(b" but received "))
            .and_then(|()| o.uint(seq));
        let n = o.pos;
        Err(self.logout_and_close(now_ns, sink, &text[..n], CloseReason::SeqTooLow))
    }

    /// Field checks after the sequence number counted: tags FIX 4.4 defines,
    /// MsgType, and the session messages' required fields and formats.
    fn validate<'m>(&self, msg: &Message<'m>) -> Option<(TagRef<'m>, u32)> {
        if let Some(f) = msg.fields().find(|f| !dict::tag_defined(f.tag)) {
            return Some((TagRef::Num(f.tag), R_INVALID_TAG));
        }
        let typ = msg.msg_type();
        if !dict::msg_type_defined(typ) {
            return Some((TagRef::None, R_INVALID_MSG_TYPE));
        }
        let yes_no = |t: u32| msg.get(t).is_none_or(|v| v == b"Y" || v == b"N");
        if !yes_no(43) {
            return Some((TagRef::Num(43), R_BAD_FORMAT));
        }
        let (required, numeric): (&[u32], &[u32]) = match typ {
            b"1" => (&[112], &[]),
            b"2" => (&[7, 16], &[7, 16]),
            b"3" => (&[45], &[45]),
            b"4" => (&[36], &[36]),
            _ => (&[], &[]),
        };
        for &t in required {
            if msg.get(t).is_none() {
                return Some((TagRef::Num(t), R_REQUIRED_MISSING));
            }
        }
        for &t in numeric {
            if msg.get(t).and_then(parse_uint).is_none() {
                return Some((TagRef::Num(t), R_BAD_FORMAT));
            }
        }
        if typ == b"4" && !yes_no(123) {
            return Some((TagRef::Num(123), R_BAD_FORMAT));
        }
        if typ == b"1" && msg.get(112).is_some_and(|v| v.len() > MAX_TEST_REQ_ID) {
            return Some((TagRef::Num(112), R_VALUE_INCORRECT));
        }
        None
    }

    /// The peer's Logout: answered and closed, or the answer to ours.
    fn on_logout(&mut self, now_ns: u64, sink: &mut Sink<'_>) -> Event<'static> {
        if self.state == SessionState::LogoutSent {
            return self.close(self.close_reason);
        }
        self.emit(now_ns, sink, b"5", |_| Ok(()));
        self.close(CloseReason::Logout)
    }

    /// Nothing is stored to resend: one SequenceReset-GapFill, numbered
    /// BeginSeqNo, moves the peer to our next MsgSeqNum.
    fn on_resend_request(
        &mut self,
        now_ns: u64,
        msg: &Message<'_>,
        sink: &mut Sink<'_>,
    ) -> Event<'static> {
        let begin = msg.get(7).and_then(parse_uint).unwrap_or(0);
        let end = msg.get(16).and_then(parse_uint).unwrap_or(0);
        let next_out = self.writer.next_seq();
        if begin == 0 || begin >= next_out {
            self.emit_reject(now_ns, sink, msg, TagRef::Num(7), R_VALUE_INCORRECT);
            return Event::None;
        }
        if end != 0 && end < begin {
            self.emit_reject(now_ns, sink, msg, TagRef::Num(16), R_VALUE_INCORRECT);
            return Event::None;
        }
        let mut t = [0u8; 32];
        let mut o = Out {
            buf: &mut t,
            pos: 0,
        };
        let _ = format_sending_time(&mut o, now_ns, self.config.precision);
        let tn = o.pos;
        let orig = &t[..tn];
        self.writer.set_next_seq(begin);
        if let Some(buf) = sink.out.get_mut(sink.pos..) {
            let r = self.writer.write_with(
                now_ns,
                b"4",
                buf,
                |h| {
                    h.flag(43, true)?;
                    h.bytes(122, orig)
                },
                |b| {
                    b.uint(36, next_out)?;
                    b.flag(123, true)
                },
            );
            if let Ok(n) = r {
                sink.pos += n;
                self.last_sent_ns = now_ns;
            }
        }
        // The gap fill reuses an old number: ours goes on where it was.
        self.writer.set_next_seq(next_out);
        Event::None
    }

    /// SequenceReset: GapFill (counted like any message) or Reset (sets the
    /// expected number whatever its own MsgSeqNum).
    fn on_sequence_reset(
        &mut self,
        now_ns: u64,
        msg: &Message<'_>,
        seq: u64,
        gap_fill: bool,
        fit: SeqFit,
        sink: &mut Sink<'_>,
    ) -> Event<'static> {
        let new = msg.get(36).and_then(parse_uint).unwrap_or(0);
        let bad = if gap_fill {
            new <= seq || (fit != SeqFit::InGap && new < self.next_in)
        } else {
            new < self.next_in
        };
        if bad {
            self.emit_reject(now_ns, sink, msg, TagRef::Num(36), R_VALUE_INCORRECT);
            return Event::None;
        }
        if gap_fill {
            if let Some((lo, hi)) = self.gap {
                self.gap = (new <= hi).then_some((lo.max(new), hi));
            }
            self.next_in = self.next_in.max(new);
        } else {
            self.next_in = new;
            self.gap = None;
        }
        Event::None
    }
}
