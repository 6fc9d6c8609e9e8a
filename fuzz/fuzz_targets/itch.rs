#![no_main]
use libfuzzer_sys::fuzz_target;
use tickwire_core::wire::itch::{expected_length, Message};

fuzz_target!(|data: &[u8]| {
    match Message::parse(data) {
        Ok(m) => {
            assert_eq!(Some(data.len()), expected_length(data[0]));
            let _ = (m.header().timestamp_ns(), m.header().stock_locate(), m.msg_type());
        }
        Err(_) => assert!(data.is_empty() || expected_length(data[0]) != Some(data.len())),
    }
});
