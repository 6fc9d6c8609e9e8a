//! Session tests.
//!
//! QuickFIX acceptance cases (quickfix/quickfix `test/definitions/server/fix44`,
//! those using only MsgTypes 0-5 and A, plus a few that only need an
//! application message as a carrier), re-expressed as our own tests. We are
//! TW's counterparty "ISLD" as in those files.
//!
//! | QuickFIX case | our test | behaviour |
//! |---|---|---|
//! | 1a_ValidLogonWithCorrectMsgSeqNum | `logon_is_answered` | Logon answered with 98=0, the client's 108, 34=1 |
//! | 1a_ValidLogonMsgSeqNumTooHigh | `logon_seq_too_high_answers_then_asks_resend` | Logon answer, then 35=2 7=1 16=0 |
//! | 1b_DuplicateIdentity, AlreadyLoggedOn | `second_logon_without_reset_is_refused`; the server: tests/fix_replay.rs `one_session_per_client_comp_id` | A second Logon on one connection: Logout + close. With `--one-session-per-client`, a Logon from a CompID logged on over another connection: closed unanswered by the publisher (`src/publish.rs`), which picks each connection's client from `--target`'s list. DIFFERS by default: connections are sessions (the issue's `--fix-max-sessions` counts them) |
//! | 1c_InvalidSenderCompID / TargetCompID | `logon_with_wrong_comp_ids_closes_silently` | close, no answer |
//! | 1d_InvalidLogonBadSendingTime | `logon_with_bad_sending_time_closes_silently` | close, no answer |
//! | (14b on a Logon: SendingTime missing) | `logon_without_sending_time_closes_silently` | close, no answer (QuickFIX cannot send a Reject before logon and disconnects) |
//! | 1d_InvalidLogonWrongBeginString | `logon_with_wrong_begin_string_closes_silently` | close, no answer |
//! | 1d_InvalidLogonLengthInvalid | `garbled_logon_closes_at_once` | close, no answer (garbled bytes are ignored only once logged on) |
//! | 1e_NotLogonMessage | `first_message_not_logon_closes` | close, no answer |
//! | 2a_MsgSeqNumCorrect, 4b_ReceivedTestRequest | `test_request_is_answered` | Heartbeat echoing 112 |
//! | 2b_MsgSeqNumTooHigh | `seq_too_high_is_processed_and_resend_asked_once` | one 35=2 for the gap; gap messages accepted. DIFFERS: the high message is processed at once (QuickFIX queues it) |
//! | 2c_MsgSeqNumTooLow | `seq_too_low_logs_out_with_quickfix_text` | Logout "MsgSeqNum too low, expecting 5 but received 2", close |
//! | 2d/3c_GarbledMessage, 3b_InvalidChecksum | `garbled_messages_are_ignored` | no answer, no sequence number used |
//! | 2e_PossDupAlreadyReceived | `poss_dup_below_expected_is_ignored` | ignored |
//! | 2e_PossDupNotReceived | `poss_dup_at_expected_is_processed` | processed |
//! | 2f_PossDupOrigSendingTimeTooHigh | `poss_dup_orig_time_later_rejects_and_logs_out` | Reject 373=10, Logout, close on the client's Logout |
//! | 2g_PossDupNoOrigSendingTime | `poss_dup_without_orig_time_is_rejected` | Reject 371=122 373=1, sequence unchanged |
//! | 2i_BeginStringValueUnexpected | `wrong_begin_string_on_live_session_logs_out` | Logout "Incorrect BeginString", close on answer or timeout |
//! | 2k_CompIDDoesNotMatchProfile | `wrong_comp_id_on_live_session_rejects_and_logs_out` | Reject 373=9, Logout |
//! | 2m_BodyLengthValueNotCorrect | `garbled_messages_are_ignored` | ignored. DIFFERS: a too-long BodyLength does not swallow the next message |
//! | 2o_SendingTimeValueOutOfRange | `sending_time_out_of_range_rejects_and_logs_out` | Reject 373=10, Logout |
//! | 2q_MsgTypeNotValid | `invalid_msg_type_is_rejected` | Reject 372=* 373=11 |
//! | 2r_UnregisteredMsgType | `application_messages_go_to_the_app` | Event::App; the MD layer answers 35=j 380=3 |
//! | 2t_FirstThreeFieldsOutOfOrder | `garbled_messages_are_ignored` | ignored |
//! | 4a_NoDataSentDuringHeartBtInt | `heartbeat_when_nothing_sent` | Heartbeat after HeartBtInt of silence on our side |
//! | 6_SendTestRequest | `test_request_then_timeout` | TestRequest after 1.2 HeartBtInt, close one HeartBtInt later |
//! | 7_ReceiveRejectMessage | `received_reject_is_counted` | counted, no answer |
//! | 8_OnlyAdminMessages, 8_*, 20_SimultaneousResendRequest | `resend_request_gets_one_gap_fill` | DIFFERS: no store, so always one GapFill 34=BeginSeqNo 43=Y 122 36=next 123=Y (QuickFIX replays application messages) |
//! | 10_MsgSeqNumEqual | `gap_fill_at_expected_moves_expected` | expected = NewSeqNo |
//! | 10_MsgSeqNumGreater | `gap_fill_too_high_asks_resend` | 35=2 7=2. DIFFERS: processed at once (no queue) |
//! | 10_MsgSeqNumLess | `gap_fill_below_expected` | PossDup: ignored; without: too-low Logout |
//! | 11a/11b_NewSeqNoGreater/Equal | `sequence_reset_reset_mode` | expected = NewSeqNo, whatever 34 |
//! | 11c_NewSeqNoLess | `sequence_reset_reset_mode` | Reject 45=0 58 372=4 373=5, no 371 (as QuickFIX) |
//! | 13b_UnsolicitedLogoutMessage | `peer_logout_is_answered_and_closes` | Logout answer, close |
//! | 14a_BadField | `undefined_tags_are_rejected` | Reject 373=0 371=tag (999, 0, -1, 5000); counted |
//! | 14b_RequiredFieldMissing | `missing_header_tag_is_rejected`, `missing_sending_time_is_rejected_and_counted` | Reject 371=56 (or 49, 52) 373=1; counted, no Logout. The D half needs an application message we do not parse |
//! | 14c_TagNotDefinedForMsgType | `tag_not_defined_for_msg_type_is_rejected`, `every_field_fix44_defines_for_the_session_messages_is_accepted` | Reject 45=2 58="Tag not defined for this message type" 371=55 372=0 373=2; counted. Per-MsgType fields from FIX44.xml for 0-5, A and V; header and trailer fields on every message |
//! | 14d_TagSpecifiedWithoutValue | `empty_value_is_rejected` | Reject 371=56 373=4 |
//! | 14e_IncorrectEnumValue | - | not covered: its enums (21, 167) are on a NewOrderSingle, which we business-reject (35=j 380=3). Out-of-enum values on V are answered by the MD layer (35=Y with 281, see `md/tests.rs`) |
//! | 14f_IncorrectDataFormat | `bad_data_format_is_rejected` | Reject 373=6 (session fields only; application fields are the MD layer's) |
//! | 14g_HeaderBodyTrailerFieldsOutOfOrder | `header_body_trailer_out_of_order_is_rejected` | Reject 58="Tag specified out of required order" 371=34 (first field out of place) 373=14; counted. Also a body field after 93/89 |
//! | 14h_RepeatedTag | `repeated_tag_is_rejected` | Reject 58="Tag appears more than once" 371=tag 373=13; counted. On 0-5, A, V and header fields; group members (V's 269, 55, ...; header 628-630; Logon 372/385) may repeat. The case's D is business-rejected (not parsed) |
//! | 14i_RepeatingGroupCountNotEqual | `group_counts_are_checked_and_zero_is_accepted`; V: `md::tests::malformed_requests_get_session_rejects_and_other_types_business_rejects` | Reject 371=627 (NoHops) 373=16; on V 371=267/146 373=16 (MD layer). Nested groups inside V's Instrument are not counted |
//! | 15_HeaderAndBodyFieldsOrderedDifferently | `header_body_trailer_out_of_order_is_rejected` | header fields in any order among themselves accepted |
//! | 21_RepeatingGroupSpecifierWithValueOfZero | `group_counts_are_checked_and_zero_is_accepted` | 627=0 and Logon 384=0 accepted. DIFFERS on V: 267=0 or 146=0 is Reject 373=5 (a request for nothing is not served) |
//! | SessionReset | `logon_with_reset_on_live_session` | both sides back to 1, answer 141=Y; a reset Logon with a bad field: Reject, nothing reset (`bad_fields_on_a_logon`) |
//!
//! A first Logon with a field problem (undefined, not for Logon, repeated,
//! NoMsgTypes count) is closed without answer, as QuickFIX does
//! (`bad_fields_on_a_logon`).
//!
//! Not covered (need application messages or a message store): 14e, 19a/b,
//! RejectResentMessage, ReverseRoute (its 40=w check is on 35=D). Reverse
//! routing itself: `rejects_are_reverse_routed` (ReverseRouteWithEmptyRoutingTags).

mod model;

use super::*;
use crate::fix::parse::Framing;
use proptest::prelude::*;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

/// 2024-03-15 14:30:00 UTC.
const T0: u64 = 1_710_513_000_000_000_000;
const S: u64 = NS_PER_S;

fn config() -> SessionConfig {
    SessionConfig {
        sender: CompId::new(b"ISLD").unwrap(),
        target: CompId::new(b"TW").unwrap(),
        precision: TimePrecision::Millis,
        max_skew_ns: 120 * S,
    }
}

fn ts(ns: u64) -> String {
    let mut b = [0u8; 32];
    let mut o = Out {
        buf: &mut b,
        pos: 0,
    };
    format_sending_time(&mut o, ns, TimePrecision::Millis).unwrap();
    let n = o.pos;
    String::from_utf8(b[..n].to_vec()).unwrap()
}

/// `body` (with `|` for SOH) framed as `begin` with correct 9 and 10.
fn framed_as(begin: &str, body: &str) -> Vec<u8> {
    let body = body.replace('|', "\x01");
    let head = std::format!("8={begin}\x019={}\x01", body.len());
    let sum = crate::fix::writer::checksum(std::format!("{head}{body}").as_bytes());
    std::format!("{head}{body}10={sum:03}\x01").into_bytes()
}

fn framed(body: &str) -> Vec<u8> {
    framed_as("FIX.4.4", body)
}

/// A client message: TW to ISLD, SendingTime `t`, `extra` after the header.
fn cl(typ: &str, seq: u64, t: u64, extra: &str) -> Vec<u8> {
    framed(&std::format!(
        "35={typ}|34={seq}|49=TW|52={}|56=ISLD|{extra}",
        ts(t)
    ))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    None,
    LoggedOn,
    App(String),
    Closed(CloseReason),
}

/// One message we wrote, readable.
#[derive(Debug, Clone)]
struct Sent(Vec<u8>);

impl Sent {
    fn get(&self, tag: u32) -> Option<String> {
        let m = Message::new_checked(&self.0).expect("we write well-formed messages");
        m.get(tag).map(|v| String::from_utf8_lossy(v).into_owned())
    }
    fn typ(&self) -> String {
        self.get(35).unwrap()
    }
    fn seq(&self) -> u64 {
        self.get(34).unwrap().parse().unwrap()
    }
    fn has(&self, tag: u32, v: &str) -> bool {
        self.get(tag).as_deref() == Some(v)
    }
}

/// Splits what the session wrote into messages, checking their framing.
fn split(mut out: &[u8]) -> Vec<Sent> {
    let mut v = Vec::new();
    while !out.is_empty() {
        match frame(out) {
            Framing::Complete(n) => {
                v.push(Sent(out[..n].to_vec()));
                out = &out[n..];
            }
            f => panic!("session wrote a bad frame: {f:?} {out:?}"),
        }
    }
    v
}

struct H {
    s: Session,
    now: u64,
}

impl H {
    fn new() -> Self {
        Self {
            s: Session::new(&config(), T0),
            now: T0,
        }
    }

    /// A session logged on with HeartBtInt `hb` s; the client's next is 2.
    fn logged_on(hb: u64) -> Self {
        let mut h = Self::new();
        let (sent, ev) = h.input(&cl("A", 1, T0, &std::format!("98=0|108={hb}|")));
        assert_eq!(ev, Ev::LoggedOn);
        assert_eq!(sent.len(), 1);
        h
    }

    fn input(&mut self, bytes: &[u8]) -> (Vec<Sent>, Ev) {
        let mut out = [0u8; MIN_OUT];
        let st = self.s.on_input(self.now, bytes, &mut out);
        assert_eq!(st.consumed, bytes.len(), "one whole message is consumed");
        let ev = match st.event {
            Event::None => Ev::None,
            Event::LoggedOn => Ev::LoggedOn,
            Event::App(m) => Ev::App(String::from_utf8_lossy(m.msg_type()).into_owned()),
            Event::Closed(r) => Ev::Closed(r),
        };
        (split(&out[..st.written]), ev)
    }

    fn poll(&mut self, dt: u64) -> (Vec<Sent>, Ev) {
        self.now += dt;
        let mut out = [0u8; MIN_OUT];
        let st = self.s.poll(self.now, &mut out);
        let ev = match st.event {
            Event::None => Ev::None,
            Event::Closed(r) => Ev::Closed(r),
            e => panic!("poll event {e:?}"),
        };
        (split(&out[..st.written]), ev)
    }

    fn msg(&self, typ: &str, seq: u64, extra: &str) -> Vec<u8> {
        cl(typ, seq, self.now, extra)
    }

    /// Sends a client message and returns what came back.
    fn send(&mut self, typ: &str, seq: u64, extra: &str) -> (Vec<Sent>, Ev) {
        let m = self.msg(typ, seq, extra);
        self.input(&m)
    }
}

fn types(v: &[Sent]) -> Vec<String> {
    v.iter().map(Sent::typ).collect()
}

#[test]
fn logon_is_answered() {
    let mut h = H::new();
    assert_eq!(h.s.state(), SessionState::AwaitingLogon);
    assert_eq!(h.s.heartbeat_ns(), 0);
    let (sent, ev) = h.send("A", 1, "98=0|108=30|");
    assert_eq!(ev, Ev::LoggedOn);
    let a = &sent[0];
    assert_eq!((a.typ(), a.seq()), ("A".into(), 1));
    assert!(a.has(49, "ISLD") && a.has(56, "TW") && a.has(98, "0") && a.has(108, "30"));
    assert_eq!(a.get(141), None);
    assert_eq!(h.s.state(), SessionState::Active);
    assert_eq!(h.s.heartbeat_ns(), 30 * S);
    assert_eq!((h.s.next_in_seq(), h.s.next_out_seq()), (2, 2));
}

#[test]
fn logon_seq_too_high_answers_then_asks_resend() {
    let mut h = H::new();
    let (sent, ev) = h.send("A", 5, "98=0|108=30|");
    assert_eq!(ev, Ev::LoggedOn);
    assert_eq!(types(&sent), ["A", "2"]);
    assert!(sent[1].has(7, "1") && sent[1].has(16, "0") && sent[1].seq() == 2);
    let (sent, ev) = h.send("5", 6, "");
    assert_eq!(ev, Ev::Closed(CloseReason::Logout));
    assert_eq!((sent[0].typ(), sent[0].seq()), ("5".into(), 3));
}

#[test]
fn logon_with_wrong_comp_ids_closes_silently() {
    for body in [
        "35=A|34=1|49=TW|52={T}|56=DLSI|98=0|108=30|",
        "35=A|34=1|49=WT|52={T}|56=ISLD|98=0|108=30|",
        "35=A|34=1|52={T}|56=ISLD|98=0|108=30|",
    ] {
        let mut h = H::new();
        let (sent, ev) = h.input(&framed(&body.replace("{T}", &ts(T0))));
        assert!(sent.is_empty());
        assert_eq!(ev, Ev::Closed(CloseReason::BadHeader), "{body}");
        assert_eq!(h.s.state(), SessionState::Closed);
        // Afterwards everything is swallowed.
        let (sent, ev) = h.send("A", 1, "98=0|108=30|");
        assert!(sent.is_empty() && ev == Ev::Closed(CloseReason::BadHeader));
    }
}

#[test]
fn logon_with_bad_sending_time_closes_silently() {
    let mut h = H::new();
    let m = framed("35=A|34=1|49=TW|52=20010101-00:00:00|56=ISLD|98=0|108=30|");
    let (sent, ev) = h.input(&m);
    assert!(sent.is_empty());
    assert_eq!(ev, Ev::Closed(CloseReason::ClockSkew));
}

#[test]
fn logon_without_sending_time_closes_silently() {
    // Invalid rather than late: no Reject can go out before logon.
    let mut h = H::new();
    let (sent, ev) = h.input(
        b"8=FIX.4.4\x019=36\x0135=A\x0134=1\x0149=TW\x0156=ISLD\x0198=0\x01108=30\x0110=002\x01",
    );
    assert!(sent.is_empty());
    assert_eq!(ev, Ev::Closed(CloseReason::LogonRefused));
}

#[test]
fn logon_with_wrong_begin_string_closes_silently() {
    let mut h = H::new();
    let m = framed_as(
        "FIX.3.9",
        &std::format!("35=A|34=1|49=TW|52={}|56=ISLD|98=0|108=30|", ts(T0)),
    );
    let (sent, ev) = h.input(&m);
    assert!(sent.is_empty());
    assert_eq!(ev, Ev::Closed(CloseReason::BadHeader));
}

#[test]
fn garbled_logon_closes_at_once() {
    let mut h = H::new();
    let m = std::format!(
        "8=FIX.4.4|9=40|35=A|34=1|49=TW|52={}|56=ISLD|98=0|108=30|10=000|",
        ts(T0)
    )
    .replace('|', "\x01");
    let mut out = [0u8; MIN_OUT];
    let st = h.s.on_input(h.now, m.as_bytes(), &mut out);
    assert_eq!((st.consumed, st.written), (m.len(), 0));
    assert!(matches!(st.event, Event::Closed(CloseReason::LogonRefused)));
    assert_eq!(h.s.state(), SessionState::Closed);
    // Bytes that are not FIX at all, likewise.
    let mut h = H::new();
    let st = h.s.on_input(h.now, b"GET / HTTP/1.1\r\n\r\n", &mut out);
    assert_eq!(st.written, 0);
    assert_eq!(h.s.state(), SessionState::Closed);
    // An incomplete Logon is waited for.
    let mut h = H::new();
    let st = h.s.on_input(h.now, &m.as_bytes()[..20], &mut out);
    assert_eq!((st.consumed, st.written), (0, 0));
    assert_eq!(h.s.state(), SessionState::AwaitingLogon);
}

#[test]
fn rejects_are_reverse_routed() {
    let mut h = H::logged_on(30);
    // 115/128 on the way in: 128/115 on the way out; empty ones are not
    // copied (the empty 116 is itself what gets rejected).
    let (sent, _) = h.send("0", 2, "115=JCD|116=|");
    assert_eq!(types(&sent), ["3"]);
    let r = &sent[0];
    assert!(
        r.has(128, "JCD") && r.get(129).is_none() && r.get(115).is_none(),
        "{r:?}"
    );
    assert!(r.has(371, "116") && r.has(373, "4"), "{r:?}");
    let (sent, _) = h.send("0", 3, "128=X|145=Y|144=|55=Z|");
    let r = &sent[0];
    assert!(
        r.has(115, "X") && r.has(144, "Y") && r.get(145).is_none(),
        "{r:?}"
    );
    // A 32-byte routing CompID comes back whole.
    let long = "R".repeat(32);
    let (sent, _) = h.send("0", 4, &std::format!("115={long}|55=Z|"));
    assert!(sent[0].has(128, &long), "{:?}", sent[0]);
}

#[test]
fn first_message_not_logon_closes() {
    let mut h = H::new();
    let (sent, ev) = h.send("0", 1, "");
    assert!(sent.is_empty());
    assert_eq!(ev, Ev::Closed(CloseReason::LogonRefused));
}

#[test]
fn logon_needs_encrypt_method_0_and_heartbeat_in_range() {
    for (extra, text) in [
        ("98=1|108=30|", "EncryptMethod must be 0"),
        ("108=30|", "EncryptMethod must be 0"),
        ("98=0|108=0|", "HeartBtInt must be 1 to 3600"),
        ("98=0|108=3601|", "HeartBtInt must be 1 to 3600"),
        ("98=0|", "HeartBtInt must be 1 to 3600"),
        ("98=0|108=x|", "HeartBtInt must be 1 to 3600"),
    ] {
        let mut h = H::new();
        let (sent, ev) = h.send("A", 1, extra);
        assert_eq!(ev, Ev::Closed(CloseReason::LogonRefused), "{extra}");
        assert_eq!(types(&sent), ["5"]);
        assert!(sent[0].has(58, text), "{extra}");
    }
    for hb in [1, 3600] {
        let mut h = H::new();
        assert_eq!(
            h.send("A", 1, &std::format!("98=0|108={hb}|")).1,
            Ev::LoggedOn
        );
        assert_eq!(h.s.heartbeat_ns(), hb * S);
    }
}

#[test]
fn logon_with_reset_on_live_session() {
    let mut h = H::logged_on(30);
    for seq in 2..10 {
        h.send("0", seq, "");
    }
    let (sent, _) = h.send("1", 10, "112=1|");
    assert_eq!(sent[0].seq(), 2);
    let (sent, ev) = h.send("A", 1, "98=0|108=30|141=Y|");
    assert_eq!(ev, Ev::LoggedOn);
    assert_eq!(types(&sent), ["A"]);
    assert!(sent[0].has(141, "Y") && sent[0].seq() == 1);
    let (sent, _) = h.send("1", 2, "112=1|");
    assert!(sent[0].has(112, "1") && sent[0].seq() == 2);
    let (sent, ev) = h.send("5", 3, "");
    assert_eq!(
        (types(&sent), ev),
        (vec!["5".into()], Ev::Closed(CloseReason::Logout))
    );
    assert_eq!(sent[0].seq(), 3);
}

#[test]
fn logon_with_reset_at_first_logon_is_echoed() {
    let mut h = H::new();
    let (sent, _) = h.send("A", 1, "98=0|108=30|141=Y|");
    assert!(sent[0].has(141, "Y"));
}

#[test]
fn second_logon_without_reset_is_refused() {
    let mut h = H::logged_on(30);
    let (sent, ev) = h.send("A", 2, "98=0|108=30|");
    assert_eq!(ev, Ev::Closed(CloseReason::LogonRefused));
    assert_eq!(types(&sent), ["5"]);
}

#[test]
fn test_request_is_answered() {
    let mut h = H::logged_on(30);
    let (sent, ev) = h.send("1", 2, "112=HELLO|");
    assert_eq!(ev, Ev::None);
    assert_eq!(types(&sent), ["0"]);
    assert!(sent[0].has(112, "HELLO") && sent[0].seq() == 2);
    // An overlong TestReqID is refused rather than echoed.
    let long = "x".repeat(MAX_TEST_REQ_ID + 1);
    let (sent, _) = h.send("1", 3, &std::format!("112={long}|"));
    assert_eq!(types(&sent), ["3"]);
    assert!(sent[0].has(373, "5") && sent[0].has(371, "112"));
    assert_eq!(h.s.next_in_seq(), 4);
}

#[test]
fn seq_too_high_is_processed_and_resend_asked_once() {
    let mut h = H::logged_on(30);
    for seq in 2..=4 {
        assert!(h.send("0", seq, "").0.is_empty());
    }
    let (sent, ev) = h.send("V", 10, "262=r|");
    assert_eq!(ev, Ev::App("V".into()), "processed");
    assert_eq!(types(&sent), ["2"]);
    assert!(sent[0].has(7, "5") && sent[0].has(16, "0") && sent[0].seq() == 2);
    // Another jump while the request is open: not asked again.
    let (sent, ev) = h.send("1", 12, "112=A|");
    assert_eq!(types(&sent), ["0"]);
    assert_eq!(ev, Ev::None);
    // The asked-for numbers are accepted (PossDup or not), in the gap.
    for seq in 5..=9 {
        let (sent, ev) = h.send("0", seq, "");
        assert!(sent.is_empty() && ev == Ev::None, "{seq}");
    }
    let (sent, _) = h.send("0", 11, "43=Y|122=20240315-14:29:00|");
    assert!(sent.is_empty());
    // A new gap after the old one closed is asked for again.
    let (sent, _) = h.send("0", 20, "");
    assert_eq!(types(&sent), ["2"]);
    assert!(sent[0].has(7, "13"));
    let (sent, ev) = h.send("5", 21, "");
    assert_eq!(
        (types(&sent), ev),
        (vec!["5".into()], Ev::Closed(CloseReason::Logout))
    );
}

#[test]
fn seq_too_low_logs_out_with_quickfix_text() {
    let mut h = H::logged_on(30);
    for seq in 2..=4 {
        h.send("0", seq, "");
    }
    let (sent, ev) = h.send("0", 2, "");
    assert_eq!(ev, Ev::Closed(CloseReason::SeqTooLow));
    assert_eq!(types(&sent), ["5"]);
    assert!(sent[0].has(58, "MsgSeqNum too low, expecting 5 but received 2"));
    assert_eq!(h.s.state(), SessionState::Closed);
}

#[test]
fn garbled_messages_are_ignored() {
    let mut h = H::logged_on(30);
    let t = ts(h.now);
    let garbled = [
        // Bad CheckSum.
        "8=FIX.4.4|9=5|35=0|10=000|".to_string(),
        // BodyLength too short / too long.
        std::format!("8=FIX.4.4|9=10|35=0|34=2|49=TW|52={t}|56=ISLD|10=000|"),
        // 35 first; 34 before 35.
        "35=0|8=FIX.4.4|9=5|34=2|10=000|".to_string(),
    ];
    for g in garbled {
        let g = g.replace('|', "\x01");
        let mut out = [0u8; MIN_OUT];
        let mut at = 0;
        while at < g.len() {
            let st = h.s.on_input(h.now, &g.as_bytes()[at..], &mut out);
            assert!(st.consumed > 0 && st.written == 0 && matches!(st.event, Event::None));
            at += st.consumed;
        }
    }
    let body = std::format!("34=2|35=0|49=TW|52={t}|56=ISLD|");
    let b = framed(&body);
    assert!(h.input(&b).0.is_empty());
    let mut bad_sum = h.msg("0", 2, "");
    let l = bad_sum.len();
    bad_sum[l - 3] ^= 1;
    assert!(h.input(&bad_sum).0.is_empty());
    assert_eq!(h.s.next_in_seq(), 2, "no sequence number used");
    assert!(h.s.counters().garbled >= 2, "{:?}", h.s.counters());
    // A too-long BodyLength does not swallow the good message after it.
    let good = h.msg("1", 2, "112=X|");
    let mut long = h.msg("0", 2, "");
    let nine = long.windows(2).position(|w| w == b"9=").unwrap();
    long[nine + 2] = b'9';
    let mut stream = long.clone();
    stream.extend_from_slice(&good);
    let mut out = [0u8; MIN_OUT];
    let st = h.s.on_input(h.now, &stream, &mut out);
    assert_eq!(st.written, 0);
    let (sent, _) = h.input(&stream[st.consumed..]);
    assert_eq!(types(&sent), ["0"]);
    assert_eq!(h.s.next_in_seq(), 3);
}

#[test]
fn poss_dup_below_expected_is_ignored() {
    let mut h = H::logged_on(30);
    h.send("0", 2, "");
    let (sent, ev) = h.send("1", 2, &std::format!("43=Y|122={}|112=X|", ts(h.now)));
    assert!(sent.is_empty() && ev == Ev::None);
    assert_eq!(h.s.next_in_seq(), 3);
    assert!(h.send("0", 3, "").0.is_empty());
    // A PossDup SequenceReset needs no OrigSendingTime.
    let (sent, _) = h.send("4", 2, "43=Y|36=20|123=Y|");
    assert!(sent.is_empty());
    assert_eq!(h.s.next_in_seq(), 4);
}

#[test]
fn poss_dup_at_expected_is_processed() {
    let mut h = H::logged_on(30);
    let (sent, _) = h.send("1", 2, &std::format!("43=Y|122={}|112=Y|", ts(h.now - S)));
    assert_eq!(types(&sent), ["0"]);
    assert_eq!(h.s.next_in_seq(), 3);
}

#[test]
fn poss_dup_orig_time_later_rejects_and_logs_out() {
    let mut h = H::logged_on(30);
    h.send("0", 2, "");
    h.send("0", 3, "");
    let extra = std::format!("43=Y|122={}|", ts(h.now + 10 * S));
    let (sent, ev) = h.send("D", 2, &extra);
    assert_eq!(ev, Ev::None);
    assert_eq!(types(&sent), ["3", "5"]);
    let r = &sent[0];
    assert!(r.has(45, "2") && r.has(372, "D") && r.has(373, "10"));
    assert!(r.has(58, "SendingTime accuracy problem"));
    assert_eq!(h.s.state(), SessionState::LogoutSent);
    let (sent, ev) = h.send("5", 4, "");
    assert!(sent.is_empty());
    assert_eq!(ev, Ev::Closed(CloseReason::ClockSkew));
}

#[test]
fn poss_dup_without_orig_time_is_rejected() {
    let mut h = H::logged_on(30);
    h.send("0", 2, "");
    h.send("0", 3, "");
    let (sent, _) = h.send("D", 2, "43=Y|");
    assert_eq!(types(&sent), ["3"]);
    assert!(sent[0].has(371, "122") && sent[0].has(373, "1") && sent[0].has(45, "2"));
    assert!(sent[0].has(58, "Required tag missing"));
    // The rejected duplicate changed nothing: 4 is still the one expected.
    let (sent, _) = h.send("1", 4, "112=HELLO|");
    assert_eq!(types(&sent), ["0"]);
    assert_eq!(sent[0].seq(), 3);
}

#[test]
fn wrong_begin_string_on_live_session_logs_out() {
    for answer in [true, false] {
        let mut h = H::logged_on(30);
        let m = framed_as(
            "FIX.4.1",
            &std::format!("35=1|34=2|49=TW|52={}|56=ISLD|112=id|", ts(h.now)),
        );
        let (sent, ev) = h.input(&m);
        assert_eq!(ev, Ev::None);
        assert_eq!(types(&sent), ["5"]);
        assert!(sent[0].has(58, "Incorrect BeginString"));
        assert_eq!(h.s.state(), SessionState::LogoutSent);
        if answer {
            assert_eq!(h.send("5", 3, "").1, Ev::Closed(CloseReason::BadHeader));
        } else {
            assert_eq!(h.poll(LOGOUT_TIMEOUT_NS - 1).1, Ev::None);
            assert_eq!(h.poll(1).1, Ev::Closed(CloseReason::LogoutTimeout));
        }
    }
}

#[test]
fn wrong_comp_id_on_live_session_rejects_and_logs_out() {
    for (s, t) in [("WT", "ISLD"), ("TW", "DLSI"), ("WT", "DLSI")] {
        let mut h = H::logged_on(30);
        let m = framed(&std::format!(
            "35=D|34=2|49={s}|52={}|56={t}|11=ID|",
            ts(h.now)
        ));
        let (sent, ev) = h.input(&m);
        assert_eq!(ev, Ev::None);
        assert_eq!(types(&sent), ["3", "5"]);
        assert!(
            sent[0].has(373, "9") && sent[0].has(58, "CompID problem") && sent[0].has(372, "D")
        );
        assert_eq!(h.send("5", 3, "").1, Ev::Closed(CloseReason::BadHeader));
    }
}

#[test]
fn sending_time_out_of_range_rejects_and_logs_out() {
    for t in [T0 - 121 * S, T0 + 121 * S] {
        let mut h = H::logged_on(30);
        let (sent, ev) = h.input(&cl("0", 2, t, ""));
        assert_eq!(ev, Ev::None);
        assert_eq!(types(&sent), ["3", "5"]);
        assert!(sent[0].has(373, "10") && sent[0].has(45, "2") && sent[0].has(372, "0"));
        assert_eq!(h.send("5", 3, "").1, Ev::Closed(CloseReason::ClockSkew));
    }
    // Within the skew: fine. Malformed: rejected too (missing: see
    // `missing_sending_time_is_rejected_and_counted`).
    let mut h = H::logged_on(30);
    assert!(h.input(&cl("0", 2, T0 + 119 * S, "")).0.is_empty());
    let mut h = H::logged_on(30);
    let (sent, _) = h.input(&framed("35=0|34=2|49=TW|52=yesterday|56=ISLD|"));
    assert_eq!(types(&sent), ["3", "5"]);
}

#[test]
fn invalid_msg_type_is_rejected() {
    let mut h = H::logged_on(30);
    let (sent, ev) = h.send("*", 2, "");
    assert_eq!(ev, Ev::None);
    assert_eq!(types(&sent), ["3"]);
    assert!(sent[0].has(372, "*") && sent[0].has(373, "11") && sent[0].has(58, "Invalid MsgType"));
    assert_eq!(h.s.next_in_seq(), 3, "counted");
}

#[test]
fn application_messages_go_to_the_app() {
    let mut h = H::logged_on(30);
    let m = h.msg("8", 2, "37=id|");
    let mut out = [0u8; MIN_OUT];
    let st = h.s.on_input(h.now, &m, &mut out);
    let Event::App(msg) = st.event else {
        panic!("{:?}", st.event)
    };
    assert_eq!(
        (msg.msg_type(), msg.seq_num(), msg.get(37)),
        (&b"8"[..], Some(2), Some(&b"id"[..]))
    );
    assert_eq!(st.written, 0);
    // The MD layer answers an unserved type with BusinessMessageReject 380=3.
    let mut out2 = [0u8; MIN_OUT];
    let n =
        h.s.business_reject(h.now, &msg, 3, b"Unsupported Message Type", &mut out2)
            .unwrap();
    let j = &split(&out2[..n])[0];
    assert!(j.has(35, "j") && j.has(45, "2") && j.has(372, "8") && j.has(380, "3") && j.seq() == 2);
    // ... and a session Reject for a bad field of a message it serves.
    let n =
        h.s.reject(
            h.now,
            &msg,
            Some(262),
            1,
            b"Required tag missing",
            &mut out2,
        )
        .unwrap();
    let r = &split(&out2[..n])[0];
    assert!(
        r.has(35, "3") && r.has(45, "2") && r.has(371, "262") && r.has(373, "1") && r.seq() == 3
    );
}

#[test]
fn heartbeat_when_nothing_sent() {
    let mut h = H::logged_on(3);
    assert!(h.poll(2 * S).0.is_empty());
    let (sent, _) = h.poll(S);
    assert_eq!(types(&sent), ["0"]);
    assert_eq!(sent[0].seq(), 2);
    h.send("0", 2, "");
    assert!(h.poll(S).0.is_empty());
    // An application message counts as sent.
    let mut out = [0u8; MIN_OUT];
    assert!(
        h.s.send(h.now, b"W", &mut out, |b| b.bytes(55, b"AAPL"))
            .unwrap()
            > 0
    );
    h.send("0", 3, "");
    assert!(h.poll(2 * S).0.is_empty());
    assert_eq!(types(&h.poll(S).0), ["0"]);
}

#[test]
fn test_request_then_timeout() {
    let mut h = H::logged_on(3);
    // Heartbeats from us while the client is quiet; TestRequest at 3.6 s.
    assert_eq!(types(&h.poll(3 * S).0), ["0"]);
    let (sent, ev) = h.poll(600_000_000);
    assert_eq!(types(&sent), ["1"]);
    assert!(sent[0].has(112, "TEST"));
    assert_eq!(ev, Ev::None);
    // The answer clears it.
    h.send("0", 2, "112=TEST|");
    let (sent, _) = h.poll(3 * S);
    assert_eq!(types(&sent), ["0"]);
    let (sent, _) = h.poll(600_000_000);
    assert_eq!(types(&sent), ["1"]);
    assert_eq!(h.poll(3 * S - 1).1, Ev::None);
    assert_eq!(h.poll(1).1, Ev::Closed(CloseReason::TestRequestTimeout));
    assert_eq!(h.s.state(), SessionState::Closed);
}

#[test]
fn received_reject_is_counted() {
    let mut h = H::logged_on(30);
    let (sent, _) = h.send("3", 2, "45=1|");
    assert!(sent.is_empty());
    assert_eq!(h.s.counters().rejects_received, 1);
    assert_eq!(h.s.counters().rejects_sent, 0);
    // One we send is counted too.
    let (sent, _) = h.send("0", 3, "55=X|");
    assert_eq!(types(&sent), ["3"]);
    assert_eq!(h.s.counters().rejects_sent, 1);
    let (sent, _) = h.send("5", 4, "");
    assert_eq!(sent[0].seq(), 3);
}

#[test]
fn resend_request_gets_one_gap_fill() {
    let mut h = H::logged_on(30);
    for seq in 2..=4 {
        h.send("1", seq, "112=HELLO|");
    }
    let (sent, _) = h.send("2", 5, "7=1|16=4|");
    assert_eq!(types(&sent), ["4"]);
    let g = &sent[0];
    assert_eq!(g.seq(), 1);
    assert!(g.has(43, "Y") && g.has(123, "Y") && g.has(36, "5") && g.get(122).is_some());
    // Our numbering goes on where it was.
    let (sent, _) = h.send("1", 6, "112=HELLO|");
    assert_eq!(sent[0].seq(), 5);
    // Honoured whatever its MsgSeqNum (QuickFIX: 34=5 after 6).
    let (sent, _) = h.send("2", 5, "7=1|16=0|");
    assert!(sent[0].has(36, "6") && sent[0].seq() == 1);
    // A BeginSeqNo we never sent, or an end before the begin: rejected.
    let (sent, _) = h.send("2", 7, "7=9|16=0|");
    assert!(sent[0].has(35, "3") && sent[0].has(371, "7"));
    let (sent, _) = h.send("2", 8, "7=3|16=2|");
    assert!(sent[0].has(35, "3") && sent[0].has(371, "16"));
    let (sent, ev) = h.send("5", 6, "");
    assert_eq!(
        (types(&sent), ev),
        (vec!["5".into()], Ev::Closed(CloseReason::Logout))
    );
}

#[test]
fn gap_fill_at_expected_moves_expected() {
    let mut h = H::logged_on(30);
    assert!(h.send("4", 2, "36=20|123=Y|").0.is_empty());
    assert_eq!(h.s.next_in_seq(), 20);
    let (sent, _) = h.send("1", 20, "112=HELLO|");
    assert_eq!((types(&sent), sent[0].seq()), (vec!["0".into()], 2));
    // NewSeqNo not above its own MsgSeqNum: rejected.
    let (sent, _) = h.send("4", 21, "36=21|123=Y|");
    assert!(sent[0].has(35, "3") && sent[0].has(373, "5") && sent[0].get(371).is_none());
}

#[test]
fn gap_fill_too_high_asks_resend() {
    let mut h = H::logged_on(30);
    let (sent, _) = h.send("4", 10, "36=20|123=Y|");
    assert_eq!(types(&sent), ["2"]);
    assert!(sent[0].has(7, "2") && sent[0].has(16, "0"));
    let (sent, _) = h.send("1", 20, "112=HELLO|");
    assert_eq!(types(&sent), ["0"]);
    // The gap is filled by the peer's own gap fill.
    assert!(h.send("4", 2, "43=Y|36=10|123=Y|").0.is_empty());
    assert!(h.s.gap.is_none());
    let (sent, ev) = h.send("5", 21, "");
    assert_eq!(
        (types(&sent), ev),
        (vec!["5".into()], Ev::Closed(CloseReason::Logout))
    );
}

#[test]
fn gap_fill_below_expected() {
    let mut h = H::logged_on(30);
    let extra = std::format!("43=Y|122={}|36=20|123=Y|", ts(h.now - S));
    assert!(h.send("4", 1, &extra).0.is_empty());
    let (sent, _) = h.send("1", 2, "112=HELLO|");
    assert_eq!(types(&sent), ["0"]);
    let (sent, ev) = h.send("4", 1, "36=20|123=Y|");
    assert_eq!(ev, Ev::Closed(CloseReason::SeqTooLow));
    assert!(sent[0].has(58, "MsgSeqNum too low, expecting 3 but received 1"));
}

#[test]
fn sequence_reset_reset_mode() {
    let mut h = H::logged_on(30);
    assert!(h.send("4", 0, "36=25|").0.is_empty());
    assert_eq!(h.s.next_in_seq(), 25);
    assert!(h.send("4", 0, "36=50|123=N|").0.is_empty());
    assert_eq!(h.s.next_in_seq(), 50);
    assert!(h.send("4", 0, "36=50|").0.is_empty());
    assert_eq!(h.s.next_in_seq(), 50);
    let (sent, _) = h.send("4", 0, "36=1|");
    assert_eq!(types(&sent), ["3"]);
    let r = &sent[0];
    assert!(r.has(45, "0") && r.has(372, "4") && r.has(373, "5") && r.get(371).is_none());
    assert!(r.has(58, "Value is incorrect (out of range) for this tag"));
    assert_eq!(h.s.next_in_seq(), 50);
    // A reset also forgets an open gap.
    h.send("0", 55, "");
    assert!(h.s.gap.is_some());
    h.send("4", 0, "36=60|");
    assert!(h.s.gap.is_none());
}

#[test]
fn peer_logout_is_answered_and_closes() {
    let mut h = H::logged_on(30);
    let (sent, ev) = h.send("5", 2, "58=bye|");
    assert_eq!(ev, Ev::Closed(CloseReason::Logout));
    assert_eq!((types(&sent), sent[0].seq()), (vec!["5".into()], 2));
}

#[test]
fn our_logout_waits_for_theirs() {
    let mut h = H::logged_on(30);
    let mut out = [0u8; MIN_OUT];
    let n = h.s.logout(h.now, b"slow consumer", &mut out).unwrap();
    let l = &split(&out[..n])[0];
    assert!(l.has(35, "5") && l.has(58, "slow consumer"));
    assert_eq!(h.s.state(), SessionState::LogoutSent);
    assert_eq!(h.s.logout(h.now, b"again", &mut out), Ok(0));
    // Application messages are no longer handed on; sends write nothing.
    assert_eq!(h.send("V", 2, "262=x|").1, Ev::None);
    assert_eq!(h.s.send(h.now, b"W", &mut out, |_| Ok(())), Ok(0));
    let (sent, ev) = h.send("5", 3, "");
    assert!(sent.is_empty());
    assert_eq!(ev, Ev::Closed(CloseReason::Logout));
    // Before logon, logout just closes.
    let mut h = H::new();
    assert_eq!(h.s.logout(h.now, b"", &mut out), Ok(0));
    assert_eq!(h.s.state(), SessionState::Closed);
}

#[test]
fn undefined_tags_are_rejected() {
    let mut h = H::logged_on(2);
    for (seq, tag) in [(2, "999"), (3, "0"), (4, "-1"), (5, "5000")] {
        let (sent, ev) = h.send("0", seq, &std::format!("{tag}=HI|"));
        assert_eq!(ev, Ev::None);
        assert_eq!(types(&sent), ["3"], "{tag}");
        let r = &sent[0];
        assert!(
            r.has(371, tag)
                && r.has(373, "0")
                && r.has(372, "0")
                && r.has(58, "Invalid tag number")
        );
        assert!(r.has(45, &seq.to_string()));
    }
    assert_eq!(h.s.next_in_seq(), 6, "counted");
    // A field with no tag at all (found by fuzzing: no empty 371 is written).
    let (sent, _) = h.send("0", 6, "=HI|");
    assert_eq!(types(&sent), ["3"]);
    assert!(sent[0].get(371).is_none() && sent[0].has(373, "0"));
    // Also on application messages: the app never sees them.
    let (sent, ev) = h.send("V", 7, "262=a|9999=x|");
    assert_eq!((types(&sent), ev), (vec!["3".into()], Ev::None));
}

#[test]
fn missing_header_tag_is_rejected() {
    let mut h = H::logged_on(2);
    let (sent, _) = h.input(&framed(&std::format!("35=0|34=2|49=TW|52={}|", ts(h.now))));
    assert_eq!(types(&sent), ["3"]);
    assert!(sent[0].has(371, "56") && sent[0].has(373, "1") && sent[0].has(45, "2"));
    assert_eq!(h.s.next_in_seq(), 3);
    // Without MsgSeqNum: rejected, not counted.
    let (sent, _) = h.input(&framed(&std::format!(
        "35=0|49=TW|52={}|56=ISLD|",
        ts(h.now)
    )));
    assert!(sent[0].has(371, "34") && sent[0].has(373, "1") && sent[0].has(45, "0"));
    let (sent, _) = h.input(&framed(&std::format!(
        "35=0|34=x|49=TW|52={}|56=ISLD|",
        ts(h.now)
    )));
    assert!(sent[0].has(371, "34") && sent[0].has(373, "6"));
    assert_eq!(h.s.next_in_seq(), 3);
    // Required session fields.
    for (typ, extra, tag) in [
        ("1", "", "112"),
        ("2", "7=1|", "16"),
        ("4", "", "36"),
        ("3", "", "45"),
    ] {
        let seq = h.s.next_in_seq();
        let (sent, _) = h.send(typ, seq, extra);
        assert!(
            sent[0].has(35, "3") && sent[0].has(371, tag) && sent[0].has(373, "1"),
            "{typ}"
        );
    }
}

#[test]
fn empty_value_is_rejected() {
    let mut h = H::logged_on(2);
    let (sent, _) = h.input(&framed(&std::format!(
        "35=0|34=2|49=TW|52={}|56=|",
        ts(h.now)
    )));
    assert_eq!(types(&sent), ["3"]);
    assert!(
        sent[0].has(371, "56")
            && sent[0].has(373, "4")
            && sent[0].has(58, "Tag specified without a value")
    );
    assert_eq!(h.s.next_in_seq(), 3);
}

#[test]
fn bad_data_format_is_rejected() {
    let mut h = H::logged_on(2);
    for (typ, extra, tag) in [
        ("2", "7=+1|16=0|", "7"),
        ("2", "7=1|16=x|", "16"),
        ("4", "36=1.0|123=Y|", "36"),
        ("4", "36=9|123=X|", "123"),
        ("0", "43=YES|", "43"),
        ("3", "45=-1|", "45"),
    ] {
        let seq = h.s.next_in_seq();
        let (sent, _) = h.send(typ, seq, extra);
        assert_eq!(types(&sent), ["3"], "{typ} {extra}");
        assert!(
            sent[0].has(371, tag) && sent[0].has(373, "6"),
            "{typ} {extra}"
        );
        // A SequenceReset of unknown mode is not counted (Reset mode never is).
        let counted = if tag == "123" { seq } else { seq + 1 };
        assert_eq!(h.s.next_in_seq(), counted);
    }
}

#[test]
fn partial_input_waits() {
    let mut h = H::logged_on(30);
    let m = h.msg("1", 2, "112=X|");
    let mut out = [0u8; MIN_OUT];
    for n in 0..m.len() {
        let st = h.s.on_input(h.now, &m[..n], &mut out);
        assert_eq!((st.consumed, st.written), (0, 0));
    }
    let mut two = m.clone();
    two.extend_from_slice(&h.msg("0", 3, ""));
    let st = h.s.on_input(h.now, &two, &mut out);
    assert_eq!(st.consumed, m.len(), "one message at a time");
}

#[test]
fn small_out_buffer_never_panics() {
    let mut h = H::new();
    let m = h.msg("A", 5, "98=0|108=30|");
    for len in 0..200 {
        let mut s = Session::new(&config(), T0);
        let mut out = std::vec![0u8; len];
        let _ = s.on_input(T0, &m, &mut out);
        let _ = s.poll(T0 + 40 * S, &mut out);
    }
    let _ = &mut h;
}

#[test]
fn sequence_numbers_at_the_top_do_not_overflow() {
    let mut h = H::logged_on(30);
    let max = u64::MAX;
    assert!(h.send("4", 0, &std::format!("36={max}|")).0.is_empty());
    assert_eq!(h.s.next_in_seq(), max);
    assert!(h.send("0", max, "").0.is_empty());
    assert!(h.send("2", max, "7=1|16=0|").0[0].has(35, "4"));
    assert_eq!(h.send("5", max, "").1, Ev::Closed(CloseReason::Logout));
}

#[test]
fn gap_fill_in_order_keeps_an_open_gap() {
    let mut h = H::logged_on(30);
    assert_eq!(types(&h.send("0", 5, "").0), ["2"]);
    assert_eq!(h.s.gap, Some((2, 4)));
    assert!(h.send("4", 6, "36=9|123=Y|").0.is_empty());
    assert_eq!((h.s.gap, h.s.next_in_seq()), (Some((2, 4)), 9));
    // A fill into the gap that reaches past it closes it.
    assert!(h.send("4", 2, "43=Y|36=9|123=Y|").0.is_empty());
    assert_eq!((h.s.gap, h.s.next_in_seq()), (None, 9));
}

/// A Reject's fields from 45 up to the CheckSum, `|` for SOH: the part that
/// says what was rejected and why.
fn reject_body(r: &Sent) -> String {
    let text = String::from_utf8_lossy(&r.0).replace('\x01', "|");
    let start = text.find("|45=").unwrap() + 1;
    let end = text.rfind("10=").unwrap();
    text[start..end].to_string()
}

#[test]
fn missing_sending_time_is_rejected_and_counted() {
    // QuickFIX 14b with SendingTime: a missing header field, not clock skew.
    let mut h = H::logged_on(30);
    let m = b"8=FIX.4.4\x019=24\x0135=0\x0134=2\x0149=TW\x0156=ISLD\x0110=214\x01";
    assert_eq!(frame(m), Framing::Complete(m.len()));
    let (sent, ev) = h.input(m);
    assert_eq!((types(&sent), ev), (vec!["3".into()], Ev::None));
    assert_eq!(
        reject_body(&sent[0]),
        "45=2|58=Required tag missing|371=52|372=0|373=1|"
    );
    assert_eq!(h.s.state(), SessionState::Active);
    assert_eq!(h.s.next_in_seq(), 3, "counted");
    // Too high and without 52: rejected, and the gap still asked for.
    let (sent, _) = h.input(&framed("35=0|34=5|49=TW|56=ISLD|"));
    assert_eq!(types(&sent), ["2", "3"]);
    assert!(sent[1].has(371, "52") && sent[1].has(45, "5"));
    assert_eq!(h.s.next_in_seq(), 6);
    // 49 and 56 are looked for first.
    let (sent, _) = h.input(&framed("35=0|34=6|49=TW|"));
    assert!(sent[0].has(371, "56") && sent[0].has(373, "1"));
}

#[test]
fn tag_not_defined_for_msg_type_is_rejected() {
    // QuickFIX 14c: a Heartbeat carrying Symbol.
    let mut h = H::logged_on(2);
    let (sent, ev) = h.send("0", 2, "55=MSFT|");
    assert_eq!((types(&sent), ev), (vec!["3".into()], Ev::None));
    assert_eq!(
        reject_body(&sent[0]),
        "45=2|58=Tag not defined for this message type|371=55|372=0|373=2|"
    );
    assert_eq!(h.s.next_in_seq(), 3, "counted");
    // A MarketDataRequest with Price: the application never sees it.
    let (sent, ev) = h.send("V", 3, "262=r|263=0|264=1|44=1|267=1|269=0|146=1|55=A|");
    assert_eq!((types(&sent), ev), (vec!["3".into()], Ev::None));
    assert!(sent[0].has(371, "44") && sent[0].has(372, "V") && sent[0].has(373, "2"));
    // TestReqID on a Logout, NewSeqNo on a Heartbeat, MDReqID on a Reject.
    for (typ, extra, tag) in [
        ("5", "112=x|", "112"),
        ("0", "36=9|", "36"),
        ("3", "45=1|262=x|", "262"),
    ] {
        let seq = h.s.next_in_seq();
        let (sent, _) = h.send(typ, seq, extra);
        assert!(
            sent[0].has(371, tag) && sent[0].has(373, "2"),
            "{typ} {extra}"
        );
        assert_eq!(h.s.next_in_seq(), seq + 1);
    }
    // Undefined tags stay 373=0.
    let (sent, _) = h.send("0", 7, "957=x|");
    assert!(sent[0].has(371, "957") && sent[0].has(373, "0"));
}

#[test]
fn every_field_fix44_defines_for_the_session_messages_is_accepted() {
    // Logon with all its FIX44.xml fields, the NoMsgTypes group included.
    let mut h = H::new();
    let logon = "98=0|108=30|95=2|96=ab|141=Y|383=4096|384=2|372=V|385=R|372=W|385=S|\
                 464=N|553=user|554=pass|789=1|";
    assert_eq!(h.send("A", 1, logon).1, Ev::LoggedOn);
    // Header fields on any message; the trailer's signature before 10.
    let header = "50=S|57=T|97=N|115=O|116=B|128=D|129=E|142=L|143=R|144=L|145=R|\
                  347=UTF-8|369=1|627=1|628=H|629=20240315-14:30:00|630=7|";
    let cases = [
        ("0", std::format!("{header}112=T|93=2|89=ab|")),
        ("1", "112=T|".to_string()),
        ("0", "112=T|".to_string()),
        (
            "3",
            "45=1|58=t|354=1|355=t|371=35|372=A|373=99|".to_string(),
        ),
        ("4", "36=7|123=Y|".to_string()),
        ("2", "7=1|16=0|".to_string()),
    ];
    for (seq, (typ, extra)) in (2..).zip(cases) {
        let (sent, ev) = h.send(typ, seq, &extra);
        assert!(
            sent.iter().all(|m| m.typ() != "3"),
            "{typ} {extra}: {sent:?}"
        );
        assert_eq!(ev, Ev::None);
    }
    let (sent, ev) = h.send("5", 8, "58=bye|354=3|355=bye|");
    assert_eq!(
        (types(&sent), ev),
        (vec!["5".into()], Ev::Closed(CloseReason::Logout))
    );
}

#[test]
fn repeated_tag_is_rejected() {
    // QuickFIX 14h, on the messages we parse.
    let mut h = H::logged_on(2);
    let (sent, _) = h.send("1", 2, "112=A|112=B|");
    assert_eq!(types(&sent), ["3"]);
    assert_eq!(
        reject_body(&sent[0]),
        "45=2|58=Tag appears more than once|371=112|372=1|373=13|"
    );
    assert_eq!(h.s.next_in_seq(), 3, "counted");
    let (sent, ev) = h.send("V", 3, "262=r|263=0|263=1|264=1|267=1|269=0|146=1|55=A|");
    assert_eq!(ev, Ev::None);
    assert!(sent[0].has(371, "263") && sent[0].has(373, "13"));
    // A header field twice.
    let (sent, _) = h.send("0", 4, "49=TW|");
    assert!(sent[0].has(371, "49") && sent[0].has(373, "13"));
    // Group members repeat legitimately.
    let (_, ev) = h.send(
        "V",
        5,
        "262=r|263=0|264=1|267=2|269=0|269=1|146=2|55=A|55=B|",
    );
    assert_eq!(ev, Ev::App("V".into()));
    // Application messages we do not parse: only header and trailer checked.
    let (sent, ev) = h.send("D", 6, "40=1|40=2|");
    assert!(sent.is_empty() && ev == Ev::App("D".into()));
}

#[test]
fn header_body_trailer_out_of_order_is_rejected() {
    // QuickFIX 14g: a header field after a body field; the first out of
    // place is named. Counted.
    let mut h = H::logged_on(2);
    let t = ts(h.now);
    let (sent, _) = h.input(&framed(&std::format!(
        "35=1|112=X|34=2|49=TW|52={t}|56=ISLD|"
    )));
    assert_eq!(types(&sent), ["3"]);
    assert_eq!(
        reject_body(&sent[0]),
        "45=2|58=Tag specified out of required order|371=34|372=1|373=14|"
    );
    assert_eq!(h.s.next_in_seq(), 3);
    // A body field after the trailer began.
    let (sent, _) = h.send("1", 3, "93=2|89=ab|112=X|");
    assert!(sent[0].has(371, "112") && sent[0].has(373, "14"));
    // QuickFIX 15: header fields in any order among themselves are fine.
    let (sent, _) = h.input(&framed(&std::format!(
        "35=1|49=TW|34=4|56=ISLD|52={t}|112=Y|"
    )));
    assert_eq!(types(&sent), ["0"]);
}

#[test]
fn group_counts_are_checked_and_zero_is_accepted() {
    // QuickFIX 14i with the header's NoHops group.
    let mut h = H::logged_on(2);
    let (sent, _) = h.send("0", 2, "627=2|628=H|");
    assert_eq!(
        reject_body(&sent[0]),
        "45=2|58=Incorrect NumInGroup count for repeating group|371=627|372=0|373=16|"
    );
    assert_eq!(h.s.next_in_seq(), 3);
    let (sent, _) = h.send("0", 3, "627=x|");
    assert!(sent[0].has(371, "627") && sent[0].has(373, "6"));
    // QuickFIX 21: a count of zero with no entries is processed.
    assert!(h.send("0", 4, "627=0|").0.is_empty());
    // NoMsgTypes on a Logon: zero is fine; a wrong count refuses it silently.
    let mut h = H::new();
    assert_eq!(h.send("A", 1, "98=0|108=30|384=0|").1, Ev::LoggedOn);
    let mut h = H::new();
    let (sent, ev) = h.send("A", 1, "98=0|108=30|384=2|372=V|");
    assert!(sent.is_empty());
    assert_eq!(ev, Ev::Closed(CloseReason::LogonRefused));
}

#[test]
fn bad_fields_on_a_logon() {
    // Before logon: no Reject can go out, the connection is closed.
    for extra in [
        "98=0|108=30|55=X|",
        "98=0|108=30|9999=1|",
        "98=0|108=30|108=30|",
    ] {
        let mut h = H::new();
        let (sent, ev) = h.send("A", 1, extra);
        assert!(sent.is_empty(), "{extra}");
        assert_eq!(ev, Ev::Closed(CloseReason::LogonRefused), "{extra}");
    }
    // A reset Logon on a live session: rejected, nothing reset.
    let mut h = H::logged_on(30);
    h.send("0", 2, "");
    let (sent, ev) = h.send("A", 1, "98=0|108=30|141=Y|55=X|");
    assert_eq!((types(&sent), ev), (vec!["3".into()], Ev::None));
    assert!(sent[0].has(371, "55") && sent[0].has(373, "2") && sent[0].has(45, "1"));
    assert_eq!(h.s.next_in_seq(), 3);
}
