#![no_main]
use libfuzzer_sys::fuzz_target;
use tickwire_core::wire::UdpPacket;

fuzz_target!(|data: &[u8]| {
    if let Ok(u) = UdpPacket::new_checked(data) {
        let _ = (u.src_port(), u.dst_port(), u.checksum());
        assert!(8 + u.payload().len() == u.len() && u.len() <= data.len());
    }
});
