#![no_main]
use libfuzzer_sys::fuzz_target;
use tickwire_core::wire::EthernetFrame;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = EthernetFrame::new_checked(data) {
        let _ = (f.dst(), f.src(), f.ethertype(), f.vlan_id());
        assert!(f.header_len() + f.payload().len() == data.len());
    }
});
