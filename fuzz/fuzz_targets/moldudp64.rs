#![no_main]
use libfuzzer_sys::fuzz_target;
use tickwire_core::wire::MoldPacket;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = MoldPacket::new_checked(data) {
        let _ = (p.session(), p.sequence(), p.is_heartbeat(), p.is_end_of_session());
        let mut consumed = 0usize;
        let mut yielded = 0usize;
        for block in p.messages() {
            yielded += 1;
            if let Ok(m) = block {
                consumed += 2 + m.len();
            }
        }
        assert!(yielded <= usize::from(p.message_count()));
        assert!(consumed <= p.payload().len());
    }
});
