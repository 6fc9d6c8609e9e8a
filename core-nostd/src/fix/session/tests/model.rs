//! Property tests: random client behaviour against a reference model of the
//! expected state and outputs, and byte soup that must not panic.

use super::*;

// model of the expected state and outputs.

#[derive(Debug, Clone)]
enum Op {
    /// The expected MsgSeqNum: 0 Heartbeat, 1 TestRequest, 2 application.
    InOrder(u8),
    /// Ahead by `k`.
    TooHigh(u64),
    /// The lowest number asked for again, as a PossDup resend.
    FillGap,
    /// An old number again with PossDup (ignored).
    DupPossDup,
    /// An old number without PossDup (Logout).
    TooLow,
    /// A bad CheckSum.
    Garbled,
    /// A field the session rejects and counts: 0 an undefined tag, 1 one
    /// not defined for a Heartbeat, 2 a repeated one, 3 SendingTime
    /// missing, 4 a header field after the body, 5 a NoHops count that
    /// disagrees.
    BadTag(u8),
    /// ResendRequest from `b`.
    Resend(u64),
    /// Time passes (ms), then poll.
    Wait(u64),
    /// SequenceReset-GapFill at the expected number, `k` ahead.
    GapFill(u64),
    /// An old number with PossDup but no OrigSendingTime (Reject, ignored).
    PossDupNoOrig,
    /// The client logs out.
    Logout,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3).prop_map(Op::InOrder),
        1 => (1u64..5).prop_map(Op::TooHigh),
        2 => Just(Op::FillGap),
        1 => Just(Op::DupPossDup),
        1 => Just(Op::TooLow).prop_filter("rare", |_| true),
        1 => Just(Op::Garbled),
        1 => (0u8..6).prop_map(Op::BadTag),
        1 => (1u64..12).prop_map(Op::Resend),
        4 => (0u64..45_000).prop_map(Op::Wait),
        1 => (1u64..5).prop_map(Op::GapFill),
        1 => Just(Op::PossDupNoOrig),
        1 => Just(Op::Logout),
    ]
}

/// What the reference model expects.
#[derive(Debug)]
struct Model {
    next_in: u64,
    next_out: u64,
    gap: Option<(u64, u64)>,
    last_sent: u64,
    last_recv: u64,
    test_req: Option<u64>,
    closed: bool,
}

const HB: u64 = 30 * S;

impl Model {
    /// Numbers our messages of `types` take (a GapFill takes BeginSeqNo).
    fn out(&mut self, now: u64, types: &[&str]) -> Vec<(String, u64)> {
        if !types.is_empty() {
            self.last_sent = now;
        }
        types
            .iter()
            .map(|t| {
                let s = self.next_out;
                self.next_out += 1;
                ((*t).into(), s)
            })
            .collect()
    }

    fn recv(&mut self, now: u64) {
        self.last_recv = now;
        self.test_req = None;
    }

    /// Too high: process, ask once.
    fn ahead(&mut self, seq: u64) -> bool {
        let ask = self.gap.is_none();
        let lo = self.gap.map_or(self.next_in, |g| g.0);
        self.gap = Some((lo, seq - 1));
        self.next_in = seq + 1;
        ask
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn session_follows_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut h = H::logged_on(30);
        let mut m = Model {
            next_in: 2, next_out: 2, gap: None,
            last_sent: T0, last_recv: T0, test_req: None, closed: false,
        };
        for op in ops {
            if m.closed { break; }
            let now = h.now;
            let (sent, ev, want, want_ev): (Vec<Sent>, Ev, Vec<(String, u64)>, Ev) = match op {
                Op::InOrder(k) => {
                    let seq = m.next_in;
                    m.next_in += 1;
                    m.recv(now);
                    let (typ, extra, out, ev) = match k {
                        0 => ("0", "", std::vec![], Ev::None),
                        1 => ("1", "112=P|", std::vec!["0"], Ev::None),
                        _ => ("V", "262=r|", std::vec![], Ev::App("V".into())),
                    };
                    let (s, e) = h.send(typ, seq, extra);
                    (s, e, m.out(now, &out), ev)
                }
                Op::TooHigh(k) => {
                    let seq = m.next_in + k;
                    m.recv(now);
                    let ask = m.ahead(seq);
                    let from = m.gap.unwrap().0;
                    let (s, e) = h.send("0", seq, "");
                    let want = m.out(now, if ask { &["2"] } else { &[] });
                    if ask {
                        prop_assert!(s[0].has(7, &from.to_string()));
                    }
                    (s, e, want, Ev::None)
                }
                Op::FillGap => {
                    let Some((lo, hi)) = m.gap else { continue };
                    m.recv(now);
                    m.gap = (lo < hi).then_some((lo + 1, hi));
                    let (s, e) = h.send("0", lo, &std::format!("43=Y|122={}|", ts(now)));
                    (s, e, std::vec![], Ev::None)
                }
                Op::DupPossDup => {
                    let seq = m.next_in - 1;
                    m.recv(now);
                    let (s, e) = h.send("0", seq, &std::format!("43=Y|122={}|", ts(now)));
                    (s, e, std::vec![], Ev::None)
                }
                Op::TooLow => {
                    let seq = m.next_in - 1;
                    m.closed = true;
                    let (s, e) = h.send("0", seq, "");
                    (s, e, m.out(now, &["5"]), Ev::Closed(CloseReason::SeqTooLow))
                }
                Op::Garbled => {
                    let mut g = h.msg("0", m.next_in, "");
                    let l = g.len();
                    g[l - 2] = if g[l - 2] == b'0' { b'1' } else { b'0' };
                    let (s, e) = h.input(&g);
                    (s, e, std::vec![], Ev::None)
                }
                Op::BadTag(k) => {
                    let seq = m.next_in;
                    m.next_in += 1;
                    m.recv(now);
                    let t = ts(now);
                    let bytes = match k {
                        0 => cl("0", seq, now, "999=x|"),
                        1 => cl("0", seq, now, "55=X|"),
                        2 => cl("1", seq, now, "112=P|112=Q|"),
                        3 => framed(&std::format!("35=0|34={seq}|49=TW|56=ISLD|")),
                        4 => framed(&std::format!("35=0|112=P|34={seq}|49=TW|52={t}|56=ISLD|")),
                        _ => cl("0", seq, now, "627=1|"),
                    };
                    let (s, e) = h.input(&bytes);
                    let reason = ["0", "2", "13", "1", "14", "16"][usize::from(k)];
                    prop_assert!(s.first().is_some_and(|r| r.has(373, reason)), "{k}");
                    (s, e, m.out(now, &["3"]), Ev::None)
                }
                Op::Resend(b) => {
                    let seq = m.next_in;
                    m.next_in += 1;
                    m.recv(now);
                    let (s, e) = h.send("2", seq, &std::format!("7={b}|16=0|"));
                    let want = if b < m.next_out {
                        m.last_sent = now;
                        prop_assert!(s[0].has(36, &m.next_out.to_string()));
                        std::vec![("4".into(), b)]
                    } else {
                        m.out(now, &["3"])
                    };
                    (s, e, want, Ev::None)
                }
                Op::Wait(ms) => {
                    let (s, e) = h.poll(ms * 1_000_000);
                    let now = h.now;
                    let (want, ev) = match m.test_req {
                        Some(t) if now - t >= HB => {
                            m.closed = true;
                            (std::vec![], Ev::Closed(CloseReason::TestRequestTimeout))
                        }
                        None if now - m.last_recv >= HB + HB / 5 => {
                            m.test_req = Some(now);
                            (m.out(now, &["1"]), Ev::None)
                        }
                        _ if now - m.last_sent >= HB => (m.out(now, &["0"]), Ev::None),
                        _ => (std::vec![], Ev::None),
                    };
                    (s, e, want, ev)
                }
                Op::GapFill(k) => {
                    let seq = m.next_in;
                    m.next_in = seq + k;
                    m.recv(now);
                    let (s, e) = h.send("4", seq, &std::format!("123=Y|36={}|", seq + k));
                    // An open gap stays open: this fill is not for it.
                    (s, e, std::vec![], Ev::None)
                }
                Op::PossDupNoOrig => {
                    let seq = m.next_in - 1;
                    m.recv(now);
                    let (s, e) = h.send("0", seq, "43=Y|");
                    (s, e, m.out(now, &["3"]), Ev::None)
                }
                Op::Logout => {
                    m.closed = true;
                    let seq = m.next_in;
                    let (s, e) = h.send("5", seq, "");
                    (s, e, m.out(now, &["5"]), Ev::Closed(CloseReason::Logout))
                }
            };
            let got: Vec<(String, u64)> = sent.iter().map(|s| (s.typ(), s.seq())).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(ev, want_ev);
            if !m.closed {
                prop_assert_eq!(h.s.next_in_seq(), m.next_in);
                prop_assert_eq!(h.s.next_out_seq(), m.next_out);
                prop_assert_eq!(h.s.gap, m.gap);
                prop_assert_eq!(h.s.state(), SessionState::Active);
            } else {
                prop_assert_eq!(h.s.state(), SessionState::Closed);
            }
        }
    }

    #[test]
    fn no_bytes_panic_the_session(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..8),
        logon_first in any::<bool>(),
    ) {
        let mut s = Session::new(&config(), T0);
        let mut out = [0u8; MIN_OUT];
        if logon_first {
            let _ = s.on_input(T0, &cl("A", 1, T0, "98=0|108=1|"), &mut out);
        }
        let mut now = T0;
        for c in chunks {
            let mut at = 0;
            while at < c.len() {
                let st = s.on_input(now, &c[at..], &mut out);
                prop_assert!(st.written <= out.len());
                if st.consumed == 0 { break; }
                at += st.consumed;
            }
            now += S;
            let _ = s.poll(now, &mut out);
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        seed in 0usize..8, pos in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()
    ) {
        let mut s = Session::new(&config(), T0);
        let mut out = [0u8; MIN_OUT];
        let _ = s.on_input(T0, &cl("A", 1, T0, "98=0|108=30|"), &mut out);
        let bodies = [
            ("0", ""), ("1", "112=X|"), ("2", "7=1|16=0|"), ("3", "45=1|"),
            ("4", "36=9|123=Y|"), ("5", ""), ("A", "98=0|108=30|141=Y|"), ("V", "262=1|"),
        ];
        let (t, e) = bodies[seed];
        // Recompute framing after the change so it reaches the session checks.
        let mut body = std::format!("35={t}|34=2|49=TW|52={}|56=ISLD|{e}", ts(T0)).into_bytes();
        let p = pos % body.len();
        body[p] = byte;
        body.truncate(cut % (body.len() + 1));
        let body = String::from_utf8_lossy(&body).into_owned();
        let m = framed(&body);
        let st = s.on_input(T0, &m, &mut out);
        prop_assert!(st.consumed <= m.len());
        let _ = s.poll(T0 + 100 * S, &mut out);
    }
}
