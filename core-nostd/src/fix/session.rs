//! The FIX 4.4 session layer, acceptor side, sans-IO: the caller passes the
//! time, the bytes received and a buffer for what to send.
//!
//! SKELETON: the API is fixed; the bodies are being written.

use super::parse::Message;
use super::writer::{Body, MessageWriter};
use super::{CompId, FixError, TimePrecision};

/// Smallest `out` buffer the session needs for its own answers to one input
/// message or one poll.
pub const MIN_OUT: usize = 1024;

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
}

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
}

impl Session {
    /// A connection just accepted.
    pub fn new(config: &SessionConfig, now_ns: u64) -> Self {
        let _ = now_ns;
        Self {
            writer: MessageWriter::new(config.sender, config.target, config.precision),
        }
    }
    /// Handles at most one message from the front of `input`.
    pub fn on_input<'a>(&mut self, now_ns: u64, input: &'a [u8], out: &mut [u8]) -> Step<'a> {
        let _ = (now_ns, input, out);
        unimplemented!()
    }
    /// Timers: Heartbeat, TestRequest, silence and logout timeouts.
    pub fn poll(&mut self, now_ns: u64, out: &mut [u8]) -> Step<'static> {
        let _ = (now_ns, out);
        unimplemented!()
    }
    /// Where the session is.
    pub fn state(&self) -> SessionState {
        unimplemented!()
    }
    /// HeartBtInt agreed at logon (ns), 0 before.
    pub fn heartbeat_ns(&self) -> u64 {
        unimplemented!()
    }
    /// Sends an application message (35=W, 35=Y).
    pub fn send(
        &mut self,
        now_ns: u64,
        msg_type: &[u8],
        out: &mut [u8],
        body: impl FnOnce(&mut Body<'_, '_>) -> Result<(), FixError>,
    ) -> Result<usize, FixError> {
        self.writer.write(now_ns, msg_type, out, body)
    }
    /// Session-level Reject (35=3) of the message `msg`.
    pub fn reject(
        &mut self,
        now_ns: u64,
        msg: &Message<'_>,
        ref_tag: Option<u32>,
        reason: u32,
        text: &[u8],
        out: &mut [u8],
    ) -> Result<usize, FixError> {
        let _ = (now_ns, msg, ref_tag, reason, text, out);
        unimplemented!()
    }
    /// BusinessMessageReject (35=j) of `msg`.
    pub fn business_reject(
        &mut self,
        now_ns: u64,
        msg: &Message<'_>,
        reason: u32,
        text: &[u8],
        out: &mut [u8],
    ) -> Result<usize, FixError> {
        let _ = (now_ns, msg, reason, text, out);
        unimplemented!()
    }
    /// Starts a Logout from our side (e.g. a slow consumer).
    pub fn logout(&mut self, now_ns: u64, text: &[u8], out: &mut [u8]) -> Result<usize, FixError> {
        let _ = (now_ns, text, out);
        unimplemented!()
    }
}
