#![no_main]
//! The FIX session fed arbitrary bytes in arbitrary read sizes, with time
//! passing between reads: no panic, every consumed count within the input,
//! everything written a well-framed message.
use libfuzzer_sys::fuzz_target;
use tickwire_core::fix::parse::{frame, Framing, Message};
use tickwire_core::fix::session::{Event, Session, SessionConfig, MIN_OUT};
use tickwire_core::fix::writer::checksum;
use tickwire_core::fix::{CompId, TimePrecision};

/// 2024-03-15 14:30:00 UTC.
const T0: u64 = 1_710_513_000_000_000_000;

fn logon() -> Vec<u8> {
    let body = "35=A\x0134=1\x0149=TW\x0152=20240315-14:30:00.000\x0156=ISLD\x0198=0\x01108=1\x01";
    let mut m = format!("8=FIX.4.4\x019={}\x01{body}", body.len()).into_bytes();
    let sum = checksum(&m);
    m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    m
}

fn check_written(mut out: &[u8]) {
    while !out.is_empty() {
        match frame(out) {
            Framing::Complete(n) => {
                assert!(Message::new_checked(&out[..n]).is_ok());
                out = &out[n..];
            }
            f => panic!("session wrote a bad frame: {f:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Control byte: bit 0 logs on first, bits 1-7 pick the read size.
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let config = SessionConfig {
        sender: CompId::new(b"ISLD").unwrap(),
        target: CompId::new(b"TW").unwrap(),
        precision: TimePrecision::Millis,
        // Any parseable SendingTime passes, so the fuzzer reaches the rules
        // behind the clock check.
        max_skew_ns: u64::MAX / 4,
    };
    let mut s = Session::new(&config, T0);
    let mut out = [0u8; MIN_OUT];
    let mut app = [0u8; MIN_OUT];
    let mut now = T0;
    if ctl & 1 == 1 {
        let l = logon();
        let st = s.on_input(now, &l, &mut out);
        assert!(matches!(st.event, Event::LoggedOn));
    }
    let read = usize::from(ctl >> 1).max(1);
    let mut buf: Vec<u8> = Vec::new();
    for chunk in rest.chunks(read) {
        buf.extend_from_slice(chunk);
        loop {
            let st = s.on_input(now, &buf, &mut out);
            assert!(st.consumed <= buf.len() && st.written <= out.len());
            check_written(&out[..st.written]);
            if let Event::App(m) = st.event {
                // What the market-data layer does with messages it refuses.
                let n = s.business_reject(now, &m, 3, b"Unsupported", &mut app).unwrap();
                check_written(&app[..n]);
                let n = s.reject(now, &m, Some(55), 1, b"", &mut app).unwrap();
                check_written(&app[..n]);
            }
            if st.consumed == 0 {
                break;
            }
            buf.drain(..st.consumed);
        }
        now += 700_000_000;
        let st = s.poll(now, &mut out);
        check_written(&out[..st.written]);
    }
});
