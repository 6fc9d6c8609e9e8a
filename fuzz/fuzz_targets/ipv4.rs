#![no_main]
use libfuzzer_sys::fuzz_target;
use tickwire_core::wire::Ipv4Packet;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Ipv4Packet::new_checked(data) {
        let _ = (p.src(), p.dst(), p.ttl(), p.protocol(), p.is_fragment(), p.verify_checksum(), p.ident());
        assert!(p.header_len() + p.payload().len() == p.total_len());
        assert!(p.total_len() <= data.len());
    }
});
