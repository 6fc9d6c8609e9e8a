#![no_main]
//! FIX framing and field access over arbitrary bytes: no panic, and a
//! Complete frame is a prefix whose accessors agree with its fields.
use libfuzzer_sys::fuzz_target;
use tickwire_core::fix::parse::{frame, parse_uint, Framing, Message};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while !rest.is_empty() {
        match frame(rest) {
            Framing::Complete(n) => {
                assert!(n <= rest.len());
                if let Ok(m) = Message::new_checked(&rest[..n]) {
                    assert_eq!(m.msg_type(), m.get(35).unwrap_or(&[]));
                    assert_eq!(m.seq_num(), m.get(34).and_then(parse_uint));
                    assert!(m.fields().all(|f| !f.value.is_empty()));
                }
                rest = &rest[n..];
            }
            Framing::Garbled(n) => {
                assert!(n >= 1 && n <= rest.len());
                rest = &rest[n..];
            }
            Framing::Incomplete => break,
        }
    }
});
