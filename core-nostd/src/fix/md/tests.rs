//! Market-data sessions end to end over the real session layer: client
//! messages in as bytes, every answer checked field by field.

use super::*;
use crate::book::Level;
use crate::engine::RECORD_DEPTH;
use crate::fix::parse::{frame, Framing, Message};
use crate::fix::session::SessionConfig;
use crate::fix::writer::MessageWriter;
use crate::fix::{CompId, TimePrecision};
use std::string::{String, ToString};
use std::vec::Vec;

const T0: u64 = 1_710_513_000_000_000_000;
const S: u64 = 1_000_000_000;

struct World {
    slots: Vec<BookSlot>,
    index: Vec<u32>,
    subs: Vec<Subscription>,
}

impl World {
    fn new() -> Self {
        Self {
            slots: std::vec![BookSlot::default(); 16],
            index: std::vec![0; index_len(16)],
            subs: std::vec![Subscription::EMPTY; 2],
        }
    }
}

fn config() -> SessionConfig {
    SessionConfig {
        sender: CompId::new(b"TW").unwrap(),
        target: CompId::new(b"CL").unwrap(),
        precision: TimePrecision::Millis,
        max_skew_ns: 120 * S,
    }
}

/// The client side: frames messages as CL → TW.
struct Client {
    w: MessageWriter,
}

impl Client {
    fn new() -> Self {
        Self {
            w: MessageWriter::new(
                CompId::new(b"CL").unwrap(),
                CompId::new(b"TW").unwrap(),
                TimePrecision::Millis,
            ),
        }
    }
    /// `fields` as `tag=value|…`.
    fn msg(&mut self, now: u64, t: &str, fields: &str) -> Vec<u8> {
        let mut buf = std::vec![0u8; 1 << 16];
        let body = fields.replace('|', "\x01");
        let n = self
            .w
            .write(now, t.as_bytes(), &mut buf, |b| b.raw(body.as_bytes()))
            .unwrap();
        buf.truncate(n);
        buf
    }
}

/// Splits output into messages, each as `tag=value|…` text.
fn messages(out: &[u8]) -> Vec<String> {
    let mut v = Vec::new();
    let mut rest = out;
    while !rest.is_empty() {
        match frame(rest) {
            Framing::Complete(n) => {
                v.push(String::from_utf8_lossy(&rest[..n]).replace('\x01', "|"));
                rest = &rest[n..];
            }
            other => panic!(
                "bad output framing {other:?}: {:?}",
                String::from_utf8_lossy(rest)
            ),
        }
    }
    v
}

fn field<'a>(m: &'a str, tag: &str) -> Option<&'a str> {
    m.split('|')
        .find_map(|f| f.strip_prefix(tag).and_then(|r| r.strip_prefix('=')))
}

/// From 262 to just before 10: what a W or Y says.
fn body(m: &str) -> &str {
    let start = m.find("|262=").map_or(0, |i| i + 1);
    let end = m.rfind("10=").unwrap();
    &m[start..end]
}

fn rec(
    locate: u16,
    sym: &[u8],
    bids: &[(u32, u32, u64)],
    asks: &[(u32, u32, u64)],
    vwap: (u64, u64),
) -> BookRecord {
    let side = |v: &[(u32, u32, u64)]| -> Vec<Level> {
        v.iter()
            .rev()
            .map(|&(price, orders, shares)| Level {
                price,
                orders,
                shares,
            })
            .collect()
    };
    let mut r = BookRecord::EMPTY;
    r.fill(
        1,
        locate,
        sym,
        Some(vwap),
        &side(bids),
        &side(asks),
        RECORD_DEPTH,
    );
    r
}

/// Feeds `input` whole; returns every message written.
fn feed(md: &mut MdSession<'_>, now: u64, input: &[u8], books: &BookStore<'_>) -> Vec<String> {
    let mut out = std::vec![0u8; 1 << 16];
    let mut all = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let step = md.on_input(now, rest, &mut out, books);
        all.extend_from_slice(&out[..step.written]);
        if step.consumed == 0 {
            break;
        }
        rest = &rest[step.consumed..];
    }
    messages(&all)
}

fn flush_all(md: &mut MdSession<'_>, now: u64, books: &BookStore<'_>) -> Vec<String> {
    let mut out = std::vec![0u8; 1 << 20];
    let f = md.flush(now, &mut out, books);
    assert!(!f.more);
    messages(&out[..f.written])
}

fn logged_on<'s>(
    subs: &'s mut [Subscription],
    c: &mut Client,
    books: &BookStore<'_>,
) -> MdSession<'s> {
    let mut md = MdSession::new(Session::new(&config(), T0), subs, 10);
    let logon = c.msg(T0, "A", "98=0|108=30|");
    let out = feed(&mut md, T0, &logon, books);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(field(&out[0], "35"), Some("A"));
    md
}

fn two_symbols(books: &mut BookStore<'_>) {
    books.on_directory(1, b"AAPL    ");
    books.on_directory(2, b"MSFT    ");
}

#[test]
fn subscribe_snapshot_then_updates_with_exact_entries() {
    let mut w = World::new();
    let mut books = BookStore::new(&mut w.slots, &mut w.index).unwrap();
    two_symbols(&mut books);
    let mut c = Client::new();
    let mut md = logged_on(&mut w.subs, &mut c, &books);
    let v = c.msg(
        T0,
        "V",
        "262=R1|263=1|264=2|265=0|267=3|269=0|269=1|269=9|146=2|55=AAPL|55=MSFT|",
    );
    assert!(feed(&mut md, T0, &v, &books).is_empty());
    assert_eq!(md.subscriptions(), 1);
    // The answer: one W per symbol, empty books before any boundary.
    let out = flush_all(&mut md, T0, &books);
    let bodies: Vec<&str> = out.iter().map(|m| body(m)).collect();
    assert_eq!(bodies, ["262=R1|55=AAPL|268=0|", "262=R1|55=MSFT|268=0|"]);
    assert_eq!(field(&out[0], "35"), Some("W"));
    // A boundary changes AAPL: three bid levels (two served), one offer, VWAP.
    let r = rec(
        1,
        b"AAPL",
        &[(1_000_100, 2, 300), (1_000_000, 1, 100), (999_900, 1, 5)],
        &[(1_000_300, 3, 700)],
        (1_000_150, 400),
    );
    let change = books.on_record(&r);
    md.on_change(1, &change);
    let out = flush_all(&mut md, T0 + S, &books);
    assert_eq!(out.len(), 1);
    assert_eq!(
        body(&out[0]),
        "262=R1|55=AAPL|268=4|269=0|270=100.0100|271=300|346=2|290=1|269=0|270=100.0000|271=100|346=1|290=2|269=1|270=100.0300|271=700|346=3|290=1|269=9|270=100.0150|271=400|"
    );
    // A change below the served depth sends nothing.
    let r2 = rec(
        1,
        b"AAPL",
        &[(1_000_100, 2, 300), (1_000_000, 1, 100), (999_900, 1, 6)],
        &[(1_000_300, 3, 700)],
        (1_000_150, 400),
    );
    md.on_change(1, &books.on_record(&r2));
    assert!(flush_all(&mut md, T0 + 2 * S, &books).is_empty());
    // The window empties: the VWAP entry goes.
    let r3 = rec(
        1,
        b"AAPL",
        &[(1_000_100, 2, 300), (1_000_000, 1, 100), (999_900, 1, 6)],
        &[(1_000_300, 3, 700)],
        (0, 0),
    );
    md.on_change(1, &books.on_record(&r3));
    let out = flush_all(&mut md, T0 + 3 * S, &books);
    assert!(
        body(&out[0]).ends_with("269=1|270=100.0300|271=700|346=3|290=1|"),
        "{}",
        out[0]
    );
    assert_eq!(field(&out[0], "268"), Some("3"));
    assert_eq!(md.counters().snapshots, 4);
    // Disable: later changes send nothing.
    let off = c.msg(
        T0 + 3 * S,
        "V",
        "262=R1|263=2|264=0|267=1|269=0|146=1|55=AAPL|",
    );
    assert!(feed(&mut md, T0 + 3 * S, &off, &books).is_empty());
    let r4 = rec(1, b"AAPL", &[(1_000_200, 1, 1)], &[], (0, 0));
    md.on_change(1, &books.on_record(&r4));
    assert!(flush_all(&mut md, T0 + 4 * S, &books).is_empty());
    assert_eq!(md.subscriptions(), 0);
}

#[test]
fn snapshot_only_request_and_entry_type_filter() {
    let mut w = World::new();
    let mut books = BookStore::new(&mut w.slots, &mut w.index).unwrap();
    two_symbols(&mut books);
    books.on_record(&rec(
        2,
        b"MSFT",
        &[(500_000, 1, 10)],
        &[(510_000, 2, 20)],
        (505_000, 30),
    ));
    let mut c = Client::new();
    let mut md = logged_on(&mut w.subs, &mut c, &books);
    // Offers and VWAP only, top of book, snapshot only.
    let v = c.msg(
        T0,
        "V",
        "262=S|263=0|264=1|267=2|269=1|269=9|146=1|55=MSFT|",
    );
    feed(&mut md, T0, &v, &books);
    let out = flush_all(&mut md, T0, &books);
    assert_eq!(
        body(&out[0]),
        "262=S|55=MSFT|268=2|269=1|270=51.0000|271=20|346=2|290=1|269=9|270=50.5000|271=30|"
    );
    // Nothing remains: a change sends nothing, and the MDReqID is free again.
    md.on_change(2, &books.on_record(&rec(2, b"MSFT", &[], &[], (0, 0))));
    assert!(flush_all(&mut md, T0, &books).is_empty());
    feed(
        &mut md,
        T0,
        &c.msg(T0, "V", "262=S|263=0|264=1|267=1|269=0|146=1|55=MSFT|"),
        &books,
    );
    assert_eq!(flush_all(&mut md, T0, &books).len(), 1);
}

#[test]
fn market_data_request_rejects() {
    let mut w = World::new();
    let mut books = BookStore::new(&mut w.slots, &mut w.index).unwrap();
    two_symbols(&mut books);
    let mut c = Client::new();
    let mut md = logged_on(&mut w.subs, &mut c, &books);
    let cases: [(&str, &str); 7] = [
        (
            "262=A|263=1|264=1|267=1|269=0|146=1|55=NOPE|",
            "262=A|281=0|58=unknown symbol NOPE|",
        ),
        ("262=B|263=3|264=1|267=1|269=0|146=1|55=AAPL|", "281=4"),
        ("262=C|263=1|264=11|267=1|269=0|146=1|55=AAPL|", "281=5"),
        (
            "262=D|263=1|264=1|265=1|267=1|269=0|146=1|55=AAPL|",
            "281=6",
        ),
        (
            "262=E|263=1|264=1|266=N|267=1|269=0|146=1|55=AAPL|",
            "281=7",
        ),
        ("262=F|263=1|264=1|267=1|269=2|146=1|55=AAPL|", "281=8"),
        (
            "262=G|263=2|",
            "262=G|58=no active request with this MDReqID|",
        ),
    ];
    for (req, want) in cases {
        let out = feed(&mut md, T0, &c.msg(T0, "V", req), &books);
        assert_eq!(out.len(), 1, "{req}: {out:?}");
        assert_eq!(field(&out[0], "35"), Some("Y"), "{req}");
        assert!(body(&out[0]).contains(want), "{req}: {}", out[0]);
    }
    assert_eq!(md.subscriptions(), 0);
    // Duplicate MDReqID among open requests.
    feed(
        &mut md,
        T0,
        &c.msg(T0, "V", "262=X|263=1|264=1|267=1|269=0|146=1|55=AAPL|"),
        &books,
    );
    let out = feed(
        &mut md,
        T0,
        &c.msg(T0, "V", "262=X|263=1|264=1|267=1|269=0|146=1|55=MSFT|"),
        &books,
    );
    assert!(body(&out[0]).contains("262=X|281=1|"), "{out:?}");
    // Slots run out: 2 per session here.
    feed(
        &mut md,
        T0,
        &c.msg(T0, "V", "262=Y|263=1|264=1|267=1|269=0|146=1|55=AAPL|"),
        &books,
    );
    let out = feed(
        &mut md,
        T0,
        &c.msg(T0, "V", "262=Z|263=1|264=1|267=1|269=0|146=1|55=AAPL|"),
        &books,
    );
    assert_eq!(field(&out[0], "35"), Some("Y"));
    assert_eq!(field(&out[0], "281"), None);
    assert_eq!(md.counters().request_rejects, 9);
}

#[test]
fn malformed_requests_get_session_rejects_and_other_types_business_rejects() {
    let mut w = World::new();
    let mut books = BookStore::new(&mut w.slots, &mut w.index).unwrap();
    two_symbols(&mut books);
    let mut c = Client::new();
    let mut md = logged_on(&mut w.subs, &mut c, &books);
    let cases: [(&str, &str, &str); 6] = [
        ("263=1|264=1|267=1|269=0|146=1|55=AAPL|", "262", "1"),
        ("262=A|264=1|267=1|269=0|146=1|55=AAPL|", "263", "1"),
        ("262=A|263=1|267=1|269=0|146=1|55=AAPL|", "264", "1"),
        ("262=A|263=1|264=x|267=1|269=0|146=1|55=AAPL|", "264", "6"),
        ("262=A|263=1|264=1|267=2|269=0|146=1|55=AAPL|", "267", "16"),
        ("262=A|263=1|264=1|267=1|269=0|146=0|", "146", "5"),
    ];
    for (req, tag, reason) in cases {
        let m = c.msg(T0, "V", req);
        let seq = Message::new_checked(&m)
            .unwrap()
            .seq_num()
            .unwrap()
            .to_string();
        let out = feed(&mut md, T0, &m, &books);
        assert_eq!(out.len(), 1, "{req}: {out:?}");
        let r = &out[0];
        assert_eq!(field(r, "35"), Some("3"), "{req}: {r}");
        assert_eq!(
            (
                field(r, "45"),
                field(r, "371"),
                field(r, "372"),
                field(r, "373")
            ),
            (Some(seq.as_str()), Some(tag), Some("V"), Some(reason)),
            "{req}: {r}"
        );
        assert!(field(r, "58").is_some());
    }
    assert_eq!(md.subscriptions(), 0);
    let out = feed(
        &mut md,
        T0,
        &c.msg(T0, "D", "11=1|55=AAPL|54=1|60=20240315-14:30:00|40=1|"),
        &books,
    );
    assert_eq!(field(&out[0], "35"), Some("j"), "{out:?}");
    assert_eq!(
        (field(&out[0], "372"), field(&out[0], "380")),
        (Some("D"), Some("3"))
    );
    // The session is intact: sequence numbers went on.
    assert_eq!(md.session().next_in_seq(), c.w.next_seq());
}

#[test]
fn slow_consumer_is_conflated_then_logged_out() {
    let mut w = World::new();
    let mut books = BookStore::new(&mut w.slots, &mut w.index).unwrap();
    two_symbols(&mut books);
    let mut c = Client::new();
    let mut md = logged_on(&mut w.subs, &mut c, &books);
    feed(
        &mut md,
        T0,
        &c.msg(
            T0,
            "V",
            "262=R|263=1|264=1|267=1|269=0|146=2|55=AAPL|55=MSFT|",
        ),
        &books,
    );
    flush_all(&mut md, T0, &books);
    // Three changes of AAPL while the connection takes nothing.
    for (i, px) in [100u32, 200, 300].iter().enumerate() {
        md.on_change(
            1,
            &books.on_record(&rec(1, b"AAPL", &[(*px, 1, 1)], &[], (0, 0))),
        );
        let f = md.flush(T0 + i as u64, &mut [], &books);
        assert_eq!((f.written, f.more), (0, true));
    }
    assert_eq!(md.counters().conflated, 2);
    // Room again: one W, the latest state.
    let out = flush_all(&mut md, T0 + S, &books);
    assert_eq!(out.len(), 1);
    assert!(body(&out[0]).contains("270=0.0300|"), "{}", out[0]);
    // Blocked for more than two HeartBtInt (30 s): Logout, then close.
    md.on_change(
        1,
        &books.on_record(&rec(1, b"AAPL", &[(400, 1, 1)], &[], (0, 0))),
    );
    assert!(md.flush(T0 + 2 * S, &mut [], &books).more);
    let mut out = std::vec![0u8; 4096];
    let step = md.poll(T0 + 2 * S + 59 * S, &mut out);
    assert!(!md.must_close(), "{:?}", messages(&out[..step.written]));
    let step = md.poll(T0 + 2 * S + 61 * S, &mut out);
    let msgs = messages(&out[..step.written]);
    assert!(md.must_close());
    let logout = msgs
        .iter()
        .find(|m| field(m, "35") == Some("5"))
        .expect("logout");
    assert!(
        field(logout, "58").unwrap().contains("slow consumer"),
        "{logout}"
    );
    assert_eq!(md.counters().slow_consumer_logouts, 1);
}

#[test]
fn written_but_unread_output_counts_as_blocked() {
    let mut w = World::new();
    let mut books = BookStore::new(&mut w.slots, &mut w.index).unwrap();
    two_symbols(&mut books);
    let mut c = Client::new();
    let mut md = logged_on(&mut w.subs, &mut c, &books);
    feed(
        &mut md,
        T0,
        &c.msg(T0, "V", "262=R|263=1|264=1|267=1|269=0|146=1|55=AAPL|"),
        &books,
    );
    // Every snapshot fits the caller's buffer, so nothing is pending...
    flush_all(&mut md, T0, &books);
    assert!(!md.has_pending());
    assert_eq!(md.blocked_since(), None);
    // ...but the peer reads none of it: the caller says so, and the clock
    // runs from the first time it did.
    md.output_waiting(T0 + S, true);
    md.output_waiting(T0 + 2 * S, true);
    assert_eq!(md.blocked_since(), Some(T0 + S));
    let mut out = std::vec![0u8; 4096];
    md.poll(T0 + S + 59 * S, &mut out);
    assert!(!md.must_close());
    md.poll(T0 + S + 61 * S, &mut out);
    assert!(md.must_close());
    assert_eq!(md.counters().slow_consumer_logouts, 1);
}

#[test]
fn output_taken_with_nothing_pending_stops_the_clock() {
    let mut w = World::new();
    let mut books = BookStore::new(&mut w.slots, &mut w.index).unwrap();
    two_symbols(&mut books);
    let mut c = Client::new();
    let mut md = logged_on(&mut w.subs, &mut c, &books);
    md.output_waiting(T0, true);
    assert_eq!(md.blocked_since(), Some(T0));
    md.output_waiting(T0 + S, false);
    assert_eq!(md.blocked_since(), None);
    // Snapshots that do not fit keep the clock running whatever the
    // backlog does.
    feed(
        &mut md,
        T0 + S,
        &c.msg(T0 + S, "V", "262=R|263=1|264=1|267=1|269=0|146=1|55=AAPL|"),
        &books,
    );
    assert!(md.flush(T0 + 2 * S, &mut [], &books).more);
    md.output_waiting(T0 + 3 * S, false);
    assert_eq!(md.blocked_since(), Some(T0 + 2 * S));
    let mut out = std::vec![0u8; 4096];
    md.poll(T0 + 2 * S + 61 * S, &mut out);
    assert!(md.must_close());
}

#[test]
fn no_input_bytes_panic_the_market_data_session() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(256));
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..600), |tail| {
            let mut w = World::new();
            let mut books = BookStore::new(&mut w.slots, &mut w.index).unwrap();
            two_symbols(&mut books);
            let mut c = Client::new();
            let mut md = logged_on(&mut w.subs, &mut c, &books);
            // A real request with random bytes spliced into its body, then
            // the random bytes alone.
            let mut v = c.msg(T0, "V", "262=R|263=1|264=1|267=1|269=0|146=1|55=AAPL|");
            let at = v.len() / 2;
            v.splice(at..at, tail.iter().copied());
            feed(&mut md, T0, &v, &books);
            let mut out = std::vec![0u8; 1 << 16];
            let _ = md.on_input(T0, &tail, &mut out, &books);
            let _ = md.flush(T0, &mut out, &books);
            Ok(())
        })
        .unwrap();
}

#[test]
fn over_long_md_req_id_is_refused_not_truncated() {
    let mut w = World::new();
    let mut books = BookStore::new(&mut w.slots, &mut w.index).unwrap();
    two_symbols(&mut books);
    let mut c = Client::new();
    let mut md = logged_on(&mut w.subs, &mut c, &books);
    let req = |id: &str| std::format!("262={id}|263=1|264=1|267=1|269=0|146=1|55=AAPL|");
    // 65 bytes: 35=Y echoing the whole ID, no 281; the same ID again gets
    // the same answer (nothing was subscribed under a truncated ID).
    let long = "L".repeat(MAX_MD_REQ_ID + 1);
    for _ in 0..2 {
        let out = feed(&mut md, T0, &c.msg(T0, "V", &req(&long)), &books);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(field(&out[0], "35"), Some("Y"));
        assert_eq!(
            body(&out[0]),
            std::format!("262={long}|58=MDReqID (262) longer than 64 bytes|")
        );
    }
    assert_eq!(md.subscriptions(), 0);
    // A disable with it: refused the same way.
    let out = feed(
        &mut md,
        T0,
        &c.msg(T0, "V", &std::format!("262={long}|263=2|")),
        &books,
    );
    assert_eq!(field(&out[0], "35"), Some("Y"));
    assert_eq!(field(&out[0], "262"), Some(long.as_str()));
    // Too long to echo: session Reject 373=5 naming 262.
    let huge = "H".repeat(MAX_ECHOED_MD_REQ_ID + 1);
    let m = c.msg(T0, "V", &req(&huge));
    let seq = Message::new_checked(&m).unwrap().seq_num().unwrap();
    let out = feed(&mut md, T0, &m, &books);
    assert_eq!(field(&out[0], "35"), Some("3"));
    let from45 = &out[0][out[0].find("|45=").unwrap() + 1..out[0].rfind("10=").unwrap()];
    assert_eq!(
        from45,
        std::format!("45={seq}|58=MDReqID (262) longer than 64 bytes|371=262|372=V|373=5|")
    );
    assert_eq!(md.counters().request_rejects, 3);
    assert_eq!(md.counters().session_rejects, 1);
    // Exactly 64 bytes: served, the W carries it whole, a duplicate is seen.
    let max = "M".repeat(MAX_MD_REQ_ID);
    assert!(feed(&mut md, T0, &c.msg(T0, "V", &req(&max)), &books).is_empty());
    let out = flush_all(&mut md, T0, &books);
    assert_eq!(body(&out[0]), std::format!("262={max}|55=AAPL|268=0|"));
    let out = feed(&mut md, T0, &c.msg(T0, "V", &req(&max)), &books);
    assert_eq!(
        body(&out[0]),
        std::format!("262={max}|281=1|58=duplicate MDReqID|")
    );
    assert_eq!(md.subscriptions(), 1);
}
