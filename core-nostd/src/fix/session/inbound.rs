//! Handling one received message: header checks, MsgSeqNum rules, field
//! validation and the session messages (0-5, A).

use super::dict;
use super::time::parse_utc_timestamp;
use super::*;

impl Session {
    /// One framed message.
    pub(super) fn handle<'a>(
        &mut self,
        now_ns: u64,
        bytes: &'a [u8],
        sink: &mut Sink<'_>,
    ) -> Event<'a> {
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
        // Required header fields, checked before their values (as QuickFIX
        // does): a missing one is rejected and counted, whatever the rest.
        for tag in [49, 56, 52] {
            if msg.get(tag).is_none() {
                if let Err(e) = self.fit_seq(now_ns, &msg, seq, None, sink) {
                    return e;
                }
                self.emit_reject(now_ns, sink, &msg, TagRef::Num(tag), R_REQUIRED_MISSING);
                return Event::None;
            }
        }
        let Some(sending_ns) = self.sending_time(now_ns, &msg) else {
            self.emit_reject(now_ns, sink, &msg, TagRef::None, R_SENDING_TIME);
            self.start_logout(now_ns, sink, b"", CloseReason::ClockSkew);
            return Event::None;
        };
        let sending_ns = Some(sending_ns);
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
            b"0" => Event::None,
            b"3" => {
                self.counters.rejects_received += 1;
                Event::None
            }
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
        // Without SendingTime the Logon is invalid, not late: QuickFIX's
        // Reject cannot go out before logon, so it just disconnects.
        if msg.get(52).is_none() {
            return self.close(CloseReason::LogonRefused);
        }
        if self.sending_time(now_ns, msg).is_none() {
            return self.close(CloseReason::ClockSkew);
        }
        let bad_field = match msg.fields().find(|f| !dict::tag_defined(f.tag)) {
            Some(f) => Some((f.tag, R_INVALID_TAG)),
            None => check_structure(msg),
        };
        if let Some((tag, reason)) = bad_field {
            // Before logon no Reject can go out (QuickFIX disconnects); a
            // reset Logon on a live session is rejected and changes nothing.
            if self.state == SessionState::AwaitingLogon {
                return self.close(CloseReason::LogonRefused);
            }
            self.emit_reject(now_ns, sink, msg, TagRef::Num(tag), reason);
            return Event::None;
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
            self.next_in = self.next_in.saturating_add(1);
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
    /// that event (ignored duplicate, Reject, or Logout). `sending_ns` is
    /// `None` when SendingTime is missing (the message is rejected anyway).
    fn fit_seq(
        &mut self,
        now_ns: u64,
        msg: &Message<'_>,
        seq: u64,
        sending_ns: Option<u64>,
        sink: &mut Sink<'_>,
    ) -> Result<SeqFit, Event<'static>> {
        if seq == self.next_in {
            self.next_in = self.next_in.saturating_add(1);
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
                    Some(o) if sending_ns.is_some_and(|s| o > s) => {
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
        if let Some((tag, reason)) = check_structure(msg) {
            return Some((TagRef::Num(tag), reason));
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
                true,
                |h| h.bytes(122, orig),
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
            // No RefTagID: QuickFIX's answer (case 11c) names only the type.
            self.emit_reject(now_ns, sink, msg, TagRef::None, R_VALUE_INCORRECT);
            return Event::None;
        }
        if gap_fill {
            // Only a fill sent into the open gap says anything about it.
            if let (SeqFit::InGap, Some((lo, hi))) = (fit, self.gap) {
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

/// Tags FIX 4.4 defines, one bit each (see [`dict::MAX_FIX44_TAG`]).
const TAG_WORDS: usize = dict::MAX_FIX44_TAG as usize / 64 + 1;

/// The message's layout against FIX44.xml, in QuickFIX's order of checks:
/// header, body, trailer in that order (373=14), then per field a tag not
/// defined for this MsgType (373=2) or a repeated one outside a repeating
/// group (373=13), then the NumInGroup counts the session knows (373=16,
/// or 6 for a count that is not a number). Every tag is already known to be
/// defined ([`dict::tag_defined`]). MsgTypes without a body definition
/// (application messages other than V) get the header and trailer checks.
pub(super) fn check_structure(msg: &Message<'_>) -> Option<(u32, u32)> {
    let mut part = dict::Part::Header;
    for f in msg.fields() {
        let p = dict::part(f.tag);
        // A header field after the body began, or a body field after the
        // trailer began.
        if p < part {
            return Some((f.tag, R_OUT_OF_ORDER));
        }
        part = p;
    }
    let def = dict::msg_def(msg.msg_type());
    let known = def.unwrap_or(dict::UNKNOWN_BODY);
    let mut seen = [0u64; TAG_WORDS];
    for f in msg.fields() {
        if def.is_some() && !known.allows(f.tag) {
            return Some((f.tag, R_NOT_FOR_MSG_TYPE));
        }
        let checked = def.is_some() || dict::part(f.tag) != dict::Part::Body;
        if !checked || known.may_repeat(f.tag) {
            continue;
        }
        let i = f.tag as usize;
        let Some(word) = seen.get_mut(i / 64) else {
            continue;
        };
        let bit = 1u64 << (i % 64);
        if *word & bit != 0 {
            return Some((f.tag, R_REPEATED_TAG));
        }
        *word |= bit;
    }
    const HOPS: (u32, u32) = (627, 628);
    for &(count_tag, first) in core::iter::once(&HOPS).chain(known.counts) {
        let Some(v) = msg.get(count_tag) else {
            continue;
        };
        let Some(declared) = parse_uint(v) else {
            return Some((count_tag, R_BAD_FORMAT));
        };
        let found = msg.fields().filter(|f| f.tag == first).count() as u64;
        if declared != found {
            return Some((count_tag, R_BAD_NUM_IN_GROUP));
        }
    }
    None
}
